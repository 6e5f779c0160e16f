"""Targets imported from a CSV file: a preview of every change, row by row, then applying exactly that."""

from __future__ import annotations

import codecs
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


# What spreadsheets save a CSV as: UTF-8, with or without its byte-order mark (Excel's "CSV UTF-8"), UTF-16 with its
# mark (Excel's "Unicode Text", tab-separated), and Excel's plain "CSV", in the Windows code page: Windows-1252 for
# English, Spanish and the other Western languages. A workbook (.xlsx, .xls, .ods) is no CSV at all.
BYTE_ORDER_MARKS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
WORKBOOK_STARTS = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0")  # a zip (.xlsx, .ods) or an OLE file (.xls)
SAVE_AS_CSV = "In your spreadsheet, choose File › Save As (or Download) › “CSV UTF-8”, then choose that file."
NOT_TEXT = "This file is not a CSV (it isn't text). " + SAVE_AS_CSV
DELIMITERS = (",", ";", "\t")  # commas; semicolons where the comma is the decimal mark; tabs when cells are pasted


def read_file(data: bytes) -> tuple[str, str | None]:
    """An uploaded file's text, and a sentence for the preview when it was read as anything but UTF-8.

    Raises Invalid (on `csv_file`) for a workbook or a file that is not text: the preview never shows mojibake.
    """
    if data.startswith(WORKBOOK_STARTS):
        raise Invalid({"csv_file": ["This is an Excel workbook (or another spreadsheet's), not a CSV. " + SAVE_AS_CSV]})
    encoding = next((name for mark, name in BYTE_ORDER_MARKS if data.startswith(mark)), None)
    note = None
    try:
        text = data.decode(encoding or "utf-8")
    except UnicodeDecodeError:
        if encoding is not None:
            raise Invalid({"csv_file": [NOT_TEXT]}) from None
        note = (
            "This file is not UTF-8, so it was read as Windows-1252, as Excel saves a plain CSV on Windows. Check the "
            "accented letters below; if they are wrong, save the file as “CSV UTF-8” and choose it again."
        )
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:  # one of the five bytes Windows-1252 leaves out: they are Latin-1's controls
            text = data.decode("latin-1")
    controls = sum(1 for c in text if not c.isprintable() and c not in "\r\n\t\ufeff")
    if not text.strip() or "\x00" in text or controls * 100 > len(text):
        raise Invalid({"csv_file": [NOT_TEXT]})
    return text.lstrip("\ufeff"), note


def _delimiter(text: str) -> str:
    """The header row's separator: whichever of comma, semicolon or tab it has most of (a comma when none)."""
    header = text.split("\n", 1)[0]
    best = max(DELIMITERS, key=header.count)
    return best if header.count(best) else ","


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
    def skipped(self) -> str:
        """The rows with mistakes, which applying leaves out, in a sentence for after the import; "" when none."""
        lines = [row.line for row in self.rows if row.action == "error"]
        if not lines:
            return ""
        shown = ", ".join(str(line) for line in lines[:10]) + (", …" if len(lines) > 10 else "")
        rows = "1 row with a mistake (line" if len(lines) == 1 else f"{len(lines)} rows with mistakes (lines"
        return f"Not imported: {rows} {shown}); fix them and import those rows again."

    @property
    def applicable(self) -> list[ImportRow]:
        return [row for row in self.rows if row.action in ("add", "link", "update")]

    @property
    def fingerprint(self) -> str:
        """Identifies what applying would do, so the confirmation applies exactly what the preview showed."""
        text = repr([(row.target_id, row.action, row.changes) for row in self.rows])
        return hashlib.sha256(text.encode()).hexdigest()[:24]


def plan_import(campaign: Campaign, organizer: Organizer, text: str, note: str | None = None) -> ImportPlan:
    """What importing this CSV would change, row by row; nothing is written. `note` (how the file was read, from
    `read_file`) comes first among the file's notices."""
    text = text.lstrip("\ufeff")
    reader = csv.DictReader(io.StringIO(text), delimiter=_delimiter(text))
    plan = ImportPlan(rows=[], columns=[], problems=[note] if note else [])
    try:  # the header row is read first, and can be as broken as any other (a cell past csv's size limit)
        plan.columns = columns = [(name or "").strip().lower() for name in (reader.fieldnames or [])]
        raw_rows = list(reader)
    except csv.Error as exc:
        plan.problems.append(f"The file is not valid CSV: {exc}.")
        return plan
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
