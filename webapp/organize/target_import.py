"""Targets imported from a CSV file: a preview of every change, row by row, then applying exactly that."""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from typing import Any

from webapp.campaigns import content
from webapp.campaigns.content import TARGET_FIELDS
from webapp.extensions import db
from webapp.models import Campaign, Target
from webapp.organize import dashboard
from webapp.organize.invalid import Invalid
from webapp.organize.names import slugify
from webapp.organize.targets import campaign_target_ids, link_target
from webapp.organizers import permissions
from webapp.organizers.models import Organizer

IMPORT_ROWS_MAX = 2000
IMPORT_COLUMNS = ("id", *TARGET_FIELDS)


@dataclass
class ImportRow:
    line: int
    target_id: str
    name: str
    action: str  # add, link (an existing target joins the campaign), update, unchanged, error
    changes: list[tuple[str, Any, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class ImportPlan:
    rows: list[ImportRow]
    columns: list[str]
    problems: list[str] = field(default_factory=list)  # about the file as a whole

    def count(self, action: str) -> int:
        return sum(1 for row in self.rows if row.action == action)

    @property
    def applicable(self) -> list[ImportRow]:
        return [row for row in self.rows if row.action in ("add", "link", "update")]

    @property
    def fingerprint(self) -> str:
        """Identifies what applying would do, so the confirmation applies exactly what the preview showed."""
        text = repr([(row.target_id, row.action, row.changes) for row in self.rows])
        return hashlib.sha256(text.encode()).hexdigest()[:24]


def plan_import(campaign: Campaign, organizer: Organizer, text: str) -> ImportPlan:
    """What importing this CSV would change, row by row; nothing is written."""
    text = text.lstrip("\ufeff")
    reader = csv.DictReader(io.StringIO(text))
    columns = [(name or "").strip().lower() for name in (reader.fieldnames or [])]
    plan = ImportPlan(rows=[], columns=columns)
    if "name" not in columns and "id" not in columns:
        plan.problems.append(
            "The first row must name the columns, with at least “name” (see the list of columns below)."
        )
        return plan
    unknown = [c for c in columns if c and c not in IMPORT_COLUMNS]
    if unknown:
        plan.problems.append(f"These columns are not target fields and are ignored: {', '.join(unknown)}.")
    fields = tuple(f for f in TARGET_FIELDS if f in columns or f == "kind")
    in_campaign = set(campaign_target_ids(campaign))
    seen: set[str] = set()
    try:
        raw_rows = list(reader)
    except csv.Error as exc:
        plan.problems.append(f"The file is not valid CSV: {exc}.")
        return plan
    if len(raw_rows) > IMPORT_ROWS_MAX:
        plan.problems.append(f"Import at most {IMPORT_ROWS_MAX:,} targets at a time.")
        return plan
    for index, raw in enumerate(raw_rows):
        row_values = {
            (key or "").strip().lower(): dashboard.read_cell(value or "")
            for key, value in raw.items()
            if isinstance(value, str)
        }
        line = index + 1  # the row's number among the data rows, as a spreadsheet shows it below the header
        name = row_values.get("name", "").strip()
        target_id = row_values.get("id", "").strip().lower() or slugify(name, 64)
        row = ImportRow(line=line, target_id=target_id, name=name, action="add")
        plan.rows.append(row)
        if not any(value.strip() for value in row_values.values()):
            row.action = "unchanged"
            row.errors.append("empty row, skipped")
            continue
        existing = db.session.get(Target, target_id) if target_id else None
        if existing is not None and "kind" not in columns:
            row_values["kind"] = existing.kind
        try:
            values = content.clean_target(row_values, fields)
        except Invalid as exc:
            row.action = "error"
            row.errors += [message for messages in exc.errors.values() for message in messages]
            continue
        if not content.TARGET_ID.match(target_id):
            row.action, row.errors = "error", ["the id must be lower-case letters, digits and hyphens"]
            continue
        if target_id in seen:
            row.action, row.errors = "error", [f"{target_id} appears twice in the file"]
            continue
        seen.add(target_id)
        row.values = values
        if existing is None:
            row.changes = [(key, None, value) for key, value in values.items() if value]
            problem = permissions.refusal(organizer, campaign, target_id, "add", kind=values.get("kind", ""))
            if problem is not None:
                row.action, row.errors, row.changes = "error", [problem], []
            continue
        row.changes = [
            (key, getattr(existing, key), value) for key, value in values.items() if getattr(existing, key) != value
        ]
        if target_id not in in_campaign:
            row.action = "link"
        else:
            row.action = "update" if row.changes else "unchanged"
        row.name = name or existing.name
        if row.action in ("link", "update"):
            problem = permissions.refusal(organizer, campaign, target_id, row.action, target=existing)
            if problem is not None:
                row.action, row.errors, row.changes = "error", [problem], []
    return plan


def apply_import(campaign: Campaign, organizer: Organizer, plan: ImportPlan) -> dict[str, int]:
    """Apply a plan from `plan_import` (rows with errors are skipped) in one transaction.

    Every row is asked again, of the targets as they are now: a target may have become shared since the preview.
    Raises Invalid (and writes nothing) if any row is refused.
    """
    counts = {"add": 0, "link": 0, "update": 0}
    refused = []
    for row in plan.applicable:
        problem = permissions.refusal(organizer, campaign, row.target_id, row.action, kind=row.values.get("kind", ""))
        if problem is not None:
            refused.append(f"Line {row.line}: {problem}")
    if refused:
        raise Invalid({"csv_text": refused})
    with db.session.no_autoflush:  # one flush at the end: flushing before each row's look-up took seconds per 1,000
        for row in plan.applicable:
            target = db.session.get(Target, row.target_id)
            if target is None:
                target = Target(id=row.target_id, active=True, extra={}, **{"kind": "person", "name": row.name})
                db.session.add(target)
            for key, value in row.values.items():
                setattr(target, key, value)
            if row.action in ("add", "link"):
                link_target(campaign, target)
            counts[row.action] += 1
    db.session.flush()
    return counts
