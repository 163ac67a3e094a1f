"""When a "later" reply says to come back: "in January", "after 15 March", "dans deux mois",
"nächstes Quartal", "ping me in Q3".

Expressions are found in the canonical text (see ``text``) by patterns in the five
languages, rewritten as plain English ("in 2 months", "15 march", "monday") and resolved by
dateparser relative to when the reply was received, preferring the future. What dateparser
has no notion of is computed here: quarters ("Q3", "next quarter" → its first day), seasons
("after the summer" → 1 September; northern hemisphere) and "next week/month/year" (→ the
first day of that period, the natural day to resume on).

Conventions: a month alone is its first day ("in January" → 1 January); "mid" is the 15th
and "end of"/"late" the month's last day; "after" a day is the day after it, "after" a month
the first of the next. Every date returned is after the day the reply was received and
within three years.
"""

from __future__ import annotations

import calendar
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import dateparser

_MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    (
        "january jan enero janvier januar jaenner janeiro",
        "february feb febrero fevrier februar fevereiro",
        "march marzo mars marz maerz marco",
        "april apr abril avril",
        "may mayo mai maio",
        "june jun junio juin juni junho",
        "july jul julio juillet juli julho",
        "august aug agosto aout",
        "september sept sep septiembre setiembre septembre setembro",
        "october oct octubre octobre oktober outubro",
        "november nov noviembre novembre novembro",
        "december dec diciembre decembre dezember dezembro",
    ),
    start=1,
):
    for _name in _names.split():
        _MONTHS[_name] = _number
# Words that are a month only in the right company: "we may", "marco" (a name), "mar" (sea).
_AMBIGUOUS_MONTHS = frozenset({"may", "mar", "marco", "jan", "jun", "jul", "sep", "sept", "dec"})
_ENGLISH_MONTH = {n: calendar.month_name[n].lower() for n in range(1, 13)}

_WEEKDAYS: dict[str, int] = {}
for _number, _names in enumerate(
    (
        # Portuguese weekdays only with "feira": "segunda" alone is also "second".
        "monday lunes lundi montag segunda_feira",
        "tuesday martes mardi dienstag terca_feira terca",
        "wednesday miercoles mercredi mittwoch quarta_feira",
        "thursday jueves jeudi donnerstag quinta_feira",
        "friday viernes vendredi freitag sexta_feira",
    )
):
    for _name in _names.split():
        _WEEKDAYS[_name.replace("_", " ")] = _number

_NUMBERS: dict[str, int] = {
    # en
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "a couple of": 2, "couple of": 2, "a few": 3, "few": 3, "several": 3,
    # es
    "un": 1, "una": 1, "uno": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6,
    "siete": 7, "ocho": 8, "nueve": 9, "diez": 10, "once": 11, "doce": 12,
    "un par de": 2, "unos": 3, "unas": 3, "algunos": 3, "algunas": 3, "unos cuantos": 3,
    # fr
    "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "sept": 7,
    "huit": 8, "neuf": 9, "dix": 10, "onze": 11, "douze": 12, "quelques": 3,
    # de
    "ein": 1, "eine": 1, "einem": 1, "einen": 1, "einer": 1, "zwei": 2, "drei": 3,
    "vier": 4, "funf": 5, "fuenf": 5, "sechs": 6, "sieben": 7, "acht": 8, "neun": 9,
    "zehn": 10, "elf": 11, "zwolf": 12, "zwoelf": 12, "ein paar": 3, "einigen": 3,
    "paar": 3,
    # pt
    "um": 1, "uma": 1, "dois": 2, "duas": 2, "quatro": 4, "sete": 7, "oito": 8,
    "nove": 9, "dez": 10, "doze": 12, "alguns": 3, "algumas": 3, "uns": 3,
}  # fmt: skip
_UNITS: dict[str, str] = {}
for _unit, _names in (
    ("days", "day days jour jours dia dias tag tage tagen"),
    ("weeks", "week weeks semaine semaines semana semanas woche wochen"),
    ("months", "month months mois mes meses monat monate monaten"),
    ("years", "year years an ans annee annees ano anos jahr jahre jahren"),
):
    for _name in _names.split():
        _UNITS[_name] = _unit


def _alternation(words: Iterable[str]) -> str:
    # Longest first, so "septembre" is tried before "sept".
    return "|".join(sorted((re.escape(word) for word in words), key=len, reverse=True))


_MONTH = _alternation(_MONTHS)
_NUMBER = r"\d{1,2}|" + _alternation(_NUMBERS)
_UNIT = _alternation(_UNITS)
_WEEKDAY = _alternation(_WEEKDAYS)

# Before a month: how it is placed in it. Each alternative maps to a day rule below.
_START = "early|beginning of|start of|debut|debut de|anfang|inicio de|principios de|comienzos de"
_MIDDLE = "mid|middle of|mi|mitte|meados de|mediados de"
_END = "end of|late|fin|fin de|ende|final de|finales de|fim de|finais de"
_AFTER = "after|apres|nach|despues de|depois de"
_PLAIN = (
    "in|until|till|by|from|around|before|for|en|dans|jusqu en|a partir de|des|im|ab|bis|"
    "hasta|desde|para|em|ate|no|na|a|au|mois de"
)
_ARTICLE = r"(?:(?:the|de|del|el|le|o|do|da|den|dem) )?"
_B = r"(?<![a-z0-9])"
_E = r"(?![a-z0-9])"

_DAY_MONTH = re.compile(
    rf"{_B}(?:(?P<pre>{_AFTER}|{_PLAIN}) {_ARTICLE})?(?P<day>\d{{1,2}})(?:st|nd|rd|th|er|o)?"
    rf"(?: \.)?(?: (?:de|of|the))? (?P<month>{_MONTH}){_E}"
)
_MONTH_DAY = re.compile(
    rf"{_B}(?:(?P<pre>{_AFTER}|{_PLAIN}) )?(?P<month>{_MONTH}) (?:the )?"
    rf"(?P<day>\d{{1,2}})(?:st|nd|rd|th)?{_E}"
)
_MONTH_ONLY = re.compile(
    rf"{_B}(?:(?P<pre>{_START}|{_MIDDLE}|{_END}|{_AFTER}|{_PLAIN}) (?:-? )?{_ARTICLE})?"
    rf"(?P<month>{_MONTH}){_E}"
)
_RELATIVE = re.compile(
    rf"{_B}(?:in|within|dans|d ici|en|em|dentro de|daqui a|daqui|nach|after|apres|"
    rf"despues de|depois de|over the next) (?:the next )?(?P<n>{_NUMBER}) (?P<unit>{_UNIT}){_E}"
)
_QUARTER_NUMBER = re.compile(
    rf"{_B}(?:q(?P<q>[1-4])|(?P<ord>first|1st|second|2nd|third|3rd|fourth|4th|primer|primeiro|"
    rf"premier|segundo|second|deuxieme|tercer|terceiro|troisieme|cuarto|quarto|quatrieme|"
    rf"erste[nms]?|zweite[nms]?|dritte[nms]?|vierte[nms]?) (?:quarter|trimestre|quartal))(?:s)?{_E}"
)
_ORDINALS = {
    "first": 1, "1st": 1, "primer": 1, "primeiro": 1, "premier": 1, "erste": 1,
    "second": 2, "2nd": 2, "segundo": 2, "deuxieme": 2, "zweite": 2,
    "third": 3, "3rd": 3, "tercer": 3, "terceiro": 3, "troisieme": 3, "dritte": 3,
    "fourth": 4, "4th": 4, "cuarto": 4, "quarto": 4, "quatrieme": 4, "vierte": 4,
}  # fmt: skip
_NEXT = (
    r"next|the following|following|nachste[nms]?|naechste[nms]?|kommende[nms]?|prochaine?|"
    r"proximo|proxima|siguiente"
)
_NEXT_PERIOD = re.compile(
    rf"{_B}(?:(?:{_NEXT}) (?P<before>week|woche|semaine|semana|month|monat|mois|mes|quarter|"
    rf"quartal|trimestre|year|jahr|annee|ano)|(?:la |le |el |o |a )?(?P<after>semaine|semana|mois|"
    rf"mes|trimestre|annee|ano) (?:prochaine?|que viene|que vem|siguiente|proximo|proxima))"
    rf"{_E}"
)
_PERIODS = {
    "week": "week", "woche": "week", "semaine": "week", "semana": "week",
    "month": "month", "monat": "month", "mois": "month", "mes": "month",
    "quarter": "quarter", "quartal": "quarter", "trimestre": "quarter",
    "year": "year", "jahr": "year", "annee": "year", "ano": "year",
}  # fmt: skip
# (pattern, month, day): the season's first day, or the month after it for "after".
_SEASONS: tuple[tuple[re.Pattern[str], int], ...] = tuple(
    (re.compile(rf"{_B}(?:{pattern}){_E}"), month)
    for pattern, month in (
        (
            r"(?:after|apres|nach|despues de|depois de) (?:the |l |den |dem |el |o )?(?:summer|"
            r"ete|sommer|sommerferien|sommerpause|verano|verao|summer holidays|summer break)",
            9,
        ),
        (
            r"(?:in the|this|next|in|by|until) (?:fall|autumn)|"
            r"(?:im|en|no|na|a l) (?:herbst|automne|otono|outono)",
            9,
        ),
        (
            r"(?:in the|this|next|in|by|until) spring|"
            r"(?:im|au|en|na) (?:fruhling|fruhjahr|printemps|primavera)",
            3,
        ),
        (r"(?:over|in|during) the summer|(?:im|en|no) (?:sommer|ete|verano|verao)", 6),
        (
            r"(?:in the |after the |after )?new year|(?:im|nach dem) neuen jahr|"
            r"(?:apres le |au )?nouvel an|(?:despues de |en )?ano nuevo|"
            r"(?:depois do |no )?ano novo|"
            r"(?:after|apres|nach|despues de|depois de) (?:the |les |den |las |as )?"
            r"(?:christmas|xmas|holidays|fetes|feiertagen|weihnachten|navidad|natal|fiestas)",
            1,
        ),
    )
)
_WEEKDAY_MENTION = re.compile(
    rf"{_B}(?:(?:on|next|this|coming|am|le|el|na|no|kommenden|nachsten) )?(?P<day>{_WEEKDAY})"
    rf"(?: (?:prochain|que viene|que vem))?{_E}"
)

_MAX_AHEAD = timedelta(days=3 * 366)


@dataclass(frozen=True)
class DateMention:
    """A date the message names. ``vague`` is a period rather than a day (a month, a
    quarter, "in 3 months"): vague and far mentions are how "later" replies talk."""

    when: date
    phrase: str
    vague: bool


def mentions(canonical_text: str, received_at: datetime) -> list[DateMention]:
    """Every future date the (canonical) text names, in the order found."""
    today = received_at.date()
    base = received_at.replace(tzinfo=None)
    found: list[DateMention] = []
    taken: list[tuple[int, int]] = []

    def add(match: re.Match[str], when: date | None, vague: bool) -> None:
        start, end = match.span()
        if any(start < t_end and t_start < end for t_start, t_end in taken):
            return  # a longer expression already covered these words
        taken.append((start, end))
        if when is not None and today < when <= today + _MAX_AHEAD:
            found.append(DateMention(when, match.group(0), vague))

    for match in _QUARTER_NUMBER.finditer(canonical_text):
        ordinal = match.group("ord")
        if ordinal is None:
            quarter = int(match.group("q"))
        else:
            # German ordinals decline: "dritten", "drittes".
            quarter = _ORDINALS.get(ordinal) or _ORDINALS[ordinal[:-1]]
        add(match, _quarter_start(today, quarter), True)
    for match in _NEXT_PERIOD.finditer(canonical_text):
        period = _PERIODS[match.group("before") or match.group("after")]
        add(match, _next_period(today, period), period != "week")
    for pattern, month in _SEASONS:
        for match in pattern.finditer(canonical_text):
            add(match, _next_month_start(today, month), True)
    for match in _RELATIVE.finditer(canonical_text):
        count = _NUMBERS.get(match.group("n"))
        number = int(match.group("n")) if count is None else count
        unit = _UNITS[match.group("unit")]
        add(match, _parse(f"in {number} {unit}", base, "current"), unit != "days")
    for pattern in (_DAY_MONTH, _MONTH_DAY):
        for match in pattern.finditer(canonical_text):
            add(match, _day_of_month(match, base), False)
    for match in _MONTH_ONLY.finditer(canonical_text):
        add(match, _month(match, base), True)
    for match in _WEEKDAY_MENTION.finditer(canonical_text):
        name = calendar.day_name[_WEEKDAYS[match.group("day")]].lower()
        add(match, _parse(name, base), False)
    return sorted(found, key=lambda mention: canonical_text.find(mention.phrase))


def later_date(canonical_text: str, received_at: datetime) -> date | None:
    """The date a "later" reply asks us to come back on: the latest one it names.

    "I'm off until June, then we plan the budget: ping me in Q3" names both; the resume
    date is the last of them.
    """
    found = mentions(canonical_text, received_at)
    return max((mention.when for mention in found), default=None)


def warm_up() -> None:
    """Load dateparser's language data now (about a second, once per process) rather than
    while classifying the first reply that names a date. Call it at start-up."""
    _resolve("in 2 months", date(2000, 1, 1), "current")


def clear_cache() -> None:
    """Forget the phrases already resolved (for benchmarks that measure a cold start)."""
    _resolve.cache_clear()


def _parse(phrase: str, base: datetime, day_of_month: str = "first") -> date | None:
    return _resolve(phrase, base.date(), day_of_month)


@functools.lru_cache(maxsize=4096)
def _resolve(phrase: str, base: date, day_of_month: str) -> date | None:
    """dateparser's reading of an English phrase seen on day ``base``.

    Cached: a parse costs milliseconds, and replies received the same day name the same
    few phrases ("in January", "next month"). Only the day matters to a date, so the base
    is that day's noon.
    """
    parsed = dateparser.parse(
        phrase,
        languages=["en"],
        settings={
            "RELATIVE_BASE": datetime.combine(base, time(12)),
            "PREFER_DATES_FROM": "future",
            "PREFER_DAY_OF_MONTH": day_of_month,
            "RETURN_AS_TIMEZONE_AWARE": False,
        },
    )
    return parsed.date() if parsed is not None else None


def _day_of_month(match: re.Match[str], base: datetime) -> date | None:
    month = _MONTHS[match.group("month")]
    day = int(match.group("day"))
    if not 1 <= day <= 31:
        return None
    when = _parse(f"{day} {_ENGLISH_MONTH[month]}", base)
    pre = match.group("pre") or ""
    if when is not None and pre in _AFTER.split("|"):
        when += timedelta(days=1)
    return when


def _month(match: re.Match[str], base: datetime) -> date | None:
    name = match.group("month")
    pre = (match.group("pre") or "").strip()
    if name in _AMBIGUOUS_MONTHS and not pre:
        return None
    month = _MONTHS[name]
    english = _ENGLISH_MONTH[month]
    if pre in _AFTER.split("|"):
        start = _parse(english, base)
        return None if start is None else _next_month_start(start, (month % 12) + 1)
    if pre in _MIDDLE.split("|"):
        return _parse(f"15 {english}", base)
    if pre in _END.split("|"):
        return _parse(english, base, day_of_month="last")
    return _parse(english, base)


def _quarter_start(today: date, quarter: int) -> date:
    start = date(today.year, 3 * (quarter - 1) + 1, 1)
    return start if start > today else start.replace(year=today.year + 1)


def _next_period(today: date, period: str) -> date:
    if period == "week":
        return today + timedelta(days=7 - today.weekday())
    if period == "month":
        return _next_month_start(today, today.month % 12 + 1)
    if period == "quarter":
        current = (today.month - 1) // 3 + 1
        return _quarter_start(today, current % 4 + 1)
    return date(today.year + 1, 1, 1)


def _next_month_start(today: date, month: int) -> date:
    """The next 1st of ``month`` after ``today``."""
    start = date(today.year, month, 1)
    return start if start > today else start.replace(year=today.year + 1)
