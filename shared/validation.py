"""Input rules two services must apply alike (pure functions, no I/O)."""

from __future__ import annotations

import re
import zoneinfo
from functools import cache

import phonenumbers
import phonenumbers.timezone


def e164(value: str) -> str:
    """``value`` as an E.164 number (``+14155550123``); ValueError if it is not one."""
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError("use the international E.164 form, e.g. +14155550123") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@cache
def _zones() -> frozenset[str]:
    # Scanning the zone files costs tens of ms: once per process.
    return frozenset(zoneinfo.available_timezones())


def time_zone(value: str) -> str:
    """``value`` if it is an IANA time zone name; ValueError otherwise."""
    if value not in _zones():
        raise ValueError("not an IANA time zone name, e.g. Europe/Paris")
    return value


_MARKUP = re.compile(
    r"<\s*/?\s*[a-zA-Z!][^>]*>"  # HTML tags and comments
    r"|!\[[^\]]*\]\([^)]*\)"  # markdown images
    r"|data:image/",  # inline images
)


def plain_text(value: str) -> str:
    """``value`` if it holds no HTML or image markup (signatures are text only)."""
    if _MARKUP.search(value):
        raise ValueError("text only: HTML and images are not allowed")
    return value


def country(value: str) -> str:
    """An ISO 3166-1 alpha-2 country code, upper-cased; ValueError otherwise."""
    code = value.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError("use an ISO 3166-1 alpha-2 country code, e.g. FR")
    return code


def infer_time_zone(phone: str | None, country_code: str | None) -> str | None:
    """The lead's time zone when its phone number or country allows only one."""
    zones: tuple[str, ...] = ()
    if phone:
        number = phonenumbers.parse(phone, None)
        zones = tuple(phonenumbers.timezone.time_zones_for_number(number))
    if len(zones) != 1 and country_code:
        # Every zone of the country's calling code: one only for single-zone countries.
        calling_code = phonenumbers.country_code_for_region(country_code)
        if calling_code:
            whole = phonenumbers.PhoneNumber(country_code=calling_code, national_number=0)
            zones = tuple(phonenumbers.timezone.time_zones_for_geographical_number(whole))
    if len(zones) == 1 and zones[0] in _zones():
        return zones[0]
    return None
