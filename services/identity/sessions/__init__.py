"""Sessions: login, refresh-token rotation with reuse detection, logout, and the
session version that revokes every token of a user at once."""
