"""The supporter's pages with CSRF on: campaign → write → preview → send or hand off → status."""

from __future__ import annotations

import re
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from flask import request_started
from sqlalchemy import func, select

from tests.support.forms import form_fields
from tests.support.letters import LAUNCH, UN_LETTER
from tests.support.pages import SEND, WRITE, own_email, preview, send_form, text_of, write_form
from tests.support.waiting import wait_for
from webapp.core import validation
from webapp.delivery import ssrf
from webapp.extensions import db
from webapp.models import Letter


def test_campaign_list_and_page(client):
    index = text_of(client.get("/"))
    assert "Reunite families separated at the border" in index
    page = client.get(f"/c/{LAUNCH}")
    assert page.status_code == 200
    text = text_of(page)
    assert "Update, November 29, 2026:" in text
    assert "Phebe Novakovic" in text
    assert "We don't know a public email address for Ms. Novakovic yet" in text
    assert f'href="/c/{LAUNCH}/call?target=us-mission-un"' in text
    assert "Call (212) 415-4000" in text
    assert "799 United Nations Plaza" in text
    assert "Kids in Need of Defense (KIND)" in text
    assert "Letters so far" in text
    assert "<script>" not in text  # no inline script: the CSP can forbid it


def test_unknown_campaign_page_is_404_html(client):
    response = client.get("/c/nope")
    assert response.status_code == 404
    assert "couldn't find that page" in text_of(response)


def test_write_page_preselects_the_target(client):
    text = client.get(f"{WRITE}?target=ohchr").get_data(as_text=True)
    assert re.search(r'<input[^>]*checked[^>]*value="ohchr"|<input[^>]*value="ohchr"[^>]*checked', text)
    assert 'name="csrf_token"' in text


def test_preview_shows_the_exact_letter_and_the_meter(client, supporter):
    response = preview(client, supporter)
    assert response.status_code == 200
    text = text_of(response)
    assert "Check and edit your letter" in text
    assert "Dear Office of the High Commissioner," in text
    assert supporter["note"] in text
    assert "of this letter is in your own words" in text
    assert "Send from my email" in text
    assert "Get the mail links" in text
    for provider in ("Gmail", "Outlook.com", "Yahoo Mail", "iCloud Mail", "Fastmail"):
        assert provider in text
    assert "app password" in text


def test_errors_show_next_to_fields_and_keep_what_was_typed(client, supporter):
    response = preview(client, supporter, email="not an email", zip="123", note="My own story, kept.")
    assert response.status_code == 422
    text = text_of(response)
    assert "is not valid" in text or "must have an @-sign" in text
    assert "Please enter a 5-digit ZIP code" in text
    assert "My own story, kept." in text
    assert 'value="Maria Lopez"' in text
    assert 'value="not an email"' in text


def test_post_without_csrf_token_is_refused_politely(client, supporter):
    data = write_form(client, supporter)
    del data["csrf_token"]
    response = client.post(WRITE, data=data)
    assert response.status_code == 400
    assert "This form expired" in text_of(response)


def test_mailto_hand_off_through_the_pages(client, supporter):
    fields = send_form(preview(client, supporter))
    fields["action"] = ["mailto"]
    response = client.post(SEND, data=fields)
    assert response.status_code == 303
    status = client.get(response.headers["Location"])
    text = text_of(status)
    assert "Ready for you to send from your mail app." in text
    assert "mailto:petitions@ohchr.org?subject=Children%20separated" in text
    assert "https://mail.google.com/mail/?view=cm" in text
    assert "https://outlook.office.com/mail/deeplink/compose?" in text
    assert "Copy the letter" in text
    totals = client.get(f"/api/v1/campaigns/{LAUNCH}/totals").get_json()
    assert totals["totals"]["handed_off"] == 1


def test_edits_on_the_preview_are_kept(client, supporter):
    fields = send_form(preview(client, supporter))
    fields["letters-0-body"] = ["Dear Office,\n\nThese are my own words from start to end."]
    fields["action"] = ["mailto"]
    response = client.post(SEND, data=fields)
    status = text_of(client.get(response.headers["Location"]))
    assert "These are my own words from start to end." in status


def test_letter_numbers_in_other_digits_are_not_letters(client, supporter):
    """A send whose letter fields are numbered '²' or '٣' (str.isdigit takes both; int() refuses the first, a 500
    before, and reads the second as 3) sends the letters the preview showed, as numbered there, and no other."""
    fields = send_form(preview(client, supporter))
    fields["letters-0-body"] = ["Dear Office,\n\nThese are my own words from start to end."]
    fields.update({"letters-²-body": ["Not a letter."], "letters-٣-body": ["Nor this."], "action": ["mailto"]})
    response = client.post(SEND, data=fields)
    assert response.status_code == 303
    status = text_of(client.get(response.headers["Location"]))
    assert "These are my own words from start to end." in status and "Not a letter." not in status
    assert "Nor this." not in status


@pytest.mark.usefixtures("celery_worker")
def test_send_through_own_smtp_and_watch_it_turn_sent(client, supporter, mail_server):
    fields = send_form(preview(client, supporter))
    settings = mail_server.smtp_settings()
    fields.update(own_email(mail_server))
    response = client.post(SEND, data=fields)
    assert response.status_code == 303, text_of(response)
    status_page = client.get(response.headers["Location"])
    assert status_page.status_code == 200
    assert settings["password"] not in status_page.get_data(as_text=True)
    submission_id = response.headers["Location"].rsplit("/", 1)[1]

    def sent():
        view = client.get(f"/api/v1/submissions/{submission_id}").get_json()
        return view["letters"][0]["status"] == "sent"

    wait_for(sent, what="the letter to be sent")
    assert "Sent from your email account." in text_of(client.get(response.headers["Location"]))
    assert len(mail_server.received) == 1
    campaign_page = text_of(client.get(f"/c/{LAUNCH}"))
    assert re.search(
        r'data-target="ohchr"><th[^>]*>UN Human Rights Office \(OHCHR\)</th><td[^>]*data-count="sent">1</td>',
        campaign_page,
    )


def test_smtp_errors_keep_the_letter_and_ask_again_for_the_password(client, supporter):
    fields = send_form(preview(client, supporter))
    fields["letters-0-body"] = ["My carefully edited letter."]
    fields.update(
        action=["smtp"],
        provider=["other"],
        smtp_host=["10.0.0.1"],
        smtp_port=["587"],
        smtp_security=["starttls"],
        smtp_password=["secret-pass"],
    )
    response = client.post(SEND, data=fields)
    assert response.status_code == 422
    text = text_of(response)
    assert "can't use 10.0.0.1 as your mail server" in text
    assert "My carefully edited letter." in text
    assert "secret-pass" not in text


def test_smtp_without_provider_or_password_shows_field_errors(client, supporter):
    fields = send_form(preview(client, supporter))
    fields.update(action=["smtp"])
    response = client.post(SEND, data=fields)
    assert response.status_code == 422
    text = text_of(response)
    assert "Choose your email provider, or Other." in text
    assert "Enter your password or app password." in text


def test_back_to_edit_keeps_the_details(client, supporter):
    fields = send_form(preview(client, supporter))
    fields["action"] = ["edit"]
    response = client.post(SEND, data=fields)
    assert response.status_code == 303
    text = text_of(client.get(response.headers["Location"]))
    assert "Write your letter" in text
    assert supporter["note"] in text
    assert "Writing as <strong>Maria Lopez</strong>, supporter@example.org." in text


def test_unknown_status_page_is_404(client):
    assert client.get("/s/not-a-real-submission").status_code == 404


def test_oversized_form_is_413_html(client, supporter):
    data = write_form(client, supporter, note="x" * validation.REQUEST_MAX)
    response = client.post(WRITE, data=data)
    assert response.status_code == 413
    assert "more text than we can take at once" in text_of(response)


def test_preview_says_what_is_kept_and_for_how_long(client, supporter):
    text = text_of(preview(client, supporter))
    assert "for 30 days so you can follow your letters, and then erase them" in text


def test_delete_my_data_now(client, supporter, app):
    from webapp.models import Submission

    fields = send_form(preview(client, supporter))
    fields["action"] = ["mailto"]
    status_url = client.post(SEND, data=fields).headers["Location"]
    page = client.get(status_url)
    assert "Delete my data now" in text_of(page)
    token = form_fields(page.get_data(as_text=True))["csrf_token"][0]
    submission_id = status_url.rsplit("/", 1)[1]
    assert client.post(f"/s/{submission_id}/forget", data={}).status_code == 400  # CSRF
    done = client.post(f"/s/{submission_id}/forget", data={"csrf_token": token})
    assert done.status_code == 303
    after = text_of(client.get(done.headers["Location"]))
    assert "You deleted your details" in after
    assert supporter["note"] not in after and "Dear Office" not in after
    with app.app_context():
        from webapp.extensions import db

        stored = db.session.get(Submission, submission_id)
        assert stored.supporter_email == "" or stored.supporter_email is None or "@" not in stored.supporter_email
    totals = client.get(f"/api/v1/campaigns/{LAUNCH}/totals").get_json()
    assert totals["totals"]["handed_off"] == 1
    assert client.get(f"/api/v1/submissions/{submission_id}").get_json()["purged"] is True
    assert client.post("/s/nope/forget", data={"csrf_token": token}).status_code == 404


def test_sending_the_same_preview_twice_sends_one_letter(client, supporter):
    """A double tap on Send, or the same preview sent from two tabs: one letter, and both land on its status page.
    The preview is never cached, so Back to it after the letter went out leads to the status page too."""
    page = preview(client, supporter)
    assert page.headers["Cache-Control"] == "no-store"
    fields = send_form(page)
    fields["action"] = ["mailto"]
    first, second = client.post(SEND, data=fields), client.post(SEND, data=fields)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"].startswith("/s/")
    assert second.headers["Location"] == first.headers["Location"]
    totals = client.get(f"/api/v1/campaigns/{LAUNCH}/totals").get_json()["totals"]
    assert totals["handed_off"] == 1
    back = client.get(page.request.path)
    assert back.status_code == 303 and back.headers["Location"] == first.headers["Location"]


def test_a_send_refused_can_be_sent_again_once_put_right(client, supporter):
    """The draft is claimed only by a letter that went out: a send that was refused can be corrected and sent."""
    fields = send_form(preview(client, supporter))
    refused = client.post(SEND, data={**fields, "action": ["smtp"]})  # no provider, no password
    assert refused.status_code == 422
    fields = send_form(refused)
    fields["action"] = ["mailto"]
    response = client.post(SEND, data=fields)
    assert response.status_code == 303 and response.headers["Location"].startswith("/s/")


def test_two_sends_of_one_preview_at_the_same_moment_make_one_letter(app, client, supporter):
    """Two requests in flight together (two tabs, a double tap the browser let through): the draft is claimed by
    one; the other waits for it and answers with the same status page."""
    fields = send_form(preview(client, supporter))
    fields["action"] = ["mailto"]
    together = threading.Barrier(2, timeout=10)

    def hold(sender, **extra):
        together.wait()

    answers = []
    with request_started.connected_to(hold, app), ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: client.post(SEND, data=fields), range(2)))
    assert [answer.status_code for answer in answers] == [303, 303]
    assert answers[0].headers["Location"] == answers[1].headers["Location"]
    with app.app_context():
        assert db.session.query(Letter).count() == 1


def test_a_listed_provider_whose_server_is_refused_says_so_on_the_provider(client, supporter, monkeypatch):
    """Gmail chosen from the list: its server's fields are hidden, so a refusal of that server (here it resolves to a
    private address) is told on the provider the supporter chose, and the summary links there."""

    def private(host, port, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003 - socket.getaddrinfo's
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("10.0.0.5", port))]

    monkeypatch.setattr(ssrf, "getaddrinfo", private)
    fields = send_form(preview(client, supporter))
    fields.update(action=["smtp"], provider=["gmail"], smtp_password=["an-app-password"])
    response = client.post(SEND, data=fields)
    assert response.status_code == 422
    page = text_of(response)
    on_provider = re.search(r'<p class="error" id="provider-error">([^<]*)</p>', page)
    assert on_provider and "smtp.gmail.com" in on_provider[1]
    assert 'href="#provider"' in page
    assert 'id="smtp_host-error"' not in page
    assert "an-app-password" not in page


def test_a_letter_pasted_too_long_comes_back_whole_and_says_how_much_to_cut(client, supporter):
    """The body takes a paste of any length (no maxlength for the browser to cut it at, unseen); sent too long, it
    comes back whole, with the count of characters to cut, and a counter that says it as the supporter cuts."""
    page = preview(client, supporter)
    html_page = page.get_data(as_text=True)
    body = re.search(r'<textarea[^>]*name="letters-0-body"[^>]*>', html_page)[0]
    assert "maxlength" not in body and 'data-limit="20000"' in body
    assert 'data-counter-for="letters-0-body"' in html_page
    pasted = "Dear Office,\n\n" + "a" * 25000 + "\n\nEND OF MY LETTER"  # 25,032 characters
    fields = send_form(page)
    fields.update({"letters-0-body": [pasted], "action": ["mailto"]})
    response = client.post(SEND, data=fields)
    assert response.status_code == 422
    text = text_of(response)
    assert pasted in text.replace("\r\n", "\n")
    assert "The letter must be at most 20,000 characters; it has 25,032, so please cut 5,032." in text


def test_a_note_pasted_too_long_comes_back_whole_and_says_how_much_to_cut(client, supporter):
    page = client.get(f"{WRITE}?target=ohchr").get_data(as_text=True)
    note = re.search(r'<textarea[^>]*name="note"[^>]*>', page)[0]
    assert "maxlength" not in note
    pasted = "b" * 5100 + " MY LAST WORDS"
    response = client.post(WRITE, data=write_form(client, supporter, note=pasted))
    assert response.status_code == 422
    text = text_of(response)
    assert pasted in text
    assert "Your personal note must be at most 5,000 characters; it has 5,114, so please cut 114." in text


@pytest.fixture
def many_un_offices(app):
    """LETTERS_MAX + 1 offices the UN letter may go to, on the launch campaign (taken away afterwards)."""
    from webapp.models import Campaign, CampaignTarget, LetterTemplate, Target

    ids = [f"un-office-{n}" for n in range(validation.LETTERS_MAX)]
    with app.app_context():
        campaign = db.session.scalar(select(Campaign).where(Campaign.slug == LAUNCH))
        template = db.session.scalar(select(LetterTemplate).where(LetterTemplate.slug == UN_LETTER))
        before = list(template.target_ids)
        for n, target_id in enumerate(ids):
            db.session.add(Target(id=target_id, kind="un_office", name=f"UN office {n}", email=f"{n}@un.example"))
            campaign.target_links.append(CampaignTarget(target_id=target_id, position=100 + n))
        template.target_ids = [*before, *ids]
        db.session.commit()
    yield ["ohchr", *ids]
    with app.app_context():
        campaign = db.session.scalar(select(Campaign).where(Campaign.slug == LAUNCH))
        for link in [link for link in campaign.target_links if link.target_id in ids]:
            campaign.target_links.remove(link)
        db.session.scalar(select(LetterTemplate).where(LetterTemplate.slug == UN_LETTER)).target_ids = before
        db.session.flush()
        for target_id in ids:
            db.session.delete(db.session.get(Target, target_id))
        db.session.commit()


def test_one_send_writes_to_at_most_letters_max_people_as_the_api_does(client, supporter, many_un_offices):
    """The API's cap (validation.LETTERS_MAX targets, which the request size limit is made for) holds on the pages
    too, said next to the choice of people, with what was typed kept; LETTERS_MAX is fine."""
    assert len(many_un_offices) == validation.LETTERS_MAX + 1
    refused = preview(client, supporter, targets=many_un_offices, note="My own story, kept.")
    assert refused.status_code == 422
    text = text_of(refused)
    assert f"Choose at most {validation.LETTERS_MAX} people to write to at once" in text
    assert "My own story, kept." in text and 'value="Maria Lopez"' in text
    fits = preview(client, supporter, targets=many_un_offices[: validation.LETTERS_MAX])
    assert fits.status_code == 200 and "Check and edit your letter" in text_of(fits)
    # The send step holds the same rule: a form edited to name one more person is refused, nothing written.
    data = send_form(fits)
    data["targets"] = many_un_offices
    data["action"] = ["mailto"]
    sent = client.post(SEND, data=data)
    assert sent.status_code == 422
    assert f"Choose at most {validation.LETTERS_MAX} people to write to at once" in text_of(sent)
    with client.application.app_context():
        assert db.session.scalar(select(func.count()).select_from(Letter)) == 0
