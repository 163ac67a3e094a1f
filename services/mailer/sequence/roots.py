"""Sequences that go on in someone else's thread (EmailCC: the user's email to the
lead, copied to the assistant, is step 1). The scheduler's batch carries the thread's
root with each send; it is kept per (lead, generation), so every step of that
generation, and a batch the sweeper rebuilds from its rows, answers it: In-Reply-To
the root (or the latest step sent after it), References the root's own References, the
root and the steps since, and ``Re: <root subject>``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.dialects.postgresql import insert

from services.mailer.models import thread_roots
from services.mailer.sequence.message import Thread
from services.mailer.sequence.repository import Executor
from shared.contracts.sequence import SequenceSend


async def keep(session: Executor, org_id: uuid.UUID, sends: Sequence[SequenceSend]) -> None:
    """Keep the roots the batch carries (the first one kept for a (lead, generation)
    stays): :func:`.opening.open_batch` reads them with the batch's rows."""
    carried = {(s.lead_id, s.generation): s.thread_root for s in sends if s.thread_root}
    if not carried:
        return
    await session.execute(
        insert(thread_roots)
        .values(
            [
                {
                    "lead_id": lead_id,
                    "generation": generation,
                    "org_id": org_id,
                    "message_id": root.message_id,
                    "subject": root.subject,
                    "references": root.references,
                }
                for (lead_id, generation), root in carried.items()
            ]
        )
        .on_conflict_do_nothing(index_elements=["lead_id", "generation"])
    )


def _bracketed(message_id: str) -> str:
    return f"<{message_id.strip().strip('<>')}>"


def answering(sent: Thread, root_id: str, root_subject: str, references: list[str]) -> Thread:
    """The thread of a sequence that answers a root: the root's own References, the
    root, then the steps ``sent``; the root's subject, else the first step's."""
    root = [_bracketed(r) for r in references if r] + [_bracketed(root_id)]
    return Thread(
        message_ids=[*dict.fromkeys([*root, *sent.message_ids])],
        subject=root_subject or sent.subject,
    )
