"""HTTPS to the mail providers' fixed endpoints (Google's and Microsoft's sign-in and mail APIs) under the rules
SMTP follows: the host checked by the SSRF policy and the connection pinned to the address it approved,
certificates always verified, every socket operation bounded by the phase's deadline (not a timeout per
read), no redirects, no proxies from the environment, and a cap on what a response may grow to.

The endpoints come from settings, never from a supporter; in tests they point at servers on loopback
(listed in OAUTH_ALLOWED_HOSTS, trusted through OAUTH_CA_FILE).
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
from flask import current_app

from webapp.delivery import ssrf
from webapp.delivery.deadline import Deadline, watchdog
from webapp.delivery.smtp import tls_context

HTTPS_PORTS = (443,)
# What one answer from a provider may be: their token and send answers are a few hundred bytes.
MAX_RESPONSE_BYTES = 256 * 1024

# httpx logs every request's whole URL at INFO; CWC's carries its API key in the query (webapp/delivery/cwc.py).
logging.getLogger("httpx").setLevel(logging.WARNING)


class _Stream(httpcore.NetworkStream):
    """A socket whose every read, write and handshake takes its timeout from the backend's current deadline."""

    def __init__(self, sock: socket.socket, backend: PinnedBackend):
        self._sock, self._backend = sock, backend

    def _timeout(self, asked: float | None) -> float:
        left = self._backend.deadline.remaining()
        return left if asked is None else min(asked, left)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            self._sock.settimeout(self._timeout(timeout))
            return self._sock.recv(max_bytes)
        except TimeoutError as exc:  # DeadlineExceeded is one
            raise httpcore.ReadTimeout(str(exc)) from exc
        except OSError as exc:
            raise httpcore.ReadError(str(exc)) from exc

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        try:
            while buffer:
                self._sock.settimeout(self._timeout(timeout))
                sent = self._sock.send(buffer)
                buffer = buffer[sent:]
        except TimeoutError as exc:  # DeadlineExceeded is one
            raise httpcore.WriteTimeout(str(exc)) from exc
        except OSError as exc:
            raise httpcore.WriteError(str(exc)) from exc

    def close(self) -> None:
        self._backend.forget(self._sock)
        self._sock.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        stream = self
        try:
            self._sock.settimeout(self._timeout(timeout))
            # The handshake runs on the TLS socket the backend tracks, so the watchdog can cut it (wrap_socket's
            # own handshake would run after the plain socket is detached, out of the watchdog's reach).
            wrapped = ssl_context.wrap_socket(
                self._sock, server_hostname=server_hostname, do_handshake_on_connect=False
            )
            self._backend.forget(self._sock)
            self._backend.track(wrapped)
            stream = _Stream(wrapped, self._backend)
            wrapped.do_handshake()
        except ssl.SSLCertVerificationError:
            stream.close()
            raise
        except TimeoutError as exc:  # DeadlineExceeded is one
            stream.close()
            raise httpcore.ConnectTimeout(str(exc)) from exc
        except OSError as exc:
            stream.close()
            raise httpcore.ConnectError(str(exc)) from exc
        return stream

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object" and isinstance(self._sock, ssl.SSLSocket):
            return self._sock._sslobj  # noqa: SLF001 - what httpcore's own stream answers
        if info == "socket":
            return self._sock
        if info == "is_readable":
            return _readable(self._sock)
        return None


def _readable(sock: socket.socket) -> bool:
    """Whether a kept-alive connection has something to read (or was closed): then it is not reused."""
    import select

    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


class PinnedBackend(httpcore.NetworkBackend):
    """Connects only to addresses the SSRF policy approved for the endpoint's host, under the current deadline."""

    def __init__(self, allowed: frozenset[tuple[str, int]]):
        self.allowed = allowed
        self.deadline = Deadline(0, "idle")
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def forget(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)

    def cut(self) -> None:
        """End every read or write blocked on this backend's sockets (for a watchdog thread)."""
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)  # a TLS socket's own would drop its state mid-read

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):  # noqa: ANN001
        try:
            checked = ssrf.check(host, port, self.allowed, HTTPS_PORTS, deadline=self.deadline)
        except ssrf.RefusedHost as exc:
            raise httpcore.ConnectError(f"refused: {exc}") from exc
        except TimeoutError as exc:  # the lookup outlasted the phase (DeadlineExceeded)
            raise httpcore.ConnectTimeout(str(exc)) from exc
        error: Exception | None = None
        for address in checked.addresses:
            try:
                sock = socket.create_connection((address, port), self.deadline.remaining())
            except TimeoutError as exc:  # DeadlineExceeded is one
                raise httpcore.ConnectTimeout(str(exc)) from exc
            except OSError as exc:
                error = exc
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.track(sock)
            return _Stream(sock, self)
        raise httpcore.ConnectError(str(error or "no address to connect to"))


class _Transport(httpx.HTTPTransport):
    def __init__(self, backend: PinnedBackend, context: ssl.SSLContext):
        super().__init__(verify=context, trust_env=False, retries=0)
        self._pool = httpcore.ConnectionPool(
            ssl_context=context, network_backend=backend, max_connections=4, http1=True, http2=False, retries=0
        )


@dataclass(frozen=True)
class Reply:
    status: int
    headers: httpx.Headers
    body: bytes
    truncated: bool = False  # the answer went on past the cap: `body` is its beginning, the status stands

    def json(self) -> Any:
        """The body as JSON, or {} when it is not (a provider's error page)."""
        try:
            return json.loads(self.body)
        except ValueError:
            return {}


class HttpsClient:
    """One client per conversation (a sign-in's token exchange, or a delivery session's sends); its
    connections are kept alive between the phases of that conversation and closed with it."""

    def __init__(self, *, allowed: frozenset[tuple[str, int]] | None = None, ca_file: str | None = None):
        """`allowed` and `ca_file` default to the mail providers' (OAUTH_ALLOWED_HOSTS, OAUTH_CA_FILE); "" is no
        extra CA."""
        self.backend = PinnedBackend(current_app.config["OAUTH_ALLOWED_HOSTS"] if allowed is None else allowed)
        context = tls_context(ca_file if ca_file is not None else current_app.config.get("OAUTH_CA_FILE"))
        self.httpx = httpx.Client(
            transport=_Transport(self.backend, context),
            trust_env=False,
            follow_redirects=False,
            timeout=None,  # noqa: S113 - the phase's deadline bounds every operation instead
            # Answers are read as they come over the wire (iter_raw: the cap counts those bytes), so none may come
            # compressed: the body would be unreadable, and a small compressed one could hold a huge one.
            headers={"User-Agent": "Outcry", "Accept-Encoding": "identity"},
        )

    @contextlib.contextmanager
    def phase(self, seconds: float, name: str) -> Iterator[Deadline]:
        """Everything in the block shares one deadline; the delivery watchdog cuts the sockets of what outlives it
        (the same deadline and watchdog as an SMTP conversation's)."""
        deadline = Deadline(seconds, name)
        self.backend.deadline = deadline
        with watchdog.watching(deadline, self.backend.cut):
            yield deadline

    def request(
        self, method: str, url: str, *, seconds: float, phase: str, max_bytes: int = MAX_RESPONSE_BYTES, **kwargs: Any
    ) -> Reply:
        """One request, all of it (connect, TLS, send, the answer) within `seconds`. An answer longer than
        `max_bytes` is read no further (the connection is dropped) and comes back `truncated`: its status still
        says what happened, so an accepted letter is never sent again for a long answer. Raises httpx.HTTPError
        (timeouts included) or ssl.SSLCertVerificationError."""
        if urlsplit(url).scheme != "https":
            raise httpx.UnsupportedProtocol("only https:// endpoints are used")
        with self.phase(seconds, phase), self.httpx.stream(method, url, **kwargs) as response:
            body = bytearray()
            for chunk in response.iter_raw():
                body += chunk
                if len(body) > max_bytes:
                    return Reply(response.status_code, response.headers, bytes(body[:max_bytes]), truncated=True)
            return Reply(response.status_code, response.headers, bytes(body))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.httpx.close()
