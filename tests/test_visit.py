"""The supporter's visit without a browser: what it keeps and where (encrypted, for VISIT_LIFETIME, forgotten on
request), a ZIP code only for Congress, the preview as a page of its own, calls office by office, the receipt, and
the small rules behind the printed letter."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from flask import request_started
from redis.exceptions import RedisError

from tests.conftest import csrf_token
from tests.support.forms import form_fields
from tests.support.letters import LAUNCH
from tests.support.pages import SEND, WRITE, start_calls, text_of, write_form
from webapp.extensions import get_redis
from webapp.letters import visit as visits
from webapp.letters.views.printing import _distance, _signature_split

PADILLA, SCHIFF, PELOSI = "P000145", "S001150", "P000197"


def write(client, supporter, target="ohchr", query="", **fields):
    page = client.get(f"{WRITE}?target={target}{query}")
    data = {**form_fields(page.get_data(as_text=True)), **{k: [v] for k, v in supporter.items()}}
    data.update({k: v if isinstance(v, list) else [v] for k, v in fields.items()})
    return client.post(WRITE, data=data)


def stored_visits(app) -> dict[bytes, bytes]:
    with app.app_context():
        redis = get_redis()
        return {key: redis.get(key) for key in redis.scan_iter(match=visits.REDIS_PREFIX + "*")}


def test_the_visit_is_kept_encrypted_with_a_key_only_the_browser_holds(app, client, supporter):
    response = write(client, supporter, note="Words only I would write.")
    assert response.status_code == 303
    stored = stored_visits(app)
    assert len(stored) == 1
    ((key, value),) = stored.items()
    for word in (supporter["name"], supporter["email"], "500 Valencia", "Words only I would write"):
        assert word.encode() not in value, f"{word!r} is readable in Redis"
    with app.app_context():
        ttl = get_redis().ttl(key)
    assert 0 < ttl <= app.config["VISIT_LIFETIME"]
    with client.session_transaction() as session:
        held = session[visits.SESSION_KEY]
    assert key.decode().endswith(held["id"])
    from cryptography.fernet import Fernet

    assert b"Words only I would write" in Fernet(held["key"].encode()).decrypt(value)


def test_forgetting_the_visit_deletes_it_and_the_key(app, client, supporter):
    write(client, supporter)
    page = client.get(f"/c/{LAUNCH}/receipt").get_data(as_text=True)
    assert "Forget my details now" in page
    response = client.post("/visit/forget", data={"csrf_token": csrf_token(page), "campaign": LAUNCH})
    assert response.status_code == 303 and response.headers["Location"] == f"/c/{LAUNCH}"
    assert stored_visits(app) == {}
    with client.session_transaction() as session:
        assert visits.SESSION_KEY not in session
    assert 'value="Maria Lopez"' not in client.get(f"{WRITE}?target=ohchr").get_data(as_text=True)


@pytest.mark.parametrize(
    ("headers", "said"),
    [
        ({}, "Done: this device has forgotten your details"),
        ({"Accept-Language": "es-MX,es;q=0.9"}, "Listo: este dispositivo olvidó tus datos"),
    ],
)
def test_forgetting_my_details_says_what_was_forgotten_once(client, supporter, headers, said):
    """ "Forget my details now" leads back to the campaign page, which says what went (and that what was sent stays),
    like "Delete everything I sent today" does; once, not on the next visit to the page."""
    write(client, supporter)
    page = client.get(f"/c/{LAUNCH}/receipt", headers=headers).get_data(as_text=True)
    response = client.post("/visit/forget", data={"csrf_token": csrf_token(page), "campaign": LAUNCH}, headers=headers)
    back = text_of(client.get(response.headers["Location"], headers=headers))
    assert said in back
    assert said not in text_of(client.get(f"/c/{LAUNCH}", headers=headers))


def test_without_redis_the_pages_still_work_and_answer_the_post_itself(client, supporter, monkeypatch):
    def unreachable():
        raise RedisError("connection refused")

    monkeypatch.setattr(visits, "get_redis", unreachable)
    response = write(client, supporter)
    assert response.status_code == 200
    assert "Check and edit your letter" in text_of(response)
    fields = form_fields(response.get_data(as_text=True))
    fields["action"] = ["mailto"]
    assert client.post(SEND, data=fields).status_code == 303


def test_a_send_that_never_settles_is_waited_for_then_the_receipt_answers(app, client, supporter, monkeypatch):
    """The draft claimed by a send still in flight (or one whose request died): a second send waits for it a while,
    then answers with the receipt of the visit, and writes no letter of its own."""
    fields = form_fields(
        client.get(client.post(WRITE, data=write_form(client, supporter)).headers["Location"]).get_data(as_text=True)
    )
    fields["action"] = ["mailto"]
    with client.session_transaction() as session:
        held = session[visits.SESSION_KEY]
    with app.app_context():
        visit = visits.Visit(held["id"], held["key"].encode())
        assert visits.claim_draft(visit, fields["draft"][0]) is None  # claimed by "the other request"
    monkeypatch.setattr(visits, "CLAIM_WAIT", 0.3)
    response = client.post(SEND, data=fields)
    assert response.status_code == 303 and response.headers["Location"] == f"/c/{LAUNCH}/receipt"
    assert client.get(f"/api/v1/campaigns/{LAUNCH}/totals").get_json()["totals"]["handed_off"] == 0


def test_a_zip_code_is_asked_only_when_congress_is_in_the_group(client, supporter):
    un_page = text_of(client.get(f"{WRITE}?target=ohchr"))
    assert 'name="zip"' not in un_page
    assert write(client, {**supporter, "zip": ""}).status_code == 303

    congress_page = client.get(f"{WRITE}?zip=94110&target={PADILLA}").get_data(as_text=True)
    assert 'name="zip"' in congress_page
    response = write(client, {**supporter, "zip": ""}, target=PADILLA, query="&zip=94110")
    assert response.status_code == 422
    text = text_of(response)
    assert "Please enter your ZIP code: members of Congress answer only the people they represent." in text
    assert 'class="error-summary"' in text and 'href="#zip"' in text
    moved = write(client, {**supporter, "zip": "73301"}, target=PADILLA, query="&zip=94110")
    assert moved.status_code == 422
    assert "does not represent ZIP code 73301" in text_of(moved)


def test_the_preview_is_a_page_of_its_own_and_a_lost_draft_says_so(client, supporter):
    response = write(client, supporter)
    preview = response.headers["Location"]
    assert re.fullmatch(rf"/c/{LAUNCH}/letter/[\w-]+", preview)
    first, again = client.get(preview), client.get(preview)
    assert first.status_code == again.status_code == 200
    assert "Dear Office of the High Commissioner," in text_of(again)
    expired = client.get(f"/c/{LAUNCH}/letter/not-a-draft")
    assert expired.status_code == 303
    assert "has expired" in text_of(client.get(expired.headers["Location"]))


def test_an_unchanged_letter_gets_the_address_added_on_the_preview_and_a_changed_one_is_kept(client, supporter):
    no_address = {**supporter, "address": ""}
    response = write(client, no_address, target="general-dynamics-ceo")
    fields = form_fields(client.get(response.headers["Location"]).get_data(as_text=True))
    assert fields["address"][0].strip() == ""  # asked for on the preview, in the printed letter's card
    fields.update(action=["print"], address=[supporter["address"]])
    status = client.post(SEND, data=fields, follow_redirects=True)
    body = text_of(status)
    assert "Maria Lopez\n500 Valencia St\nSan Francisco, CA 94110" in body  # written again with the address

    response = write(client, no_address, target="general-dynamics-ceo")
    fields = form_fields(client.get(response.headers["Location"]).get_data(as_text=True))
    fields["letters-0-body"] = ["Dear Ms. Novakovic,\n\nOnly my words.\n\nMaria Lopez"]
    fields.update(action=["print"], address=[supporter["address"]])
    body = text_of(client.post(SEND, data=fields, follow_redirects=True))
    assert "Only my words.\n\nMaria Lopez</pre>" in body  # exactly as the supporter left it


def test_calls_are_recorded_one_office_at_a_time_and_busy_or_skipped_count_nothing(client):
    start_calls(client, "us-mission-un", "general-dynamics-ceo")
    step = client.get(f"/c/{LAUNCH}/calls").get_data(as_text=True)
    assert "Call 1 of 2" in step and "Phebe Novakovic" in step and 'href="tel:+17038763000"' in step
    token = csrf_token(step)
    stranger = client.post(f"/c/{LAUNCH}/calls", data={"csrf_token": token, "target": "ohchr", "outcome": "called"})
    assert stranger.status_code == 400  # only an office in the supporter's list
    client.post(f"/c/{LAUNCH}/calls", data={"csrf_token": token, "target": "general-dynamics-ceo", "outcome": "busy"})
    assert "Call 2 of 2" in text_of(client.get(f"/c/{LAUNCH}/calls"))
    client.post(f"/c/{LAUNCH}/calls", data={"csrf_token": token, "target": "us-mission-un", "outcome": "skipped"})
    done = text_of(client.get(f"/c/{LAUNCH}/calls"))
    assert "Thank you for calling" in done and "Try the busy lines again" in done
    totals = client.get(f"/api/v1/campaigns/{LAUNCH}/totals").get_json()["totals"]
    assert totals["handed_off"] == 0 and totals["confirmed"] == 0
    client.post(f"/c/{LAUNCH}/calls", data={"csrf_token": token, "action": "retry"})
    client.post(
        f"/c/{LAUNCH}/calls", data={"csrf_token": token, "target": "general-dynamics-ceo", "outcome": "voicemail"}
    )
    totals = client.get(f"/api/v1/campaigns/{LAUNCH}/totals").get_json()["totals"]
    assert totals["handed_off"] == 1 and totals["confirmed"] == 1
    receipt = text_of(client.get(f"/c/{LAUNCH}/receipt"))
    assert "Phone call: you left a voicemail." in receipt
    assert "Phone call: you skipped this office." in receipt


def test_a_call_answered_twice_is_counted_once(client):
    """A double tap on "I talked to someone", or the Back button and the same answer again, records one call."""
    start_calls(client, "general-dynamics-ceo")
    token = csrf_token(client.get(f"/c/{LAUNCH}/calls").get_data(as_text=True))
    answer = {"csrf_token": token, "target": "general-dynamics-ceo", "outcome": "called"}
    for _ in range(2):
        assert client.post(f"/c/{LAUNCH}/calls", data=answer).status_code == 303
    assert "Thank you for calling" in text_of(client.get(f"/c/{LAUNCH}/calls"))
    totals = client.get(f"/api/v1/campaigns/{LAUNCH}/totals").get_json()["totals"]
    assert totals["handed_off"] == 1 and totals["confirmed"] == 1
    assert text_of(client.get(f"/c/{LAUNCH}/receipt")).count("Phone call: you talked to someone.") == 1


def test_a_call_answered_twice_at_the_same_moment_is_counted_once_and_a_new_round_counts_again(app, client):
    """Two taps that reach the server together both find the call unanswered in the visit they loaded: the answer is
    claimed in Redis, so one of them records it. Calling the same office again in a new round is a new call."""
    start_calls(client, "general-dynamics-ceo")
    token = csrf_token(client.get(f"/c/{LAUNCH}/calls").get_data(as_text=True))
    answer = {"csrf_token": token, "target": "general-dynamics-ceo", "outcome": "called"}
    together = threading.Barrier(2, timeout=10)

    def hold(sender, **extra):
        together.wait()

    with request_started.connected_to(hold, app), ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: client.post(f"/c/{LAUNCH}/calls", data=answer), range(2)))
    assert [response.status_code for response in answers] == [303, 303]
    totals = client.get(f"/api/v1/campaigns/{LAUNCH}/totals").get_json()["totals"]
    assert totals["handed_off"] == 1 and totals["confirmed"] == 1
    start_calls(client, "general-dynamics-ceo")
    assert client.post(f"/c/{LAUNCH}/calls", data=answer).status_code == 303
    totals = client.get(f"/api/v1/campaigns/{LAUNCH}/totals").get_json()["totals"]
    assert totals["handed_off"] == 2 and totals["confirmed"] == 2


def test_the_receipt_can_erase_everything_sent_in_the_visit(app, client, supporter):
    from webapp.extensions import db
    from webapp.models import Submission

    ids = []
    for _ in range(2):
        response = write(client, supporter)
        fields = form_fields(client.get(response.headers["Location"]).get_data(as_text=True))
        fields["action"] = ["mailto"]
        ids.append(client.post(SEND, data=fields).headers["Location"].rsplit("/", 1)[1])
    receipt = client.get(f"/c/{LAUNCH}/receipt").get_data(as_text=True)
    assert receipt.count('class="card receipt-item"') == 2
    done = client.post(f"/c/{LAUNCH}/receipt/forget", data={"csrf_token": csrf_token(receipt)})
    assert done.status_code == 303
    assert "this device has forgotten your details" in text_of(client.get(done.headers["Location"]))
    with app.app_context():
        for submission_id in ids:
            assert db.session.get(Submission, submission_id).purged_at is not None
    assert stored_visits(app) == {}


@pytest.mark.parametrize(
    "office,home,nearer",
    [("94103", "94110", True), ("90012", "94110", False), ("", "94110", False)],
)
def test_offices_are_ranked_by_how_much_of_the_zip_they_share(office, home, nearer):
    assert (_distance(office, home) < _distance("95814", home)) is nearer


def test_the_printed_letter_leaves_room_to_sign_above_the_typed_name():
    body = "Dear Senator,\n\nPlease act.\n\nSincerely,\nMaria Lopez\n500 Valencia St\n"
    assert _signature_split(body, "Maria Lopez") == (
        "Dear Senator,\n\nPlease act.\n\nSincerely,",
        "Maria Lopez\n500 Valencia St",
    )
    assert _signature_split("Dear Senator,\n\nPlease act.", "Maria Lopez") == (
        "Dear Senator,\n\nPlease act.",
        "Maria Lopez",
    )


def test_the_poster_and_its_qr_code(client):
    poster = text_of(client.get(f"/c/{LAUNCH}/poster"))
    assert "Reunite families separated at the border" in poster
    assert f'src="/c/{LAUNCH}/qr.svg"' in poster
    qr = client.get(f"/c/{LAUNCH}/qr.svg")
    assert qr.status_code == 200 and qr.mimetype == "image/svg+xml"
    assert qr.get_data(as_text=True).startswith("<svg") and f"http://outcry.test/c/{LAUNCH}" in qr.get_data(
        as_text=True
    )
    assert client.get("/c/nope/qr.svg").status_code == 404


def test_the_supporter_pages_stylesheet_and_script_stay_small():
    """No framework: the one stylesheet and the one script every supporter page loads, together under 25 KB
    (about 7.8 KB gzipped; 20 KB before the send step's Test my settings and the CWC address step, 24 KB before the
    language switch kept what the supporter had typed)."""
    from tests.conftest import PROJECT

    static = PROJECT / "webapp" / "static"
    size = (static / "css" / "outcry.css").stat().st_size + (static / "js" / "outcry.js").stat().st_size
    assert size <= 25_000, size
