"""Suppression: the org's list of addresses nobody writes to again, and unsubscribe links."""
