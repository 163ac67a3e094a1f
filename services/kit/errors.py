"""Domain errors and the one handler that renders them as problem+json (RFC 9457)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.errors import PROBLEM_CONTENT_TYPE, InvalidParam, Problem, problem_type

log = structlog.get_logger(__name__)


class DomainError(Exception):
    """An error a client can act on. Subclasses fix ``status``, ``slug`` and ``title``."""

    status: int = 400
    slug: str = "bad-request"
    title: str = "Bad request"

    def __init__(
        self, detail: str | None = None, *, headers: dict[str, str] | None = None, **extensions: Any
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.headers = headers
        self.extensions = extensions

    def problem(self, request_id: str | None = None, instance: str | None = None) -> Problem:
        return Problem(
            type=problem_type(self.slug),
            title=self.title,
            status=self.status,
            detail=self.detail,
            instance=instance,
            request_id=request_id,
            **self.extensions,
        )


class NotFound(DomainError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(DomainError):
    status, slug, title = 409, "conflict", "Conflict"


class Unauthorized(DomainError):
    status, slug, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str | None = None, **extensions: Any) -> None:
        # RFC 6750: every 401 names the scheme to use.
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"}, **extensions)


class Forbidden(DomainError):
    status, slug, title = 403, "forbidden", "Forbidden"


class PayloadTooLarge(DomainError):
    status, slug, title = 413, "payload-too-large", "Request body too large"


class UnsupportedMediaType(DomainError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


class MalformedBody(DomainError):
    status, slug, title = 400, "malformed-body", "Malformed request body"


class ServiceUnavailable(DomainError):
    status, slug, title = 503, "service-unavailable", "Service unavailable"


_HTTP_SLUGS = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    413: ("payload-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("validation-error", "Invalid request"),
    429: ("rate-limited", "Too many requests"),
    503: ("service-unavailable", "Service unavailable"),
}


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> JSONResponse:
    """A JSON response with the problem+json media type."""
    return JSONResponse(
        problem.body(), status_code=problem.status, media_type=PROBLEM_CONTENT_TYPE, headers=headers
    )


def _request_id(request: Request) -> str | None:
    rid = getattr(request.state, "request_id", None)
    return rid if isinstance(rid, str) else None


def _loc_name(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or str(loc[0]) if loc else ""


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return problem_response(
        exc.problem(request_id=_request_id(request), instance=request.url.path), exc.headers
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    slug, title = _HTTP_SLUGS.get(exc.status_code, ("http-error", "HTTP error"))
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
    problem = Problem(
        type=problem_type(slug),
        title=title,
        status=exc.status_code,
        detail=detail,
        instance=request.url.path,
        request_id=_request_id(request),
    )
    return problem_response(problem, dict(exc.headers) if exc.headers else None)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        err: DomainError = MalformedBody("The request body is not valid JSON.")
        return problem_response(err.problem(_request_id(request), request.url.path))
    # The whole body refused (not one field of it) and not sent as JSON: a JSON route
    # got a form or text. A form route's missing field names the field instead (422).
    whole_body = any(tuple(e.get("loc", ())) == ("body",) for e in errors)
    if whole_body and not _is_json(request.headers.get("content-type")):
        err = UnsupportedMediaType("Send the body as JSON (Content-Type: application/json).")
        return problem_response(err.problem(_request_id(request), request.url.path))
    params = [
        InvalidParam(name=_loc_name(e.get("loc", ())), reason=str(e.get("msg"))) for e in errors
    ]
    problem = Problem(
        type=problem_type("validation-error"),
        title="Invalid request",
        status=422,
        detail="The request does not match the expected shape; see invalid-params.",
        instance=request.url.path,
        request_id=_request_id(request),
        **{"invalid-params": params},
    )
    return problem_response(problem)


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def internal_error(request_id: str | None, instance: str) -> Problem:
    """The body of a 500: no internals, only the request id to find them in the logs."""
    return Problem(
        type=problem_type("internal-error"),
        title="Internal server error",
        status=500,
        detail="Something went wrong on our side; the request id identifies it in our logs.",
        instance=instance,
        request_id=request_id,
    )


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled_error", path=request.url.path)
    return problem_response(internal_error(_request_id(request), request.url.path))


def install_error_handlers(app: FastAPI) -> None:
    """Render every error, ours or the framework's, as problem+json."""
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unhandled)


def _example(
    status: int,
    summary: str,
    detail: str,
    *,
    slug: str | None = None,
    extensions: dict[str, Any] | None = None,
) -> dict[str, Any]:
    default_slug, title = _HTTP_SLUGS.get(status, ("http-error", "HTTP error"))
    problem = Problem(
        type=problem_type(slug or default_slug),
        title=title,
        status=status,
        detail=detail,
        instance="/v1/leads/0193f1b0-3333-7444-8555-666677778888",
        request_id="01JDQ3W8ZK5V6T2M9R4H7C1N0B",
        **(extensions or {}),
    )
    return {"summary": summary, "value": problem.body()}


CLIENT_ERROR_EXAMPLES: dict[str, dict[str, Any]] = {
    "400": _example(
        400, "Malformed JSON", "The request body is not valid JSON.", slug="malformed-body"
    ),
    "401": _example(401, "No or expired token", "The access token has expired."),
    "403": _example(403, "Not allowed", "Only the assistant's manager or an Administrator may."),
    "404": _example(
        404, "Not found, or not yours to see", "No such lead (or not one you may see)."
    ),
    "409": _example(409, "Conflicts with the current state", "The lead is already stopped."),
    "413": _example(413, "Body too large", "The request body exceeds the limit of 1048576 bytes."),
    "415": _example(415, "Not JSON", "Send the body as JSON (Content-Type: application/json)."),
    "422": _example(
        422,
        "Invalid fields",
        "The request does not match the expected shape; see invalid-params.",
        extensions={
            "invalid-params": [
                InvalidParam(name="email", reason="value is not a valid email address")
            ]
        },
    ),
    "429": _example(429, "Rate limited", "Too many attempts; try again in 30 s."),
}
"""One example body per client error status, shown on every operation's ``4XX``."""

SERVER_ERROR_EXAMPLES: dict[str, dict[str, Any]] = {
    "500": {
        "summary": "Unexpected failure",
        "value": internal_error(
            "01JDQ3W8ZK5V6T2M9R4H7C1N0B", "/v1/leads/0193f1b0-3333-7444-8555-666677778888"
        ).body(),
    },
    "503": _example(503, "A dependency is down", "The database does not answer."),
}

PROBLEM_EXAMPLES: dict[str, dict[str, Any]] = {
    f"problem-{status}": example
    for status, example in {**CLIENT_ERROR_EXAMPLES, **SERVER_ERROR_EXAMPLES}.items()
}
"""The OpenAPI document's ``components.examples``: each is written once and referred to
by every operation (``services.kit.http`` adds them to the document)."""


def _refs(examples: dict[str, Any]) -> dict[str, Any]:
    return {status: {"$ref": f"#/components/examples/problem-{status}"} for status in examples}


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {
        "model": Problem,
        "content": {PROBLEM_CONTENT_TYPE: {"examples": _refs(CLIENT_ERROR_EXAMPLES)}},
        "description": "Client error",
    },
    "5XX": {
        "model": Problem,
        "content": {PROBLEM_CONTENT_TYPE: {"examples": _refs(SERVER_ERROR_EXAMPLES)}},
        "description": "Server error",
    },
}
