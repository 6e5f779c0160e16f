"""A campaign's dashboard figures and CSV exports, read from the counters (and, for letters, without personal data)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass, field

from flask import Response
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import CALL, HANDED_OFF, SENT, Campaign, Letter, LetterTemplate, Target
from webapp.organize.charts import Bar, Segment, bar_chart, line_chart
from webapp.totals.service import CampaignTotals, Counts, breakdown, campaign_totals

CHART_TARGETS = 20  # bars on the chart; the table and the CSV have every target
DAYS_MAX = 366  # the line chart shows at most the last year
# The bars stack what the table's columns say, in its order: what went out (sent, confirmed), then the hand-offs
# only shown. Failures are in the table and the figures, never in a bar: they reached nobody.
SERIES = (("sent", "sent"), ("confirmed", "confirmed"), ("shown_only", "shown, not confirmed"))


@dataclass
class Dashboard:
    campaign: Campaign
    totals: CampaignTotals
    days: list[tuple[dt.date, Counts]] = field(default_factory=list)
    channels: list[tuple[str, Counts]] = field(default_factory=list)
    templates: list[tuple[str, Counts]] = field(default_factory=list)
    personal_share: float | None = None  # average share of supporters' own words, letters that went out
    personal_letters: int = 0

    def bar_chart(self):
        rows = [t for t in self.totals.targets if t.sent or t.handed_off or t.target_id in self._own][:CHART_TARGETS]
        bars = [
            Bar(
                row.name,
                tuple(Segment(key, getattr(row, key), label, counted=key != "shown_only") for key, label in SERIES),
            )
            for row in rows
        ]
        return bar_chart(bars, title=f"Letters per target, {self.campaign.title}", total_label="went out")

    def line_chart(self):
        if not self.days:
            return None
        return line_chart(
            {
                "went-out": [(day, counts.went_out) for day, counts in self.days],
                "handed-off": [(day, counts.handed_off) for day, counts in self.days],
            },
            title=f"Letters and calls per day, {self.campaign.title}",
            names={"went-out": "went out", "handed-off": "hand-offs shown"},
        )

    @property
    def _own(self) -> set[str]:
        return {target.id for target in self.campaign.targets}


def _counts(row) -> Counts:
    return Counts(*row[1:])


def days_filled(rows: list[tuple]) -> list[tuple[dt.date, Counts]]:
    """Every day from the first letter to the last (at most DAYS_MAX), with zeros where nothing happened."""
    by_day = {_as_date(row[0]): _counts(row) for row in rows}
    if not by_day:
        return []
    last = max(by_day)
    first = max(min(by_day), last - dt.timedelta(days=DAYS_MAX - 1))
    days = []
    day = first
    while day <= last:
        days.append((day, by_day.get(day, Counts())))
        day += dt.timedelta(days=1)
    return days


def _as_date(value) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def dashboard(campaign: Campaign) -> Dashboard:
    session = db.session
    names = dict(
        session.execute(
            select(LetterTemplate.id, LetterTemplate.name).where(LetterTemplate.campaign_id == campaign.id)
        ).all()
    )
    share, written = session.execute(
        select(func.avg(Letter.personal_share), func.count()).where(
            Letter.campaign_id == campaign.id, Letter.channel != CALL, Letter.status.in_((SENT, HANDED_OFF))
        )
    ).one()
    return Dashboard(
        campaign=campaign,
        totals=campaign_totals(session, campaign),
        days=days_filled(breakdown(session, campaign, "day")),
        channels=[(row[0], _counts(row)) for row in breakdown(session, campaign, "channel")],
        templates=[
            (names.get(row[0], f"letter {row[0]}"), _counts(row)) for row in breakdown(session, campaign, "template_id")
        ],
        personal_share=float(share) if share is not None else None,
        personal_letters=int(written or 0),
    )


# ---- CSV ------------------------------------------------------------------------------------------------------

# `went_out` (sent + confirmed) is the number to quote; `shown_only` the hand-offs nobody confirmed finishing.
COUNT_COLUMNS = ("went_out", "sent", "confirmed", "shown_only", "handed_off", "failed")


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _safe(value) -> str | int | float:
    """A cell a spreadsheet won't run as a formula (target names come from people)."""
    if isinstance(value, str) and value[:1] in FORMULA_STARTS:
        return "'" + value
    return "" if value is None else value


def read_cell(value: str) -> str:
    """A cell of a CSV we wrote, read back: one `_safe` guarded loses the guard's quote (`'+1 202…` → `+1 202…`),
    so a downloaded targets.csv imports as it was."""
    if value[:1] == "'" and value[1:2] in FORMULA_STARTS:
        return value[1:]
    return value


def _csv(rows: Iterator[list]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in rows:
        writer.writerow([_safe(cell) for cell in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def _count_cells(counts: Counts) -> list[int]:
    return [getattr(counts, column) for column in COUNT_COLUMNS]


def totals_csv(campaign: Campaign) -> str:
    """Totals per target: the campaign's own targets, then everyone else written to (members of Congress)."""
    kinds = dict(db.session.execute(select(Target.id, Target.kind)).all())

    def rows():
        yield ["target_id", "target_name", "kind", *COUNT_COLUMNS]
        for row in campaign_totals(db.session, campaign).targets:
            yield [row.target_id, row.name, kinds.get(row.target_id, ""), *_count_cells(row)]

    return "".join(_csv(rows()))


def targets_csv(campaign: Campaign, columns: tuple[str, ...]) -> str:
    """The campaign's own targets, one row each with these columns (the import format)."""

    def rows():
        yield list(columns)
        for target in campaign.targets:
            yield [getattr(target, column) for column in columns]

    return "".join(_csv(rows()))


def days_csv(campaign: Campaign) -> str:
    def rows():
        yield ["day", *COUNT_COLUMNS]
        for day, counts in days_filled(breakdown(db.session, campaign, "day")):
            yield [day.isoformat(), *_count_cells(counts)]

    return "".join(_csv(rows()))


LETTER_COLUMNS = (
    "day",
    "target_id",
    "target_name",
    "template",
    "template_version",
    "channel",
    "status",
    "outcome",
    "personal_share",
    "failure_reason",
)


def letters_csv(campaign: Campaign) -> Iterator[str]:
    """One row per letter with nothing personal: no names, emails, addresses, notes, subjects, bodies or
    letter ids (a letter id opens its printable letter). Streamed, for campaigns with many letters."""
    templates = dict(
        db.session.execute(
            select(LetterTemplate.id, LetterTemplate.slug).where(LetterTemplate.campaign_id == campaign.id)
        ).all()
    )
    query = (
        select(
            Letter.created_at,
            Letter.target_id,
            Letter.template_id,
            Letter.template_version,
            Letter.channel,
            Letter.status,
            Letter.outcome,
            Letter.personal_share,
            Letter.error,
            Target.name.label("target_name"),
        )
        .join(Target, Target.id == Letter.target_id, isouter=True)
        .where(Letter.campaign_id == campaign.id)
        .order_by(Letter.created_at, Letter.id)
        .execution_options(yield_per=1000)
    )

    def rows():
        yield list(LETTER_COLUMNS)
        for row in db.session.execute(query):
            yield [
                row.created_at.date().isoformat(),
                row.target_id,
                row.target_name or row.target_id,
                templates.get(row.template_id, ""),
                row.template_version,
                row.channel,
                row.status,
                row.outcome or "",
                f"{row.personal_share or 0:.2f}",
                row.error if row.status == "failed" else "",
            ]

    return _csv(rows())


def csv_download(body, filename: str) -> Response:
    """A CSV as a download (workspace and API alike); the browser must not guess another type."""
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "X-Content-Type-Options": "nosniff"},
    )
