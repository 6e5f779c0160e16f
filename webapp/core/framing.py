"""The salutation and sign-off Outcry adds around a letter whose template asks for them (`salutation_and_signoff`),
as Action Network does: organizers write only what the letter says, and "Dear …," , the supporter's own words and
"Sincerely, <name>" are added for them. The full text is a template like any other, checked and rendered as one."""

from __future__ import annotations

import re

from webapp.core.rendering import LetterTemplateError, check_template

SALUTATION = "Dear {{ target.salutation }},\n\n"
# The supporter's own words, when the organizer's text doesn't place them itself.
NOTE = "{% if supporter.note %}\n{{ supporter.note }}\n\n{% endif %}\n"
SIGN_OFF = "Sincerely,\n{{ supporter.name }}\n"
# The same frame in the other languages a letter may be written in: each language's own formal opening and
# closing. A Spanish letter opens with the form of address and a colon ("Ms. Novakovic:"), as Spanish letters do,
# since the target's salutation is the one its record holds, and closes with "Atentamente,".
FRAMES = {
    "en": (SALUTATION, SIGN_OFF),
    "es": ("{{ target.salutation }}:\n\n", "Atentamente,\n{{ supporter.name }}\n"),
}
_GREETING = re.compile(r"\s*(dear|estimad[oa]s?|querid[oa]s?|señor(a|es|as)?|señoras?)\b", re.IGNORECASE)
_CLOSING = re.compile(
    r"\s*(sincerely|yours (truly|sincerely)|best regards|kind regards|regards"
    r"|atentamente|cordialmente|saludos|un (cordial )?saludo|respetuosamente)\b",
    re.IGNORECASE,
)
_PLACES_NOTE = re.compile(r"\bsupporter\s*(?:\.\s*note\b|\[\s*['\"]note['\"]\s*\])")


def frame(language: str = "en") -> tuple[str, str]:
    """The salutation and the sign-off added in `language` (English for a language without its own)."""
    return FRAMES.get(language, FRAMES["en"])


def full_body(body: str, salutation_and_signoff: bool, language: str = "en") -> str:
    """The template that is rendered: the organizer's body, framed when the template asks for it."""
    if not salutation_and_signoff:
        return body
    salutation, sign_off = frame(language)
    middle = body.strip("\n") + "\n\n"
    return salutation + middle + ("" if _PLACES_NOTE.search(body) else NOTE) + sign_off


def problems(
    subject: str,
    body: str,
    *,
    salutation_and_signoff: bool,
    target_kinds: list[str] | None = None,
    require_note: bool = True,
    language: str = "en",
) -> list[LetterTemplateError]:
    """`check_template` for a body that may be framed, with lines counted in the organizer's own text.

    The organizer's text is checked on its own first (so a mistake is named at its line), then the framed whole
    is rendered for every kind of target, as supporters will get it.
    """
    if not salutation_and_signoff:
        return check_template(subject, body, target_kinds=target_kinds, require_note=require_note)
    found = check_template(subject, body, target_kinds=target_kinds, require_note=False)
    if found:
        return found
    found = _doubled(body)
    if found:
        return found
    framed = check_template(
        subject, full_body(body, True, language), target_kinds=target_kinds, require_note=require_note
    )
    return [in_own_words(problem, body) for problem in framed]


def in_own_words(problem: LetterTemplateError, body: str) -> LetterTemplateError:
    """A problem found in the framed body, with its line counted in the organizer's text (the frame has none)."""
    if problem.field != "body" or not problem.line:
        return problem
    last = body.strip("\n").count("\n") + 1
    line = min(max(problem.line - SALUTATION.count("\n"), 1), last)
    return LetterTemplateError(problem.field, problem.message, line)


def _doubled(body: str) -> list[LetterTemplateError]:
    """A greeting or a closing the frame would add a second time, named at its line."""
    lines = body.strip("\n").split("\n")
    filled = [(number, line) for number, line in enumerate(lines, 1) if line.strip()]
    problems = []
    if filled and _GREETING.match(filled[0][1]):
        problems.append(
            LetterTemplateError(
                "body",
                "the letter already starts with “Dear …”, and Outcry adds that for you: remove this line, or turn "
                "off “Add “Dear …,” and the sign-off for me”",
                filled[0][0],
            )
        )
    for number, line in filled[-3:]:
        if _CLOSING.match(line):
            problems.append(
                LetterTemplateError(
                    "body",
                    "the letter already signs off, and Outcry adds “Sincerely,” and the supporter's name for you: "
                    "remove the sign-off, or turn off “Add “Dear …,” and the sign-off for me”",
                    number,
                )
            )
            break
    return problems
