"""Handing one message to an SMTP server, and classifying what happened.

SMTP is not idempotent: once the end of DATA has been sent, a lost reply may
still mean the message was delivered. So the outcome says whether a retry is safe:

- ``sent``: the server accepted the message.
- ``retry``: the server said 4xx, or the attempt failed before the end of DATA;
  nothing was delivered and trying again is safe.
- ``bounced``: a 5xx to RCPT: the address is refused.
- ``failed``: another 5xx (sender refused, authentication, content): no retry.
- ``unknown``: the connection was lost or timed out during DATA: maybe delivered;
  never retried automatically.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Literal

import aiosmtplib

Outcome = Literal["sent", "retry", "bounced", "failed", "unknown"]


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    use_tls: bool = False
    timeout_seconds: float = 30.0


@dataclass(frozen=True)
class SmtpResult:
    outcome: Outcome
    detail: str


def _reply(exc: aiosmtplib.SMTPResponseException) -> str:
    return f"{exc.code} {exc.message}".strip()


def _by_code(exc: aiosmtplib.SMTPResponseException, on_5xx: Outcome) -> SmtpResult:
    outcome: Outcome = "retry" if 400 <= exc.code < 500 else on_5xx
    return SmtpResult(outcome, _reply(exc))


async def transmit(
    config: SmtpConfig, message: EmailMessage, sender: str, recipients: list[str]
) -> SmtpResult:
    """Send ``message`` over one SMTP session; never raises for an SMTP outcome.

    A timeout or lost connection once the DATA command is under way counts as
    ``unknown``, including while waiting for the 354 before the body is sent: the
    conservative reading, since aiosmtplib sends both in one call.
    """
    client = aiosmtplib.SMTP(
        hostname=config.host,
        port=config.port,
        timeout=config.timeout_seconds,
        use_tls=config.use_tls,
        start_tls=config.starttls if config.starttls else False,
    )
    phase = "connect"
    try:
        await client.connect()
        if config.username:
            phase = "auth"
            await client.login(config.username, config.password or "")
        phase = "envelope"
        await client.mail(sender)
        for recipient in recipients:
            try:
                await client.rcpt(recipient)
            except aiosmtplib.SMTPRecipientRefused as exc:
                return _by_code(exc, "bounced")
        phase = "data"
        response = await client.data(message.as_bytes())
        return SmtpResult("sent", f"{response.code} {response.message}".strip())
    except aiosmtplib.SMTPResponseException as exc:
        # An explicit refusal, even to DATA, means the server did not take the message.
        return _by_code(exc, "failed")
    except (ssl.SSLError, aiosmtplib.SMTPNotSupported) as exc:
        # TLS or an extension we were told to use: configuration, not a passing fault.
        return SmtpResult("failed", _describe(exc))
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as exc:
        return SmtpResult("unknown" if phase == "data" else "retry", _describe(exc))
    except aiosmtplib.SMTPException as exc:
        # e.g. AUTH not offered by the server: retrying will not change it.
        return SmtpResult("unknown" if phase == "data" else "failed", _describe(exc))
    except Exception as exc:  # noqa: BLE001 - e.g. an address SMTP cannot encode
        return SmtpResult("unknown" if phase == "data" else "failed", _describe(exc))
    finally:
        if client.is_connected:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                client.close()


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]
