"""IMAP polling of the assistants' own mailboxes (``client`` speaks IMAP, ``service``
polls one mailbox, ``repository`` keeps each mailbox's cursor, ``tasks`` is the cron)."""
