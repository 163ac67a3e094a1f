"""One-click unsubscribe from a real message: a GET only asks; a POST suppresses the
address in its org and the sequence stops for good (no further step reaches SMTP)."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from services.kit.db import Database, scope_to_all_orgs
from services.mailer.app import create_app
from services.mailer.models import suppressions
from services.mailer.settings import Settings
from tests.sequence.conftest import Engine, eventually
from tests.sequence.test_four_weeks import RECOMMENDED, START, by_lead, current, enroll
from tests.support.apps import client_for


async def suppressed(database: Database) -> list[tuple[str, str]]:
    async with database.transaction() as session:
        await scope_to_all_orgs(session)
        rows = await session.execute(select(suppressions.c.email, suppressions.c.reason))
        return [(r.email, r.reason) for r in rows]


async def test_one_click_unsubscribe_stops_the_sequence(
    engine: Engine, service_env: dict[str, Any]
) -> None:
    lead = await enroll(engine, "pat@umbrella.test", RECOMMENDED)
    await engine.tick((await current(engine, lead.lead_id))["next_send_at"])
    [message] = by_lead(engine, "pat@umbrella.test")
    link = re.search(r"<(https?://[^>]+)>", message["List-Unsubscribe"])
    assert link is not None
    path = "/v1/unsubscribe/" + link.group(1).rsplit("/", 1)[1]

    async with client_for(create_app(Settings.model_validate(service_env))) as mailer:
        page = await mailer.get(path)
        assert page.status_code == 200
        assert "pat@umbrella.test" in page.text
        assert await suppressed(engine.database) == []  # a GET never unsubscribes

        done = await mailer.post(
            path,
            content=b"List-Unsubscribe=One-Click",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert done.status_code == 200
        assert (await mailer.post(path)).status_code == 200  # again: no change
        assert (await mailer.post("/v1/unsubscribe/not-a-token")).status_code == 404

    assert await suppressed(engine.database) == [("pat@umbrella.test", "unsubscribe")]

    async def unsubscribed() -> bool:
        return bool((await current(engine, lead.lead_id))["status"] == "unsubscribed")

    await eventually(unsubscribed)
    clock = START
    while clock < START + timedelta(weeks=5):
        clock += timedelta(hours=12)
        await engine.tick(clock)
    assert len(by_lead(engine, "pat@umbrella.test")) == 1
