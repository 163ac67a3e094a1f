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

import contextlib
import ssl
from dataclasses import dataclass
from email.message import Message
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
    # Where it ended: "connect", "auth", "envelope" or "data". An authentication
    # refusal flags the mailbox (nobody's address is at fault).
    phase: str = "data"


def _reply(exc: aiosmtplib.SMTPResponseException) -> str:
    return f"{exc.code} {exc.message}".strip()


def _by_code(exc: aiosmtplib.SMTPResponseException, on_5xx: Outcome, phase: str) -> SmtpResult:
    outcome: Outcome = "retry" if 400 <= exc.code < 500 else on_5xx
    return SmtpResult(outcome, _reply(exc), phase)


class _Failed(Exception):
    """Opening a session failed; carries the classified result."""

    def __init__(self, result: SmtpResult) -> None:
        super().__init__(result.detail)
        self.result = result


async def _open(config: SmtpConfig) -> aiosmtplib.SMTP:
    """A connected (and authenticated) client; :class:`_Failed` when that fails."""
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
    except aiosmtplib.SMTPResponseException as exc:
        _close(client)
        raise _Failed(_by_code(exc, "failed", phase)) from exc
    except (ssl.SSLError, aiosmtplib.SMTPNotSupported) as exc:
        _close(client)
        raise _Failed(SmtpResult("failed", _describe(exc), phase)) from exc
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as exc:
        _close(client)
        raise _Failed(SmtpResult("retry", _describe(exc), phase)) from exc
    except Exception as exc:  # e.g. AUTH not offered by the server
        _close(client)
        raise _Failed(SmtpResult("failed", _describe(exc), phase)) from exc
    return client


async def _send_on(
    client: aiosmtplib.SMTP, message: Message | bytes, sender: str, recipients: list[str]
) -> SmtpResult:
    """One mail transaction on an open session; never raises for an SMTP outcome."""
    phase = "envelope"
    try:
        await client.mail(sender)
        for recipient in recipients:
            try:
                await client.rcpt(recipient)
            except aiosmtplib.SMTPRecipientRefused as exc:
                with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
                    await client.rset()
                return _by_code(exc, "bounced", phase)
        phase = "data"
        data = message if isinstance(message, bytes) else message.as_bytes()
        response = await client.data(data)
        return SmtpResult("sent", f"{response.code} {response.message}".strip(), phase)
    except aiosmtplib.SMTPResponseException as exc:
        # An explicit refusal, even to DATA, means the server did not take the message.
        with contextlib.suppress(aiosmtplib.SMTPException, OSError, TimeoutError):
            await client.rset()
        return _by_code(exc, "failed", phase)
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, OSError) as exc:
        return SmtpResult("unknown" if phase == "data" else "retry", _describe(exc), phase)
    except aiosmtplib.SMTPException as exc:
        return SmtpResult("unknown" if phase == "data" else "failed", _describe(exc), phase)
    except Exception as exc:  # noqa: BLE001 - e.g. an address SMTP cannot encode
        return SmtpResult("unknown" if phase == "data" else "failed", _describe(exc), phase)


def _close(client: aiosmtplib.SMTP) -> None:
    with contextlib.suppress(Exception):
        client.close()


async def _quit(client: aiosmtplib.SMTP) -> None:
    if client.is_connected:
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            _close(client)


async def transmit(
    config: SmtpConfig, message: Message | bytes, sender: str, recipients: list[str]
) -> SmtpResult:
    """Send ``message`` over one SMTP session of its own.

    A timeout or lost connection once the DATA command is under way counts as
    ``unknown``, including while waiting for the 354 before the body is sent: the
    conservative reading, since aiosmtplib sends both in one call.
    """
    try:
        client = await _open(config)
    except _Failed as failed:
        return failed.result
    try:
        return await _send_on(client, message, sender, recipients)
    finally:
        await _quit(client)


class SmtpPool:
    """Open SMTP sessions kept per mailbox and reused message after message.

    A session that ended in doubt (``unknown``, a lost connection) is closed, never
    reused. A reused session the server closed while idle is replaced once, before
    anything of the message was sent.
    """

    def __init__(self, max_idle_per_mailbox: int = 4) -> None:
        self._idle: dict[SmtpConfig, list[aiosmtplib.SMTP]] = {}
        self._max_idle = max_idle_per_mailbox

    async def transmit(
        self, config: SmtpConfig, message: Message | bytes, sender: str, recipients: list[str]
    ) -> SmtpResult:
        idle = self._idle.setdefault(config, [])
        client = idle.pop() if idle else None
        reused = client is not None and client.is_connected
        if client is None or not client.is_connected:
            try:
                client = await _open(config)
            except _Failed as failed:
                return failed.result
        result = await _send_on(client, message, sender, recipients)
        if reused and result.outcome == "retry" and result.phase == "envelope":
            _close(client)
            try:
                client = await _open(config)
            except _Failed as failed:
                return failed.result
            result = await _send_on(client, message, sender, recipients)
        if result.outcome in ("sent", "bounced", "failed") and client.is_connected:
            if len(idle) < self._max_idle:
                idle.append(client)
                return result
            await _quit(client)
        else:
            _close(client)
        return result

    async def close(self) -> None:
        """Quit every idle session (worker shutdown)."""
        sessions = [c for clients in self._idle.values() for c in clients]
        self._idle.clear()
        for client in sessions:
            await _quit(client)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]
