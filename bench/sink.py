"""The mail sink both delivery runs send to: aiosmtpd with STARTTLS required and AUTH, like a supporter's server.

Runs in its own process (`python -m bench.sink …`) so it never shares a GIL with the load it measures.
Prints `READY` when it listens and `RECEIVED <n>` when stopped with SIGTERM; accepts every message.

With `--latency` it answers like a real provider: per conversation it draws a greeting delay (100–300 ms), a
delay before each reply (20–80 ms) and a time to accept a message (300–1,000 ms after DATA's final dot).
With `--hostile N` it also serves N hostile servers on ports of their own, printed after `READY` on its line:
in turn one whose greeting trickles (a `220-` line a second, for ever), one that floods its greeting (as
fast as the socket takes it), and one that takes the letter and never answers DATA.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import signal
import ssl
import threading
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

USERNAME = "supporter@example.org"
# The sink's one account has a fresh random password each bench run: the bench process makes it on import,
# and the processes it starts with its own environment (the sink, the smtplib loops) read the same one.
ACCOUNT_VARIABLE = "OUTCRY_BENCH_SMTP_PASSWORD"
PASSWORD = os.environ.setdefault(ACCOUNT_VARIABLE, secrets.token_urlsafe(24))


class Handler:
    def __init__(self, hang: bool = False) -> None:
        self.received = 0
        self.bytes = 0
        self.hang = hang

    async def handle_DATA(self, server, session, envelope):
        if self.hang:
            await asyncio.sleep(3600)  # a server that never answers DATA
        if isinstance(server, ProviderSMTP):
            await asyncio.sleep(server.accept_delay)
        self.received += 1  # one event loop thread: no lock needed
        self.bytes += len(envelope.original_content or envelope.content or b"")
        return "250 Message accepted for delivery"


class ProviderSMTP(SMTP):
    """aiosmtpd answering at a real provider's pace, drawn anew for each conversation."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.greeting_delay = random.uniform(0.1, 0.3)
        self.reply_delay = random.uniform(0.02, 0.08)
        self.accept_delay = random.uniform(0.3, 1.0)
        self._greeted = False

    async def push(self, status):
        await asyncio.sleep(self.reply_delay if self._greeted else self.greeting_delay)
        self._greeted = True
        await super().push(status)


class _Controller(Controller):
    def __init__(self, *args, latency: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.latency = latency

    def factory(self):
        return (ProviderSMTP if self.latency else SMTP)(self.handler, **self.SMTP_kwargs)


def _hostile_greeting(kind: str):
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if kind == "trickle":
                while True:
                    writer.write(b"220-Welcome, this greeting takes its time\r\n")
                    await writer.drain()
                    await asyncio.sleep(1.0)
            else:  # flood
                chunk = (b"220-" + b"x" * 500 + b"\r\n") * 200
                while True:
                    writer.write(chunk)
                    await writer.drain()
        except (ConnectionError, OSError):
            writer.close()

    return serve


def _start_hostile(count: int, context: ssl.SSLContext) -> tuple[list[int], list]:
    """`count` hostile servers (trickle, flood, hang after DATA, in turn); returns their ports and what to stop."""
    ports, controllers = [], []
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, name="hostile", daemon=True).start()
    for number in range(count):
        kind = ("trickle", "flood", "hang")[number % 3]
        port = _free_port()
        if kind == "hang":
            controller = Controller(
                Handler(hang=True), hostname="127.0.0.1", port=port, server_hostname="localhost",
                authenticator=authenticate, auth_required=True, tls_context=context, require_starttls=True,
            )  # fmt: skip
            controller.start()
            controllers.append(controller)
        else:
            asyncio.run_coroutine_threadsafe(
                asyncio.start_server(_hostile_greeting(kind), "127.0.0.1", port), loop
            ).result(10)
        ports.append(port)
    return ports, controllers


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USERNAME.encode()
        and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


def write_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA (trustme) and a `localhost` certificate from it: (ca.pem, cert.pem, key.pem)."""
    import trustme

    ca = trustme.CA()
    leaf = ca.issue_cert("localhost", "127.0.0.1")
    paths = folder / "ca.pem", folder / "sink-cert.pem", folder / "sink-key.pem"
    ca.cert_pem.write_to_path(str(paths[0]))
    leaf.cert_chain_pems[0].write_to_path(str(paths[1]))
    for extra in leaf.cert_chain_pems[1:]:
        extra.write_to_path(str(paths[1]), append=True)
    leaf.private_key_pem.write_to_path(str(paths[2]))
    return paths


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--latency", action="store_true", help="answer at a real provider's pace")
    parser.add_argument("--hostile", type=int, default=0, help="hostile servers to serve besides")
    args = parser.parse_args()

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.cert, args.key)
    handler = Handler()
    controller = _Controller(
        handler,
        latency=args.latency,
        hostname="127.0.0.1",
        port=args.port,
        server_hostname="localhost",
        authenticator=authenticate,
        auth_required=True,
        tls_context=context,
        require_starttls=True,
    )
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    controller.start()
    hostile_ports, hostile_controllers = _start_hostile(args.hostile, context)
    # One line: the bench reads it with select(), which cannot see a second line already buffered.
    print(" ".join(["READY", *(str(port) for port in hostile_ports)]), flush=True)
    stopping.wait()
    for hostile in hostile_controllers:
        hostile.stop(no_assert=True)
    controller.stop()
    print(f"RECEIVED {handler.received} {handler.bytes}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
