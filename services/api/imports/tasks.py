"""The import job: the api's worker runs the command its own requests wrote."""

from __future__ import annotations

from arq.worker import Function

from services.api.imports import service
from services.api.settings import Settings
from services.kit.jobs import JobCall, stepwise
from shared.contracts.imports import LeadImportRequested


def import_jobs(settings: Settings) -> list[Function]:
    """The import job, writing ``settings.import_chunk_rows`` rows per transaction."""

    async def run_import(call: JobCall[LeadImportRequested]) -> str:
        """Each chunk commits with its counters, so a rerun resumes or does nothing."""
        return await service.run(
            call.database,
            call.payload.org_id,
            call.payload.import_id,
            chunk_rows=settings.import_chunk_rows,
        )

    return [stepwise(LeadImportRequested, run_import)]
