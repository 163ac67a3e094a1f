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


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": Problem, "content": {PROBLEM_CONTENT_TYPE: {}}, "description": "Client error"},
    "5XX": {"model": Problem, "content": {PROBLEM_CONTENT_TYPE: {}}, "description": "Server error"},
}
