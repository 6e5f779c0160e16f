"""A real SMTP server for tests (aiosmtpd) with AUTH, STARTTLS or implicit TLS, and scripted replies."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

USERNAME = "supporter@example.org"
PASSWORD = "correct horse battery staple"  # a test account on the test server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.data.replace(b"\r\n", b"\n"), policy=policy.default)


@dataclass
class Script:
    """Replies to give instead of 250, consumed in order (e.g. two 451s then normal service)."""

    rcpt: list[str] = field(default_factory=list)
    data: list[str] = field(default_factory=list)
    data_delay: float = 0.0


class Handler:
    def __init__(self, server: MailServer):
        self.server = server

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.server.lock:
            reply = self.server.script.rcpt.pop(0) if self.server.script.rcpt else None
            self.server.rcpt_attempts += 1
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.server.script.data_delay:
            await asyncio.sleep(self.server.script.data_delay)
        with self.server.lock:
            reply = self.server.script.data.pop(0) if self.server.script.data else None
        if reply:
            return reply
        with self.server.lock:
            self.server.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content or envelope.content))
        return "250 Message accepted for delivery"


class MailServer:
    """One aiosmtpd server on 127.0.0.1 with a certificate for `localhost` from a test CA."""

    def __init__(self, ca: trustme.CA, ca_file: Path, *, implicit_tls: bool = False):
        self.host, self.port = "localhost", free_port()
        self.ca_file = ca_file
        self.implicit_tls = implicit_tls
        self.lock = threading.Lock()
        self.received: list[Received] = []
        self.auth_attempts: list[tuple[str, bool]] = []
        self.rcpt_attempts = 0
        self.script = Script()
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("localhost", "127.0.0.1").configure_cert(self.context)
        kwargs = dict(
            hostname="127.0.0.1",
            port=self.port,
            authenticator=self._authenticate,
            auth_required=True,
            server_hostname="localhost",
        )
        if implicit_tls:
            kwargs.update(ssl_context=self.context, auth_require_tls=False)
        else:
            kwargs.update(tls_context=self.context, require_starttls=True)
        self.controller = Controller(Handler(self), **kwargs)

    def _authenticate(self, server: SMTP, session, envelope, mechanism: str, auth_data) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == USERNAME.encode() and auth_data.password == PASSWORD.encode()
        with self.lock:
            self.auth_attempts.append((mechanism, ok))
        return AuthResult(success=ok, handled=False)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> MailServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def reset(self) -> None:
        with self.lock:
            self.received.clear()
            self.auth_attempts.clear()
            self.rcpt_attempts = 0
            self.script = Script()

    def smtp_settings(self, **overrides) -> dict:
        """The `smtp` object a supporter would send for this server."""
        return {
            "host": self.host,
            "port": self.port,
            "security": "ssl" if self.implicit_tls else "starttls",
            "username": USERNAME,
            "password": PASSWORD,
            **overrides,
        }
