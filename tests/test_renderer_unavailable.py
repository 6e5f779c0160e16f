"""When no render process can write letters (none starts, all stay busy, one is killed from outside), every path
that drafts answers 503 with Retry-After and says so in the supporter's language, the form still holding
everything they typed: the write page, the preview, the send step and the JSON API. Never a 500."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from tests.support.letters import un_letter
from tests.support.pages import CALL, SEND, preview, send_form, start_calls, text_of, write_form
from tests.support.pages import WRITE as WRITE_PAGE
from webapp.core import rendering
from webapp.core.rendering import RenderPool

BUSY_EN = "We can't write your letter just now: our server is busy."
BUSY_ES = "No podemos escribir tu carta en este momento: nuestro servidor está ocupado."


@pytest.fixture
def typed() -> dict:
    """What a supporter typed, with characters a careless re-display would lose or mangle."""
    return {
        "name": "Zoë Ñúñez-O'Brien",
        "email": "zoe.renders@example.org",
        "zip": "94110",
        "address": "12 Calle <Sol> & Luna\nSan Francisco, CA 94110",
        "note": 'Mi abuela cruzó "la línea" con mi madre en brazos — {{ 7 * 7 }} & <b>nunca</b> olvidó. 🌵',
    }


@pytest.fixture
def no_renderer(monkeypatch, tmp_path):
    """The serving process's render processes cannot start (a broken install, no memory or processes left): a fresh
    pool whose sandbox script is missing, put back as it was afterwards."""

    def breaking():
        monkeypatch.setattr(rendering, "SANDBOX_SCRIPT", tmp_path / "missing.py")
        monkeypatch.setattr(rendering, "_pool", None)

    return breaking


def assert_kept(page, typed: dict, *, note: bool = True) -> None:
    text = text_of(page)
    for name in ("name", "email", "zip", "address", *(["note"] if note else [])):
        assert typed[name] in text.replace("\r\n", "\n"), f"the {name} typed is not on the page"


def test_the_write_step_answers_503_with_everything_typed(client, typed, no_renderer):
    fields = write_form(client, typed)
    no_renderer()
    page = client.post(WRITE_PAGE, data=fields)
    assert page.status_code == 503
    assert int(page.headers["Retry-After"]) > 0
    assert BUSY_EN in text_of(page)
    assert_kept(page, typed)


def test_the_write_step_says_so_in_spanish(client, typed, no_renderer):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "es"
    fields = write_form(client, typed)
    no_renderer()
    page = client.post(WRITE_PAGE, data=fields)
    assert page.status_code == 503 and "Retry-After" in page.headers
    assert BUSY_ES in text_of(page)
    assert_kept(page, typed)


def test_the_preview_answers_503_with_the_details_and_the_draft_kept(client, typed, no_renderer):
    written = client.post(WRITE_PAGE, data=write_form(client, typed))
    assert written.status_code == 303
    no_renderer()
    page = client.get(written.headers["Location"])
    assert page.status_code == 503 and int(page.headers["Retry-After"]) > 0
    assert BUSY_EN in text_of(page)
    assert_kept(page, typed)
    assert 'name="draft"' in page.get_data(as_text=True)  # the draft (and the letters' edits) come back with it


def test_the_send_step_answers_503_with_the_letter_as_edited(client, typed, no_renderer):
    shown = preview(client, typed)
    assert shown.status_code == 200
    fields = send_form(shown)
    edited = fields["letters-0-body"][0].strip() + "\n\nP.S. — ¿Por qué? «Marker-7f3a» & <i>no</i> {{ supporter.name }}"
    fields["letters-0-body"] = [edited]
    fields["action"] = ["mailto"]
    no_renderer()
    page = client.post(SEND, data=fields)
    assert page.status_code == 503 and int(page.headers["Retry-After"]) > 0
    assert BUSY_EN in text_of(page)
    assert edited in text_of(page).replace("\r\n", "\n")
    assert_kept(page, typed, note=False)  # the note is in the letter itself on the preview


def test_the_api_answers_503_json_with_retry_after(client, typed, no_renderer):
    no_renderer()
    response = client.post("/api/v1/submissions", json=un_letter(typed))
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    body = response.get_json()
    assert body["status"] == 503 and BUSY_EN in body["error"] and body["retry_after"] > 0
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "es"
    response = client.post("/api/v1/submissions", json=un_letter(typed))
    assert response.status_code == 503 and BUSY_ES in response.get_json()["error"]


@pytest.mark.parametrize("command", [["letters", "check"], ["campaigns", "load", "--force"]])
def test_the_commands_that_render_say_so_in_one_line_without_a_traceback(runner, no_renderer, command):
    """An operator's command that checks or loads templates, with no render process able to start: one clear line
    and a failing exit code, not a traceback, and not every template reported as broken."""
    no_renderer()
    result = runner.invoke(args=command)
    assert result.exit_code != 0
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: ") and "render" in lines[0] and "try again" in lines[0], lines[0]


def test_the_call_step_through_answers_503_not_500(client, no_renderer):
    """Any other page that drafts (here the call script) answers the same way, through the app's error handler."""
    start_calls(client, "general-dynamics-ceo")
    no_renderer()
    for language, message in (("en", BUSY_EN), ("es", BUSY_ES)):
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
        page = client.get(f"{CALL}s")  # the step-through, one office at a time
        assert page.status_code == 503 and int(page.headers["Retry-After"]) > 0
        assert message in text_of(page)


SLOW = (
    "{% for i in range(1000) %}{% set s = ('ab' * 4999)|list|sort|join|list|sort|join|list|sort|join %}{% endfor %}\n"
    "{{ supporter.note }}"
)


def test_every_render_process_busy_past_the_wait_is_a_503_and_the_next_request_is_served(client, typed, monkeypatch):
    """The serving process's only render process is taken by a slow request: the supporter's write step is told to
    try again once the wait's deadline passes (not left waiting behind it), and is served once it is free."""
    busy = RenderPool(size=1, cpu_seconds=60, wall_seconds=60, wait_seconds=0.3)
    monkeypatch.setattr(rendering, "_pool", busy)
    monkeypatch.setattr(rendering, "_pool_pid", os.getpid())
    fields = write_form(client, typed)
    busy.check("Warm", "Hello\n{{ supporter.note }}")  # its render process started
    (process,) = busy._idle
    hog = threading.Thread(target=busy.check, args=("Slow", SLOW))
    hog.start()
    try:
        while busy._idle:  # until the slow request holds the render process
            time.sleep(0.01)
        page = client.post(WRITE_PAGE, data=fields)
        assert page.status_code == 503 and int(page.headers["Retry-After"]) > 0
        assert BUSY_EN in text_of(page)
        assert_kept(page, typed)
    finally:
        os.kill(process.process.pid, signal.SIGKILL)  # the slow one ends (as the OOM killer would end it)
        hog.join(30)
    assert client.post(WRITE_PAGE, data=fields).status_code == 303
    busy.close()
