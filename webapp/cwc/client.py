"""One HTTPS POST to the CWC endpoint, with a deadline on the whole exchange and a cap on the reply.

The endpoint is a fixed host from the operator's settings (never from a request), so there is no host policy to
apply; what needs care is time and size. Every socket operation gets the time left before one monotonic deadline
(connect, TLS handshake, each write, each read), so an endpoint that answers one byte at a time ends at the same
moment as one that never answers, and a reply is read up to MAX_REPLY bytes and no further. TLS certificates are
verified (system CAs, plus CWC_CA_FILE when set). The API key travels as the `apikey` query parameter, as the
known CWC clients send it; it never appears in an exception, a log line or a reason.
"""

from __future__ import annotations

import socket
import ssl
import time
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

MAX_REPLY = 64 * 1024  # CWC answers in a few hundred bytes; a longer reply is cut here
USER_AGENT = "Outcry (Communicating with Congress delivery agent software)"


class Unreachable(Exception):
    """The exchange failed before a complete reply arrived: refused, reset, TLS, or out of time. Worth retrying."""

    def __init__(self, reason: str, *, deadline: bool = False):
        super().__init__(reason)
        self.reason, self.deadline = reason, deadline


@dataclass(frozen=True)
class Endpoint:
    url: str  # https://host[:port]/path, no query (checked by config.check_cwc)
    key: str = field(repr=False)
    ca_file: str | None = None

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        return urlsplit(self.url).port or 443

    @property
    def target(self) -> str:
        path = urlsplit(self.url).path or "/"
        return f"{path}?apikey={quote(self.key, safe='')}"


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    truncated: bool = False


class _Clock:
    def __init__(self, seconds: float):
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        remaining = self.end - time.monotonic()
        if remaining <= 0:
            raise Unreachable(f"Congress's system did not answer within {self.seconds:g} seconds", deadline=True)
        return remaining


def _context(ca_file: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


def post(endpoint: Endpoint, body: bytes, seconds: float) -> Reply:
    """POST `body` (XML) to the endpoint and read the reply, all within `seconds`; raises Unreachable."""
    clock = _Clock(seconds)
    request = (
        f"POST {endpoint.target} HTTP/1.1\r\n"
        f"Host: {endpoint.host}{'' if endpoint.port == 443 else f':{endpoint.port}'}\r\n"
        f"User-Agent: {USER_AGENT}\r\n"
        "Content-Type: application/xml; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Accept: application/xml, text/plain, application/json\r\n"
        "Connection: close\r\n\r\n"
    ).encode("ascii") + body
    try:
        raw = socket.create_connection((endpoint.host, endpoint.port), timeout=clock.left())
    except OSError as exc:
        if isinstance(exc, TimeoutError):
            raise Unreachable(f"Congress's system did not answer within {seconds:g} seconds", deadline=True) from None
        raise Unreachable("We couldn't connect to Congress's system") from None
    try:
        try:
            raw.settimeout(clock.left())
            sock = _context(endpoint.ca_file).wrap_socket(raw, server_hostname=endpoint.host)
        except ssl.SSLCertVerificationError:
            raise Unreachable("Congress's system presented a certificate we could not verify") from None
        with sock:
            view = memoryview(request)
            while view:
                sock.settimeout(clock.left())
                sent = sock.send(view)
                view = view[sent:]
            return _read_reply(sock, clock)
    except Unreachable:
        raise
    except TimeoutError:
        raise Unreachable(f"Congress's system did not answer within {seconds:g} seconds", deadline=True) from None
    except (OSError, ssl.SSLError, ValueError):
        raise Unreachable("The connection to Congress's system broke off") from None
    finally:
        raw.close()


def _read_reply(sock: ssl.SSLSocket, clock: _Clock) -> Reply:
    """Read until the server closes (we asked it to) or MAX_REPLY bytes, then parse status, headers and body."""
    data = bytearray()
    truncated = False
    while True:
        sock.settimeout(clock.left())
        chunk = sock.recv(min(16384, MAX_REPLY + 1 - len(data)))
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_REPLY:
            truncated = True
            del data[MAX_REPLY:]
            break
        if _complete(data):
            break
    return _parse(bytes(data), truncated)


def _split(data: bytes) -> tuple[bytes, dict[str, str], bytes] | None:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return None
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return lines[0].encode("latin-1"), headers, body


def _complete(data: bytes) -> bool:
    """Whether a Content-Length reply has all its body (chunked and unsized replies end when the server closes)."""
    split = _split(data)
    if split is None:
        return False
    _status, headers, body = split
    length = headers.get("content-length", "")
    return length.isdigit() and "chunked" not in headers.get("transfer-encoding", "") and len(body) >= int(length)


def _parse(data: bytes, truncated: bool) -> Reply:
    split = _split(data)
    if split is None:
        raise Unreachable("Congress's system sent an answer we could not read")
    status_line, headers, body = split
    parts = status_line.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise Unreachable("Congress's system sent an answer we could not read")
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = _dechunk(body)
    elif headers.get("content-length", "").isdigit():
        body = body[: int(headers["content-length"])]
    return Reply(int(parts[1]), body, truncated)


def _dechunk(body: bytes) -> bytes:
    out = bytearray()
    while body:
        size_line, sep, rest = body.partition(b"\r\n")
        if not sep:
            break
        try:
            size = int(size_line.split(b";")[0].strip() or b"0", 16)
        except ValueError:
            break
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2 :]
    return bytes(out)
