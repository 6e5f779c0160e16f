"""Organizer accounts: the commands, passwords stored hashed, logging in and out, the log-in limit, sessions that
expire, roles, and API tokens shown once and stored hashed."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import csrf_token
from tests.organize.conftest import ADMIN, ORGANIZER, PASSWORD, STRANGER, log_in, token_for
from tests.support.letters import LAUNCH
from webapp.extensions import db
from webapp.organizers import accounts
from webapp.organizers.models import ApiToken, Organizer


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
    # A tab or line break (sent encoded) is dropped by browsers ("/<tab>/evil.example" is "//evil.example") or
    # can't go in a header.
    for evil in ("https://evil.example/", "//evil.example/", "/\\evil.example", "/%09/evil.example", "/x%0D%0Ay: z"):
        client = app.test_client()
        assert log_in(client, ADMIN, next_url=evil).headers["Location"] == "/organize/"


def test_log_out_needs_the_form_and_ends_the_session(as_organizer):
    page = as_organizer.get("/organize/").get_data(as_text=True)
    assert as_organizer.post("/organize/logout").status_code == 400  # no CSRF token: refused
    assert as_organizer.get("/organize/").status_code == 200
    assert as_organizer.post("/organize/logout", data={"csrf_token": csrf_token(page)}).status_code == 302
    assert as_organizer.get("/organize/").status_code == 302


def copy_of_the_cookie(app, client):
    """Another browser holding a copy of `client`'s session cookie (as a thief or a shared computer would)."""
    cookie = client.get_cookie("session", domain=app.config["SERVER_NAME"])
    copy = app.test_client()
    copy.set_cookie("session", cookie.value, domain=cookie.domain)
    return copy


def test_log_out_ends_the_session_on_the_server_so_a_copied_cookie_opens_nothing(app, as_organizer):
    """Issue 12.7: logging out used to clear only the browser's cookie; a copy kept working and refreshing."""
    copy = copy_of_the_cookie(app, as_organizer)
    assert copy.get("/organize/").status_code == 200  # the copy works while the log-in lasts
    page = as_organizer.get("/organize/").get_data(as_text=True)
    assert as_organizer.post("/organize/logout", data={"csrf_token": csrf_token(page)}).status_code == 302
    response = copy.get("/organize/")
    assert response.status_code == 302 and "/organize/login" in response.headers["Location"]
    # Other log-ins of the same organizer are theirs to end: logging out here leaves them alone.


def test_logging_out_one_browser_leaves_the_organizers_other_browsers_logged_in(app, people):
    laptop, phone = app.test_client(), app.test_client()
    assert log_in(laptop, ORGANIZER).status_code == 302 and log_in(phone, ORGANIZER).status_code == 302
    page = laptop.get("/organize/").get_data(as_text=True)
    laptop.post("/organize/logout", data={"csrf_token": csrf_token(page)})
    assert phone.get("/organize/").status_code == 200


def test_an_idle_session_ends_on_the_server_too(make_app, people, monkeypatch):
    """The cookie's own expiry is the browser's business; a copy that keeps refreshing itself is not trusted
    past PERMANENT_SESSION_LIFETIME of idleness either, because the server checks when it was last used."""
    import datetime as dt

    from webapp.organizers.models import OrganizerSession

    short = make_app(PERMANENT_SESSION_LIFETIME=600)
    client = short.test_client()
    assert log_in(client, ORGANIZER).status_code == 302
    with short.app_context():
        db.session.execute(
            OrganizerSession.__table__.update().values(
                last_seen_at=dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(seconds=601)
            )
        )
        db.session.commit()
    assert client.get("/organize/").status_code == 302


def test_the_session_table_holds_only_fingerprints_of_the_cookies_tokens(app, as_organizer):
    import hashlib

    from webapp.organizers.models import OrganizerSession

    cookie = as_organizer.get_cookie("session", domain=app.config["SERVER_NAME"]).value
    token = app.session_interface.get_signing_serializer(app).loads(cookie)["_user_id"]
    with app.app_context():
        rows = db.session.scalars(select(OrganizerSession)).all()
        organizer_id = accounts.find_organizer(ORGANIZER).id
    assert [(row.organizer_id, row.token_hash) for row in rows] == [
        (organizer_id, hashlib.sha256(token.encode()).hexdigest())
    ]
    assert token != str(organizer_id)  # the cookie names the log-in, not the account


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
    shown = as_organizer.post(
        "/organize/account/tokens", data={"csrf_token": csrf_token(page), "name": "my script", "password": PASSWORD}
    )
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


def test_a_new_password_typed_differently_twice_or_too_short_changes_nothing(app, as_organizer):
    """Each problem shows beside its own field (the rules are organizers/accounts.py's), and the old password
    still opens the account."""
    page = as_organizer.get("/organize/account").get_data(as_text=True)
    for new, confirm, field, message in (
        ("my brand new long password", "my brand new long passwrod", "confirm", "The two new passwords are different."),
        ("short", "short", "new", "Use at least 12 characters"),
    ):
        refused = as_organizer.post(
            "/organize/account",
            data={"csrf_token": csrf_token(page), "current": PASSWORD, "new": new, "confirm": confirm},
        )
        assert refused.status_code == 422
        assert f'<p class="error" id="{field}-error">{message}' in refused.get_data(as_text=True)
    assert as_organizer.get("/organize/").status_code == 200  # still logged in
    assert log_in(app.test_client(), ORGANIZER, PASSWORD).status_code == 302


def test_tokens_of_someone_else_cannot_be_revoked(app, people):
    token = token_for(app, STRANGER)
    with app.app_context():
        record = db.session.scalar(select(ApiToken))
        assert accounts.revoke_token(accounts.find_organizer(ORGANIZER), record.id) is False
    assert (
        app.test_client().get("/api/v1/organize/campaigns", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )


# ---- API tokens and the password ----------------------------------------------------------------------------


def api_works(app, token: str) -> bool:
    response = app.test_client().get("/api/v1/organize/campaigns", headers={"Authorization": f"Bearer {token}"})
    return response.status_code == 200


def test_minting_a_token_asks_for_the_password(app, as_organizer):
    """Issue 12.6: a session alone (say, a cookie copied from a shared computer) could mint a token that outlives
    it. Without the password, nothing is minted."""
    page = as_organizer.get("/organize/account").get_data(as_text=True)
    for password in ("", "not my password"):
        refused = as_organizer.post(
            "/organize/account/tokens", data={"csrf_token": csrf_token(page), "name": "thief", "password": password}
        )
        assert refused.status_code == 403
        assert "That is not your password." in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(ApiToken)).all() == []


def test_guessing_the_password_through_the_token_form_is_limited_like_the_log_in(make_app, people):
    limited = make_app(RATELIMIT_ENABLED=True, RATELIMIT_DEFAULT="1000 per minute")
    client = limited.test_client()
    assert log_in(client, ORGANIZER).status_code == 302
    page = client.get("/organize/account").get_data(as_text=True)
    answers = [
        client.post(
            "/organize/account/tokens", data={"csrf_token": csrf_token(page), "name": "x", "password": f"guess {n}"}
        ).status_code
        for n in range(6)
    ]
    assert answers == [403] * 5 + [429]


def test_the_owner_is_told_at_the_next_log_in_about_tokens_made_since(app, people, runner):
    assert log_in(app.test_client(), ORGANIZER).status_code == 302
    runner.invoke(args=["organizers", "token", ORGANIZER, "--name", "made behind your back"])
    client = app.test_client()
    log_in(client, ORGANIZER)
    text = client.get("/organize/").get_data(as_text=True)
    assert "An API token “made behind your back”" in text and "If that wasn&#39;t you" in text
    log_in(again := app.test_client(), ORGANIZER)
    assert "made behind your back" not in again.get("/organize/").get_data(as_text=True)  # told once


def test_a_new_password_revokes_every_token(app, as_organizer, runner):
    first, second = token_for(app, ORGANIZER), token_for(app, ORGANIZER)
    other = token_for(app, STRANGER)
    page = as_organizer.get("/organize/account").get_data(as_text=True)
    new = "my brand new long password"
    as_organizer.post(
        "/organize/account", data={"csrf_token": csrf_token(page), "current": PASSWORD, "new": new, "confirm": new}
    )
    assert not api_works(app, first) and not api_works(app, second)
    assert api_works(app, other)
    third = token_for(app, ORGANIZER)
    assert (
        runner.invoke(args=["organizers", "reset-password", ORGANIZER], input=f"{PASSWORD}\n{PASSWORD}\n").exit_code
        == 0
    )
    assert not api_works(app, third)


def test_an_admins_reset_revokes_tokens_and_logs_every_browser_out(app, as_admin, as_organizer):
    token = token_for(app, ORGANIZER)
    with app.app_context():
        organizer_id = accounts.find_organizer(ORGANIZER).id
    url = f"/organize/organizers/{organizer_id}"
    page = as_admin.get(url).get_data(as_text=True)
    as_admin.post(url, data={"csrf_token": csrf_token(page), "action": "reset", "role": "organizer", "active": "y"})
    assert not api_works(app, token)
    assert as_organizer.get("/organize/").status_code == 302


def test_deactivating_revokes_tokens_for_good(app, as_admin, as_organizer):
    token = token_for(app, ORGANIZER)
    with app.app_context():
        organizer_id = accounts.find_organizer(ORGANIZER).id
    url = f"/organize/organizers/{organizer_id}"
    page = as_admin.get(url).get_data(as_text=True)
    as_admin.post(url, data={"csrf_token": csrf_token(page), "role": "organizer"})  # active unticked
    assert not api_works(app, token)
    assert as_organizer.get("/organize/").status_code == 302
    page = as_admin.get(url).get_data(as_text=True)
    as_admin.post(url, data={"csrf_token": csrf_token(page), "role": "organizer", "active": "y"})  # back on
    assert not api_works(app, token)  # the old token stays dead
    assert as_organizer.get("/organize/").status_code == 302  # and the old session too


def test_an_admin_cannot_take_away_their_own_admin_role_or_log_in(app, as_admin):
    with app.app_context():
        admin_id = accounts.find_organizer(ADMIN).id
    url = f"/organize/organizers/{admin_id}"
    for change in ({"role": "organizer", "active": "y"}, {"role": "admin"}):  # demoted; log-in unticked
        page = as_admin.get(url).get_data(as_text=True)
        refused = as_admin.post(url, data={"csrf_token": csrf_token(page), **change})
        assert "You can&#39;t take away your own admin role or log-in; ask another admin." in refused.get_data(
            as_text=True
        )
    me = organizer(app, ADMIN)
    assert me.role == "admin" and me.active
    assert as_admin.get("/organize/organizers").status_code == 200
