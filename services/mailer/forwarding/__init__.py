"""Forwarding a lead's answer to the lead's owner, who takes over from the assistant."""
