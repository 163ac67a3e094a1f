"""The words of an answer: short, in the assistant's voice, with its signature."""

from __future__ import annotations

import html

from shared.renderer import RenderedMessage


def compose(
    kind: str, *, first_name: str | None, url: str, subject: str, signature: str
) -> RenderedMessage:
    hello = f"Hi {first_name}," if first_name else "Hi,"
    if kind == "brochure":
        line = f"Here is the brochure you asked for: {url}"
        after = "Happy to answer any question it leaves open."
    else:
        line = f"Happy to talk. Pick a time that suits you here: {url}"
        after = "If none works, tell me a time and I'll make it work."
    text = f"{hello}\n\n{line}\n\n{after}\n\n{signature}".rstrip() + "\n"
    paragraphs = "".join(
        f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in text.strip().split("\n\n")
    )
    linked = paragraphs.replace(
        html.escape(url), f'<a href="{html.escape(url, quote=True)}">{html.escape(url)}</a>', 1
    )
    return RenderedMessage(subject=subject, text=text, html=f"<html><body>{linked}</body></html>")
