"""Scoring a classifier against labelled replies: precision, recall and F1 per intent, and
their macro average (every intent counts the same, however rare).

Used by the tests (the product targets on the held-out split) and ``bench/intents.py``;
later, by the classifications salespeople correct.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from services.inbound.intents.model import Intent, Language

Split = Literal["dev", "test"]


class LabelledReply(BaseModel):
    """One line of a labelled set (see tests/inbound/intents/README.md)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str
    subject: str
    language: Language
    intent: Intent
    split: Split
    referral_email: str | None = None
    later_date: date | None = None


@dataclass(frozen=True)
class ClassScores:
    """How one intent fared: ``support`` is how many replies truly have it."""

    intent: Intent
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Report:
    """Per-intent scores and their macro average over the intents present in the labels."""

    classes: tuple[ClassScores, ...]
    macro_f1: float
    accuracy: float
    total: int


def load_labelled(path: Path) -> list[LabelledReply]:
    """Every line of a JSON Lines labelled set, validated."""
    with path.open(encoding="utf-8") as lines:
        return [LabelledReply.model_validate(json.loads(line)) for line in lines if line.strip()]


def score(pairs: Iterable[tuple[Intent, Intent]]) -> Report:
    """Scores of ``(expected, predicted)`` pairs. Macro-F1 averages the intents that occur
    in the expected labels (an intent nobody labelled has no recall to speak of)."""
    pairs = list(pairs)
    present = [intent for intent in Intent if any(expected is intent for expected, _ in pairs)]
    classes = []
    for intent in present:
        true_positive = sum(1 for e, p in pairs if e is intent and p is intent)
        predicted = sum(1 for _, p in pairs if p is intent)
        support = sum(1 for e, _ in pairs if e is intent)
        precision = true_positive / predicted if predicted else 0.0
        recall = true_positive / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        classes.append(ClassScores(intent, precision, recall, f1, support))
    macro = sum(c.f1 for c in classes) / len(classes) if classes else 0.0
    correct = sum(1 for e, p in pairs if e is p)
    return Report(tuple(classes), macro, correct / len(pairs) if pairs else 0.0, len(pairs))


def confusions(
    labelled: Sequence[LabelledReply], predicted: Sequence[Intent]
) -> list[tuple[LabelledReply, Intent]]:
    """The replies the classifier got wrong, with what it said."""
    return [
        (reply, p) for reply, p in zip(labelled, predicted, strict=True) if reply.intent is not p
    ]
