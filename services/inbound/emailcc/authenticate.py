"""Is the sender of an EmailCC message who the From header says? Otherwise anyone could
make the assistant email strangers in a user's name.

Two ways to pass, both aligned with the From domain (the domain itself or a parent of
it, as DMARC's relaxed alignment):

- a valid DKIM signature (dkimpy) whose ``d=`` is aligned; the key is looked up in DNS
  (the system resolver, or ``nameserver`` host:port);
- an ``Authentication-Results`` header (RFC 8601) from a trusted receiving host (its
  authserv-id is listed) that says ``dkim=pass`` with an aligned ``header.d`` or
  ``dmarc=pass``. Only the topmost Authentication-Results headers count, while they are
  the trusted host's: a receiving host adds its own at the top, so anything under a
  header of another host, or a trusted-looking header with no trusted one above it,
  may have been written by the sender.

DKIM needs DNS and hashes the whole message: it runs in a thread, within a timeout.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import getaddresses

import dkim
import dns.exception
import dns.resolver
from dkim.util import InvalidTagValueList, parse_tag_value

# At most this many DKIM signatures are tried (each may cost a DNS lookup).
MAX_SIGNATURES = 5

TxtLookup = Callable[..., bytes | None]


@dataclass(frozen=True)
class Authentication:
    """Who inbound trusts: the authserv-ids of the receiving hosts whose
    Authentication-Results count, the DNS server DKIM keys are read from (host:port;
    None: the system resolver), and how long one check may take."""

    trusted_authserv_ids: frozenset[str] = frozenset()
    nameserver: str | None = None
    timeout_seconds: float = 5.0


@dataclass(frozen=True)
class Verdict:
    authenticated: bool
    method: str  # "dkim", "authentication-results", or "" when it failed
    reason: str


def aligned(domain: str, from_domain: str) -> bool:
    """``domain`` is the From domain or a parent of it (never a bare top-level name)."""
    domain, from_domain = domain.strip().strip(".").lower(), from_domain.strip(".").lower()
    if not domain or "." not in domain:
        return False
    return from_domain == domain or from_domain.endswith("." + domain)


def _headers(raw: bytes) -> list[tuple[bytes, bytes]]:
    headers, _ = dkim.rfc822_parse(raw)
    return [(name, value) for name, value in headers]


def _text(value: bytes) -> str:
    return value.decode("utf-8", "replace")


def from_domain(raw: bytes) -> str | None:
    """The domain of the single address in the single From header (None otherwise)."""
    found = [_text(v) for n, v in _headers(raw) if n.lower() == b"from"]
    if len(found) != 1:
        return None
    addresses = [a for _, a in getaddresses([" ".join(found[0].split())]) if a]
    if len(addresses) != 1 or "@" not in addresses[0]:
        return None
    return addresses[0].rpartition("@")[2].strip().strip(">").lower() or None


# -- Authentication-Results ----------------------------------------------------------

_COMMENT = re.compile(r"\([^()]*\)")
_RESULT = re.compile(r"^\s*([a-z0-9_-]+)\s*=\s*([a-z]+)", re.IGNORECASE)
_PROPERTY = re.compile(r"([a-z0-9_-]+\.[a-z0-9_.-]+)\s*=\s*(\"[^\"]*\"|[^\s;]+)", re.IGNORECASE)


@dataclass(frozen=True)
class Result:
    method: str
    result: str
    properties: dict[str, str]


def parse_results(value: str) -> tuple[str, list[Result]]:
    """An Authentication-Results value: its authserv-id and its results."""
    unfolded = " ".join(value.split())
    for _ in range(3):  # nested comments, a few levels
        unfolded = _COMMENT.sub(" ", unfolded)
    parts = unfolded.split(";")
    authserv_id = parts[0].strip().split(" ")[0].lower() if parts[0].strip() else ""
    results: list[Result] = []
    for part in parts[1:50]:
        matched = _RESULT.match(part)
        if matched is None:
            continue
        properties = {
            k.lower(): v.strip('"').lower() for k, v in _PROPERTY.findall(part[matched.end() :])
        }
        results.append(Result(matched.group(1).lower(), matched.group(2).lower(), properties))
    return authserv_id, results


def by_authentication_results(
    values: list[str], from_domain: str, trusted: frozenset[str]
) -> Verdict:
    """The verdict of the trusted host's topmost Authentication-Results headers."""
    if not trusted:
        return Verdict(False, "", "no trusted Authentication-Results host is configured")
    if not values:
        return Verdict(False, "", "no Authentication-Results header")
    trusted = frozenset(t.lower() for t in trusted)
    seen = False
    for value in values:  # topmost first
        authserv_id, results = parse_results(value)
        if authserv_id not in trusted:
            if not seen:
                return Verdict(
                    False,
                    "",
                    f"the topmost Authentication-Results is from {authserv_id or 'nobody'}, "
                    "not a trusted host",
                )
            break
        seen = True
        for result in results:
            if result.result != "pass":
                continue
            if result.method == "dkim":
                signer = (
                    result.properties.get("header.d")
                    or result.properties.get("header.i", "").rpartition("@")[2]
                )
                if signer and aligned(signer, from_domain):
                    return Verdict(
                        True, "authentication-results", f"{authserv_id}: dkim=pass for {signer}"
                    )
            if result.method == "dmarc":
                header_from = result.properties.get("header.from", from_domain)
                if header_from == from_domain:
                    return Verdict(
                        True,
                        "authentication-results",
                        f"{authserv_id}: dmarc=pass for {from_domain}",
                    )
    return Verdict(
        False, "", f"no aligned dkim or dmarc pass for {from_domain} from a trusted host"
    )


# -- DKIM ----------------------------------------------------------------------------


def txt_lookup(nameserver: str | None) -> TxtLookup:
    """How dkimpy reads a key: the system resolver, or the DNS server at host:port."""
    if not nameserver:
        lookup: TxtLookup = dkim.dnsplug.get_txt
        return lookup
    host, _, port = nameserver.rpartition(":") if ":" in nameserver else (nameserver, "", "53")
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [host.strip("[]")]
    resolver.port = int(port)

    def get_txt(name: bytes | str, timeout: float = 5) -> bytes | None:
        text = name.decode() if isinstance(name, bytes) else name
        try:
            answer = resolver.resolve(text, "TXT", lifetime=timeout, raise_on_no_answer=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoNameservers):
            return None
        except dns.exception.Timeout as exc:
            raise dkim.DnsTimeoutError(str(exc)) from exc
        for rrset in answer.response.answer:
            for item in rrset:
                strings = getattr(item, "strings", None)
                if strings is not None:
                    return b"".join(strings)
        return None

    return get_txt


def by_dkim(raw: bytes, from_domain: str, lookup: TxtLookup, timeout: float) -> Verdict:
    """A valid DKIM signature aligned with ``from_domain`` (blocking: DNS and hashing)."""
    signatures = [v for n, v in _headers(raw) if n.lower() == b"dkim-signature"]
    if not signatures:
        return Verdict(False, "", "no DKIM signature")
    reasons: list[str] = []
    for index, value in enumerate(signatures[:MAX_SIGNATURES]):
        try:
            tags = parse_tag_value(value)
        except InvalidTagValueList:
            reasons.append("a malformed DKIM signature")
            continue
        signer = tags.get(b"d", b"").decode("ascii", "replace").lower()
        if not aligned(signer, from_domain):
            reasons.append(f"a DKIM signature of {signer or 'no domain'}, not {from_domain}")
            continue
        try:
            verifier = dkim.DKIM(raw, timeout=max(1, int(timeout)))
            valid = verifier.verify(idx=index, dnsfunc=lookup)
        except (dkim.DKIMException, ValueError, LookupError, TypeError) as exc:
            reasons.append(f"the DKIM signature of {signer} does not verify ({exc})"[:300])
            continue
        if valid:
            return Verdict(True, "dkim", f"a valid DKIM signature of {signer}")
        reasons.append(f"the DKIM signature of {signer} does not verify")
    return Verdict(False, "", "; ".join(reasons)[:1000])


def authentication_results(raw: bytes) -> list[str]:
    """The message's Authentication-Results headers, topmost first."""
    return [_text(v) for n, v in _headers(raw) if n.lower() == b"authentication-results"]


async def authenticate(raw: bytes, settings: Authentication) -> Verdict:
    """Whether the message's From is authenticated, and how (or why not)."""
    domain = from_domain(raw)
    if domain is None:
        return Verdict(False, "", "the From header does not name one address")
    trusted = by_authentication_results(
        authentication_results(raw), domain, settings.trusted_authserv_ids
    )
    if trusted.authenticated:
        return trusted
    lookup = txt_lookup(settings.nameserver)
    try:
        signed = await asyncio.wait_for(
            asyncio.to_thread(by_dkim, raw, domain, lookup, settings.timeout_seconds),
            timeout=settings.timeout_seconds + 1,
        )
    except TimeoutError:
        signed = Verdict(False, "", f"DKIM took over {settings.timeout_seconds:g} s")
    if signed.authenticated:
        return signed
    reasons = [signed.reason]
    if settings.trusted_authserv_ids:
        reasons.append(trusted.reason)
    return Verdict(False, "", "; ".join(reasons))
