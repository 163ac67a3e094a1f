"""API shapes of lead imports."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ImportStatus = Literal["queued", "running", "done", "failed"]


class LeadImportRead(BaseModel):
    """An import and its progress. ``rows_done`` counts rows read so far (created,
    existing or failed); ``rows_existing`` counts rows whose email the assistant
    already had, or that appeared earlier in the same file."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0193f1a8-7f1e-7b7a-9c1d-2f6a7e0b1c2d",
                    "assistant_id": "0193f1a0-1111-7222-8333-444455556666",
                    "owner_id": "0193f19f-aaaa-7bbb-8ccc-ddddeeeeffff",
                    "schedule_id": "0193f1a0-2222-7333-8444-555566667777",
                    "filename": "leads.csv",
                    "status": "running",
                    "rows_total": 100000,
                    "rows_done": 45000,
                    "rows_failed": 12,
                    "rows_created": 44900,
                    "rows_existing": 88,
                    "error": None,
                    "created_at": "2026-11-22T10:00:00Z",
                    "started_at": "2026-11-22T10:00:01Z",
                    "finished_at": None,
                }
            ]
        }
    )

    id: uuid.UUID
    assistant_id: uuid.UUID
    owner_id: uuid.UUID
    schedule_id: uuid.UUID
    filename: str
    status: ImportStatus
    rows_total: int
    rows_done: int
    rows_failed: int
    rows_created: int
    rows_existing: int
    error: str | None = Field(description="Why the import failed as a whole (status failed)")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class LeadImportErrorRead(BaseModel):
    """One problem with one row; a row with several bad cells has several."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "0193f1a9-0000-7000-8000-000000000001",
                    "row": 7,
                    "column": "phone",
                    "message": "use the international E.164 form, e.g. +14155550123",
                    "values": {"email": "jo@globex.example", "phone": "12"},
                }
            ]
        }
    )

    id: uuid.UUID
    row: int = Field(description="Line of the file (the header is line 1)")
    column: str | None = Field(description="The column at fault; null for the whole row")
    message: str
    values: dict[str, str] = Field(description="The row's cells as uploaded, by column")
