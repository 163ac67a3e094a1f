"""One call to an OpenAI-compatible chat completions API (``POST
{base_url}/chat/completions``), bounded in time, with every way it can fail turned
into :class:`LlmUnusable` and a reason: the mailer's writer and inbound's classifier
both fall back to their own rules on it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass(frozen=True)
class LlmConfig:
    """Where the chat completions API is: ``POST {base_url}/chat/completions``."""

    base_url: str
    model: str
    api_key: str | None = field(default=None, repr=False)
    timeout_seconds: float = 10.0


class LlmUnusable(Exception):
    """The model gave no answer we may use; the text says why."""


async def complete(client: httpx.AsyncClient, config: LlmConfig, payload: dict[str, Any]) -> str:
    """The content of the first choice, or :class:`LlmUnusable`."""
    headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
    url = f"{config.base_url.rstrip('/')}/chat/completions"
    try:
        # httpx's timeout bounds each read; this bounds the whole exchange.
        async with asyncio.timeout(config.timeout_seconds):
            response = await client.post(
                url, json=payload, headers=headers, timeout=config.timeout_seconds
            )
    except (TimeoutError, httpx.TimeoutException) as exc:
        raise LlmUnusable(f"timed out after {config.timeout_seconds:g}s") from exc
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise LlmUnusable(f"request failed: {type(exc).__name__}: {exc}"[:300]) from exc
    if not response.is_success:
        raise LlmUnusable(f"HTTP {response.status_code}")
    try:
        completion = response.json()
    except ValueError as exc:
        raise LlmUnusable("the response is not JSON") from exc
    try:
        content = completion["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError) as exc:
        raise LlmUnusable("the response has no choices[0].message.content") from exc
    if not isinstance(content, str):
        raise LlmUnusable("the answer is not text")
    return content
