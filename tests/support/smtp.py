"""A real SMTP server (aiosmtpd) whose answers a test scripts."""

from __future__ import annotations

import asyncio
import email
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ScriptedHandler:
    """Answers DATA (and RCPT) from a script; records what was accepted."""

    data_replies: list[str] = field(default_factory=list)
    rcpt_replies: list[str] = field(default_factory=list)
    data_delay_seconds: float = 0.0
    received: list[Message] = field(default_factory=list)
    data_attempts: int = 0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if self.rcpt_replies:
            reply = self.rcpt_replies.pop(0)
            if not reply.startswith("250"):
                return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.data_attempts += 1
        if self.data_delay_seconds:
            await asyncio.sleep(self.data_delay_seconds)
        reply = self.data_replies.pop(0) if self.data_replies else "250 Message accepted"
        if reply.startswith("250"):
            self.received.append(email.message_from_bytes(envelope.content))
        return reply


@dataclass
class SmtpServer:
    handler: ScriptedHandler
    port: int
    controller: Controller | None = None

    def start(self) -> None:
        # aiosmtpd's controller cannot start twice: a new one on the same port.
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer(ScriptedHandler(), free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()
