"""Stand-ins for the Gmail API and Microsoft Graph over HTTPS on loopback, checking each request the way the
providers document it, with tokens checked against the test authorization server:

- Gmail: POST /gmail/v1/users/me/messages/send, `Authorization: Bearer …` carrying the gmail.send scope,
  `Content-Type: application/json`, a body {"raw": the RFC 5322 message in base64url}; the From address must
  be the signed-in account's. Answers 200 with the message's id, or Google's JSON errors.
- Graph: POST /v1.0/me/sendMail, `Authorization: Bearer …` carrying Mail.Send, `Content-Type: text/plain`, the
  MIME message in base64 as the body; From must be the signed-in account's. Answers 202 with no body, or
  Graph's JSON errors (with Retry-After on 429).
"""

from __future__ import annotations

import base64
import binascii
import json
import ssl
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parseaddr

import trustme
from flask import Flask, request
from werkzeug.serving import make_server

from tests.support.mailserver import free_port
from tests.support.oauth_server import AuthorizationServer

GMAIL_SEND = "https://www.googleapis.com/auth/gmail.send"
GRAPH_MAIL_SEND = "https://graph.microsoft.com/Mail.Send"


@dataclass
class Delivered:
    api: str  # gmail | graph
    account: str
    data: bytes  # the RFC 5322 bytes, exactly as they arrived

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.data.replace(b"\r\n", b"\n"), policy=policy.default)


@dataclass
class Scripted:
    status: int
    body: dict | None = None
    headers: dict = field(default_factory=dict)


class MailApis:
    def __init__(self, ca: trustme.CA, authorization: AuthorizationServer):
        self.authorization = authorization
        self.port = free_port()
        self.base = f"https://localhost:{self.port}"
        self.lock = threading.Lock()
        self.delivered: list[Delivered] = []
        self.refused: list[tuple[str, int, str]] = []  # (api, status, why) of every request turned away
        self.script: list[Scripted] = []  # answers to give instead, in order
        self.delay = 0.0
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("localhost", "127.0.0.1").configure_cert(self.context)
        self.app = self._build()
        self._server = make_server("127.0.0.1", self.port, self.app, threaded=True, ssl_context=self.context)
        self._thread = threading.Thread(target=self._server.serve_forever, name="mail-apis", daemon=True)

    @property
    def address(self) -> str:
        return f"localhost:{self.port}"

    def start(self) -> MailApis:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()

    def reset(self) -> None:
        with self.lock:
            self.delivered.clear()
            self.refused.clear()
            self.script.clear()
            self.delay = 0.0

    def message_ids(self) -> list[str]:
        with self.lock:
            return [str(item.message["Message-ID"]) for item in self.delivered]

    def _refuse(self, api: str, status: int, why: str, body: dict, headers: dict | None = None):
        with self.lock:
            self.refused.append((api, status, why))
        return body, status, headers or {}

    def _build(self) -> Flask:
        app = Flask("mail-api-stand-ins")
        outer = self

        def bearer(api: str, scope: str):
            header = request.headers.get("Authorization", "")
            if not header.startswith("Bearer "):
                return None, "no bearer token"
            token = outer.authorization.introspect(header.removeprefix("Bearer "))
            if token is None:
                return None, "invalid or expired token"
            if scope not in token.scopes:
                return token, "insufficient scope"
            return token, ""

        def scripted():
            import time

            if outer.delay:
                time.sleep(outer.delay)
            with outer.lock:
                return outer.script.pop(0) if outer.script else None

        @app.post("/gmail/v1/users/me/messages/send")
        def gmail_send():
            token, problem = bearer("gmail", GMAIL_SEND)
            if problem == "insufficient scope":
                return outer._refuse(
                    "gmail",
                    403,
                    problem,
                    _google_error(
                        403,
                        "Request had insufficient authentication scopes.",
                        "PERMISSION_DENIED",
                        "insufficientPermissions",
                    ),
                )
            if problem:
                return outer._refuse(
                    "gmail",
                    401,
                    problem,
                    _google_error(
                        401,
                        "Request had invalid authentication credentials. Expected OAuth 2 access token.",
                        "UNAUTHENTICATED",
                        "authError",
                    ),
                )
            if request.mimetype != "application/json":
                return outer._refuse(
                    "gmail",
                    400,
                    "not json",
                    _google_error(400, "Invalid JSON payload received.", "INVALID_ARGUMENT", "badRequest"),
                )
            try:
                raw = request.get_json()["raw"]
                data = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
            except (KeyError, TypeError, ValueError, binascii.Error):
                return outer._refuse(
                    "gmail",
                    400,
                    "no raw",
                    _google_error(
                        400,
                        "'raw' RFC822 payload message string or uploading message via /upload/* URL required",
                        "INVALID_ARGUMENT",
                        "invalidArgument",
                    ),
                )
            answer = scripted()
            if answer is not None:
                return outer._refuse("gmail", answer.status, "scripted", answer.body or {}, answer.headers)
            return deliver(
                "gmail",
                token,
                data,
                lambda: ({"id": f"msg{len(outer.delivered)}", "threadId": "t1", "labelIds": ["SENT"]}, 200),
            )

        @app.post("/v1.0/me/sendMail")
        def graph_send():
            token, problem = bearer("graph", GRAPH_MAIL_SEND)
            if problem == "insufficient scope":
                return outer._refuse(
                    "graph",
                    403,
                    problem,
                    _graph_error("ErrorAccessDenied", "Access is denied. Check credentials and try again."),
                )
            if problem:
                return outer._refuse(
                    "graph",
                    401,
                    problem,
                    _graph_error("InvalidAuthenticationToken", "Access token has expired or is not yet valid."),
                )
            if request.mimetype != "text/plain":
                return outer._refuse(
                    "graph",
                    400,
                    "not mime",
                    _graph_error("ErrorInvalidRequest", "Cannot process input of JSON type for MIME content."),
                )
            try:
                data = base64.b64decode(request.get_data(), validate=True)
            except (ValueError, binascii.Error):
                return outer._refuse(
                    "graph",
                    400,
                    "not base64",
                    _graph_error("ErrorMimeContentInvalidBase64String", "Invalid base64 string for MIME content."),
                )
            answer = scripted()
            if answer is not None:
                return outer._refuse("graph", answer.status, "scripted", answer.body or {}, answer.headers)
            return deliver("graph", token, data, lambda: ("", 202))

        def deliver(api, token, data, answer):
            message = message_from_bytes(data.replace(b"\r\n", b"\n"), policy=policy.default)
            sender = parseaddr(str(message.get("From", "")))[1].lower()
            if not message.get("To") or not message.get("Subject"):
                if api == "gmail":
                    return outer._refuse(
                        api,
                        400,
                        "no To",
                        _google_error(400, "Invalid To header", "INVALID_ARGUMENT", "invalidArgument"),
                    )
                return outer._refuse(
                    api, 400, "no To", _graph_error("ErrorInvalidRecipients", "At least one recipient is not valid.")
                )
            if sender != token.email.lower():
                if api == "gmail":  # Gmail would quietly put the account's own address instead; refuse to notice
                    return outer._refuse(
                        api,
                        400,
                        "From is not the account",
                        _google_error(400, "From is not the account", "INVALID_ARGUMENT", "invalidArgument"),
                    )
                return outer._refuse(
                    api,
                    403,
                    "send as denied",
                    _graph_error(
                        "ErrorSendAsDenied",
                        "The user account which was used to submit this request does not have the right to send mail on behalf of the specified sending account.",
                    ),
                )
            with outer.lock:
                outer.delivered.append(Delivered(api, token.email, data))
            body, status = answer()
            return (json.dumps(body) if body else ""), status, ({"Content-Type": "application/json"} if body else {})

        return app


def _google_error(code: int, message: str, status: str, reason: str) -> dict:
    return {"error": {"code": code, "message": message, "status": status,
                      "errors": [{"message": message, "domain": "global", "reason": reason}]}}  # fmt: skip


def _graph_error(code: str, message: str) -> dict:
    return {"error": {"code": code, "message": message}}
