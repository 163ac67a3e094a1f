"""Intent classification: precision, recall and F1 per intent and macro-F1, per language and
overall, on both splits of the labelled set (``dev``, which the rules were tuned on, and
``test``, which they were not); how often the referral address, the later date and the
language come out right; and replies classified per second.

The rules always; a language model too when ``BENCH_LLM_BASE_URL`` and ``BENCH_LLM_MODEL``
are set (``BENCH_LLM_API_KEY`` optional), through the same ``LlmClassifier`` as production.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import httpx

from services.inbound.intents import (
    LANGUAGES,
    Classifier,
    IntentResult,
    LlmClassifier,
    LlmConfig,
    RulesClassifier,
    dates,
)
from services.inbound.intents.evaluation import LabelledReply, Report, load_labelled, score
from services.inbound.intents.rules import RulesEngine

LABELLED = Path(__file__).resolve().parents[1] / "tests" / "inbound" / "intents" / "labelled.jsonl"
# The labelled set's relative dates are resolved against this instant (see its README).
RECEIVED_AT = datetime(2025, 5, 20, 9, 0, tzinfo=UTC)
ROUNDS = int(os.environ.get("BENCH_INTENTS_ROUNDS", "20"))


def _print_report(title: str, report: Report) -> None:
    print(
        f"  {title}: macro-F1 {report.macro_f1:.3f}, "
        f"accuracy {report.accuracy:.3f} (n={report.total})"
    )
    for c in report.classes:
        print(
            f"    {c.intent:<17} P {c.precision:.2f}  R {c.recall:.2f}  "
            f"F1 {c.f1:.2f}  n={c.support}"
        )


def _extraction(replies: Sequence[LabelledReply], results: Sequence[IntentResult]) -> str:
    pairs = list(zip(replies, results, strict=True))
    emails = [(r, x) for r, x in pairs if r.referral_email]
    later = [(r, x) for r, x in pairs if r.later_date]
    email_ok = sum(
        1 for r, x in emails if (x.referral_email or "").lower() == (r.referral_email or "").lower()
    )
    date_ok = sum(1 for r, x in later if x.later_date == r.later_date)
    language_ok = sum(1 for r, x in pairs if x.language == r.language)
    return (
        f"  referral address right {email_ok}/{len(emails)}, later date right "
        f"{date_ok}/{len(later)}, language right {language_ok}/{len(pairs)}"
    )


async def _evaluate(name: str, classifier: Classifier, replies: list[LabelledReply]) -> None:
    results = [await classifier.classify(r.text, r.subject, RECEIVED_AT) for r in replies]
    for split in ("dev", "test"):
        chosen = [(r, x) for r, x in zip(replies, results, strict=True) if r.split == split]
        print(f"\n{name}, {split} split ({len(chosen)} replies)")
        _print_report("all languages", score((r.intent, x.intent) for r, x in chosen))
        for language in LANGUAGES:
            in_language = [(r, x) for r, x in chosen if r.language == language]
            _print_report(language, score((r.intent, x.intent) for r, x in in_language))
        print(_extraction([r for r, _ in chosen], [x for _, x in chosen]))


def _throughput(replies: list[LabelledReply]) -> None:
    engine = RulesEngine()
    dates.warm_up()  # dateparser's one-time load is start-up cost, not per reply
    dates.clear_cache()
    started = time.perf_counter()
    for reply in replies:
        engine.classify(reply.text, reply.subject, RECEIVED_AT)
    cold = len(replies) / (time.perf_counter() - started)
    started = time.perf_counter()
    for _ in range(ROUNDS):
        for reply in replies:
            engine.classify(reply.text, reply.subject, RECEIVED_AT)
    warm = ROUNDS * len(replies) / (time.perf_counter() - started)
    hostile = ("a." * 50_000, "send me " * 15_000, "not " * 25_000 + "interested")
    started = time.perf_counter()
    for text in hostile:
        engine.classify(text, text, RECEIVED_AT)
    worst = (time.perf_counter() - started) / len(hostile)
    print(
        f"\nrules throughput: {cold:,.0f} replies/s on a first pass (no date phrase cached), "
        f"{warm:,.0f} replies/s over {ROUNDS} more passes; hostile 100 KB inputs "
        f"{worst * 1000:.0f} ms each"
    )


async def main() -> None:
    replies = load_labelled(LABELLED)
    print(f"intent classification: {len(replies)} labelled replies from {LABELLED.name}")
    _throughput(replies)
    await _evaluate("rules", RulesClassifier(), replies)
    base_url, model = os.environ.get("BENCH_LLM_BASE_URL"), os.environ.get("BENCH_LLM_MODEL")
    if base_url and model:
        config = LlmConfig(base_url, model, os.environ.get("BENCH_LLM_API_KEY"), 30.0)
        async with httpx.AsyncClient() as client:
            started = time.perf_counter()
            await _evaluate(f"llm:{model}", LlmClassifier(config, client), replies)
            print(f"\nllm: {len(replies) / (time.perf_counter() - started):.1f} replies/s")


if __name__ == "__main__":
    import asyncio

    asyncio.run(main())
