"""HTTP routes of lead imports."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import Response

from services.api.imports import service
from services.api.imports.schemas import LeadImportErrorRead, LeadImportRead
from services.api.leads.service import Caller
from services.api.settings import Settings
from services.kit.auth import PrincipalDep
from services.kit.pagination import Page, PageDep, page_of
from services.kit.tenancy import OrgSessionDep
from shared.errors import PROBLEM_CONTENT_TYPE, Problem

PATH = "/v1/lead-imports"
router = APIRouter(prefix=PATH, tags=["lead imports"])


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(_settings)]


def _problem(description: str, example: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": Problem,
        "description": description,
        "content": {PROBLEM_CONTENT_TYPE: {"example": example}},
    }


_UPLOAD_ERRORS: dict[int | str, dict[str, Any]] = {
    403: _problem(
        "Adding leads for another owner needs the assistant's manager or an Administrator",
        {
            "type": "https://pursuit.dev/problems/forbidden",
            "title": "Forbidden",
            "status": 403,
            "detail": "Only the assistant's manager or an Administrator adds leads for others.",
        },
    ),
    404: _problem(
        "No such assistant (or not one you may add leads to)",
        {
            "type": "https://pursuit.dev/problems/not-found",
            "title": "Not found",
            "status": 404,
            "detail": "No such assistant.",
        },
    ),
    413: _problem(
        "The upload is larger than the limit (refused before it is read)",
        {
            "type": "https://pursuit.dev/problems/payload-too-large",
            "title": "Request body too large",
            "status": 413,
            "detail": "The request body exceeds the limit of 52494336 bytes.",
            "limit_bytes": 52494336,
        },
    ),
    422: _problem(
        "The file cannot be imported (encoding, header, columns, row count), or a form "
        "field is invalid",
        {
            "type": "https://pursuit.dev/problems/invalid-csv",
            "title": "The CSV file cannot be imported",
            "status": 422,
            "detail": "Unknown columns: 'fax'. Accepted: email, first_name, last_name, "
            "company, title, phone, country, time_zone, more_context, more_information, "
            "amc_renewal_date, and custom.<key> for custom fields.",
            "field": "file",
            "unknown_columns": ["fax"],
        },
    ),
}


@router.post(
    "",
    operation_id="create_lead_import",
    response_model=LeadImportRead,
    status_code=202,
    responses=_UPLOAD_ERRORS,
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "example": {
                        "file": "email,first_name,last_name,company,phone\r\n"
                        "jordan@globex.example,Jordan,Lee,Globex,+12125550147\r\n",
                        "assistant_id": "0193f1a0-1111-7222-8333-444455556666",
                        "schedule_id": "0193f1a0-2222-7333-8444-555566667777",
                    }
                }
            }
        }
    },
)
async def create_lead_import(
    file: Annotated[
        UploadFile,
        File(
            description="CSV, UTF-8 (a byte order mark is fine), comma-separated; the "
            "first line names the columns: email (required), first_name, last_name, "
            "company, title, phone, country, time_zone, more_context, more_information, "
            "amc_renewal_date, and custom.<key> for custom fields."
        ),
    ],
    assistant_id: Annotated[uuid.UUID, Form(description="The assistant to add the leads to")],
    principal: PrincipalDep,
    session: OrgSessionDep,
    settings: SettingsDep,
    schedule_id: Annotated[
        uuid.UUID | None, Form(description="Default: the assistant's default schedule")
    ] = None,
    owner_id: Annotated[
        uuid.UUID | None,
        Form(description="On whose behalf (default: you); as when adding one lead"),
    ] = None,
) -> LeadImportRead:
    """Upload a CSV of up to 100,000 leads; it is checked whole (encoding, header, row
    count) and imported in the background. Rows that fail validation are reported
    per row and the others imported; emails the assistant already has are skipped."""
    caller = await Caller.of(session, principal)
    content = await file.read()
    return await service.start(
        session,
        caller,
        service.Upload(filename=file.filename or "", content=content),
        assistant_id=assistant_id,
        owner_id=owner_id,
        schedule_id=schedule_id,
        max_bytes=settings.import_max_bytes,
        max_rows=settings.import_max_rows,
    )


@router.get("/{import_id}", operation_id="get_lead_import", response_model=LeadImportRead)
async def get_lead_import(
    import_id: uuid.UUID, principal: PrincipalDep, session: OrgSessionDep
) -> LeadImportRead:
    """An import's status and progress (rows done, failed, created, already there)."""
    return await service.get(session, await Caller.of(session, principal), import_id)


@router.get(
    "/{import_id}/errors",
    operation_id="list_lead_import_errors",
    response_model=Page[LeadImportErrorRead],
)
async def list_lead_import_errors(
    import_id: uuid.UUID, principal: PrincipalDep, session: OrgSessionDep, page: PageDep
) -> Page[LeadImportErrorRead]:
    """The rows refused so far, in file order: line, column, message and the cells."""
    caller = await Caller.of(session, principal)
    found = await service.errors(session, caller, import_id, page.after, page.limit + 1)
    return page_of(found, page.limit, lambda e: e.id)


@router.get(
    "/{import_id}/errors.csv",
    operation_id="export_lead_import_errors",
    response_class=Response,
    responses={
        200: {
            "description": "row, column, message, then the row's cells; cells that a "
            "spreadsheet would run as a formula are prefixed with a quote",
            "content": {"text/csv": {"example": "row,column,message,email\r\n"}},
        }
    },
)
async def export_lead_import_errors(
    import_id: uuid.UUID, principal: PrincipalDep, session: OrgSessionDep
) -> Response:
    """The error report as CSV, safe to open in a spreadsheet."""
    caller = await Caller.of(session, principal)
    body = await service.errors_csv(session, caller, import_id)
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="import-{import_id}-errors.csv"'},
    )
