"""Acting on a stored message: read it, match it to a lead, classify it, decide."""
