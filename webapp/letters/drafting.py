"""Drafting a supporter's letters from a template: in which language, with their note, in one round trip."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from webapp import i18n
from webapp.core.rendering import LetterTemplateError, context_for, render_many, supporter_variables, target_variables
from webapp.i18n import gettext
from webapp.letters import words
from webapp.letters.errors import SubmissionInvalid
from webapp.models import CALL, Campaign, LetterTemplate, Target

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Supporter:
    name: str
    email: str
    zip: str
    address: str = ""
    note: str = ""

    def variables(self, *, with_note: bool = True) -> dict[str, str]:
        return supporter_variables(self.name, self.email, self.zip, self.address, self.note if with_note else "")


@dataclass(frozen=True)
class Draft:
    """One target's letter as the template renders it, before the supporter's edits."""

    target: Target
    subject: str
    body: str
    baseline: str  # the body without the supporter's note, for the personal-words meter

    def share(self, final_body: str | None = None) -> float:
        return words.personal_share(self.baseline, self.body if final_body is None else final_body)


def check_note_length(template: LetterTemplate, supporter: Supporter) -> None:
    """A letter may ask for a minimum of the supporter's own words (call scripts have no note)."""
    minimum = template.min_note_length or 0
    written = len(supporter.note.strip())
    if minimum and template.channels != [CALL] and written < minimum:
        raise SubmissionInvalid(
            {
                "supporter.note": [
                    gettext(
                        "This letter asks for at least %(minimum)s characters in your own words (you wrote "
                        "%(written)s). A sentence or two about why this matters to you is enough.",
                        minimum=i18n.number(minimum),
                        written=i18n.number(written),
                    )
                ]
            }
        )


def draft_letters(
    campaign: Campaign,
    template: LetterTemplate,
    targets: list[Target],
    supporter: Supporter,
    today: dt.date | None = None,
    language: str | None = None,
) -> list[Draft]:
    """Each target's letter from the template, in `language` (the template's own when it has no such version)."""
    return draft_in(campaign, template, targets, supporter, [language], today)[0]


def draft_in(
    campaign: Campaign,
    template: LetterTemplate,
    targets: list[Target],
    supporter: Supporter,
    languages: list[str | None],
    today: dt.date | None = None,
) -> list[list[Draft]]:
    """Each target's letter in each of `languages` (the letter that goes out, and the one the reader reads beside
    it), in one round trip to a render process: a request drafts its letters once."""
    check_note_length(template, supporter)
    if not targets:
        return [[] for _ in languages]
    campaign_vars = {"title": campaign.title, "slug": campaign.slug}
    jobs = []  # each target's letter, then the same without the note (for the personal-words meter)
    for language in languages:
        text = template.text_in(language)
        for target in targets:
            target_vars = target_variables(target)
            for with_note in (True, False):
                variables = supporter.variables(with_note=with_note)
                context = context_for(supporter=variables, target=target_vars, campaign=campaign_vars, today=today)
                if text.language != "en":  # `today` as the letter's language writes a date
                    context["today"] = i18n.letter_date(today or dt.date.today(), text.language)
                jobs.append((text.subject, text.full_body, context))
    try:
        letters = render_many(jobs)  # one round trip to a render process for the whole request
    except LetterTemplateError as exc:
        # Templates are checked when saved, with several sample supporters; this supporter's words still found
        # a way to break it (or make it too big). Their text is kept; the log tells the operator which template and
        # where, never the error's words: they can quote what the supporter typed (a name, an address, the note).
        log.error("template.render_failed template=%s field=%s line=%s", template.id, exc.field, exc.line or "-")
        raise SubmissionInvalid(
            {
                "template": [
                    gettext(
                        "This letter can't be written with what you typed: the organizers' template has a problem. "
                        "Everything you typed is still here: pick another letter, or try again later."
                    )
                ]
            }
        ) from None
    drafted = []
    for start in range(0, len(letters), 2 * len(targets)):
        rendered = letters[start : start + 2 * len(targets)]
        drafted.append(
            [
                Draft(target, full.subject, full.body, baseline.body)
                for target, full, baseline in zip(targets, rendered[0::2], rendered[1::2], strict=True)
            ]
        )
    return drafted


def check_language(template: LetterTemplate, language: str | None) -> str:
    """The language a submission's letters are written in: one the template has (its own when none is named)."""
    if not language:
        return template.language or "en"
    if language not in template.languages:
        names = ", ".join(f"{code} ({i18n.language_name(code)})" for code in template.languages)
        raise SubmissionInvalid({"language": [gettext("This letter can be sent in: %(languages)s.", languages=names)]})
    return language


def default_language(template: LetterTemplate, targets: list[Target], reader: str) -> str:
    """The language a letter goes out in unless the supporter chooses: the reader's own when the letter has it and
    every office it goes to reads it (a member of Congress reads English; an office may list more languages),
    else the letter's own language."""
    if reader in template.languages and all(reader in target.languages for target in targets):
        return reader
    return template.language or "en"
