"""The one form every rule reads: lower case, accents folded, words and punctuation as tokens.

``"Ça ne m'intéresse pas, merci!"`` becomes ``"ca ne m interesse pas , merci !"``. Rules
then need one spelling per word (people drop accents and apostrophes in mail all the
time), and since tokens are separated by exactly one space a rule's gaps are whole words.
"""

from __future__ import annotations

import re
import unicodedata

from services.inbound.intents.model import MAX_SUBJECT_CHARS, MAX_TEXT_CHARS

_TOKEN = re.compile(r"[a-z0-9]+|[?!.,;:]")
# NFKD leaves these whole; everything else Latin decomposes into base letter + accent.
_LIGATURES = str.maketrans({"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d"})
_REPLY_PREFIX = re.compile(
    r"^\s*(?:(?:re|aw|wg|fw|fwd|tr|rv|res|sv|vs|ref|antw|r)\s?(?:\[\d{1,3}\])?\s?:\s*){1,10}",
    re.IGNORECASE,
)


def fold(text: str) -> str:
    """Lower case without accents: ``"Nächstes Quartal"`` → ``"nachstes quartal"``."""
    lowered = text.lower().translate(_LIGATURES)
    decomposed = unicodedata.normalize("NFKD", lowered)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def canonical(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    """The first ``limit`` characters of ``text`` as space-separated folded tokens, at most
    ``limit`` characters long (spaces between punctuation can double a text)."""
    tokens = " ".join(_TOKEN.findall(fold(text[:limit])))
    if len(tokens) <= limit:
        return tokens
    cut = tokens.rfind(" ", 0, limit + 1)
    return tokens[: cut if cut > 0 else limit]


def own_subject(subject: str) -> str | None:
    """The subject the lead wrote, or None when it is a reply to ours ("Re: …").

    A reply's subject is our own words ("Re: Quick question"): read as the lead's, it
    would make every answer to that subject a question.
    """
    subject = subject[:MAX_SUBJECT_CHARS]
    if _REPLY_PREFIX.match(subject):
        return None
    return subject
