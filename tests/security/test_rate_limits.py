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
from webapp.extensions import db, get_redis
from webapp.models import Campaign, utcnow
from webapp.security import limits
from webapp.security.limits import RateLimited, check_submission

API = "/api/v1/submissions"
WRITE = f"/c/{LAUNCH}/write"
SEND = f"/c/{LAUNCH}/send"


def from_address(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


def assert_retry_after(response, at_most: int) -> int:
    assert response.status_code == 429
    seconds = int(response.headers["Retry-After"])
    assert 1 <= seconds <= at_most
    return seconds


@pytest.fixture
def limited(make_app):
    return make_app(RATELIMIT_ENABLED=True, RATELIMIT_PER_ADDRESS="3 per hour", RATELIMIT_DEFAULT="1000 per minute")


@pytest.fixture
def lifted_launch(app):
    """Lift the launch campaign's limits for the test, and always end the lift afterwards."""

    def lift(until):
        with app.app_context():
            limits.lift(db.session.scalar(db.select(Campaign).where(Campaign.slug == LAUNCH)), until)

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
    preview = client.post(WRITE, data=data, **env)
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


# ---- per sender and per target (check_submission) -------------------------------------------------------------


@pytest.fixture
def limited_ctx(make_app):
    limited = make_app(
        RATELIMIT_ENABLED=True,
        RATELIMIT_PER_SENDER="3 per day",
        RATELIMIT_PER_TARGET="4 per day",
        RATELIMIT_LIFT_FACTOR=2,
    )
    with limited.test_request_context("/"):
        yield limited


def launch() -> Campaign:
    return db.session.scalar(db.select(Campaign).where(Campaign.slug == LAUNCH))


def test_per_sender_counts_letters_and_ignores_case(limited_ctx):
    campaign = launch()
    check_submission(campaign, "maria@example.org", ["ohchr", "us-mission-un"])
    check_submission(campaign, "Maria@Example.org", ["ohchr"])
    with pytest.raises(RateLimited) as refused:
        check_submission(campaign, "MARIA@example.org", ["ohchr"])
    assert refused.value.code == 429
    assert 1 <= refused.value.retry_after_seconds <= 86400
    assert "this email address" in refused.value.message
    assert refused.value.get_headers()[-1] == ("Retry-After", str(refused.value.retry_after_seconds))
    check_submission(campaign, "someone.else@example.org", ["ohchr"])  # another sender is unaffected


def test_callers_without_an_email_address_share_no_sender_budget(limited_ctx):
    campaign = launch()
    for n in range(4):  # more than the per-sender limit of 3, to four different targets' budgets
        check_submission(campaign, "", [f"target-{n}"])


def test_a_refused_submission_costs_nothing(limited_ctx):
    campaign = launch()
    check_submission(campaign, "a@example.org", ["ohchr", "us-mission-un"])
    with pytest.raises(RateLimited):
        check_submission(campaign, "a@example.org", ["ohchr", "us-mission-un"])  # 4 > 3
    check_submission(campaign, "a@example.org", ["ohchr"])  # the refused one took nothing


def test_concurrent_submissions_cannot_share_out_more_than_the_limit(limited_ctx):
    """Checking every window and counting in them is one step: 12 submissions from one sender at the same moment
    get exactly the 3 letters the sender's limit allows, never more."""
    app, campaign_id = limited_ctx, launch().id
    start = threading.Barrier(12)

    def attempt(n: int) -> bool:
        with app.test_request_context("/"):
            campaign = db.session.get(Campaign, campaign_id)
            start.wait()
            try:
                check_submission(campaign, "racer@example.org", [f"target-{n}"])
            except RateLimited:
                return False
            return True

    with ThreadPoolExecutor(max_workers=12) as pool:
        accepted = sum(pool.map(attempt, range(12)))
    assert accepted == 3


def test_per_target_per_day_across_senders_and_lifted_for_a_push(limited_ctx, lifted_launch):
    campaign = launch()
    for n in range(4):
        check_submission(campaign, f"s{n}@example.org", ["ohchr"])
    with pytest.raises(RateLimited) as refused:
        check_submission(campaign, "s9@example.org", ["ohchr"])
    assert "received as many letters" in refused.value.message
    check_submission(campaign, "s9@example.org", ["us-mission-un"])  # other targets are unaffected
    lifted_launch(utcnow() + dt.timedelta(hours=1))
    db.session.refresh(campaign)
    for n in range(8):  # while lifted: a budget of its own, RATELIMIT_LIFT_FACTOR times as large
        check_submission(campaign, f"t{n}@example.org", ["ohchr"])
    with pytest.raises(RateLimited):
        check_submission(campaign, "t9@example.org", ["ohchr"])


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


def test_sender_limit_through_the_api(make_app, supporter):
    client = make_app(RATELIMIT_ENABLED=True, RATELIMIT_PER_SENDER="2 per day").test_client()
    for n in range(2):
        assert client.post(API, json=un_letter(supporter), **from_address(f"203.0.113.{20 + n}")).status_code == 202
    refused = client.post(API, json=un_letter(supporter), **from_address("203.0.113.30"))
    assert_retry_after(refused, 86400)
    assert "this email address" in refused.get_json()["error"]


# ---- privacy of the keys ----------------------------------------------------------------------------------------


def test_keys_hold_no_address_or_email_and_all_expire(limited, supporter):
    client = limited.test_client()
    address, email = "203.0.113.77", "private.person@example.org"
    client.post(API, json=un_letter({**supporter, "email": email}), **from_address(address))
    with limited.test_request_context("/"):
        check_submission(launch(), email, ["ohchr"])
        redis = get_redis()
        keys = list(redis.scan_iter(match="outcry:ratelimit:*"))
        assert len(keys) >= 3  # address, sender, target
        for key in keys:
            dump = key + (redis.dump(key) or b"")
            for secret in (address, email, "203.0.113", "private.person"):
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


def test_sender_limit_on_the_pages_keeps_the_letter(make_app, supporter):
    """A 429 in the HTML flow re-shows the preview with everything typed, and says when to retry."""
    client = make_app(RATELIMIT_ENABLED=True, RATELIMIT_PER_SENDER="1 per day").test_client()
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
        preview = client.post(write, data=data, **from_address("203.0.113.50"))
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
    assert "this email address" in text
