"""A real SMTP server (aiosmtpd, STARTTLS) that signs senders in with SASL XOAUTH2, as Microsoft's (and Google's)
do: the initial response `user=…^Aauth=Bearer …^A^A` is checked with the test authorization server (a live
token carrying SMTP.Send, issued to that very user); a refusal first sends a 334 with a JSON error, waits for
the client's empty line, then 535, as the mechanism's documentation describes. Password logins are refused."""

from __future__ import annotations

import base64
import binascii
import json

from aiosmtpd.smtp import AuthResult

from tests.support.mailserver import FaultySMTP, MailServer, _FaultyController
from tests.support.oauth_server import AuthorizationServer

SMTP_SEND = "https://outlook.office.com/SMTP.Send"


class XOAuth2SMTP(FaultySMTP):
    async def auth_XOAUTH2(self, _server, args) -> AuthResult:
        mail_server: XOAuth2MailServer = self.mail_server  # type: ignore[assignment]
        if len(args) > 1:
            raw = args[1]
        else:
            raw = await self.challenge_auth("", encode_to_b64=False)
            if raw is None:
                return AuthResult(success=False, handled=True)
            raw = raw if isinstance(raw, str) else raw.decode()
        try:
            text = base64.b64decode(raw, validate=True).decode()
            parts = dict(part.split("=", 1) for part in text.split("\x01") if part)
            user, auth = parts["user"], parts["auth"]
        except (ValueError, KeyError, binascii.Error, UnicodeDecodeError):
            await self.push("501 5.5.2 Cannot decode the XOAUTH2 response")
            return AuthResult(success=False, handled=True)
        token = (
            mail_server.authorization.introspect(auth.removeprefix("Bearer ")) if auth.startswith("Bearer ") else None
        )
        ok = token is not None and SMTP_SEND in token.scopes and token.email.lower() == user.lower()
        with mail_server.lock:
            mail_server.auth_attempts.append(("XOAUTH2", ok))
        if ok:
            return AuthResult(success=True, auth_data=user)
        error = json.dumps({"status": "401", "schemes": "bearer", "scope": SMTP_SEND}).encode()
        await self.challenge_auth(base64.b64encode(error).decode(), encode_to_b64=False)  # the client's empty line
        return AuthResult(success=False, handled=False)


class _Controller(_FaultyController):
    def factory(self):
        return XOAuth2SMTP(self.mail_server, self.handler, **self.SMTP_kwargs)


class XOAuth2MailServer(MailServer):
    def __init__(self, ca, ca_file, authorization: AuthorizationServer):
        super().__init__(ca, ca_file)
        self.authorization = authorization
        kwargs = dict(
            hostname="127.0.0.1",
            port=self.port,
            authenticator=lambda *args: AuthResult(success=False, handled=False),  # no passwords here
            auth_required=True,
            server_hostname="localhost",
            tls_context=self.context,
            require_starttls=True,
            auth_exclude_mechanism=["PLAIN", "LOGIN"],
        )
        self.controller = _Controller(self, self.controller.handler, **kwargs)
