"""Per-mailbox limits: a daily cap counted in the assistant's local day, and a minimum
spacing between two sends. Pure: the tick passes the counters it locked and "now".

A send over a limit is never dropped: it gets a later time (the next slot after the
spacing, or the next sending window of the next day) and stays due.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import NamedTuple

from services.scheduler import timing


class Mailbox(NamedTuple):
    """An assistant's limits and its counters as locked for this tick (a tuple: a batch
    builds hundreds)."""

    time_zone: str
    daily_limit: int
    spacing: timedelta
    day: date
    sent: int
    last_at: datetime | None


@dataclass(frozen=True)
class Verdict:
    """``send`` now, or ``later`` at ``at`` because of ``reason``."""

    send: bool
    at: datetime | None = None
    reason: str | None = None


_SEND = Verdict(True)


def allocate(mailbox: Mailbox, now: datetime, count: int) -> tuple[list[Verdict], Mailbox]:
    """Verdicts for ``count`` due sends in order, and the counters after them."""
    day = timing.local_day(now, mailbox.time_zone)
    if day < mailbox.day:
        # A late tick: replicas read their own clocks and a slow tick's later batches
        # keep its "now", so a tick of 23:59 may lock the counters after one of 00:01
        # has counted the new day. The old day's count is gone: sending now could
        # exceed it, and putting the counters back a day would let the new day count
        # from zero again. These sends wait for the new day (already begun).
        later = Verdict(
            False,
            timing.start_of_next_day(now, mailbox.time_zone),
            "daily limit: this mailbox already counts the sends of the next day",
        )
        return [later] * count, mailbox
    # The counters of now's local day (a new day starts at zero; the day only moves
    # forward), as locals: a batch allocates hundreds of sends, one at a time.
    sent = mailbox.sent if day == mailbox.day else 0
    last_at, limit, spacing = mailbox.last_at, mailbox.daily_limit, mailbox.spacing
    verdicts: list[Verdict] = []
    waiting = 0  # sends already pushed behind the spacing in this tick
    for _ in range(count):
        if sent >= limit:
            verdicts.append(
                Verdict(
                    False,
                    timing.start_of_next_day(now, mailbox.time_zone),
                    f"daily limit of {limit} sends from this mailbox reached",
                )
            )
            continue
        next_free = last_at + spacing if last_at else now
        if next_free <= now and waiting == 0:
            verdicts.append(_SEND)
            sent, last_at = sent + 1, now
            continue
        waiting += 1
        base = max(next_free, now)
        verdicts.append(
            Verdict(
                False,
                base + spacing * (waiting - 1),
                f"mailbox spacing: one send every {int(spacing.total_seconds())} s",
            )
        )
    if (day, sent, last_at) != (mailbox.day, mailbox.sent, mailbox.last_at):
        mailbox = mailbox._replace(day=day, sent=sent, last_at=last_at)
    return verdicts, mailbox
