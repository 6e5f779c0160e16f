"""Template escapes beyond tests/test_rendering.py: filters and subscripts that reach dunders, format tricks,
size bombs built by filters and string methods, recursion; and supporter text that looks like template code
arriving literally in the letter that reaches the SMTP server."""

from __future__ import annotations

import tracemalloc
from email import message_from_bytes, policy

import pytest

from tests.support.letters import un_letter
from tests.support.waiting import wait_for
from webapp.core.rendering import LetterTemplateError, check_template

NOTE = "{{ supporter.note }}"

ESCAPES = [
    "{{ supporter|attr('__class__') }}",
    "{{ supporter|attr('__class__')|attr('__mro__') }}",
    "{{ ''['__class__'] }}",
    "{{ ''['__class__']['__mro__'][1]['__subclasses__']() }}",
    "{{ ()|attr('__class__')|attr('__base__')|attr('__subclasses__')() }}",
    "{{ supporter.__init__ }}",
    "{{ supporter.note.__class__.__mro__ }}",
    "{{ range.__globals__ }}",
    "{{ range.__init__.__globals__['os'] }}",
    "{{ '{0.__class__.__mro__}'.format(supporter) }}",
    "{{ '{0[__class__]}'.format(supporter) }}",
    "{{ '{0.__init__.__globals__}'.format_map({'0': supporter}) }}",
    "{{ 'x'.__add__('y') }}",
    "{{ cycler }}",
    "{{ joiner() }}",
    "{{ namespace(a=1) }}",
    "{% set ns = namespace(x=1) %}{% set ns.x = 2 %}",
    "{{ dict(a=1) }}",
    "{{ lipsum() }}",
    "{{ 'a' * 10**8 }}",
    "{{ 'a' * 99999999 }}",
    "{{ ['a'] * 99999999 }}",
    "{{ 99999999 * 'a' }}",
    "{{ ('a' * 9999) + ('a' * 9999) + ('a' * 9999) }}",
    "{{ 2 ** 100000 }}",
    "{{ range(99999999)|list }}",
    "{{ range(0, 99999999, 1)|length }}",
    "{% include 'base.html' %}",
    "{% extends 'base.html' %}",
    "{% import 'macros.html' as m %}",
    "{{ config.items() }}",
    "{{ target.update({'name': 'x'}) }}",
    "{{ supporter.pop('note') }}",
    "{{ supporter.setdefault('x', 1) }}",
]


@pytest.mark.parametrize("body", ESCAPES)
def test_escapes_are_validation_errors(body):
    problems = check_template("Subject", f"{body}\n{NOTE}")
    assert problems, f"{body!r} should be refused"
    assert all(isinstance(problem, LetterTemplateError) for problem in problems)
    for problem in problems:
        assert "<class" not in problem.message and "function" not in problem.message.split(":")[0]


@pytest.mark.parametrize("subject", ["{{ supporter.__class__ }}", "{{ 'a' * 10**8 }}", "{{ ''.__class__.__mro__ }}"])
def test_the_subject_is_checked_the_same_way(subject):
    assert any(problem.field == "subject" for problem in check_template(subject, f"Dear office,\n{NOTE}"))


# Output that a filter or string method builds in one step: the sandbox must refuse it *before* building
# it, not after, by the 20,000-character output cap (10**7 here; 10**9 in a template means gigabytes).
WIDTH_BOMBS = [
    "{{ '{:>10000000}'.format('a') }}",
    "{{ '%10000000s'|format('a') }}",
    "{{ '%010000000d' % 1 }}",
    "{{ 'a'|center(10000000) }}",
    "{{ 'a\nb'|indent(10000000) }}",
    "{{ 'a'.ljust(10000000) }}",
    "{{ 'a'.zfill(10000000) }}",
    "{{ '\t'.expandtabs(10000000) }}",
    "{{ ('a' * 9999)|replace('a', 'a' * 1000) }}",
]


@pytest.mark.parametrize("body", WIDTH_BOMBS)
def test_width_and_replace_bombs_are_refused_without_building_them(body):
    tracemalloc.start()
    try:
        problems = check_template("Subject", f"{body}\n{NOTE}")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert problems
    assert peak < 5_000_000, f"refused only after allocating {peak / 1e6:.0f} MB"


@pytest.mark.parametrize("body", WIDTH_BOMBS)
def test_width_and_replace_bombs_are_refused(body):
    assert check_template("Subject", f"{body}\n{NOTE}")


def test_a_recursive_macro_is_a_validation_error_not_a_crash():
    problems = check_template("Subject", "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}\n" + NOTE)
    assert problems and all(isinstance(problem, LetterTemplateError) for problem in problems)


HOSTILE_TEXT = [
    "{{ 7 * 7 }}",
    "{% for x in range(3) %}loop{% endfor %}",
    "{{ supporter.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{% raw %}{{ x }}{% endraw %}",
    "{{ 'a' * 10**8 }}",
    "{# comment #}",
]


def test_supporter_text_arrives_literally_in_the_delivered_letter(client, mail_server, celery_worker):
    """Name, note and the supporter's edits are data: the letter that reaches the SMTP server holds them as typed."""
    note = "My words: " + " | ".join(HOSTILE_TEXT)
    response = client.post(
        "/api/v1/submissions",
        json=un_letter(
            {"name": "Ana {{ 7 * 7 }}", "email": "supporter@example.org", "zip": "94110", "note": note},
            "smtp",
            smtp=mail_server.smtp_settings(),
        ),
    )
    assert response.status_code == 202, response.get_json()
    letter_id = response.get_json()["letters"][0]["id"]
    arrived = wait_for(
        lambda: next((m for m in mail_server.received if f"outcry.{letter_id}@".encode() in m.data), None),
        what="the letter to arrive",
    )
    message = message_from_bytes(arrived.data, policy=policy.default)
    body = message.get_content()
    for text in HOSTILE_TEXT:
        assert text in body, f"{text!r} did not arrive as typed"
    assert "49" not in body and "loop" not in body.replace("{% for x in range(3) %}loop{% endfor %}", "")
    assert "Ana {{ 7 * 7 }}" in str(message["From"])


def test_supporter_edits_that_look_like_templates_are_kept_literally(client):
    subject = "{{ target.name }} {% if true %}yes{% endif %}"
    body = "Dear {{ target.salutation }},\n{{ supporter.__class__ }}\n{% for i in range(3) %}x{% endfor %}"
    response = client.post(
        "/api/v1/submissions",
        json=un_letter({"name": "Ana", "email": "ana@example.org", "zip": "94110"}, subject=subject, body=body),
    )
    assert response.status_code == 202
    letter = response.get_json()["letters"][0]
    assert (letter["subject"], letter["body"]) == (subject, body)


@pytest.mark.parametrize(
    "body",
    [
        "{% for a in range(1000) %}{% for b in range(1000) %}x{% endfor %}{% endfor %}",
        "{% for a in supporter.note %}{% for b in supporter.note %}{% endfor %}{% endfor %}",
        "{% for x in [1, [2]] recursive %}{{ loop(x) if x is iterable else x }}{% endfor %}",
        "{% call range(3) %}x{% endcall %}",
    ],
)
def test_shapes_that_could_run_for_hours_are_refused_by_their_shape(body):
    """Refused from the parsed template, before any render (a render of the first would take minutes)."""
    problems = check_template("Subject", f"{body}\n{NOTE}")
    assert problems and all(isinstance(problem, LetterTemplateError) for problem in problems)
    assert problems[0].line == 1
    assert "not available in letters" in problems[0].message
