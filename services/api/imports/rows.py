"""Validating imported rows with the API's own rules (pure, no I/O).

A row is checked by :class:`ImportedLead`: the field rules of ``LeadCreate``
(``services.api.leads.schemas``), with the email checked by :func:`email`, which
gives the same answer as ``EmailStr`` but several times faster on ordinary
addresses (email-validator spends most of its time re-checking the domain, and an
import has few distinct domains).

Most rows of a real file are ordinary, so a chunk is first checked column by column
(:func:`_fast_columns`) against the same rules written as plain checks: lengths, sets
of countries and zones, phone numbers and domains remembered once seen. A row every
check accepts gets the values the model would give it; any other row goes through the
model, whose errors are the ones reported. The fast checks accept nothing the model
refuses, and refer to the model whatever they are unsure of.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache, lru_cache
from itertools import compress, repeat
from json.encoder import encode_basestring_ascii
from typing import Annotated, Any

from email_validator import SPECIAL_USE_DOMAIN_NAMES
from email_validator.rfc_constants import DOMAIN_MAX_LENGTH, DOMAIN_NAME_REGEX
from pydantic import PlainValidator, ValidationError
from pydantic.networks import validate_email
from pydantic_core import PydanticCustomError

from services.api.imports.csvparse import CUSTOM_PREFIX, Header, Row
from services.api.leads.schemas import MAX_CUSTOM_FIELDS_BYTES, _LeadFields
from shared.validation import country as country_code
from shared.validation import e164, infer_time_zone, time_zone

_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
# An ASCII dot-atom address: every such local part is valid, so only the domain
# needs email-validator's verdict, once per distinct domain.
_PLAIN = re.compile(rf"({_ATOM}(?:\.{_ATOM})*)@({_LABEL}(?:\.{_LABEL})+)")
_LOCAL_MAX, _ADDRESS_MAX = 64, 254


@lru_cache(maxsize=100_000)
def _domain(domain: str) -> str | None:
    """The normalised domain, or None when email-validator refuses it."""
    try:
        return validate_email("a@" + domain)[1].split("@", 1)[1]
    except PydanticCustomError:
        return None


def email(value: Any) -> str:
    """The normalised address, as ``EmailStr`` gives it; its error otherwise."""
    if not isinstance(value, str):
        raise PydanticCustomError("string_type", "Input should be a valid string")
    match = _PLAIN.fullmatch(value)
    if match is not None and len(match[1]) <= _LOCAL_MAX:
        domain = _ldh_domain(match[2])
        if domain is not None and len(match[1]) + 1 + len(domain) <= _ADDRESS_MAX:
            return f"{match[1]}@{domain}"
    return validate_email(value)[1]


class ImportedLead(_LeadFields):
    """One CSV row: what ``LeadCreate`` accepts of a lead's own fields."""

    email: Annotated[str, PlainValidator(email)]


@cache
def _time_zone_of_country(country: str) -> str | None:
    return infer_time_zone(None, country)


@lru_cache(maxsize=100_000)
def _time_zone_of_phone(phone: str, country: str | None) -> str | None:
    return infer_time_zone(phone, country)


# What the staging table takes, in this order.
STAGE_COLUMNS = (
    "line",
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
    "custom_fields",
    "amc_renewal_date",
)
StageRecord = tuple[
    int,
    str,
    str | None,
    str | None,
    str | None,
    str | None,
    str | None,
    str | None,
    str | None,
    str | None,
    str | None,
    str,
    date | None,
]


# The fast pass. Each check takes a stripped, non-empty cell and returns the value the
# model gives it, or _REFER when the model must decide (its error is then reported).
_REFER: Any = object()
_SHORT, _LONG = 200, 5000
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@lru_cache(maxsize=100_000)
def _ldh_domain(domain: str) -> str | None:
    """The verdict of :func:`_domain` on a domain of ``_PLAIN`` (ASCII letters, digits
    and hyphens, labels of at most 63), without email-validator's per-character
    Unicode checks: what it normalises such a domain to is its lower case, refused
    when too long, outside a top-level domain that ends with a letter, or
    special-use. Punycode and ``ab--`` labels are left to email-validator."""
    lowered = domain.lower()
    if (
        "--" in lowered
        or len(lowered) > DOMAIN_MAX_LENGTH
        or not DOMAIN_NAME_REGEX.search(lowered)
        or any(lowered == d or lowered.endswith("." + d) for d in SPECIAL_USE_DOMAIN_NAMES)
    ):
        return _domain(domain)
    return lowered


def _fast_email(value: str) -> Any:
    match = _PLAIN.fullmatch(value)
    if match is None or len(match[1]) > _LOCAL_MAX:
        return _REFER
    domain = _ldh_domain(match[2])
    if domain is None or len(match[1]) + 1 + len(domain) > _ADDRESS_MAX:
        return _REFER
    return f"{match[1]}@{domain}"


def _refer_on(error: type[Exception], check: Callable[[str], Any]) -> Callable[[str], Any]:
    @lru_cache(maxsize=100_000)
    def checked(value: str) -> Any:
        try:
            return check(value)
        except error:
            return _REFER

    return checked


def _date(value: str) -> Any:
    return date.fromisoformat(value) if _DATE.fullmatch(value) else _REFER


_CHECKS: dict[str, Callable[[str], Any]] = {
    "email": _fast_email,
    "phone": _refer_on(ValueError, e164),
    "country": _refer_on(ValueError, country_code),
    "time_zone": _refer_on(ValueError, time_zone),
    "amc_renewal_date": _refer_on(ValueError, _date),
}


_TEXT_MAX = {
    "first_name": _SHORT,
    "last_name": _SHORT,
    "company": _SHORT,
    "title": _SHORT,
    "more_context": _LONG,
    "more_information": _LONG,
}


def _column(name: str, cells: Sequence[str]) -> list[Any]:
    """One column's values: None for an empty cell, _REFER for one to refer."""
    most = _TEXT_MAX.get(name)
    if most is not None:
        return [(v if len(v) <= most else _REFER) if v else None for v in map(str.strip, cells)]
    check = _CHECKS[name]
    return [check(v) if v else None for v in map(str.strip, cells)]


def _custom_json(keys: list[str], columns: list[list[str]]) -> list[Any]:
    """``json.dumps`` of each row's non-empty custom cells (by key, in header order)."""
    quoted = [encode_basestring_ascii(k) + ": " for k in keys]
    out: list[Any] = []
    for values in zip(*columns, strict=True):
        parts = [q + encode_basestring_ascii(v) for q, v in zip(quoted, values, strict=True) if v]
        dumped = "{" + ", ".join(parts) + "}"
        out.append(dumped if len(dumped) <= MAX_CUSTOM_FIELDS_BYTES else _REFER)
    return out


def _zone(zone: Any, phone: Any, country: Any) -> Any:
    """The time zone given, else the one the phone or country allows (as the API)."""
    if zone is not None:
        return zone
    if phone is _REFER or country is _REFER:
        return None  # the row goes to the model
    if phone is not None:
        return _time_zone_of_phone(phone, country)
    if country is not None:
        return _time_zone_of_country(country)
    return None


def _fast_columns(header: Header, rows: list[Row]) -> tuple[list[StageRecord], list[bool]]:
    """The staging records of the rows every fast check accepts, and for each row
    whether it must go through the model."""
    count = len(rows)
    if not count:
        return [], []
    columns = list(zip(*(r.cells for r in rows), strict=True))
    by_name: dict[str, list[Any]] = {}
    custom_keys: list[str] = []
    custom_cells: list[list[str]] = []
    for name, cells in zip(header.names, columns, strict=True):
        if name.startswith(CUSTOM_PREFIX):
            custom_keys.append(name[len(CUSTOM_PREFIX) :])
            custom_cells.append([c.strip() for c in cells])
        else:
            by_name[name] = _column(name, cells)
    none: list[Any] = list(repeat(None, count))
    stage: dict[str, list[Any]] = {n: by_name.get(n, none) for n in STAGE_COLUMNS[1:]}
    stage["line"] = [r.line for r in rows]
    stage["email"] = [_REFER if e is None else e for e in stage["email"]]  # required
    stage["custom_fields"] = (
        _custom_json(custom_keys, custom_cells) if custom_keys else list(repeat("{}", count))
    )
    stage["time_zone"] = list(map(_zone, stage["time_zone"], stage["phone"], stage["country"]))
    refer = [False] * count
    for values in stage.values():
        if _REFER in values:
            for at, value in enumerate(values):
                if value is _REFER:
                    refer[at] = True
    records = zip(*(stage[n] for n in STAGE_COLUMNS), strict=True)
    return list(compress(records, [not r for r in refer])), refer


@dataclass(frozen=True)
class RowError:
    line: int
    column: str | None
    message: str
    raw: dict[str, str]


@dataclass
class Checked:
    """A chunk of rows sorted into those to insert (in file order) and the errors of
    the others. ``repeated``: valid rows whose email an earlier row of the file has
    (left out: the first one wins). ``serial``: the chunk has an email that is not
    ASCII, whose lower case only PostgreSQL says for sure, so no earlier repeat was
    left out for it and its writing must not overlap its neighbours'."""

    valid: list[StageRecord] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    failed_rows: int = 0
    repeated: int = 0
    serial: bool = False


def _first_of_each_email(result: Checked, seen: set[str]) -> None:
    """Leave out the rows whose email (as the unique index compares it, ``lower``)
    an earlier row of the file had; ``seen`` holds those of the earlier chunks."""
    result.valid.sort(key=lambda record: record[0])
    kept: list[StageRecord] = []
    for record in result.valid:
        address = record[1]
        if not address.isascii():
            result.serial = True
            kept.append(record)
            continue
        key = address.lower()  # the same as PostgreSQL's on ASCII
        if key in seen:
            result.repeated += 1
        else:
            seen.add(key)
            kept.append(record)
    result.valid = kept


def _error_column(loc: tuple[int | str, ...], header: Header) -> str | None:
    if not loc:
        return None
    name = str(loc[0])
    if name == "custom_fields":
        customs = [n for n in header.names if n.startswith(CUSTOM_PREFIX)]
        return customs[0] if len(customs) == 1 else "custom.*"
    return name


def _message(error: Any) -> str:
    if error["type"] == "missing":
        return "required"
    return str(error["msg"]).removeprefix("Value error, ")


def check(header: Header, rows: list[Row], seen: set[str] | None = None) -> Checked:
    """Validate ``rows``: the valid ones as staging records (time zone inferred as
    when a lead is added through the API), the others as errors per column. With
    ``seen`` (the emails of the file's earlier chunks, updated), repeated emails are
    left out."""
    result = Checked()
    names = header.names
    width = len(names)
    whole = [row for row in rows if len(row.cells) == width]
    accepted, refer = _fast_columns(header, whole)
    result.valid.extend(accepted)
    referred = iter(refer)
    for row in rows:
        cells = row.cells
        if len(cells) != width:
            result.failed_rows += 1
            result.errors.append(
                RowError(
                    row.line,
                    None,
                    f"{len(cells)} cells where the header has {width} columns",
                    dict(zip(header.raw, cells, strict=False)),
                )
            )
            continue
        if not next(referred):
            continue
        fields: dict[str, Any] = {}
        custom: dict[str, str] = {}
        for name, cell in zip(names, cells, strict=True):
            value = cell.strip()
            if not value:
                continue
            if name.startswith(CUSTOM_PREFIX):
                custom[name[len(CUSTOM_PREFIX) :]] = value
            else:
                fields[name] = value
        if custom:
            fields["custom_fields"] = custom
        try:
            lead = ImportedLead.model_validate(fields)
        except ValidationError as exc:
            raw = dict(zip(header.raw, cells, strict=True))
            result.failed_rows += 1
            result.errors.extend(
                RowError(row.line, _error_column(e["loc"], header), _message(e), raw)
                for e in exc.errors(include_url=False)
            )
            continue
        zone = lead.time_zone
        if zone is None:
            if lead.phone:
                zone = _time_zone_of_phone(lead.phone, lead.country)
            elif lead.country:
                zone = _time_zone_of_country(lead.country)
        result.valid.append(
            (
                row.line,
                lead.email,
                lead.first_name,
                lead.last_name,
                lead.company,
                lead.title,
                lead.phone,
                lead.country,
                zone,
                lead.more_context,
                lead.more_information,
                json.dumps(lead.custom_fields or {}),
                lead.amc_renewal_date,
            )
        )
    if seen is not None:
        _first_of_each_email(result, seen)
    return result
