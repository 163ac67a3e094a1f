"""A sequence message's bytes: what the stdlib's generator writes for the same message,
and what a mail client reads back from them."""

from __future__ import annotations

import email
import email.policy
import email.utils
from email.message import Message

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.mailer.sequence import message as messages
from shared.renderer import RenderedMessage


def _reference(
    rendered: RenderedMessage,
    *,
    date: str,
    boundary: str,
    thread: messages.Thread,
    reply_to: str | None,
) -> bytes:
    """The same message as an ``email.message.Message`` tree, written by the stdlib's
    ``BytesGenerator`` (``as_bytes``): how the mailer built it before."""

    def part(body: str, subtype: str) -> Message:
        text = Message(messages.POLICY)
        if body.isascii() and all(len(line) <= messages.MAX_LINE for line in body.splitlines()):
            text["Content-Type"] = f'text/{subtype}; charset="us-ascii"'
            text["Content-Transfer-Encoding"] = "7bit"
            text.set_payload(body)
        else:
            text["Content-Type"] = f'text/{subtype}; charset="utf-8"'
            text["Content-Transfer-Encoding"] = "quoted-printable"
            text.set_payload(messages._UTF8_QP.body_encode(body))
        return text

    message = Message(messages.POLICY)
    message["From"] = email.utils.formataddr(("Ava Lindqvist", "ava@northwind.test"))
    message["To"] = "jordan@acme.test"
    message["Subject"] = rendered.subject
    message["Date"] = date
    message["Message-ID"] = "<0190@northwind.test>"
    if thread.message_ids:
        message["In-Reply-To"] = thread.message_ids[-1]
        message["References"] = " ".join(thread.message_ids)
    if reply_to:
        message["Reply-To"] = reply_to
    message["List-Unsubscribe"] = (
        "<https://pursuit.test/v1/unsubscribe/tok>, <mailto:ava@northwind.test?subject=unsubscribe>"
    )
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["MIME-Version"] = "1.0"
    message["Content-Type"] = f'multipart/alternative; boundary="{boundary}"'
    message.set_payload([part(rendered.text, "plain"), part(rendered.html, "html")])
    return message.as_bytes()


def _build(rendered: RenderedMessage, thread: messages.Thread, reply_to: str | None) -> bytes:
    return messages.build(
        rendered,
        sender_name="Ava Lindqvist",
        sender_email="ava@northwind.test",
        to="jordan@acme.test",
        message_id="<0190@northwind.test>",
        thread=thread,
        reply_to=reply_to,
        unsubscribe_url="https://pursuit.test/v1/unsubscribe/tok",
    )


def _check(rendered: RenderedMessage, thread: messages.Thread, reply_to: str | None) -> None:
    data = _build(rendered, thread, reply_to)
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    boundary = parsed.get_boundary()
    assert boundary is not None
    date = email.message_from_bytes(data, policy=email.policy.compat32)["Date"]
    reference = _reference(rendered, date=date, boundary=boundary, thread=thread, reply_to=reply_to)
    assert data == reference
    # What a mail client shows.
    assert parsed["Subject"] == rendered.subject
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert parsed["In-Reply-To"] == (thread.message_ids[-1] if thread.message_ids else None)
    plain, html = (p.get_content() for p in parsed.iter_parts())
    assert plain.replace("\r\n", "\n") == rendered.text.replace("\r\n", "\n").replace("\r", "\n")
    assert html.replace("\r\n", "\n") == rendered.html.replace("\r\n", "\n").replace("\r", "\n")


def test_an_opening_and_a_follow_up_are_the_bytes_the_stdlib_writes() -> None:
    rendered = RenderedMessage(
        subject="Cutting empty miles at Acme",
        text="Hi Jordan,\n\nA short note.\n\nAva\n",
        html="<p>Hi Jordan,</p>\n<p>A short note.</p>\n",
    )
    _check(rendered, messages.Thread(), None)
    _check(
        rendered,
        messages.Thread(["<a@northwind.test>", "<b@northwind.test>"], "Cutting empty miles"),
        "ava+k3q9x0@northwind.test",
    )


def test_non_ascii_long_lines_and_long_subjects_are_encoded_as_the_stdlib_does() -> None:
    rendered = RenderedMessage(
        subject=("Réunion à Zürich — " + "une très longue ligne d'objet " * 4).strip(),
        text="Grüße, Jürgen\n\n" + "x" * 1200 + "\n",
        html="<p>Grüße</p>\r\n<p>" + "y" * 1100 + "</p>\n",
    )
    _check(rendered, messages.Thread(["<a@northwind.test>"]), None)


_TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=400)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(subject=_TEXT.filter(lambda s: s.strip()), text=_TEXT, html=_TEXT)
def test_any_message_is_the_bytes_the_stdlib_writes(subject: str, text: str, html: str) -> None:
    rendered = RenderedMessage(subject=" ".join(subject.split()), text=text, html=html)
    data = _build(rendered, messages.Thread(), None)
    parsed = email.message_from_bytes(data, policy=email.policy.compat32)
    boundary = parsed.get_boundary()
    assert boundary is not None
    reference = _reference(
        rendered,
        date=str(parsed["Date"]),
        boundary=boundary,
        thread=messages.Thread(),
        reply_to=None,
    )
    assert data == reference
