"""Transactional email: invitations, password resets, notifications (`SendEmail`)."""
