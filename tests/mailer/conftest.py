"""The mailer's settings for the tests (the test SMTP server, short retries) and a
real mailer worker on them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.kit.db import Database
from services.kit.worker import RunningWorker, running
from services.mailer.settings import Settings
from services.mailer.worker import spec
from tests.support.smtp import SmtpServer


@pytest.fixture
def mailer_settings(service_env: dict[str, Any], smtp_server: SmtpServer) -> Settings:
    return Settings.model_validate(
        {
            **service_env,
            "smtp_port": smtp_server.port,
            "smtp_timeout_seconds": 1.0,
            "retry_base_seconds": 0.05,
            "retry_max_seconds": 0.1,
            "max_tries": 3,
            "mail_from": "Pursuit <no-reply@pursuit.test>",
        }
    )


@pytest.fixture
async def worker(mailer_settings: Settings, committed: Database) -> AsyncIterator[RunningWorker]:
    async with running(spec(mailer_settings), committed) as handle:
        yield handle
