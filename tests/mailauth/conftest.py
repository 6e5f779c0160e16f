"""Fixtures for 'Send with Google / Microsoft': the test authorization server, the Gmail API and Graph stand-ins,
an XOAUTH2 mail server, and an app whose OAuth clients point at them."""

from __future__ import annotations

import ssl
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.support.mail_apis import MailApis
from tests.support.oauth_server import CLIENT_ID, CLIENT_SECRET, AuthorizationServer
from tests.support.xoauth2_server import XOAuth2MailServer
from webapp.config import parse_allowed_hosts


@pytest.fixture(scope="session")
def oauth_server(certificate_authority):
    ca, _path = certificate_authority
    server = AuthorizationServer(ca).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mail_apis(certificate_authority, oauth_server):
    ca, _path = certificate_authority
    server = MailApis(ca, oauth_server).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def xoauth2_server(certificate_authority, oauth_server):
    ca, path = certificate_authority
    server = XOAuth2MailServer(ca, path, oauth_server).start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def clean_oauth(request):
    for name in ("oauth_server", "mail_apis", "xoauth2_server"):
        if name in request.fixturenames:
            request.getfixturevalue(name).reset()
    yield


def oauth_settings(oauth_server, mail_apis, xoauth2_server=None, **overrides) -> dict:
    settings = {
        "GOOGLE_CLIENT_ID": CLIENT_ID,
        "GOOGLE_CLIENT_SECRET": CLIENT_SECRET,
        "MICROSOFT_CLIENT_ID": CLIENT_ID,
        "MICROSOFT_CLIENT_SECRET": CLIENT_SECRET,
        "GOOGLE_ACCOUNTS_URL": oauth_server.base,
        "GOOGLE_OAUTH2_URL": oauth_server.base,
        "MICROSOFT_LOGIN_URL": oauth_server.base,
        "GMAIL_API_URL": mail_apis.base,
        "GRAPH_API_URL": mail_apis.base,
        "OAUTH_ALLOWED_HOSTS": f"{oauth_server.address},{mail_apis.address}",
        "OAUTH_CA_FILE": None,
        "MAIL_SETTINGS_MX_LOOKUP": False,
        "MICROSOFT_SEND_WITH": "graph",
        "OAUTH_TIMEOUT": 10.0,
    }
    if xoauth2_server is not None:
        settings["MICROSOFT_SMTP_HOST"] = xoauth2_server.address
    settings.update(overrides)
    return settings


@pytest.fixture
def oauth_app(app, monkeypatch, oauth_server, mail_apis, xoauth2_server):
    """The suite's app (so its Celery worker sends with the same settings) with both OAuth clients configured,
    pointing at the test authorization server, the API stand-ins and the XOAUTH2 mail server."""
    settings = oauth_settings(oauth_server, mail_apis, xoauth2_server, OAUTH_CA_FILE=app.config["SMTP_CA_FILE"])
    settings["OAUTH_ALLOWED_HOSTS"] = parse_allowed_hosts(settings["OAUTH_ALLOWED_HOSTS"])
    settings["SMTP_ALLOWED_HOSTS"] = app.config["SMTP_ALLOWED_HOSTS"] | {("localhost", xoauth2_server.port)}
    for name, value in settings.items():
        monkeypatch.setitem(app.config, name, value)
    oauth_server.clients[CLIENT_ID].redirect_uris[:] = [
        "http://outcry.test/mail/signed-in/google",
        "http://outcry.test/mail/signed-in/microsoft",
    ]
    return app


class Browser:
    """The supporter's browser at the provider: opens the consent page, allows or refuses, and returns the
    callback address the provider redirects to (not followed: the test hands it to the app)."""

    def __init__(self, ca_file: str):
        self.http = httpx.Client(
            verify=ssl.create_default_context(cafile=ca_file), follow_redirects=False, trust_env=False
        )

    def consent(self, url: str, *, allow: bool = True, account: str | None = None, untick: tuple[str, ...] = ()):
        page = self.http.get(url)
        assert page.status_code == 200, page.text
        query = parse_qs(urlsplit(url).query)
        scopes = [scope for scope in query["scope"][0].split() if scope not in untick]
        form = {"confirm": "yes" if allow else "no", "granted": scopes}
        if account:
            form["account"] = account
        elif "login_hint" in query:
            form["account"] = query["login_hint"][0]
        answer = self.http.post(url, data=form)
        assert answer.status_code == 302, answer.text
        return answer.headers["Location"]


@pytest.fixture
def provider_browser(app):
    browser = Browser(app.config["SMTP_CA_FILE"])
    yield browser
    browser.http.close()


def callback_args(location: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}
