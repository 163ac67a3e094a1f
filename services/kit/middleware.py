"""ASGI middleware: request ids, access logs, request metrics, and a body size limit."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.kit.errors import PayloadTooLarge, internal_error
from services.kit.metrics import REQUEST_SECONDS, REQUESTS
from shared.errors import PROBLEM_CONTENT_TYPE, Problem

log = structlog.get_logger("pursuit.http")

# Metric labels take only known methods: a client must not mint label values.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class _BodyTooLarge(Exception):
    pass


class RequestContextMiddleware:
    """Binds a request id (the caller's ``X-Request-ID`` if sane, else a new one),
    echoes it back, logs one line per request and records request metrics."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        service: str,
        max_body_bytes: int,
        body_limits: dict[str, int] | None = None,
    ) -> None:
        self.app = app
        self.service = service
        self.max_body_bytes = max_body_bytes
        # Paths with a limit of their own (file uploads, raw mail): an exact path, or a
        # prefix when the key ends with "/".
        self.body_limits = body_limits or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        incoming = headers.get("x-request-id", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500
        response_started = False
        too_large = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                if too_large:
                    # The framework turned our interrupted read into its own error:
                    # answer 413 instead and drop that response.
                    status = 413
                    await self._too_large(send, request_id, scope, limit)
                    return
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            elif too_large:
                return
            await send(message)

        received = 0
        limit = self._limit(scope["path"])

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    raise _BodyTooLarge
            return message

        declared = headers.get("content-length")
        try:
            if declared is not None and declared.isdigit() and int(declared) > limit:
                status = 413
                await self._too_large(send, request_id, scope, limit)
                return
            await self.app(scope, limited_receive, send_wrapper)
        except _BodyTooLarge:
            if not response_started:
                status = 413
                await self._too_large(send, request_id, scope, limit)
        except Exception:
            # Rendered here rather than by Starlette's outer error middleware so the
            # 500 carries the request id too; the traceback goes to the log only.
            log.exception("unhandled_error", path=scope["path"])
            if not response_started:
                status = 500
                await self._send_problem(
                    send, request_id, internal_error(request_id, scope["path"])
                )
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            labels = (self.service, method, template, str(status))
            REQUESTS.labels(*labels).inc()
            REQUEST_SECONDS.labels(*labels).observe(elapsed)
            log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                route=template,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
            )
            structlog.contextvars.unbind_contextvars("request_id")

    def _limit(self, path: str) -> int:
        if path in self.body_limits:
            return self.body_limits[path]
        for prefix, limit in self.body_limits.items():
            if prefix.endswith("/") and path.startswith(prefix):
                return limit
        return self.max_body_bytes

    async def _too_large(self, send: Send, request_id: str, scope: Scope, limit: int) -> None:
        problem = PayloadTooLarge(
            f"The request body exceeds the limit of {limit} bytes.",
            limit_bytes=limit,
        ).problem(request_id=request_id, instance=scope["path"])
        await self._send_problem(send, request_id, problem)

    async def _send_problem(self, send: Send, request_id: str, problem: Problem) -> None:
        body = _json(problem.body())
        await send(
            {
                "type": "http.response.start",
                "status": problem.status,
                "headers": [
                    (b"content-type", PROBLEM_CONTENT_TYPE.encode()),
                    (b"x-request-id", request_id.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _json(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()
