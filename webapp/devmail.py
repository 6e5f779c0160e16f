"""`make mailserver`: a mail server on this computer for trying "send from my own email" with `make run`.

It speaks SMTP with STARTTLS and a password, like a real provider, on localhost:2525 (MAIL_PORT to change it), and
keeps every message it accepts in instance/mailserver/inbox/ instead of passing it on. Its certificate comes from
a certificate authority of its own, written to instance/mailserver/ca.pem; from then on `make run` trusts that file
and allows this server's address (SMTP_CA_FILE, SMTP_ALLOWED_HOSTS; instance/mailserver/address says which).
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import signal
import socket
import ssl
import sys
import threading
from email import message_from_bytes, policy
from pathlib import Path

from webapp.config import PROJECT_DIR

INSTANCE = Path(os.environ.get("OUTCRY_INSTANCE") or PROJECT_DIR / "instance")
FOLDER = INSTANCE / "mailserver"
CA_FILE, CA_KEY_FILE = FOLDER / "ca.pem", FOLDER / "ca-key.pem"
PASSWORD_FILE, ADDRESS_FILE, INBOX = FOLDER / "password", FOLDER / "address", FOLDER / "inbox"
DEFAULT_PORT = 2525  # a mail port Outcry accepts (25, 465, 587, 2525) that needs no root
HOST = "localhost"


def _private(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    path.chmod(0o600)


def certificate_authority():
    """The server's own CA, made once and kept, so a `make run` that trusts ca.pem keeps trusting it."""
    import trustme

    FOLDER.mkdir(parents=True, exist_ok=True)
    if CA_FILE.exists() and CA_KEY_FILE.exists():
        return trustme.CA.from_pem(CA_FILE.read_bytes(), CA_KEY_FILE.read_bytes())
    ca = trustme.CA(organization_name="Outcry local mail server")
    _private(CA_KEY_FILE, ca.private_key_pem.bytes())
    CA_FILE.write_bytes(ca.cert_pem.bytes())
    return ca


def password() -> str:
    """The password supporters type, made once and kept (instance/ is never committed)."""
    FOLDER.mkdir(parents=True, exist_ok=True)
    if not PASSWORD_FILE.exists():
        _private(PASSWORD_FILE, secrets.token_urlsafe(12).encode())
    return PASSWORD_FILE.read_text().strip()


def local_mail_settings(instance: Path) -> dict[str, str]:
    """What `make run` adds to its settings when this server is configured in `instance`: trust its CA and allow
    its address. Empty when `make mailserver` never ran there."""
    folder = instance / "mailserver"
    address = folder / "address"
    if not (address.is_file() and (folder / "ca.pem").is_file()):
        return {}
    return {"SMTP_CA_FILE": str(folder / "ca.pem"), "SMTP_ALLOWED_HOSTS": address.read_text().strip()}


class Inbox:
    """aiosmtpd handler: keep each message as a numbered .eml file and say so on the terminal."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        data = envelope.original_content or envelope.content
        with self.lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            number = len(list(self.folder.glob("*.eml"))) + 1
            path = self.folder / f"{number:04d}.eml"
            path.write_bytes(data)
        message = message_from_bytes(data, policy=policy.default)
        print(
            f"  received: from {envelope.mail_from} to {', '.join(envelope.rcpt_tos)}, "
            f"“{message.get('Subject', '')}” → {path}",
            flush=True,
        )
        return "250 Kept in the local inbox (not passed on)"


def _authenticator(expected: str):
    from aiosmtpd.smtp import AuthResult, LoginPassword

    def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and bool(auth_data.login.strip())
            and hmac.compare_digest(auth_data.password, expected.encode())
        )
        return AuthResult(success=ok, handled=False)

    return authenticate


def _port() -> int:
    raw = os.environ.get("MAIL_PORT", str(DEFAULT_PORT))
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise SystemExit(f"  MAIL_PORT={raw!r} is not a port number.")
    return int(raw)


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def settings_text(port: int, secret: str) -> str:
    return f"""
  A local mail server is running for trying "send from my own email" (nothing is passed on).

  On a letter's send step, choose "Other (enter server details)" as your email provider and type:
      Outgoing mail server (SMTP)  {HOST}
      Port                         {port}
      Encryption                   STARTTLS
      User name                    your email address as you typed it (any address works here)
      Password or app password     {secret}

  Its certificate authority: {CA_FILE}
  `make run` trusts it and allows {HOST}:{port} (start or restart `make run` after this).
  Messages it accepts land in {INBOX}/.  Ctrl-C stops it.
"""


def main() -> int:
    try:
        from aiosmtpd.controller import Controller
    except ImportError:
        print("  The local mail server needs aiosmtpd and trustme: run it with `make mailserver`.", file=sys.stderr)
        return 1
    port = _port()
    if not _port_free(port):
        print(
            f"  Port {port} is already in use. Choose another one: MAIL_PORT={port + 1} make mailserver",
            file=sys.stderr,
        )
        return 1
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    ca = certificate_authority()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOST, "127.0.0.1").configure_cert(context)
    secret = password()
    controller = Controller(
        Inbox(INBOX),
        hostname="127.0.0.1",
        port=port,
        server_hostname=HOST,
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        authenticator=_authenticator(secret),
    )
    controller.start()
    ADDRESS_FILE.write_text(f"{HOST}:{port}\n")
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda *_: stopped.set())
    print(settings_text(port, secret), flush=True)
    try:
        stopped.wait()
    finally:
        controller.stop()
        print("  Mail server stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
