"""Sequence messages: the scheduler's batches rendered, sent and recorded."""
