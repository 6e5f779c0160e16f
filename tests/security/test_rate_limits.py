"""Rate limits per client address (HTML and API together), per sender and per target, with a 429 that says
when to retry; keys hashed and expiring; organizers can lift a campaign's limits; a proxy hop is trusted
only when configured."""

from __future__ import annotations

import datetime as dt
import html
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import csrf_token
from tests.support.forms import form_fields
from tests.support.letters import LAUNCH, un_letter
from tests.support.pages import SEND, WRITE
from webapp.delivery.credentials import SmtpAccount, sender_fingerprint
from webapp.extensions import db, get_redis
from webapp.models import Campaign, utcnow
from webapp.security import limits
from webapp.security.limits import RateLimited, check_submission

API = "/api/v1/submissions"


def from_address(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


def assert_retry_after(response, at_most: int) -> int:
    assert response.status_code == 429
    seconds = int(response.headers["Retry-After"])
    assert 1 <= seconds <= at_most
    return seconds


# Own-email letters these tests accept go to a queue no worker reads: the tests are about budgets, and the suite's
# worker would otherwise try their made-up passwords (spending the mail server's sign-in budget) during later tests.
UNDELIVERED = {"task_routes": {"tasks.delivery.send_submission": {"queue": "outcry.tests.undelivered"}}}


@pytest.fixture
def make_app(make_app):
    return lambda **overrides: make_app(**{"CELERY": UNDELIVERED, **overrides})


@pytest.fixture
def limited(make_app):
    return make_app(RATELIMIT_ENABLED=True, RATELIMIT_PER_ADDRESS="3 per hour", RATELIMIT_DEFAULT="1000 per minute")


@pytest.fixture
def lifted_launch(app):
    """Lift the launch campaign's limits for the test, and always end the lift afterwards."""

    def lift(until):
        with app.app_context():
            limits.lift(db.session.scalar(db.select(Campaign).where(Campaign.slug == LAUNCH)), until)
            db.session.commit()

    yield lift
    lift(None)


# ---- per client address ---------------------------------------------------------------------------------------


def test_api_submissions_per_address_then_429_json_with_retry_after(limited, supporter):
    client = limited.test_client()
    for _ in range(3):
        assert client.post(API, json=un_letter(supporter), **from_address("203.0.113.5")).status_code == 202
    refused = client.post(API, json=un_letter(supporter), **from_address("203.0.113.5"))
    seconds = assert_retry_after(refused, 3600)
    body = refused.get_json()
    assert body["status"] == 429
    assert body["retry_after"] == seconds
    assert "try again in" in body["error"]
    # Another address is not affected.
    assert client.post(API, json=un_letter(supporter), **from_address("198.51.100.7")).status_code == 202


def test_invalid_requests_count_too(limited, supporter):
    client = limited.test_client()
    for _ in range(3):
        assert client.post(API, json={"campaign": LAUNCH}, **from_address("203.0.113.6")).status_code == 422
    assert client.post(API, json=un_letter(supporter), **from_address("203.0.113.6")).status_code == 429


def html_send(client, supporter, address: str):
    """The HTML flow from one address: the write page, the preview, and the send (mailto)."""
    env = from_address(address)
    page = client.get(f"{WRITE}?target=ohchr", **env)
    data = {
        "csrf_token": csrf_token(page.get_data(as_text=True)),
        "targets": ["ohchr"],
        "template": "un-human-rights-office",
        **supporter,
    }
    preview = client.post(WRITE, data=data, follow_redirects=True, **env)
    assert preview.status_code == 200, preview.get_data(as_text=True)[:500]
    fields = form_fields(preview.get_data(as_text=True))
    fields["action"] = ["mailto"]
    return client.post(SEND, data=fields, **env)


def test_html_and_api_share_one_budget_and_the_page_says_when(limited, supporter):
    client = limited.test_client()
    address = "203.0.113.8"
    for _ in range(2):
        assert client.post(API, json=un_letter(supporter), **from_address(address)).status_code == 202
    assert html_send(client, supporter, address).status_code == 303
    refused = html_send(client, supporter, address)
    assert_retry_after(refused, 3600)
    assert refused.mimetype == "text/html"
    text = html.unescape(refused.get_data(as_text=True))
    assert "Please slow down" in text
    assert re.search(r"try again in (a minute|\d+ minutes|an hour)", text)
    assert "Back button" in text  # what they wrote is not lost
    # Pages stay open to them: only sending is paused.
    assert client.get(f"/c/{LAUNCH}", **from_address(address)).status_code == 200
    assert client.post(API, json=un_letter(supporter), **from_address(address)).status_code == 429


def test_calls_recorded_one_after_another_spend_the_same_budget(limited):
    """Each call the supporter says they made is a submission (a letter handed off and confirmed): the step-through
    spends the per-address budget like the letter pages and the API; choosing whom to call spends nothing."""
    client = limited.test_client()
    env = from_address("203.0.113.12")
    offices = ["us-mission-un", "general-dynamics-ceo"]
    page = client.get(f"/c/{LAUNCH}/call?" + "&".join(f"target={t}" for t in offices), **env)
    fields = form_fields(page.get_data(as_text=True))
    fields["name"] = ["Maria Lopez"]
    for _ in range(3):  # choosing again and again is not calling
        assert client.post(f"/c/{LAUNCH}/call", data=fields, **env).status_code == 303
    token = csrf_token(client.get(f"/c/{LAUNCH}/calls", **env).get_data(as_text=True))
    for target in offices:
        answer = {"csrf_token": token, "target": target, "outcome": "called"}
        assert client.post(f"/c/{LAUNCH}/calls", data=answer, **env).status_code == 303
    assert client.post(API, json={"campaign": LAUNCH}, **env).status_code == 422  # the third of three
    answer = {"csrf_token": token, "target": offices[0], "outcome": "voicemail"}
    assert_retry_after(client.post(f"/c/{LAUNCH}/calls", data=answer, **env), 3600)


def test_ipv6_clients_are_counted_per_64(limited, supporter):
    client = limited.test_client()
    for host in ("2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::9"):
        assert client.post(API, json=un_letter(supporter), **from_address(host)).status_code == 202
    assert client.post(API, json=un_letter(supporter), **from_address("2001:db8:1:2::77")).status_code == 429
    assert client.post(API, json=un_letter(supporter), **from_address("2001:db8:1:3::1")).status_code == 202


def test_pages_have_a_generous_limit_and_the_health_check_none(make_app):
    limited = make_app(RATELIMIT_ENABLED=True, RATELIMIT_DEFAULT="3 per minute")
    client = limited.test_client()
    for _ in range(3):
        assert client.get(f"/c/{LAUNCH}").status_code == 200
    refused = client.get(f"/c/{LAUNCH}")
    assert_retry_after(refused, 60)
    assert "Please slow down" in html.unescape(refused.get_data(as_text=True))
    for _ in range(10):
        assert client.get("/healthz").status_code in (200, 503)  # never 429
        assert client.get("/livez").status_code == 200
    assert client.get("/static/js/outcry.js").status_code == 200


def test_no_limits_when_switched_off(make_app, supporter):
    client = make_app(RATELIMIT_ENABLED=False, RATELIMIT_PER_ADDRESS="1 per hour").test_client()
    for _ in range(3):
        assert client.post(API, json=un_letter(supporter)).status_code == 202


# ---- organizers lift a campaign's limits ----------------------------------------------------------------------


def test_a_lifted_campaign_takes_more_and_the_lift_ends_by_itself(make_app, supporter, lifted_launch):
    limited = make_app(RATELIMIT_ENABLED=True, RATELIMIT_PER_ADDRESS="2 per hour", RATELIMIT_LIFT_FACTOR=3)
    client = limited.test_client()
    lifted_launch(utcnow() + dt.timedelta(hours=2))
    for _ in range(6):
        assert client.post(API, json=un_letter(supporter), **from_address("203.0.113.9")).status_code == 202
    assert client.post(API, json=un_letter(supporter), **from_address("203.0.113.9")).status_code == 429
    lifted_launch(utcnow() - dt.timedelta(seconds=1))  # the push is over
    for _ in range(2):
        assert client.post(API, json=un_letter(supporter), **from_address("203.0.113.10")).status_code == 202
    assert client.post(API, json=un_letter(supporter), **from_address("203.0.113.10")).status_code == 429


def test_lift_command(runner, app):
    result = runner.invoke(args=["limits", "lift", LAUNCH, "--hours", "6"])
    assert result.exit_code == 0, result.output
    assert "raised 10-fold until" in result.output
    with app.app_context():
        campaign = db.session.scalar(db.select(Campaign).where(Campaign.slug == LAUNCH))
        assert limits.lifted(campaign)
        assert dt.timedelta(hours=5.9) < campaign.limits_lifted_until - utcnow() <= dt.timedelta(hours=6)
    assert runner.invoke(args=["limits", "lift", LAUNCH, "--end"]).exit_code == 0
    with app.app_context():
        assert not limits.lifted(db.session.scalar(db.select(Campaign).where(Campaign.slug == LAUNCH)))
    assert runner.invoke(args=["limits", "lift", "no-such-campaign"]).exit_code != 0


# ---- a submission's budgets (check_submission) ---------------------------------------------------------------


@pytest.fixture
def limited_ctx(make_app):
    limited = make_app(
        RATELIMIT_ENABLED=True,
        RATELIMIT_PER_SENDER="3 per day",
        RATELIMIT_PER_TARGET="4 per day",
        RATELIMIT_HANDOFFS_PER_TARGET="2 per day",
        RATELIMIT_LIFT_FACTOR=2,
    )
    with limited.test_request_context("/", environ_base={"REMOTE_ADDR": "203.0.113.100"}):
        yield limited


def launch() -> Campaign:
    return db.session.scalar(db.select(Campaign).where(Campaign.slug == LAUNCH))


def account(password: str = "her real app password") -> SmtpAccount:
    return SmtpAccount("smtp.example.org", 587, "starttls", "maria@example.org", password)


def sender(email: str = "maria@example.org", password: str = "her real app password") -> str:
    return sender_fingerprint(email, account(password))


def test_per_sender_counts_letters_of_one_mail_account_and_ignores_the_case_of_its_address(limited_ctx):
    campaign = launch()
    check_submission(campaign, "smtp", ["ohchr", "us-mission-un"], sender("maria@example.org"))
    check_submission(campaign, "smtp", ["ohchr"], sender("Maria@Example.org"))
    with pytest.raises(RateLimited) as refused:
        check_submission(campaign, "smtp", ["ohchr"], sender("MARIA@example.org"))
    assert refused.value.code == 429
    assert 1 <= refused.value.retry_after_seconds <= 86400
    assert "this mail account" in refused.value.message
    assert "from your own mail program, print it or call" in refused.value.message  # what she can do now
    assert refused.value.get_headers()[-1] == ("Retry-After", str(refused.value.retry_after_seconds))
    check_submission(campaign, "smtp", ["ohchr"], sender("someone.else@example.org"))  # another sender is unaffected


def test_the_sender_budget_is_keyed_on_the_password_so_guesses_spend_budgets_of_their_own(limited_ctx):
    campaign = launch()
    for n in range(5):  # a stranger with her address and wrong passwords
        check_submission(campaign, "smtp", [f"stranger-{n}"], sender(password=f"wrong guess {n}"))
    for _ in range(3):
        check_submission(campaign, "smtp", [f"target-{_}"], sender())  # her own three are untouched
    fingerprints = {sender(), sender(password="wrong guess 0"), sender("maria@example.org", "x")}
    assert len(fingerprints) == 3
    for fingerprint in fingerprints:
        assert "maria" not in fingerprint and "password" not in fingerprint


def test_hand_offs_spend_no_sender_budget(limited_ctx):
    campaign = launch()
    for n in range(6):  # more than the sender limit of 3
        check_submission(campaign, "mailto", [f"target-{n}"])
    check_submission(campaign, "smtp", ["ohchr", "us-mission-un", "x"], sender())


def test_a_refused_submission_costs_nothing(limited_ctx):
    campaign = launch()
    check_submission(campaign, "smtp", ["ohchr", "us-mission-un"], sender("a@example.org"))
    with pytest.raises(RateLimited):
        check_submission(campaign, "smtp", ["ohchr", "us-mission-un"], sender("a@example.org"))  # 4 > 3
    check_submission(campaign, "smtp", ["ohchr"], sender("a@example.org"))  # the refused one took nothing


def test_concurrent_submissions_cannot_share_out_more_than_the_limit(limited_ctx):
    """Checking every window and counting in them is one step: 12 submissions from one sender at the same moment
    get exactly the 3 letters the sender's limit allows, never more."""
    app, campaign_id, fingerprint = limited_ctx, launch().id, sender("racer@example.org")
    start = threading.Barrier(12)

    def attempt(n: int) -> bool:
        with app.test_request_context("/"):
            campaign = db.session.get(Campaign, campaign_id)
            start.wait()
            try:
                check_submission(campaign, "smtp", [f"target-{n}"], fingerprint)
            except RateLimited:
                return False
            return True

    with ThreadPoolExecutor(max_workers=12) as pool:
        accepted = sum(pool.map(attempt, range(12)))
    assert accepted == 3


def test_per_target_own_email_letters_across_senders_and_lifted_for_a_push(limited_ctx, lifted_launch):
    campaign = launch()
    for n in range(4):
        check_submission(campaign, "smtp", ["ohchr"], sender(f"s{n}@example.org"))
    with pytest.raises(RateLimited) as refused:
        check_submission(campaign, "smtp", ["ohchr"], sender("s9@example.org"))
    assert "received as many letters" in refused.value.message
    assert "print it or call" in refused.value.message
    check_submission(campaign, "smtp", ["us-mission-un"], sender("s9@example.org"))  # other targets are unaffected
    check_submission(campaign, "mailto", ["ohchr"])  # and hand-offs to the same target have their own budget
    lifted_launch(utcnow() + dt.timedelta(hours=1))
    db.session.refresh(campaign)
    for n in range(8):  # while lifted: a budget of its own, RATELIMIT_LIFT_FACTOR times as large
        check_submission(campaign, "smtp", ["ohchr"], sender(f"t{n}@example.org"))
    with pytest.raises(RateLimited):
        check_submission(campaign, "smtp", ["ohchr"], sender("t9@example.org"))


def test_hand_offs_per_target_are_counted_per_client_address(limited_ctx):
    campaign = launch()
    for _ in range(2):
        check_submission(campaign, "mailto", ["ohchr"])
    with pytest.raises(RateLimited) as refused:
        check_submission(campaign, "contact_form", ["ohchr"])
    assert "from your internet connection today" in refused.value.message
    assert "mobile data" in refused.value.message  # what someone on a shared connection can do
    with limited_ctx.test_request_context("/", environ_base={"REMOTE_ADDR": "198.51.100.100"}):
        check_submission(launch(), "mailto", ["ohchr"])  # another connection is not held back
    check_submission(campaign, "smtp", ["ohchr"], sender())  # nor are own-email letters to the same target


# ---- the attacks of issue 12.5 and the shared networks of issue 14.7, through the API --------------------------


def smtp_letter(supporter: dict, mail_server, password: str | None = None) -> dict:
    settings = mail_server.smtp_settings(**({"password": password} if password else {}))
    return un_letter(supporter, "smtp", smtp=settings)


def test_fake_hand_offs_do_not_block_a_targets_letters(make_app, supporter, mail_server):
    """A few addresses of hand-offs used to fill the target's one daily budget and block everyone's letters."""
    client = make_app(
        RATELIMIT_ENABLED=True, RATELIMIT_PER_TARGET="3 per day", RATELIMIT_HANDOFFS_PER_TARGET="5 per day"
    ).test_client()
    for address in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        for n in range(5):
            fake = {**supporter, "email": f"fake{n}@example.org"}
            assert client.post(API, json=un_letter(fake), **from_address(address)).status_code == 202
        assert client.post(API, json=un_letter(supporter), **from_address(address)).status_code == 429
    for n in range(3):  # the UN office still gets its own-email letters, from anyone
        real = {**supporter, "email": f"real{n}@example.org"}
        assert client.post(API, json=smtp_letter(real, mail_server), **from_address("198.51.100.50")).status_code == 202
    # ... and hand-offs from everyone else
    assert client.post(API, json=un_letter(supporter), **from_address("198.51.100.51")).status_code == 202


def test_a_stranger_cannot_spend_an_activists_sender_budget(make_app, supporter, mail_server):
    """50 mailto submissions carrying an activist's email used to block her own letters for the day."""
    client = make_app(RATELIMIT_ENABLED=True, RATELIMIT_PER_SENDER="2 per day").test_client()
    activist = {**supporter, "email": "activist@example.org"}
    for n in range(5):
        stranger = from_address(f"192.0.2.{10 + n}")
        assert client.post(API, json=un_letter(activist), **stranger).status_code == 202
        guessed = smtp_letter(activist, mail_server, password=f"a guess {n}")
        assert client.post(API, json=guessed, **stranger).status_code == 202  # queued; it fails at her server
    her = from_address("198.51.100.60")
    for _ in range(2):
        assert client.post(API, json=smtp_letter(activist, mail_server), **her).status_code == 202
    refused = client.post(API, json=smtp_letter(activist, mail_server), **her)
    assert_retry_after(refused, 86400)
    assert "this mail account" in refused.get_json()["error"]


def test_a_letter_writing_party_of_fifty_on_one_wifi_is_not_limited(make_app, mail_server):
    """Issue 14.7, with the default limits: fifty people on one address each write to the UN from their own
    account, call the US Mission and hand a second letter to the UN to their mail app, watching each status."""
    client = make_app(RATELIMIT_ENABLED=True).test_client()
    wifi = from_address("203.0.113.200")
    answers = []
    for n in range(50):
        person = {"name": f"Guest {n}", "email": f"guest{n}@example.org", "zip": "94110", "address": f"{n} Main St"}
        own = un_letter(person, "smtp", smtp=mail_server.smtp_settings(password=f"guest {n} app password"))
        call = un_letter(person, "call", template="call-script", targets=["us-mission-un"])
        handed = un_letter(person, "mailto")
        for body in (own, call, handed):
            response = client.post(API, json=body, **wifi)
            answers.append(response.status_code)
            if response.status_code == 202:
                for _ in range(3):
                    answers.append(client.get(f"{API}/{response.get_json()['id']}", **wifi).status_code)
    assert set(answers) <= {200, 202}, sorted(set(answers))
    assert answers.count(202) == 150


def test_rate_limited_renders_as_429_in_html_and_json(make_app):
    limited = make_app(RATELIMIT_ENABLED=True)

    def refuse():
        raise RateLimited(125, "You have sent as many letters as we allow for now. Please try again in 3 minutes.")

    limited.add_url_rule("/test-refuse", "test_refuse", refuse)
    client = limited.test_client()
    page = client.get("/test-refuse")
    assert page.status_code == 429 and page.headers["Retry-After"] == "125"
    assert "try again in 3 minutes" in page.get_data(as_text=True)
    data = client.get("/test-refuse", headers={"Accept": "application/json"})
    assert data.status_code == 429 and data.headers["Retry-After"] == "125"
    assert data.get_json() == {
        "error": "You have sent as many letters as we allow for now. Please try again in 3 minutes.",
        "status": 429,
        "retry_after": 125,
    }


def test_sender_limit_through_the_api(make_app, supporter, mail_server):
    client = make_app(RATELIMIT_ENABLED=True, RATELIMIT_PER_SENDER="2 per day").test_client()
    for n in range(2):
        answer = client.post(API, json=smtp_letter(supporter, mail_server), **from_address(f"203.0.113.{20 + n}"))
        assert answer.status_code == 202
    refused = client.post(API, json=smtp_letter(supporter, mail_server), **from_address("203.0.113.30"))
    assert_retry_after(refused, 86400)
    assert "this mail account" in refused.get_json()["error"]


# ---- privacy of the keys ----------------------------------------------------------------------------------------


def test_keys_hold_no_address_email_or_password_and_all_expire(limited, supporter, mail_server):
    client = limited.test_client()
    address, email = "203.0.113.77", "private.person@example.org"
    password = mail_server.smtp_settings()["password"]
    client.post(API, json=un_letter({**supporter, "email": email}), **from_address(address))
    client.post(API, json=smtp_letter({**supporter, "email": email}, mail_server), **from_address(address))
    redis = get_redis(limited)
    keys = list(redis.scan_iter(match="outcry:ratelimit:*")) + list(redis.scan_iter(match="outcry:quota:*"))
    kinds = {key.split(b":")[2] for key in keys if key.startswith(b"outcry:quota:")}
    assert kinds == {b"handoff", b"deliveries", b"sender", b"target"}
    for key in keys:
        dump = key + (redis.dump(key) or b"")
        for secret in (address, email, "203.0.113", "private.person", password):
            assert secret.encode() not in dump
        assert redis.ttl(key) > 0, f"{key!r} never expires"


# ---- the proxy hop ----------------------------------------------------------------------------------------------


def test_forwarded_for_is_ignored_without_a_configured_proxy(limited, supporter):
    client = limited.test_client()
    for n in range(3):
        spoofed = {"X-Forwarded-For": f"192.0.2.{n}"}
        assert (
            client.post(API, json=un_letter(supporter), headers=spoofed, **from_address("203.0.113.40")).status_code
            == 202
        )
    # A fresh X-Forwarded-For does not buy a fresh budget.
    assert (
        client.post(
            API, json=un_letter(supporter), headers={"X-Forwarded-For": "192.0.2.99"}, **from_address("203.0.113.40")
        ).status_code
        == 429
    )


def test_one_trusted_proxy_hop_gives_each_client_its_own_budget(make_app, supporter):
    limited = make_app(RATELIMIT_ENABLED=True, RATELIMIT_PER_ADDRESS="1 per hour", PROXY_FIX_HOPS=1)
    client = limited.test_client()
    proxy = from_address("10.0.0.2")
    assert (
        client.post(API, json=un_letter(supporter), headers={"X-Forwarded-For": "198.51.100.1"}, **proxy).status_code
        == 202
    )
    assert (
        client.post(API, json=un_letter(supporter), headers={"X-Forwarded-For": "198.51.100.2"}, **proxy).status_code
        == 202
    )
    # A client cannot hide behind a made-up hop: only the last one (added by the proxy) counts.
    again = {"X-Forwarded-For": "192.0.2.50, 198.51.100.1"}
    assert client.post(API, json=un_letter(supporter), headers=again, **proxy).status_code == 429
    secure = client.get("/", headers={"X-Forwarded-Proto": "https"}, **proxy)
    assert secure.status_code == 200


def test_a_spent_budget_on_the_pages_keeps_the_letter(make_app, supporter):
    """A 429 in the HTML flow re-shows the preview with everything typed, and says when to retry."""
    client = make_app(RATELIMIT_ENABLED=True, RATELIMIT_HANDOFFS_PER_TARGET="1 per day").test_client()
    write = f"/c/{LAUNCH}/write"
    responses = []
    for _ in range(2):
        page = client.get(f"{write}?target=ohchr", **from_address("203.0.113.50"))
        data = {
            "csrf_token": csrf_token(page.get_data(as_text=True)),
            "targets": ["ohchr"],
            "template": "un-human-rights-office",
            **supporter,
        }
        preview = client.post(write, data=data, follow_redirects=True, **from_address("203.0.113.50"))
        fields = form_fields(preview.get_data(as_text=True))
        fields["letters-0-body"] = ["My own careful words, kept."]
        fields["action"] = ["mailto"]
        responses.append(client.post(f"/c/{LAUNCH}/send", data=fields, **from_address("203.0.113.50")))
    assert responses[0].status_code == 303
    refused = responses[1]
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    text = html.unescape(refused.get_data(as_text=True))
    assert "My own careful words, kept." in text
    assert "from your internet connection today" in text and "mobile data" in text
