"""Lead imports: the api's command to its own worker to run an uploaded CSV."""

from __future__ import annotations

import uuid
from typing import ClassVar

from shared.contracts.base import Contract


class LeadImportRequested(Contract):
    """Run the import ``import_id`` (its file is stored with it). Running it again
    after it finished changes nothing."""

    message_name: ClassVar[str] = "lead_import.requested"
    version: int = 1

    import_id: uuid.UUID
    org_id: uuid.UUID
