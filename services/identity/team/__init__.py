"""The team: invitations (with seats), members, roles and removal."""
