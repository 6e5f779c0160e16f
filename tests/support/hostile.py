"""Mail servers that misbehave on purpose, on raw sockets: they hold a connection as long as they please.

- `trickle`: a greeting of `220-` lines, one every `pace` seconds, never ending;
- `flood`: a greeting of `220-` lines as fast as the socket takes them (megabytes), never ending;
- `slow_tls`: a normal greeting and EHLO, then, once the client's ClientHello arrives, a TLS handshake that
  arrives one byte every `pace` seconds (with `implicit_tls`, the handshake at once, as on port 465);
- `early_tls`: like `slow_tls`, but sends its TLS bytes right behind the 220 to STARTTLS, ahead of the
  client's ClientHello (bytes an attacker could inject; the client must refuse them).

(Another kind, a server that hangs after DATA, is tests/support/mailserver.py with `Script.data_delay`: it
needs real TLS and AUTH to get that far.) Each connection is served by its own thread until `hold` seconds
have passed or the server is stopped.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

from tests.support.mailserver import free_port

KINDS = ("trickle", "flood", "slow_tls", "early_tls")


class HostileServer:
    def __init__(self, kind: str, *, pace: float = 0.2, hold: float = 300.0, implicit_tls: bool = False):
        assert kind in KINDS, kind
        assert not implicit_tls or kind == "slow_tls", "only slow_tls speaks TLS from the start (port 465's way)"
        self.kind, self.pace, self.hold, self.implicit_tls = kind, pace, hold, implicit_tls
        self.host, self.port = "localhost", free_port()
        self.connections = 0
        self.sent_bytes = 0
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._listener.settimeout(0.2)
        self._threads: list[threading.Thread] = []

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> HostileServer:
        thread = threading.Thread(target=self._accept, name=f"hostile-{self.kind}", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stopped.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
            thread = threading.Thread(target=self._serve, args=(connection,), daemon=True)
            thread.start()

    def _send(self, connection: socket.socket, data: bytes) -> None:
        connection.sendall(data)
        with self._lock:
            self.sent_bytes += len(data)

    def _holding(self, started: float) -> bool:
        return not self._stopped.is_set() and time.monotonic() - started < self.hold

    def _serve(self, connection: socket.socket) -> None:
        started = time.monotonic()
        with contextlib.suppress(OSError), connection:
            if self.kind == "trickle":
                while self._holding(started):
                    self._send(connection, b"220-Welcome, this greeting takes its time\r\n")
                    self._stopped.wait(self.pace)
            elif self.kind == "flood":
                line = b"220-" + b"x" * 500 + b"\r\n"
                chunk = line * 200  # about 100 kB a write
                connection.settimeout(1.0)
                while self._holding(started):
                    with contextlib.suppress(TimeoutError):
                        self._send(connection, chunk)
            else:  # slow_tls, early_tls
                connection.settimeout(self.hold)
                if not self.implicit_tls:
                    self._send(connection, b"220 mail.example ESMTP\r\n")
                reader = connection.makefile("rb")
                while not self.implicit_tls and self._holding(started):
                    command = reader.readline(1000).strip().upper()
                    if not command:
                        return
                    if command.startswith((b"EHLO", b"HELO")):
                        self._send(connection, b"250-mail.example\r\n250-AUTH PLAIN LOGIN\r\n250 STARTTLS\r\n")
                    elif command == b"STARTTLS":
                        early = b"\x16\x03\x03\x40\x00" if self.kind == "early_tls" else b""
                        self._send(connection, b"220 Go ahead\r\n" + early)
                        break
                    else:
                        self._send(connection, b"503 Not now\r\n")
                # The client speaks first in TLS: wait for its ClientHello (a real server, however slow, never
                # sends its ServerHello before; bytes sent ahead of the client's are refused as an injection, and
                # a worker slowed by a busy machine would read them together with the 220). Then a TLS record
                # header announcing a long ServerHello, and its bytes at a crawl.
                if self.kind == "slow_tls":
                    if not connection.recv(5):
                        return
                    self._send(connection, b"\x16\x03\x03\x40\x00")
                while self._holding(started):
                    self._send(connection, b"\x02")
                    self._stopped.wait(self.pace)
