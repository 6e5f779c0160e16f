"""Each campaign target's health: its totals, the failures that may point at it, and the last such reason."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import FAILED, NOT_THE_TARGETS, Campaign, Letter, Target
from webapp.totals.service import campaign_totals


@dataclass
class TargetHealth:
    target: Target
    sent: int = 0
    handed_off: int = 0
    confirmed: int = 0
    failed: int = 0  # every failed letter, as the totals count them
    failed_at_target: int = 0  # those whose reason may lie with the target (not a supporter's wrong password…)
    last_failure: str | None = None  # the last of those
    last_failure_at: dt.datetime | None = None

    @property
    def channels(self) -> list[str]:
        return self.target.channels

    @property
    def failed_elsewhere(self) -> int:
        """Failures on the supporter's side (a wrong password, a full quota, a refused sender address …)."""
        return max(0, self.failed - self.failed_at_target)

    @property
    def failure_share(self) -> float:
        """The share of the letters that reached a point where the target mattered and failed there."""
        tried = self.sent + self.failed_at_target
        return self.failed_at_target / tried if tried else 0.0


def _at_target():
    """A failed letter whose reason may lie with the target: every kind but the supporter's (or this site's)
    own, and rows older than the kinds."""
    return (Letter.status == FAILED) & (Letter.failure_kind.is_(None) | Letter.failure_kind.not_in(NOT_THE_TARGETS))


def target_health(campaign: Campaign) -> list[TargetHealth]:
    """Each campaign target's totals, how many of its failures may point at the target (a refused recipient,
    a refused letter), and the last such reason. A supporter's own trouble (a wrong password, a sign-in that
    ran out, a full quota, a refused sender address, their server unreachable) never counts against it."""
    totals = {row.target_id: row for row in campaign_totals(db.session, campaign).targets}
    at_target = dict(
        db.session.execute(
            select(Letter.target_id, func.count())
            .where(Letter.campaign_id == campaign.id, _at_target())
            .group_by(Letter.target_id)
        ).all()
    )
    rows = []
    for target in campaign.targets:
        counts = totals.get(target.id)
        health = TargetHealth(target, failed_at_target=at_target.get(target.id, 0))
        if counts is not None:
            health.sent, health.handed_off, health.confirmed, health.failed = (
                counts.sent,
                counts.handed_off,
                counts.confirmed,
                counts.failed,
            )
        if health.failed_at_target:
            last = db.session.execute(
                select(Letter.error, Letter.finished_at)
                .where(Letter.campaign_id == campaign.id, Letter.target_id == target.id, _at_target())
                .order_by(Letter.finished_at.desc().nulls_last(), Letter.created_at.desc())
                .limit(1)
            ).first()
            if last is not None:
                health.last_failure, health.last_failure_at = last.error or "failed (no reason kept)", last.finished_at
        rows.append(health)
    return rows
