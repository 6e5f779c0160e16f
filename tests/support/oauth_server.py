"""A real OAuth 2.0 + OpenID Connect authorization server for tests, built on Authlib's server components, served
over HTTPS on loopback: authorization code grant, PKCE required (S256), `state` echoed, a consent page with a
box per scope (untick one to grant less, or deny), ID tokens with the nonce, tokens that expire when told to,
and no refresh tokens unless asked. It answers Google's paths (/o/oauth2/v2/auth, /token) and Microsoft's
(/{tenant}/oauth2/v2.0/authorize and /token, ID tokens issued per tenant, personal accounts in the consumers
tenant). The API stand-ins and the XOAUTH2 mail server ask it whether a token is good (`introspect`)."""

from __future__ import annotations

import secrets
import ssl
import threading
import time
from dataclasses import dataclass, field

import trustme
from authlib.integrations.flask_oauth2 import AuthorizationServer as FlaskAuthorizationServer
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core.grants import OpenIDCode
from flask import Flask, g, request
from joserfc.jwk import OctKey
from markupsafe import escape
from werkzeug.serving import make_server

from tests.support.mailserver import free_port

CLIENT_ID = "outcry-test-client"
CLIENT_SECRET = "outcry-test-client-secret"
CONSUMERS_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"
WORK_TENANT = "72f988bf-0000-4000-8000-00000000c0de"
_SIGNING_KEY = OctKey.import_key(secrets.token_bytes(32))


@dataclass
class Client:
    client_id: str
    client_secret: str
    redirect_uris: list[str]

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return self.redirect_uris[0] if self.redirect_uris else None

    def get_allowed_scope(self, scope):
        return scope

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret):
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method, endpoint):
        return method in ("client_secret_post", "client_secret_basic") if endpoint == "token" else True

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type == "authorization_code"


@dataclass
class User:
    email: str

    def get_user_id(self):
        return self.email


@dataclass
class Code:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    email: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    issuer: str
    tenant: str
    created_at: float = field(default_factory=time.time)

    def is_expired(self):
        return time.time() - self.created_at > 600

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_nonce(self):
        return self.nonce

    def get_auth_time(self):
        return int(self.created_at)

    def get_acr(self):
        return None

    def get_amr(self):
        return None


@dataclass
class Token:
    access_token: str
    email: str
    scope: str
    client_id: str
    expires_at: float
    revoked: bool = False

    @property
    def scopes(self) -> set[str]:
        return set(self.scope.split())


class AuthorizationServer:
    """The provider's sign-in service. `redirect_uris` must be set before a sign-in (the app's callbacks)."""

    def __init__(self, ca: trustme.CA):
        self.port = free_port()
        self.base = f"https://localhost:{self.port}"
        self.lock = threading.Lock()
        self.clients = {CLIENT_ID: Client(CLIENT_ID, CLIENT_SECRET, [])}
        self.codes: dict[str, Code] = {}
        self.tokens: dict[str, Token] = {}
        self.token_lifetime = 3600
        self.token_requests = 0
        self.authorize_requests: list[dict[str, str]] = []
        # Claims put into the next ID tokens over the real ones (a provider's bug, or a hostile token endpoint).
        self.id_token_claims: dict = {}
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("localhost", "127.0.0.1").configure_cert(self.context)
        self.app = self._build()
        self._server = make_server("127.0.0.1", self.port, self.app, threaded=True, ssl_context=self.context)
        self._thread = threading.Thread(target=self._server.serve_forever, name="oauth-server", daemon=True)

    # ---- what tests use ----

    def start(self) -> AuthorizationServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()

    def reset(self) -> None:
        with self.lock:
            self.codes.clear()
            self.tokens.clear()
            self.token_lifetime = 3600
            self.token_requests = 0
            self.authorize_requests.clear()
            self.id_token_claims = {}

    @property
    def address(self) -> str:
        return f"localhost:{self.port}"

    def introspect(self, access_token: str) -> Token | None:
        """The token's grant if it is known, not revoked and not expired (what a resource server asks)."""
        with self.lock:
            token = self.tokens.get(access_token)
        if token is None or token.revoked or token.expires_at <= time.time():
            return None
        return token

    def expire_all(self) -> None:
        with self.lock:
            for token in self.tokens.values():
                token.expires_at = time.time() - 1

    # ---- the server ----

    def _build(self) -> Flask:
        app = Flask("oauth-test-server")
        app.config["SECRET_KEY"] = secrets.token_hex(16)
        outer = self

        def query_client(client_id):
            return outer.clients.get(client_id)

        def save_token(token, req):
            with outer.lock:
                outer.tokens[token["access_token"]] = Token(
                    token["access_token"],
                    req.user.email,
                    token.get("scope", ""),
                    req.client.client_id,
                    time.time() + token["expires_in"],
                )

        server = FlaskAuthorizationServer(app, query_client=query_client, save_token=save_token)
        server.register_token_generator(
            "default",
            BearerTokenGenerator(
                access_token_generator=lambda **_: secrets.token_urlsafe(32),
                expires_generator=lambda client, grant_type: outer.token_lifetime,
            ),
        )

        class CodeGrant(grants.AuthorizationCodeGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_post", "client_secret_basic"]

            def save_authorization_code(self, code, req):
                granted = g.get("granted_scope", req.payload.scope)
                with outer.lock:
                    outer.codes[code] = Code(
                        code=code,
                        client_id=req.client.client_id,
                        redirect_uri=req.payload.redirect_uri,
                        scope=granted,
                        email=req.user.email,
                        nonce=req.payload.data.get("nonce"),
                        code_challenge=req.payload.data.get("code_challenge"),
                        code_challenge_method=req.payload.data.get("code_challenge_method"),
                        issuer=g.issuer,
                        tenant=g.tenant,
                    )

            def query_authorization_code(self, code, client):
                with outer.lock:
                    found = outer.codes.get(code)
                if found and found.client_id == client.client_id and not found.is_expired():
                    g.code_record = found
                    return found
                return None

            def delete_authorization_code(self, authorization_code):
                with outer.lock:
                    outer.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code):
                return User(authorization_code.email)

        class IdToken(OpenIDCode):
            def exists_nonce(self, nonce, req):
                with outer.lock:
                    return any(code.nonce == nonce for code in outer.codes.values())

            def resolve_client_private_key(self, client):
                return _SIGNING_KEY

            def get_client_algorithm(self, client):
                return "HS256"

            def get_client_claims(self, client):
                code = g.code_record
                claims = {"iss": code.issuer, "aud": [client.client_id], "exp": int(time.time()) + 3600}
                if code.tenant:
                    claims["tid"] = code.tenant
                return claims

            def generate_user_info(self, user, scope):
                info = {"sub": user.email}
                if "email" in scope.split():
                    info.update(email=user.email, email_verified=True, preferred_username=user.email)
                return {**info, **outer.id_token_claims}

        server.register_grant(CodeGrant, [CodeChallenge(required=True), IdToken(require_nonce=True)])

        def consent(microsoft: bool):
            outer.authorize_requests.append(dict(request.values))
            user = User(request.values.get("account") or request.args.get("login_hint") or "supporter@example.org")
            try:
                grant = server.get_consent_grant(end_user=user)
            except Exception as exc:  # noqa: BLE001 - shown as the provider's error page
                return f"<h1>Sign-in error</h1><p id='error'>{escape(str(exc))}</p>", 400
            if request.method == "GET":
                return _consent_page(grant.client.client_id, grant.request.payload.scope, user.email)
            if microsoft:
                g.tenant = outer.microsoft_tenant_for(user.email)
                g.issuer = f"{outer.base}/{g.tenant}/v2.0"
            else:
                g.tenant, g.issuer = "", outer.base
            if request.form.get("confirm") != "yes":
                return server.create_authorization_response(grant=grant, grant_user=None)
            requested = grant.request.payload.scope.split()
            ticked = request.form.getlist("granted")
            g.granted_scope = " ".join(scope for scope in requested if scope in ticked)
            return server.create_authorization_response(grant=grant, grant_user=user)

        @app.route("/o/oauth2/v2/auth", methods=["GET", "POST"])
        def google_authorize():
            return consent(False)

        @app.route("/token", methods=["POST"])
        def google_token():
            outer.token_requests += 1
            return server.create_token_response()

        @app.route("/<tenant>/oauth2/v2.0/authorize", methods=["GET", "POST"])
        def microsoft_authorize(tenant):
            return consent(True)

        @app.route("/<tenant>/oauth2/v2.0/token", methods=["POST"])
        def microsoft_token(tenant):
            outer.token_requests += 1
            return server.create_token_response()

        return app

    @staticmethod
    def microsoft_tenant_for(email: str) -> str:
        """Personal Microsoft accounts live in the consumers tenant; everyone else in one work tenant."""
        domain = email.rpartition("@")[2].lower()
        return CONSUMERS_TENANT if domain in ("outlook.com", "hotmail.com", "live.com", "msn.com") else WORK_TENANT


def _consent_page(client_id: str, scope: str, email: str) -> str:
    boxes = "".join(
        f'<li><label><input type="checkbox" name="granted" value="{escape(s)}" checked> {escape(s)}</label></li>'
        for s in scope.split()
    )
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in · test provider</title></head>
<body><main><h1>Sign in to continue to {escape(client_id)}</h1>
<form method="post">
<p><label>Account <input name="account" value="{escape(email)}"></label></p>
<p>This app wants to:</p><ul>{boxes}</ul>
<button type="submit" name="confirm" value="yes">Allow</button>
<button type="submit" name="confirm" value="no">Cancel</button>
</form></main></body></html>"""
