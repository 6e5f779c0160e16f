"""The mail sink both delivery runs send to: aiosmtpd with STARTTLS required and AUTH, like a supporter's server.

Runs in its own process (`python -m bench.sink …`) so it never shares a GIL with the load it measures.
Prints `READY` when it listens and `RECEIVED <n>` when stopped with SIGTERM; accepts every message.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import ssl
import threading
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USERNAME = "supporter@example.org"
# The sink's one account has a fresh random password each bench run: the bench process makes it on import,
# and the processes it starts with its own environment (the sink, the smtplib loops) read the same one.
ACCOUNT_VARIABLE = "OUTCRY_BENCH_SMTP_PASSWORD"
PASSWORD = os.environ.setdefault(ACCOUNT_VARIABLE, secrets.token_urlsafe(24))


class Handler:
    def __init__(self) -> None:
        self.received = 0
        self.bytes = 0

    async def handle_DATA(self, server, session, envelope):
        self.received += 1  # one event loop thread: no lock needed
        self.bytes += len(envelope.original_content or envelope.content or b"")
        return "250 Message accepted for delivery"


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
    args = parser.parse_args()

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.cert, args.key)
    handler = Handler()
    controller = Controller(
        handler,
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
    print("READY", flush=True)
    stopping.wait()
    controller.stop()
    print(f"RECEIVED {handler.received} {handler.bytes}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
