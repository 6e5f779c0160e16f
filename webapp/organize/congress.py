"""The workspace's "Members of Congress" page: which members have no contact-form link in the data, and the links
organizers fill in for them (kept by `flask congress load`; see webapp/congress/service.py)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import select

from webapp.congress import links as congress_links
from webapp.congress import service as congress
from webapp.congress.models import FormLink
from webapp.extensions import db
from webapp.models import LEGISLATOR_KINDS, Campaign, Target
from webapp.organize.invalid import Invalid
from webapp.organizers import permissions
from webapp.organizers.permissions import Actor

ROWS_MAX = 120  # a page lists at most this many members; narrow it by state or name


@dataclass
class MemberRow:
    target: Target
    link: FormLink | None

    @property
    def source(self) -> str | None:
        """Where the member's contact form comes from: "organizer", "data", or None (supporters get their website)."""
        if self.link is not None:
            return "organizer"
        return "data" if self.target.contact_form else None


@dataclass
class StateCount:
    state: str
    name: str
    missing: int
    members: int


def _where():
    return Target.kind.in_(LEGISLATOR_KINDS) & Target.active.is_(True)


def _seat(target: Target) -> tuple:
    return (target.state or "", target.kind != "senator", target.district or 0, target.last_name, target.name)


def states() -> list[StateCount]:
    """Per state and territory: how many serving members, and how many of them have no contact form."""
    members, missing = Counter(), Counter()
    for state, contact_form in db.session.execute(select(Target.state, Target.contact_form).where(_where())):
        members[state] += 1
        missing[state] += not contact_form
    return [
        StateCount(state, _state_name(state), missing[state], members[state])
        for state in sorted(members, key=_state_name)
    ]


def _state_name(state: str) -> str:
    return congress.STATE_NAMES.get(state, state).removeprefix("the ")


def member_rows(*, state: str = "", query: str = "", missing_only: bool = True) -> tuple[list[MemberRow], int]:
    """Serving members in a state or matching a name, the ones without a contact form first asked for; returns
    at most ROWS_MAX rows and how many matched."""
    statement = select(Target).where(_where())
    if state:
        statement = statement.where(Target.state == state.upper()[:2])
    words = query.strip().lower()
    found = [t for t in db.session.scalars(statement) if not words or words in t.name.lower()]
    links = congress_links.form_links()
    if missing_only:
        found = [t for t in found if not t.contact_form or t.id in links]
    found.sort(key=_seat)
    return [MemberRow(target, links.get(target.id)) for target in found[:ROWS_MAX]], len(found)


def _member(target_id: str) -> Target:
    target = db.session.get(Target, target_id)
    if target is None or not target.is_legislator:
        raise Invalid({"url": [f"There is no member of Congress {target_id}."]})
    return target


def save_form_link(actor: Actor, campaign: Campaign, target_id: str, url: str) -> FormLink:
    """Fill in (or correct) a member's contact-form link through `campaign` (committed); raises Invalid."""
    target = _member(target_id)
    entered = db.session.get(FormLink, target.id) is not None
    refusal = permissions.form_link_refusal(actor, campaign, target, entered=entered)
    if refusal is not None:
        raise Invalid({"url": [refusal]})
    problem = congress_links.form_link_problem(target, url or "")
    if problem is not None:
        raise Invalid({"url": [problem]})
    return congress_links.set_form_link(target, url, actor.email)


def remove_form_link(actor: Actor, campaign: Campaign, target_id: str) -> bool:
    """Drop an organizer's link; the member gets the data's link back, if any (committed)."""
    target = _member(target_id)
    refusal = permissions.form_link_refusal(actor, campaign, target, entered=True)
    if refusal is not None:
        raise Invalid({"url": [refusal]})
    return congress_links.remove_form_link(target)
