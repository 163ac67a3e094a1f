"""Cursor pagination, the same on every list: ``?limit=&cursor=`` in, ``items`` and
``next_cursor`` out. Cursors are opaque (base64 of the last id seen): clients pass
them back and never build them."""

from __future__ import annotations

import base64
import binascii
import contextlib
import uuid
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, ConfigDict

from services.kit.errors import DomainError

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 100


class InvalidCursor(DomainError):
    status, slug, title = 400, "invalid-cursor", "Invalid cursor"


def _page_example(schema: dict[str, Any], cls: type[BaseModel]) -> None:
    """A page's example from its item model's first example: each ``Page[X]`` of the
    OpenAPI document shows one, and a new list gets its example from its item's."""
    args = cls.__pydantic_generic_metadata__["args"]
    item = args[0] if args else None
    if not (isinstance(item, type) and issubclass(item, BaseModel)):
        return
    extra = item.model_config.get("json_schema_extra")
    examples = extra.get("examples") if isinstance(extra, dict) else None
    if not (isinstance(examples, list) and examples and isinstance(examples[0], dict)):
        return
    first = examples[0]
    cursor = None
    with contextlib.suppress(KeyError, TypeError, ValueError):
        cursor = encode_cursor(uuid.UUID(str(first["id"])))
    schema["examples"] = [{"items": [first], "next_cursor": cursor}]


class Page(BaseModel, Generic[T]):
    model_config = ConfigDict(json_schema_extra=_page_example)

    items: list[T]
    next_cursor: str | None = None


def encode_cursor(last_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(last_id.bytes).rstrip(b"=").decode()


def decode_cursor(cursor: str | None) -> uuid.UUID | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return uuid.UUID(bytes=raw)
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursor("The cursor is not one this API gave out.") from exc


class PageParams(BaseModel):
    limit: int
    after: uuid.UUID | None


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
) -> PageParams:
    return PageParams(limit=limit, after=decode_cursor(cursor))


def page_of(items: list[T], limit: int, id_of: object) -> Page[T]:
    """A page from ``limit + 1`` fetched items (the extra one says there is more)."""
    more = len(items) > limit
    items = items[:limit]
    next_cursor = encode_cursor(id_of(items[-1])) if more and items else None  # type: ignore[operator]
    return Page[T](items=items, next_cursor=next_cursor)


PageDep = Annotated[PageParams, Depends(page_params)]
