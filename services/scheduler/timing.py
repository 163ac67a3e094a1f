"""Send-time optimization: when a sequence step should actually go out.

Pure functions, no I/O and no clock: the caller passes every instant in, so the
same history always gives the same answer (the scheduler can re-plan a step
after a crash and get the time it planned before).

The wait a schedule asks for is only the earliest moment. The send is moved into
the lead's business hours (local time, weekdays, not a public holiday of the
lead's country), then to the hour of that day when this lead, else leads at the
same company, else the organization's leads, have replied most often.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache

import holidays

HOURS_PER_WEEK = 168
BUSINESS_START = time(9, 0)  # local
BUSINESS_END = time(17, 0)  # local, exclusive: last slot starts before 17:00
MIN_REPLIES = 3

# A wait that ends on Christmas Eve in a country with a long holiday still finds
# a business day well within this; the bound only guards against a bad calendar.
_SEARCH_DAYS = 30
# Spread leads over the first half of the hour so a batch does not all go at :00
# (and a slot never drifts so late that its hour of week misrepresents it).
_SPREAD_MINUTES = 30
_BUSINESS_HOURS = range(BUSINESS_START.hour, BUSINESS_END.hour)

_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def hour_of_week(local: datetime) -> int:
    """0..167, Monday 00:00-00:59 is 0 (local wall-clock time)."""
    return local.weekday() * 24 + local.hour


def _validate_histogram(name: str, histogram: tuple[int, ...] | None) -> None:
    if histogram is None:
        return
    if len(histogram) != HOURS_PER_WEEK:
        raise ValueError(f"{name} histogram has {len(histogram)} buckets, not {HOURS_PER_WEEK}")
    if any(count < 0 for count in histogram):
        raise ValueError(f"{name} histogram has a negative count")


@dataclass(frozen=True)
class ReplyHistory:
    """Hour-of-week histograms (each a tuple of 168 ints, or None when unknown)."""

    lead: tuple[int, ...] | None = None
    domain: tuple[int, ...] | None = None
    org: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        # A short or shifted histogram would silently pick the wrong hour: fail here.
        _validate_histogram("lead", self.lead)
        _validate_histogram("domain", self.domain)
        _validate_histogram("org", self.org)


def _prior() -> tuple[int, ...]:
    # Before any reply is known, aim where B2B mail is read most: mid-morning
    # (the 9:00 and 10:00 hours) Tuesday to Thursday; any other weekday business
    # hour is acceptable but less likely; nights and weekends never.
    weights = [0] * HOURS_PER_WEEK
    for day in range(5):
        for hour in _BUSINESS_HOURS:
            weights[day * 24 + hour] = 3 if day in (1, 2, 3) and hour in (9, 10) else 1
    return tuple(weights)


PRIOR: tuple[int, ...] = _prior()


def choose_histogram(history: ReplyHistory) -> tuple[str, tuple[int, ...]]:
    """("lead"|"domain"|"org"|"prior", histogram): the first of lead, domain, org whose
    total >= MIN_REPLIES, else PRIOR. The narrowest history that says enough wins."""
    for source, histogram in (
        ("lead", history.lead),
        ("domain", history.domain),
        ("org", history.org),
    ):
        if histogram is not None and sum(histogram) >= MIN_REPLIES:
            return source, histogram
    return "prior", PRIOR


@dataclass(frozen=True)
class PlannedSend:
    at: datetime  # aware, UTC
    reason: str  # human sentence, shown to the user to explain the time
    source: str  # "lead" | "domain" | "org" | "prior" | "immediate"


@lru_cache(maxsize=512)
def _zone(time_zone: str | None) -> tuple[str, tzinfo]:
    # A lead imported with a bad zone must still be mailed: fall back to UTC.
    if time_zone:
        try:
            return time_zone, zoneinfo.ZoneInfo(time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    return "UTC", UTC


@lru_cache(maxsize=1024)
def _holidays(country: str, year: int) -> Mapping[date, str]:
    # Building a calendar costs milliseconds; the scheduler asks for the same few
    # (country, year) pairs all day long.
    try:
        calendar = holidays.country_holidays(country, years=year, language="en_US")
    except (NotImplementedError, KeyError):
        return {}
    return dict(calendar.items())


def _holiday_name(day: date, country: str | None) -> str | None:
    if not country:
        return None
    return _holidays(country.strip().upper(), day.year).get(day)


def _is_business_day(day: date, country: str | None) -> bool:
    return day.weekday() < 5 and _holiday_name(day, country) is None


def _local(day: date, at: time, zone: tzinfo) -> datetime:
    """The instant of wall-clock ``at`` on ``day`` in ``zone``, as local time.

    The UTC round trip turns a wall-clock time that does not exist (in a
    spring-forward gap) into the real instant just after the gap."""
    naive = datetime.combine(day, at)
    return naive.replace(tzinfo=zone, fold=0).astimezone(UTC).astimezone(zone)


def _require_aware(name: str, value: datetime) -> None:
    # astimezone() would read a naive value as the server's local time: a silent bug.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def _fmt_date(day: date) -> str:
    return f"{_DAY_NAMES[day.weekday()]} {day.day} {_MONTH_NAMES[day.month - 1]}"


def _fmt_time(local: datetime) -> str:
    return f"{local.hour:02d}:{local.minute:02d}"


def _skipped_note(day: date, country: str | None) -> str:
    if day.weekday() >= 5:
        return "the weekend"
    name = _holiday_name(day, country)
    if name is not None:
        return f"{name} on {_fmt_date(day)}"
    # Only the wait's own day can be a business day with no slot left.
    return f"the close of business on {_fmt_date(day)}"


def _move_note(first: date, chosen: date, country: str | None) -> str:
    notes: list[str] = []
    day = first
    while day < chosen:
        note = _skipped_note(day, country)
        if note not in notes:
            notes.append(note)
        day += timedelta(days=1)
    after = notes[0] if len(notes) == 1 else f"{', '.join(notes[:-1])} and {notes[-1]}"
    return f"moved to {_fmt_date(chosen)}, the next business day after {after}"


_WHOSE = {
    "lead": "the lead's",
    "domain": "the lead's company's",
    "org": "the organization's leads'",
}


def _hour_note(
    source: str, histogram: tuple[int, ...], slot: datetime, weight: int, whole_day: bool
) -> str:
    at = _fmt_time(slot)
    first_hour = "the first business hour " + ("that day" if whole_day else "left that day")
    weekday = _WEEKDAY_NAMES[slot.weekday()]
    if source == "prior":
        if weight == max(PRIOR):
            why = f"mid-morning on a {weekday}, when business email is read most"
        else:
            why = first_hour
        return f"{at} is {why} (too few replies yet to learn a reading hour)"
    replies = sum(histogram)
    whose = _WHOSE[source]
    if weight == 0:
        return f"{at} is {first_hour} (none of {whose} {replies} replies fell in those hours)"
    return f"{at} is {whose} most likely reading hour on a {weekday} ({replies} replies)"


def plan_send(
    earliest: datetime,
    *,
    time_zone: str | None,
    country: str | None,
    history: ReplyHistory,
    optimize: bool,
    spread_key: int = 0,
) -> PlannedSend:
    """When to send a step whose wait ends at ``earliest``, and why.

    ``time_zone`` is the lead's IANA zone (None or unknown: UTC), ``country`` its
    ISO 3166 alpha-2 code (None or unknown: weekends only). ``optimize`` False
    (demos, tests with waits of minutes) sends at ``earliest``. ``spread_key`` sets
    the minute (``spread_key % 30``) so leads planned together do not all go at :00.
    """
    _require_aware("earliest", earliest)
    earliest_utc = earliest.astimezone(UTC)
    if not optimize:
        return PlannedSend(
            at=earliest_utc,
            reason="Sent as soon as the wait ends (send-time optimization is off).",
            source="immediate",
        )
    source, histogram = choose_histogram(history)
    return _plan_in_business_hours(
        earliest_utc, time_zone, country, source, histogram, spread_key % _SPREAD_MINUTES
    )


# A tick plans a whole batch from the same "now": the leads of one zone, country and
# reading hour share their plan (their minute of spread aside), so it is computed once.
@lru_cache(maxsize=8192)
def _plan_in_business_hours(
    earliest_utc: datetime,
    time_zone: str | None,
    country: str | None,
    source: str,
    histogram: tuple[int, ...],
    minute: int,
) -> PlannedSend:
    zone_name, zone = _zone(time_zone)
    earliest_local = earliest_utc.astimezone(zone)
    first = earliest_local.date()

    for offset in range(_SEARCH_DAYS + 1):
        day = first + timedelta(days=offset)
        if not _is_business_day(day, country):
            continue
        slots = _slots(day, minute, zone)
        # Compare instants in UTC: aware datetimes sharing a tzinfo compare by wall clock.
        candidates = [slot for slot in slots if slot.astimezone(UTC) >= earliest_utc]
        if not candidates:
            continue
        best = candidates[0]
        best_weight = histogram[hour_of_week(best)]
        for slot in candidates[1:]:
            weight = histogram[hour_of_week(slot)]
            if weight > best_weight:  # strict: ties keep the earlier hour
                best, best_weight = slot, weight
        parts = [f"Wait ends {_fmt_date(first)} {_fmt_time(earliest_local)} ({zone_name})"]
        if day != first:
            parts.append(_move_note(first, day, country))
        whole_day = len(candidates) == len(slots)
        parts.append(_hour_note(source, histogram, best, best_weight, whole_day))
        return PlannedSend(at=best.astimezone(UTC), reason="; ".join(parts) + ".", source=source)

    return PlannedSend(
        at=earliest_utc,
        reason=(
            f"No business day within {_SEARCH_DAYS} days of the end of the wait "
            f"({zone_name}); sent as soon as the wait ends."
        ),
        source="immediate",
    )


@lru_cache(maxsize=4096)
def _slots(day: date, minute: int, zone: tzinfo) -> list[datetime]:
    """The business-hour slots of ``day`` at ``minute`` past each hour, local time
    (shared: callers only read the list)."""
    return [_local(day, time(hour, minute), zone) for hour in _BUSINESS_HOURS]


def next_window(
    at: datetime, *, time_zone: str | None, country: str | None, optimize: bool
) -> datetime:
    """`at` itself when it falls inside business hours of a business day (or optimize is
    False); else the start (09:00 local) of the next business window. Used when a
    mailbox limit pushes a send later. Always returned as UTC."""
    _require_aware("at", at)
    at_utc = at.astimezone(UTC)
    if not optimize:
        return at_utc
    _, zone = _zone(time_zone)
    local = at_utc.astimezone(zone)
    first = local.date()
    for offset in range(_SEARCH_DAYS + 1):
        day = first + timedelta(days=offset)
        if not _is_business_day(day, country):
            continue
        start = _local(day, BUSINESS_START, zone).astimezone(UTC)
        end = _local(day, BUSINESS_END, zone).astimezone(UTC)
        if at_utc < start:
            return start
        if at_utc < end:
            return at_utc
    return at_utc


def start_of_next_day(at: datetime, time_zone: str | None) -> datetime:
    """Midnight local time of the day after `at`'s local date in `time_zone`, as UTC
    (daily caps are counted per local day of the assistant)."""
    _require_aware("at", at)
    _, zone = _zone(time_zone)
    tomorrow = at.astimezone(zone).date() + timedelta(days=1)
    # Where DST starts at midnight the day begins at 01:00: _local finds that instant.
    return _local(tomorrow, time(0, 0), zone).astimezone(UTC)


def local_day(at: datetime, time_zone: str | None) -> date:
    """The calendar date of ``at`` in ``time_zone`` (None or unknown: UTC)."""
    _require_aware("at", at)
    _, zone = _zone(time_zone)
    return at.astimezone(zone).date()
