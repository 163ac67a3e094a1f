"""Sequences that go on in someone else's thread (EmailCC: the user's email to the
lead, copied to the assistant, is step 1). The scheduler's batch carries the thread's
root with each send; it is kept per (lead, generation), so every step of that
generation, and a batch the sweeper rebuilds from its rows, answers it: In-Reply-To
the root (or the latest step sent after it), References the root's own References, the
root and the steps since, and ``Re: <root subject>``."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import insert

from services.mailer.models import thread_roots
from services.mailer.sequence.message import Thread
from services.mailer.sequence.repository import Executor
from shared.contracts.sequence import SequenceSend

Key = tuple[uuid.UUID, int]


def _bracketed(message_id: str) -> str:
    return f"<{message_id.strip().strip('<>')}>"


async def rooted(
    session: Executor,
    org_id: uuid.UUID,
    sends: Sequence[SequenceSend],
    threads: dict[Key, Thread],
) -> dict[Key, Thread]:
    """``threads`` (each (lead, generation)'s own messages sent) with the thread root in
    front where the sequence has one; the roots the batch carries are kept first."""
    carried = {(s.lead_id, s.generation): s.thread_root for s in sends if s.thread_root}
    if carried:
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
    keys = sorted({(s.lead_id, s.generation) for s in sends})
    if not keys:
        return threads
    rows = await session.execute(
        select(thread_roots).where(
            tuple_(thread_roots.c.lead_id, thread_roots.c.generation).in_(keys)
        )
    )
    found = dict(threads)
    for row in rows:
        key = (row.lead_id, row.generation)
        own = threads.get(key, Thread())
        root = [_bracketed(r) for r in row.references if r] + [_bracketed(row.message_id)]
        found[key] = Thread(
            message_ids=[*dict.fromkeys([*root, *own.message_ids])],
            subject=row.subject or own.subject,
        )
    return found
