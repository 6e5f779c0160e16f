"""Bulk, realistic letters for the totals benchmark: submissions, letters and the tally rows that agree with them.

The spread follows the launch campaign: most supporters write to their two senators and representative
(hand-offs: contact form, call, print), others email the UN office from their own account or by mailto,
or call the US Mission; 90 days with a launch spike and a second news spike; bodies and personal fields
purged after 30 days as the retention rule says. Rows go in with executemany (SQLite) or COPY (PostgreSQL),
and tallies with one upsert per bucket, so counts stay consistent when a second batch is added.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import math
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import MetaData, Table, select

# How supporters of the launch campaign act (shares of submissions), and which channel they pick.
CONGRESS_SHARE = 0.62
CHANNEL_WEIGHTS = {"smtp": 5, "mailto": 3, "contact_form": 6, "call": 3, "print": 1}
SMTP_OUTCOMES = (("sent", 0.94), ("failed", 0.05), ("queued", 0.01))
CONFIRM_SHARE = 0.35
OUTCOME_FOR = {"call": "called", "contact_form": "sent", "print": "sent", "mailto": "sent"}
DAYS = 90
RETENTION_DAYS = 30
CHUNK = 50_000


@dataclass
class Batch:
    """What one call added."""

    letters: int = 0
    submissions: int = 0
    tally_buckets: int = 0
    by_status: Counter = field(default_factory=Counter)
    targets: set = field(default_factory=set)


def _day_weights(days: int) -> list[float]:
    """A launch spike decaying over a week or two, a news spike mid-way, a weekly rhythm, a long tail."""
    weights = []
    for day in range(days):
        launch = 30 * math.exp(-day / 6)
        news = 14 * math.exp(-(((day - 47) / 3) ** 2))
        weekly = 0.8 if day % 7 in (5, 6) else 1.0
        weights.append((1.5 + launch + news) * weekly)
    return weights


def _defaults(table: Table) -> dict:
    """A value for every column the generator does not set: the model default, else empty, else NULL."""
    out = {}
    for column in table.columns:
        default = None
        if not column.nullable:
            python_type = None
            with contextlib.suppress(NotImplementedError):
                python_type = column.type.python_type
            default = {int: 0, float: 0.0, str: "", bool: False}.get(python_type)
        out[column.name] = default
    return out


class _Writer:
    """executemany on SQLite, COPY on PostgreSQL; one transaction per chunk."""

    def __init__(self, engine, tables: dict[str, Table]):
        self.engine = engine
        self.dialect = engine.dialect.name
        self.tables = tables
        self.columns = {name: [c.name for c in table.columns] for name, table in tables.items()}

    def _value(self, value):
        if self.dialect == "sqlite" and isinstance(value, dt.datetime):
            return value.strftime("%Y-%m-%d %H:%M:%S.%f")  # SQLAlchemy's own SQLite format
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value.isoformat()
        return value

    def insert(self, connection, name: str, rows: list[dict]) -> None:
        columns = self.columns[name]
        cursor = connection.cursor()
        if self.dialect == "postgresql":
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            for row in rows:
                writer.writerow(["\\N" if row[c] is None else self._value(row[c]) for c in columns])
            buffer.seek(0)
            cursor.copy_expert(
                f"COPY {name} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv, NULL '\\N')",  # noqa: S608 - our table names
                buffer,
            )
        else:
            marks = ", ".join("?" for _ in columns)
            cursor.executemany(
                f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({marks})",  # noqa: S608 - our table names
                [tuple(self._value(row[c]) for c in columns) for row in rows],
            )
        cursor.close()

    def upsert_tallies(self, connection, counters: dict[tuple, list[int]], counted: tuple[str, ...]) -> None:
        keys = ["campaign_id", "target_id", "template_id", "channel", "day"]
        columns = keys + list(counted)
        updates = ", ".join(f"{c} = letter_tallies.{c} + excluded.{c}" for c in counted)
        # Column names come from the model; values go as parameters.
        sql = (
            f"INSERT INTO letter_tallies ({', '.join(columns)}) VALUES %s "  # noqa: S608
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
        )
        rows = [tuple(self._value(v) for v in key) + tuple(values) for key, values in counters.items()]
        # The running total per campaign and target (migration 0006): what the totals endpoint reads.
        per_target: dict[tuple, list[int]] = {}
        for (campaign_id, target_id, *_rest), values in counters.items():
            summed = per_target.setdefault((campaign_id, target_id), [0] * len(counted))
            for index, value in enumerate(values):
                summed[index] += value
        target_keys = ["campaign_id", "target_id"]
        target_sql = (
            f"INSERT INTO target_tallies ({', '.join(target_keys + list(counted))}) VALUES %s "  # noqa: S608
            f"ON CONFLICT ({', '.join(target_keys)}) DO UPDATE SET "
            + ", ".join(f"{c} = target_tallies.{c} + excluded.{c}" for c in counted)
        )
        target_rows = [key + tuple(values) for key, values in per_target.items()]
        cursor = connection.cursor()
        if self.dialect == "postgresql":
            from psycopg2.extras import execute_values

            execute_values(cursor, sql, rows, page_size=2000)
            execute_values(cursor, target_sql, target_rows, page_size=2000)
        else:
            cursor.executemany(sql.replace("%s", "(" + ", ".join("?" for _ in columns) + ")"), rows)
            marks = "(" + ", ".join("?" for _ in target_keys + list(counted)) + ")"
            cursor.executemany(target_sql.replace("%s", marks), target_rows)
        cursor.close()


def generate(app, count: int, campaign_slug: str, *, seed: int = 2026, now: dt.datetime | None = None) -> Batch:
    """Add `count` letters (and their submissions and tallies) to the campaign, spread over the last 90 days."""
    from webapp.campaigns.service import active_templates, campaign_targets, find_campaign
    from webapp.extensions import db
    from webapp.models import COUNTED, LEGISLATOR_KINDS, Target, utcnow

    rng = random.Random(seed)
    now = now or utcnow()
    start = (now - dt.timedelta(days=DAYS - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    with app.app_context():
        campaign = find_campaign(campaign_slug)
        templates = active_templates(campaign)
        own = [t for t in campaign_targets(campaign) if not t.is_legislator]
        legislators = list(
            db.session.scalars(select(Target).where(Target.kind.in_(LEGISLATOR_KINDS), Target.active.is_(True)))
        )

        def options(target) -> list[tuple]:
            return [(tpl, ch) for tpl in templates if tpl.fits(target) for ch in tpl.channels_for(target)]

        def snapshot(target) -> dict:
            return {
                "id": target.id,
                "email": target.email,
                "options": [(tpl.id, tpl.version, tpl.subject, ch) for tpl, ch in options(target)],
            }

        own_targets = [snapshot(t) for t in own]
        own_targets = [t for t in own_targets if t["options"]]
        house = [snapshot(t) for t in legislators if t.kind != "senator"]
        house = [t for t in house if t["options"]]
        senators: dict[str, list[dict]] = defaultdict(list)
        states = {t.id: t.state for t in legislators}
        for target in legislators:
            if target.kind == "senator":
                snap = snapshot(target)
                if snap["options"]:
                    senators[target.state].append(snap)
        body_text = {tpl.id: tpl.body for tpl in templates}
        campaign_id = campaign.id
        engine = db.engine
        meta = MetaData()
        tables = {name: Table(name, meta, autoload_with=engine) for name in ("submissions", "letters")}
        db.session.remove()

    if not house and not own_targets:
        raise RuntimeError("no target of the campaign can be written to; nothing to generate")
    writer = _Writer(engine, tables)
    submission_defaults = _defaults(tables["submissions"])
    letter_defaults = _defaults(tables["letters"])
    day_weights = _day_weights(DAYS)
    day_choices = rng.choices(range(DAYS), weights=day_weights, k=max(1, count))
    statuses, status_weights = zip(*SMTP_OUTCOMES, strict=True)
    batch = Batch()
    counters: dict[tuple, list[int]] = defaultdict(lambda: [0] * len(COUNTED))
    index_of = {name: i for i, name in enumerate(COUNTED)}
    purge_before = now - dt.timedelta(days=RETENTION_DAYS)

    def pick(opts: list[tuple]) -> tuple:
        return rng.choices(opts, weights=[CHANNEL_WEIGHTS.get(o[3], 1) for o in opts])[0]

    submissions: list[dict] = []
    letters: list[dict] = []
    raw = engine.raw_connection()
    try:
        made = 0
        while made < count:
            created = start + dt.timedelta(days=day_choices[made % len(day_choices)], seconds=rng.uniform(0, 86_400))
            if created > now:
                created = now - dt.timedelta(seconds=rng.uniform(0, 3600))
            if house and (rng.random() < CONGRESS_SHARE or not own_targets):
                member = rng.choice(house)
                template_id, version, subject, channel = pick(member["options"])
                recipients = [
                    s for s in senators.get(states[member["id"]], [])
                    if any(o[0] == template_id and o[3] == channel for o in s["options"])
                ] + [member]  # fmt: skip
            else:
                target = rng.choice(own_targets)
                template_id, version, subject, channel = pick(target["options"])
                recipients = [target]
            recipients = recipients[: count - made]
            purged = created < purge_before
            submission_id = f"{rng.getrandbits(128):032x}"[:24]
            submission = dict(submission_defaults)
            submission.update(
                id=submission_id,
                campaign_id=campaign_id,
                template_id=template_id,
                channel=channel,
                supporter_name="" if purged else f"Supporter {made}",
                supporter_email="" if purged else f"supporter{made}@example.org",
                supporter_zip="" if purged else "94110",
                supporter_address="",
                supporter_note="",
                smtp_host="smtp.example.org" if channel == "smtp" else None,
                smtp_port=587 if channel == "smtp" else None,
                created_at=created,
            )
            if "purged_at" in submission and purged:
                submission["purged_at"] = created + dt.timedelta(days=RETENTION_DAYS)
            submissions.append(submission)
            for position, target in enumerate(recipients):
                if channel == "smtp":
                    status = rng.choices(statuses, weights=status_weights)[0]
                    if status == "queued" and now - created > dt.timedelta(hours=1):
                        status = "sent"  # only the last hour still has letters waiting
                    finished = created + dt.timedelta(seconds=rng.uniform(1, 40)) if status != "queued" else None
                else:
                    status, finished = "handed_off", created
                confirmed_at = outcome = None
                if status == "handed_off" and rng.random() < CONFIRM_SHARE:
                    outcome = OUTCOME_FOR.get(channel, "sent")
                    confirmed_at = min(now, created + dt.timedelta(minutes=rng.uniform(2, 240)))
                letter = dict(letter_defaults)
                letter.update(
                    id=f"{rng.getrandbits(128):032x}",
                    submission_id=submission_id,
                    position=position,
                    campaign_id=campaign_id,
                    target_id=target["id"],
                    template_id=template_id,
                    template_version=version,
                    channel=channel,
                    status=status,
                    recipient=target["email"] if channel in ("smtp", "mailto") else None,
                    subject=subject,
                    body="" if purged else body_text[template_id],
                    personal_share=round(rng.uniform(0, 0.4), 3),
                    attempts=1 if channel == "smtp" else 0,
                    error="The recipient's server refused the letter." if status == "failed" else None,
                    created_at=created,
                    finished_at=finished,
                    lease_until=created + dt.timedelta(minutes=5) if status == "queued" else None,
                    outcome=outcome,
                    confirmed_at=confirmed_at,
                )
                letters.append(letter)
                if status in index_of:
                    counters[(campaign_id, target["id"], template_id, channel, finished.date())][index_of[status]] += 1
                if confirmed_at is not None:
                    counters[(campaign_id, target["id"], template_id, channel, confirmed_at.date())][
                        index_of["confirmed"]
                    ] += 1
                batch.by_status[status] += 1
                batch.targets.add(target["id"])
                made += 1
            if len(letters) >= CHUNK or made >= count:
                writer.insert(raw, "submissions", submissions)
                writer.insert(raw, "letters", letters)
                raw.commit()
                batch.submissions += len(submissions)
                batch.letters += len(letters)
                submissions, letters = [], []
        writer.upsert_tallies(raw, counters, COUNTED)
        raw.commit()
        batch.tally_buckets = len(counters)
    finally:
        raw.close()
    return batch


def consistency(app, campaign_slug: str) -> dict:
    """Counts from the letters against sums from the tallies: they must agree for the totals to be honest."""
    from sqlalchemy import func

    from webapp.campaigns.service import find_campaign
    from webapp.extensions import db
    from webapp.models import COUNTED, Letter, LetterTally

    with app.app_context():
        campaign = find_campaign(campaign_slug)
        from_letters = dict(
            db.session.execute(
                select(Letter.status, func.count()).where(Letter.campaign_id == campaign.id).group_by(Letter.status)
            ).all()
        )
        from_letters["confirmed"] = db.session.scalar(
            select(func.count()).where(Letter.campaign_id == campaign.id, Letter.confirmed_at.is_not(None))
        )
        sums = db.session.execute(
            select(*[func.coalesce(func.sum(getattr(LetterTally, c)), 0) for c in COUNTED]).where(
                LetterTally.campaign_id == campaign.id
            )
        ).one()
        rows = db.session.scalar(
            select(func.count()).select_from(LetterTally).where(LetterTally.campaign_id == campaign.id)
        )
        letters = db.session.scalar(select(func.count()).select_from(Letter).where(Letter.campaign_id == campaign.id))
        db.session.remove()
    from_tallies = dict(zip(COUNTED, sums, strict=True))
    agree = all(from_tallies[c] == from_letters.get(c, 0) for c in COUNTED)
    return {
        "letters": letters,
        "tally_rows": rows,
        "from_letters": from_letters,
        "from_tallies": from_tallies,
        "agree": agree,
    }
