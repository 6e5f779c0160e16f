"""Congress data: loading the bundled CSVs (or newer ones) in one transaction, and the cached ZIP → members lookup."""

from __future__ import annotations

import csv
import re
import threading
import time
import unicodedata
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app, has_app_context
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from webapp.congress.models import SUPPLEMENT, ZCTA, CongressDataset, DistrictOffice, FormLink, ZipDistrict
from webapp.extensions import db
from webapp.models import LEGISLATOR_KINDS, Target, utcnow

DATA_DIR = Path(__file__).with_name("data")
BUNDLED = {
    "legislators": DATA_DIR / "legislators-current.csv",
    "zips": DATA_DIR / "zip_districts.csv",
    "supplement": DATA_DIR / "zip_state_supplement.csv",
    "offices": DATA_DIR / "legislators-district-offices.csv",
}

# Marks targets this module owns, so retiring members never touches an organizer's own targets.
SOURCE_TAG = "congress-legislators"
FIND_REPRESENTATIVE_URL = "https://www.house.gov/representatives/find-your-representative"
# Places with one non-voting House member (district 0) and no senators.
TERRITORIES = frozenset({"DC", "PR", "GU", "VI", "AS", "MP"})
STATE_NAMES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California", "CO": "Colorado",
    "CT": "Connecticut", "DE": "Delaware", "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho",
    "IL": "Illinois", "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana",
    "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota",
    "MS": "Mississippi", "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada",
    "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York", "NC": "North Carolina",
    "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania",
    "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota", "TN": "Tennessee", "TX": "Texas",
    "UT": "Utah", "VT": "Vermont", "VA": "Virginia", "WA": "Washington", "WV": "West Virginia",
    "WI": "Wisconsin", "WY": "Wyoming", "DC": "the District of Columbia", "PR": "Puerto Rico", "GU": "Guam",
    "VI": "the U.S. Virgin Islands", "AS": "American Samoa", "MP": "the Northern Mariana Islands",
}  # fmt: skip

# How often (seconds) a process asks the database whether `flask congress load` changed the data.
DEFAULT_CHECK_SECONDS = 5.0

_ZIP_INPUT = re.compile(r"([0-9]{5})(?:[-\s]?[0-9]{4})?")  # ASCII digits: `\d` would take any script's
_ZIP = re.compile(r"[0-9]{5}")
_STATE = re.compile(r"[A-Z]{2}")
_DC_ADDRESS = re.compile(r"(.*?),?\s+Washington,?\s+DC\s+(\d{5}(?:-\d{4})?)")


class CongressDataError(ValueError):
    """A data file is malformed; the message names the file, the line and what is wrong."""


class InvalidZip(ValueError):
    """The input is not a ZIP code (5 digits, or ZIP+4)."""


class UnknownZip(LookupError):
    """A well-formed ZIP that no data file knows."""


class CongressDataMissing(RuntimeError):
    """No Congress data has been loaded into this database yet."""


# ---------------------------------------------------------------- lookup results


@dataclass(frozen=True, slots=True)
class District:
    state: str
    district: int

    @property
    def label(self) -> str:
        return district_label(self.state, self.district)


@dataclass(frozen=True, slots=True)
class Member:
    """A seat in a lookup result: a member of Congress (a snapshot of their Target row) or a vacant seat."""

    id: str | None
    kind: str  # senator | representative | delegate
    role: str  # Senator, Representative, Delegate, Resident Commissioner
    name: str
    first_name: str
    last_name: str
    party: str | None
    state: str
    district: int | None
    phone: str | None
    website: str | None
    contact_form: str | None
    office_address: str | None
    channels: tuple[str, ...]
    vacant: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "role": self.role,
            "name": self.name,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "party": self.party,
            "state": self.state,
            "district": self.district,
            "phone": self.phone,
            "website": self.website,
            "contact_form": self.contact_form,
            "office_address": self.office_address,
            "channels": list(self.channels),
            "vacant": self.vacant,
        }


@dataclass(frozen=True, slots=True)
class ZipLookup:
    """Who represents a ZIP: every candidate, never a silent pick. Targets are grouped by state, senators first."""

    zip: str
    states: tuple[str, ...]
    districts: tuple[District, ...]
    split: bool  # several districts (or states) are possible: the supporter must pick
    district_unknown: bool  # supplement ZIP: the state (so the senators) is known, the district is not
    source: str  # zcta | supplement
    targets: tuple[Member, ...]
    message: str

    @property
    def members(self) -> list[Member]:
        """Sitting members only (vacant seats left out)."""
        return [target for target in self.targets if not target.vacant]

    @property
    def senators(self) -> list[Member]:
        return [target for target in self.members if target.kind == "senator"]

    @property
    def representatives(self) -> list[Member]:
        """Representatives and delegates, all candidates for a split ZIP."""
        return [target for target in self.members if target.kind != "senator"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "zip": self.zip,
            "states": list(self.states),
            "split": self.split,
            "district_unknown": self.district_unknown,
            "districts": [{"state": d.state, "district": d.district} for d in self.districts],
            "targets": [target.as_dict() for target in self.targets],
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class Office:
    """A district office: a postal address for printed letters and a local phone for calls."""

    id: str
    target_id: str
    building: str
    address: str
    suite: str
    city: str
    state: str
    zip: str
    phone: str | None
    fax: str | None

    @property
    def label(self) -> str:
        return f"{self.city}, {self.state}" if self.city else self.state

    @property
    def postal_address(self) -> str | None:
        """Lines for an envelope, or None when the source lacks a street or ZIP (such an office only takes calls)."""
        if not (self.address and self.zip and self.city):
            return None
        street = f"{self.address}, {self.suite}" if self.suite else self.address
        lines = [self.building, street, f"{self.city}, {self.state} {self.zip}"]
        return "\n".join(line for line in lines if line)


def district_label(state: str, district: int | None) -> str:
    if district is None:
        return state
    return f"{state}-AL" if district == 0 else f"{state}-{district}"


def normalize_zip(raw: str | None) -> str:
    """The 5-digit ZIP of `raw` (5 digits or ZIP+4), or InvalidZip with a message a supporter understands."""
    # NFKC reads full-width digits (a phone keyboard set to Japanese or Chinese) as the digits they are.
    match = _ZIP_INPUT.fullmatch(unicodedata.normalize("NFKC", raw or "").strip())
    if match is None:
        raise InvalidZip("Enter a 5-digit ZIP code, like 94110 or 94110-1234.")
    return match.group(1)


# ---------------------------------------------------------------- building a result (shared by both lookup paths)


def _state_name(state: str) -> str:
    return STATE_NAMES.get(state, state)


def _vacant(kind: str, state: str, district: int | None) -> Member:
    seat = f"Senate seat ({state})" if district is None else f"seat ({district_label(state, district)})"
    return Member(
        id=None,
        kind=kind,
        role=_role(kind, state),
        name=f"Vacant {seat}",
        first_name="",
        last_name="",
        party=None,
        state=state,
        district=district,
        phone=None,
        website=None,
        contact_form=None,
        office_address=None,
        channels=(),
        vacant=True,
    )


def _build(
    zip_code: str,
    source: str,
    zip_type: str | None,
    pairs: Iterable[tuple[str, int | None]],
    senators_of: Callable[[str], tuple[Member, ...]],
    house_of: Callable[[str, int], tuple[Member, ...]],
) -> ZipLookup:
    # `pairs` arrive deduplicated and sorted by (state, district).
    states = tuple(dict.fromkeys(state for state, _ in pairs))
    districts = tuple(District(state, district) for state, district in pairs if district is not None)
    district_unknown = any(d is None for _, d in pairs) and not districts
    targets: list[Member] = []
    notes: list[str] = []
    for state in states:
        if state not in TERRITORIES:
            senators = senators_of(state)
            targets += senators
            for _ in range(2 - len(senators)):
                targets.append(_vacant("senator", state, None))
                notes.append(f"One of {_state_name(state)}'s Senate seats is vacant.")
        for seat in districts:
            if seat.state != state:
                continue
            members = house_of(state, seat.district)
            if members:
                targets += members
            else:
                targets.append(_vacant("delegate" if state in TERRITORIES else "representative", state, seat.district))
                notes.append(
                    f"The House seat for {seat.label} is vacant: there is no representative to write to until it is filled."
                )
    for state in states:
        if state in TERRITORIES:
            role = "a Resident Commissioner" if state == "PR" else "a Delegate"
            notes.insert(
                0,
                f"{_state_name(state)[0].upper()}{_state_name(state)[1:]} is represented in Congress by "
                f"{role} in the House, who does not vote on final passage, and has no senators.",
            )
    split = len(districts) > 1 or len(states) > 1
    if split:
        where = ", ".join(seat.label for seat in districts)
        if len(states) > 1:
            lead = f"ZIP {zip_code} crosses a state line ({' and '.join(states)}) and spans {len(districts)} districts ({where})."
        else:
            lead = f"Your ZIP spans {len(districts)} districts ({where}): pick yours."
        notes.insert(0, f"{lead} Not sure which is yours? Look it up by street address at {FIND_REPRESENTATIVE_URL}.")
    if district_unknown:
        kind = {"PO BOX": "a PO box ZIP", "UNIQUE": "a ZIP for a single organization"}.get(zip_type or "", "a ZIP")
        notes.insert(
            0,
            f"ZIP {zip_code} is {kind} in {_state_name(states[0])}, so we know your senators but not your House "
            f"district. Find your representative by street address at {FIND_REPRESENTATIVE_URL}.",
        )
    return ZipLookup(
        zip=zip_code,
        states=states,
        districts=districts,
        split=split,
        district_unknown=district_unknown,
        source=source,
        targets=tuple(targets),
        message=" ".join(notes),
    )


def _role(kind: str, state: str | None) -> str:
    if kind == "senator":
        return "Senator"
    if kind == "delegate":
        return "Resident Commissioner" if state == "PR" else "Delegate"
    return "Representative"


def _member(target: Target) -> Member:
    return Member(
        id=target.id,
        kind=target.kind,
        role=(target.extra or {}).get("role") or _role(target.kind, target.state),
        name=target.name,
        first_name=target.first_name,
        last_name=target.last_name,
        party=target.party,
        state=target.state or "",
        district=target.district,
        phone=target.phone,
        website=target.website,
        contact_form=target.contact_form,
        office_address=target.postal_address,
        channels=tuple(target.channels),
    )


def _seat_order(target: Target) -> tuple:
    # Senior senator first, then by name; House members by district.
    return ((target.extra or {}).get("state_rank") != "senior", target.district or 0, target.last_name, target.id)


def _index_members(
    targets: Iterable[Target],
) -> tuple[dict[str, tuple[Member, ...]], dict[tuple[str, int], tuple[Member, ...]]]:
    senators: dict[str, list[Member]] = defaultdict(list)
    house: dict[tuple[str, int], list[Member]] = defaultdict(list)
    for target in sorted(targets, key=_seat_order):
        if not target.state:
            continue
        if target.kind == "senator":
            senators[target.state].append(_member(target))
        elif target.district is not None:
            house[(target.state, target.district)].append(_member(target))
    return (
        {state: tuple(members) for state, members in senators.items()},
        {seat: tuple(members) for seat, members in house.items()},
    )


def _active_legislators():
    return select(Target).where(Target.kind.in_(LEGISLATOR_KINDS), Target.active.is_(True))


# ---------------------------------------------------------------- the in-process cache


@dataclass
class _Snapshot:
    """Everything a lookup needs, read from the database once per data version."""

    version: str | None
    # zip → (source, zip_type, ((state, district | None), ...)); ZCTA rows win over the supplement.
    zips: dict[str, tuple[str, str | None, tuple[tuple[str, int | None], ...]]]
    senators: dict[str, tuple[Member, ...]]
    house: dict[tuple[str, int], tuple[Member, ...]]
    members: dict[str, Member]
    offices: dict[str, tuple[Office, ...]]

    @classmethod
    def read(cls, engine) -> _Snapshot:
        # A session of its own: never autoflushes or joins the caller's unit of work. The version is read
        # first: if a load commits midway, this snapshot carries the old version and the next check rebuilds it.
        with Session(engine) as session:
            version = session.scalar(select(CongressDataset.version).order_by(CongressDataset.id).limit(1))
            # Streamed in ZIP order and folded one ZIP at a time: building from 50,000 rows held at once left
            # the process about 50 MB larger for good (freed memory the allocator kept), for a 5 MB result.
            rows = session.execute(
                select(
                    ZipDistrict.zip, ZipDistrict.state, ZipDistrict.district, ZipDistrict.source, ZipDistrict.zip_type
                ).order_by(ZipDistrict.zip),
                execution_options={"yield_per": 2000},
            )
            zips = _fold_zips(rows)
            targets = list(session.scalars(_active_legislators()))
            offices = session.scalars(select(DistrictOffice).order_by(DistrictOffice.target_id, DistrictOffice.id))
            office_index: dict[str, list[Office]] = defaultdict(list)
            for office in offices:
                office_index[office.target_id].append(
                    Office(**{name: getattr(office, name) for name in Office.__dataclass_fields__})
                )
        senators, house = _index_members(targets)
        members = {m.id: m for group in (*senators.values(), *house.values()) for m in group if m.id}
        return cls(version, zips, senators, house, members, {k: tuple(v) for k, v in office_index.items()})

    def lookup(self, zip_code: str) -> ZipLookup:
        entry = self.zips.get(zip_code)
        if entry is None:
            raise UnknownZip(_unknown_message(zip_code))
        source, zip_type, pairs = entry
        return _build(zip_code, source, zip_type, pairs, self._senators_of, self._house_of)

    def _senators_of(self, state: str) -> tuple[Member, ...]:
        return self.senators.get(state, ())

    def _house_of(self, state: str, district: int) -> tuple[Member, ...]:
        return self.house.get((state, district), ())


def _fold_zips(rows) -> dict[str, tuple[str, str | None, tuple[tuple[str, int | None], ...]]]:
    """(zip, state, district, source, zip_type) rows in ZIP order → zip → (source, zip_type, pairs);
    ZCTA rows win over the supplement, and equal values are shared (most ZIPs have a twin)."""
    shared: dict[Any, Any] = {}
    zips: dict[str, tuple[str, str | None, tuple[tuple[str, int | None], ...]]] = {}
    for zip_code, group in groupby(rows, key=lambda row: row[0]):
        found: dict[str, set[tuple[str, int | None]]] = {ZCTA: set(), SUPPLEMENT: set()}
        zip_type = None
        for _zip, state, district, source, row_type in group:
            found[source].add((state, district))
            if source == SUPPLEMENT:
                zip_type = row_type
        source = ZCTA if found[ZCTA] else SUPPLEMENT
        pairs = tuple(sorted(found[source], key=lambda p: (p[0], -1 if p[1] is None else p[1])))
        value = (source, zip_type if source == SUPPLEMENT else None, pairs)
        zips[zip_code] = shared.setdefault(value, value)
    return zips


class CongressCache:
    """One per app (in `app.extensions["congress"]`): the snapshot, and when to ask the database if it is stale.

    `flask congress load` stores a new version in `congress_dataset`; every process notices within
    `check_every` seconds (one one-row query) and rebuilds its snapshot. The loading process drops its own at once.
    """

    def __init__(self, check_every: float) -> None:
        self.check_every = check_every
        self._snapshot: _Snapshot | None = None
        self._checked_at = 0.0
        self._lock = threading.Lock()

    def snapshot(self) -> _Snapshot:
        snapshot = self._snapshot
        if snapshot is not None and time.monotonic() - self._checked_at < self.check_every:
            return snapshot
        with self._lock:
            engine = db.engine
            if self._snapshot is not None and time.monotonic() - self._checked_at >= self.check_every:
                with engine.connect() as connection:
                    stored = connection.scalar(select(CongressDataset.version).order_by(CongressDataset.id).limit(1))
                if stored != self._snapshot.version:
                    self._snapshot = None
                self._checked_at = time.monotonic()
            if self._snapshot is None:
                self._snapshot = _Snapshot.read(engine)
                self._checked_at = time.monotonic()
            return self._snapshot

    def invalidate(self) -> None:
        with self._lock:
            self._snapshot = None


def get_cache(app: Flask | None = None) -> CongressCache:
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    cache = app.extensions.get("congress")
    if cache is None:
        cache = app.extensions.setdefault("congress", CongressCache(DEFAULT_CHECK_SECONDS))
    return cache


def _loaded_snapshot() -> _Snapshot:
    snapshot = get_cache().snapshot()
    if snapshot.version is None:
        raise CongressDataMissing("Congress data is not loaded yet; run `flask congress load`.")
    return snapshot


def _unknown_message(zip_code: str) -> str:
    return (
        f"We don't know ZIP code {zip_code}. Check it for typos; if it is right, find your members of Congress "
        f"by street address at {FIND_REPRESENTATIVE_URL}."
    )


# ---------------------------------------------------------------- public lookup functions


def lookup(raw_zip: str) -> ZipLookup:
    """Members of Congress for a ZIP (5 digits or ZIP+4), served from the in-process cache.

    Raises InvalidZip (malformed), UnknownZip (no data for it) or CongressDataMissing (nothing loaded).
    """
    zip_code = normalize_zip(raw_zip)
    return _loaded_snapshot().lookup(zip_code)


def lookup_from_database(raw_zip: str) -> ZipLookup:
    """The same answer as `lookup`, built with queries instead of the cache (the benchmark's baseline, and a check)."""
    zip_code = normalize_zip(raw_zip)
    rows = db.session.execute(
        select(ZipDistrict.state, ZipDistrict.district, ZipDistrict.source, ZipDistrict.zip_type).where(
            ZipDistrict.zip == zip_code
        )
    ).all()
    if not rows:
        raise UnknownZip(_unknown_message(zip_code))
    source = ZCTA if any(row.source == ZCTA for row in rows) else SUPPLEMENT
    chosen = [row for row in rows if row.source == source]
    pairs = sorted({(row.state, row.district) for row in chosen}, key=lambda p: (p[0], -1 if p[1] is None else p[1]))
    zip_type = chosen[0].zip_type if source == SUPPLEMENT else None
    states = {state for state, _ in pairs}
    senators, house = _index_members(db.session.scalars(_active_legislators().where(Target.state.in_(states))))
    return _build(
        zip_code,
        source,
        zip_type,
        tuple(pairs),
        lambda state: senators.get(state, ()),
        lambda state, district: house.get((state, district), ()),
    )


def allowed_legislator_ids(raw_zip: str) -> frozenset[str]:
    """Ids of the sitting members a supporter with this ZIP may write to (every candidate of a split ZIP).

    Empty for a malformed or unknown ZIP. No database query when the cache is warm.
    """
    try:
        return frozenset(member.id for member in lookup(raw_zip).members if member.id)
    except (InvalidZip, UnknownZip):
        return frozenset()


def legislators_for_zip(raw_zip: str) -> list[Target]:
    """The active Target rows for a ZIP, in lookup order (all candidates for a split ZIP).

    Raises InvalidZip, UnknownZip or CongressDataMissing like `lookup`.
    """
    ids = [member.id for member in lookup(raw_zip).members if member.id]
    if not ids:
        return []
    found = {t.id: t for t in db.session.scalars(select(Target).where(Target.id.in_(ids), Target.active.is_(True)))}
    return [found[target_id] for target_id in ids if target_id in found]


def district_offices(target_id: str) -> list[Office]:
    """A member's home-state/district offices (postal address and phone), from the cache."""
    return list(_loaded_snapshot().offices.get(target_id, ()))


# ---------------------------------------------------------------- reading the files


def _rows(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    try:
        handle = path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise CongressDataError(f"{path}: cannot read it ({exc.strerror}).") from None
    with handle:
        reader = csv.DictReader(handle)
        missing = [name for name in required if name not in (reader.fieldnames or [])]
        if missing:
            raise CongressDataError(f"{path.name}: missing column(s) {', '.join(missing)}.")
        try:
            for row in reader:
                yield reader.line_num, {key: (value or "").strip() for key, value in row.items() if key}
        except (csv.Error, UnicodeDecodeError) as exc:
            raise CongressDataError(f"{path.name} line {reader.line_num}: {exc}") from None


def _district(path: Path, line: int, raw: str, *, blank_ok: bool) -> int | None:
    if raw == "":
        if blank_ok:
            return None
        raise CongressDataError(f"{path.name} line {line}: district is missing.")
    try:
        district = int(raw)
    except ValueError:
        raise CongressDataError(f"{path.name} line {line}: district {raw!r} is not a number.") from None
    if not 0 <= district <= 99:
        raise CongressDataError(f"{path.name} line {line}: district {raw!r} is out of range.")
    return district


def _state(path: Path, line: int, raw: str) -> str:
    if not _STATE.fullmatch(raw):
        raise CongressDataError(f"{path.name} line {line}: state {raw!r} is not a two-letter code.")
    return raw


def _zip(path: Path, line: int, raw: str) -> str:
    if not _ZIP.fullmatch(raw):
        raise CongressDataError(f"{path.name} line {line}: ZIP {raw!r} is not 5 digits (keep leading zeros).")
    return raw


def member_office_code(chamber: str, state: str, district: int | None, senate_class: int | None) -> str | None:
    """The office code Communicating with Congress (CWC) names a member's office by, derived from their seat.

    House: `H` + state + two-digit district (`HCA12`; at-large seats and delegates `00`). Senate: `S` + state +
    two digits, the senator's class minus one (`SCA00` for class 1). This is the convention EFF's CWC clients
    use (phantom-of-the-capitol, congress_forms); CWC's own list of active offices was not available to check it.
    None when the seat can't be coded (a senator without a class).
    """
    if chamber == "senate":
        return f"S{state}{senate_class - 1:02d}" if senate_class in (1, 2, 3) else None
    return f"H{state}{district or 0:02d}" if district is not None else None


def format_dc_address(raw: str) -> str | None:
    """'511 Hart Senate Office Building Washington DC 20510' → two envelope lines."""
    if not raw:
        return None
    match = _DC_ADDRESS.fullmatch(raw)
    if match is None:
        return raw
    return f"{match.group(1)}\nWashington, DC {match.group(2)}"


def read_legislators(path: Path) -> dict[str, dict[str, Any]]:
    """Target column values by bioguide id."""
    required = (
        "bioguide_id",
        "first_name",
        "last_name",
        "full_name",
        "chamber",
        "party",
        "state",
        "district",
        "website",
        "contact_form",
        "phone",
        "office_address",
    )
    found: dict[str, dict[str, Any]] = {}
    for line, row in _rows(path, required):
        bioguide = row["bioguide_id"]
        if not bioguide or len(bioguide) > 64:
            raise CongressDataError(f"{path.name} line {line}: bioguide_id is missing.")
        if bioguide in found:
            raise CongressDataError(f"{path.name} line {line}: {bioguide} appears twice.")
        chamber = row["chamber"]
        if chamber not in ("senate", "house"):
            raise CongressDataError(f"{path.name} line {line}: chamber {chamber!r} is not senate or house.")
        state = _state(path, line, row["state"])
        if chamber == "senate":
            if state in TERRITORIES:
                raise CongressDataError(f"{path.name} line {line}: {state} has no senators.")
            kind, district = "senator", None
        else:
            district = _district(path, line, row["district"], blank_ok=False)
            kind = "delegate" if state in TERRITORIES else "representative"
        if not row["full_name"] or not row["last_name"]:
            raise CongressDataError(f"{path.name} line {line}: {bioguide} has no name.")
        role = _role(kind, state)
        senate_class = int(row["senate_class"]) if row.get("senate_class", "").isdigit() else None
        extra = {
            "source": SOURCE_TAG,
            "chamber": chamber,
            "role": role,
            "caucus": row.get("caucus", ""),
            "senate_class": senate_class,
            "cwc_office": member_office_code(chamber, state, district, senate_class),
            "state_rank": row.get("state_rank", ""),
            "nickname": row.get("nickname", ""),
            "term_start": row.get("term_start", ""),
            "term_end": row.get("term_end", ""),
            "how": row.get("how", ""),
        }
        contact_known = row["website"] or row["contact_form"] or row["phone"] or row["office_address"]
        found[bioguide] = {
            "kind": kind,
            "name": row["full_name"],
            "first_name": row["first_name"],
            "last_name": row["last_name"],
            "title": role,
            "organization": "US Senate" if chamber == "senate" else "US House",
            "salutation": "",  # the letter code derives "Senator X" / "Representative X" from kind and role
            "email": None,  # members of Congress publish none
            "phone": row["phone"] or None,
            "contact_form": row["contact_form"] or None,
            "website": row["website"] or None,
            "postal_address": format_dc_address(row["office_address"]),
            "note": ""
            if contact_known
            else "This member took office recently; no office contact details are published yet.",
            "party": row["party"] or None,
            "state": state,
            "district": district,
            "active": True,
            "extra": {key: value for key, value in extra.items() if value not in ("", None)},
        }
    if not found:
        raise CongressDataError(f"{path.name}: no members in the file; refusing to retire all of Congress.")
    return found


ZipRow = tuple[str, str, int | None, str, str | None]  # zip, state, district, source, zip_type


def read_zips(path: Path) -> set[ZipRow]:
    found: set[ZipRow] = set()
    for line, row in _rows(path, ("zip", "state", "district")):
        found.add(
            (
                _zip(path, line, row["zip"]),
                _state(path, line, row["state"]),
                _district(path, line, row["district"], blank_ok=False),
                ZCTA,
                None,
            )
        )
    if not found:
        raise CongressDataError(f"{path.name}: no ZIP rows in the file.")
    return found


def read_supplement(path: Path) -> set[ZipRow]:
    found: set[ZipRow] = set()
    for line, row in _rows(path, ("zip", "state", "district", "zip_type")):
        district = _district(path, line, row["district"], blank_ok=True)
        found.add(
            (
                _zip(path, line, row["zip"]),
                _state(path, line, row["state"]),
                district,
                SUPPLEMENT,
                row["zip_type"] or None,
            )
        )
    return found


def read_offices(path: Path) -> dict[str, dict[str, Any]]:
    required = ("bioguide_id", "office_id", "building", "address", "suite", "city", "state", "zip", "phone", "fax")
    found: dict[str, dict[str, Any]] = {}
    for line, row in _rows(path, required):
        if not row["office_id"] or not row["bioguide_id"]:
            raise CongressDataError(f"{path.name} line {line}: office_id and bioguide_id are required.")
        found[row["office_id"]] = {
            "target_id": row["bioguide_id"],
            "building": row["building"],
            "address": row["address"],
            "suite": row["suite"],
            "city": row["city"],
            "state": row["state"],
            "zip": row["zip"],
            "phone": row["phone"] or None,
            "fax": row["fax"] or None,
        }
    return found


# ---------------------------------------------------------------- loading into the database


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
        db.session.commit()
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


# ---------------------------------------------------------------- contact-form links organizers enter

# Where each chamber's members keep their websites (every one in the data is on these).
CHAMBER_DOMAINS = {"senator": "senate.gov", "representative": "house.gov", "delegate": "house.gov"}
FORM_LINK_MAX = 500


def _site(host: str) -> str:
    return host.lower().removeprefix("www.")


def form_link_problem(target: Target, url: str) -> str | None:
    """Why `url` can't be `target`'s contact form, in a sentence; None when it can.

    The link must be an https:// page on the member's own website (their `website` host, with or without
    `www.`), or on their chamber's domain when no website is known: a mistyped or hostile link can then
    never send supporters, with their name and address, anywhere but the member's office.
    """
    url = url.strip()
    domain = CHAMBER_DOMAINS.get(target.kind)
    if domain is None:
        return f"{target.name} is not a member of Congress."
    if not url:
        return "Paste the address of their contact form."
    if len(url) > FORM_LINK_MAX or any(c.isspace() or ord(c) < 32 for c in url):
        return f"That doesn't look like a web address (no spaces, up to {FORM_LINK_MAX} characters)."
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "That doesn't look like a web address."
    own = _site(urlsplit(target.website).hostname or "") if target.website else ""
    if parts.scheme != "https" or not parts.hostname or parts.username or parts.password or port not in (None, 443):
        where = own or f"a {domain} site"
        return f"Use the https:// address of the form on {where}, like https://{own or 'name.' + domain}/contact."
    host = _site(parts.hostname)
    if own and host != own:
        return f"Use a page on {target.name}'s own website, {own}: the form supporters fill in must be their office's."
    if not own and host != domain and not host.endswith("." + domain):
        chamber = "Senate" if domain == "senate.gov" else "House"
        return f"Use a page on {domain}, where members of the {chamber} keep their websites."
    return None


def form_links() -> dict[str, FormLink]:
    return {link.target_id: link for link in db.session.scalars(select(FormLink))}


def _new_version() -> None:
    """Tell every process's lookup cache that members changed (as a load does)."""
    dataset = db.session.scalar(select(CongressDataset).order_by(CongressDataset.id).limit(1))
    if dataset is not None:
        dataset.version = uuid.uuid4().hex


def set_form_link(target: Target, url: str, entered_by: str) -> FormLink:
    """Make `url` the member's contact form, kept over the data by later loads (committed).

    Callers check who may (webapp/organizers/permissions.py) and `form_link_problem` first.
    """
    problem = form_link_problem(target, url)
    if problem is not None:
        raise ValueError(problem)
    link = db.session.get(FormLink, target.id)
    if link is None:
        link = FormLink(target_id=target.id, data_url=target.contact_form)
        db.session.add(link)
    link.url, link.entered_by, link.entered_at = url.strip(), entered_by, utcnow()
    target.contact_form = link.url
    _new_version()
    db.session.commit()
    if has_app_context():
        get_cache().invalidate()
    return link


def remove_form_link(target: Target) -> bool:
    """Drop the link an organizer entered; the member gets the data's link back, if it has one (committed)."""
    link = db.session.get(FormLink, target.id)
    if link is None:
        return False
    target.contact_form = link.data_url
    db.session.delete(link)
    _new_version()
    db.session.commit()
    if has_app_context():
        get_cache().invalidate()
    return True
