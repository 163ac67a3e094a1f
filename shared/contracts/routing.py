"""Which services consume which message: the relay enqueues one job per consumer.

The producer's outbox relay reads this table; a consumer that starts to listen
to an event adds itself here.
"""

from __future__ import annotations

from types import MappingProxyType

from shared.contracts.assistants import AssistantUpserted
from shared.contracts.events import SessionChanged, UserRemoved, UserUpserted
from shared.contracts.imports import LeadImportRequested
from shared.contracts.jobs import SendEmail
from shared.contracts.leads import EnrollmentCommand, EnrollmentRequested, LeadUpserted
from shared.contracts.sequence import EnrollmentUpdated, MessageSent, ReplyReceived

ROUTES: MappingProxyType[str, tuple[str, ...]] = MappingProxyType(
    {
        SendEmail.message_name: ("mailer",),
        SessionChanged.message_name: ("identity",),
        UserUpserted.message_name: ("api",),
        UserRemoved.message_name: ("api",),
        # The scheduler, mailer and inbound keep read models of assistants; they
        # subscribe in their issues.
        AssistantUpserted.message_name: (),
        LeadUpserted.message_name: (),
        # Commands to the scheduler: they wait on its queue until it consumes them.
        EnrollmentRequested.message_name: ("scheduler",),
        EnrollmentCommand.message_name: ("scheduler",),
        # The lead's status, temperature and timeline in the api.
        EnrollmentUpdated.message_name: ("api",),
        MessageSent.message_name: ("api",),
        ReplyReceived.message_name: ("api",),
        # The api runs its own CSV imports in its worker.
        LeadImportRequested.message_name: ("api",),
    }
)


def consumers_of(message_name: str) -> tuple[str, ...]:
    """The services whose queues receive ``message_name`` (empty when nobody listens)."""
    return ROUTES.get(message_name, ())
