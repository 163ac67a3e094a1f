"""``python -m services.kit.devstack`` (``make run``) as a user runs it: every process
answers ``/readyz``, and one Ctrl-C stops everything it started.

Every port is a free one, so a run never meets a stack already running on the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from services.kit import dbadmin
from services.kit.devstack import stack
from services.kit.devstack.embedded import alive, free_port
from services.kit.devstack.launcher import READY_TEXT

if TYPE_CHECKING:
    from tests.conftest import ProvisionedDatabase

ROOT = Path(__file__).resolve().parents[2]
BOOT_TIMEOUT = 90.0
STOP_TIMEOUT = 40.0


def _free_ports() -> dict[str, str]:
    """A free port for every process and for the catcher."""
    env = {"DEVSTACK_SMTP_PORT": str(free_port())}
    for process in stack.processes():
        env[process.port_env] = str(free_port())
    return env


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


@dataclass
class Launch:
    process: asyncio.subprocess.Process
    env: dict[str, str]
    data_dir: Path
    lines: list[str] = field(default_factory=list)
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def output(self) -> str:
        """The last lines (for failure messages)."""
        return "\n".join(self.lines[-80:])

    @property
    def everything(self) -> str:
        return "\n".join(self.lines)

    async def read(self) -> None:
        """Keep draining the output (a full pipe would block the stack's processes)."""
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            line = raw.decode(errors="replace").rstrip()
            self.lines.append(line)
            if READY_TEXT in line:
                self.ready.set()

    async def wait_ready(self) -> None:
        exited = asyncio.ensure_future(self.process.wait())
        ready = asyncio.ensure_future(self.ready.wait())
        done, _ = await asyncio.wait(
            {exited, ready}, timeout=BOOT_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
        )
        exited.cancel()
        ready.cancel()
        assert ready in done, f"the stack did not come up:\n{self.output}"

    def started(self) -> dict[str, int]:
        """What the launcher recorded as started, by command (its ledger, while it runs)."""
        ledger = json.loads((self.data_dir / "devstack.json").read_text())
        return {str(entry["marker"]): int(entry["pid"]) for entry in ledger["processes"]}


@contextlib.asynccontextmanager
async def launched(env: Mapping[str, str], data_dir: Path) -> AsyncIterator[Launch]:
    full_env = {**os.environ, **env, "DEVSTACK_DATA_DIR": str(data_dir)}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.kit.devstack",
        cwd=ROOT,
        env=full_env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    launch = Launch(process, full_env, data_dir)
    reader = asyncio.create_task(launch.read())
    try:
        yield launch
    finally:
        if process.returncode is None:  # a failed test: still stop everything
            process.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
            except TimeoutError:
                process.kill()
                await process.wait()
        await asyncio.wait_for(reader, 10)


async def _check_ready(launch: Launch) -> dict[str, int]:
    """Every process answers; returns what the launcher started (pid by command)."""
    await launch.wait_ready()
    table = stack.processes(launch.env)
    async with httpx.AsyncClient(timeout=5) as client:
        for process in table:
            response = await client.get(process.url(process.health_path))
            assert response.status_code == 200, (process.name, response.text)
        docs = await client.get(stack.process("api", launch.env).url("/docs"))
        assert docs.status_code == 200
    started = launch.started()
    assert {" ".join(p.argv) for p in table} <= set(started)
    return started


def _assert_nothing_left(launch: Launch, started: dict[str, int]) -> None:
    assert [name for name, pid in started.items() if alive(pid)] == [], launch.output
    assert [p.name for p in stack.processes(launch.env) if _listening(p.port)] == []
    assert not _listening(int(launch.env["DEVSTACK_SMTP_PORT"]))
    assert not (launch.data_dir / "devstack.json").exists()


@pytest.fixture
async def own_database(test_database: ProvisionedDatabase) -> AsyncIterator[dbadmin.DatabaseUrls]:
    """A database of this test's own (not migrated: the launcher does it) on the
    suite's server, local or embedded."""
    name = f"pursuit_devstack_{uuid.uuid4().hex[:10]}"
    urls = await dbadmin.provision(test_database.admin_url, name)
    try:
        yield urls
    finally:
        await dbadmin.drop(test_database.admin_url, name)


async def test_the_stack_runs_on_the_given_urls_and_stops_on_ctrl_c(
    own_database: dbadmin.DatabaseUrls, redis_url: str, scratch_dir: Path
) -> None:
    env = {
        **_free_ports(),
        # As a user would write them: the launcher turns them into asyncpg URLs.
        "DATABASE_URL": own_database.app.replace("postgresql+asyncpg://", "postgresql://"),
        "MIGRATION_DATABASE_URL": own_database.owner,
        "REDIS_URL": redis_url,
        "QUEUE_NAMESPACE": f"test-{uuid.uuid4().hex[:10]}",
    }
    async with launched(env, scratch_dir) as launch:
        started = await _check_ready(launch)
        launch.process.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(launch.process.wait(), STOP_TIMEOUT)
    assert code == 0, launch.output
    _assert_nothing_left(launch, started)
    assert "provisioning" not in launch.everything  # the user's database is theirs


async def test_embedded_servers_boot_and_a_dying_process_stops_everything(
    scratch_dir: Path,
) -> None:
    """A fresh machine (no URLs, nothing on the default ports): embedded servers.
    When a process dies, the launcher says so and stops the rest, servers included."""
    env = {**_free_ports(), "DEVSTACK_EMBEDDED": "1"}
    for name in ("DATABASE_URL", "MIGRATION_DATABASE_URL", "REDIS_URL"):
        env[name] = ""  # not set: the launcher boots its own
    async with launched(env, scratch_dir) as launch:
        started = await _check_ready(launch)
        assert "embedded PostgreSQL" in launch.everything
        assert "embedded Redis" in launch.everything
        assert {"postgres", "redis"} <= set(started)
        os.kill(started["-m services.scheduler.worker"], signal.SIGKILL)
        code = await asyncio.wait_for(launch.process.wait(), STOP_TIMEOUT)
    assert code == 1, launch.output
    assert "scheduler-worker exited unexpectedly" in launch.everything
    _assert_nothing_left(launch, started)
