"""Letter totals: counters bumped in the same transaction as a letter's status change, and read without scanning letters."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field

from sqlalchemy import Insert, Table, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from webapp.models import COUNTED, Campaign, Letter, LetterTally, Target, TargetTally, utcnow


def bump(session: Session, letter: Letter, counter: str, when: dt.datetime | None = None) -> None:
    """Add one to `counter` (sent, handed_off, failed, confirmed) for this letter, in both tallies: the
    running total per campaign and target, and the bucket per template, channel and day.

    Each is one INSERT … ON CONFLICT DO UPDATE, so concurrent workers never lose an increment. The
    caller commits them together with the letter's new status.
    """
    if counter not in COUNTED:
        raise ValueError(f"not a counter: {counter}")
    dialect = session.get_bind().dialect.name
    target = {"k_campaign_id": letter.campaign_id, "k_target_id": letter.target_id}
    session.execute(_upsert(dialect, TargetTally.__table__, counter), target)
    bucket = {
        **target,
        "k_template_id": letter.template_id,
        "k_channel": letter.channel,
        "k_day": (when or utcnow()).date(),
    }
    session.execute(_upsert(dialect, LetterTally.__table__, counter), bucket)


def take_back(session: Session, letter: Letter, counter: str, when: dt.datetime) -> None:
    """Subtract the one `counter` this letter added on `when`'s day (a failed letter sent again: its failure
    no longer counts). The caller commits it with the letter's new status, as bump's."""
    if counter not in COUNTED:
        raise ValueError(f"not a counter: {counter}")
    target = TargetTally.__table__
    session.execute(
        target.update()
        .where(
            target.c.campaign_id == letter.campaign_id, target.c.target_id == letter.target_id, target.c[counter] > 0
        )
        .values({counter: target.c[counter] - 1})
    )
    bucket = LetterTally.__table__
    session.execute(
        bucket.update()
        .where(
            bucket.c.campaign_id == letter.campaign_id,
            bucket.c.target_id == letter.target_id,
            bucket.c.template_id == letter.template_id,
            bucket.c.channel == letter.channel,
            bucket.c.day == when.date(),
            bucket.c[counter] > 0,
        )
        .values({counter: bucket.c[counter] - 1})
    )


@functools.cache
def _upsert(dialect: str, table: Table, counter: str) -> Insert:
    """INSERT a row counting one `counter` for the key, or add one to the row already there; built once per
    dialect, table and counter (building costs several times what running it does), keys as parameters."""
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect]
    keys = [column.name for column in table.primary_key]
    values = {name: bindparam(f"k_{name}") for name in keys} | {name: int(name == counter) for name in COUNTED}
    return insert(table).values(values).on_conflict_do_update(index_elements=keys, set_={counter: table.c[counter] + 1})


@dataclass
class Counts:
    sent: int = 0
    handed_off: int = 0
    failed: int = 0
    confirmed: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            **{name: getattr(self, name) for name in COUNTED},
            "went_out": self.went_out,
            "shown_only": self.shown_only,
        }

    @property
    def went_out(self) -> int:
        """The count that can be quoted: letters the supporter's own mail server accepted (`sent`) and hand-offs
        the supporter said they finished (`confirmed`). A hand-off page that was only shown is not in it."""
        return self.sent + self.confirmed

    @property
    def shown_only(self) -> int:
        """Hand-offs given to supporters (mail app, form, call, print) that nobody confirmed finishing."""
        return max(self.handed_off - self.confirmed, 0)


@dataclass
class TargetCounts(Counts):
    target_id: str = ""
    name: str = ""


@dataclass
class CampaignTotals:
    campaign: str
    totals: Counts
    targets: list[TargetCounts] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "campaign": self.campaign,
            "totals": self.totals.as_dict(),
            "targets": [{"id": t.target_id, "name": t.name, **t.as_dict()} for t in self.targets],
        }


def _sums():
    return [func.coalesce(func.sum(getattr(LetterTally, name)), 0) for name in COUNTED]


def campaign_totals(session: Session, campaign: Campaign) -> CampaignTotals:
    """Totals for the campaign and per target: the campaign's own targets first, then any other written to.

    Reads one running-total row per target, so a million letters cost what a thousand do.
    """
    rows = session.execute(
        select(TargetTally.target_id, *(getattr(TargetTally, name) for name in COUNTED)).where(
            TargetTally.campaign_id == campaign.id
        )
    ).all()
    by_target = {row[0]: row[1:] for row in rows}
    targets: list[TargetCounts] = []
    listed = set()
    for target in campaign.targets:
        targets.append(
            TargetCounts(*by_target.get(target.id, (0,) * len(COUNTED)), target_id=target.id, name=target.name)
        )
        listed.add(target.id)
    others = [target_id for target_id in by_target if target_id not in listed]
    if others:
        names = dict(session.execute(select(Target.id, Target.name).where(Target.id.in_(others))).all())
        extra = [TargetCounts(*by_target[t], target_id=t, name=names.get(t, t)) for t in others]
        extra.sort(key=lambda t: (-(t.sent + t.handed_off + t.confirmed), t.name))
        targets.extend(extra)
    overall = Counts(*(sum(t[i] for t in by_target.values()) for i in range(len(COUNTED))))
    return CampaignTotals(campaign.slug, overall, targets)


def breakdown(session: Session, campaign: Campaign, by: str) -> list[tuple]:
    """Totals grouped by `channel`, `template_id` or `day`, for `flask totals` and dashboards."""
    column = {"channel": LetterTally.channel, "template_id": LetterTally.template_id, "day": LetterTally.day}[by]
    return session.execute(
        select(column, *_sums()).where(LetterTally.campaign_id == campaign.id).group_by(column).order_by(column)
    ).all()
