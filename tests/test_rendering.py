"""Organizer templates: the sandbox refuses escapes, the check finds problems, supporter text stays data."""

from __future__ import annotations

from pathlib import Path

import pytest

from webapp.campaigns.files import read_all
from webapp.core.rendering import (
    SAMPLE_SUPPORTER,
    SAMPLE_TARGETS,
    LetterTemplateError,
    check_template,
    context_for,
    render,
)

PROJECT = Path(__file__).resolve().parent.parent
NOTE = "{{ supporter.note }}"


def shipped_templates():
    for campaign in read_all(PROJECT / "letter_templates"):
        for template in campaign.templates:
            yield pytest.param(template, id=f"{campaign.slug}/{template.slug}")


@pytest.mark.parametrize("template", list(shipped_templates()))
def test_every_shipped_template_passes_the_check(template):
    kinds = template.kinds or list(SAMPLE_TARGETS)
    assert (
        check_template(template.subject, template.body, target_kinds=kinds, require_note=template.channels != ["call"])
        == []
    )


@pytest.mark.parametrize(
    "body",
    [
        "{{ supporter.__class__ }}",
        "{{ supporter.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ joiner.__init__.__globals__ }}",
        "{{ namespace.__init__.__globals__ }}",
        "{{ lipsum.__globals__ }}",
        "{{ '{0.__class__}'.format(supporter) }}",
        "{{ '%s'|format(supporter.__class__) }}",
        "{{ 'a' * 10**8 }}",
        "{{ 'a' * 100000000 }}",
        "{{ range(10**9)|list }}",
        "{% for i in range(100000) %}{{ i }}{% endfor %}",
        "{{ supporter.update({'name': 'x'}) }}",
        "{{ config }}",
        "{{ request }}",
        "{{ self.__init__.__globals__ }}",
        "{% for a in range(1000) %}{% for b in range(1000) %}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx{% endfor %}{% endfor %}",
    ],
)
def test_sandbox_escapes_are_validation_errors(body):
    problems = check_template("Subject", f"{body}\n{NOTE}")
    assert problems, f"{body!r} should be refused"
    assert all(isinstance(problem, LetterTemplateError) for problem in problems)


def test_syntax_error_reports_the_line():
    problems = check_template("Subject", f"Dear {{{{ target.name }}}},\n\n{{% if supporter.note %}}\n{NOTE}\n")
    assert problems[0].field == "body"
    assert problems[0].line is not None
    assert "end of template" in problems[0].message or "endif" in problems[0].message


def test_unknown_variable_names_the_line():
    problems = check_template("Subject", f"Hello\n{{{{ suporter.name }}}}\n{NOTE}")
    assert problems[0].line == 2
    assert "suporter" in problems[0].message


def test_missing_attribute_is_an_error_not_an_empty_string():
    problems = check_template("Subject", f"Dear {{{{ target.nickname }}}}\n{NOTE}")
    assert problems and "nickname" in str(problems[0])


def test_the_note_must_have_a_place():
    problems = check_template("Subject", "Dear {{ target.name }}")
    assert any("personal note" in p.message for p in problems)


def test_supporter_text_is_data_never_template_code():
    hostile = "{{ 7 * 7 }} {% for x in range(3) %}loop{% endfor %} {{ supporter.__class__ }}"
    supporter = {**SAMPLE_SUPPORTER, "note": hostile, "name": "{{ target.name }}"}
    letter = render(
        "About {{ supporter.name }}",
        "Dear {{ target.salutation }},\n{{ supporter.note }}\n{{ supporter.name }}",
        context_for(supporter=supporter, target=SAMPLE_TARGETS["ceo"], campaign={"title": "T", "slug": "t"}),
    )
    assert hostile in letter.body
    assert "{{ target.name }}" in letter.body
    assert letter.subject == "About {{ target.name }}"
    assert "49" not in letter.body


def test_subject_is_one_line():
    letter = render(
        "Line one\nline two {{ supporter.name }}",
        NOTE,
        context_for(supporter=SAMPLE_SUPPORTER, target=SAMPLE_TARGETS["ceo"], campaign={"title": "T", "slug": "t"}),
    )
    assert letter.subject == "Line one line two Alex Rivera"


def test_output_cap():
    with pytest.raises(LetterTemplateError, match="over"):
        render(
            "S",
            "{% for i in range(900) %}" + "x" * 100 + "{% endfor %}" + NOTE,
            context_for(supporter=SAMPLE_SUPPORTER, target=SAMPLE_TARGETS["ceo"], campaign={"title": "T", "slug": "t"}),
        )
