"""The website channel: a chat widget on the company's own site (see server.py)."""
