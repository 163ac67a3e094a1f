"""Which services consume which message: the relay enqueues one job per consumer.

The producer's outbox relay reads this table; a consumer that starts to listen
to an event adds itself here.
"""

from __future__ import annotations

from types import MappingProxyType

from shared.contracts.assistants import AssistantUpserted
from shared.contracts.events import SessionChanged, UserRemoved, UserUpserted
from shared.contracts.imports import LeadImportRequested
from shared.contracts.inbound import (
    AnswerRequested,
    ForwardRequested,
    InboundMessageStored,
    LeadCreateRequested,
    SuppressionRequested,
)
from shared.contracts.jobs import SendEmail
from shared.contracts.leads import (
    EnrollmentCommand,
    EnrollmentRequested,
    LeadHeated,
    LeadUpserted,
)
from shared.contracts.sequence import (
    EmailSuppressed,
    EnrollmentsUpdated,
    EnrollmentUpdated,
    MessageFailed,
    MessageSent,
    ReplyReceived,
    SendSequenceBatch,
    SequenceDispatch,
)

ROUTES: MappingProxyType[str, tuple[str, ...]] = MappingProxyType(
    {
        SendEmail.message_name: ("mailer",),
        SessionChanged.message_name: ("identity",),
        UserUpserted.message_name: ("api", "inbound"),
        UserRemoved.message_name: ("api",),
        # Read models: the scheduler times sends with them, the mailer writes them,
        # inbound matches answers to them.
        AssistantUpserted.message_name: ("scheduler", "mailer", "inbound"),
        LeadUpserted.message_name: ("scheduler", "mailer", "inbound"),
        # Commands to the scheduler.
        EnrollmentRequested.message_name: ("scheduler",),
        EnrollmentCommand.message_name: ("scheduler",),
        # The scheduler's hand-off of due steps.
        SendSequenceBatch.message_name: ("mailer",),
        # ...one job per claimed batch: the mailer hands each mailbox's batch on.
        SequenceDispatch.message_name: ("mailer",),
        # The lead's status, temperature and timeline in the api; the mailer keeps
        # its stop table from the sequence's stops and the lead's answers.
        EnrollmentUpdated.message_name: ("api", "mailer"),
        # A tick batch's advances and completions at once: no stop among them.
        EnrollmentsUpdated.message_name: ("api",),
        MessageSent.message_name: ("api", "inbound"),
        MessageFailed.message_name: ("api", "scheduler"),
        ReplyReceived.message_name: ("api", "scheduler", "mailer"),
        EmailSuppressed.message_name: ("scheduler",),
        # Inbound reads what it stored in its own worker, and asks the mailer to
        # suppress the addresses that bounced, complained or unsubscribed.
        SuppressionRequested.message_name: ("mailer",),
        AnswerRequested.message_name: ("mailer",),
        ForwardRequested.message_name: ("mailer",),
        InboundMessageStored.message_name: ("inbound",),
        # ...and the api to add the leads a referral names.
        LeadCreateRequested.message_name: ("api",),
        # Owner notifications beyond email (WhatsApp, in-app, CRM webhooks) subscribe in
        # their issue; the api sends the email itself.
        LeadHeated.message_name: (),
        # The api runs its own CSV imports in its worker.
        LeadImportRequested.message_name: ("api",),
    }
)


def consumers_of(message_name: str) -> tuple[str, ...]:
    """The services whose queues receive ``message_name`` (empty when nobody listens)."""
    return ROUTES.get(message_name, ())
