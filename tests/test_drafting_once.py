"""One submission use case (letters.service.send) on every path, each request drafting its letters once: a counter
on the render processes' round trips, request by request, for the pages, the API and the call step-through."""

from __future__ import annotations

import pytest

from tests.conftest import csrf_token
from tests.support.forms import form_fields
from tests.support.letters import LAUNCH, un_letter
from tests.support.mailserver import free_port
from tests.support.pages import SEND, WRITE, preview, send_form, start_calls, text_of
from webapp.core.rendering import RenderPool


@pytest.fixture
def drafts(monkeypatch):
    """The letters rendered in each round trip to a render process since the last clear(): counted at the pool, so a
    render by any module (not only letters.drafting) is seen."""
    counted: list[int] = []
    real = RenderPool.render_many

    def counting(pool, jobs):
        counted.append(len(jobs))
        return real(pool, jobs)

    monkeypatch.setattr(RenderPool, "render_many", counting)
    return counted


def test_the_pages_draft_once_per_request_and_the_send_once(client, supporter, drafts):
    page = preview(client, supporter)  # the write step's check, then the preview
    assert page.status_code == 200 and supporter["note"] in text_of(page)
    assert len(drafts) == 2
    drafts.clear()
    fields = send_form(page)
    fields["action"] = ["mailto"]
    sent = client.post(SEND, data=fields)
    assert sent.status_code == 303 and "/s/" in sent.headers["Location"]
    assert len(drafts) == 1  # choose → submit: drafted once, not again for a check beforehand


def test_a_preview_in_another_language_than_the_readers_is_one_round_trip(client, supporter, drafts):
    """A Spanish reader writing to an office that reads English sees the English letter and the Spanish one beside it:
    both drafted in one round trip (two before)."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "es"
    page = client.get(f"{WRITE}?target=general-dynamics-ceo")
    fields = form_fields(page.get_data(as_text=True))
    fields.update({name: [value] for name, value in supporter.items() if name in fields})
    written = client.post(WRITE, data=fields)
    assert written.status_code == 303
    drafts.clear()
    shown = client.get(written.headers["Location"])
    assert shown.status_code == 200
    assert len(drafts) == 1
    assert drafts[0] == 4  # the letter, and the Spanish one beside it, each with and without the note


def test_without_redis_the_write_step_answers_with_the_letters_it_drafted(make_app, supporter, drafts):
    """No visit can be kept, so the write step's answer is the preview itself: the letters its check drafted are the
    ones shown (drafted three times before: the check, the preview, the reader's own version beside it)."""
    client = make_app(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0").test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "es"
    page = client.get(f"{WRITE}?target=general-dynamics-ceo")
    fields = form_fields(page.get_data(as_text=True))
    fields.update({name: [value] for name, value in supporter.items() if name in fields})
    drafts.clear()
    shown = client.post(WRITE, data=fields)
    assert shown.status_code == 200 and supporter["note"] in text_of(shown)
    assert 'name="letters-0-body"' in shown.get_data(as_text=True)
    assert drafts == [2, 2]  # the letter with and without the note, then the Spanish one beside it


def test_the_api_drafts_once(client, supporter, drafts):
    response = client.post("/api/v1/submissions", json=un_letter(supporter))
    assert response.status_code == 202
    assert len(drafts) == 1


def test_a_recorded_call_drafts_its_script_once_per_request(client, drafts):
    start_calls(client, "general-dynamics-ceo")
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "es"  # the script in the office's language, and the reader's
    drafts.clear()
    step = client.get(f"/c/{LAUNCH}/calls")
    assert step.status_code == 200 and 'href="tel:' in step.get_data(as_text=True)
    assert drafts == [4]  # the script in English and in Spanish, each with and without the note: one round trip
    drafts.clear()
    answer = {"csrf_token": csrf_token(step.get_data(as_text=True)), "target": "general-dynamics-ceo"}
    assert client.post(f"/c/{LAUNCH}/calls", data={**answer, "outcome": "called"}).status_code == 303
    assert len(drafts) == 1
    totals = client.get(f"/api/v1/campaigns/{LAUNCH}/totals").get_json()["totals"]
    assert totals["handed_off"] == 1 and totals["confirmed"] == 1  # committed together, by the view
