"""A real SMTP server for tests (aiosmtpd) with AUTH, STARTTLS or implicit TLS, scripted replies and faults."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections import Counter
from collections.abc import Callable
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
    """Replies to give instead of 250, consumed in order (e.g. two 451s then normal service).

    `connect` replaces the 220 greeting of the next connections (then hangs up), `data_cuts` says for
    each of the next DATA transfers whether the line goes dead halfway through it, and `data_delay`
    is how long the server thinks before answering each DATA. `mail` answers MAIL FROM, and `auth`
    answers AUTH whatever the password (a refusal: the password is not even looked at).
    """

    mail: list[str] = field(default_factory=list)
    auth: list[str] = field(default_factory=list)
    rcpt: list[str] = field(default_factory=list)
    data: list[str] = field(default_factory=list)
    data_delay: float = 0.0
    connect: list[str] = field(default_factory=list)
    data_cuts: list[bool] = field(default_factory=list)


class Handler:
    def __init__(self, server: MailServer):
        self.server = server

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        with self.server.lock:
            self.server.ehlo_names.append(session.host_name)
            reply = self.server.script.mail.pop(0) if self.server.script.mail else None
        if reply:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

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
            self.server.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content or envelope.content)
            )
            accepted = len(self.server.received)
        if self.server.on_accept is not None:
            # Runs after the message is kept and before the client hears 250: a crash here is the
            # crash-after-250 window seen from the sender's side.
            self.server.on_accept(accepted)
        return "250 Message accepted for delivery"


class FaultySMTP(SMTP):
    """aiosmtpd's server, plus the faults a Script asks for at connect time and during DATA."""

    def __init__(self, mail_server: MailServer, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.mail_server = mail_server

    async def _handle_client(self) -> None:
        with self.mail_server.lock:
            self.mail_server.connections += 1
            reply = self.mail_server.script.connect.pop(0) if self.mail_server.script.connect else None
        if reply is None:
            await super()._handle_client()
            return
        await self.push(reply)
        self.transport.close()

    async def smtp_DATA(self, arg: str) -> None:
        with self.mail_server.lock:
            cuts = self.mail_server.script.data_cuts
            cut = bool(cuts.pop(0)) if cuts and self.envelope is not None and self.envelope.rcpt_tos else False
            self.mail_server.data_disconnected += cut
        if not cut:
            await super().smtp_DATA(arg)
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        await self._reader.readuntil(b"\r\n")  # the first line of the message, then the line goes dead
        self.transport.abort()


class _FaultyController(Controller):
    def __init__(self, mail_server: MailServer, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.mail_server = mail_server

    def factory(self) -> SMTP:
        return FaultySMTP(self.mail_server, self.handler, **self.SMTP_kwargs)


class MailServer:
    """One aiosmtpd server on 127.0.0.1 with a certificate for `localhost` from a test CA."""

    def __init__(
        self,
        ca: trustme.CA,
        ca_file: Path,
        *,
        implicit_tls: bool = False,
        starttls: bool = True,
        auth_exclude: tuple[str, ...] = (),  # mechanisms not offered, e.g. ("PLAIN",) for a LOGIN-only server
    ):
        self.host, self.port = "localhost", free_port()
        self.ca_file = ca_file
        self.implicit_tls = implicit_tls
        self.lock = threading.Lock()
        self.received: list[Received] = []
        self.auth_attempts: list[tuple[str, bool]] = []
        self.accounts = {USERNAME: PASSWORD}  # user name -> password; tests add supporters of a shared provider
        self.ehlo_names: list[str] = []  # what the client said in EHLO, per MAIL FROM
        self.rcpt_attempts = 0
        self.connections = 0
        self.data_disconnected = 0
        self.script = Script()
        # Called with the number of messages accepted so far, before the 250 goes out.
        self.on_accept: Callable[[int], None] | None = None
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("localhost", "127.0.0.1").configure_cert(self.context)
        kwargs = dict(
            hostname="127.0.0.1",
            port=self.port,
            authenticator=self._authenticate,
            auth_required=True,
            server_hostname="localhost",
            auth_exclude_mechanism=list(auth_exclude),
        )
        if implicit_tls:
            kwargs.update(ssl_context=self.context, auth_require_tls=False)
        elif starttls:
            kwargs.update(tls_context=self.context, require_starttls=True)
        else:  # a server that offers no encryption at all, and would take a password in the clear
            kwargs.update(auth_require_tls=False)
        self.controller = _FaultyController(self, Handler(self), **kwargs)

    def _authenticate(self, server: SMTP, session, envelope, mechanism: str, auth_data) -> AuthResult:
        with self.lock:
            reply = self.script.auth.pop(0) if self.script.auth else None
        if reply:
            with self.lock:
                self.auth_attempts.append((mechanism, False))
            return AuthResult(success=False, handled=False, message=reply)
        with self.lock:
            accounts = {login.encode(): password.encode() for login, password in self.accounts.items()}
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login in accounts
            and auth_data.password == accounts[auth_data.login]
        )
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
            self.accounts = {USERNAME: PASSWORD}
            self.ehlo_names.clear()
            self.rcpt_attempts = 0
            self.connections = 0
            self.data_disconnected = 0
            self.script = Script()
            self.on_accept = None

    def message_ids(self) -> Counter[str]:
        """How many times each Message-ID arrived (more than once: a duplicate)."""
        with self.lock:
            received = list(self.received)
        return Counter(str(item.message["Message-ID"]) for item in received)

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


class SilentServer:
    """Accepts TCP connections and never says a word: the mail server that hangs before its greeting."""

    def __init__(self):
        self.host, self.port = "localhost", free_port()
        self.connections = 0
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._listener.settimeout(0.2)  # so stop() is noticed
        self._thread = threading.Thread(target=self._accept, name="silent-smtp", daemon=True)
        self._stopped = False

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def _accept(self) -> None:
        while not self._stopped:
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            self._sockets.append(connection)  # held open, unread, until stop()

    def start(self) -> SilentServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped = True
        self._thread.join(timeout=5)
        self._listener.close()
        for connection in self._sockets:
            connection.close()
