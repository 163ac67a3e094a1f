"""The lead's life as other services report it: sequence status, messages, answers."""
