"""Answers to a lead's reply, in its thread: the brochure it asked for, the calendar
link to book a meeting."""
