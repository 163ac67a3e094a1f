"""Mail arriving (by HTTP, IMAP or SMTP): authenticated, size-capped, stored once."""
