"""HTML mail as plain text, with the stdlib parser: blocks become lines, quotes become `> `."""

from __future__ import annotations

import re
from html.parser import HTMLParser

_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "fieldset",
        "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
        "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tr", "ul",
    }
)  # fmt: skip
_SKIPPED = frozenset({"head", "script", "style", "template", "title", "noscript"})
_MAX_TAG_CHARS = 2048
# "<" that cannot open a tag, escaped in C before the per-tag pass in Python.
_STRAY_LT = re.compile(r"<(?![A-Za-z/!?])|<(?=/[^A-Za-z])")
_SPACES = re.compile(r"[ \t\r\f\v\xa0\u200b]+")


class _Full(Exception):
    """Enough text collected: stop parsing."""


class _TextCollector(HTMLParser):
    def __init__(self, limit: int) -> None:
        super().__init__(convert_charrefs=True)
        self.limit = limit
        self.lines: list[str] = []
        self.current: list[str] = []
        self.size = 0
        self.skip_depth = 0
        self.quote_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self.skip_depth += 1
            return
        if tag in _BLOCKS:
            self._break()
        if tag == "blockquote":
            self.quote_depth += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS:
            self._break()

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self.skip_depth = max(0, self.skip_depth - 1)
            return
        if tag in _BLOCKS:
            self._break()
        if tag == "blockquote":
            self.quote_depth = max(0, self.quote_depth - 1)

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        self.current.append(data)
        self.size += len(data)
        if self.size > self.limit:
            raise _Full

    def _break(self) -> None:
        line = _SPACES.sub(" ", "".join(self.current).replace("\n", " ")).strip()
        self.current = []
        if self.quote_depth and line:
            line = "> " * self.quote_depth + line
        if line or (self.lines and self.lines[-1]):
            self.lines.append(line)

    def text(self) -> str:
        self._break()
        return "\n".join(self.lines).strip()


def html_to_text(html: str, *, limit: int) -> str:
    """Visible text of an HTML body, at most about `limit` characters; never raises."""
    collector = _TextCollector(limit)
    html = _tidy(_STRAY_LT.sub("&lt;", html))
    try:
        collector.feed(html)
        collector.close()
    except _Full:
        pass
    except (AssertionError, ValueError):  # html.parser asserts on some junk
        pass
    return collector.text()[:limit]


def _tidy(html: str) -> str:
    """Only well-formed, short tags reach html.parser; comments are dropped.

    html.parser (3.11) rescans from an unclosed "<" again and again: a run of "</" or of
    "<a " takes it minutes (CPython gh-135462). Here a "<" that no ">" closes before the
    next "<" is text, as browsers read it, and a tag longer than `_MAX_TAG_CHARS` (an
    inline data: image) is dropped. One forward pass: every search pointer only advances.
    """
    out: list[str] = []
    n = len(html)
    pos = 0
    next_gt = -1
    while pos < n:
        lt = html.find("<", pos)
        if lt < 0:
            out.append(html[pos:])
            break
        out.append(html[pos:lt])
        if html.startswith("<!--", lt):
            end = html.find("-->", lt + 4)
            if end < 0:
                break  # an unclosed comment hides the rest, as in a browser
            pos = end + 3
            continue
        if next_gt <= lt:
            next_gt = html.find(">", lt + 1)
            if next_gt < 0:
                next_gt = n
        following_lt = html.find("<", lt + 1, next_gt) if next_gt < n else 0
        opens_tag = lt + 1 < n and (html[lt + 1].isalpha() or html[lt + 1] in "/!?")
        if next_gt < n and following_lt < 0 and opens_tag:
            if next_gt - lt <= _MAX_TAG_CHARS:
                out.append(html[lt : next_gt + 1])
            pos = next_gt + 1
        else:
            out.append("&lt;")
            pos = lt + 1
    return "".join(out)
