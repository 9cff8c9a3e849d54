"""Abuse protection: bans (/ban, /unban) and flood combining."""
