"""Loading the Congress data into the database in one transaction (`flask congress load`): members added,
updated and retired, ZIP districts and district offices replaced, organizers' contact-form links kept."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import has_app_context
from sqlalchemy import delete, insert, select

from webapp.congress.files import BUNDLED, ZipRow, read_legislators, read_offices, read_supplement, read_zips
from webapp.congress.models import CongressDataset, DistrictOffice, FormLink, ZipDistrict
from webapp.congress.service import SOURCE_TAG, district_label, get_cache
from webapp.extensions import db
from webapp.models import LEGISLATOR_KINDS, Target, utcnow


@dataclass
class LoadReport:
    """What one load changed, with names, for the terminal and the tests."""

    added: list[str] = field(default_factory=list)  # member ids that are new or back in office
    removed: list[str] = field(default_factory=list)  # member ids retired (active=False)
    updated: dict[str, list[str]] = field(default_factory=dict)  # member id → changed fields
    zips_added: int = 0
    zips_removed: int = 0
    offices_added: int = 0
    offices_removed: int = 0
    offices_updated: int = 0
    details: list[str] = field(default_factory=list)  # one line per member added, removed or updated
    first_load: bool = False  # no members were loaded before: the details would just list all of Congress
    form_links_kept: int = 0  # contact-form links organizers entered, kept over the data
    form_links_differ: list[str] = field(default_factory=list)  # … where the data now has a different link
    lines: list[str] = field(default_factory=list)  # what the command prints

    @property
    def changed(self) -> bool:
        return bool(
            self.added
            or self.removed
            or self.updated
            or self.zips_added
            or self.zips_removed
            or self.offices_added
            or self.offices_removed
            or self.offices_updated
        )


def _label(target_id: str, values: dict[str, Any]) -> str:
    party = (values.get("party") or "?")[:1]
    seat = district_label(values["state"], values["district"])
    return f"{values['name']} ({values['extra'].get('role', values['kind'])}, {party}-{seat}, {target_id})"


def _keep_form_links(wanted: dict[str, dict[str, Any]], report: LoadReport) -> None:
    """Links organizers entered stay what supporters get; each row learns what the new data says, so that removing
    the link gives that back, and the report names the members whose data now has a link of its own."""
    for link in db.session.scalars(select(FormLink).order_by(FormLink.target_id)):
        values = wanted.get(link.target_id)
        if values is None:
            continue  # no longer in office: the link waits in case they come back
        data_url = values["contact_form"]
        if data_url and data_url != link.url and data_url != link.data_url:
            report.form_links_differ.append(
                f"  kept the contact form {link.entered_by} entered for {values['name']} ({link.target_id}): "
                f"{link.url}; the data now has {data_url}"
            )
        link.data_url = data_url
        values["contact_form"] = link.url
        report.form_links_kept += 1


def _sync_legislators(wanted: dict[str, dict[str, Any]], report: LoadReport) -> dict[str, str]:
    _keep_form_links(wanted, report)
    existing = {
        target.id: target
        for target in db.session.scalars(
            select(Target).where(Target.id.in_(list(wanted)) | Target.kind.in_(LEGISLATOR_KINDS))
        )
    }
    labels: dict[str, str] = {}
    report.first_load = not any((t.extra or {}).get("source") == SOURCE_TAG for t in existing.values())
    for target_id, values in wanted.items():
        target = existing.get(target_id)
        labels[target_id] = _label(target_id, values)
        if target is None:
            db.session.add(Target(id=target_id, **values))
            report.added.append(target_id)
            report.details.append(f"  added: {labels[target_id]}")
            continue
        returning = not target.active
        changed = [key for key, value in values.items() if getattr(target, key) != value]
        for key in changed:
            setattr(target, key, values[key])
        if returning:
            report.added.append(target_id)
            report.details.append(f"  added (back in office): {labels[target_id]}")
        elif changed:
            report.updated[target_id] = changed
            report.details.append(f"  updated: {labels[target_id]}: {', '.join(changed)}")
    for target_id, target in existing.items():
        ours = (target.extra or {}).get("source") == SOURCE_TAG
        if ours and target.active and target_id not in wanted:
            target.active = False  # never deleted: letters and totals keep pointing at it
            report.removed.append(target_id)
            values = {
                "name": target.name,
                "party": target.party,
                "state": target.state or "",
                "district": target.district,
                "kind": target.kind,
                "extra": target.extra or {},
            }
            report.details.append(f"  removed (left office): {_label(target_id, values)}")
    db.session.flush()
    return labels


def _sync_zips(wanted: set[ZipRow], report: LoadReport) -> None:
    current: dict[ZipRow, list[int]] = defaultdict(list)
    columns = (ZipDistrict.zip, ZipDistrict.state, ZipDistrict.district, ZipDistrict.source, ZipDistrict.zip_type)
    for row_id, *key in db.session.execute(select(ZipDistrict.id, *columns)):
        current[tuple(key)].append(row_id)  # type: ignore[index]
    stale = [row_id for key, ids in current.items() for row_id in (ids if key not in wanted else ids[1:])]
    new = wanted - current.keys()
    if stale and len(stale) == sum(len(ids) for ids in current.values()):
        db.session.execute(delete(ZipDistrict))
    else:
        for start in range(0, len(stale), 500):
            db.session.execute(delete(ZipDistrict).where(ZipDistrict.id.in_(stale[start : start + 500])))
    if new:
        keys = ("zip", "state", "district", "source", "zip_type")
        db.session.execute(insert(ZipDistrict), [dict(zip(keys, row, strict=True)) for row in sorted(new, key=str)])
    report.zips_added += len(new)
    report.zips_removed += len(stale)


def _sync_offices(wanted: dict[str, dict[str, Any]], known_targets: set[str], report: LoadReport) -> int:
    skipped = {office_id for office_id, values in wanted.items() if values["target_id"] not in known_targets}
    wanted = {office_id: values for office_id, values in wanted.items() if office_id not in skipped}
    current = {office.id: office for office in db.session.scalars(select(DistrictOffice))}
    stale = [office_id for office_id in current if office_id not in wanted]
    for start in range(0, len(stale), 500):
        db.session.execute(delete(DistrictOffice).where(DistrictOffice.id.in_(stale[start : start + 500])))
    new = [{"id": office_id, **values} for office_id, values in wanted.items() if office_id not in current]
    if new:
        db.session.execute(insert(DistrictOffice), new)
    for office_id, values in wanted.items():
        office = current.get(office_id)
        if office is not None and any(getattr(office, key) != value for key, value in values.items()):
            for key, value in values.items():
                setattr(office, key, value)
            report.offices_updated += 1
    report.offices_added += len(new)
    report.offices_removed += len(stale)
    return len(skipped)


def load_congress(
    legislators: Path | None = None,
    zips: Path | None = None,
    supplement: Path | None = None,
    offices: Path | None = None,
) -> LoadReport:
    """Make the database match the files (bundled ones where none is given), in one transaction.

    Members keep their bioguide ids; those missing from the file become inactive, never deleted.
    All files are read and checked before anything is written.
    """
    members = read_legislators(legislators or BUNDLED["legislators"])
    zip_rows = read_zips(zips or BUNDLED["zips"]) | read_supplement(supplement or BUNDLED["supplement"])
    office_rows = read_offices(offices or BUNDLED["offices"])
    report = LoadReport()
    try:
        _sync_legislators(members, report)
        _sync_zips(zip_rows, report)
        known = set(db.session.scalars(select(Target.id).where(Target.kind.in_(LEGISLATOR_KINDS))))
        skipped = _sync_offices(office_rows, known, report)
        dataset = db.session.scalar(select(CongressDataset).order_by(CongressDataset.id).limit(1))
        zip_count = len({row[0] for row in zip_rows})
        summary = f"{len(members)} members, {zip_count:,} ZIPs, {len(office_rows) - skipped:,} district offices"
        if dataset is None or report.changed:
            if dataset is None:
                dataset = CongressDataset(id=1)
                db.session.add(dataset)
            dataset.version = uuid.uuid4().hex
            dataset.loaded_at = utcnow()
            dataset.summary = summary
        db.session.commit()  # before the cache is cleared below, as in webapp/congress/links.py
    except Exception:
        db.session.rollback()
        raise
    if has_app_context():
        get_cache().invalidate()
    kept = [f"contact forms organizers entered: {report.form_links_kept} kept", *report.form_links_differ]
    if not report.changed:
        report.lines = [f"Congress data: no changes ({summary})."]
        if report.form_links_kept:
            report.lines += kept
        return report
    report.lines = [
        f"Congress data loaded ({summary}).",
        f"legislators: {len(report.added)} added, {len(report.removed)} removed, {len(report.updated)} updated",
        *([] if report.first_load else report.details),
        f"ZIP rows: {report.zips_added:,} added, {report.zips_removed:,} removed",
        f"district offices: {report.offices_added:,} added, {report.offices_removed:,} removed, "
        f"{report.offices_updated:,} updated",
    ]
    if skipped:
        report.lines.append(f"  skipped {skipped} office(s) of members not in the legislators file")
    if report.form_links_kept:
        report.lines += kept
    return report


def ensure_loaded() -> bool:
    """Load the bundled data when this database has none yet (first run). True if it loaded."""
    has_dataset = db.session.scalar(select(CongressDataset.id).limit(1)) is not None
    has_members = db.session.scalar(select(Target.id).where(Target.kind.in_(LEGISLATOR_KINDS)).limit(1)) is not None
    if has_dataset and has_members:
        return False
    load_congress()
    return True
