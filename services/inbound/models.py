"""The `inbound` schema: tables of the inbound service.

Inbound owns what arrives (the raw message, kept so any decision can be replayed),
how it was read (the message's kind, match and text) and what was decided; it keeps
read models of the assistants, leads and sent messages it matches answers to."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from services.kit.db import schema_metadata
from services.kit.outbox import inbox_table, outbox_table

SCHEMA = "inbound"
metadata = schema_metadata(SCHEMA)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)

MESSAGE_STATUSES = ("received", "processed", "rejected", "failed")

# The org's users as inbound needs them: EmailCC trusts mail from a member of the
# assistant's org, and a lead's owner receives the forwarded thread.
users = Table(
    "users",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, nullable=False),
    Column("email", String(320), nullable=False),
    Column("name", Text, nullable=False, server_default=""),
    Column("status", String(16), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Index("ix_inbound_users_org_email", "org_id", "email"),
)

# The api's assistants as inbound needs them. ``route_secret`` (encrypted with the
# settings' key) authenticates mail providers posting to the assistant's inbound URL:
# in the URL's path, or as the key of the request's HMAC signature.
assistants = Table(
    "assistants",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, nullable=False),
    Column("email", String(320), nullable=True),
    Column("data", JSONB, nullable=False),
    Column("archived", Boolean, nullable=False, server_default=text("false")),
    Column("route_secret", Text, nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
)

leads = Table(
    "leads",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, nullable=False),
    Column("assistant_id", Uuid, nullable=False),
    Column("owner_id", Uuid, nullable=False),
    Column("email", String(320), nullable=False),
    Column("company_domain", String(255), nullable=True),
    Column("deleted", Boolean, nullable=False, server_default=text("false")),
    # Soft bounces since the last message that was not one: enough of them in a
    # row count as a hard bounce.
    Column("soft_bounces", Integer, nullable=False, server_default="0"),
    Column("changed_at", DateTime(timezone=True), nullable=False),
    Index("ix_inbound_leads_org_email", "org_id", "email"),
    # An answer pauses the assistant's other leads at the same company.
    Index("ix_inbound_leads_company", "assistant_id", "company_domain"),
)

# Every message the assistant sent (from ``message.sent``): the Message-IDs an answer
# names in In-Reply-To/References, and the lead's reply-address token.
threads = Table(
    "threads",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, nullable=False),
    Column("assistant_id", Uuid, nullable=False),
    Column("lead_id", Uuid, nullable=False),
    Column("message_id", String(998), nullable=False),
    Column("reply_token", String(64), nullable=True),
    Column("sent_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("org_id", "message_id", name="uq_inbound_threads_message"),
    Index("ix_inbound_threads_reply_token", "reply_token"),
)

# What arrived, once per (assistant, Message-ID): a message delivered twice (by the
# provider's retry, by IMAP and HTTP both) is one row.
messages = Table(
    "messages",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, nullable=False),
    Column("assistant_id", Uuid, nullable=False),
    Column("via", String(8), nullable=False),
    Column("dedupe_key", String(998), nullable=False),
    Column("raw", LargeBinary, nullable=True),
    Column("size", Integer, nullable=False),
    Column("status", String(12), nullable=False),
    Column("reason", Text, nullable=False, server_default=""),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("processed_at", DateTime(timezone=True), nullable=True),
    Column("header_message_id", String(998), nullable=True),
    Column("from_address", String(320), nullable=True),
    Column("subject", Text, nullable=True),
    # What the message is (a human reply, an auto-reply, a bounce...), who it is from
    # (``lead_id``; None: it matched no lead) and how it was matched.
    Column("kind", String(20), nullable=True),
    Column("lead_id", Uuid, nullable=True),
    Column("matched_by", String(16), nullable=True),
    Column("text", Text, nullable=True),
    Column("details", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    UniqueConstraint("assistant_id", "dedupe_key", name="uq_inbound_messages_dedupe"),
    CheckConstraint(
        "status IN ('received', 'processed', 'rejected', 'failed')",
        name="status",
    ),
    Index("ix_inbound_messages_assistant", "assistant_id", "id"),
    Index(
        "ix_inbound_messages_unprocessed",
        "received_at",
        postgresql_where=text("status = 'received'"),
    ),
)

# Every decision about a message, newest last: the classifier's, then any correction
# by a user (``decided_by``). Each can be replayed from the stored raw message.
decisions = Table(
    "decisions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("org_id", Uuid, nullable=False),
    Column("message_id", Uuid, nullable=False),
    Column("lead_id", Uuid, nullable=True),
    Column("kind", String(20), nullable=False),
    Column("intent", String(20), nullable=True),
    Column("confidence", Float, nullable=True),
    Column("classifier", String(64), nullable=False),
    Column("explanation", Text, nullable=False, server_default=""),
    Column("temperature", String(8), nullable=True),
    Column("actions", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("decided_by", Uuid, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_inbound_decisions_message", "message_id", "id"),
)

# Where the IMAP poller is in each assistant's inbox (``mailboxes/``): the UIDVALIDITY
# and the highest UID stored, for the account (``user@host:port``) they belong to; a
# poll's lease (so two workers never poll one mailbox at once), when the next poll is
# due, and what went wrong last (shown to operators, cleared by a poll that works).
mailbox_cursors = Table(
    "mailbox_cursors",
    metadata,
    Column("assistant_id", Uuid, primary_key=True),
    Column("org_id", Uuid, nullable=False),
    Column("account", String(600), nullable=False, server_default=""),
    Column("uidvalidity", BigInteger, nullable=True),
    Column("last_uid", BigInteger, nullable=False, server_default="0"),
    Column("uidvalidity_changes", Integer, nullable=False, server_default="0"),
    Column("uidvalidity_changed_at", DateTime(timezone=True), nullable=True),
    Column("next_poll_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("lease_token", Uuid, nullable=True),
    Column("lease_until", DateTime(timezone=True), nullable=True),
    Column("last_polled_at", DateTime(timezone=True), nullable=True),
    Column("last_success_at", DateTime(timezone=True), nullable=True),
    Column("failures", Integer, nullable=False, server_default="0"),
    Column("error_kind", String(20), nullable=True),
    Column("last_error", Text, nullable=False, server_default=""),
    Index("ix_inbound_mailbox_cursors_due", "next_poll_at"),
)
