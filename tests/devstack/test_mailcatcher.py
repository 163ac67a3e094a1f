"""The mail catcher keeps each message exactly as the client sent it, one file each."""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import signal
import sys
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib

from services.kit.devstack.embedded import free_port
from services.kit.devstack.mailcatcher import MailCatcher

ROOT = Path(__file__).resolve().parents[2]

RAW = (
    b"From: Pursuit <no-reply@example.com>\r\n"
    b"To: lead@example.com\r\n"
    b"Subject: =?utf-8?q?Caf=C3=A9?= tomorrow\r\n"
    b"Message-ID: <raw-1@example.com>\r\n"
    b"\r\n"
    b"First line\r\n"
    b".a line starting with a dot (dot-stuffed on the wire)\r\n"
    b"\r\n"
    b"Last line\r\n"
)


async def test_a_message_is_kept_byte_for_byte(tmp_path: Path) -> None:
    port = free_port()
    with MailCatcher(tmp_path, port=port) as catcher:
        await aiosmtplib.send(
            RAW,
            sender="no-reply@example.com",
            recipients=["lead@example.com", "hidden@example.com"],
            hostname="127.0.0.1",
            port=port,
        )
        [path] = catcher.messages()
    assert path.read_bytes() == RAW
    assert path.suffix == ".eml"


async def test_each_message_gets_its_own_file_in_order(tmp_path: Path) -> None:
    port = free_port()
    with MailCatcher(tmp_path, port=port) as catcher:
        for number in range(3):
            message = EmailMessage()
            message["From"] = "no-reply@example.com"
            message["To"] = f"lead{number}@example.com"
            message["Subject"] = f"Message {number}"
            message.set_content(f"Body {number}")
            await aiosmtplib.send(message, hostname="127.0.0.1", port=port)
        paths = catcher.messages()
    assert len(paths) == 3
    for number, path in enumerate(paths):
        assert path.name.endswith(f"-{number + 1:04d}.eml")
        kept = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert kept["Subject"] == f"Message {number}"
        assert kept["To"] == f"lead{number}@example.com"
        assert kept.get_content().strip() == f"Body {number}"
    assert not list(tmp_path.glob(".*.partial"))


async def test_stop_closes_the_port(tmp_path: Path) -> None:
    port = free_port()
    catcher = MailCatcher(tmp_path, port=port)
    catcher.start()
    catcher.stop()
    catcher.stop()  # idempotent
    try:
        await aiosmtplib.send(
            RAW,
            sender="a@example.com",
            recipients=["b@example.com"],
            hostname="127.0.0.1",
            port=port,
            timeout=2,
        )
    except aiosmtplib.SMTPConnectError:
        return
    raise AssertionError("the catcher still accepts mail after stop()")


async def test_the_command_line_catcher_runs_until_sigterm(tmp_path: Path) -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.kit.devstack.mailcatcher",
        "--dir",
        str(tmp_path),
        "--port",
        str(port),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        for _ in range(100):
            try:
                await aiosmtplib.send(
                    RAW,
                    sender="a@example.com",
                    recipients=["b@example.com"],
                    hostname="127.0.0.1",
                    port=port,
                    timeout=2,
                )
                break
            except aiosmtplib.SMTPConnectError:
                await asyncio.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), timeout=10)
    finally:
        if process.returncode is None:
            os.kill(process.pid, signal.SIGKILL)
            await process.wait()
    assert process.returncode == 0, output.decode()
    [path] = tmp_path.glob("*.eml")
    assert path.read_bytes() == RAW
    assert f"-> {path}" in output.decode()
