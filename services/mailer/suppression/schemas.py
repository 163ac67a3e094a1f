"""API shapes of the suppression list."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

# The reasons the table allows (its check constraint) and ``suppression.added`` carries.
SuppressionReason = Literal["unsubscribe", "bounce", "complaint", "manual"]


class SuppressionCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"email": "jordan@globex.example", "reason": "manual"}]},
    )

    email: EmailStr = Field(description="The address; stored in lower case")
    reason: SuppressionReason = Field(
        default="manual",
        description="Why nobody may write to it. `manual` unless you know better, e.g. "
        "when copying another tool's bounce or complaint list.",
    )


class SuppressionRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "email": "jordan@globex.example",
                    "reason": "manual",
                    "created_by": "0193f19f-aaaa-7bbb-8ccc-ddddeeeeffff",
                    "created_at": "2026-11-25T11:02:45Z",
                }
            ]
        }
    )

    email: str = Field(description="The address, in lower case")
    reason: SuppressionReason = Field(
        description="`unsubscribe`: the lead's one-click link; `bounce`: the address was "
        "refused; `complaint`: marked as spam; `manual`: added by an Administrator"
    )
    created_by: uuid.UUID | None = Field(
        description="The Administrator who added it (null: added by the system, from an "
        "unsubscribe link or a bounce)"
    )
    created_at: datetime
