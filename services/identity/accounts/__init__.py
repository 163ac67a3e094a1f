"""Accounts: signing up (an org and its first admin), one's own profile and password,
and resetting a forgotten password by email."""
