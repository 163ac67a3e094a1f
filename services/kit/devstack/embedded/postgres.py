"""The embedded PostgreSQL: pgserver's binaries, run by us on 127.0.0.1 over TCP.

As root it runs as an unprivileged system user (see the package docstring); the
data directory is initialised on first use and reused after."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import stat
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from services.kit.devstack.embedded.processes import (
    LOCALHOST,
    START_TIMEOUT_SECONDS,
    EmbeddedServerError,
    Process,
    _package_dir,
    _stop_child,
    _wait_until,
    stop_leftover,
)

if TYPE_CHECKING:
    import pwd

log = logging.getLogger("pursuit.devstack")

POSTGRES_SUPERUSER = "postgres"
DEFAULT_POSTGRES_SYSTEM_USER = "pgserver"
DEFAULT_POSTGRES_PORT = 5432
DEFAULT_ADMIN_URL = (
    f"postgresql://{POSTGRES_SUPERUSER}@{LOCALHOST}:{DEFAULT_POSTGRES_PORT}/postgres"
)

# Five services and five workers, each with a pool of up to 2 x 10 connections, plus
# tests and psql: PostgreSQL's default of 100 is too few for the whole stack.
POSTGRES_SETTINGS: Mapping[str, str] = {"max_connections": "300"}


def postgres_bin_dir() -> Path:
    """The PostgreSQL binaries pgserver ships."""
    return _package_dir("pgserver") / "pginstall" / "bin"


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
