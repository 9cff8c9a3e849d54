"""The satisfaction survey (CSAT): one question after an operator closes a conversation."""
