"""Who may run a campaign, and who may write to a target: the one rule that the workspace's pages and the organizer
API ask before they open a campaign (`campaign_refusal`), and that the workspace form, the organizer API, the CSV
import (its preview and its apply) and `flask campaigns load/import` all call before they add, link, change or drop
a target.

A target's record says where letters go, and targets are shared: the launch campaign and a volunteer's side
campaign may both write to `ohchr`. So changing a target changes every campaign that writes to it, and the rule
is about all of them, not only the campaign the change comes through:

- anyone who writes must run the campaign the write comes through (an admin runs every campaign);
- members of Congress come only from the Congress data (`flask congress load`), never from a campaign path;
- a target that already exists may be changed, or brought into another campaign, only by someone who runs
  every campaign that writes to it: an admin, the operator at the terminal, or an organizer of all of them.
  Bringing it in counts too, since it would make the target shared and lock its own organizers out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import LEGISLATOR_KINDS, Campaign, CampaignTarget, Target
from webapp.organizers import accounts
from webapp.organizers.models import Organizer

# add: a new target for the campaign; link: an existing target joins it; update: its fields change;
# unlink: the campaign stops writing to it (the target itself is untouched).
Action = Literal["add", "link", "update", "unlink"]


@dataclass(frozen=True)
class Operator:
    """Whoever runs `flask …` on the server: trusted like an admin (they hold the database anyway)."""

    email: str = "the operator"


OPERATOR = Operator()
Actor = Organizer | Operator


class TargetWriteRefused(Exception):
    """A write the rule refuses, with the sentence to show next to the target's id or CSV row."""

    def __init__(self, target_id: str, message: str):
        super().__init__(message)
        self.target_id, self.message = target_id, message


def campaigns_writing_to(target_id: str) -> list[Campaign]:
    """Every campaign that writes to this target, whoever runs it."""
    return list(
        db.session.scalars(
            select(Campaign)
            .join(CampaignTarget, CampaignTarget.campaign_id == Campaign.id)
            .where(CampaignTarget.target_id == target_id)
            .order_by(Campaign.id)
        )
    )


def _runs(actor: Actor, campaign: Campaign) -> bool:
    return isinstance(actor, Operator) or accounts.can_manage(actor, campaign)


def campaign_refusal(actor: Actor, campaign: Campaign | None) -> Literal[403, 404] | None:
    """Whether `actor` may open this campaign (found by its address; None when there is none) to change anything in
    it: None when they run it; 404 when there is none, or it is someone else's draft (its address is not yet public,
    so it looks like no campaign at all); 403 for a published campaign they don't run. Every page of the workspace
    and every endpoint of the organizer API asks this before it reads an id from the request."""
    if campaign is not None and _runs(actor, campaign):
        return None
    return 404 if campaign is None or not campaign.published else 403


def refusal(
    actor: Actor, campaign: Campaign, target_id: str, action: Action, *, target: Target | None = None, kind: str = ""
) -> str | None:
    """Why `actor` may not make this write through `campaign`, in a sentence; None when they may.

    `target` is the existing record (looked up when not given); `kind` is the kind a new target would have.
    """
    if not _runs(actor, campaign):
        return f"You don't run the campaign “{campaign.title}”, so you can't change who it writes to."
    if action == "unlink":
        return None
    if target is None:
        target = db.session.get(Target, target_id)
    if action == "add":
        if target is not None:
            return f"The id {target_id} is already used by another target ({target.name}); pick another."
        if kind in LEGISLATOR_KINDS:
            return "Members of Congress come from the Congress data: turn on “write to members of Congress” instead."
        return None
    if target is None:
        return f"There is no target {target_id}."
    if target.is_legislator:
        return f"{target_id} is a member of Congress; they come from the Congress data, not from a campaign."
    if isinstance(actor, Operator) or actor.is_admin:
        return None
    others = [c for c in campaigns_writing_to(target_id) if not accounts.can_manage(actor, c)]
    if not others:
        return None
    if action == "link":
        return f"{target_id} belongs to a campaign you don't run; use another id."
    return f"{target.name} ({target_id}) is shared with a campaign you don't run, so only an admin can change it."


def check(
    actor: Actor, campaign: Campaign, target_id: str, action: Action, *, target: Target | None = None, kind: str = ""
) -> None:
    """Raise TargetWriteRefused unless the rule allows this write (see `refusal`)."""
    message = refusal(actor, campaign, target_id, action, target=target, kind=kind)
    if message is not None:
        raise TargetWriteRefused(target_id, message)


def may_update(actor: Actor, campaign: Campaign, target: Target) -> bool:
    """Whether the edit form should offer to save this campaign target (the save asks `check` again)."""
    return refusal(actor, campaign, target.id, "update", target=target) is None


def form_link_refusal(actor: Actor, campaign: Campaign, target: Target, *, entered: bool) -> str | None:
    """Why `actor` may not set or remove a member of Congress's contact-form link through `campaign`; None when
    they may. The one exception to "members come only from the Congress data", for that one field.

    Every campaign that writes to Congress shares the member, so the link is held to the member's own website
    (webapp/congress/service.py, `form_link_problem`) and every entry names who made it. An organizer of a
    campaign that writes to Congress may fill in a missing link or change one an organizer entered (`entered`);
    replacing a link that comes from the data takes an admin.
    """
    if not _runs(actor, campaign):
        return f"You don't run the campaign “{campaign.title}”."
    if not campaign.congress:
        return f"“{campaign.title}” doesn't write to members of Congress, so it can't change their contact forms."
    if not target.is_legislator or not target.active:
        return f"{target.name} is not a serving member of Congress."
    if target.contact_form and not entered and not (isinstance(actor, Operator) or actor.is_admin):
        return f"The Congress data gives {target.name}'s contact form; only an admin can replace it."
    return None
