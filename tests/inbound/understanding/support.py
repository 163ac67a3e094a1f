"""Shared helpers for the understanding tests: the corpora and a message builder."""

from __future__ import annotations

from pathlib import Path

from services.inbound.understanding import PARSE_LIMIT_BYTES, Understanding, understand

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
FLUFL = CORPUS / "flufl-bounce"
TALON = CORPUS / "talon"
SAMPLES = CORPUS / "samples"


def understand_file(path: Path) -> Understanding:
    return understand(path.read_bytes(), max_bytes=PARSE_LIMIT_BYTES)


def sample(name: str) -> Understanding:
    return understand_file(SAMPLES / name)


def message(
    body: str | bytes,
    *,
    subject: str = "Re: Quick question about your Q1 plans",
    headers: str = "",
    content_type: str = "text/plain; charset=utf-8",
) -> bytes:
    """A small reply to our message, with the given extra header lines and body."""
    head = (
        "From: Bob Lead <bob@lead.example.org>\r\n"
        "To: Anna Seller <anna@sales.example.com>\r\n"
        f"Subject: {subject}\r\n"
        "Date: Tue, 2 Dec 2025 09:20:00 +0100\r\n"
        "Message-ID: <reply-1@lead.example.org>\r\n"
        "In-Reply-To: <seq-42.step-1@sales.example.com>\r\n"
        f"{headers}"
        "MIME-Version: 1.0\r\n"
        f"Content-Type: {content_type}\r\n"
        "\r\n"
    ).encode()
    return head + (body.encode() if isinstance(body, str) else body)
