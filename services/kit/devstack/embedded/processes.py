"""Process and port helpers shared by the embedded PostgreSQL and Redis: free ports,
stopping children and processes an earlier run left behind, waiting for a server to
be ready, and finding the binaries inside an installed package."""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

log = logging.getLogger("pursuit.devstack")

LOCALHOST = "127.0.0.1"
START_TIMEOUT_SECONDS = 30.0
LOG_TAIL_LINES = 20

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
