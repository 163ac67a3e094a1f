"""Reading an uploaded CSV of leads: encoding, header, rows (pure, no I/O).

The file is checked whole at upload (encoding, header, row count) so that a bad file
is refused before anything is written; the job reads it again row by row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from services.kit.errors import DomainError

# The LeadCreate fields a column may fill; ``custom.<key>`` columns go to custom_fields.
FIELDS = (
    "email",
    "first_name",
    "last_name",
    "company",
    "title",
    "phone",
    "country",
    "time_zone",
    "more_context",
    "more_information",
    "amc_renewal_date",
)
CUSTOM_PREFIX = "custom."
# Cells of the size a spreadsheet allows; the csv module's default is 128 KiB.
MAX_CELL_CHARS = 32_767


class FileRejected(DomainError):
    status, slug, title = 422, "invalid-csv", "The CSV file cannot be imported"


@dataclass(frozen=True)
class Header:
    """The column names as written in the file, and what each one fills: a lead
    field, or ``custom.<key>``."""

    raw: tuple[str, ...]
    names: tuple[str, ...]


@dataclass(frozen=True)
class Row:
    """One record: ``line`` is the line of the file it ends on (the header is line 1)."""

    line: int
    cells: list[str]


def decode(content: bytes) -> str:
    """The file as text: UTF-8, with or without a byte order mark. A NUL byte is no
    text (a UTF-16 export, often, whose ASCII decodes as UTF-8 with a NUL between
    every letter), and PostgreSQL keeps no NUL in text: refused whole."""
    nul = content.find(b"\x00")
    if nul >= 0:
        line = content[:nul].count(b"\n") + 1
        raise FileRejected(
            f"The file holds a NUL byte on line {line}: it is not UTF-8 text (a UTF-16 "
            "export, perhaps). Save it as 'CSV UTF-8' and upload it again.",
            field="file",
            line=line,
        )
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        raise FileRejected(
            f"The file is not UTF-8 text (an invalid byte on line {line}). "
            "Save it as 'CSV UTF-8' and upload it again.",
            field="file",
            line=line,
        ) from exc


def _reader(text: str) -> Any:  # csv's reader type is private (_csv.reader)
    csv.field_size_limit(MAX_CELL_CHARS)
    return csv.reader(io.StringIO(text, newline=""), strict=True)


def read_header(cells: list[str] | None) -> Header:
    """Check the header: ``email`` present, every column known, none twice."""
    if not cells or not any(c.strip() for c in cells):
        raise FileRejected(
            "The file is empty: its first line must name the columns (at least 'email').",
            field="file",
        )
    raw = tuple(c.strip() for c in cells)
    names: list[str] = []
    unknown: list[str] = []
    for name in raw:
        lowered = name.lower()
        if lowered in FIELDS:
            names.append(lowered)
        elif lowered.startswith(CUSTOM_PREFIX) and len(name) > len(CUSTOM_PREFIX):
            names.append(CUSTOM_PREFIX + name[len(CUSTOM_PREFIX) :])
        else:
            unknown.append(name)
            names.append(name)
    if "email" not in names:
        raise FileRejected(
            "The header has no 'email' column: every lead needs an email.",
            field="file",
            missing_columns=["email"],
        )
    if unknown:
        raise FileRejected(
            f"Unknown columns: {', '.join(repr(u) for u in unknown)}. Accepted: "
            f"{', '.join(FIELDS)}, and custom.<key> for custom fields.",
            field="file",
            unknown_columns=unknown,
            accepted_columns=[*FIELDS, "custom.<key>"],
        )
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise FileRejected(
            f"Columns named twice: {', '.join(twice)}.", field="file", duplicate_columns=twice
        )
    return Header(raw=raw, names=tuple(names))


def _records(text: str) -> tuple[Header, Iterator[Row]]:
    reader = _reader(text)
    try:
        header = read_header(next(reader, None))
    except csv.Error as exc:
        raise FileRejected(f"The header is not valid CSV: {exc}.", field="file") from exc

    def rows() -> Iterator[Row]:
        try:
            for cells in reader:
                if cells and any(cells):  # blank lines are not rows
                    yield Row(reader.line_num, cells)
        except csv.Error as exc:
            raise FileRejected(
                f"Line {reader.line_num} is not valid CSV: {exc}.",
                field="file",
                line=reader.line_num,
            ) from exc

    return header, rows()


def scan(content: bytes, max_rows: int) -> tuple[Header, int]:
    """Check the whole file and count its rows; FileRejected says what is wrong."""
    header, rows = _records(decode(content))
    count = 0
    for _ in rows:
        count += 1
        if count > max_rows:
            raise FileRejected(
                f"The file has more than {max_rows} rows: split it into several imports.",
                field="file",
                max_rows=max_rows,
            )
    if count == 0:
        raise FileRejected("The file has a header but no rows.", field="file")
    return header, count


def read(content: bytes) -> tuple[Header, Iterator[Row]]:
    """The rows of a file that :func:`scan` accepted, read as they are asked for."""
    return _records(decode(content))


def neutralise(cell: str) -> str:
    """A cell a spreadsheet will show as text, never run as a formula (OWASP CSV
    injection): a leading ``= + - @``, tab or carriage return gets a quote before it."""
    return "'" + cell if cell[:1] in ("=", "+", "-", "@", "\t", "\r") else cell
