"""Departments: each team (sales, technical support, billing…) works in its own forum group.

A new customer is asked which team they want (buttons), or an FAQ entry that handed them
over names one, or `routing.default` takes them after `routing.ask_wait`. The conversation's
topic is then made in that team's group (`Conversation.desk_chat`), whose posting budget is
its own.
"""
