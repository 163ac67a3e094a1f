"""Parsing raw bytes into `ParsedMessage`: headers for thread matching, text, attachments."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta, timezone

from services.inbound.understanding import Address, Attachment, parse_headers, parse_message
from services.inbound.understanding.charsets import decode_bytes, decode_words, text_codec
from tests.inbound.understanding.support import FLUFL

RAW = (
    b"Return-Path: <bob@lead.example.org>\r\n"
    b"Delivered-To: anna+lead-42@sales.example.com\r\n"
    b"X-Original-To: Anna+Lead-42@Sales.example.com\r\n"
    b"From: =?utf-8?q?Bj=C3=B6rn_Lead?= <Bjorn@Lead.Example.org>\r\n"
    b'To: Anna Seller <anna@sales.example.com>, "Doe, Jane" <jane@lead.example.org>\r\n'
    b"Cc: =?iso-8859-1?q?Fran=E7ois?= <francois@lead.example.org>, not-an-address\r\n"
    b"Reply-To: bob.private@lead.example.org\r\n"
    b"Subject: =?utf-8?b?UmU6IEFuZ2Vib3Qgw7xiZXIg?=\r\n"
    b"  =?utf-8?b?UHJlaXNl?=\r\n"
    b"Date: Tue, 2 Dec 2025 09:20:00 +0100\r\n"
    b"Message-ID: <reply-1@lead.example.org>\r\n"
    b"In-Reply-To: <seq-42.step-2@sales.example.com> (Anna's message)\r\n"
    b"References: <seq-42.step-1@sales.example.com>\r\n"
    b"\t<seq-42.step-2@sales.example.com>\r\n"
    b"Authentication-Results: mx.sales.example.com; dkim=pass header.d=lead.example.org\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="outer"\r\n'
    b"\r\n"
    b"--outer\r\n"
    b'Content-Type: multipart/alternative; boundary="inner"\r\n'
    b"\r\n"
    b"--inner\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n"
    b"\r\n"
    b"<p>HTML version</p>\r\n"
    b"--inner\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"Gr=C3=BC=C3=9Fe, plain version\r\n"
    b"--inner--\r\n"
    b"--outer\r\n"
    b"Content-Type: application/pdf\r\n"
    b"Content-Disposition: attachment; filename*=utf-8''Pre%C3%A7os.pdf\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n" + base64.encodebytes(b"%PDF-1.4 fake") + b"--outer--\r\n"
)


def test_headers_for_thread_matching() -> None:
    headers = parse_message(RAW, max_bytes=1 << 20).headers
    assert headers.message_id == "reply-1@lead.example.org"
    assert headers.in_reply_to == "seq-42.step-2@sales.example.com"
    assert headers.references == (
        "seq-42.step-1@sales.example.com",
        "seq-42.step-2@sales.example.com",
    )
    assert (headers.from_address, headers.from_name) == ("bjorn@lead.example.org", "Björn Lead")
    assert headers.to == (
        Address("anna@sales.example.com", "Anna Seller"),
        Address("jane@lead.example.org", "Doe, Jane"),
    )
    assert headers.cc == (Address("francois@lead.example.org", "François"),)
    assert headers.reply_to == (Address("bob.private@lead.example.org"),)
    assert headers.subject == "Re: Angebot über Preise"
    assert headers.date == datetime(2025, 12, 2, 9, 20, tzinfo=timezone(timedelta(hours=1)))
    assert headers.delivered_to == ("anna+lead-42@sales.example.com",)
    assert headers.x_original_to == ("anna+lead-42@sales.example.com",)
    assert headers.return_path == "bob@lead.example.org"
    assert headers.authentication_results == (
        "mx.sales.example.com; dkim=pass header.d=lead.example.org",
    )


def test_text_plain_is_preferred_and_attachments_are_summarised() -> None:
    parsed = parse_message(RAW, max_bytes=1 << 20)
    assert parsed.text.strip() == "Grüße, plain version"
    assert not parsed.text_from_html
    assert parsed.attachments == (Attachment("Preços.pdf", "application/pdf", 20),)
    assert parsed.reasons == ()


def test_html_only_becomes_text() -> None:
    raw = (
        b"From: a@example.com\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        b"<html><head><style>p{color:red}</style><script>x()</script></head>"
        b"<body><p>Hello &amp; welcome</p><p>Line&nbsp;two<br>three</p></body></html>"
    )
    parsed = parse_message(raw, max_bytes=1 << 20)
    assert parsed.text == "Hello & welcome\n\nLine two\nthree"
    assert parsed.text_from_html


def test_a_null_return_path_is_empty_and_a_missing_one_none() -> None:
    assert parse_message(b"Return-Path: <>\r\n\r\nx", max_bytes=100).headers.return_path == ""
    assert parse_message(b"Subject: x\r\n\r\nx", max_bytes=100).headers.return_path is None


def test_a_date_without_zone_is_utc_and_a_bad_one_is_a_reason() -> None:
    good = parse_message(b"Date: Tue, 2 Dec 2025 09:20:00 -0000\r\n\r\n", max_bytes=100)
    assert good.headers.date == datetime(2025, 12, 2, 9, 20, tzinfo=UTC)
    bad = parse_message(b"Date: the day after tomorrow\r\n\r\n", max_bytes=100)
    assert bad.headers.date is None
    assert "unparseable Date header 'the day after tomorrow'" in bad.reasons


def test_a_character_split_across_encoded_words_is_joined() -> None:
    # simple_39.txt: Russian UTF-8 cut in the middle of a character between two words
    parsed = parse_message((FLUFL / "simple_39.txt").read_bytes(), max_bytes=1 << 20)
    assert parsed.headers.subject == "Ваше сообщение не доставлено. Mail failure."


def test_raw_8bit_headers_use_the_message_charset() -> None:
    # sina_01.txt: a GB2312 subject sent as raw bytes
    parsed = parse_message((FLUFL / "sina_01.txt").read_bytes(), max_bytes=1 << 20)
    assert parsed.headers.subject == "邮件传输失败\uff01"  # a full-width "!"


def test_charsets_never_raise() -> None:
    assert decode_bytes(b"caf\xe9", "utf-8").text == "café"
    assert (
        decode_bytes(b"caf\xe9", "utf-8").problem
        == "text is not valid utf-8; decoded as windows-1252"
    )
    assert decode_bytes(b"caf\xc3\xa9", "x-unknown-thing").text == "café"
    assert decode_bytes(b"\x80abc", "zlib").problem is not None  # a bytes codec is no charset
    assert decode_bytes("naïve".encode(), "us-ascii").text == "naïve"  # labels mean supersets
    assert text_codec("punycode") is None
    assert text_codec("ks_c_5601-1987") == "cp949"
    assert decode_words("=?x-nope?q?caf=C3=A9?= ok", limit=100) == "café ok"
    assert decode_words("=?utf-8?b?not base64?=", limit=100) == "=?utf-8?b?not base64?="


def test_parse_headers_reads_only_the_header_section() -> None:
    raw = b"Message-ID: <m@x>\r\nFrom: a@b.example\r\n\r\n" + b"x" * 10_000_000
    headers = parse_headers(raw)
    assert (headers.message_id, headers.from_address) == ("m@x", "a@b.example")
