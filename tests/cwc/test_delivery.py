"""Letters to Congress through CWC, end to end: written to the outbox, claimed and sent by a real Celery worker through
the delivery engine to a local CWC stand-in that checks every request against the grammar; accepted is `sent`, a
refusal `failed` with its reason, a 5xx and a hang are retried, nothing is sent twice, and no supporter data is logged.
"""

from __future__ import annotations

import html
import logging
import re

import pytest
from sqlalchemy import delete, func, select

from tests.conftest import csrf_token
from tests.support.cwcserver import API_KEY, Answer
from tests.support.waiting import wait_for
from webapp.cwc import message
from webapp.extensions import db
from webapp.models import CWC, FAILED, SENT, Letter, LetterTemplate, Submission, TargetTally
from webapp.organize import letter_templates
from webapp.organizers import accounts
from webapp.organizers.models import Organizer
from webapp.privacy import service as privacy

LAUNCH, LETTER = "reunite-families", "congress-reunite-and-investigate"
PADILLA, SCHIFF, PELOSI = "P000145", "S001150", "P000197"  # the members for ZIP 94110
OFFICES = {PADILLA: "SCA02", SCHIFF: "SCA00", PELOSI: "HCA11"}
SUPPORTER = {
    "name": "Zoë O'Brien-Núñez",
    "email": "zoe.obrien@example.org",
    "zip": "94110",
    "note": "My grandmother crossed this border with my mother in her arms & never forgot it.",
}
POSTAL = {
    "prefix": "Ms.",
    "first_name": "Zoë",
    "last_name": "O'Brien-Núñez",
    "street": '500 Valencia St "Rear" & Annex',
    "street2": "Apt. 2 & 3",
    "city": "San Francisco",
    "state": "CA",
    "zip": "94110",
}


@pytest.fixture
def stack(cwc_stack, cwc_server):
    cwc_server.reset()
    return cwc_stack.app


def _submit(stack, **changes):
    payload = {
        "campaign": LAUNCH,
        "template": LETTER,
        "targets": [PADILLA, SCHIFF, PELOSI],
        "channel": "cwc",
        "supporter": SUPPORTER,
        "postal": POSTAL,
        **changes,
    }
    return stack.test_client().post("/api/v1/submissions", json=payload)


def _finished(stack, submission_id: str) -> dict[str, Letter]:
    def done():
        with stack.app_context():
            letters = db.session.scalars(select(Letter).where(Letter.submission_id == submission_id)).all()
            if letters and all(letter.terminal for letter in letters):
                for letter in letters:
                    db.session.expunge(letter)
                return {letter.target_id: letter for letter in letters}
            return None

    return wait_for(done, timeout=60, what="every letter to finish")


def _sent_counts(stack) -> dict[str, int]:
    with stack.app_context():
        rows = db.session.execute(select(TargetTally.target_id, TargetTally.sent, TargetTally.handed_off)).all()
        return {target: (sent, handed) for target, sent, handed in rows}


def test_a_supporters_letters_reach_their_senators_and_representative(stack, cwc_server):
    response = _submit(stack)
    assert response.status_code == 202, response.get_json()
    view = response.get_json()
    assert [letter["status"] for letter in view["letters"]] == ["queued"] * 3
    letters = _finished(stack, view["id"])
    assert {target: letter.status for target, letter in letters.items()} == {PADILLA: SENT, SCHIFF: SENT, PELOSI: SENT}
    assert {letter.recipient for letter in letters.values()} == set(OFFICES.values())
    # Each arrived once, valid, with what the supporter approved and the address they gave, exactly as typed.
    assert sorted(received.office for received in cwc_server.received) == sorted(OFFICES.values())
    for received in cwc_server.received:
        assert message.problems(received.xml) == []
        letter = next(letter for letter in letters.values() if letter.recipient == received.office)
        assert received.text("Delivery/DeliveryId") == letter.id
        assert received.text("Delivery/DeliveryAgent") == "Outcry Test Delivery Agent"
        assert received.text("Constituent/LastName") == "O'Brien-Núñez"
        assert received.text("Constituent/Address1") == POSTAL["street"]
        assert received.text("Constituent/Address2") == "Apt. 2 & 3"
        assert received.text("Constituent/Zip") == "94110"
        assert received.text("Constituent/Email") == SUPPORTER["email"]
        assert received.text("Message/Subject") == letter.subject
        assert received.text("Message/ConstituentMessage") == letter.body
        assert SUPPORTER["note"] in letter.body
        topics = [t.text for t in received.document.iter("LibraryOfCongressTopic")]
        assert topics == ["Immigration", "Families", "Civil Rights and Liberties, Minority Issues"]
    # Counted `sent`, as own-email letters are: delivered, not handed off.
    counts = _sent_counts(stack)
    assert all(counts[target] == (1, 0) for target in OFFICES)
    with stack.app_context():
        submission = db.session.get(Submission, view["id"])
        assert submission.constituent["street"] == POSTAL["street"] and submission.channel == CWC
    status = stack.test_client().get(f"/api/v1/submissions/{view['id']}").get_json()
    assert status["done"] and all(letter["status"] == "sent" for letter in status["letters"])


def test_an_office_that_refuses_fails_that_letter_with_a_reason_and_the_others_go(stack, cwc_server):
    cwc_server.refuse_office = lambda doc: (
        "Constituent address is not within the member's district."
        if doc.findtext("Recipient/MemberOffice") == "HCA11"
        else None
    )
    view = _submit(stack).get_json()
    letters = _finished(stack, view["id"])
    assert letters[PADILLA].status == SENT and letters[SCHIFF].status == SENT
    refused = letters[PELOSI]
    assert refused.status == FAILED
    assert refused.error.startswith("Nancy Pelosi's office did not accept the letter because of the address you gave.")
    assert "Check your street address and ZIP code" in refused.error
    assert _sent_counts(stack)[PELOSI] == (0, 0)
    status = stack.test_client().get(f"/api/v1/submissions/{view['id']}").get_json()
    pelosi = next(letter for letter in status["letters"] if letter["target"]["id"] == PELOSI)
    assert pelosi["status"] == "failed" and pelosi["error"] == refused.error
    assert pelosi["office"] == "HCA11" and pelosi["contact_url"].startswith("https://")
    # The way out: the same letter, as approved, through her contact form (a hand-off) or on paper.
    client = stack.test_client()
    handed = client.post(f"/api/v1/letters/{refused.id}/hand-off", json={"channel": "contact_form"})
    assert handed.status_code == 201, handed.get_json()
    (letter,) = handed.get_json()["letters"]
    assert letter["channel"] == "contact_form" and letter["status"] == "handed_off"
    assert letter["body"] == refused.body and letter["subject"] == refused.subject
    assert letter["contact_url"] == pelosi["contact_url"]
    printed = client.post(f"/api/v1/letters/{refused.id}/hand-off", json={"channel": "print"}).get_json()
    assert printed["letters"][0]["print_url"]
    assert _sent_counts(stack)[PELOSI] == (0, 2)  # still not `sent`: two hand-offs, counted as hand-offs
    delivered = letters[PADILLA]
    again = client.post(f"/api/v1/letters/{delivered.id}/hand-off", json={"channel": "print"})
    assert again.status_code == 422 and "was not sent can be sent another way" in str(again.get_json())
    assert client.post(f"/api/v1/letters/{refused.id}/hand-off", json={"channel": "smtp"}).status_code == 422
    no_address = client.post(f"/api/v1/letters/{refused.id}/hand-off", json={"channel": "cwc"})
    assert no_address.status_code == 422 and "full postal address" in str(no_address.get_json())


def test_a_server_error_is_retried_and_nothing_is_sent_twice(stack, cwc_server):
    cwc_server.script.extend([Answer(503), Answer(502)])
    view = _submit(stack).get_json()
    letters = _finished(stack, view["id"])
    assert all(letter.status == SENT for letter in letters.values())
    assert cwc_server.requests >= 5  # two refused by the 5xx, then the three letters
    ids = [received.text("Delivery/DeliveryId") for received in cwc_server.received]
    assert sorted(ids) == sorted(letter.id for letter in letters.values())  # each letter once


def test_a_hang_hits_the_deadline_and_the_letter_goes_on_the_next_try(stack, cwc_server):
    cwc_server.script.append(Answer(hang=True))
    view = _submit(stack).get_json()
    letters = _finished(stack, view["id"])
    assert all(letter.status == SENT for letter in letters.values())
    assert len(cwc_server.received) == 3 and cwc_server.requests == 4


def test_an_endpoint_that_always_hangs_ends_failed_with_a_reason(stack, cwc_server):
    cwc_server.script.extend([Answer(hang=True) for _ in range(20)])
    view = _submit(stack, targets=[PELOSI]).get_json()
    (letter,) = _finished(stack, view["id"]).values()
    assert letter.status == FAILED
    assert letter.error.startswith("Congress's system did not answer within 1.5 seconds")
    assert "We tried 4 times and gave up" in letter.error
    assert not cwc_server.received
    cwc_server.release.set()


def test_no_supporter_data_in_the_logs(stack, cwc_stack, cwc_server, log_records):
    """What the web side and the worker process log, read back: what happened, never who wrote what."""
    start = len(cwc_stack.worker_log())
    cwc_server.refuse_office = lambda doc: (
        "Not a constituent" if doc.findtext("Recipient/MemberOffice") == "SCA00" else None
    )
    cwc_server.script.append(Answer(500))
    view = _submit(stack).get_json()
    _finished(stack, view["id"])
    worker = wait_for(lambda: (log := cwc_stack.worker_log()[start:]).count("letter.") >= 3 and log, what="the log")
    logged = "\n".join(record.getMessage() for record in log_records.records) + "\n" + worker
    assert "cwc.accepted" in logged and "cwc.not_accepted" in logged  # the log says what happened …
    for private in ("Zoë", "O'Brien", "Valencia", "Apt. 2", SUPPORTER["email"], "grandmother", "94110"):
        assert private not in logged  # … without anyone's name, address, email or words
    assert API_KEY not in logged  # nor the key, which travels in the endpoint's query string


def test_an_address_outside_the_seat_is_refused_before_anything_is_written(stack, cwc_server):
    with stack.app_context():
        before = db.session.query(Submission).count()
    response = _submit(stack, postal={**POSTAL, "zip": "73301", "state": "TX"})
    assert response.status_code == 422
    errors = response.get_json()["errors"]["postal.zip"]
    assert errors[0].startswith(
        "Senator Alex Padilla (D-CA) represents California, and the address you gave is in Texas."
    )
    response = _submit(stack, postal={**POSTAL, "zip": "94301"})  # Palo Alto: California, another district
    assert "does not represent ZIP code 94301" in " ".join(response.get_json()["errors"]["postal.zip"])
    missing = _submit(stack, postal=None)
    assert missing.status_code == 422 and "full postal address" in missing.get_json()["errors"]["postal"][0]
    bad = _submit(stack, postal={**POSTAL, "street": "", "prefix": "Lord"})
    assert set(bad.get_json()["errors"]) == {"postal.street", "postal.prefix"}
    with stack.app_context():
        assert db.session.query(Submission).count() == before
    assert cwc_server.requests == 0


def test_without_the_settings_cwc_is_not_offered(client):
    response = client.post(
        "/api/v1/submissions",
        json={"campaign": LAUNCH, "template": LETTER, "targets": [PELOSI], "channel": "cwc",
              "supporter": SUPPORTER, "postal": POSTAL},
    )  # fmt: skip
    assert response.status_code == 422
    assert "can't be delivered to Nancy Pelosi's office through Congress's own system here" in str(
        response.get_json()["errors"]
    )


@pytest.mark.parametrize("level", [logging.INFO])
def test_a_message_the_grammar_refuses_is_never_sent(stack, cwc_server, tmp_path, level, log_records):
    """The worker checks again right before sending: a grammar that refuses the message keeps it from the wire."""
    from webapp.delivery import cwc as transport

    view = _submit(stack, targets=[PELOSI]).get_json()
    _finished(stack, view["id"])
    cwc_server.reset()
    strict = tmp_path / "strict.rng"
    strict.write_text(message.GRAMMAR.read_text().replace("<value>CA</value>", ""))
    with stack.app_context():
        session = transport.CwcTransport(view["id"]).open(5)
        session.config = {**stack.config, "CWC_GRAMMAR": str(strict)}
        letter = db.session.scalars(select(Letter).where(Letter.submission_id == view["id"])).one()

        class Claimed:
            id, submission_id, recipient = letter.id, letter.submission_id, letter.recipient
            recipient_name, subject, body = "Nancy Pelosi", letter.subject, letter.body

        with pytest.raises(transport.DeliveryError) as caught:
            session.send(Claimed, 5)
    assert not caught.value.transient and caught.value.reason == transport.NOT_BUILT
    assert cwc_server.requests == 0
    assert any(
        "cwc.invalid_message" in r.getMessage() and "StateAbbreviation" in r.getMessage() for r in log_records.records
    )


def test_organizers_see_delivered_apart_from_handed_off_and_which_offices_refused_why(stack, cwc_server):
    cwc_server.refuse_office = lambda doc: (
        "Constituent address is not within the member's district."
        if doc.findtext("Recipient/MemberOffice") == "HCA11"
        else None
    )
    _finished(stack, _submit(stack).get_json()["id"])
    handed = _submit(stack, channel="contact_form", targets=[PADILLA], postal=None)
    assert handed.status_code == 202, handed.get_json()
    with stack.app_context():
        accounts.create_organizer("cwc-admin@example.org", "a long enough test password", "admin")
        db.session.commit()
    try:
        client = stack.test_client()
        page = client.get("/organize/login").get_data(as_text=True)
        client.post(
            "/organize/login",
            data={
                "csrf_token": csrf_token(page),
                "email": "cwc-admin@example.org",
                "password": "a long enough test password",
            },
        )
        board = html.unescape(client.get(f"/organize/c/{LAUNCH}/dashboard").get_data(as_text=True))
    finally:
        with stack.app_context():
            db.session.execute(delete(Organizer).where(Organizer.email == "cwc-admin@example.org"))
            db.session.commit()
    assert "delivers letters into members' offices through Congress's own system" in board
    assert "as delivery agent <strong>Outcry Test Delivery Agent</strong>" in board
    members = board.split('id="congress-members"')[1].split("</table>")[0]
    rows = {
        re.sub(r"<[^>]+>", "", row.split("</th>")[0]).strip(): dict(re.findall(r'data-count="(\w+)">(\d+)<', row))
        for row in members.split("<tr>")[2:]
    }
    assert rows["Senator Alex Padilla (D-CA)"] == {
        "delivered": "1",
        "handed_off": "1",
        "confirmed": "0",
        "refused": "0",
    }
    assert rows["Representative Nancy Pelosi (D-CA-11)"]["refused"] == "1"
    assert rows["Representative Nancy Pelosi (D-CA-11)"]["delivered"] == "0"
    refusals = board.split('id="congress-refusals"')[1].split("</table>")[0]
    assert "Representative Nancy Pelosi (D-CA-11)" in refusals and "(HCA11)" in refusals
    assert "did not accept the letter because of the address you gave" in refusals
    assert "Padilla" not in refusals


def test_deleting_my_data_erases_the_address_too(stack, cwc_server):
    view = _submit(stack, targets=[PELOSI]).get_json()
    _finished(stack, view["id"])
    with stack.app_context():
        assert privacy.forget_submission(view["id"])
        submission = db.session.get(Submission, view["id"])
        assert submission.constituent is None and submission.supporter_address == ""
        assert submission.supporter_email == "" and submission.supporter_name == ""
    (letter,) = stack.test_client().get(f"/api/v1/submissions/{view['id']}").get_json()["letters"]
    assert letter["status"] == "sent"  # delivered before, counted still
    refused_later = stack.test_client().post(f"/api/v1/letters/{letter['id']}/hand-off", json={"channel": "print"})
    assert refused_later.status_code == 422


def test_a_letter_in_spanish_sent_another_way_stays_in_spanish_and_keeps_its_share_of_own_words(stack, cwc_server):
    """The hand-off carries the refused letter as it was: its language on the status page, and the share of the
    supporter's own words measured against the Spanish template it was written from, not the English one."""
    cwc_server.refuse_office = lambda doc: "Constituent address could not be verified."
    view = _submit(stack, targets=[PELOSI], language="es").get_json()
    (refused,) = _finished(stack, view["id"]).values()
    assert refused.status == FAILED and view["language"] == "es"
    handed = stack.test_client().post(f"/api/v1/letters/{refused.id}/hand-off", json={"channel": "contact_form"})
    assert handed.status_code == 201, handed.get_json()
    again = handed.get_json()
    (letter,) = again["letters"]
    assert letter["body"] == refused.body
    assert again["language"] == "es" and letter["language"] == "es"
    assert letter["personal_share"] == refused.personal_share < 0.5


def test_a_refused_letter_whose_letter_was_retired_since_is_refused_plainly_on_every_way_out(stack, cwc_server):
    """The organizers retired the letter after Congress's system refused it: sending it another way (the API, the
    status page's buttons, the corrected address) says so, as a 422 or on the page; never a 500, nothing written."""
    cwc_server.refuse_office = lambda doc: "Constituent address could not be verified."
    view = _submit(stack, targets=[PELOSI]).get_json()
    (refused,) = _finished(stack, view["id"]).values()
    assert refused.status == FAILED
    client = stack.test_client()
    page = html.unescape(client.get(f"/l/{refused.id}/address").get_data(as_text=True))
    token = csrf_token(page)
    with stack.app_context():
        submissions = db.session.scalar(select(func.count()).select_from(Submission))
        template = db.session.scalar(select(LetterTemplate).where(LetterTemplate.slug == LETTER))
        letter_templates.set_template_active(template, False)
        db.session.commit()
    try:
        handed = client.post(f"/api/v1/letters/{refused.id}/hand-off", json={"channel": "contact_form"})
        assert handed.status_code == 422
        assert "no longer offer this letter" in handed.get_json()["errors"]["letter"][0]
        status = html.unescape(client.get(f"/s/{refused.submission_id}").get_data(as_text=True))
        assert "no longer offer this letter" in status and 'name="channel"' not in status
        by_hand = client.post(f"/l/{refused.id}/another-way", data={"channel": "print", "csrf_token": token})
        assert by_hand.status_code == 422
        assert "no longer offer this letter" in html.unescape(by_hand.get_data(as_text=True))
        fields = {f"postal_{name}": value for name, value in POSTAL.items()}
        corrected = client.post(f"/l/{refused.id}/address", data={**fields, "csrf_token": token})
        assert corrected.status_code == 422
        assert "no longer offer this letter" in html.unescape(corrected.get_data(as_text=True))
        with stack.app_context():
            assert db.session.scalar(select(func.count()).select_from(Submission)) == submissions
    finally:
        with stack.app_context():
            template = db.session.scalar(select(LetterTemplate).where(LetterTemplate.slug == LETTER))
            letter_templates.set_template_active(template, True)
            db.session.commit()


def test_a_refused_address_can_be_corrected_and_the_same_letter_delivered(stack, cwc_server):
    cwc_server.refuse_office = lambda doc: (
        "Constituent address could not be verified." if "Wrong" in doc.findtext("Constituent/Address1") else None
    )
    view = _submit(stack, targets=[PELOSI], postal={**POSTAL, "street": "1 Wrong Way"}).get_json()
    (refused,) = _finished(stack, view["id"]).values()
    assert refused.status == FAILED and "because of the address you gave" in refused.error
    client = stack.test_client()
    page = html.unescape(client.get(f"/l/{refused.id}/address").get_data(as_text=True))
    assert "Correct your address" in page and 'value="1 Wrong Way"' in page and 'value="94110"' in page
    token = csrf_token(page)
    fields = {f"postal_{name}": value for name, value in POSTAL.items()}
    outside = client.post(f"/l/{refused.id}/address", data={**fields, "postal_zip": "94301", "csrf_token": token})
    assert outside.status_code == 422
    assert "does not represent ZIP code 94301" in html.unescape(outside.get_data(as_text=True))
    fixed = client.post(f"/l/{refused.id}/address", data={**fields, "csrf_token": token})
    assert fixed.status_code == 303
    again_id = fixed.headers["Location"].rsplit("/s/", 1)[1]
    (again,) = _finished(stack, again_id).values()
    assert again.status == SENT and again.body == refused.body and again.subject == refused.subject
    assert cwc_server.received[-1].text("Constituent/Address1") == POSTAL["street"]
    # The other ways out: the member's contact form or a printed letter, never a mail app (members have no address).
    status = html.unescape(client.get(f"/s/{refused.submission_id}").get_data(as_text=True))
    block = status.split(f'id="another-way-{refused.id}"', 1)[1].split("</div>", 1)[0]
    assert re.findall(r'name="channel" value="(\w+)"', block) == ["contact_form", "print"]
    assert "Correct my address and deliver it again" in block
    handed = client.post(f"/l/{refused.id}/another-way", data={"channel": "contact_form", "csrf_token": token})
    assert handed.status_code == 303
    status = html.unescape(client.get(handed.headers["Location"]).get_data(as_text=True))
    assert refused.body.splitlines()[0] in status
    assert _sent_counts(stack)[PELOSI] == (1, 1)
