"""EmailCC: a user of the org emails someone with the assistant in Cc; the assistant
adds that someone as a lead and follows up in the user's thread."""
