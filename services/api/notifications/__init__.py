"""Telling a lead's owner what matters: a lead turned WARM or HOT."""
