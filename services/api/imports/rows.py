"""Validating imported rows with the API's own rules (pure, no I/O).

A row is checked by :class:`ImportedLead`: the field rules of ``LeadCreate``
(``services.api.leads.schemas``), with the email checked by :func:`email`, which
gives the same answer as ``EmailStr`` but several times faster on ordinary
addresses (email-validator spends most of its time re-checking the domain, and an
import has few distinct domains).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from functools import cache, lru_cache
from typing import Annotated, Any

from pydantic import PlainValidator, ValidationError
from pydantic.networks import validate_email
from pydantic_core import PydanticCustomError

from services.api.imports.csvparse import CUSTOM_PREFIX, Header, Row
from services.api.leads.schemas import _LeadFields
from shared.validation import infer_time_zone

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
        domain = _domain(match[2])
        if domain is not None and len(match[1]) + 1 + len(domain) <= _ADDRESS_MAX:
            return f"{match[1]}@{domain}"
    return validate_email(value)[1]


class ImportedLead(_LeadFields):
    """One CSV row: what ``LeadCreate`` accepts of a lead's own fields."""

    email: Annotated[str, PlainValidator(email)]


@cache
def _time_zone_of_country(country: str) -> str | None:
    return infer_time_zone(None, country)


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


@dataclass(frozen=True)
class RowError:
    line: int
    column: str | None
    message: str
    raw: dict[str, str]


@dataclass
class Checked:
    """A chunk of rows sorted into those to insert and the errors of the others."""

    valid: list[StageRecord] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    failed_rows: int = 0


def _column(loc: tuple[int | str, ...], header: Header) -> str | None:
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


def check(header: Header, rows: list[Row]) -> Checked:
    """Validate ``rows``: the valid ones as staging records (time zone inferred as
    when a lead is added through the API), the others as errors per column."""
    result = Checked()
    names = header.names
    width = len(names)
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
                RowError(row.line, _column(e["loc"], header), _message(e), raw)
                for e in exc.errors(include_url=False)
            )
            continue
        zone = lead.time_zone
        if zone is None:
            if lead.phone:
                zone = infer_time_zone(lead.phone, lead.country)
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
    return result
