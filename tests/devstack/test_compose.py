"""compose.yaml runs what ``make run`` runs: the process table of ``stack.py`` is the
source of truth, and this checks the compose file against it (no Docker needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from services.kit.devstack import stack

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = compose["services"]
    return result


def _env_names(service: dict[str, Any]) -> set[str]:
    environment = service.get("environment") or {}
    if isinstance(environment, list):  # the `- NAME=value` form
        return {item.split("=", 1)[0] for item in environment}
    return set(environment)


@pytest.mark.parametrize("process", stack.processes(), ids=lambda p: p.name)
def test_every_process_runs_with_the_same_command(
    services: dict[str, Any], process: stack.Process
) -> None:
    assert process.name in services, f"compose.yaml has no service {process.name!r}"
    assert services[process.name]["command"] == process.command


@pytest.mark.parametrize("process", stack.processes(), ids=lambda p: p.name)
def test_every_process_gets_the_same_variables(
    services: dict[str, Any], process: stack.Process
) -> None:
    assert _env_names(services[process.name]) == set(process.env_names)


@pytest.mark.parametrize("process", stack.processes(), ids=lambda p: p.name)
def test_every_process_listens_on_its_port_and_is_health_checked(
    services: dict[str, Any], process: stack.Process
) -> None:
    service = services[process.name]
    assert service["environment"][process.port_env] == str(process.port)
    assert service["environment"][process.host_env] == "0.0.0.0"  # noqa: S104 - in a container
    assert f"127.0.0.1:{process.port}:{process.port}" in service["ports"]
    probe = " ".join(service["healthcheck"]["test"])
    assert f"http://127.0.0.1:{process.port}{process.health_path}" in probe


def test_the_servers_the_mail_catcher_and_the_migration_exist(services: dict[str, Any]) -> None:
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    assert services["mailpit"]["image"].startswith("axllent/mailpit")
    migrate = services[stack.MIGRATE.name]
    assert migrate["command"] == stack.MIGRATE.command
    assert _env_names(migrate) == set(stack.MIGRATE.env_names)
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_processes_start_after_the_migration(services: dict[str, Any]) -> None:
    for process in stack.processes():
        depends_on = services[process.name]["depends_on"]
        assert depends_on[stack.MIGRATE.name]["condition"] == "service_completed_successfully"
        assert depends_on["redis"]["condition"] == "service_healthy"


def test_the_mailer_sends_to_the_catcher(services: dict[str, Any]) -> None:
    for name in ("mailer", "mailer-worker"):
        environment = services[name]["environment"]
        assert environment["MAILER_SMTP_HOST"] == "mailpit"
        assert environment["MAILER_SMTP_PORT"] == "1025"


def test_the_database_init_script_creates_the_roles_the_urls_use(
    services: dict[str, Any],
) -> None:
    volumes = services["postgres"]["volumes"]
    assert any(
        v.startswith("./deploy/postgres-init.sql:/docker-entrypoint-initdb.d/") for v in volumes
    )
    script = (ROOT / "deploy" / "postgres-init.sql").read_text()
    for statement in (
        "CREATE ROLE pursuit_owner",
        "CREATE ROLE pursuit_app",
        "CREATE DATABASE pursuit OWNER pursuit_owner",
    ):
        assert statement in script
    environment = services["api"]["environment"]
    assert environment["DATABASE_URL"].startswith("postgresql+asyncpg://pursuit_app:")
    assert environment["MIGRATION_DATABASE_URL"].startswith("postgresql+asyncpg://pursuit_owner:")


def test_the_image_installs_the_project_without_the_embedded_servers() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11-slim" in dockerfile
    assert "pip install ." in dockerfile
    assert "[embedded]" not in dockerfile


def test_the_table_has_every_service_http_and_worker() -> None:
    table = stack.processes()
    assert [p.name for p in table if p.kind == "http"] == list(stack.SERVICES)
    assert {p.name: p.port for p in table} == {
        **{s: port for s, port in stack.HTTP_PORTS.items()},
        **{f"{s}-worker": port for s, port in stack.WORKER_PORTS.items()},
    }
    assert stack.process("api").argv == ["-m", "services.api"]
    assert stack.process("api-worker").argv == ["-m", "services.api.worker"]


def test_ports_move_with_the_variables_the_settings_read() -> None:
    moved = stack.processes({"API_PORT": "18000", "MAILER_WORKER_PORT": "19003"})
    ports = {p.name: p.port for p in moved}
    assert ports["api"] == 18000
    assert ports["mailer-worker"] == 19003
    assert ports["identity"] == 8001


def test_the_environment_is_exactly_the_declared_names() -> None:
    table = stack.processes({"IDENTITY_PORT": "18001"})
    values = stack.StackValues(
        database_url="postgresql+asyncpg://pursuit_app@127.0.0.1:5432/pursuit",
        migration_database_url="postgresql+asyncpg://pursuit_owner@127.0.0.1:5432/pursuit",
        redis_url="redis://127.0.0.1:6379/0",
        smtp_host="127.0.0.1",
        smtp_port=1025,
    )
    for process in table:
        env = stack.environment(process, values, table)
        assert set(env) == set(process.env_names)
        assert env["PUBLIC_BASE_URL"] == "http://127.0.0.1:8000"
        assert env["JWKS_URL"] == "http://127.0.0.1:18001/.well-known/jwks.json"
        assert env[process.port_env] == str(process.port)
    mailer = stack.environment(stack.process("mailer-worker"), values, table)
    assert mailer["MAILER_SMTP_PORT"] == "1025"
