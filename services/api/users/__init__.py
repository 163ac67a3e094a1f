"""The api's read model of identity's users (owners, members, assignees)."""
