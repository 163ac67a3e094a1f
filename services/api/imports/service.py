"""CSV imports of leads: accept a file (checked whole, stored with its command in one
transaction), run it in the background chunk by chunk, report progress and errors.

The job resumes where it stopped: each chunk's leads, errors and counters commit
together, and a chunk is written only if the counters say it has not been.
"""

from __future__ import annotations

import asyncio
import collections
import csv
import io
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.api.assistants import repository as assistants
from services.api.assistants.service import UnknownSchedule, UnknownUser
from services.api.imports import csvparse, repository, rows
from services.api.imports.schemas import LeadImportErrorRead, LeadImportRead
from services.api.leads import policies
from services.api.leads.service import Caller
from services.api.models import Assistant, LeadImport, LeadImportError, outbox
from services.api.schedules import builtin
from services.api.schedules import service as schedules
from services.api.users import repository as users
from services.kit.db import Database, scope_to_org
from services.kit.errors import Forbidden, NotFound, PayloadTooLarge
from services.kit.ids import new_id
from services.kit.jobs import transient
from services.kit.outbox import publish
from shared.contracts.imports import LeadImportRequested
from shared.contracts.leads import EnrollmentRequested
from shared.contracts.schedules import ScheduleSnapshot

log = structlog.get_logger(__name__)

ERRORS_CSV_PAGE = 5_000


@dataclass(frozen=True)
class Upload:
    filename: str
    content: bytes


def to_read(job: LeadImport) -> LeadImportRead:
    return LeadImportRead(
        id=job.id,
        assistant_id=job.assistant_id,
        owner_id=job.owner_id,
        schedule_id=uuid.UUID(job.schedule["schedule_id"]),
        filename=job.filename,
        status=job.status,
        rows_total=job.rows_total,
        rows_done=job.rows_done,
        rows_failed=job.rows_failed,
        rows_created=job.rows_created,
        rows_existing=job.rows_existing,
        error=job.error,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


async def _assistant_for_adding(
    session: AsyncSession, caller: Caller, assistant_id: uuid.UUID, owner_id: uuid.UUID | None
) -> tuple[Assistant, uuid.UUID]:
    """The assistant and owner, if the caller may add leads to it for that owner: the
    rules of adding one lead (services.api.leads.service.create)."""
    principal = caller.principal
    assistant = await assistants.get(session, principal.org_id, assistant_id)
    if assistant is None or assistant.archived_at is not None:
        raise NotFound("No such assistant.")
    members = {m.user_id for m in await assistants.members(session, assistant.id)}
    if not policies.can_add_to(principal, assistant, members):
        raise NotFound("No such assistant.")
    owner = owner_id or principal.user_id
    if not policies.can_add_for(principal, owner, assistant.id, caller.managed):
        raise Forbidden("Only the assistant's manager or an Administrator adds leads for others.")
    if owner != principal.user_id:
        user = await users.get(session, principal.org_id, owner)
        if (
            user is None
            or user.status != "active"
            or (owner != assistant.owner_id and owner not in members)
        ):
            raise UnknownUser("owner_id: not an active user of this assistant.", field="owner_id")
    return assistant, owner


async def start(
    session: AsyncSession,
    caller: Caller,
    upload: Upload,
    *,
    assistant_id: uuid.UUID,
    owner_id: uuid.UUID | None,
    schedule_id: uuid.UUID | None,
    max_bytes: int,
    max_rows: int,
) -> LeadImportRead:
    """Check the file whole and queue its import; a refused file writes nothing."""
    principal = caller.principal
    assistant, owner = await _assistant_for_adding(session, caller, assistant_id, owner_id)
    chosen = schedule_id or assistant.default_schedule_id or builtin.RECOMMENDED_ID
    schedule = await schedules.find(session, principal.org_id, chosen)
    if schedule is None:
        raise UnknownSchedule("schedule_id: no such schedule in your org.", field="schedule_id")
    snapshot = ScheduleSnapshot(
        schedule_id=str(schedule.id), name=schedule.name, steps=schedule.steps
    )
    if len(upload.content) > max_bytes:
        raise PayloadTooLarge(
            f"The file exceeds the limit of {max_bytes} bytes.", limit_bytes=max_bytes
        )
    # Decoding and parsing tens of megabytes: off the event loop.
    header, total = await asyncio.to_thread(csvparse.scan, upload.content, max_rows)
    job = LeadImport(
        id=new_id(),
        org_id=principal.org_id,
        assistant_id=assistant.id,
        owner_id=owner,
        created_by=principal.user_id,
        schedule=snapshot.model_dump(mode="json"),
        filename=upload.filename[:255],
        columns=list(header.raw),
        status="queued",
        rows_total=total,
        rows_done=0,
        rows_failed=0,
        rows_created=0,
        rows_existing=0,
        created_at=datetime.now(UTC),
    )
    await repository.add(session, job, upload.content)
    await publish(
        session,
        outbox,
        LeadImportRequested(import_id=job.id, org_id=job.org_id),
        org_id=job.org_id,
    )
    return to_read(job)


async def _visible(session: AsyncSession, caller: Caller, import_id: uuid.UUID) -> LeadImport:
    principal = caller.principal
    job = await repository.get(session, principal.org_id, import_id)
    if job is None or not (
        policies.sees_all(principal)
        or principal.user_id in (job.created_by, job.owner_id)
        or job.assistant_id in caller.managed
    ):
        raise NotFound("No such import.")
    return job


async def get(session: AsyncSession, caller: Caller, import_id: uuid.UUID) -> LeadImportRead:
    """An import the caller started, owns the leads of, or may see all leads of."""
    return to_read(await _visible(session, caller, import_id))


def _in_order(raw: dict[str, str], columns: list[str]) -> dict[str, str]:
    # JSONB keeps no key order: put the cells back in the file's.
    return {c: raw[c] for c in [*columns, *(k for k in raw if k not in columns)] if c in raw}


def _error_read(error: LeadImportError, columns: list[str]) -> LeadImportErrorRead:
    return LeadImportErrorRead(
        id=error.id,
        row=error.line,
        column=error.column_name,
        message=error.message,
        values=_in_order(error.raw, columns),
    )


async def errors(
    session: AsyncSession, caller: Caller, import_id: uuid.UUID, after: uuid.UUID | None, limit: int
) -> list[LeadImportErrorRead]:
    """The rows refused so far, in file order."""
    job = await _visible(session, caller, import_id)
    found = await repository.errors_page(session, job.org_id, job.id, after, limit)
    return [_error_read(e, job.columns) for e in found]


def _render_errors(found: list[LeadImportError], header: list[str]) -> str:
    columns = dict.fromkeys(header)
    for error in found:
        columns.update(dict.fromkeys(error.raw))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    safe = csvparse.neutralise
    writer.writerow([safe(c) for c in ("row", "column", "message", *columns)])
    for error in found:
        writer.writerow(
            [
                str(error.line),
                safe(error.column_name or ""),
                safe(error.message),
                *(safe(error.raw.get(c, "")) for c in columns),
            ]
        )
    return out.getvalue()


async def errors_csv(session: AsyncSession, caller: Caller, import_id: uuid.UUID) -> str:
    """Every error as CSV (row, column, message, then the row's cells), each cell safe
    to open in a spreadsheet."""
    job = await _visible(session, caller, import_id)
    found: list[LeadImportError] = []
    after: uuid.UUID | None = None
    while True:
        page = await repository.errors_page(session, job.org_id, job.id, after, ERRORS_CSV_PAGE)
        found.extend(page)
        if len(page) < ERRORS_CSV_PAGE:
            break
        after = page[-1].id
    return await asyncio.to_thread(_render_errors, found, job.columns)


# The job.


@dataclass(frozen=True)
class _Plan:
    job: LeadImport
    assistant: Assistant
    content: bytes

    @property
    def values(self) -> dict[str, Any]:
        """What every lead of the import shares (parameters of the chunk statement)."""
        job, assistant, snapshot = self.job, self.assistant, self.job.schedule
        # The contract's own dump, lead and time filled in per lead by the statement.
        enrollment = EnrollmentRequested(
            lead_id=job.id,
            org_id=job.org_id,
            assistant_id=job.assistant_id,
            owner_id=job.owner_id,
            schedule=ScheduleSnapshot.model_validate(snapshot),
            start_step=1,
            requested_by=job.created_by,
            requested_at=datetime.now(UTC),
        ).model_dump(mode="json", exclude={"lead_id", "requested_at"})
        return {
            "org_id": job.org_id,
            "assistant_id": job.assistant_id,
            "owner_id": job.owner_id,
            "schedule_id": uuid.UUID(snapshot["schedule_id"]),
            "more_context": assistant.more_context,
            "more_information": assistant.more_information,
            "summary": f"Added to {assistant.name} (csv), on {snapshot['name']}",
            "event_data": json.dumps(
                {"schedule_id": snapshot["schedule_id"], "source": "csv", "import_id": str(job.id)}
            ),
            "enrollment": json.dumps(enrollment),
            "actor_id": job.created_by,
        }


async def _begin(database: Database, org_id: uuid.UUID, import_id: uuid.UUID) -> _Plan | None:
    async with database.transaction() as session:
        await scope_to_org(session, org_id)
        job = await repository.get(session, org_id, import_id, lock=True)
        if job is None or job.status in ("done", "failed"):
            return None
        content = await repository.content(session, org_id, import_id)
        assistant = await assistants.get(session, org_id, job.assistant_id)
        if content is None or assistant is None:
            return None
        if job.status == "queued":
            job.status, job.started_at = "running", datetime.now(UTC)
            await repository.set_progress(
                session, job.id, status=job.status, started_at=job.started_at
            )
        return _Plan(job, assistant, content)


async def _finish(
    database: Database, job: LeadImport, status: str, error: str | None = None
) -> None:
    async with database.transaction() as session:
        await scope_to_org(session, job.org_id)
        await repository.set_progress(
            session, job.id, status=status, error=error, finished_at=datetime.now(UTC)
        )
        await repository.drop_content(session, job.id)


class _Overtaken(Exception):
    """Another run wrote this chunk, or the chunk before it did not commit."""


async def _write_chunk(
    database: Database,
    plan: _Plan,
    done_before: int,
    size: int,
    checked: rows.Checked,
    previous: asyncio.Future[bool] | None,
    *,
    wait_first: bool,
) -> bool:
    """Write one chunk and its counters; False if another run wrote it already.

    Its leads are written while the chunk before it (``previous``) is still being
    written, in another transaction; it commits only after that one did, so that
    ``rows_done`` always counts a prefix of the file. The two never wait on each
    other's leads: a repeated email was left out of the later chunk, and a chunk
    with emails only PostgreSQL can compare (``wait_first``) starts after the one
    before it committed."""
    job = plan.job
    try:
        async with database.transaction() as session:
            await scope_to_org(session, job.org_id)
            if wait_first and previous is not None and not await previous:
                raise _Overtaken
            created = await repository.move_chunk(session, job, checked.valid, plan.values)
            await repository.add_errors(session, job, checked.errors)
            if previous is not None and not await previous:
                raise _Overtaken
            current = await repository.get(session, job.org_id, job.id, lock=True)
            if current is None or current.status != "running" or current.rows_done != done_before:
                raise _Overtaken
            await repository.set_progress(
                session,
                job.id,
                rows_done=current.rows_done + size,
                rows_failed=current.rows_failed + checked.failed_rows,
                rows_created=current.rows_created + created,
                rows_existing=current.rows_existing
                + len(checked.valid)
                + checked.repeated
                - created,
            )
    except _Overtaken:
        return False
    return True


async def run(
    database: Database, org_id: uuid.UUID, import_id: uuid.UUID, *, chunk_rows: int
) -> str:
    """Run (or resume) an import; a finished one is left alone. Returns the outcome."""
    plan = await _begin(database, org_id, import_id)
    if plan is None:
        return "duplicate"
    try:
        header, records = await asyncio.to_thread(csvparse.read, plan.content)
        done = plan.job.rows_done
        if done:  # a rerun: the rows of the chunks already written
            await asyncio.to_thread(collections.deque, islice(records, done), 0)

        seen: set[str] = set()

        def check_next() -> tuple[int, rows.Checked]:
            chunk = list(islice(records, chunk_rows))
            return len(chunk), rows.check(header, chunk, seen)

        # Reading and validating the next chunk (Python, in a thread) overlaps writing
        # the last two (PostgreSQL, two transactions); only this loop advances
        # ``records`` and ``seen``, one chunk at a time.
        pending = asyncio.ensure_future(asyncio.to_thread(check_next))
        writing: asyncio.Task[bool] | None = None
        serial = False
        try:
            while True:
                size, checked = await pending
                if not size:
                    break
                pending = asyncio.ensure_future(asyncio.to_thread(check_next))
                before, writing = (
                    writing,
                    asyncio.create_task(
                        _write_chunk(
                            database,
                            plan,
                            done,
                            size,
                            checked,
                            writing,
                            wait_first=serial or checked.serial,
                        )
                    ),
                )
                serial = checked.serial
                done += size
                if before is not None and not await before:
                    return "duplicate"
            if writing is not None and not await writing:
                return "duplicate"
        finally:
            pending.cancel()  # a chunk read ahead of a write that failed: dropped
            if writing is not None and not writing.done():
                # It commits only after the one before it, which failed: it rolls back.
                await asyncio.gather(writing, return_exceptions=True)
    except csvparse.FileRejected as exc:
        await _finish(database, plan.job, "failed", exc.detail)
        return "failed"
    except Exception as exc:
        if transient(exc):
            raise  # retried later: it resumes after the last committed chunk
        log.exception("lead_import_failed", import_id=str(import_id))
        await _finish(database, plan.job, "failed", "The import stopped on an internal error.")
        return "failed"
    await _finish(database, plan.job, "done")
    return "success"
