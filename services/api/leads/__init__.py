"""Leads: the people assistants write to, their enrollment and their timeline."""
