"""Organizer accounts: the commands, passwords stored hashed, logging in and out, the log-in limit, sessions that
expire, roles, and API tokens shown once and stored hashed."""

from __future__ import annotations

import time

import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import select

from tests.conftest import csrf_token
from tests.organize.conftest import ADMIN, ORGANIZER, PASSWORD, STRANGER, log_in, token_for
from tests.support.letters import LAUNCH
from webapp.extensions import db
from webapp.organize import accounts
from webapp.organize.models import ApiToken, Organizer


def organizer(app, email: str) -> Organizer:
    with app.app_context():
        found = accounts.find_organizer(email)
        db.session.expunge(found)
        return found


# ---- commands -------------------------------------------------------------------------------------------------


def test_create_asks_for_the_password_twice_and_stores_only_a_hash(app, runner):
    result = runner.invoke(
        args=["organizers", "create", "New.Person@Example.org", "--role", "admin", "--campaign", LAUNCH],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert "Created admin new.person@example.org, running reunite-families" in result.output
    assert PASSWORD not in result.output
    created = organizer(app, "new.person@example.org")
    assert created.role == "admin"
    assert created.password_hash.startswith(("scrypt:", "pbkdf2:")) and PASSWORD not in created.password_hash
    with app.app_context():
        assert accounts.authenticate("NEW.person@example.org", PASSWORD) is not None
        assert accounts.authenticate("new.person@example.org", PASSWORD + "x") is None


@pytest.mark.parametrize(
    "args,typed,message",
    [
        (["not-an-email"], f"{PASSWORD}\n{PASSWORD}\n", "@-sign"),
        (["short@example.org"], "short\nshort\n", "at least 12 characters"),
        (["x@example.org", "--campaign", "nope"], "", "No campaign 'nope'"),
    ],
)
def test_create_refuses_what_cannot_work(runner, args, typed, message):
    result = runner.invoke(args=["organizers", "create", *args], input=typed)
    assert result.exit_code != 0
    assert message in result.output


def test_create_refuses_a_taken_email(runner, people):
    result = runner.invoke(args=["organizers", "create", ORGANIZER], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code != 0 and "already an organizer" in result.output


def test_reset_password_logs_out_every_browser(app, runner, as_organizer):
    assert as_organizer.get("/organize/").status_code == 200
    new = "another long test password"
    result = runner.invoke(args=["organizers", "reset-password", ORGANIZER], input=f"{new}\n{new}\n")
    assert result.exit_code == 0, result.output
    assert as_organizer.get("/organize/").status_code == 302  # the old session no longer opens the workspace
    assert log_in(app.test_client(), ORGANIZER, new).status_code == 302
    assert log_in(app.test_client(), ORGANIZER, PASSWORD).status_code == 401


def test_token_is_shown_once_and_stored_as_a_hash(app, runner, people):
    result = runner.invoke(args=["organizers", "token", ORGANIZER, "--name", "spreadsheet"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[0]
    assert token.startswith("oc_") and len(token) > 40
    with app.app_context():
        stored = db.session.scalars(select(ApiToken)).all()
        assert [t.name for t in stored] == ["spreadsheet"]
        assert token not in stored[0].token_hash and stored[0].prefix == token[:10]
    client = app.test_client()
    assert client.get("/api/v1/organize/campaigns", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_grant_and_list(runner, people):
    assert "can now run" in runner.invoke(args=["organizers", "grant", ORGANIZER, LAUNCH]).output
    listing = runner.invoke(args=["organizers", "list"]).output
    assert ADMIN in listing and "every campaign" in listing
    assert f"{ORGANIZER}" in listing and LAUNCH in listing


# ---- logging in -----------------------------------------------------------------------------------------------


def test_the_workspace_asks_to_log_in_first(client):
    response = client.get(f"/organize/c/{LAUNCH}/letters")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/organize/login?next=")


def test_wrong_password_and_unknown_email_get_the_same_answer(client, people):
    wrong = log_in(client, ORGANIZER, "wrong password here")
    unknown = log_in(client, "nobody@example.org")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "don&#39;t match an organizer account" in response.get_data(as_text=True)


def test_log_in_goes_to_the_page_asked_for_but_never_off_site(app, people):
    client = app.test_client()
    assert (
        log_in(client, ADMIN, next_url=f"/organize/c/{LAUNCH}/letters").headers["Location"]
        == f"/organize/c/{LAUNCH}/letters"
    )
    for evil in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        client = app.test_client()
        assert log_in(client, ADMIN, next_url=evil).headers["Location"] == "/organize/"


def test_log_out_needs_the_form_and_ends_the_session(as_organizer):
    page = as_organizer.get("/organize/").get_data(as_text=True)
    assert as_organizer.post("/organize/logout").status_code == 400  # no CSRF token: refused
    assert as_organizer.get("/organize/").status_code == 200
    assert as_organizer.post("/organize/logout", data={"csrf_token": csrf_token(page)}).status_code == 302
    assert as_organizer.get("/organize/").status_code == 302


def test_a_deactivated_organizer_is_logged_out_and_cannot_log_in(app, as_organizer):
    with app.app_context():
        found = accounts.find_organizer(ORGANIZER)
        found.active = False
        db.session.commit()
    assert as_organizer.get("/organize/").status_code == 302
    assert log_in(app.test_client(), ORGANIZER).status_code == 401


def test_session_cookie_is_permanent_for_the_configured_lifetime(make_app, people):
    short = make_app(PERMANENT_SESSION_LIFETIME=600)
    client = short.test_client()
    response = log_in(client, ORGANIZER)
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "Expires=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_a_session_older_than_its_lifetime_no_longer_opens_the_workspace(make_app, people, monkeypatch):
    short = make_app(PERMANENT_SESSION_LIFETIME=600)
    client = short.test_client()
    real = TimestampSigner.get_timestamp
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - 3600)  # signed an hour ago
    assert log_in(client, ORGANIZER).headers["Location"] == "/organize/"
    monkeypatch.setattr(TimestampSigner, "get_timestamp", real)
    response = client.get("/organize/")
    assert response.status_code == 302 and "/organize/login" in response.headers["Location"]


def test_log_in_is_rate_limited_per_address_and_per_account(make_app, people):
    limited = make_app(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="3 per minute", RATELIMIT_DEFAULT="1000 per minute")
    client = limited.test_client()
    for _ in range(3):
        assert log_in(client, ORGANIZER, "wrong password here").status_code == 401
    refused = log_in(client, ORGANIZER, PASSWORD)  # even the right password waits
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "Too many log-in attempts" in refused.get_data(as_text=True)
    # The same account from another address is limited too (someone guessing from many places).
    other = limited.test_client()
    page = other.get("/organize/login", environ_base={"REMOTE_ADDR": "198.51.100.9"}).get_data(as_text=True)
    again = other.post(
        "/organize/login",
        data={"csrf_token": csrf_token(page), "email": ORGANIZER, "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "198.51.100.9"},
    )
    assert again.status_code == 429


# ---- roles ----------------------------------------------------------------------------------------------------


def test_an_organizer_sees_and_opens_only_their_campaigns(app, as_organizer, own_campaign):
    listing = as_organizer.get("/organize/").get_data(as_text=True)
    assert "Free the test data" in listing and "Reunite families" not in listing
    for url in (f"/organize/c/{LAUNCH}/", f"/organize/c/{LAUNCH}/letters", f"/organize/c/{LAUNCH}/dashboard",
                f"/organize/c/{LAUNCH}/export/letters.csv"):  # fmt: skip
        assert as_organizer.get(url).status_code == 403, url
    assert as_organizer.get("/organize/organizers").status_code == 403
    stranger = app.test_client()
    log_in(stranger, STRANGER)
    # Someone else's draft is not found, like a campaign that does not exist (its address is not public yet).
    assert stranger.get(f"/organize/c/{own_campaign}/").status_code == 404
    assert stranger.get("/organize/c/no-such-campaign/").status_code == 404


def test_an_admin_runs_every_campaign_and_manages_organizers(as_admin, own_campaign):
    listing = as_admin.get("/organize/").get_data(as_text=True)
    assert "Free the test data" in listing and "Reunite families" in listing
    assert as_admin.get(f"/organize/c/{LAUNCH}/letters").status_code == 200
    page = as_admin.get("/organize/organizers")
    assert page.status_code == 200
    response = as_admin.post(
        "/organize/organizers",
        data={"csrf_token": csrf_token(page.get_data(as_text=True)), "email": "helper@example.org", "role": "organizer",
              "campaigns": [own_campaign]},
    )  # fmt: skip
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and "helper@example.org can log in now" in text
    assert "It is shown only this once" in text


def test_api_tokens_from_the_account_page_are_shown_once_and_can_be_revoked(app, as_organizer):
    page = as_organizer.get("/organize/account").get_data(as_text=True)
    shown = as_organizer.post("/organize/account/tokens", data={"csrf_token": csrf_token(page), "name": "my script"})
    text = shown.get_data(as_text=True)
    token = text.split('id="new-token" class="token">')[1].split("<")[0]
    headers = {"Authorization": f"Bearer {token}"}
    api = app.test_client()
    assert api.get("/api/v1/organize/campaigns", headers=headers).status_code == 200
    again = as_organizer.get("/organize/account").get_data(as_text=True)
    assert token not in again and token[:10] in again
    with app.app_context():
        token_id = db.session.scalar(select(ApiToken.id))
    as_organizer.post(f"/organize/account/tokens/{token_id}/revoke", data={"csrf_token": csrf_token(again)})
    assert api.get("/api/v1/organize/campaigns", headers=headers).status_code == 401


def test_changing_the_password_needs_the_current_one(app, as_organizer):
    page = as_organizer.get("/organize/account").get_data(as_text=True)
    new = "my brand new long password"
    refused = as_organizer.post(
        "/organize/account", data={"csrf_token": csrf_token(page), "current": "wrong", "new": new, "confirm": new}
    )
    assert refused.status_code == 422 and "not your current password" in refused.get_data(as_text=True)
    done = as_organizer.post(
        "/organize/account", data={"csrf_token": csrf_token(page), "current": PASSWORD, "new": new, "confirm": new}
    )
    assert done.status_code == 302
    assert as_organizer.get("/organize/").status_code == 200  # this browser stays logged in
    assert log_in(app.test_client(), ORGANIZER, new).status_code == 302


def test_tokens_of_someone_else_cannot_be_revoked(app, people):
    token = token_for(app, STRANGER)
    with app.app_context():
        record = db.session.scalar(select(ApiToken))
        assert accounts.revoke_token(accounts.find_organizer(ORGANIZER), record.id) is False
    assert (
        app.test_client().get("/api/v1/organize/campaigns", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )
