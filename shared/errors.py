"""Problem Details for HTTP APIs (RFC 9457): the one error body of every service."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://pursuit.dev/problems/"


def problem_type(slug: str) -> str:
    """The stable ``type`` URI of a problem slug."""
    return PROBLEM_TYPE_BASE + slug


class InvalidParam(BaseModel):
    """One offending input field."""

    name: str
    reason: str


class Problem(BaseModel):
    """An RFC 9457 problem document; extension members are allowed."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(default="about:blank", description="URI identifying the problem type")
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    invalid_params: list[InvalidParam] | None = Field(default=None, alias="invalid-params")

    def body(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)
