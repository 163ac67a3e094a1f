"""A local SMTP catcher: accepts every message and keeps it as an ``.eml`` file.

``make run`` points the mailer at it, so invitations and sequence emails can be read
(any mail client opens ``.eml``) and nothing leaves the machine. Each file holds the
message's bytes exactly as the client sent them after DATA (dot-unstuffed, as SMTP
defines), with nothing added: what is on disk is what a real relay would have
received. The envelope (MAIL FROM, RCPT TO, which Bcc recipients only appear in) is
written to the log line of each message.

aiosmtpd is the SMTP server the test suite already uses; its ``Controller`` runs it
on a thread of its own, so the catcher fits a synchronous launcher as well as a test.

Standalone: ``python -m services.kit.devstack.mailcatcher --dir .data/outbox --port 1025``.
"""

from __future__ import annotations

import argparse
import email.parser
import email.policy
import itertools
import logging
import os
import signal
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

log = logging.getLogger("pursuit.mailcatcher")

DEFAULT_PORT = 1025


class _KeepEverything:
    """The aiosmtpd handler: accept each message and write its raw bytes to a file."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw: bytes = envelope.original_content or b""
        path = self._write(raw)
        headers = email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(raw)
        log.info(
            "mail from=%s to=%s subject=%r -> %s",
            envelope.mail_from,
            ",".join(envelope.rcpt_tos),
            str(headers.get("Subject", "")),
            path,
        )
        return "250 Message accepted for delivery"

    def _write(self, raw: bytes) -> Path:
        """Write under a temporary name, then rename: a reader polling the directory
        never sees half a message."""
        with self._lock:
            number = next(self._counter)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        path = self.directory / f"{stamp}-{number:04d}.eml"
        partial = path.with_name(f".{path.name}.partial")
        partial.write_bytes(raw)
        os.replace(partial, path)
        return path


class MailCatcher:
    """An SMTP server on ``host:port`` writing every message to ``directory``."""

    def __init__(self, directory: Path, host: str = "127.0.0.1", port: int = DEFAULT_PORT) -> None:
        self.directory = directory
        self.host = host
        self.port = port
        self._controller: Controller | None = None

    def start(self) -> None:
        """Listen (returns once the server accepts connections)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        controller = Controller(
            _KeepEverything(self.directory),
            hostname=self.host,
            port=self.port,
            server_hostname="mailcatcher.localhost",
        )
        controller.start()
        self._controller = controller
        log.info("mail catcher on %s:%s writing to %s", self.host, self.port, self.directory)

    def stop(self) -> None:
        """Stop listening and end the server's thread (idempotent)."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def messages(self) -> list[Path]:
        """The messages kept so far, oldest first."""
        return sorted(self.directory.glob("*.eml"))

    def __enter__(self) -> MailCatcher:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: Sequence[str] | None = None) -> None:
    """Run a catcher until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(description="Keep every SMTP message as an .eml file.")
    parser.add_argument("--dir", type=Path, default=Path(".data/outbox"), help="where to write")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="SMTP port")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd: a line per SMTP verb
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with MailCatcher(args.dir, args.host, args.port):
        stop.wait()


if __name__ == "__main__":
    main()
