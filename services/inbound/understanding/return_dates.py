"""The return date in an out-of-office text ("back on 3 December", "ab dem 5. Januar wieder").

Date phrases are found with bounded patterns over literal month and weekday names, then read
by dateparser relative to the message's Date, in the language its month or weekday names
belong to. A date right after a return word ("back on", "de retour le", "ab dem", "de
vuelta el") beats one followed by one ("… Januar wieder erreichbar"), which beats one after
"until"/"bis"/"hasta"/"até", which beats a date with no cue at all; among equals the latest
wins. Dates before the message or more than 400 days after it are ignored.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import dateparser

from services.inbound.understanding import limits

LANGUAGES = ("en", "fr", "de", "es", "pt")

_MONTHS = {
    "en": "january february march april may june july august september october november "
    "december jan feb mar apr jun jul aug sep sept oct nov dec",
    "fr": "janvier février fevrier mars avril mai juin juillet août aout septembre octobre "
    "novembre décembre decembre janv févr fevr avr juil déc",
    "de": "januar jänner februar märz maerz april mai juni juli august september oktober "
    "november dezember mär okt dez",
    "es": "enero febrero marzo abril mayo junio julio agosto septiembre setiembre octubre "
    "noviembre diciembre ene abr ago dic",
    "pt": "janeiro fevereiro março marco abril maio junho julho agosto setembro outubro "
    "novembro dezembro fev set out",
}
_WEEKDAYS = {
    "en": "monday tuesday wednesday thursday friday saturday sunday",
    "fr": "lundi mardi mercredi jeudi vendredi samedi dimanche",
    "de": "montag dienstag mittwoch donnerstag freitag samstag sonntag",
    "es": "lunes martes miércoles miercoles jueves viernes sábado sabado domingo",
    "pt": "segunda-feira terça-feira terca-feira quarta-feira quinta-feira sexta-feira "
    "sábado sabado domingo",
}


def _alternation(words: set[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_LANGUAGES_OF: dict[str, tuple[str, ...]] = {}
for _table in (_MONTHS, _WEEKDAYS):
    for _language, _words in _table.items():
        for _word in _words.split():
            _LANGUAGES_OF[_word] = (*_LANGUAGES_OF.get(_word, ()), _language)

_MONTH = _alternation({w for v in _MONTHS.values() for w in v.split()})
_WEEKDAY = _alternation({w for v in _WEEKDAYS.values() for w in v.split()})
_ORDINAL = r"(?:st|nd|rd|th|er|º|°|\.)?"
_YEAR = r"(?:,?\s{1,3}(?:de\s{1,3})?(?P<y1>\d{4}))?"
# Every quantifier is bounded and every alternative starts with a literal or a digit: one
# attempt costs a few dozen steps whatever the text.
_DATE_PHRASE = re.compile(
    rf"(?<![\w-])(?:(?:{_WEEKDAY})[,.]?\s{{1,3}}(?:the\s{{1,3}}|le\s{{1,3}}|den\s{{1,3}}|el\s{{1,3}})?)?"
    rf"(?:"
    rf"(?P<day>\d{{1,2}}){_ORDINAL}\s{{0,3}}(?:of\s{{1,3}}|de\s{{1,3}})?(?P<month>{_MONTH})\b\.?{_YEAR}"
    rf"|(?P<month2>{_MONTH})\.?\s{{1,3}}(?P<day2>\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s{{1,3}}(?P<y2>\d{{4}}))?"
    rf"|(?P<nd>\d{{1,2}})(?P<sep>[./])(?P<nm>\d{{1,2}})(?:(?P=sep)(?P<ny>\d{{4}}|\d{{2}}))?\.?(?![\d/.]\d)"
    rf"|(?P<weekday>{_WEEKDAY})\b"
    rf"|(?P<relative>tomorrow|demain|morgen|mañana|amanhã|amanha)\b"
    rf")",
    re.IGNORECASE,
)
_RETURN_CUE = re.compile(
    r"(?<!\w)(?:back|return\w*|retour|zurück|zurueck|wieder|vuelta|regreso|regresaré|volveré"
    r"|volta|volto|retorno|retornarei|reincorpor\w*|ab|à partir du|a partir del?|a partir do"
    r"|dès le|des le)(?!\w)"
)
_UNTIL_CUE = re.compile(
    r"(?<!\w)(?:until|till|til|through|thru|to|bis|jusqu'au|jusqu'à|jusqu'a|au|hasta|al|até|ate|a)"
    r"\s{1,3}(?:(?:the|le|el|o|dia|zum|dem|den|einschließlich|inclusive)\s{1,3}){0,2}$"
)
_AFTER_RETURN_CUES = ("wieder", "zurück", "back", "de retour", "de vuelta", "de volta")


def find_return_date(
    text: str, *, relative_to: datetime | None, language: str | None = None
) -> tuple[date | None, str | None]:
    """(return date, the phrase it came from), or (None, None) when the text gives none."""
    base = (relative_to or datetime.now().astimezone()).replace(tzinfo=None)
    lowered = " ".join(text[: limits.MAX_SCAN_CHARS // 16].split()).lower().replace("\u2019", "'")
    best: tuple[int, date, str] | None = None
    for match in _DATE_PHRASE.finditer(lowered):
        score = _cue_score(lowered, match.start(), match.end())
        found = _to_date(match, base, language)
        if found is None or found < base.date() or found > base.date() + timedelta(days=400):
            continue
        candidate = (score, found, match.group(0))
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    if best is None:
        return None, None
    return best[1], best[2].rstrip(" .,")


def _cue_score(text: str, start: int, end: int) -> int:
    """3: a return word before the date; 2: after it ("… Januar wieder erreichbar");
    1: "until" and its kin before it; 0: no cue."""
    before = text[max(0, start - 40) : start]
    if _RETURN_CUE.search(before[-25:]):
        return 3
    after = text[end : end + 20]
    if any(cue in after for cue in _AFTER_RETURN_CUES):
        return 2
    if _UNTIL_CUE.search(before[-30:]):
        return 1
    return 0


def _to_date(match: re.Match[str], base: datetime, language: str | None) -> date | None:
    if match.group("nd"):
        return _numeric(match, base, language)
    phrase = match.group(0)
    # The month or weekday names say the language better than any hint.
    named = [_LANGUAGES_OF.get(word, ()) for word in re.findall(r"[^\W\d_]+(?:-feira)?", phrase)]
    candidates = [lang for lang in LANGUAGES if any(lang in langs for langs in named)]
    if language in candidates:
        candidates = [language]
    languages = candidates or ([language] if language in LANGUAGES else list(LANGUAGES))
    try:
        parsed = dateparser.parse(
            phrase,
            languages=languages,
            settings={
                "RELATIVE_BASE": base,
                "PREFER_DATES_FROM": "future",
                "DATE_ORDER": "MDY" if language == "en" else "DMY",
                "RETURN_AS_TIMEZONE_AWARE": False,
            },
        )
    except (ValueError, OverflowError, TypeError, LookupError):
        return None
    return parsed.date() if parsed else None


def _numeric(match: re.Match[str], base: datetime, language: str | None) -> date | None:
    first, second = int(match.group("nd")), int(match.group("nm"))
    # Dots are European day.month; slashes follow the language (month first in English).
    if match.group("sep") == "/" and language == "en" and first <= 12:
        first, second = second, first
    day, month = first, second
    year_text = match.group("ny")
    year = int(year_text) if year_text else base.year
    if year_text and len(year_text) == 2:
        year += 2000
    try:
        found = date(year, month, day)
    except ValueError:
        return None
    if not year_text and found < base.date():
        try:
            found = date(year + 1, month, day)
        except ValueError:
            return None
    return found
