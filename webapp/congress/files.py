"""Reading the Congress data files (legislators, ZIP districts, the state supplement, district offices): every
row checked, every problem named with its file and line."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from webapp.congress.models import SUPPLEMENT, ZCTA
from webapp.congress.service import SOURCE_TAG, TERRITORIES, seat_role

DATA_DIR = Path(__file__).with_name("data")
BUNDLED = {
    "legislators": DATA_DIR / "legislators-current.csv",
    "zips": DATA_DIR / "zip_districts.csv",
    "supplement": DATA_DIR / "zip_state_supplement.csv",
    "offices": DATA_DIR / "legislators-district-offices.csv",
}

ZIP = re.compile(r"[0-9]{5}")
STATE = re.compile(r"[A-Z]{2}")
DC_ADDRESS = re.compile(r"(.*?),?\s+Washington,?\s+DC\s+(\d{5}(?:-\d{4})?)")


class CongressDataError(ValueError):
    """A data file is malformed; the message names the file, the line and what is wrong."""


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
    if not STATE.fullmatch(raw):
        raise CongressDataError(f"{path.name} line {line}: state {raw!r} is not a two-letter code.")
    return raw


def _zip(path: Path, line: int, raw: str) -> str:
    if not ZIP.fullmatch(raw):
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
    match = DC_ADDRESS.fullmatch(raw)
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
        role = seat_role(kind, state)
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
