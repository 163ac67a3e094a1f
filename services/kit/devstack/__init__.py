"""The local development stack: what ``make run`` starts, and the servers it can boot.

- :mod:`.embedded` boots PostgreSQL and Redis from pip packages when none is running.
- :mod:`.mailcatcher` keeps outgoing mail as ``.eml`` files.
- :mod:`.stack` is the process table, the one source of truth for ``make run`` and
  ``compose.yaml``.
- :mod:`.launcher` (``python -m services.kit.devstack``) starts and supervises it all.
"""
