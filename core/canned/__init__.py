"""Canned replies: `/t name` sends a configured text, in the customer's language."""
