"""Operators see request and job metrics, the outbox backlog, JSON logs with request
ids, and a worker's own readiness."""

from __future__ import annotations

import dataclasses
import json
import uuid
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import make_url

from services.api.app import create_app
from services.api.models import outbox as api_outbox
from services.api.settings import Settings
from services.kit.db import Database
from services.kit.outbox import publish
from services.kit.worker import worker_ops_app
from services.mailer.settings import Settings as MailerSettings
from services.mailer.worker import spec as mailer_spec
from shared.contracts import SendEmail
from tests.support.apps import client_for
from tests.support.tcpproxy import TcpProxy


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    return [
        (s.labels, s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    ]


async def test_request_metrics_are_labelled_by_route_template_and_status(
    service_env: dict[str, Any],
) -> None:
    async with client_for(create_app(Settings.model_validate(service_env))) as client:
        await client.get("/healthz")
        await client.get(f"/no/such/{uuid.uuid4()}")
        text = (await client.get("/metrics")).text
    counts = samples(text, "pursuit_http_requests_total")
    healthz = [
        v for labels, v in counts if labels["route"] == "/healthz" and labels["status"] == "200"
    ]
    assert healthz
    assert healthz[0] >= 1
    # An unknown path is counted under one label, never under the path itself
    # (a client must not be able to mint label values).
    assert any(labels["route"] == "unmatched" and labels["status"] == "404" for labels, _ in counts)
    assert not any("/no/such" in labels["route"] for labels, _ in counts)
    assert samples(text, "pursuit_http_request_duration_seconds_count")


async def test_outbox_backlog_is_exported(service_env: dict[str, Any], committed: Database) -> None:
    async with committed.transaction() as s:
        for _ in range(3):
            await publish(
                s,
                api_outbox,
                SendEmail(idempotency_key=uuid.uuid4(), to="a@example.com", subject="s", text="t"),
            )
    async with client_for(create_app(Settings.model_validate(service_env))) as client:
        text = (await client.get("/metrics")).text
    assert ({"service": "api"}, 3.0) in samples(text, "pursuit_outbox_backlog")


async def test_logs_are_json_with_the_request_id(
    service_env: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    env = {**service_env, "LOG_FORMAT": "json"}
    async with client_for(create_app(Settings.model_validate(env))) as client:
        await client.get("/healthz", headers={"x-request-id": "trace-42"})
    lines = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")
    ]
    [entry] = [
        e for e in lines if e.get("event") == "request" and e.get("request_id") == "trace-42"
    ]
    assert entry["route"] == "/healthz"
    assert entry["status"] == 200
    assert entry["service"] == "api"
    assert entry["level"] == "info"


async def test_worker_readiness_needs_redis_and_the_database(
    service_env: dict[str, Any], redis_url: str, committed: Database
) -> None:
    url = make_url(redis_url.replace("redis://", "postgresql://"))
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 6379)
    await proxy.start()
    proxied = redis_url.replace(f":{url.port}", f":{proxy.port}", 1)
    settings = MailerSettings.model_validate({**service_env, "REDIS_URL": proxied})
    app = worker_ops_app(dataclasses.replace(mailer_spec(settings), outbox=None))
    try:
        async with client_for(app) as client:
            ready = await client.get("/readyz")
            assert ready.status_code == 200, ready.text
            await proxy.stop()
            down = await client.get("/readyz")
            assert down.status_code == 503
            assert down.json()["down"] == ["redis"]
            await proxy.start()
            assert (await client.get("/readyz")).status_code == 200
            metrics = (await client.get("/metrics")).text
    finally:
        await proxy.stop()
    # The worker's own ops requests are measured like any service's.
    readyz = {
        labels["status"]: value
        for labels, value in samples(metrics, "pursuit_http_requests_total")
        if labels["service"] == "mailer-worker" and labels["route"] == "/readyz"
    }
    assert readyz["503"] >= 1
    assert readyz["200"] >= 2
