"""Assistants: the virtual sellers, their profile, defaults, mailbox and members."""
