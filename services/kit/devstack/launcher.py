"""``python -m services.kit.devstack`` (what ``make run`` runs): the whole stack, locally.

1. Find PostgreSQL and Redis (:func:`~services.kit.devstack.embedded.ensure_servers`):
   the URLs in the environment, else the servers on the default ports, else
   embedded ones under ``.data/``.
2. Provision the ``pursuit`` database and its roles (unless ``DATABASE_URL`` names
   the user's own database) and migrate it to head.
3. Start the mail catcher (``.data/outbox/*.eml``), unless ``MAILER_SMTP_HOST`` names
   a relay.
4. Start every process of :mod:`~services.kit.devstack.stack`, wait for each
   ``/readyz``, print where everything is.
5. Supervise: on Ctrl-C or SIGTERM, or when a process dies, stop the processes
   (SIGTERM to each process group, SIGKILL after a grace period), then the catcher,
   then the embedded servers. Nothing is left running.

Signals only set a flag: the launcher acts on it between steps and while it waits,
so it never stops half-way through starting a process. A second Ctrl-C while it is
still booting interrupts the step at hand; while it is stopping, it kills at once.

Overrides (environment): ``DATABASE_URL``, ``MIGRATION_DATABASE_URL`` (default: the
same) and ``REDIS_URL`` to use servers of your own; ``DEVSTACK_EMBEDDED=1`` to boot
embedded servers even when the default ports answer; ``DEVSTACK_DATA_DIR`` (``.data``);
``DEVSTACK_SMTP_PORT`` (1025, else a free port); ``MAILER_SMTP_HOST``/``_PORT`` to send
through a real relay instead of the catcher; ``DEVSTACK_READY_TIMEOUT`` (60 s);
``DEVSTACK_STOP_GRACE`` (25 s); ``LOG_FORMAT`` (console); ``PUBLIC_BASE_URL``; and the
ports the services read (``API_PORT``, ``API_WORKER_PORT``, ``IDENTITY_PORT``...).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any

from sqlalchemy.engine import make_url

from services.kit import dbadmin, migrations
from services.kit.devstack import stack
from services.kit.devstack.embedded import (
    EmbeddedPostgres,
    EmbeddedServerError,
    Servers,
    alive,
    command_line,
    ensure_servers,
    free_port,
    port_is_free,
    stop_leftover,
)
from services.kit.devstack.mailcatcher import DEFAULT_PORT as DEFAULT_SMTP_PORT
from services.kit.devstack.mailcatcher import MailCatcher

ROOT = Path(__file__).resolve().parents[3]
DATABASE = "pursuit"
# The line that says the stack is up (the launcher test waits for it).
READY_TEXT = "ready: every process answers /readyz; Ctrl-C stops everything"
NAME_WIDTH = 16

log = logging.getLogger("pursuit.devstack")


class LaunchError(Exception):
    """The stack cannot start; the message says why and what to do."""


class ChildDied(Exception):
    """A process of the stack exited on its own."""


# -- configuration -------------------------------------------------------------------------


@dataclass(frozen=True)
class LaunchConfig:
    """What the launcher reads from the environment."""

    env: Mapping[str, str]
    data_dir: Path
    smtp_port: int | None
    ready_timeout: float
    stop_grace: float
    log_format: str

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LaunchConfig:
        smtp_port = env.get("DEVSTACK_SMTP_PORT")
        return cls(
            env=env,
            data_dir=Path(env.get("DEVSTACK_DATA_DIR") or ROOT / ".data").resolve(),
            smtp_port=int(smtp_port) if smtp_port else None,
            ready_timeout=float(env.get("DEVSTACK_READY_TIMEOUT") or 60),
            # A worker finishes its running jobs for up to 20 s before it exits.
            stop_grace=float(env.get("DEVSTACK_STOP_GRACE") or 25),
            log_format=env.get("LOG_FORMAT") or "console",
        )


# -- signals -------------------------------------------------------------------------------


@dataclass
class Signals:
    """SIGINT, SIGTERM and SIGHUP become a flag the launcher polls."""

    received: int = 0
    stopping_started: bool = False

    def install(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.received += 1
        if self.received > 1 and not self.stopping_started:
            raise KeyboardInterrupt  # a second Ctrl-C: give up on a step that hangs

    @property
    def stop_requested(self) -> bool:
        return self.received > 0

    @property
    def hurry(self) -> bool:
        """Asked twice: kill instead of waiting for a graceful exit."""
        return self.received > 1


class Stopped(Exception):
    """A signal asked the launcher to stop."""


def _check(signals: Signals) -> None:
    if signals.stop_requested:
        raise Stopped


# -- output ----------------------------------------------------------------------------------

_output_lock = threading.Lock()


def _emit(line: str) -> None:
    with _output_lock, contextlib.suppress(OSError, ValueError):
        sys.stdout.write(line if line.endswith("\n") else line + "\n")
        sys.stdout.flush()


def say(message: str) -> None:
    """A line of the launcher's own, in the same column layout as the processes'."""
    for line in message.splitlines() or [""]:
        _emit(f"{'devstack':<{NAME_WIDTH}} | {line}")


class _SayHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        say(self.format(record))


def _configure_logging() -> None:
    handler = _SayHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd: a line per SMTP verb


def _pump(name: str, stream: IO[bytes]) -> None:
    """Copy a process's output, each line prefixed with its name."""
    prefix = f"{name:<{NAME_WIDTH}} | "
    for raw in iter(stream.readline, b""):
        _emit(prefix + raw.decode(errors="replace").rstrip("\n"))
    stream.close()


# -- what a run leaves behind ----------------------------------------------------------------


@dataclass
class Ledger:
    """What this run started, on disk (``.data/devstack.json``), so that the run after
    one that was killed (SIGKILL, a crash) stops what it left before starting anything:
    its processes would hold the ports, and its embedded PostgreSQL would be mistaken
    for a server of the user's."""

    path: Path
    entries: list[dict[str, Any]] = field(default_factory=list)

    def claim(self) -> None:
        """Stop the leftovers of a dead run; refuse if that run is alive."""
        previous = self._read()
        launcher = int(previous.get("launcher") or 0)
        if launcher and launcher != os.getpid() and _is_devstack(launcher):
            raise LaunchError(f"another devstack (pid {launcher}) uses {self.path.parent}")
        for entry in reversed(previous.get("processes", [])):
            pid, marker = int(entry["pid"]), str(entry["marker"])
            stop_leftover(pid, _contains(marker), signal.SIGTERM, group=True)
        self._save()

    def add(self, pid: int, marker: str) -> None:
        """Record a process group we started; ``marker`` is part of its command line."""
        self.entries.append({"pid": pid, "marker": marker})
        self._save()

    def release(self) -> None:
        """Everything stopped: nothing to clean up next time."""
        self.path.unlink(missing_ok=True)

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".partial")
        partial.write_text(json.dumps({"launcher": os.getpid(), "processes": self.entries}))
        os.replace(partial, self.path)


def _is_devstack(pid: int) -> bool:
    return alive(pid) and "services.kit.devstack" in command_line(pid)


def _contains(marker: str) -> Callable[[str], bool]:
    return lambda command: marker in command


# -- the processes -------------------------------------------------------------------------


@dataclass
class Child:
    process: stack.Process
    popen: subprocess.Popen[bytes]
    pump: threading.Thread


@dataclass
class Children:
    """The stack's processes, each in its own process group (so a terminal's Ctrl-C
    reaches only the launcher, which stops them in order)."""

    items: list[Child] = field(default_factory=list)

    def start(self, process: stack.Process, env: Mapping[str, str], ledger: Ledger) -> None:
        popen = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, *process.argv],
            cwd=ROOT,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        ledger.add(popen.pid, " ".join(process.argv))
        assert popen.stdout is not None
        pump = threading.Thread(
            target=_pump, args=(process.name, popen.stdout), name=f"pump-{process.name}"
        )
        pump.daemon = True
        pump.start()
        self.items.append(Child(process, popen, pump))

    def first_dead(self) -> Child | None:
        return next((c for c in self.items if c.popen.poll() is not None), None)

    def terminate(self, grace: float, hurry: Callable[[], bool]) -> None:
        """SIGTERM every process group, wait up to ``grace``, SIGKILL what is left."""
        running = [c for c in self.items if c.popen.poll() is None]
        if running:
            say(f"stopping {len(running)} processes")
        for child in running:
            _signal_group(child.popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while any(c.popen.poll() is None for c in running):
            if time.monotonic() > deadline or hurry():
                break
            time.sleep(0.1)
        for child in self.items:
            if child.popen.poll() is None:
                say(f"{child.process.name} has not stopped: killing it")
            # The whole group, even when its leader is gone: nothing of it may outlive us.
            _signal_group(child.popen.pid, signal.SIGKILL)
            child.popen.wait()
            child.pump.join(timeout=2)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _probe(url: str) -> tuple[int, str]:
    """The status of ``GET url`` and a short reason (0 when nothing answers)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - http://127.0.0.1
            return int(response.status), "ready"
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(300).decode(errors="replace")
    except (OSError, ValueError) as exc:
        return 0, f"not answering ({exc})"


def wait_ready(children: Children, timeout: float, signals: Signals) -> None:
    """Return once every process answers its health path with 200."""
    pending = {c.process.name: c.process for c in children.items}
    reasons: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while pending:
        _check(signals)
        dead = children.first_dead()
        if dead is not None:
            raise ChildDied(f"{dead.process.name} exited with code {dead.popen.returncode}")
        for name, process in list(pending.items()):
            status, reasons[name] = _probe(process.url(process.health_path))
            if status == 200:
                del pending[name]
        if pending and time.monotonic() > deadline:
            details = "; ".join(f"{name}: {reasons[name]}" for name in pending)
            raise LaunchError(f"not ready after {timeout:.0f} s: {details}")
        time.sleep(0.2)


def supervise(children: Children, signals: Signals) -> int:
    """Wait for a signal (exit 0) or a process that dies (exit 1)."""
    while True:
        if signals.stop_requested:
            say("stopping (signal received)")
            return 0
        dead = children.first_dead()
        if dead is not None:
            say(
                f"{dead.process.name} exited unexpectedly with code "
                f"{dead.popen.returncode}: stopping everything"
            )
            return 1
        time.sleep(0.2)


# -- the steps -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Database:
    app_url: str
    owner_url: str
    origin: str


def _asyncpg_url(url: str) -> str:
    """The services' URL form (SQLAlchemy on asyncpg), from any PostgreSQL URL."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    return make_url(url).set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def prepare_database(servers: Servers) -> Database:
    """Provision (on a server we administer) and migrate the database."""
    if servers.admin_url is not None:
        say(f"provisioning the database {DATABASE!r}")
        urls = asyncio.run(dbadmin.provision(servers.admin_url, DATABASE))
        database = Database(urls.app, urls.owner, servers.postgres_origin)
    else:
        assert servers.database_url
        assert servers.migration_database_url
        database = Database(
            _asyncpg_url(servers.database_url),
            _asyncpg_url(servers.migration_database_url),
            servers.postgres_origin,
        )
    say("migrating the database to head")
    migrations.upgrade(database.owner_url, app_role=make_url(database.app_url).username)
    return database


@dataclass(frozen=True)
class Mail:
    host: str
    port: int
    where: str


def start_mail(config: LaunchConfig, cleanup: contextlib.ExitStack) -> Mail:
    """The catcher, unless ``MAILER_SMTP_HOST`` names a relay of the user's."""
    relay = config.env.get("MAILER_SMTP_HOST")
    if relay:
        port = int(config.env.get("MAILER_SMTP_PORT") or 25)
        return Mail(relay, port, f"SMTP relay {relay}:{port} (MAILER_SMTP_HOST)")
    if config.smtp_port is None:
        port = DEFAULT_SMTP_PORT if port_is_free(DEFAULT_SMTP_PORT) else free_port()
    elif port_is_free(config.smtp_port):
        port = config.smtp_port
    else:
        raise LaunchError(f"DEVSTACK_SMTP_PORT={config.smtp_port} is taken")
    outbox = config.data_dir / "outbox"
    catcher = MailCatcher(outbox, port=port)
    catcher.start()
    cleanup.callback(catcher.stop)
    return Mail("127.0.0.1", port, f"SMTP 127.0.0.1:{port} -> {outbox}/*.eml")


def _check_ports(table: list[stack.Process]) -> None:
    taken = [p for p in table if not port_is_free(p.port)]
    if taken:
        lines = [f"port {p.port} ({p.name}) is taken: free it or set {p.port_env}" for p in taken]
        raise LaunchError("\n".join(lines))


def child_env(
    process: stack.Process,
    values: stack.StackValues,
    table: list[stack.Process],
    base: Mapping[str, str],
) -> dict[str, str]:
    """The user's environment, then the stack's values (which win)."""
    env = {**base, **stack.environment(process, values, table)}
    env["PYTHONUNBUFFERED"] = "1"  # log lines reach the terminal as they happen
    return env


def print_table(
    table: list[stack.Process], database: Database, servers: Servers, mail: Mail
) -> None:
    lines = [f"{'service':<10} {'http':<24} {'docs':<30} worker /readyz"]
    workers = {p.service: p for p in table if p.kind == "worker"}
    for process in (p for p in table if p.kind == "http"):
        worker = workers[process.service]
        lines.append(
            f"{process.service:<10} {process.url():<24} {process.url('/docs'):<30} "
            f"{worker.url(worker.health_path)}"
        )
    lines.append(f"PostgreSQL {_hide_password(database.app_url)} ({database.origin})")
    lines.append(f"Redis      {_hide_password(servers.redis_url)} ({servers.redis_origin})")
    lines.append(f"Mail       {mail.where}")
    say("\n".join(lines))


def _hide_password(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


# -- main ----------------------------------------------------------------------------------


def run(config: LaunchConfig, signals: Signals) -> int:
    """Boot, supervise and stop the stack; the exit code of the launcher."""
    with contextlib.ExitStack() as cleanup:
        try:
            return _boot_and_supervise(config, signals, cleanup)
        except Stopped:
            say("stopping (signal received)")
            return 0
        except ChildDied as exc:
            say(f"{exc}: stopping everything")
            return 1
        except (LaunchError, EmbeddedServerError) as exc:
            say(f"cannot start: {exc}")
            return 1
        finally:
            # Before the clean-up runs: from now on a signal only hurries it along,
            # and never interrupts it half-way.
            signals.stopping_started = True
    return 1  # unreachable (mypy cannot tell that ExitStack swallows nothing)


def _boot_and_supervise(
    config: LaunchConfig, signals: Signals, cleanup: contextlib.ExitStack
) -> int:
    started = time.monotonic()
    ledger = Ledger(config.data_dir / "devstack.json")
    ledger.claim()
    cleanup.callback(ledger.release)  # runs last, once everything has stopped
    table = stack.processes(config.env)
    _check_ports(table)  # before booting anything: fail fast
    servers = ensure_servers(config.data_dir, config.env)
    cleanup.callback(servers.stop)
    for server in servers.embedded:
        ledger.add(server.pid, "postgres" if isinstance(server, EmbeddedPostgres) else "redis")
    _check(signals)
    database = prepare_database(servers)
    _check(signals)
    mail = start_mail(config, cleanup)
    values = stack.StackValues(
        database_url=database.app_url,
        migration_database_url=database.owner_url,
        redis_url=servers.redis_url,
        smtp_host=mail.host,
        smtp_port=mail.port,
        log_format=config.log_format,
        # A tunnel's URL, say, so that inbound webhooks from the outside reach the api.
        public_base_url=config.env.get("PUBLIC_BASE_URL") or None,
    )
    children = Children()
    cleanup.callback(children.terminate, config.stop_grace, lambda: signals.hurry)
    for process in table:
        children.start(process, child_env(process, values, table, config.env), ledger)
    say(f"started {len(table)} processes; waiting for /readyz")
    wait_ready(children, config.ready_timeout, signals)
    print_table(table, database, servers, mail)
    say(f"up in {time.monotonic() - started:.1f} s")
    say(READY_TEXT)
    return supervise(children, signals)


def main(argv: Sequence[str] | None = None) -> int:
    """Everything is configured by environment variables (the services' own); the
    command line only has ``--help``."""
    argparse.ArgumentParser(
        prog="python -m services.kit.devstack",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    ).parse_args(argv)
    _configure_logging()
    signals = Signals()
    signals.install()
    try:
        code = run(LaunchConfig.from_env(dict(os.environ)), signals)
    except KeyboardInterrupt:  # a second Ctrl-C while booting; everything is stopped
        code = 130
    say("stopped")
    return code
