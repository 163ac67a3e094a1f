"""The new text of a human reply: quoted history and signature removed.

Two finders of where the quoted history starts, and the earlier one wins:
- mail-parser-reply, run on a probe of the text (at most `_PROBE_LINES` lines, each cut to
  `_PROBE_LINE_CHARS`): its patterns backtrack on long lines (a 2,000-character
  "On a a a …" line costs it half a second, 40,000 characters minutes), so it only ever
  sees short lines, and tells us the line where the quote starts;
- line rules with plain string tests (no regular expression), for the attribution lines of
  Gmail, Apple Mail and Thunderbird in English, French, German, Spanish, Portuguese,
  Italian and Dutch, Outlook's header block, "Original Message" separators and `>` lines.
The signature is cut by our own rules: the library's signature pattern also eats a first
line that starts with "Thanks," and every line that starts with "-".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from mailparser_reply.parser import EmailMessage

from services.inbound.understanding import limits
from services.inbound.understanding.model import Reply

log = logging.getLogger(__name__)

PARSER_LANGUAGES = ("en", "de", "es", "fr", "it", "nl")
_PROBE_LINES = 50
_PROBE_LINE_CHARS = 200
_SIGNATURE_MAX_LINES = 12  # a valediction only starts a signature if little follows it

# Attribution lines: (opening, closing) of "On … wrote:" in each language.
_ATTRIBUTIONS = (
    ("on ", "wrote:"),
    ("le ", "a écrit :"),
    ("le ", "a écrit:"),
    ("am ", ":"),  # "Am 03.12.2025 um 10:00 schrieb Hans <h@x>:" (checked for "schrieb")
    ("el ", "escribió:"),
    ("em ", "escreveu:"),
    ("no dia ", "escreveu:"),
    ("il ", "ha scritto:"),
    ("op ", ":"),  # "Op 3 dec. 2025 om 10:00 schreef Jan <j@x>:" (checked for "schreef")
)
_ATTRIBUTION_VERBS = {"am ": "schrieb", "op ": "schreef"}
_FROM_LABELS = ("from:", "de:", "de :", "von:", "van:", "da:", "od:", "från:", "fra:")
_HEADER_LABELS = (
    "sent:", "date:", "to:", "subject:", "cc:", "enviado:", "envoyé :", "envoyé:", "gesendet:",
    "datum:", "an:", "betreff:", "para:", "asunto:", "fecha:", "à :", "à:", "objet :",
    "objet:", "assunto:", "data:", "inviato:", "oggetto:", "a:", "verzonden:", "aan:",
    "onderwerp:",
)  # fmt: skip
_SEPARATOR_WORDS = (
    "original message", "mensaje original", "message d'origine", "ursprüngliche nachricht",
    "mensagem original", "messaggio originale", "oorspronkelijk bericht", "forwarded message",
    "mensaje reenviado", "message transféré", "weitergeleitete nachricht",
    "mensagem encaminhada", "messaggio inoltrato", "doorgestuurd bericht",
)  # fmt: skip
_FORWARD_OPENERS = ("begin forwarded message:", "début du message réexpédié :")
_MOBILE_FOOTERS = (
    "sent from my", "sent from outlook", "sent from mail for", "get outlook for",
    "sent with ", "sent via ", "enviado desde mi", "enviado desde", "obtener outlook",
    "envoyé de mon", "envoyé depuis", "télécharger outlook", "von meinem", "gesendet von",
    "outlook für", "enviado do meu", "enviado a partir do", "obter o outlook",
    "inviato da", "verzonden vanaf", "verstuurd vanaf",
)  # fmt: skip
_VALEDICTIONS = frozenset(
    {
        # en
        "best regards", "kind regards", "warm regards", "regards", "best wishes", "best",
        "cheers", "thanks", "thank you", "many thanks", "sincerely", "yours sincerely",
        "all the best", "talk soon", "br",
        # es
        "saludos", "un saludo", "saludos cordiales", "atentamente", "cordialmente",
        "un abrazo", "gracias", "muchas gracias",
        # fr
        "cordialement", "bien cordialement", "bien à vous", "salutations",
        "meilleures salutations", "bonne journée", "merci", "merci beaucoup", "amicalement",
        "belle journée",
        # de
        "mit freundlichen grüßen", "mit freundlichen grüssen", "freundliche grüße",
        "viele grüße", "beste grüße", "liebe grüße", "herzliche grüße", "grüße", "gruß",
        "lg", "vg", "mfg", "danke", "vielen dank",
        # pt
        "atenciosamente", "cumprimentos", "melhores cumprimentos", "abraços", "abraço",
        "um abraço", "obrigado", "obrigada", "att", "saudações",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class StrippedReply:
    reply: Reply
    reasons: tuple[str, ...]


def strip_reply(text: str) -> StrippedReply:
    """The new text of a reply body (quotes and signature removed); never raises."""
    reasons: list[str] = []
    if len(text) > limits.MAX_REPLY_CHARS:
        reasons.append(f"reply text cut to {limits.MAX_REPLY_CHARS} characters before stripping")
        text = text[: limits.MAX_REPLY_CHARS]
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    keys = [_key(line) for line in lines]

    rule_cut, rule_span, rule_name = _rule_cut(keys)
    method = "mail-parser-reply"
    try:
        library_cut = _library_cut(keys)
    except Exception as error:
        log.debug("mail-parser-reply failed", exc_info=True)
        reasons.append(f"mail-parser-reply failed ({type(error).__name__}): line rules only")
        library_cut, method = None, "fallback"
    cut = rule_cut
    if library_cut is not None and (cut is None or library_cut < cut):
        cut, rule_name = library_cut, "mail-parser-reply"
    quote_removed = cut is not None
    if cut is not None:
        reasons.append(f"quoted text removed from line {cut + 1} ({rule_name})")
        if cut == rule_cut and rule_name == "attribution line" and not any(keys[:cut]):
            # Nothing above the quote: the reply is written below it (bottom-posting).
            below = cut + rule_span
            next_cut = _rule_cut(keys[below:])[0]
            end = len(keys) if next_cut is None else below + next_cut
            lines, keys = lines[below:end], keys[below:end]
            reasons.append("reply written below the quote")
        else:
            lines, keys = lines[:cut], keys[:cut]
    kept = [(line, key) for line, key in zip(lines, keys, strict=True) if not key.startswith(">")]
    if len(kept) != len(lines):
        quote_removed = True
        reasons.append(f"{len(lines) - len(kept)} quoted '>' lines removed")
    signature_at = _signature_start([key for _, key in kept])
    signature_removed = signature_at is not None
    if signature_at is not None:
        reasons.append(f"signature removed from {kept[signature_at][0].strip()[:40]!r}")
        kept = kept[:signature_at]
    new_text = "\n".join(line.rstrip() for line, _ in kept).strip()
    return StrippedReply(
        Reply(
            text=new_text,
            quote_removed=quote_removed,
            signature_removed=signature_removed,
            method=method,
        ),
        tuple(reasons),
    )


def _key(line: str) -> str:
    """The line as the rules see it: bounded, stripped, lower-cased, one kind of apostrophe."""
    return line[: limits.MAX_LINE_CHARS].strip().lower().replace("\u2019", "'").lstrip("*")


def _rule_cut(keys: list[str]) -> tuple[int | None, int, str]:
    """(first line of the quoted history, lines its opening spans, which rule) or None."""
    for i, key in enumerate(keys):
        if not key:
            continue
        span = _attribution_span(keys, i)
        # A wrapped attribution starts at its first line, not at a line of text above it.
        if span and not any(_attribution_span(keys, j) for j in range(i + 1, i + span)):
            return i, span, "attribution line"
        if key.startswith(_FROM_LABELS) and any(
            k.startswith(_HEADER_LABELS) for k in keys[i + 1 : i + 5]
        ):
            return i, 1, "header block"
        if key[:1] in "-_" and any(w in key for w in _SEPARATOR_WORDS):
            return i, 1, "separator"
        if key.startswith(_FORWARD_OPENERS):
            return i, 1, "forwarded message"
        if (
            len(key) >= 10
            and set(key) == {"_"}
            and any(k.startswith(_FROM_LABELS) for k in keys[i + 1 : i + 3])
        ):
            return i, 1, "header block"
    return None, 0, ""


def _attribution_span(keys: list[str], i: int) -> int:
    """How many lines (1 to 3: clients wrap it) the attribution starting at `i` takes."""
    for span in (1, 2, 3):
        part = keys[i : i + span]
        if len(part) < span or not all(part):  # a wrapped line holds no blank line
            return 0
        joined = " ".join(part)
        if _is_attribution(joined):
            return span
        # Any language: the date opens it ("02.04.2012 14:20 …"), no sentence ends inside.
        if (
            any(c.isdigit() for c in part[0])
            and not part[0].endswith((".", "!", "?"))
            and _is_generic_attribution(joined, keys[i + span :])
        ):
            return span
    return 0


def _is_generic_attribution(text: str, following: list[str]) -> bool:
    """Any language: a short line ending in ":" that names an address and a date or time,
    right before quoted lines ("02.04.2012 14:20 пользователь <a@b> написал:")."""
    if len(text) > 300 or not text.endswith(":") or "@" not in text:
        return False
    next_line = next((k for k in following[:3] if k), "")
    return next_line.startswith(">")


def _is_attribution(text: str) -> bool:
    if len(text) > 400:
        return False
    text = text.lstrip("> ")
    for opening, closing in _ATTRIBUTIONS:
        if text.startswith(opening) and text.endswith(closing):
            verb = _ATTRIBUTION_VERBS.get(opening)
            if verb is None or verb in text:
                return True
    return False


def _library_cut(keys: list[str]) -> int | None:
    probe = [key[:_PROBE_LINE_CHARS] for key in keys[:_PROBE_LINES]]
    message = EmailMessage(text="\n".join(probe), languages=list(PARSER_LANGUAGES)).read()
    header = next((r.headers for r in message.replies if r.headers), None)
    if not header:
        return None
    first_line = header.strip().split("\n", 1)[0].strip().lower()
    for i, line in enumerate(probe):
        if line == first_line or (first_line and first_line in line):
            return i
    return None


def _signature_start(keys: list[str]) -> int | None:
    seen_text = False
    for i, key in enumerate(keys):
        if not seen_text:  # the first line of text is never a signature
            seen_text = bool(key)
            continue
        if key in ("--", "-- ", "—"):
            return i
        if key.startswith(_MOBILE_FOOTERS):
            return i
        bare = key.rstrip(",.!:; ")
        if bare in _VALEDICTIONS:
            rest = [k for k in keys[i + 1 :] if k]
            if len(rest) <= _SIGNATURE_MAX_LINES:
                return i
    return None
