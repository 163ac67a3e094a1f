"""HTTP routes of the suppression list, for the org's Administrators.

An entry is named by its address: the list holds one entry per address and org (the
table's primary key), so the address is the id a client already has."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response, status

from services.kit.auth import Principal, PrincipalDep
from services.kit.pagination import DEFAULT_LIMIT, MAX_LIMIT, InvalidCursor, Page
from services.kit.tenancy import OrgSessionDep
from services.mailer.suppression import policies, service
from services.mailer.suppression.schemas import (
    SuppressionCreate,
    SuppressionRead,
    SuppressionReason,
)
from shared.errors import PROBLEM_CONTENT_TYPE, Problem, problem_type

router = APIRouter(prefix="/v1/suppressions", tags=["suppressions"])


def _administrator(principal: PrincipalDep) -> Principal:
    # Checked before the body is read: a non-Administrator learns nothing, not even
    # whether their input was valid.
    policies.authorize(principal)
    return principal


AdministratorDep = Annotated[Principal, Depends(_administrator)]


def _problem(
    status_code: int, slug: str, title: str, description: str, detail: str
) -> dict[str, Any]:
    example = {"type": problem_type(slug), "title": title, "status": status_code, "detail": detail}
    return {
        "model": Problem,
        "description": description,
        "content": {PROBLEM_CONTENT_TYPE: {"example": example}},
    }


_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _problem(
        401,
        "unauthorized",
        "Authentication required",
        "No valid access token",
        "Send an access token as 'Authorization: Bearer <token>'.",
    ),
    403: _problem(
        403,
        "forbidden",
        "Forbidden",
        "The caller is not an Administrator",
        "Your role (agent) may not manage the suppression list.",
    ),
}
_NOT_LISTED = _problem(
    404,
    "not-found",
    "Not found",
    "The address is not on your org's suppression list",
    "This address is not on your suppression list.",
)

# Addresses may hold a "/" (RFC 5322 allows it): clients send it as %2F, which reaches
# the router decoded, so the parameter takes the rest of the path.
Address = Annotated[
    str,
    Path(
        min_length=1,
        max_length=320,
        description="The address, URL-encoded (any case)",
        examples=["pat@globex.example"],
    ),
]


# The api's paging (``limit``, opaque ``cursor``, ``items`` and ``next_cursor``), keyed
# by address instead of id: the list has no id, and the address is unique per org.
@dataclass(frozen=True)
class AddressPage:
    limit: int
    after: str | None


def _encode_cursor(address: str) -> str:
    return base64.urlsafe_b64encode(address.encode()).rstrip(b"=").decode()


def _decode_cursor(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        address = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursor("The cursor is not one this API gave out.") from exc
    if not address:
        raise InvalidCursor("The cursor is not one this API gave out.")
    return address


def _address_page(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
) -> AddressPage:
    return AddressPage(limit=limit, after=_decode_cursor(cursor) if cursor else None)


AddressPageDep = Annotated[AddressPage, Depends(_address_page)]


@router.get(
    "",
    operation_id="list_suppressions",
    summary="List suppressed addresses",
    response_model=Page[SuppressionRead],
    responses={
        400: _problem(
            400,
            "invalid-cursor",
            "Invalid cursor",
            "The cursor is not a `next_cursor` this API gave out",
            "The cursor is not one this API gave out.",
        ),
        **_ERRORS,
    },
)
async def list_suppressions(
    principal: AdministratorDep,
    session: OrgSessionDep,
    page: AddressPageDep,
    q: Annotated[
        str | None,
        Query(
            max_length=320,
            description="Only addresses containing this, any case (`@globex.example`: a "
            "whole domain)",
        ),
    ] = None,
    reason: Annotated[SuppressionReason | None, Query(description="Only this reason")] = None,
) -> Page[SuppressionRead]:
    """The addresses nobody in your org writes to again, in alphabetical order
    (Administrators only)."""
    items = await service.page(
        session, principal, contains=q, reason=reason, after=page.after, limit=page.limit + 1
    )
    more = len(items) > page.limit
    items = items[: page.limit]
    return Page[SuppressionRead](
        items=items, next_cursor=_encode_cursor(items[-1].email) if more else None
    )


@router.post(
    "",
    operation_id="add_suppression",
    summary="Suppress an address",
    response_model=SuppressionRead,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {
            "model": SuppressionRead,
            "description": "The address was on the list already: its entry, unchanged",
        },
        **_ERRORS,
    },
)
async def add_suppression(
    body: SuppressionCreate, principal: AdministratorDep, session: OrgSessionDep, response: Response
) -> SuppressionRead:
    """Put an address on your org's suppression list (201), as if it had unsubscribed:
    nobody in the org writes to it again, and every sequence to it stops at once. Adding
    an address already listed changes nothing and returns its entry (200)."""
    result = await service.add(session, principal, body)
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return result.entry


@router.get(
    "/{email:path}",
    operation_id="get_suppression",
    summary="Look up a suppressed address",
    response_model=SuppressionRead,
    responses={**_ERRORS, 404: _NOT_LISTED},
)
async def get_suppression(
    email: Address, principal: AdministratorDep, session: OrgSessionDep
) -> SuppressionRead:
    """Whether an address is on your org's suppression list, and why (404: it is not)."""
    return await service.get(session, principal, email)


@router.delete(
    "/{email:path}",
    operation_id="remove_suppression",
    summary="Remove an address from the list",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={204: {"description": "Removed"}, **_ERRORS, 404: _NOT_LISTED},
)
async def remove_suppression(
    email: Address, principal: AdministratorDep, session: OrgSessionDep
) -> Response:
    """Take an address off your org's suppression list: sends to it are allowed again.
    Nothing restarts: sequences the suppression stopped stay stopped, and leads it
    closed as unsubscribed or bounced are not written to again; new leads with the
    address are. Remove an unsubscribe or a complaint only when the person asked to
    hear from you again."""
    await service.remove(session, principal, email)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
