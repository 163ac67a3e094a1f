"""The wire contract between services: versioned job and event payloads."""

from shared.contracts.assistants import AssistantUpserted
from shared.contracts.base import Contract, EventEnvelope
from shared.contracts.events import SessionChanged, UserRemoved, UserUpserted
from shared.contracts.imports import LeadImportRequested
from shared.contracts.jobs import SendEmail
from shared.contracts.routing import ROUTES, consumers_of

__all__ = [
    "ROUTES",
    "AssistantUpserted",
    "Contract",
    "EventEnvelope",
    "LeadImportRequested",
    "SendEmail",
    "SessionChanged",
    "UserRemoved",
    "UserUpserted",
    "consumers_of",
]
