"""Letters through the API, a real Celery worker, real Redis and a real SMTP server (aiosmtpd with AUTH + TLS)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.support.letters import LAUNCH, un_letter
from tests.support.mailserver import PASSWORD, USERNAME
from tests.support.pages import SEND, own_email, preview, send_form, text_of
from tests.support.waiting import wait_for
from webapp.delivery import budget, credentials
from webapp.delivery.credentials import SmtpAccount
from webapp.extensions import db, get_credentials_redis, get_redis
from webapp.models import Letter, Submission

pytestmark = pytest.mark.usefixtures("celery_worker")


def submit_smtp(client, supporter, server, *, targets=("ohchr",), template="un-human-rights-office", **extra):
    payload = {
        "campaign": LAUNCH,
        "template": template,
        "targets": list(targets),
        "supporter": supporter,
        "channel": "smtp",
        "smtp": server.smtp_settings(),
        **extra,
    }
    response = client.post("/api/v1/submissions", json=payload)
    assert response.status_code == 202, response.get_json()
    return response.get_json()


def wait_terminal(client, submission_id: str, timeout: float = 30) -> dict:
    def done():
        view = client.get(f"/api/v1/submissions/{submission_id}").get_json()
        return view if view["done"] else None

    return wait_for(done, timeout=timeout, what=f"submission {submission_id} to finish")


def test_letter_arrives_with_the_right_headers_and_body(client, supporter, mail_server):
    created = submit_smtp(client, supporter, mail_server)
    assert [letter["status"] for letter in created["letters"]] == ["queued"]
    view = wait_terminal(client, created["id"])
    letter = view["letters"][0]
    assert letter["status"] == "sent", letter

    assert len(mail_server.received) == 1
    received = mail_server.received[0]
    assert received.mail_from == "supporter@example.org"
    assert received.rcpt_tos == ["petitions@ohchr.org"]
    message = received.message
    assert message["From"] == "Maria Lopez <supporter@example.org>"
    assert message["To"] == '"UN Human Rights Office (OHCHR)" <petitions@ohchr.org>'
    assert message["Subject"] == "Children separated from their parents at the US border"
    assert message["Message-ID"] == f"<outcry.{letter['id']}@example.org>"
    body = message.get_content()
    assert body.startswith("Dear Office of the High Commissioner,")
    assert "My grandmother crossed this border with my mother in her arms." in body
    assert body.rstrip().endswith("500 Valencia St\nSan Francisco, CA 94110")
    assert mail_server.auth_attempts == [("PLAIN", True)]


def test_supporter_edits_are_what_is_sent(client, supporter, mail_server):
    created = submit_smtp(
        client, supporter, mail_server, subject="Please act for these children", body="Dear Office,\n\nMy own letter."
    )
    assert wait_terminal(client, created["id"])["letters"][0]["status"] == "sent"
    message = mail_server.received[0].message
    assert message["Subject"] == "Please act for these children"
    assert message.get_content().strip() == "Dear Office,\n\nMy own letter."


def test_implicit_tls_server(client, supporter, ssl_mail_server):
    created = submit_smtp(client, supporter, ssl_mail_server)
    assert wait_terminal(client, created["id"])["letters"][0]["status"] == "sent"
    assert len(ssl_mail_server.received) == 1


def test_wrong_password_fails_at_once_with_a_readable_reason(client, supporter, mail_server):
    payload_smtp = mail_server.smtp_settings(password="not the password")
    response = client.post(
        "/api/v1/submissions",
        json=un_letter(supporter, "smtp", smtp=payload_smtp),
    )
    view = wait_terminal(client, response.get_json()["id"])
    letter = view["letters"][0]
    assert letter["status"] == "failed"
    assert "rejected the user name or password" in letter["error"]
    assert len(mail_server.auth_attempts) == 1, "an authentication failure must not be retried"
    assert mail_server.received == []


def test_temporary_refusal_twice_then_accepted(client, supporter, mail_server, app):
    mail_server.script.rcpt = ["451 4.3.0 Try again later", "451 4.3.0 Try again later"]
    created = submit_smtp(client, supporter, mail_server)
    view = wait_terminal(client, created["id"])
    assert view["letters"][0]["status"] == "sent"
    assert mail_server.rcpt_attempts == 3
    assert len(mail_server.received) == 1
    with app.app_context():
        assert db.session.get(Letter, created["letters"][0]["id"]).attempts == 3


def test_permanent_refusal_fails_with_the_recipient_reason(client, supporter, mail_server):
    mail_server.script.rcpt = ["550 5.1.1 No such mailbox"]
    created = submit_smtp(client, supporter, mail_server)
    letter = wait_terminal(client, created["id"])["letters"][0]
    assert letter["status"] == "failed"
    assert letter["error"] == "The recipient's server refused the letter."
    assert mail_server.rcpt_attempts == 1


def test_temporary_refusals_give_up_after_the_schedule(client, supporter, mail_server, app):
    tries = len(app.config["DELIVERY_RETRY_DELAYS"]) + 1
    mail_server.script.rcpt = ["451 4.3.0 Try again later"] * (tries + 2)
    created = submit_smtp(client, supporter, mail_server)
    letter = wait_terminal(client, created["id"])["letters"][0]
    assert letter["status"] == "failed"
    assert f"We tried {tries} times and gave up" in letter["error"]
    assert mail_server.rcpt_attempts == tries


def test_expired_credentials_fail_with_please_send_again(client, supporter, mail_server, app):
    """The password outlived its TTL before a worker got to it."""
    celery = app.extensions["celery"]
    # Hold delivery back by writing the outbox directly and removing the credentials before queueing.
    created = client.post(
        "/api/v1/submissions",
        json=un_letter(supporter),
    ).get_json()
    with app.app_context():
        submission = db.session.get(Submission, created["id"])
        letter = submission.letters[0]
        letter.channel, letter.status, letter.recipient = "smtp", "queued", "petitions@ohchr.org"
        letter_id = letter.id
        db.session.commit()
    celery.send_task("tasks.delivery.send_submission", args=[created["id"]])
    with app.app_context():
        wait_for(lambda: db.session.get(Letter, letter_id, populate_existing=True).status == "failed", what="failure")
        assert "Please send again" in db.session.get(Letter, letter_id).error
    assert mail_server.received == []


def test_credentials_deleted_and_password_nowhere_after_delivery(
    client, supporter, mail_server, app, log_records, monkeypatch
):
    """The promise is "deleted when done", not "deleted before the status says sent". The worker records the
    letters' outcome first and deletes the password right after (or the periodic clean-up does): deleting it
    first would turn a letter that went out into "your password ran out" whenever recording it failed. So the
    test waits for the deletion, with a bound that only catches a password that stays, and slows the worker
    between the two steps as a busy machine does (the status once said "sent" a moment before the delete)."""
    forget = credentials.forget

    def slow_forget(*submission_ids: str) -> None:
        time.sleep(0.5)  # what a loaded CI runner does between the last letter's commit and the delete
        forget(*submission_ids)

    monkeypatch.setattr(credentials, "forget", slow_forget)
    created = submit_smtp(client, supporter, mail_server, targets=("ohchr",))
    assert wait_terminal(client, created["id"])["letters"][0]["status"] == "sent"
    secret = PASSWORD.encode()
    with app.app_context():

        def credentials_left() -> list[bytes]:
            return [
                key
                for redis in (get_redis(), get_credentials_redis())
                for key in redis.scan_iter()
                if b"credentials" in key
            ]

        wait_for(lambda: not credentials_left(), timeout=30, what="the password to be deleted after delivery")
        for redis in (get_redis(), get_credentials_redis()):
            for key in redis.scan_iter():
                if redis.type(key) == b"string":
                    assert secret not in (redis.get(key) or b"")
        database_url = app.config["SQLALCHEMY_DATABASE_URI"]
        if database_url.startswith("sqlite:///"):
            # Close this process's connections first: opening and closing the file would otherwise drop
            # SQLite's POSIX locks under them (they belong to the process, not the file descriptor).
            db.session.remove()
            db.engine.dispose()
            path = Path(database_url.removeprefix("sqlite:///"))
            for file in path.parent.glob(path.name + "*"):  # the database, its WAL and shared memory
                assert secret not in file.read_bytes()
        else:
            rows = db.session.execute(select(Submission)).scalars().all()
            assert all(PASSWORD not in repr(vars(row)) for row in rows)
    assert PASSWORD not in log_records.text
    for record in log_records.records:
        assert PASSWORD not in str(record.args)


def test_one_connection_for_several_letters(client, supporter, mail_server, app):
    """Both email targets of one submission go over a single login."""
    from webapp.models import LetterTemplate, Target

    with app.app_context():
        # A second email target for the UN letter, as an organizer could add one.
        target = db.session.get(Target, "ohchr-copy") or Target(
            id="ohchr-copy", kind="un_office", name="OHCHR (copy)", email="copy@ohchr.example"
        )
        db.session.add(target)
        template = db.session.scalar(select(LetterTemplate).where(LetterTemplate.slug == "un-human-rights-office"))
        template.target_ids = ["ohchr", "ohchr-copy"]
        from webapp.models import Campaign, CampaignTarget

        campaign = db.session.scalar(select(Campaign).where(Campaign.slug == LAUNCH))
        campaign.target_links.append(CampaignTarget(target_id="ohchr-copy", position=99))
        db.session.commit()
    try:
        created = submit_smtp(client, supporter, mail_server, targets=("ohchr", "ohchr-copy"))
        view = wait_terminal(client, created["id"])
        assert [letter["status"] for letter in view["letters"]] == ["sent", "sent"]
        assert len(mail_server.auth_attempts) == 1
        assert sorted(r.rcpt_tos[0] for r in mail_server.received) == ["copy@ohchr.example", "petitions@ohchr.org"]
        assert all(len(r.rcpt_tos) == 1 for r in mail_server.received)
    finally:
        with app.app_context():
            campaign = db.session.scalar(select(Campaign).where(Campaign.slug == LAUNCH))
            campaign.target_links = [link for link in campaign.target_links if link.target_id != "ohchr-copy"]
            template = db.session.scalar(select(LetterTemplate).where(LetterTemplate.slug == "un-human-rights-office"))
            template.target_ids = ["ohchr"]
            db.session.commit()


@pytest.mark.parametrize(
    "field,value",
    [
        ("name", "Maria\r\nBcc: victim@example.com"),
        ("name", "Maria\nBcc: victim@example.com"),
        ("name", "=?utf-8?q?Maria=0ABcc:_victim@example.com?="),
        ("name", "Maria\u2028Bcc: victim@example.com"),
        ("email", "supporter@example.org\r\nBcc: victim@example.com"),
        ("email", "supporter@example.org, victim@example.com"),
    ],
)
def test_header_injection_in_supporter_fields_is_refused(client, supporter, mail_server, field, value):
    payload = {
        "campaign": LAUNCH,
        "template": "un-human-rights-office",
        "targets": ["ohchr"],
        "supporter": {**supporter, field: value},
        "channel": "smtp",
        "smtp": mail_server.smtp_settings(),
    }
    response = client.post("/api/v1/submissions", json=payload)
    assert response.status_code == 422
    assert f"supporter.{field}" in response.get_json()["errors"]
    assert mail_server.received == []


@pytest.mark.parametrize(
    "subject",
    [
        "Hello\r\nBcc: victim@example.com",
        "Hello\nBcc: victim@example.com",
        "=?utf-8?q?Hello=0D=0ABcc:_victim@example.com?=",
        "Hello\x0bBcc: victim@example.com",
    ],
)
def test_header_injection_in_subject_is_refused(client, supporter, mail_server, subject):
    payload = un_letter(supporter, "smtp", smtp=mail_server.smtp_settings(), subject=subject)
    response = client.post("/api/v1/submissions", json=payload)
    assert response.status_code == 422
    assert "subject" in response.get_json()["errors"]


def test_hostile_body_and_note_travel_as_plain_text(client, supporter, mail_server):
    """Header-looking lines and encoded words in the body stay in the body; recipients do not change."""
    note = "Bcc: victim@example.com\r\n=?utf-8?q?=0ABcc:_x@example.com?=\n{{ 7 * 7 }} {% if true %}x{% endif %}"
    created = submit_smtp(client, {**supporter, "note": note}, mail_server)
    assert wait_terminal(client, created["id"])["letters"][0]["status"] == "sent"
    received = mail_server.received[0]
    assert received.rcpt_tos == ["petitions@ohchr.org"]
    message = received.message
    assert sorted(message.keys()) == sorted(
        ["From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type", "Content-Transfer-Encoding"]
    )
    body = message.get_content()
    assert "{{ 7 * 7 }} {% if true %}x{% endif %}" in body
    assert "Bcc: victim@example.com" in body
    assert "49" not in body


def test_refused_smtp_host_is_a_field_error_and_nothing_is_written(client, supporter, app):
    payload = un_letter(
        supporter,
        "smtp",
        smtp={"host": "127.0.0.1", "port": 25, "security": "starttls", "username": "u", "password": "p"},
    )
    response = client.post("/api/v1/submissions", json=payload)
    assert response.status_code == 422
    assert "can't use 127.0.0.1 as your mail server" in response.get_json()["errors"]["smtp.host"][0]
    with app.app_context():
        assert db.session.scalar(select(Letter.id).limit(1)) is None


def _queue_own_email(
    app, client, supporter, server, *, sender: str | None = None, password: str = PASSWORD, username: str | None = None
) -> str:
    """A submission whose one letter waits for the worker, written around the intake's checks (for what the
    worker must handle however the letter got there); returns the letter's id once it is queued."""
    created = client.post("/api/v1/submissions", json=un_letter(supporter)).get_json()
    with app.app_context():
        submission = db.session.get(Submission, created["id"])
        if sender is not None:
            submission.supporter_email = sender
        letter = submission.letters[0]
        letter.channel, letter.status, letter.recipient = "smtp", "queued", "petitions@ohchr.org"
        letter_id = letter.id
        db.session.commit()
        settings = {**server.smtp_settings(), "password": password, "username": username or USERNAME}
        credentials.store(created["id"], SmtpAccount(**settings))
    app.extensions["celery"].send_task("tasks.delivery.send_submission", args=[created["id"]])
    return letter_id


def _finished(app, letter_id: str) -> Letter:
    with app.app_context():

        def done():
            letter = db.session.get(Letter, letter_id, populate_existing=True)
            return letter if letter.status in ("sent", "failed") else None

        return wait_for(done, what=f"letter {letter_id} to finish")


def test_a_non_ascii_sender_is_a_permanent_failure_with_a_reason(client, supporter, mail_server, app):
    """The worker meets an address its server cannot take (an accented domain, no SMTPUTF8): the letter fails
    once, saying why, instead of crashing the worker on every sweep."""
    letter_id = _queue_own_email(app, client, supporter, mail_server, sender="maria@exämple.org")
    letter = _finished(app, letter_id)
    assert letter.status == "failed" and letter.attempts == 1
    assert "has characters your mail server can't take" in letter.error
    assert mail_server.received == []


def test_ehlo_gives_a_public_name_never_the_workers_host_name(client, supporter, mail_server, app, monkeypatch):
    import socket

    created = submit_smtp(client, supporter, mail_server)
    assert wait_terminal(client, created["id"])["letters"][0]["status"] == "sent"
    assert mail_server.ehlo_names == ["[127.0.0.1]"]
    assert socket.gethostname() not in mail_server.ehlo_names[0]

    mail_server.reset()
    monkeypatch.setitem(app.config, "SMTP_EHLO_NAME", "outcry.example.org")
    created = submit_smtp(client, supporter, mail_server)
    assert wait_terminal(client, created["id"])["letters"][0]["status"] == "sent"
    assert mail_server.ehlo_names == ["outcry.example.org"]


def test_refused_sign_ins_spend_the_mail_servers_budget(client, supporter, mail_server, app, monkeypatch):
    """Someone testing stolen passwords through Outcry gets two answers from this server, then none: no more
    passwords go to it for the window, whoever sends (the letters wait, then give up with the reason)."""
    monkeypatch.setitem(app.config, "SMTP_AUTH_FAILURES", "2 per hour")
    verdicts = []
    for attempt in range(3):
        letter_id = _queue_own_email(app, client, supporter, mail_server, password=f"stolen guess {attempt}")
        verdicts.append(_finished(app, letter_id).error)
    assert [ok for _, ok in mail_server.auth_attempts] == [False, False], "the third password never reached it"
    assert "rejected the user name or password" in verdicts[0] and "rejected the user name or password" in verdicts[1]
    assert "paused signing in there" in verdicts[2] and "We tried 4 times and gave up" in verdicts[2]
    # The right password is held back too while the budget is spent: the price of not being an oracle.
    letter_id = _queue_own_email(app, client, supporter, mail_server)
    assert "paused signing in there" in _finished(app, letter_id).error
    assert mail_server.received == []


REFUSED = "rejected the user name or password"
HOST_PAUSED = "Too many sign-ins to localhost through Outcry failed recently, so we paused signing in there"


def test_a_providers_real_supporters_earn_room_for_their_typos(client, supporter, mail_server, app, monkeypatch):
    """A big shared provider: its supporters mostly sign in, and each account that did allows one more refused
    sign-in in the window, so a few typos no longer block everyone. One account signing in again and again earns
    nothing more (a checker of stolen passwords with one working account stays at the base)."""
    monkeypatch.setitem(app.config, "SMTP_AUTH_FAILURES", "2 per hour")
    monkeypatch.setitem(app.config, "SMTP_AUTH_FAILURES_PER_SUCCESS", 1.0)
    mail_server.accounts.update({"ana@example.org": "ana's app password", "ben@example.org": "ben's app password"})
    for username in ("ana@example.org", "ana@example.org", "ana@example.org", "ben@example.org"):
        password = mail_server.accounts[username]
        letter_id = _queue_own_email(app, client, supporter, mail_server, username=username, password=password)
        assert _finished(app, letter_id).status == "sent"
    # Two accounts signed in: 2 + 2 refusals allowed, then no more passwords go to the server.
    verdicts = []
    for typo in range(5):
        letter_id = _queue_own_email(app, client, supporter, mail_server, username=f"typo{typo}@example.org")
        verdicts.append(_finished(app, letter_id).error)
    assert [REFUSED in verdict for verdict in verdicts] == [True, True, True, True, False]
    assert HOST_PAUSED in verdicts[4]
    assert [ok for _, ok in mail_server.auth_attempts] == [True] * 4 + [False] * 4, "the fifth never reached it"


def test_one_accounts_refused_sign_ins_pause_that_account_only(client, supporter, mail_server, app, monkeypatch):
    """Guessing one person's password through Outcry: after SMTP_AUTH_FAILURES_PER_ACCOUNT refusals no more
    passwords for that account go to the server (not even the right one, for the window), while the
    server's other supporters still send."""
    monkeypatch.setitem(app.config, "SMTP_AUTH_FAILURES", "100 per hour")
    monkeypatch.setitem(app.config, "SMTP_AUTH_FAILURES_PER_ACCOUNT", "2 per hour")
    verdicts = [
        _finished(app, _queue_own_email(app, client, supporter, mail_server, password=f"guess {n}")).error
        for n in range(2)
    ]
    assert all(REFUSED in verdict for verdict in verdicts)
    held = _finished(app, _queue_own_email(app, client, supporter, mail_server)).error
    assert f"Your mail server refused the password for {USERNAME} several times recently" in held
    assert [ok for _, ok in mail_server.auth_attempts] == [False, False]
    mail_server.accounts["ana@example.org"] = "ana's app password"
    letter_id = _queue_own_email(
        app, client, supporter, mail_server, username="ana@example.org", password="ana's app password"
    )
    assert _finished(app, letter_id).status == "sent"


def _spend(app, host: str, username: str, times: int) -> None:
    with app.app_context():
        for _ in range(times):
            budget.spend(host, username)


def test_intake_refuses_a_paused_mail_server_at_once_with_words(client, supporter, mail_server, app, monkeypatch):
    """A spent budget is said on the form and in the API before any letter is written (a 429 with the reason
    and when to try again), instead of a letter that would only wait for an hour; the typed text stays."""
    monkeypatch.setitem(app.config, "SMTP_AUTH_FAILURES", "2 per hour")
    _spend(app, "localhost", "someone-else@example.org", 2)
    response = client.post("/api/v1/submissions", json=un_letter(supporter, "smtp", smtp=mail_server.smtp_settings()))
    assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0
    assert response.get_json()["error"].startswith(
        "Too many sign-ins to localhost through Outcry failed recently, so we've paused sending from there for now"
    )
    with app.app_context():
        assert db.session.scalar(select(Letter.id).limit(1)) is None
    assert mail_server.auth_attempts == []

    fields = send_form(preview(client, supporter))
    fields["letters-0-body"] = ["My own letter, typed on a phone on the bus."]
    fields.update(own_email(mail_server))
    page = client.post(SEND, data=fields)
    assert page.status_code == 429 and int(page.headers["Retry-After"]) > 0
    text = text_of(page)
    assert "so we've paused sending from there for now" in text
    assert "My own letter, typed on a phone on the bus." in text
    assert PASSWORD not in text


def test_sending_again_to_a_paused_mail_server_says_so_on_the_status_page(
    client, supporter, mail_server, app, monkeypatch
):
    from tests.conftest import csrf_token

    created = submit_smtp(client, supporter, mail_server, smtp=mail_server.smtp_settings(password="a typo"))
    assert REFUSED in wait_terminal(client, created["id"])["letters"][0]["error"]
    monkeypatch.setitem(app.config, "SMTP_AUTH_FAILURES", "2 per hour")
    _spend(app, "localhost", "someone-else@example.org", 2)
    status_url = f"/s/{created['id']}"
    page = client.get(status_url)
    again = client.post(
        f"{status_url}/retry",
        data={"csrf_token": csrf_token(page.get_data(as_text=True)), "smtp_password": PASSWORD},
    )
    assert again.status_code == 429 and int(again.headers["Retry-After"]) > 0
    text = again.get_data(as_text=True)
    assert "so we&#39;ve paused sending from there for now" in text
    assert 'name="smtp_password"' in text, "the status page again, its form ready for later (not an error page)"
    # Its language switch leads back to the status page, not to a GET of the POST-only /retry (a 405 error page).
    assert re.search(rf'name="next" value="{status_url}"', text)
    # Said like every other refused form: the title starts with "Error:", and a summary at the top takes the focus
    # (so a phone scrolls to it and a screen reader reads it), linking to the form to send again.
    assert re.search(r"<title>Error: ", text)
    summary = re.search(r'<div class="error-summary"[^>]*\bautofocus\b[^>]*>(.*?)</div>', text, re.S)
    assert summary and "so we&#39;ve paused sending from there for now" in summary[1]
    assert 'href="#send-again"' in summary[1]
    spanish = client.post(
        f"{status_url}/retry",
        data={"csrf_token": csrf_token(page.get_data(as_text=True)), "smtp_password": PASSWORD},
        headers={"Accept-Language": "es"},
    ).get_data(as_text=True)
    assert re.search(r"<title>Error: Tus cartas", spanish) and 'class="error-summary"' in spanish
    assert [ok for _, ok in mail_server.auth_attempts] == [False], "the password typed again never went out"


def test_intake_refuses_a_paused_account_but_not_its_neighbours(client, supporter, mail_server, app, monkeypatch):
    monkeypatch.setitem(app.config, "SMTP_AUTH_FAILURES_PER_ACCOUNT", "2 per hour")
    _spend(app, "localhost", USERNAME.upper(), 2)  # the same account, however its name is typed
    response = client.post("/api/v1/submissions", json=un_letter(supporter, "smtp", smtp=mail_server.smtp_settings()))
    assert response.status_code == 429
    assert response.get_json()["error"].startswith(
        f"Your mail server refused the password for {USERNAME} several times recently, so we've paused signing in"
    )
    other = mail_server.smtp_settings(username="ana@example.org")
    assert client.post("/api/v1/submissions", json=un_letter(supporter, "smtp", smtp=other)).status_code == 202


def test_the_watchdog_ends_a_read_that_took_no_timeout():
    """The backstop for the threads pool (where Celery enforces no time limit): a read blocked without any
    timeout is ended by the watchdog shortly after its phase's deadline."""
    import socket
    import threading

    from webapp.delivery.deadline import Deadline, Watchdog

    ours, theirs = socket.socketpair()
    watchdog = Watchdog(grace=0.1)
    got: list[bytes] = []

    def read_forever() -> None:
        with watchdog.watching(Deadline(0.2, "testing"), lambda: ours.shutdown(socket.SHUT_RDWR)):
            got.append(ours.recv(100))  # no timeout: only the watchdog can end this

    reader = threading.Thread(target=read_forever, daemon=True)
    reader.start()
    reader.join(timeout=30)
    try:
        assert not reader.is_alive(), "the watchdog never cut the blocked read"
        assert got == [b""] and watchdog.cuts == 1
    finally:
        ours.close()
        theirs.close()


MICROSOFT_NO_PASSWORDS = "535 5.7.139 Authentication unsuccessful, basic authentication is disabled."
NO_PASSWORDS = "Microsoft no longer accepts passwords from other apps for this account"


def _retry_buttons(client, submission_id: str) -> list[str]:
    import re

    page = client.get(f"/s/{submission_id}").get_data(as_text=True)
    section = page.split('id="send-again"', 1)[1].split("</section>", 1)[0] if 'id="send-again"' in page else ""
    return re.findall(r'<button type="submit" name="action" value="(\w+)"', section)


def test_microsoft_refusing_passwords_says_so_offers_its_sign_in_and_spends_no_budget(
    client, supporter, mail_server, app, monkeypatch, log_records
):
    """Outlook.com and Microsoft 365 with basic authentication off answer 535 5.7.139 to any password: not a wrong
    password, and not the server's fault, so no failed sign-in is counted against it."""
    monkeypatch.setitem(app.config, "SMTP_AUTH_FAILURES", "2 per hour")
    monkeypatch.setitem(app.config, "MICROSOFT_CLIENT_ID", "outcry-test-client")
    monkeypatch.setitem(app.config, "MICROSOFT_CLIENT_SECRET", "secret")
    mail_server.script.auth = [MICROSOFT_NO_PASSWORDS] * 3
    letters = [
        _finished(app, _queue_own_email(app, client, supporter, mail_server, password="s3cret-hunter2")) for _ in "123"
    ]
    assert [ok for _, ok in mail_server.auth_attempts] == [False] * 3, "every one reached it: no budget was spent"
    for letter in letters:
        assert letter.status == "failed" and NO_PASSWORDS in letter.error
        assert "rejected the user name or password" not in letter.error and "paused" not in letter.error
        assert letter.failure_kind == "no_passwords"
    assert "s3cret-hunter2" not in log_records.text
    # The status page offers the way that works: "Send with Microsoft".
    mail_server.script.auth = [MICROSOFT_NO_PASSWORDS]
    created = submit_smtp(client, supporter, mail_server)
    assert wait_terminal(client, created["id"])["letters"][0]["status"] == "failed"
    page = text_of(client.get(f"/s/{created['id']}"))
    assert NO_PASSWORDS in page
    assert _retry_buttons(client, created["id"])[0] == "microsoft"
    monkeypatch.setitem(app.config, "MICROSOFT_CLIENT_ID", "")  # not configured: the password form only
    assert "microsoft" not in _retry_buttons(client, created["id"])


def test_after_a_refused_password_the_status_page_offers_the_providers_sign_in(
    client, supporter, mail_server, app, monkeypatch
):
    monkeypatch.setitem(app.config, "GOOGLE_CLIENT_ID", "outcry-test-client")
    monkeypatch.setitem(app.config, "GOOGLE_CLIENT_SECRET", "secret")
    mail_server.script.auth = ["535 5.7.8 Username and Password not accepted"]
    created = submit_smtp(client, {**supporter, "email": "maria@gmail.com"}, mail_server)
    assert wait_terminal(client, created["id"])["letters"][0]["status"] == "failed"
    page = text_of(client.get(f"/s/{created['id']}"))
    assert "rejected the user name or password" in page
    assert "Send with Google" in page
    assert _retry_buttons(client, created["id"]) == ["google", "password"]


UNICODE_PASSWORD = "contraseña-ñandú-€-пароль"  # noqa: S105 - a test password: accents, the euro sign, Cyrillic


@pytest.fixture
def login_only_server(certificate_authority, app, monkeypatch):
    """A mail server that offers AUTH LOGIN only (no PLAIN), allowed like the suite's own."""
    from tests.support.mailserver import MailServer

    ca, path = certificate_authority
    server = MailServer(ca, path, auth_exclude=("PLAIN",)).start()
    monkeypatch.setitem(
        app.config, "SMTP_ALLOWED_HOSTS", app.config["SMTP_ALLOWED_HOSTS"] | {("localhost", server.port)}
    )
    yield server
    server.stop()


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_a_password_with_non_ascii_characters_signs_in(
    client, supporter, mail_server, login_only_server, app, log_records, mechanism
):
    """Passwords are UTF-8 (RFC 4616 for PLAIN; LOGIN servers take the same bytes): an accented or non-Latin
    password signs in, and it appears in no log line."""
    server = mail_server if mechanism == "PLAIN" else login_only_server
    server.accounts[USERNAME] = UNICODE_PASSWORD
    created = submit_smtp(client, supporter, server, smtp=server.smtp_settings(password=UNICODE_PASSWORD))
    view = wait_terminal(client, created["id"])
    assert view["letters"][0]["status"] == "sent", view
    assert server.auth_attempts == [(mechanism, True)]
    assert len(server.received) == 1
    assert UNICODE_PASSWORD not in log_records.text
