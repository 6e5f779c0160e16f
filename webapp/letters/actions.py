"""What a campaign asks of a supporter, and how much of it they have done in this visit: the next step and the receipt.

A campaign asks for a letter to each target a letter can reach and a call to each target with a phone number and a
call script: its own targets, and the supporter's members of Congress once their ZIP code is known. A letter counts
as done when one was sent or handed off in this visit (a failed own-email letter does not); a call counts as done
when the supporter talked to someone, left a voicemail or chose to skip the office (a busy line does not).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import url_for

from webapp.campaigns.service import call_scripts, campaign_targets, letter_templates
from webapp.congress import service as congress
from webapp.i18n import gettext
from webapp.letters import reporting
from webapp.letters.visit import Visit
from webapp.models import CALL, FAILED, Campaign, Letter, Target

CALLS_DONE = ("called", "voicemail", "skipped")


@dataclass(frozen=True)
class Step:
    """One thing left to do, as a link. `text` is a whole phrase, never pieced together (translations need that)."""

    kind: str  # find | write | call
    text: str
    url: str
    targets: tuple[Target, ...] = ()


@dataclass
class Plan:
    """The campaign's letters and calls for this supporter, and which are done."""

    letter_targets: list[Target] = field(default_factory=list)
    call_targets: list[Target] = field(default_factory=list)
    written: set[str] = field(default_factory=set)
    called: set[str] = field(default_factory=set)
    steps: list[Step] = field(default_factory=list)

    @property
    def next(self) -> Step | None:
        return self.steps[0] if self.steps else None

    @property
    def letters_done(self) -> int:
        return len([t for t in self.letter_targets if t.id in self.written])

    @property
    def calls_done(self) -> int:
        return len([t for t in self.call_targets if t.id in self.called])

    @property
    def started(self) -> bool:
        return bool(self.written or self.called)

    @property
    def finished(self) -> bool:
        return not self.steps


def _legislators(campaign: Campaign, zip_code: str, chosen: set[str]) -> tuple[list[Target], bool]:
    """The supporter's members for a ZIP, and whether they still have to pick their representative: a ZIP that spans
    districts offers every candidate, and only the one the supporter wrote to or called counts as theirs."""
    if not (campaign.congress and zip_code):
        return [], False
    try:
        lookup = congress.lookup(zip_code)
        members = congress.legislators_for_zip(zip_code)
    except (congress.InvalidZip, congress.UnknownZip, congress.CongressDataMissing):
        return [], False
    if not lookup.split:
        return members, False
    candidates = {member.id for member in lookup.representatives}
    keep = {member.id for member in lookup.senators} | (candidates & chosen)
    return [target for target in members if target.id in keep], not candidates & chosen


def plan(campaign: Campaign, zip_code: str, letters: list[Letter], call_outcomes: dict[str, str]) -> Plan:
    """The plan for a supporter who did `letters` in this visit and reported `call_outcomes` on the call pages."""
    templates = letter_templates(campaign)
    scripts = call_scripts(campaign)
    chosen = {letter.target_id for letter in letters} | set(call_outcomes)
    members, must_pick = _legislators(campaign, zip_code, chosen)
    everyone = members + campaign_targets(campaign)

    def writable(target: Target) -> bool:
        return any(template.fits(target) and template.channels_for(target) for template in templates)

    def callable_(target: Target) -> bool:
        return CALL in target.channels and any(script.fits(target) for script in scripts)

    result = Plan(
        letter_targets=[target for target in everyone if writable(target)],
        call_targets=[target for target in everyone if callable_(target)],
        written={letter.target_id for letter in letters if letter.channel != CALL and letter.status != FAILED},
        called={target_id for target_id, outcome in call_outcomes.items() if outcome in CALLS_DONE}
        | {letter.target_id for letter in letters if letter.channel == CALL},
    )
    slug = campaign.slug
    if campaign.congress and (not zip_code or must_pick or not members):
        text = (
            gettext("Pick your representative (your ZIP code spans more than one district)")
            if must_pick
            else gettext("Find your two senators and your representative by ZIP code")
        )
        url = url_for("campaigns.campaign", slug=slug, zip=zip_code or None, _anchor="congress")
        result.steps.append(Step("find", text, url))
    unwritten = [target for target in result.letter_targets if target.id not in result.written]
    to_members = [target for target in unwritten if target.is_legislator]
    if to_members:
        text = (
            gettext("Write to %(name)s", name=to_members[0].display_name)
            if len(to_members) == 1
            else gettext("Write one letter to your members of Congress")
        )
        url = url_for("letters.write", slug=slug, zip=zip_code, target=[t.id for t in to_members])
        result.steps.append(Step("write", text, url, tuple(to_members)))
    for target in unwritten:
        if not target.is_legislator:
            url = url_for("letters.write", slug=slug, target=target.id)
            result.steps.append(Step("write", gettext("Write to %(name)s", name=target.name), url, (target,)))
    uncalled = [target for target in result.call_targets if target.id not in result.called]
    if uncalled:
        text = (
            gettext("Call %(name)s", name=uncalled[0].name)
            if len(uncalled) == 1
            else gettext("Make %(count)s calls, one office after another", count=len(uncalled))
        )
        url = url_for("letters.call", slug=slug, zip=zip_code or None, target=[t.id for t in uncalled])
        result.steps.append(Step("call", text, url, tuple(uncalled)))
    return result


def for_visit(campaign: Campaign, visit: Visit, zip_code: str = "") -> Plan:
    """The plan from what this visit did: the letters of its submissions (erased or unknown ones left out), its call
    outcomes, and the ZIP code it knows (else `zip_code`, e.g. the one looked up on the campaign page)."""
    letters = []
    for submission_id in visit.submission_ids(campaign.slug):
        submission = reporting.find_submission(submission_id)
        if submission is not None:
            letters.extend(submission.letters)
    zip_code = visit.details.get("zip") or visit.calls(campaign.slug).get("zip") or zip_code
    return plan(campaign, zip_code, letters, visit.call_outcomes(campaign.slug))
