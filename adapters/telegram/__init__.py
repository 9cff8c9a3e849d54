"""Telegram: the customer channel (private chats) and the operator desk (forum group)."""
