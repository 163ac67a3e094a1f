"""The `api` schema: the users read model, assistants and their members, schedules.

Tenant tables carry ``org_id`` under row-level security (``pursuit.org_id``).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.kit.db import schema_metadata
from services.kit.ids import new_id
from services.kit.outbox import inbox_table, outbox_table

SCHEMA = "api"
metadata = schema_metadata(SCHEMA)

outbox = outbox_table(metadata)
inbox = inbox_table(metadata)


class Base(DeclarativeBase):
    metadata = metadata


def _now() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


class User(Base):
    """What the api knows of identity's users (fed by ``user.upserted``)."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    org_id: Mapped[uuid.UUID] = mapped_column(nullable=False, index=True)
    email: Mapped[str] = mapped_column(String(320), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    phone: Mapped[str | None] = mapped_column(String(20), nullable=True)
    time_zone: Mapped[str] = mapped_column(String(64), nullable=False, server_default="UTC")
    # Ordering guard: an older event never overwrites a newer one.
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class Assistant(Base):
    __tablename__ = "assistants"
    __table_args__ = (
        CheckConstraint("type IN ('sales', 'amc', 'whatsapp')", name="type"),
        CheckConstraint("company_reply_policy IN ('pause', 'stop', 'continue')", name="policy"),
        CheckConstraint("lead_at_risk_days > 0", name="risk_days"),
        CheckConstraint("daily_limit > 0", name="daily_limit"),
        CheckConstraint("min_spacing_seconds >= 0", name="spacing"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(nullable=False, index=True)
    owner_id: Mapped[uuid.UUID] = mapped_column(nullable=False, index=True)
    type: Mapped[str] = mapped_column(String(20), nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    avatar_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(20), nullable=True)
    signature: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    brochure_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    more_context: Mapped[str | None] = mapped_column(Text, nullable=True)
    more_information: Mapped[str | None] = mapped_column(Text, nullable=True)
    calendar_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    lead_at_risk_days: Mapped[int] = mapped_column(Integer, nullable=False, server_default="3")
    default_schedule_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    default_emailcc_schedule_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    company_reply_policy: Mapped[str] = mapped_column(
        String(10), nullable=False, server_default="pause"
    )
    # Mailbox: host settings in clear, passwords as Fernet tokens (never returned).
    mailbox: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default="{}")
    # Sending: the scheduler's limits and send-time optimization switch.
    time_zone: Mapped[str] = mapped_column(String(64), nullable=False, server_default="UTC")
    send_time_optimization: Mapped[bool] = mapped_column(
        Boolean, nullable=False, server_default=true()
    )
    daily_limit: Mapped[int] = mapped_column(Integer, nullable=False, server_default="50")
    min_spacing_seconds: Mapped[int] = mapped_column(Integer, nullable=False, server_default="120")
    plus_addressing: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=true())
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AssistantMember(Base):
    """A user assigned to an assistant; ``manager`` makes them its Assistant Manager."""

    __tablename__ = "assistant_members"
    __table_args__ = (CheckConstraint("role IN ('member', 'manager')", name="role"),)

    assistant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("assistants.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, index=True)
    org_id: Mapped[uuid.UUID] = mapped_column(nullable=False)
    role: Mapped[str] = mapped_column(String(10), nullable=False)
    created_at: Mapped[datetime] = _now()


class Schedule(Base):
    """A custom schedule; ``steps`` is the ordered list of (wait, tone)."""

    __tablename__ = "schedules"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(nullable=False, index=True)
    created_by: Mapped[uuid.UUID] = mapped_column(nullable=False)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, server_default="")
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, nullable=False)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()
    archived_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Lead(Base):
    """A person an assistant writes to, on behalf of its owner."""

    __tablename__ = "leads"
    __table_args__ = (
        CheckConstraint(
            "status IN ('new', 'active', 'paused', 'out_of_office', 'replied', 'completed', "
            "'stopped', 'unsubscribed', 'bounced')",
            name="status",
        ),
        CheckConstraint("temperature IN ('cold', 'warm', 'hot')", name="temperature"),
        CheckConstraint(
            "source IN ('api', 'csv', 'crm', 'emailcc', 'whatsapp', 'referral')", name="source"
        ),
        # One lead per email per assistant.
        Index("uq_leads_assistant_email", "assistant_id", text("lower(email)"), unique=True),
        Index("ix_leads_org_id_id", "org_id", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(nullable=False)
    assistant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("assistants.id"), nullable=False)
    owner_id: Mapped[uuid.UUID] = mapped_column(nullable=False, index=True)
    schedule_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    email: Mapped[str] = mapped_column(String(320), nullable=False)
    first_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    last_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    company: Mapped[str | None] = mapped_column(String(200), nullable=True)
    title: Mapped[str | None] = mapped_column(String(200), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(20), nullable=True)
    country: Mapped[str | None] = mapped_column(String(2), nullable=True)
    time_zone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    more_context: Mapped[str | None] = mapped_column(Text, nullable=True)
    more_information: Mapped[str | None] = mapped_column(Text, nullable=True)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(
        JSONB, nullable=False, server_default="{}"
    )
    amc_renewal_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    source: Mapped[str] = mapped_column(String(20), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, server_default="new")
    temperature: Mapped[str | None] = mapped_column(String(10), nullable=True)
    next_send_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    next_send_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # When the status (the scheduler's) and the temperature (the latest answer's) were
    # true: events arrive in any order, and an older one never undoes a newer one.
    status_changed_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    temperature_changed_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class LeadEvent(Base):
    """One line of a lead's timeline: a message, a status or temperature change, an
    action, with its reason."""

    __tablename__ = "lead_events"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(nullable=False)
    lead_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("leads.id", ondelete="CASCADE"), nullable=False, index=True
    )
    kind: Mapped[str] = mapped_column(String(40), nullable=False)
    summary: Mapped[str] = mapped_column(Text, nullable=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default="{}")
    actor_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    occurred_at: Mapped[datetime] = _now()


class LeadImport(Base):
    """A CSV upload of leads and its progress; the job fills in the counters."""

    __tablename__ = "lead_imports"
    __table_args__ = (
        CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status"),
        Index("ix_lead_imports_org_id_id", "org_id", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(nullable=False)
    assistant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("assistants.id"), nullable=False)
    owner_id: Mapped[uuid.UUID] = mapped_column(nullable=False)
    created_by: Mapped[uuid.UUID] = mapped_column(nullable=False)
    # The schedule's steps as they were at upload: the leads are enrolled on those.
    schedule: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    filename: Mapped[str] = mapped_column(String(255), nullable=False, server_default="")
    # The header as uploaded, in order (the error report's columns).
    columns: Mapped[list[str]] = mapped_column(JSONB, nullable=False, server_default="[]")
    status: Mapped[str] = mapped_column(String(10), nullable=False, server_default="queued")
    rows_total: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    rows_done: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    rows_failed: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    rows_created: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    rows_existing: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = _now()
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class LeadImportFile(Base):
    """The uploaded bytes, written with the import in the request's transaction and
    dropped once the job is done."""

    __tablename__ = "lead_import_files"

    import_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("lead_imports.id", ondelete="CASCADE"), primary_key=True
    )
    org_id: Mapped[uuid.UUID] = mapped_column(nullable=False)
    content: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


class LeadImportError(Base):
    """Why one row of an import was refused (one line per column at fault)."""

    __tablename__ = "lead_import_errors"
    __table_args__ = (Index("ix_lead_import_errors_import_id_id", "import_id", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    org_id: Mapped[uuid.UUID] = mapped_column(nullable=False)
    import_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("lead_imports.id", ondelete="CASCADE"), nullable=False
    )
    line: Mapped[int] = mapped_column(Integer, nullable=False)
    column_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    message: Mapped[str] = mapped_column(Text, nullable=False)
    raw: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, server_default="{}")
