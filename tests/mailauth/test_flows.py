"""The OAuth sign-in against a real authorization server (Authlib's server components over HTTPS): PKCE, state,
nonce, consent refused, a scope left unticked, a tampered callback, a replayed one, tokens that expire."""

from __future__ import annotations

import base64
import hashlib
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.mailauth.conftest import callback_args
from webapp.delivery.credentials import OAuthAccount
from webapp.mailauth import service

REDIRECT = "http://outcry.test/mail/signed-in/{provider}"


def begin(provider="google", hint="maria@gmail.com", purpose=None):
    return service.start(
        provider, redirect_uri=REDIRECT.format(provider=provider), login_hint=hint, purpose=purpose or {"test": True}
    )


def test_google_sign_in_asks_for_gmail_send_with_pkce_and_state(oauth_app, oauth_server, provider_browser):
    with oauth_app.app_context():
        sign_in, url = begin()
        query = {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
        assert url.startswith(f"{oauth_server.base}/o/oauth2/v2/auth?")
        assert query["scope"].split() == ["openid", "email", "https://www.googleapis.com/auth/gmail.send"]
        assert query["response_type"] == "code"
        assert query["state"] == sign_in.state
        assert query["code_challenge_method"] == "S256"
        expected = base64.urlsafe_b64encode(hashlib.sha256(sign_in.code_verifier.encode()).digest()).rstrip(b"=")
        assert query["code_challenge"] == expected.decode()
        assert "code_verifier" not in url and sign_in.code_verifier not in url
        assert query["login_hint"] == "maria@gmail.com"
        assert "access_type" not in query  # no offline access: no refresh token is ever asked for

        location = provider_browser.consent(url)
        assert location.startswith(REDIRECT.format(provider="google"))
        args = callback_args(location)
        taken = service.take(sign_in.id)
        account = service.finish(taken, args)
    assert isinstance(account, OAuthAccount)
    assert account.email == "maria@gmail.com"
    assert account.send_with == "gmail_api"
    assert 3500 < account.expires_at - time.time() <= 3600
    assert oauth_server.introspect(account.access_token) is not None
    assert "refresh" not in repr(account) and account.access_token not in repr(account)


def test_microsoft_sign_in_works_for_personal_and_work_accounts(oauth_app, oauth_server, provider_browser):
    for email in ("maria@outlook.com", "maria@volunteers.example"):
        with oauth_app.app_context():
            sign_in, url = begin("microsoft", email)
            assert url.startswith(f"{oauth_server.base}/common/oauth2/v2.0/authorize?")
            assert "https://graph.microsoft.com/Mail.Send" in parse_qs(urlsplit(url).query)["scope"][0]
            args = callback_args(provider_browser.consent(url))
            account = service.finish(service.take(sign_in.id), args)
        assert account.email == email
        assert account.send_with == "graph"


def test_refusing_consent_sends_nothing_and_says_so(oauth_app, oauth_server, provider_browser):
    with oauth_app.app_context():
        sign_in, url = begin()
        args = callback_args(provider_browser.consent(url, allow=False))
        assert args["error"] == "access_denied"
        with pytest.raises(service.SignInFailed) as refused:
            service.finish(service.take(sign_in.id), args)
    assert refused.value.cause == "refused"
    assert "You didn't allow Outcry to send from your Google account, so nothing was sent." in refused.value.reason
    assert oauth_server.token_requests == 0


def test_unticking_the_send_permission_is_caught(oauth_app, provider_browser):
    with oauth_app.app_context():
        sign_in, url = begin()
        args = callback_args(provider_browser.consent(url, untick=("https://www.googleapis.com/auth/gmail.send",)))
        with pytest.raises(service.SignInFailed) as refused:
            service.finish(service.take(sign_in.id), args)
    assert refused.value.cause == "send_scope_missing"
    assert "permission to send mail" in refused.value.reason


def test_a_tampered_state_is_refused_before_the_code_is_spent(oauth_app, oauth_server, provider_browser):
    with oauth_app.app_context():
        sign_in, url = begin()
        args = callback_args(provider_browser.consent(url))
        forged = {**args, "state": args["state"][:-1] + ("A" if args["state"][-1] != "A" else "B")}
        with pytest.raises(service.SignInFailed) as refused:
            service.finish(service.take(sign_in.id), forged)
    assert refused.value.cause == "state_mismatch"
    assert oauth_server.token_requests == 0


def test_a_tampered_code_or_someone_elses_code_gets_no_token(oauth_app, oauth_server, provider_browser):
    with oauth_app.app_context():
        mine, my_url = begin(hint="maria@gmail.com")
        theirs, their_url = begin(hint="attacker@gmail.com")
        my_args = callback_args(provider_browser.consent(my_url))
        their_args = callback_args(provider_browser.consent(their_url))
        # The attacker's code with my state: PKCE binds the code to the attacker's verifier, so mine fails.
        with pytest.raises(service.SignInFailed) as refused:
            service.finish(service.take(mine.id), {**my_args, "code": their_args["code"]})
        assert refused.value.cause == "exchange_refused"
        with pytest.raises(service.SignInFailed):
            service.finish(service.take(theirs.id), {**their_args, "code": their_args["code"] + "x"})
    assert not oauth_server.tokens


def test_a_callback_works_once(oauth_app, provider_browser):
    with oauth_app.app_context():
        sign_in, url = begin()
        callback_args(provider_browser.consent(url))
        assert service.take(sign_in.id) is not None
        assert service.take(sign_in.id) is None


def test_the_sign_in_record_is_encrypted_and_expires(oauth_app):
    from webapp.extensions import get_credentials_redis, get_redis

    with oauth_app.app_context():
        sign_in, _url = begin(purpose={"send": {"note": "My own words about my family."}})
        key = f"outcry:oauth-sign-in:{sign_in.id}"
        raw = get_credentials_redis().get(key)  # with the passwords, in the Redis that writes nothing to disk
        ttl = get_credentials_redis().ttl(key)
        assert get_redis().get(key) is None
    assert (
        b"My own words" not in raw and sign_in.code_verifier.encode() not in raw and sign_in.state.encode() not in raw
    )
    assert 0 < ttl <= oauth_app.config["OAUTH_SIGN_IN_TTL"]


def test_a_token_endpoint_that_hangs_ends_within_the_deadline(oauth_app, provider_browser):
    from tests.support.mailserver import SilentServer

    silent = SilentServer().start()
    try:
        with oauth_app.app_context():
            sign_in, url = begin()
            args = callback_args(provider_browser.consent(url))
            oauth_app.config.update(
                GOOGLE_OAUTH2_URL=f"https://{silent.address}",
                OAUTH_ALLOWED_HOSTS=oauth_app.config["OAUTH_ALLOWED_HOSTS"] | {("localhost", silent.port)},
                OAUTH_TIMEOUT=1.0,
            )
            started = time.monotonic()
            with pytest.raises(service.SignInFailed) as failed:
                service.finish(service.take(sign_in.id), args)
            took = time.monotonic() - started
    finally:
        silent.stop()
    assert failed.value.cause == "exchange_failed"
    assert "didn't work just now" in failed.value.reason
    assert took < 10  # bounded by the deadline (1 s) and the watchdog, not by the server


def test_a_provider_endpoint_on_a_private_address_is_never_contacted(oauth_app, provider_browser):
    from tests.support.dns import listening_socket

    with listening_socket(backlog=5, timeout=0.2) as (sock, port):
        with oauth_app.app_context():
            sign_in, url = begin()
            args = callback_args(provider_browser.consent(url))
            oauth_app.config["GOOGLE_OAUTH2_URL"] = f"https://127.0.0.1:{port}"
            with pytest.raises(service.SignInFailed) as failed:
                service.finish(service.take(sign_in.id), args)
        with pytest.raises(TimeoutError):
            sock.accept()
    assert failed.value.cause == "exchange_failed"


def test_a_refused_sign_in_keeps_its_english_reason_and_reads_in_spanish(oauth_app, provider_browser):
    with oauth_app.test_request_context("/", headers={"Accept-Language": "es"}):
        sign_in, url = begin()
        args = callback_args(provider_browser.consent(url, untick=("https://www.googleapis.com/auth/gmail.send",)))
        with pytest.raises(service.SignInFailed) as refused:
            service.finish(service.take(sign_in.id), args)
        spanish = refused.value.translated()
    assert refused.value.reason.startswith("Google didn't give Outcry permission to send mail for you")
    assert spanish.startswith("Google no le dio permiso a Outcry para enviar correo por ti")


@pytest.mark.parametrize(
    "claims",
    [
        {"exp": float("inf")},  # JSON 1e999 or Infinity
        {"exp": float("nan")},
        {"exp": 1e300},  # a date no token lasts until
        {"exp": "soon"},
        {"iat": float("inf")},
        {"iat": float("-inf")},
        {"iat": 1e300},  # issued in the far future
        {"iat": "now"},
    ],
    ids=repr,
)
def test_an_id_token_with_an_impossible_time_is_refused_like_any_bad_token(
    oauth_app, oauth_server, provider_browser, claims
):
    oauth_server.id_token_claims = claims
    with oauth_app.app_context():
        sign_in, url = begin()
        args = callback_args(provider_browser.consent(url))
        with pytest.raises(service.SignInFailed) as refused:
            service.finish(service.take(sign_in.id), args)
    assert refused.value.cause == "id_token_invalid"
    assert "Signing in with Google didn't work just now, so nothing was sent." in refused.value.reason


def test_the_sender_budget_after_a_sign_in_follows_the_account_not_its_email_claim(
    oauth_app, oauth_server, provider_browser
):
    """A provider may let its user change the address on an account (Microsoft does): the per-sender budget is
    the account's (the token's issuer and subject), so changing the address starts no new budget, and two
    accounts that once held the same address never share one."""
    from webapp.delivery.credentials import sender_fingerprint

    def fingerprint(email: str, subject: str) -> str:
        oauth_server.id_token_claims = {"sub": subject}
        with oauth_app.app_context():
            sign_in, url = begin("microsoft", hint=email)
            account = service.finish(service.take(sign_in.id), callback_args(provider_browser.consent(url)))
            assert account.email == email
            return sender_fingerprint(email, account)

    first = fingerprint("maria@volunteers.example", "subject-of-maria")
    assert fingerprint("maria.renamed@volunteers.example", "subject-of-maria") == first
    assert fingerprint("maria@volunteers.example", "subject-of-someone-else") != first


def test_an_id_token_without_a_subject_is_refused(oauth_app, oauth_server, provider_browser):
    oauth_server.id_token_claims = {"sub": ""}
    with oauth_app.app_context():
        sign_in, url = begin()
        with pytest.raises(service.SignInFailed) as refused:
            service.finish(service.take(sign_in.id), callback_args(provider_browser.consent(url)))
    assert refused.value.cause == "id_token_invalid"
