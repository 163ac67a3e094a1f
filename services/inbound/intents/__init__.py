"""What a lead's reply means: interested, meeting request, brochure request, question,
referral, later, not interested or unsubscribe, with a confidence and the reason.

``build_classifier`` gives the classifier the settings ask for: the multilingual rules
(``RulesClassifier``, fast enough to call inline), or a language model with the rules as
its fallback (``LlmClassifier``). Both return an ``IntentResult``.
"""

from services.inbound.intents.classifier import (
    Classifier,
    LlmClassifier,
    RulesClassifier,
    build_classifier,
)
from services.inbound.intents.dates import warm_up
from services.inbound.intents.model import LANGUAGES, Intent, IntentResult, Language
from services.inbound.intents.rules import DEFAULT_THRESHOLD
from services.kit.llm import LlmConfig

__all__ = [
    "DEFAULT_THRESHOLD",
    "LANGUAGES",
    "Classifier",
    "Intent",
    "IntentResult",
    "Language",
    "LlmClassifier",
    "LlmConfig",
    "RulesClassifier",
    "build_classifier",
    "warm_up",
]
