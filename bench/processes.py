"""The services as separate processes, as ``make run`` starts them, for the benches.

Each child gets the environment the launcher gives it (``devstack.launcher.child_env``
over ``devstack.stack``'s table) on the bench's servers, a free port of its own, and
its output in a log file (its tail is shown when it fails to start). The HTTP apps run
as ``python -m services.<svc>`` (uvicorn); the workers through ``bench.worker_process``,
which is ``python -m services.<svc>.worker`` without the periodic jobs (see there).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from services.kit.devstack import stack
from services.kit.devstack.launcher import ROOT, child_env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Child:
    """One started process: its name, port and log."""

    name: str
    port: int
    log: Path
    popen: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.popen.pid

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""


@dataclass
class Stack:
    """Children started by a bench, stopped (SIGTERM, then SIGKILL) on ``stop``."""

    values: stack.StackValues
    logs: Path
    extra_env: Mapping[str, str] = field(default_factory=dict)
    children: list[Child] = field(default_factory=list)

    def start(self, name: str, argv: Sequence[str] | None = None, **env: str) -> Child:
        """Start the table's process ``name`` (``inbound``, ``mailer-worker``...):
        workers through ``bench.worker_process``, HTTP apps as ``make run`` does."""
        table = stack.processes()
        process = stack.process(name)
        port = free_port()
        environment = child_env(process, self.values, table, os.environ)
        environment.update(self.extra_env)
        environment.update(env)
        environment[process.port_env] = str(port)
        if argv is None:
            argv = (
                ["-m", "bench.worker_process", process.service]
                if process.kind == "worker"
                else process.argv
            )
        label = f"{name}-{len(self.children)}"
        log = self.logs / f"{label}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(  # noqa: S603 - our own modules, our own arguments
                [sys.executable, *argv],
                cwd=ROOT,
                env=environment,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        child = Child(label, port, log, popen)
        self.children.append(child)
        return child

    async def ready(self, within: float = 90.0) -> None:
        """Until every child's ``/readyz`` answers 200 (``within`` seconds at most)."""
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(timeout=2.0) as client:
            for child in self.children:
                while True:
                    if child.popen.poll() is not None:
                        raise RuntimeError(f"{child.name} exited:\n{child.tail()}")
                    with contextlib.suppress(httpx.HTTPError):
                        if (await client.get(child.url("/readyz"))).status_code == 200:
                            break
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{child.name} not ready:\n{child.tail()}")
                    await asyncio.sleep(0.1)

    async def stop(self, grace: float = 30.0) -> None:
        """SIGTERM every child (workers finish their jobs), SIGKILL what lingers."""
        for child in self.children:
            if child.popen.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in self.children:
            with contextlib.suppress(subprocess.TimeoutExpired):
                left = max(0.0, deadline - time.monotonic())
                await asyncio.to_thread(child.popen.wait, left)
            if child.popen.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGKILL)
                child.popen.wait()
        self.children.clear()


def cpu_of(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used; 0 when it is gone or not
    ours to read."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """The processes below ``pid`` (the parse workers of an inbound worker)."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*/children"):
            with contextlib.suppress(OSError, ValueError):
                kids = [int(k) for k in task.read_text().split()]
                found += kids
                todo += kids
    return found
