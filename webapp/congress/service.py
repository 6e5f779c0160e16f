"""Congress: the cached ZIP → members lookup (the results, the per-process cache a data version keeps fresh, and
the public lookup functions). The data files are read by files.py and loaded by load.py."""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from flask import Flask, current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from webapp.congress.models import SUPPLEMENT, ZCTA, CongressDataset, DistrictOffice, ZipDistrict
from webapp.core.validation import FieldError
from webapp.core.versioned import VersionedCopies
from webapp.extensions import db
from webapp.models import LEGISLATOR_KINDS, Target

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


class InvalidZip(FieldError):
    """The input is not a ZIP code (5 digits, or ZIP+4)."""

    def __init__(self, message: str):
        super().__init__(message, field="zip")


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
        role=seat_role(kind, state),
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


def seat_role(kind: str, state: str | None) -> str:
    if kind == "senator":
        return "Senator"
    if kind == "delegate":
        return "Resident Commissioner" if state == "PR" else "Delegate"
    return "Representative"


def _member(target: Target) -> Member:
    return Member(
        id=target.id,
        kind=target.kind,
        role=(target.extra or {}).get("role") or seat_role(target.kind, target.state),
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


def _stored_version() -> object:
    with db.engine.connect() as connection:
        return connection.scalar(select(CongressDataset.version).order_by(CongressDataset.id).limit(1))


class CongressCache:
    """One per app (in `app.extensions["congress"]`): the snapshot, a copy webapp/core/versioned.py keeps.

    `flask congress load` stores a new version in `congress_dataset`; every process notices within
    `check_every` seconds (one one-row query) and rebuilds its snapshot. The loading process drops its own at once.
    """

    def __init__(self, check_every: float) -> None:
        self._copies: VersionedCopies[_Snapshot] = VersionedCopies(_stored_version, check_every=check_every)
        self._read = lambda: _Snapshot.read(db.engine)

    @property
    def check_every(self) -> float:
        return self._copies.check_every

    @check_every.setter
    def check_every(self, seconds: float) -> None:
        self._copies.check_every = seconds

    def snapshot(self) -> _Snapshot:
        return self._copies.get(None, self._read)  # type: ignore[return-value] (never None)

    def invalidate(self) -> None:
        self._copies.clear()


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
