"""The built-in classifier: keyword and phrase rules in five languages, scored and weighed.

Fast enough to call inline on the event loop: no model, no I/O, a few hundred precompiled
patterns that cannot backtrack badly, over at most 8 KB of text: about a millisecond for a
typical reply, under half a second for 8 KB of hostile text (``bench/intents.py``). A
reply that names a date calls dateparser, whose answers are cached per phrase and day.

How a reply is decided:

1. Every phrase of ``lexicon`` that matches adds its weight to its intent. A phrase of
   interest, a meeting or a brochure that a negation precedes ("not interested", "pas
   intéressé", "kein Interesse", "no need for a call") does not count; negated interest
   counts for ``not_interested`` instead.
2. A refusal said with "at the moment" ("not interested right now", "aktuell kein Bedarf")
   becomes ``later``; so does a vague date ahead ("in Q3", "in two months") strengthen it.
3. Intents that commonly come together are read by precedence: an unsubscribe with "not
   interested" is an unsubscribe, a meeting request with "interested" a meeting request.
   The higher intent absorbs the lower one's score (up to its own); see ``ABSORBS``.
4. Confidence is how clearly the winner stands out (its margin over the strongest
   competing intent it does not absorb) times how much evidence there is. Below the
   threshold the answer is ``question``: a human looks.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.inbound.intents import dates
from services.inbound.intents.lexicon import (
    HINT,
    NEGATORS,
    NEUTRAL,
    PHRASES,
    SOME,
    STOPWORDS,
    STRONG,
    TEMPORAL,
    TRAILING_NEGATORS,
    Phrases,
)
from services.inbound.intents.model import (
    LANGUAGES,
    MAX_TEXT_CHARS,
    Intent,
    IntentResult,
    Language,
)
from services.inbound.intents.text import canonical, own_subject

CLASSIFIER_NAME = "rules"
DEFAULT_THRESHOLD = 0.4
# How much evidence makes a sure answer: strength = score / (score + _EVIDENCE).
_EVIDENCE = 2.0
# The lead's own subject ("Unsubscribe", "Brochure") counts, a little less than the body.
_SUBJECT_FACTOR = 0.75
# A date at least this far ahead reads as "come back then".
_HORIZON = timedelta(days=14)
_NEGATION_WINDOW = 4
_PUNCTUATION = frozenset("?!.,;:")

_GAP = r"(?:[a-z0-9]+ ){0,2}"
_LONG_GAP = r"(?:[a-z0-9]+ ){0,4}"
_NEGATABLE = frozenset({Intent.INTERESTED, Intent.MEETING_REQUEST, Intent.BROCHURE_REQUEST})
# Which intents each one absorbs when both are present (the labelling precedence of
# tests/inbound/intents/README.md): unsubscribe > referral > later > not interested >
# meeting request > brochure request > interested > question, except where a pair is a
# real conflict (an unsubscribe does not absorb a meeting request: that reply needs a human).
ABSORBS: dict[Intent, frozenset[Intent]] = {
    Intent.UNSUBSCRIBE: frozenset(
        {Intent.NOT_INTERESTED, Intent.LATER, Intent.QUESTION, Intent.REFERRAL}
    ),
    Intent.REFERRAL: frozenset(
        {
            Intent.NOT_INTERESTED,
            Intent.LATER,
            Intent.QUESTION,
            Intent.INTERESTED,
            Intent.MEETING_REQUEST,
            Intent.BROCHURE_REQUEST,
        }
    ),
    Intent.LATER: frozenset(
        {Intent.NOT_INTERESTED, Intent.INTERESTED, Intent.QUESTION, Intent.MEETING_REQUEST}
    ),
    Intent.NOT_INTERESTED: frozenset({Intent.QUESTION, Intent.INTERESTED}),
    Intent.MEETING_REQUEST: frozenset(
        {Intent.INTERESTED, Intent.QUESTION, Intent.BROCHURE_REQUEST}
    ),
    Intent.BROCHURE_REQUEST: frozenset({Intent.INTERESTED, Intent.QUESTION}),
    Intent.INTERESTED: frozenset({Intent.QUESTION}),
    Intent.QUESTION: frozenset(),
}
_PRECEDENCE = (
    Intent.UNSUBSCRIBE,
    Intent.REFERRAL,
    Intent.LATER,
    Intent.NOT_INTERESTED,
    Intent.MEETING_REQUEST,
    Intent.BROCHURE_REQUEST,
    Intent.INTERESTED,
    Intent.QUESTION,
)

# An address: anchored at the start of its local part, so a long run of address
# characters is scanned once, not once per position.
EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,8}"
)


@dataclass(frozen=True)
class Rule:
    """One phrase of the lexicon, compiled."""

    intent: Intent
    language: Language | None
    weight: float
    source: str
    pattern: re.Pattern[str]
    negatable: bool


@dataclass(frozen=True)
class Signal:
    """A rule that matched: what it adds to which intent, and the words it matched."""

    intent: Intent
    language: Language | None
    weight: float
    words: str
    note: str = ""


@dataclass(frozen=True)
class RuleGroup:
    """The phrases of one intent in one language, and all of them as one alternation.

    The alternation finds a match wherever any of its phrases would, in one scan: most
    replies touch two or three groups of the forty, so the others are skipped at the cost
    of one search each.
    """

    rules: tuple[Rule, ...]
    any_of: re.Pattern[str]


def _bounded(body: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![a-z0-9])(?:{body})(?![a-z0-9])")


def _compile(intent: Intent, language: Language | None, phrases: Phrases) -> RuleGroup:
    rules = []
    bodies = []
    for source, weight in phrases:
        negatable = intent in _NEGATABLE and not source.startswith("!")
        body = source.removeprefix("!").replace("~~", _LONG_GAP).replace("~", _GAP)
        bodies.append(f"(?:{body})")
        rules.append(Rule(intent, language, weight, source, _bounded(body), negatable))
    return RuleGroup(tuple(rules), _bounded("|".join(bodies)))


def _compile_all() -> tuple[RuleGroup, ...]:
    groups = [_compile(intent, None, phrases) for intent, phrases in NEUTRAL.items()]
    for language, table in PHRASES.items():
        for intent, phrases in table.items():
            groups.append(_compile(intent, language, phrases))
    return tuple(groups)


GROUPS = _compile_all()
RULES = tuple(rule for group in GROUPS for rule in group.rules)
_TEMPORAL = {
    language: re.compile(rf"(?<![a-z0-9])(?:{pattern})(?![a-z0-9])")
    for language, pattern in TEMPORAL.items()
}


class RulesEngine:
    """The rules with a confidence threshold; ``classify`` is synchronous and cheap."""

    def __init__(self, threshold: float = DEFAULT_THRESHOLD) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError("the threshold is a confidence, between 0 and 1")
        self.threshold = threshold

    def classify(self, text: str, subject: str, received_at: datetime) -> IntentResult:
        """The intent of a reply (quotes already stripped) received at ``received_at``."""
        body = canonical(text)
        signals = signals_of(body)
        subject_text = own_subject(subject)
        if subject_text:
            signals += [
                Signal(s.intent, s.language, s.weight * _SUBJECT_FACTOR, s.words, "subject")
                for s in signals_of(canonical(subject_text))
            ]
        mentions = dates.mentions(body, received_at)
        signals += _date_signals(mentions, received_at)
        signals += _temporal_refusal(body, signals)
        emails = EMAIL.findall(text[:MAX_TEXT_CHARS])
        if emails:
            signals.append(Signal(Intent.REFERRAL, None, SOME, "an email address", "address"))
        language = detect_language(body, signals)
        return self._decide(signals, language, mentions, emails)

    def _decide(
        self,
        signals: list[Signal],
        language: Language | None,
        mentions: list[dates.DateMention],
        emails: list[str],
    ) -> IntentResult:
        signals = _distinct(signals)
        scores: defaultdict[Intent, float] = defaultdict(float)
        for signal in signals:
            scores[signal.intent] += signal.weight
        if not scores:
            return IntentResult(
                intent=Intent.QUESTION,
                confidence=0.0,
                classifier=CLASSIFIER_NAME,
                explanation="no rule matched: a human reads it",
                language=language,
            )
        adjusted = {intent: score + _absorbed(intent, scores) for intent, score in scores.items()}
        best = max(adjusted, key=lambda intent: (adjusted[intent], -_PRECEDENCE.index(intent)))
        total = adjusted[best]
        absorbed = ABSORBS[best] if scores[best] >= STRONG else frozenset()
        rival = max((s for i, s in scores.items() if i != best and i not in absorbed), default=0.0)
        confidence = round((total / (total + _EVIDENCE)) * max(total - rival, 0.0) / total, 3)

        reasons = _explain(signals, scores)
        intent = best
        if confidence < self.threshold:
            intent = Intent.QUESTION
            reasons += (
                f"; {best} at confidence {confidence:.2f}, below {self.threshold:.2f}: "
                "question, so a human looks"
            )
        return IntentResult(
            intent=intent,
            confidence=confidence,
            classifier=CLASSIFIER_NAME,
            explanation=reasons,
            referral_email=emails[0] if intent is Intent.REFERRAL and emails else None,
            later_date=(
                max((m.when for m in mentions), default=None) if intent is Intent.LATER else None
            ),
            language=language,
        )


def _absorbed(intent: Intent, scores: Mapping[Intent, float]) -> float:
    """What ``intent`` takes from the intents it absorbs: each one's score, up to its own.

    Only clear evidence absorbs: a stray "call" does not turn "send me the deck" into a
    meeting request, a stray "please contact" does not make "contact me after 15 March"
    a referral.
    """
    own = scores.get(intent, 0.0)
    if own < STRONG:
        return 0.0
    return sum(min(scores.get(other, 0.0), own) for other in ABSORBS[intent])


def _distinct(signals: list[Signal]) -> list[Signal]:
    """One signal per intent and matched words: "call" is a meeting word in English and in
    Portuguese, and counts once."""
    best: dict[tuple[Intent, str, str], Signal] = {}
    for signal in signals:
        key = (signal.intent, signal.words, signal.note)
        if key not in best or best[key].weight < signal.weight:
            best[key] = signal
    return list(best.values())


def signals_of(body: str) -> list[Signal]:
    """What every rule that matches ``body`` (canonical text) adds, negations applied."""
    found = []
    rules = (rule for group in GROUPS if group.any_of.search(body) for rule in group.rules)
    for rule in rules:
        negated_words = None
        for match in rule.pattern.finditer(body):
            if rule.negatable and _negated(body, match):
                negated_words = negated_words or match.group(0)
                continue
            found.append(Signal(rule.intent, rule.language, rule.weight, match.group(0)))
            break
        else:
            if negated_words is not None and rule.intent is Intent.INTERESTED:
                found.append(
                    Signal(
                        Intent.NOT_INTERESTED, rule.language, rule.weight, negated_words, "negated"
                    )
                )
    return found


def _negated(body: str, match: re.Match[str]) -> bool:
    """A negation word inside the match or among the few words before it in its clause
    ("we are not currently interested"), or, for German and French, just after it."""
    if any(word in NEGATORS for word in match.group(0).split()):
        return True
    before = body[max(0, match.start() - 64) : match.start()].split()
    for word in reversed(before[-_NEGATION_WINDOW:]):
        if word in _PUNCTUATION:
            break
        if word in NEGATORS:
            return True
    after = body[match.end() : match.end() + 32].split()
    for word in after[:2]:
        if word in _PUNCTUATION:
            break
        if word in TRAILING_NEGATORS:
            return True
    return False


def _date_signals(mentions: list[dates.DateMention], received_at: datetime) -> list[Signal]:
    """A period ahead ("in Q3", "in two months", "next month") is how a "later" speaks; a
    precise day well ahead ("15 June") is as often a meeting, so it only tips the balance."""
    horizon = (received_at + _HORIZON).date()
    ahead = [m for m in mentions if m.vague or m.when >= horizon]
    if not ahead:
        return []
    vague = [m for m in ahead if m.vague]
    chosen = (vague or ahead)[0]
    return [Signal(Intent.LATER, None, SOME if vague else HINT, chosen.phrase, "date ahead")]


def _temporal_refusal(body: str, signals: list[Signal]) -> list[Signal]:
    """ "Not interested at the moment" is a "not now": the refusal counts for ``later``."""
    refusal = sum(s.weight for s in signals if s.intent is Intent.NOT_INTERESTED)
    if not refusal:
        return []
    for language, pattern in _TEMPORAL.items():
        if match := pattern.search(body):
            return [Signal(Intent.LATER, language, refusal, match.group(0), "refusal for now")]
    return []


def detect_language(body: str, signals: list[Signal]) -> Language | None:
    """The language whose phrases matched most, with its common words as the tie-breaker."""
    votes: defaultdict[Language, float] = defaultdict(float)
    for signal in signals:
        if signal.language is not None and signal.note != "subject":
            votes[signal.language] += signal.weight
    words = body.split()
    for language in LANGUAGES:
        votes[language] += 0.5 * sum(1 for word in words[:400] if word in STOPWORDS[language])
    if not votes or max(votes.values()) == 0:
        return None
    return max(LANGUAGES, key=lambda language: votes[language])


def _explain(signals: list[Signal], scores: Mapping[Intent, float]) -> str:
    ranked = sorted(scores.items(), key=lambda item: -item[1])
    parts = []
    for intent, score in ranked:
        matched = [
            f"'{s.words[:60]}'"
            + (f" ({s.note})" if s.note else "")
            + (f" [{s.language}]" if s.language else "")
            for s in signals
            if s.intent is intent
        ]
        parts.append(f"{intent} {score:.1f}: {', '.join(matched)}")
    return "; ".join(parts)
