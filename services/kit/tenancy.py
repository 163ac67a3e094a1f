"""The request session scoped to the caller's org: row-level security shows it only
that org's rows, behind every repository's own org filter."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.auth import PrincipalDep
from services.kit.db import SessionDep, scope_to_org


async def org_session(principal: PrincipalDep, session: SessionDep) -> AsyncSession:
    await scope_to_org(session, principal.org_id)
    return session


OrgSessionDep = Annotated[AsyncSession, Depends(org_session)]
