"""One-click unsubscribe (RFC 8058): a POST unsubscribes, with no redirect and no
login; a GET only shows a confirmation page (mail scanners follow links, so a GET
must never unsubscribe by itself)."""

from __future__ import annotations

import html

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.kit.db import SessionDep
from services.mailer.suppression import service

router = APIRouter(prefix="/v1/unsubscribe", tags=["unsubscribe"])

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 32rem; margin: 3rem auto;">
<h1>{title}</h1><p>{text}</p>{form}</body></html>"""


def _page(title: str, text: str, form: str = "") -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=title, text=text, form=form))


@router.get("/{token}", response_class=HTMLResponse, summary="Confirm unsubscribing")
async def confirm(token: str, session: SessionDep) -> HTMLResponse:
    """A page asking to confirm; it changes nothing."""
    address = await service.address_of(session, token)
    return _page(
        "Unsubscribe",
        f"Stop all emails to <strong>{html.escape(address)}</strong>?",
        f'<form method="post" action="{html.escape(token)}">'
        '<button type="submit">Unsubscribe</button></form>',
    )


@router.post("/{token}", response_class=HTMLResponse, summary="Unsubscribe (one click)")
async def unsubscribe(token: str, request: Request, session: SessionDep) -> HTMLResponse:
    """Unsubscribe the link's address: it is suppressed in its org and every sequence
    to it stops. Repeating it changes nothing. The body (``List-Unsubscribe=One-Click``
    from a mail client, or a form) is not needed."""
    result = await service.unsubscribe(session, token)
    return _page(
        "You are unsubscribed",
        f"No more emails will go to <strong>{html.escape(result.email)}</strong>.",
    )
