"""The supporter's postal address for a CWC letter: asked only when they choose this channel, checked field by field,
and checked against the seat: offices turn away letters from outside their state or district, so the ZIP code must
be one the member represents, before anything is written."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from webapp.congress import service as congress
from webapp.core import validation
from webapp.core.invalid import Invalid
from webapp.cwc.message import PREFIXES
from webapp.i18n import gettext, reasons
from webapp.models import Target

STREET_MAX, CITY_MAX = 100, 60
FIELDS = ("prefix", "first_name", "last_name", "street", "street2", "city", "state", "zip")


class AddressInvalid(Invalid):
    """A postal address that cannot be used: field name → messages, each a whole sentence."""


@dataclass(frozen=True)
class PostalAddress:
    prefix: str
    first_name: str
    last_name: str
    street: str
    street2: str
    city: str
    state: str
    zip: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    @property
    def lines(self) -> str:
        """As on an envelope."""
        street = f"{self.street}\n{self.street2}" if self.street2 else self.street
        return f"{street}\n{self.city}, {self.state} {self.zip}"


def split_name(full_name: str) -> tuple[str, str]:
    """A guess at first and last name for the form to start from ("Mary Ann O'Brien" → "Mary Ann", "O'Brien")."""
    first, _, last = full_name.strip().rpartition(" ")
    return (first, last) if first else (last, "")


def _text(value: Any, what: str, limit: int, required: str | None) -> str:
    text = validation.header_text(str(value or ""), what, limit)
    if required and not text:
        raise validation.FieldError(required)
    if any(char in text for char in "<>@"):
        raise validation.FieldError(gettext("%(what)s can't contain < > or @.", what=what))
    return text


def parse(raw: Mapping[str, Any]) -> PostalAddress:
    """The address from form or JSON fields, or AddressInvalid with a sentence for each field that is wrong."""
    errors: dict[str, list[str]] = {}
    values: dict[str, str] = {}
    rules = {
        "first_name": lambda v: _text(
            v, gettext("Your first name"), validation.NAME_MAX, gettext("Please enter your first name.")
        ),
        "last_name": lambda v: _text(
            v, gettext("Your last name"), validation.NAME_MAX, gettext("Please enter your last name.")
        ),
        "street": lambda v: _text(
            v, gettext("The street address"), STREET_MAX, gettext("Please enter your street address.")
        ),
        "street2": lambda v: _text(v, gettext("The second address line"), STREET_MAX, None),
        "city": lambda v: _text(v, gettext("The city"), CITY_MAX, gettext("Please enter your city or town.")),
        "zip": lambda v: validation.zip_code(str(v or "")),
    }
    for name, rule in rules.items():
        try:
            values[name] = rule(raw.get(name))
        except validation.FieldError as exc:
            errors[name] = [str(exc)]
    prefix = str(raw.get("prefix") or "").strip()
    if prefix not in PREFIXES:
        errors["prefix"] = [
            gettext("Choose how the office should address you: %(choices)s.", choices=", ".join(PREFIXES))
        ]
    state = str(raw.get("state") or "").strip().upper()
    if state not in congress.STATE_NAMES:
        errors["state"] = [gettext("Choose your state.")]
    if errors:
        raise AddressInvalid(errors)
    return PostalAddress(prefix=prefix, state=state, **values)


def seat_problems(address: PostalAddress, targets: Iterable[Target]) -> dict[str, list[str]]:
    """Where the address and the members chosen disagree: each member must represent the address's ZIP code."""
    try:
        allowed = {member.id for member in congress.lookup(address.zip).members}
    except congress.InvalidZip as exc:
        return {"zip": [str(exc)]}
    except congress.UnknownZip as exc:
        return {"zip": [reasons.translate(str(exc))]}
    errors: list[str] = []
    for target in targets:
        if target.state != address.state:
            errors.append(
                gettext(
                    "%(member)s represents %(their_state)s, and the address you gave is in %(your_state)s. "
                    "Their office accepts letters only from people who live there.",
                    member=target.display_name,
                    their_state=congress.STATE_NAMES.get(target.state or "", target.state),
                    your_state=congress.STATE_NAMES.get(address.state, address.state),
                )
            )
        elif target.id not in allowed:
            errors.append(
                gettext(
                    "%(member)s does not represent ZIP code %(zip)s, and their office accepts letters only from "
                    "people they represent. Check your ZIP code, or choose the letter to the member who does.",
                    member=target.display_name,
                    zip=address.zip,
                )
            )
    return {"zip": errors} if errors else {}
