"""Dispatch: the tick that claims due steps, keeps mailbox limits and hands the mailer batches."""
