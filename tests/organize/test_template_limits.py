"""Template bombs and broken templates through the paths people use (issue 12, item 2): the workspace's save and
live preview and the organizer API answer with the organizer's error and its line, never a 500; a template that
breaks only for one supporter's words gives that supporter a clear message and keeps what they typed; and the
process serving all of it never builds what the template asked for."""

from __future__ import annotations

import html
import re
import resource

import pytest

from tests.conftest import csrf_token
from tests.organize.conftest import ORGANIZER, form_token, token_for
from webapp.extensions import db
from webapp.organize import campaigns, letter_templates
from webapp.organizers import accounts

NOTE = "{{ supporter.note }}"
# Fifteen lists of 1,000 strings of 10,000 four-byte characters: 600 MB if it ran in the serving process.
MEMORY_BOMB = "\n".join(
    f"{{% set l{n} = range(1000)|map('string')|map('replace', '', '\U0001f600')|map('center', 10000)|list %}}"
    for n in range(15)
)


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def plain(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def letter_form(body: str) -> dict:
    return {
        "name": "Ask Dana",
        "target_ids": ["dana-example"],
        "channels": ["mailto"],
        "min_note_length": "0",
        "subject": "Open the records, {{ target.name }}",
        "body": body,
    }


def test_saving_a_letter_that_fails_for_every_supporter_is_refused_with_its_line(app, as_organizer, own_campaign):
    """`truncate(-5)` used to be a 500 for every supporter; now the save refuses it, with its line, in words."""
    url = f"/organize/c/{own_campaign}/letters/new"
    body = f"Dear {{{{ target.name }}}},\n{{{{ target.name|truncate(-5) }}}}\n{NOTE}"
    response = as_organizer.post(url, data={"csrf_token": form_token(as_organizer, url), **letter_form(body)})
    assert response.status_code == 422
    assert (
        "Body, line 2: a filter here was given a value it can't use (expected length >= 3, got -5): change the value"
    ) in plain(response)


def test_the_api_refuses_it_with_the_problem_and_its_line(app, people, own_campaign):
    api = app.test_client()
    api.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token_for(app, ORGANIZER)}"
    response = api.post(
        f"/api/v1/organize/campaigns/{own_campaign}/templates",
        json={
            "name": "Ask Dana",
            "subject": "Hello",
            "body": f"Dear you,\n\n{{{{ 1 // 0 }}}}\n{NOTE}",
            "targets": ["dana-example"],
            "channels": ["mailto"],
        },
    )
    assert response.status_code == 422
    (problem,) = response.get_json()["problems"]
    assert (problem["field"], problem["line"], problem["text"]) == ("body", 3, "{{ 1 // 0 }}")
    assert problem["message"] == (
        "this divides by zero (integer division or modulo by zero): change the number after the /, // or %"
    )


@pytest.mark.parametrize(
    "body,message",
    [
        (f"{MEMORY_BOMB}\n{NOTE}", "more memory than a letter may use"),
        (f"Dear you,\n{{{{ 'abc'|truncate(-5) }}}}\n{NOTE}", "given a value it can't use"),
    ],
    ids=["memory-bomb", "exception"],
)
def test_the_live_preview_renders_unsaved_text_within_the_limits(as_organizer, own_campaign, body, message):
    before = max_rss_mb()
    response = as_organizer.post(
        f"/organize/c/{own_campaign}/letters/preview",
        json={"subject": "Hello", "body": body, "target": "dana-example", "target_ids": ["dana-example"]},
        headers={"X-CSRFToken": form_token(as_organizer, f"/organize/c/{own_campaign}/letters/new")},
    )
    assert response.status_code == 200
    problems = response.get_json()["problems"]
    assert problems and all(problem["field"] in ("subject", "body") for problem in problems)
    assert message in " ".join(problem["message"] for problem in problems)
    assert max_rss_mb() - before < 100, "the serving process built the bomb"


# A letter that passes every check (no sample supporter is called Mallory or Trent) and breaks for them only.
TRAPPED = (
    "Dear {{ target.salutation }},\n\n"
    "{% set n = 1000 if supporter.name == 'Mallory Quinn' else 0 %}\n"
    + MEMORY_BOMB.replace("range(1000)", "range(n)")
    + "\n{% if supporter.name == 'Trent Quinn' %}{{ supporter.name|truncate(-5) }}{% endif %}\n"
    f"{NOTE}\n\n{{{{ supporter.name }}}}\n"
)


@pytest.fixture
def trapped_campaign(app, as_organizer, own_campaign):
    """A published campaign whose one letter is TRAPPED, saved through the workspace like any other."""
    url = f"/organize/c/{own_campaign}/letters/new"
    saved = as_organizer.post(url, data={"csrf_token": form_token(as_organizer, url), **letter_form(TRAPPED)})
    assert saved.status_code == 302, plain(saved)
    with app.app_context():
        campaign = campaigns.find_campaign(own_campaign)
        letter_templates.set_template_active(campaign.templates[0], True)
        campaigns.set_published(campaign, True)
        assert accounts.find_organizer(ORGANIZER) is not None
        db.session.commit()
        return own_campaign, campaign.templates[0].slug


@pytest.mark.parametrize("name", ["Mallory Quinn", "Trent Quinn"])
def test_a_supporter_whose_words_break_the_letter_gets_a_clear_answer_from_the_api(client, trapped_campaign, name):
    slug, template = trapped_campaign
    before = max_rss_mb()
    response = client.post(
        "/api/v1/submissions",
        json={
            "campaign": slug,
            "template": template,
            "targets": ["dana-example"],
            "channel": "mailto",
            "supporter": {"name": name, "email": "mq@example.org", "zip": "94110", "note": "Please reunite them."},
        },
    )
    assert response.status_code == 422
    assert "the organizers' template has a problem" in response.get_json()["errors"]["template"][0]
    assert max_rss_mb() - before < 100, "the serving process built the bomb"
    fine = client.post(
        "/api/v1/submissions",
        json={
            "campaign": slug,
            "template": template,
            "targets": ["dana-example"],
            "channel": "mailto",
            "supporter": {"name": "Ana Quinn", "email": "aq@example.org", "zip": "94110", "note": "Please."},
        },
    )
    assert fine.status_code == 202  # the same letter still works for everyone else


def test_a_supporter_on_the_pages_keeps_everything_they_typed(client, trapped_campaign):
    slug, template = trapped_campaign
    page = client.get(f"/c/{slug}/write?target=dana-example")
    typed = {
        "name": "Mallory Quinn",
        "email": "mq@example.org",  # no ZIP code: it is asked only when Congress is in the group
        "note": "My cousin was held for eleven weeks without seeing her mother.",
    }
    response = client.post(
        f"/c/{slug}/write",
        data={
            "csrf_token": csrf_token(page.get_data(as_text=True)),
            "targets": ["dana-example"],
            "template": template,
            **typed,
        },
    )
    assert response.status_code == 422
    words = plain(response)
    assert "This letter can't be written with what you typed" in words
    assert "Everything you typed is still here" in words
    for value in typed.values():
        assert html.escape(value) in response.get_data(as_text=True), value


# Hostile or careless shapes that used to reach the organizer as Python's own words ("RecursionError: maximum
# recursion depth exceeded", "ValueError: Exceeds the limit (4300 digits) …"): each is refused in plain words that
# say what to change, on the save and in the live preview.
SHAPES = [
    pytest.param(
        "{{ target.name" + "|upper" * 5000 + " }}", "this is nested more than 40 levels deep", id="5000-filters"
    ),
    pytest.param("{{ " + "+".join(["1"] * 5000) + " }}", "this is nested more than 40 levels deep", id="1+1+1-chain"),
    pytest.param("{{ target" + ".name" * 5000 + " }}", "this is nested more than 40 levels deep", id="attribute-chain"),
    pytest.param("{{ " + "(" * 400 + "1" + ")" * 400 + " }}", "this is nested more than 40 levels deep", id="brackets"),
    pytest.param("{{ " + "7" * 5000 + " }}", "a number here has thousands of digits", id="5000-digits"),
]
PYTHON_WORDS = re.compile(r"\b[A-Z]\w*(Error|Exception)\b|recursion depth|sys\.set_int_max_str_digits")


@pytest.mark.parametrize("line,message", SHAPES)
def test_a_hostile_shape_is_refused_in_plain_words_on_save_and_preview(as_organizer, own_campaign, line, message):
    body = f"Dear {{{{ target.name }}}},\n{line}\n{NOTE}"
    url = f"/organize/c/{own_campaign}/letters/new"
    saved = as_organizer.post(url, data={"csrf_token": form_token(as_organizer, url), **letter_form(body)})
    assert saved.status_code == 422
    words = plain(saved)
    assert f"Body, line 2: {message}" in words, words[:300]
    assert not PYTHON_WORDS.search(words), PYTHON_WORDS.search(words)
    previewed = as_organizer.post(
        f"/organize/c/{own_campaign}/letters/preview",
        json={"subject": "Hello", "body": body, "target": "dana-example", "target_ids": ["dana-example"]},
        headers={"X-CSRFToken": form_token(as_organizer, url)},
    )
    assert previewed.status_code == 200
    problems = previewed.get_json()["problems"]
    assert [(p["field"], p["line"]) for p in problems] == [("body", 2)], problems
    assert message in problems[0]["message"] and not PYTHON_WORDS.search(problems[0]["message"]), problems
