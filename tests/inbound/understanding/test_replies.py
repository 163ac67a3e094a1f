"""The new text of human replies: quotes and signatures stripped, in several languages and
client styles (hand-written samples and talon's real client replies)."""

from __future__ import annotations

import pytest
from mailparser_reply.parser import EmailMessage

from services.inbound.understanding import Kind
from services.inbound.understanding.html_text import html_to_text
from services.inbound.understanding.replies import strip_reply
from tests.inbound.understanding.support import TALON, sample, understand_file


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (
            "reply_gmail_en.eml",
            "Hi Anna,\n\nYes, I'd be interested in a demo next week. Tuesday works.",
        ),
        ("reply_outlook_es.eml", "Hola Anna:\n\n¿Podrían enviarme el catálogo con precios?"),
        (
            "reply_apple_fr.eml",
            "Bonjour,\n\nMerci, ce n'est pas le bon moment. Recontactez-moi en mars.",
        ),
        (
            "reply_thunderbird_de.eml",
            "Hallo Frau Seller,\n\nkein Interesse, bitte nehmen Sie mich aus dem Verteiler.",
        ),
        (
            "reply_thunderbird_bottom_en.eml",
            "Not right now, maybe after the budget review in February.",
        ),
        ("reply_gmail_pt_html.eml", "Olá Anna,\n\nTenho interesse, podemos conversar na quinta?"),
        ("reply_iphone_en.eml", "Sounds good, call me tomorrow."),
        (
            "reply_outlook_en_html.eml",
            "Please talk to my colleague Jane (jane@lead.example.org), she handles purchasing.",
        ),
        (
            "reply_thanks_first_line.eml",
            "Thanks, we'd love to see a demo next week.\n"
            "- pricing for 50 seats\n- two customer references",
        ),
        ("reply_unsubscribe_pt.eml", "Por favor, remova meu e-mail da sua lista."),
    ],
)
def test_samples(name: str, text: str) -> None:
    result = sample(name)
    assert result.kind is Kind.REPLY, result.reasons
    assert result.reply is not None
    assert result.reply.text == text
    assert result.reply.quote_removed


def test_the_sender_name_is_decoded_from_windows_1252() -> None:
    headers = sample("reply_outlook_es.eml").headers
    assert (headers.from_name, headers.from_address) == ("Juan Pérez", "juan@lead.example.org")
    assert headers.in_reply_to == "seq-42.step-1@sales.example.com"


STANDARD = sorted(p.name for p in (TALON / "standard_replies").glob("*.eml"))
HTML = sorted(p.name for p in (TALON / "html_replies").glob("*.html"))


@pytest.mark.parametrize("name", STANDARD)
def test_talon_client_replies(name: str) -> None:
    # talon expects "Hello" (plus the iPhone and Sparrow signatures, which we strip).
    result = understand_file(TALON / "standard_replies" / name)
    assert result.kind is Kind.REPLY, result.reasons
    assert result.reply is not None
    assert result.reply.text == "Hello"


@pytest.mark.parametrize("name", HTML)
def test_talon_html_replies(name: str) -> None:
    # talon expects "Hi. I am fine." and the signature "Thanks, Alex", which we strip.
    html = (TALON / "html_replies" / name).read_text("utf-8")
    stripped = strip_reply(html_to_text(html, limit=1 << 20))
    assert stripped.reply.text == "Hi. I am fine."
    assert stripped.reply.signature_removed


def test_talon_corpus_size() -> None:
    assert (len(STANDARD), len(HTML)) == (12, 9)


def test_a_quote_only_mail_parser_reply_finds_is_cut_too() -> None:
    # Hotmail's quoted header block starts with "Subject:", which our line rules do not know.
    result = understand_file(TALON / "standard_replies" / "hotmail.eml")
    assert any("(mail-parser-reply)" in r for r in result.reasons)


def test_without_mail_parser_reply_the_line_rules_still_cut(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(self: EmailMessage) -> EmailMessage:
        raise RuntimeError("parser exploded")

    monkeypatch.setattr(EmailMessage, "read", broken)
    stripped = strip_reply(
        "Yes please.\n\nOn Tue, 2 Dec 2025 at 09:14, Anna <anna@sales.example.com> wrote:\n> Hi"
    )
    assert stripped.reply.text == "Yes please."
    assert stripped.reply.method == "fallback"
    assert "mail-parser-reply failed (RuntimeError): line rules only" in stripped.reasons


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Gmail wraps a long attribution line
        (
            "Sí, me interesa.\n\n"
            "El mar, 2 dic 2025 a las 9:14, Anna Seller (<anna@sales.example.com>)\n"
            "escribió:\n> Hola",
            "Sí, me interesa.",
        ),
        (
            "Ja, gerne.\n\nVon: Anna Seller\n"
            "Gesendet: Dienstag, 2. Dezember 2025 09:14\nAn: Klaus\nBetreff: Frage\n\nHallo",
            "Ja, gerne.",
        ),
        ("Oui.\n\n-----Message d'origine-----\nDe : Anna\nÀ : Marie", "Oui."),
        ("Sim!\n\n-----Mensagem original-----\nDe: Anna", "Sim!"),
        ("Ok.\n\n-----Original Message-----\nFrom: Anna", "Ok."),
        (
            "Si.\n\nIl giorno mar 2 dic 2025 alle ore 09:14 Anna <anna@x.it> ha scritto:\n> Ciao",
            "Si.",
        ),
        ("Ja.\n\nOp 2 dec. 2025 om 09:14 schreef Anna <anna@x.nl>:\n> Hoi", "Ja."),
        # any language: a dated line with an address, ending in ":", right before the quote
        ("Да.\n\n02.12.2025 09:14, Anna <anna@x.ru> пишет:\n> Привет", "Да."),
        # signatures
        ("Call me.\n\n-- \nBob Lead\nCTO", "Call me."),
        ("Llámame.\n\nEnviado desde mi iPhone", "Llámame."),
        ("Appelez-moi.\n\nEnvoyé de mon iPhone", "Appelez-moi."),
        ("Rufen Sie mich an.\n\nVon meinem iPhone gesendet", "Rufen Sie mich an."),
        ("Me liga.\n\nEnviado do meu iPhone", "Me liga."),
        ("Interested.\n\nGet Outlook for iOS", "Interested."),
        ("Not now.\n\nKind regards,\nBob Lead\nLead Inc.\n+1 555 0100", "Not now."),
        # a valediction followed by a long text is not a signature
        ("Hi,\n\nThanks\n" + "more text\n" * 20, "Hi,\n\nThanks\n" + "\n".join(["more text"] * 20)),
        # nothing to strip
        ("Please remove me from your list.", "Please remove me from your list."),
    ],
)
def test_strip_reply(text: str, expected: str) -> None:
    assert strip_reply(text).reply.text == expected


def test_inline_answers_keep_the_unquoted_lines() -> None:
    stripped = strip_reply("> Would Tuesday work?\nYes, 10am.\n> Budget?\nAround 10k.")
    assert stripped.reply.text == "Yes, 10am.\nAround 10k."
    assert stripped.reply.quote_removed
