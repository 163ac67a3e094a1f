"""The rules classifier: each intent in each language, negations, the addresses and dates it
extracts, low confidence, hostile input, and the product targets on the held-out split."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from services.inbound.intents import Intent, IntentResult, RulesClassifier
from services.inbound.intents.evaluation import load_labelled, score
from services.inbound.intents.rules import RulesEngine

LABELLED = Path(__file__).with_name("labelled.jsonl")
# The labelled set's dates are resolved against this instant (a Tuesday); see README.md.
RECEIVED_AT = datetime(2025, 5, 20, 9, 0, tzinfo=UTC)
SUBJECT = "Re: Quick question"

rules = RulesEngine()


def classify(
    text: str, subject: str = SUBJECT, received_at: datetime = RECEIVED_AT
) -> IntentResult:
    return rules.classify(text, subject, received_at)


EXAMPLES: list[tuple[str, Intent, str]] = [
    # interested
    ("en", Intent.INTERESTED, "Honestly this sounds great. We'd be interested."),
    ("es", Intent.INTERESTED, "Nos interesa bastante, cuéntanos más."),
    ("fr", Intent.INTERESTED, "Très intéressant, je veux bien en savoir plus."),
    ("de", Intent.INTERESTED, "Wir haben großes Interesse, erzählen Sie mir mehr."),
    ("pt", Intent.INTERESTED, "Temos interesse sim, quero saber mais."),
    # meeting request
    ("en", Intent.MEETING_REQUEST, "Let's set up a call on Thursday at 4pm."),
    ("es", Intent.MEETING_REQUEST, "¿Podemos agendar una reunión el lunes a las 10?"),
    ("fr", Intent.MEETING_REQUEST, "Pouvons-nous caler un rendez-vous jeudi à 15h ?"),
    ("de", Intent.MEETING_REQUEST, "Können wir nächsten Dienstag um 10 Uhr telefonieren?"),
    ("pt", Intent.MEETING_REQUEST, "Vamos marcar uma reunião na sexta-feira às 14h."),
    # brochure request
    ("en", Intent.BROCHURE_REQUEST, "Could you send me a brochure and your price list?"),
    ("es", Intent.BROCHURE_REQUEST, "Por favor, mándame el catálogo con las tarifas."),
    ("fr", Intent.BROCHURE_REQUEST, "Pourriez-vous m'envoyer votre plaquette commerciale ?"),
    ("de", Intent.BROCHURE_REQUEST, "Könnten Sie mir Ihre Broschüre per E-Mail schicken?"),
    ("pt", Intent.BROCHURE_REQUEST, "Pode me enviar o catálogo com a tabela de preços?"),
    # question
    ("en", Intent.QUESTION, "How much would this cost for 12 users?"),
    ("es", Intent.QUESTION, "¿Cuánto cuesta la licencia anual?"),
    ("fr", Intent.QUESTION, "Combien coûte l'abonnement annuel ?"),
    ("de", Intent.QUESTION, "Was kostet die Lizenz im Jahr?"),
    ("pt", Intent.QUESTION, "Quanto custa a licença anual?"),
    # referral
    ("en", Intent.REFERRAL, "Not the right person, please speak to Dana in purchasing."),
    ("es", Intent.REFERRAL, "No soy la persona indicada, hable con nuestro jefe de compras."),
    ("fr", Intent.REFERRAL, "Je ne suis pas le bon interlocuteur, voyez avec notre DAF."),
    ("de", Intent.REFERRAL, "Dafür bin ich nicht zuständig, wenden Sie sich an den Einkauf."),
    ("pt", Intent.REFERRAL, "Não sou a pessoa responsável, fale com o nosso diretor."),
    # later
    ("en", Intent.LATER, "Not right now. Please circle back in the new year."),
    ("es", Intent.LATER, "Ahora no es buen momento, escríbeme más adelante."),
    ("fr", Intent.LATER, "Pas pour le moment, recontactez-moi à la rentrée en septembre."),
    ("de", Intent.LATER, "Derzeit nicht, melden Sie sich bitte im nächsten Quartal."),
    ("pt", Intent.LATER, "Agora não, me procure no próximo trimestre."),
    # not interested
    ("en", Intent.NOT_INTERESTED, "Thanks, but we're not interested."),
    ("es", Intent.NOT_INTERESTED, "Gracias, pero no nos interesa."),
    ("fr", Intent.NOT_INTERESTED, "Merci, mais cela ne nous intéresse pas."),
    ("de", Intent.NOT_INTERESTED, "Danke, aber das interessiert uns nicht."),
    ("pt", Intent.NOT_INTERESTED, "Obrigado, mas não temos interesse."),
    # unsubscribe
    ("en", Intent.UNSUBSCRIBE, "Please remove me from your mailing list."),
    ("es", Intent.UNSUBSCRIBE, "Quiero darme de baja de sus correos."),
    ("fr", Intent.UNSUBSCRIBE, "Merci de me désinscrire de vos envois."),
    ("de", Intent.UNSUBSCRIBE, "Bitte tragen Sie mich aus Ihrem Verteiler aus."),
    ("pt", Intent.UNSUBSCRIBE, "Por favor, me descadastre da sua lista."),
]


@pytest.mark.parametrize(
    ("language", "intent", "text"),
    EXAMPLES,
    ids=[f"{language}-{intent}" for language, intent, _ in EXAMPLES],
)
def test_each_intent_is_recognised_in_each_language(
    language: str, intent: Intent, text: str
) -> None:
    result = classify(text)

    assert result.intent is intent, result.explanation
    assert result.language == language
    assert result.classifier == "rules"
    assert result.confidence >= rules.threshold


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("I'm interested.", Intent.INTERESTED),
        ("I'm not interested.", Intent.NOT_INTERESTED),
        ("We are not really interested in this.", Intent.NOT_INTERESTED),
        ("Me interesa.", Intent.INTERESTED),
        ("No me interesa.", Intent.NOT_INTERESTED),
        ("Je suis intéressé.", Intent.INTERESTED),
        ("Pas intéressé.", Intent.NOT_INTERESTED),
        ("Ça ne m'intéresse pas.", Intent.NOT_INTERESTED),
        ("Wir haben Interesse.", Intent.INTERESTED),
        ("Kein Interesse.", Intent.NOT_INTERESTED),
        ("Das interessiert uns nicht.", Intent.NOT_INTERESTED),
        ("Tenho interesse.", Intent.INTERESTED),
        ("Não tenho interesse.", Intent.NOT_INTERESTED),
        # A refusal "for now" is a "later", not a "no".
        ("Not interested at the moment.", Intent.LATER),
        ("Aktuell kein Bedarf.", Intent.LATER),
        # "No time for a call" is not a meeting request.
        ("No time for a call, but send me the deck.", Intent.BROCHURE_REQUEST),
        # "Why not" says yes.
        ("Why not, tell me more.", Intent.INTERESTED),
    ],
)
def test_a_negation_turns_interest_into_refusal(text: str, intent: Intent) -> None:
    result = classify(text)

    assert result.intent is intent, result.explanation


def test_the_explanation_names_the_negation() -> None:
    result = classify("We are not interested.")

    assert "negated" in result.explanation
    assert "interested" in result.explanation


@pytest.mark.parametrize(
    ("text", "email"),
    [
        ("I'm not the right person, talk to jane@acme.com", "jane@acme.com"),
        (
            "Wrong person. Try Sam Reyes <s.reyes@northwind.example> instead.",
            "s.reyes@northwind.example",
        ),
        ("Ya no trabajo aquí; escriba a compras@empresa.es.", "compras@empresa.es"),
        ("Je ne suis plus dans la société, écrivez à contact@lumiere.fr", "contact@lumiere.fr"),
    ],
)
def test_a_referral_names_the_address_it_gives(text: str, email: str) -> None:
    result = classify(text)

    assert result.intent is Intent.REFERRAL
    assert result.referral_email == email


def test_a_referral_without_an_address_has_none() -> None:
    result = classify("I'm not the right person for this, sorry.")

    assert result.intent is Intent.REFERRAL
    assert result.referral_email is None


def test_only_a_referral_carries_an_address() -> None:
    result = classify("Please remove me from your list. admin@acme.com")

    assert result.intent is Intent.UNSUBSCRIBE
    assert result.referral_email is None


@pytest.mark.parametrize(
    ("text", "when"),
    [
        ("Let's talk in January.", date(2026, 1, 1)),
        ("Please contact me after 15 March.", date(2026, 3, 16)),
        ("Ping me in Q3.", date(2025, 7, 1)),
        ("Not now - try again in Q1.", date(2026, 1, 1)),
        ("Recontactez-moi dans deux mois.", date(2025, 7, 20)),
        ("Nächstes Quartal gerne wieder.", date(2025, 7, 1)),
        ("Escríbeme dentro de tres semanas.", date(2025, 6, 10)),
        ("Me procure no próximo ano.", date(2026, 1, 1)),
        ("Not now, check back next month.", date(2025, 6, 1)),
        ("Busy until mid-July, ping me then.", date(2025, 7, 15)),
        (
            "We're on a budget freeze until the end of June, try again after that.",
            date(2025, 6, 30),
        ),
        ("Reconnect after the summer?", date(2025, 9, 1)),
    ],
)
def test_a_later_reply_gives_its_date_relative_to_when_it_arrived(text: str, when: date) -> None:
    result = classify(text)

    assert result.intent is Intent.LATER, result.explanation
    assert result.later_date == when


def test_the_later_date_is_always_in_the_future() -> None:
    # In December, "January" is next month; in February it is next year's.
    december = datetime(2025, 12, 10, 9, 0, tzinfo=UTC)
    february = datetime(2026, 2, 10, 9, 0, tzinfo=UTC)

    assert classify("Try me again in January.", received_at=december).later_date == date(2026, 1, 1)
    assert classify("Try me again in January.", received_at=february).later_date == date(2027, 1, 1)
    assert classify("Ping me in Q2.", received_at=february).later_date == date(2026, 4, 1)


def test_a_later_reply_without_a_date_has_none() -> None:
    result = classify("Not right now, maybe later.")

    assert result.intent is Intent.LATER
    assert result.later_date is None


@pytest.mark.parametrize(
    "text",
    [
        "Hmm.",
        "Thanks for the email.",
        "Interesting, but I'd need to talk to the team about budget and timing first.",
        "",
    ],
)
def test_an_unclear_reply_is_a_question_for_a_human(text: str) -> None:
    result = classify(text)

    assert result.intent is Intent.QUESTION
    assert result.confidence < rules.threshold or "no rule matched" in result.explanation


def test_the_threshold_is_configurable() -> None:
    text = "Interesting timing. Do you have any references in retail?"
    lenient, strict = RulesEngine(threshold=0.05), RulesEngine(threshold=0.99)

    assert lenient.classify(text, SUBJECT, RECEIVED_AT).intent is not Intent.QUESTION
    assert strict.classify(text, SUBJECT, RECEIVED_AT).intent is Intent.QUESTION
    with pytest.raises(ValueError, match="between 0 and 1"):
        RulesEngine(threshold=1.5)


def test_the_leads_own_subject_counts_and_a_reply_subject_does_not() -> None:
    assert classify("", subject="Unsubscribe").intent is Intent.UNSUBSCRIBE
    # Our own subject, quoted back: not the lead's words.
    assert classify("Thanks.", subject="Re: Can we remove the guesswork?").intent is Intent.QUESTION


def test_precedence_when_signals_mix() -> None:
    assert classify("Not interested, remove me from your list.").intent is Intent.UNSUBSCRIBE
    assert classify("Sounds interesting, but not for us.").intent is Intent.NOT_INTERESTED
    assert classify("Interested! Can we do a call Thursday?").intent is Intent.MEETING_REQUEST
    assert classify("Interesting, but not right now. Try me in Q4.").intent is Intent.LATER


async def test_the_classifier_protocol_wraps_the_rules() -> None:
    result = await RulesClassifier().classify("Kein Interesse.", SUBJECT, RECEIVED_AT)

    assert result.intent is Intent.NOT_INTERESTED
    assert result.language == "de"


@pytest.mark.timeout(5)
@pytest.mark.parametrize(
    "text",
    [
        pytest.param("a" * 100_000, id="100KB-of-a"),
        pytest.param("(" * 50_000 + ")" * 50_000, id="nested-parentheses"),
        pytest.param("!?." * 40_000, id="punctuation"),
        pytest.param("not " * 25_000 + "interested", id="negations"),
        pytest.param("a@" * 50_000, id="at-signs"),
        pytest.param("a." * 50_000 + "@" + "b-" * 50_000, id="address-bait"),
        pytest.param("send me " * 15_000, id="repeated-phrase-starts"),
        pytest.param("in " * 30_000 + "2 months", id="date-bait"),
        pytest.param("\u0301" * 100_000, id="combining-accents"),
    ],
)
def test_hostile_input_returns_promptly(text: str) -> None:
    result = classify(text, subject=text)

    assert isinstance(result.intent, Intent)


def test_the_labelled_set_is_well_formed() -> None:
    replies = load_labelled(LABELLED)
    test = [r for r in replies if r.split == "test"]

    assert len(replies) >= 300
    assert len(test) >= 120
    for intent in Intent:
        assert sum(1 for r in replies if r.intent is intent) >= 20
        assert sum(1 for r in test if r.intent is intent) >= 10
    for language in ("en", "es", "fr", "de", "pt"):
        assert sum(1 for r in replies if r.language == language) >= 10
    assert len({r.text for r in replies}) == len(replies)


def test_the_held_out_split_meets_the_product_targets() -> None:
    """Macro-F1 on the ``test`` split, which the rules were never tuned on: at least 0.8 in
    English and 0.7 over all languages (issue 6)."""
    test = [r for r in load_labelled(LABELLED) if r.split == "test"]
    predicted = [classify(r.text, r.subject).intent for r in test]

    overall = score((r.intent, p) for r, p in zip(test, predicted, strict=True))
    english = score(
        (r.intent, p) for r, p in zip(test, predicted, strict=True) if r.language == "en"
    )

    assert english.macro_f1 >= 0.8, english
    assert overall.macro_f1 >= 0.7, overall
