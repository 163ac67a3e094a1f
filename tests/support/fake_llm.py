"""A real HTTP server speaking OpenAI's chat completions protocol, scripted by a test.

``POST /v1/chat/completions`` records the request and answers with a completion whose
content the test chose, or with an HTTP error, a hang, or a body that is not a
completion at all. It runs under uvicorn on a free 127.0.0.1 port.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route


@dataclass(frozen=True)
class ReceivedRequest:
    """One request the server received: its JSON body and headers (lower-case names)."""

    json: dict[str, Any]
    headers: dict[str, str]

    @property
    def system(self) -> str:
        return str(self.json["messages"][0]["content"])

    @property
    def user(self) -> str:
        return str(self.json["messages"][-1]["content"])


@dataclass
class FakeLlm:
    """The server's behaviour, changed by the test between calls.

    ``content`` is the assistant message's content; ``status`` other than 200 answers
    with an OpenAI error body; ``delay_seconds`` hangs before answering; ``raw_body``,
    when set, is sent as is (``text/html``) instead of a completion.
    """

    base_url: str = ""
    requests: list[ReceivedRequest] = field(default_factory=list)
    content: str = '{"subject": "Hello", "body": "Hi there,\\n\\nA message."}'
    status: int = 200
    delay_seconds: float = 0.0
    raw_body: str | None = None
    _closing: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1), repr=False)

    def answer(self, body: str, subject: str | None = None) -> None:
        """Reply with the JSON object the writer asks for."""
        answer: dict[str, str] = {"body": body}
        if subject is not None:
            answer["subject"] = subject
        self.content = json.dumps(answer)

    async def _chat_completions(self, request: Request) -> Response:
        try:
            body = await request.json()
        except ValueError:
            return _error(400, "invalid_request_error", "We could not parse the JSON body.")
        self.requests.append(ReceivedRequest(body, dict(request.headers)))
        if self.delay_seconds:
            # Hang, but let the server stop at once when the test is over.
            with suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.delay_seconds)
        if self.status != 200:
            return _error(self.status, "server_error", "The server had an error.")
        if self.raw_body is not None:
            return PlainTextResponse(self.raw_body, media_type="text/html")
        return JSONResponse(
            {
                "id": f"chatcmpl-fake{next(self._ids)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "fake"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": self.content},
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": len(json.dumps(body.get("messages", []))) // 4,
                    "completion_tokens": len(self.content) // 4,
                    "total_tokens": (len(json.dumps(body.get("messages", []))) + len(self.content))
                    // 4,
                },
            }
        )


def _error(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "type": kind, "param": None, "code": None}},
        status_code=status,
    )


@asynccontextmanager
async def fake_llm() -> AsyncIterator[FakeLlm]:
    """A fake LLM served on a free port for the block; ``.base_url`` ends in ``/v1``."""
    fake = FakeLlm()
    app = Starlette(
        routes=[Route("/v1/chat/completions", fake._chat_completions, methods=["POST"])]
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    fake.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    server = uvicorn.Server(
        uvicorn.Config(
            app, log_config=None, access_log=False, lifespan="off", timeout_graceful_shutdown=5
        )
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(20):
            while not server.started:
                if task.done():
                    task.result()
                    raise AssertionError("uvicorn stopped before it started")
                await asyncio.sleep(0.02)
        yield fake
    finally:
        fake._closing.set()
        server.should_exit = True
        await asyncio.wait_for(task, 20)
        sock.close()
