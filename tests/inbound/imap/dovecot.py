"""A real Dovecot IMAP server for the tests: Debian's ``dovecot-imapd`` (``make test``
installs it), run in the foreground on a free port with a throwaway configuration
(passwd-file users, maildirs under a temporary directory, no TLS unless asked).

As root, Dovecot's login processes must not run as root: they run as the package's
``dovenull`` and mail as ``dovecot`` (which then owns the directory). Otherwise
everything runs as the current user."""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from datetime import datetime
from pathlib import Path

from tests.support.smtp import free_port

START_TIMEOUT_SECONDS = 15.0


def dovecot_binary() -> str | None:
    return shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/sbin")


class Dovecot:
    """``start()``, deliver with ``append()``, ``kill()`` (the whole process group, as
    a crash would), ``start()`` again on the same port and maildirs."""

    def __init__(self, users: dict[str, str], *, tls_cert: Path | None = None) -> None:
        binary = dovecot_binary()
        if binary is None:
            raise RuntimeError("dovecot is not installed (make test installs dovecot-imapd)")
        self.binary = binary
        self.users = dict(users)
        self.tls_cert = tls_cert
        # Short: Dovecot's sockets live under it (a unix socket path has ~100 bytes).
        self.root = Path(tempfile.mkdtemp(prefix="dovecot-"))
        self.root.chmod(0o755)  # Dovecot's own users read the passwd file in it
        self.port = free_port()
        self.tls_port = free_port() if tls_cert else 0
        self._process: subprocess.Popen[bytes] | None = None
        if os.geteuid() == 0:
            self.login_user, self.internal_user = "dovenull", "dovecot"
            mail_user = pwd.getpwnam("dovecot")
        else:
            me = pwd.getpwuid(os.geteuid())
            self.login_user = self.internal_user = me.pw_name
            mail_user = me
        self.mail_uid, self.mail_gid = mail_user.pw_uid, mail_user.pw_gid
        (self.root / "mail").mkdir()
        self._write_config()

    def maildir(self, user: str) -> Path:
        return self.root / "mail" / user / "Maildir"

    def _write_config(self) -> None:
        root = self.root
        (root / "passwd").write_text(
            "".join(
                f"{user}:{{PLAIN}}{password}:{self.mail_uid}:{self.mail_gid}::{root}/mail/{user}::\n"
                for user, password in self.users.items()
            )
        )
        ssl = "ssl = no\n"
        listeners = (
            f"  inet_listener imap {{\n    address = 127.0.0.1\n    port = {self.port}\n  }}\n"
        )
        if self.tls_cert is not None:
            ssl = f"ssl = yes\nssl_cert = <{self.tls_cert}\nssl_key = <{self.tls_cert}\n"
            listeners += (
                f"  inet_listener imaps {{\n    address = 127.0.0.1\n"
                f"    port = {self.tls_port}\n    ssl = yes\n  }}\n"
            )
        else:
            listeners += "  inet_listener imaps {\n    port = 0\n  }\n"
        (root / "dovecot.conf").write_text(
            f"""protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
instance_name = test-{root.name}
log_path = {root}/dovecot.log
{ssl}disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_login_user = {self.login_user}
default_internal_user = {self.internal_user}
default_internal_group = {self.internal_user}
first_valid_uid = {self.mail_uid}
first_valid_gid = {self.mail_gid}
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = {root}/passwd
}}
service imap-login {{
  chroot =
{listeners}}}
service anvil {{
  chroot =
}}
"""
        )
        for name in ("run", "state"):
            (root / name).mkdir(exist_ok=True)
        if os.geteuid() == 0:
            os.chown(root / "mail", self.mail_uid, self.mail_gid)

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return (self.root / "dovecot.log").read_text()
        return ""

    async def start(self) -> None:
        """Run Dovecot and wait for its greeting."""
        self._process = subprocess.Popen(
            [self.binary, "-F", "-c", str(self.root / "dovecot.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: kill() takes every child
        )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"dovecot exited:\n{self.log()}")
            if await asyncio.to_thread(self._greets):
                return
            await asyncio.sleep(0.05)
        raise RuntimeError(f"dovecot did not start:\n{self.log()}")

    def _greets(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                return sock.recv(64).startswith(b"* OK")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL to the master and every child: connections drop mid-session."""
        if self._process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signal.SIGKILL)
        self._process.wait(timeout=10)
        self._process = None
        # Children of other process groups (none expected) would keep the port.
        deadline = time.monotonic() + 5
        while self._greets() and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self) -> None:
        """A clean shutdown."""
        if self._process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._process.pid, signal.SIGTERM)
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(timeout=10)
        self._process = None

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self.root, ignore_errors=True)

    def forget_uids(self, user: str) -> None:
        """What a rebuilt index does (server migration, restore from backup): the
        same messages under a new UIDVALIDITY. Call with the server stopped."""
        maildir = self.maildir(user)
        for path in maildir.iterdir():
            if path.name == "dovecot-uidlist" or path.name.startswith("dovecot.index"):
                path.unlink()

    def _imap(self, user: str) -> imaplib.IMAP4:
        client = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        client.login(user, self.users[user])
        return client

    async def append(
        self, user: str, *messages: bytes, arrived: datetime | None = None
    ) -> list[int]:
        """Deliver ``messages`` into ``user``'s INBOX over IMAP (their internal date
        ``arrived``, else now); their UIDs."""

        def run() -> list[int]:
            client = self._imap(user)
            try:
                uids = []
                for raw in messages:
                    status, data = client.append("INBOX", None, arrived, raw)
                    assert status == "OK", data
                    _, answer = client.response("APPENDUID")
                    uids.append(int(answer[-1].split()[-1]))
                return uids
            finally:
                client.logout()

        return await asyncio.to_thread(run)

    def drop(self, user: str, messages: list[bytes]) -> None:
        """Deliver straight into ``user``'s ``Maildir/new``, as a local delivery agent
        does (fast: for mailboxes of thousands)."""
        maildir = self.maildir(user)
        for sub in ("", "new", "cur", "tmp"):
            (maildir / sub).mkdir(parents=True, exist_ok=True)
        owned = [maildir.parent, *(maildir / sub for sub in ("", "new", "cur", "tmp"))]
        for number, raw in enumerate(messages):
            name = f"{time.time_ns()}.M{number}P{os.getpid()}.test,S={len(raw)}"
            (maildir / "tmp" / name).write_bytes(raw)
            (maildir / "tmp" / name).rename(maildir / "new" / name)
            owned.append(maildir / "new" / name)
        if os.geteuid() == 0:
            for path in owned:
                os.chown(path, self.mail_uid, self.mail_gid)

    async def delete(self, user: str, uid: int) -> None:
        """What the user's own mail client does to a message: delete and expunge."""

        def run() -> None:
            client = self._imap(user)
            try:
                client.select("INBOX")
                client.uid("STORE", str(uid), "+FLAGS", "(\\Deleted)")
                client.expunge()
            finally:
                client.logout()

        await asyncio.to_thread(run)

    async def uidvalidity(self, user: str) -> int:
        def run() -> int:
            client = self._imap(user)
            try:
                client.select("INBOX", readonly=True)
                _, data = client.response("UIDVALIDITY")
                return int(data[-1])
            finally:
                client.logout()

        return await asyncio.to_thread(run)

    async def flags(self, user: str) -> list[str]:
        """The flags of every message in ``user``'s INBOX, in order."""

        def run() -> list[str]:
            client = self._imap(user)
            try:
                client.select("INBOX", readonly=True)
                _, data = client.fetch("1:*", "(FLAGS)")
                return [item.decode() for item in data if isinstance(item, bytes)]
            finally:
                client.logout()

        return await asyncio.to_thread(run)
