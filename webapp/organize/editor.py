"""What the letter editor shows beside the letter: the variables and insert-a-field buttons, and the live preview
for any target with every problem a save would refuse, by line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from webapp.campaigns.content import normalize_body
from webapp.core import framing
from webapp.core.rendering import (
    SAMPLE_SUPPORTER,
    SAMPLE_TARGETS,
    LetterTemplateError,
    RendererUnavailable,
    context_for,
    render,
    target_variables,
    unavailable_problem,
)
from webapp.models import CALL, CUSTOM_KINDS, LEGISLATOR_KINDS, Campaign
from webapp.organize.names import KIND_NAMES

# The variables a letter may use, as letter_templates/README.md lists them (a test keeps the two in step).
VARIABLES: tuple[tuple[str, str], ...] = (
    ("supporter.name", "the supporter's name, as typed"),
    ("supporter.first_name", "the first word of it"),
    ("supporter.email", "their email address (empty for phone calls)"),
    ("supporter.zip", "their ZIP code (94110 or 94110-1234)"),
    ("supporter.address", "their postal address, several lines, possibly empty"),
    ("supporter.note", "their own words, possibly empty — every letter but a call script must use it"),
    ("target.name", "the target's full name"),
    ("target.first_name", "first name, for people and members of Congress"),
    ("target.last_name", "last name, for people and members of Congress"),
    ("target.title", "title (for members: “Senator”)"),
    ("target.organization", "organization (for members: “US Senate”)"),
    ("target.role", "Senator, Representative, Delegate or Resident Commissioner; empty for others"),
    ("target.salutation", "what follows “Dear”: the target's salutation, else role and last name, else the name"),
    ("target.kind", "ceo, company, un_office, government, person, senator, representative, delegate"),
    ("target.state", "state, for members of Congress"),
    ("target.district", "district, for members of Congress (0: at large or a delegate)"),
    ("campaign.title", "the campaign's title"),
    ("campaign.slug", "the campaign's address"),
    ("today", "the date, e.g. November 29, 2026"),
)

# The insert-a-field buttons above the letter in the editor: the fields organizers reach for, in plain words.
FIELD_BUTTONS: tuple[tuple[str, str], ...] = (
    ("supporter.name", "Supporter's name"),
    ("supporter.first_name", "Their first name"),
    ("supporter.note", "Their own words"),
    ("supporter.zip", "Their ZIP code"),
    ("supporter.address", "Their address"),
    ("target.salutation", "How to address the target"),
    ("target.name", "Target's name"),
    ("target.title", "Target's title"),
    ("target.organization", "Target's organization"),
    ("campaign.title", "Campaign title"),
    ("today", "Today's date"),
)


def template_kinds(campaign: Campaign, target_ids: list[str], kinds: list[str]) -> list[str]:
    """The kinds of target a template must render for: its kinds and the kinds of its targets."""
    by_id = {target.id: target.kind for target in campaign.targets}
    return sorted({*kinds, *(by_id[t] for t in target_ids if t in by_id)})


@dataclass(frozen=True)
class PreviewTarget:
    ref: str
    label: str
    variables: dict[str, Any]


def preview_targets(campaign: Campaign) -> list[PreviewTarget]:
    """Who the preview can address: the campaign's targets, then a sample of each kind of member of Congress."""
    found = [PreviewTarget(t.id, t.name, target_variables(t)) for t in campaign.targets]
    for kind in LEGISLATOR_KINDS:
        sample = SAMPLE_TARGETS[kind]
        found.append(PreviewTarget(f"sample-{kind}", f"Sample {kind}: {sample['salutation']}", sample))
    for kind in CUSTOM_KINDS:
        sample = SAMPLE_TARGETS[kind]
        found.append(PreviewTarget(f"sample-{kind}", f"Sample {KIND_NAMES[kind].lower()}: {sample['name']}", sample))
    return found


def preview(
    campaign: Campaign,
    *,
    subject: str,
    body: str,
    target_ref: str,
    with_note: bool = True,
    channels: list[str] | None = None,
    target_ids: list[str] | None = None,
    target_kinds: list[str] | None = None,
    salutation_and_signoff: bool = False,
) -> dict[str, Any]:
    """The letter as a sample supporter would see it for one target, and every problem the save would refuse."""
    targets = preview_targets(campaign)
    target = next((t for t in targets if t.ref == target_ref), targets[0] if targets else None)
    is_call = (channels or []) == [CALL]
    kinds = template_kinds(campaign, target_ids or [], target_kinds or [])
    normalized = normalize_body(body)
    framed = salutation_and_signoff and not is_call
    problems = framing.problems(
        subject, normalized, salutation_and_signoff=framed, target_kinds=kinds or None, require_note=not is_call
    )
    result: dict[str, Any] = {
        "target": target.label if target else "",
        "problems": [problem_view(p, subject, body) for p in problems],
        "subject": "",
        "body": "",
    }
    if target is None:
        return result
    supporter = dict(SAMPLE_SUPPORTER) if with_note else {**SAMPLE_SUPPORTER, "note": ""}
    context = context_for(
        supporter=supporter, target=target.variables, campaign={"title": campaign.title, "slug": campaign.slug}
    )
    try:
        letter = render(subject, framing.full_body(normalized, framed), context)
    except LetterTemplateError as exc:
        view = problem_view(framing.in_own_words(exc, normalized) if framed else exc, subject, body)
        if view not in result["problems"]:
            result["problems"].append(view)
        return result
    except RendererUnavailable:  # said beside the organizer's text, which stays in the editor
        view = problem_view(unavailable_problem(), subject, body)
        if view not in result["problems"]:
            result["problems"].append(view)
        return result
    result["subject"], result["body"] = letter.subject, letter.body
    return result


def problem_view(problem: LetterTemplateError, subject: str, body: str) -> dict[str, Any]:
    """A template problem as the editor shows it: the field, the line number and the text of that line."""
    source = subject if problem.field == "subject" else body
    lines = source.replace("\r\n", "\n").split("\n")
    text = lines[problem.line - 1] if problem.line and 0 < problem.line <= len(lines) else None
    return {
        "field": problem.field,
        "line": problem.line,
        "message": problem.message,
        "text": text,
        "error": str(problem),
    }
