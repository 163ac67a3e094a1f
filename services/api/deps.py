"""Request dependencies of the api."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.kit.crypto import SecretBox


def _secret_box(request: Request) -> SecretBox:
    box: SecretBox = request.app.state.secret_box
    return box


SecretBoxDep = Annotated[SecretBox, Depends(_secret_box)]
