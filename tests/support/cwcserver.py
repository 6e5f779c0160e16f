"""A stand-in for CWC's endpoint in tests: HTTPS on a free port, checks the API key, validates every message against
the same grammar the app uses, and answers as CWC's documentation describes it (or as the test scripts it).

Answers: 200 "Message Accepted" for a valid message; 400 with `<Errors><Error>…</Error></Errors>` for one that does
not validate or that the script refuses (with the script's message); a scripted status (500, 503 …); or a hang
that holds the connection open until the test releases it.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

import trustme
from lxml import etree

from webapp.cwc import message as cwc_message

API_KEY = "test-cwc-api-key-0123456789"
PATH = "/v2/message"


@dataclass
class Received:
    """One message that validated and was accepted."""

    xml: bytes
    query: dict[str, list[str]]

    @property
    def document(self) -> etree._Element:
        return etree.fromstring(self.xml)

    def text(self, path: str) -> str | None:
        found = self.document.find(path)
        return None if found is None else found.text

    @property
    def office(self) -> str | None:
        return self.text("Recipient/MemberOffice")


@dataclass
class Answer:
    """What to answer the next request with instead of the normal service."""

    status: int = 200
    errors: list[str] = field(default_factory=list)  # for a 400: the <Error> lines
    hang: bool = False
    body: bytes | None = None


class CwcServer:
    def __init__(self, ca: trustme.CA, ca_file: Path, grammar: str | None = None):
        self.ca, self.ca_file, self.grammar = ca, ca_file, grammar
        self.received: list[Received] = []
        self.refused: list[bytes] = []  # bodies answered with 400 (invalid or scripted refusal)
        self.requests = 0
        self.script: list[Answer] = []
        self.refuse_office: Callable[[etree._Element], str | None] | None = None
        self.lock = threading.Lock()
        self.release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"https://localhost:{self._server.server_address[1]}{PATH}"

    def start(self) -> CwcServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                owner._handle(self)

            def do_GET(self):
                self._answer(405, b"")

            def _answer(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="cwc-test-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def reset(self) -> None:
        self.release.set()  # let any hung handler go
        with self.lock:
            self.received.clear()
            self.refused.clear()
            self.script.clear()
            self.requests = 0
            self.refuse_office = None
        self.release = threading.Event()

    def _handle(self, handler) -> None:
        with self.lock:
            self.requests += 1
            answer = self.script.pop(0) if self.script else None
            release = self.release
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        if answer is not None and answer.hang:
            release.wait(120)
            handler.close_connection = True
            return
        if parts.path != PATH:
            handler._answer(404, b"Not Found")
            return
        query = parse_qs(parts.query)
        if query.get("apikey") != [API_KEY]:
            handler._answer(401, b"Invalid API key")
            return
        problems = cwc_message.problems(body, self.grammar)
        if problems:
            with self.lock:
                self.refused.append(body)
            handler._answer(400, _errors(problems), "application/xml")
            return
        if answer is None and self.refuse_office is not None:
            reason = self.refuse_office(etree.fromstring(body))
            if reason:
                answer = Answer(status=400, errors=[reason])
        if answer is not None and answer.status != 200:
            if answer.status == 400:
                with self.lock:
                    self.refused.append(body)
            handler._answer(answer.status, answer.body or _errors(answer.errors), "application/xml")
            return
        with self.lock:
            self.received.append(Received(body, query))
        handler._answer(200, b"Message Accepted")


def _errors(lines: list[str]) -> bytes:
    items = "".join(f"<Error>{escape(line)}</Error>" for line in lines)
    return f'<?xml version="1.0"?><Errors>{items}</Errors>'.encode()
