"""What organizers see of Communicating with Congress: whether this site delivers through it, and which offices
refused a campaign's letters and why (the reasons are CWC's and ours, never a supporter's details)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import case, func, select

from webapp.cwc import service
from webapp.extensions import db
from webapp.models import CWC, FAILED, LEGISLATOR_KINDS, SENT, Letter, LetterTally, Target

MAX_OFFICES = 50


@dataclass(frozen=True)
class Setup:
    enabled: bool
    agent: str | None


@dataclass(frozen=True)
class Refusals:
    """One office's refused letters in a campaign: how many, and the latest reason."""

    target_id: str
    name: str
    office: str | None
    refused: int
    delivered: int
    last_reason: str
    last_at: dt.datetime | None


@dataclass(frozen=True)
class MemberCounts:
    """One member of Congress in a campaign: letters delivered into their office through CWC, apart from hand-offs."""

    target_id: str
    name: str
    delivered: int  # accepted by CWC: `sent`
    refused: int  # failed at CWC (refused, or given up on)
    handed_off: int  # contact form, print: shown to supporters
    confirmed: int  # hand-offs supporters said they finished (and calls they made)


def members(campaign_id: int, limit: int = 200) -> list[MemberCounts]:
    """Per member of Congress, from the counters (never by counting letters): delivered vs handed off."""
    through_cwc = LetterTally.channel == CWC
    rows = db.session.execute(
        select(
            LetterTally.target_id,
            func.sum(case((through_cwc, LetterTally.sent), else_=0)),
            func.sum(case((through_cwc, LetterTally.failed), else_=0)),
            func.sum(case((through_cwc, 0), else_=LetterTally.handed_off)),
            func.sum(LetterTally.confirmed),
        )
        .join(Target, Target.id == LetterTally.target_id)
        .where(LetterTally.campaign_id == campaign_id, Target.kind.in_(LEGISLATOR_KINDS))
        .group_by(LetterTally.target_id)
    ).all()
    ordered = sorted(rows, key=lambda row: (-(int(row[1] or 0) + int(row[3] or 0)), row[0]))[:limit]
    targets = {t.id: t for t in db.session.scalars(select(Target).where(Target.id.in_([row[0] for row in ordered])))}
    return [
        MemberCounts(
            target_id=target_id,
            name=targets[target_id].display_name if target_id in targets else target_id,
            delivered=int(delivered or 0),
            refused=int(refused or 0),
            handed_off=int(handed or 0),
            confirmed=int(confirmed or 0),
        )
        for target_id, delivered, refused, handed, confirmed in ordered
    ]


def setup(config: dict[str, Any] | None = None) -> Setup:
    config = config if config is not None else current_app.config
    enabled = service.enabled(config)
    return Setup(
        enabled=enabled,
        agent=config.get("CWC_DELIVERY_AGENT") if enabled else None,
    )


def refusals(campaign_id: int) -> list[Refusals]:
    """Offices with letters CWC refused for this campaign, most refused first (at most MAX_OFFICES)."""
    counted = db.session.execute(
        select(
            Letter.target_id,
            func.count().filter(Letter.status == FAILED),
            func.count().filter(Letter.status == SENT),
            func.max(Letter.finished_at).filter(Letter.status == FAILED),
        )
        .where(Letter.campaign_id == campaign_id, Letter.channel == CWC, Letter.status.in_((FAILED, SENT)))
        .group_by(Letter.target_id)
    ).all()
    refused = sorted((row for row in counted if row[1]), key=lambda row: (-row[1], row[0]))[:MAX_OFFICES]
    if not refused:
        return []
    targets = {t.id: t for t in db.session.scalars(select(Target).where(Target.id.in_([row[0] for row in refused])))}
    found = []
    for target_id, failed, sent, last_at in refused:
        reason = db.session.scalar(
            select(Letter.error)
            .where(
                Letter.campaign_id == campaign_id,
                Letter.target_id == target_id,
                Letter.channel == CWC,
                Letter.status == FAILED,
            )
            .order_by(Letter.finished_at.desc())
            .limit(1)
        )
        target = targets.get(target_id)
        found.append(
            Refusals(
                target_id=target_id,
                name=target.display_name if target else target_id,
                office=service.office_code(target) if target else None,
                refused=failed,
                delivered=sent,
                last_reason=reason or "",
                last_at=last_at,
            )
        )
    return found
