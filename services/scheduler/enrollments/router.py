"""HTTP routes of enrollments: the dry-run timeline of a lead's sequence."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends

from services.kit.auth import PrincipalDep
from services.kit.tenancy import OrgSessionDep
from services.scheduler.enrollments import service
from services.scheduler.enrollments.schemas import PlannedSends
from shared.errors import PROBLEM_CONTENT_TYPE, Problem

router = APIRouter(prefix="/v1/leads", tags=["planned sends"])


def _problem(description: str) -> dict[str, Any]:
    return {"model": Problem, "content": {PROBLEM_CONTENT_TYPE: {}}, "description": description}


def request_time() -> datetime:
    """ "Now" for a request (tests override this dependency to drive the clock)."""
    return datetime.now(UTC)


NowDep = Annotated[datetime, Depends(request_time)]


@router.get(
    "/{lead_id}/planned-sends",
    operation_id="list_planned_sends",
    response_model=PlannedSends,
    summary="A lead's planned sends (dry run)",
    responses={
        401: _problem("No valid access token"),
        404: _problem("No such lead in your org, or not one you may see"),
    },
)
async def list_planned_sends(
    lead_id: uuid.UUID, principal: PrincipalDep, session: OrgSessionDep, now: NowDep
) -> PlannedSends:
    """Every future send of the lead's sequence as things stand now: each step still to
    go, with its tone, its planned time (UTC and the lead's local time) and the reason
    send-time optimization gives for it. Nothing is changed by asking.

    An open-ended pause, a finished or stopped sequence, or an archived assistant give
    an empty list (with a `note`); a pause until a date shows the plan from that date.
    Visible to Administrators and Managers for every lead of the org, and to an Agent
    for the leads they own and the leads of assistants they manage; any other lead is
    404, as if it did not exist."""
    return await service.planned_sends(session, principal, lead_id, now=now)
