"""Who may post mail to an assistant: whoever knows its inbound secret, shown either
in the URL's path or as the key of a signature over the request.

The signature follows the Standard Webhooks convention: headers ``webhook-id``,
``webhook-timestamp`` (Unix seconds) and ``webhook-signature`` (``v1,<base64>``;
several may be given, separated by spaces), where the signature is
HMAC-SHA256, keyed with the UTF-8 bytes of the secret, over
``<webhook-id>.<webhook-timestamp>.<body>``."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

from services.kit.errors import Unauthorized


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for ``body`` (what a sender computes)."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def same_secret(given: str, secret: str) -> bool:
    return hmac.compare_digest(given.encode(), secret.encode())


def verify(
    secret: str, headers: Mapping[str, str], body: bytes, *, now: int, tolerance: int
) -> None:
    """Raise Unauthorized unless ``headers`` sign ``body`` with ``secret``, recently."""
    message_id = headers.get("webhook-id", "")
    timestamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    if not (message_id and timestamp and signatures):
        raise Unauthorized(
            "Sign the request (webhook-id, webhook-timestamp, webhook-signature) "
            "or post to the inbound URL that carries the secret."
        )
    if not timestamp.isdigit() or abs(now - int(timestamp)) > tolerance:
        raise Unauthorized("The webhook-timestamp is missing, malformed or too far from now.")
    expected = sign(secret, message_id, int(timestamp), body)
    for candidate in signatures.split():
        if hmac.compare_digest(candidate.encode(), expected.encode()):
            return
    raise Unauthorized("The webhook-signature does not match the body.")
