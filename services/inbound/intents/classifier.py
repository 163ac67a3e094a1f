"""Classifiers behind one protocol: the rules, or a language model with the rules as fallback.

``build_classifier`` picks one from settings: no LLM base URL, rules only. The rules need no
thread or process pool: they are fast enough to run inline on the event loop (see
``rules``); call ``warm_up`` at start-up so the first reply naming a date does not pay for
loading dateparser's data. The LLM classifier awaits an HTTP call bounded by its timeout.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

import httpx
import structlog
from pydantic import SecretStr

from services.inbound.intents import dates
from services.inbound.intents.llm import ask
from services.inbound.intents.model import MAX_TEXT_CHARS, Intent, IntentResult
from services.inbound.intents.rules import (
    CLASSIFIER_NAME,
    DEFAULT_THRESHOLD,
    EMAIL,
    RulesEngine,
    detect_language,
    signals_of,
)
from services.inbound.intents.text import canonical
from services.kit.llm import LlmConfig, LlmUnusable

log = structlog.get_logger(__name__)


class Classifier(Protocol):
    """Says what a reply means. ``text`` is the reply without quoted text or signature."""

    @property
    def name(self) -> str:
        """``"rules"`` or ``"llm:<model>"``."""
        ...

    async def classify(self, text: str, subject: str, received_at: datetime) -> IntentResult:
        """The intent of one reply, with its confidence and why."""
        ...


class RulesClassifier:
    """The keyword and phrase rules (``rules``): multilingual, explainable, cheap."""

    def __init__(self, threshold: float = DEFAULT_THRESHOLD) -> None:
        self.engine = RulesEngine(threshold)

    @property
    def name(self) -> str:
        return CLASSIFIER_NAME

    async def classify(self, text: str, subject: str, received_at: datetime) -> IntentResult:
        """The rules' reading; computed inline, it never waits."""
        return self.engine.classify(text, subject, received_at)


class LlmClassifier:
    """A language model's reading, or the fallback's when the model gives none we may use.

    A model answer below ``threshold`` confidence becomes ``question``, as with the rules.
    When the model says "later" or "referral" without a date or address, the rules'
    extraction fills it in, and the explanation says so.
    """

    def __init__(
        self,
        config: LlmConfig,
        client: httpx.AsyncClient,
        fallback: Classifier | None = None,
        threshold: float = DEFAULT_THRESHOLD,
    ) -> None:
        self.config = config
        self.client = client
        self.fallback: Classifier = fallback or RulesClassifier(threshold)
        self.threshold = threshold

    @property
    def name(self) -> str:
        return f"llm:{self.config.model}"

    async def classify(self, text: str, subject: str, received_at: datetime) -> IntentResult:
        """The model's reading of the reply; the fallback's if the model fails."""
        try:
            answer = await ask(
                self.client, self.config, text=text, subject=subject, received_at=received_at
            )
        except LlmUnusable as exc:
            log.warning("intent_llm_fallback", detail=str(exc), model=self.config.model)
            result = await self.fallback.classify(text, subject, received_at)
            return result.model_copy(
                update={
                    "explanation": (
                        f"{self.name} not used ({exc}); {result.classifier}: {result.explanation}"
                    )
                }
            )

        body = canonical(text)
        explanation = answer.reason
        intent = answer.intent
        if answer.confidence < self.threshold:
            intent = Intent.QUESTION
            explanation += (
                f" ({answer.intent} at confidence {answer.confidence:.2f}, "
                f"below {self.threshold:.2f}: question, so a human looks)"
            )
        later_date = answer.later_date if intent is Intent.LATER else None
        if intent is Intent.LATER and later_date is None:
            later_date = dates.later_date(body, received_at)
            if later_date is not None:
                explanation += f" (date {later_date} from the rules)"
        referral_email = answer.referral_email if intent is Intent.REFERRAL else None
        found = EMAIL.search(text[:MAX_TEXT_CHARS]) if intent is Intent.REFERRAL else None
        if referral_email is None and found is not None:
            referral_email = found.group(0)
            explanation += " (address from the rules)"
        return IntentResult(
            intent=intent,
            confidence=answer.confidence,
            classifier=self.name,
            explanation=explanation,
            referral_email=referral_email,
            later_date=later_date,
            language=detect_language(body, signals_of(body)),
        )


def build_classifier(
    *,
    llm_base_url: str | None = None,
    llm_model: str | None = None,
    llm_api_key: SecretStr | str | None = None,
    llm_timeout_seconds: float = 10.0,
    confidence_threshold: float = DEFAULT_THRESHOLD,
    client: httpx.AsyncClient | None = None,
) -> Classifier:
    """The classifier the settings ask for: rules alone without an LLM base URL, else the
    LLM with the rules as fallback (which then needs a model name and an HTTP client)."""
    rules = RulesClassifier(confidence_threshold)
    if not llm_base_url:
        return rules
    if not llm_model:
        raise ValueError("an LLM base URL needs a model name")
    if client is None:
        raise ValueError("an LLM classifier needs an httpx.AsyncClient")
    key = llm_api_key.get_secret_value() if isinstance(llm_api_key, SecretStr) else llm_api_key
    config = LlmConfig(
        base_url=llm_base_url, model=llm_model, api_key=key, timeout_seconds=llm_timeout_seconds
    )
    return LlmClassifier(config, client, fallback=rules, threshold=confidence_threshold)
