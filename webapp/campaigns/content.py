"""What a target is made of: one schema (`TargetContent`), so the campaign files, the workspace form, the CSV
import and the organizer API hold every target to the same rules, in the same words."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from webapp.core import validation
from webapp.models import CUSTOM_KINDS, LEGISLATOR_KINDS

# A target's fields as the files spell them: text (empty when missing), optional contacts (null when missing).
TARGET_TEXT_FIELDS = ("name", "first_name", "last_name", "title", "organization", "salutation")
TARGET_OPTIONAL_FIELDS = ("email", "phone", "contact_form", "website", "postal_address")
TARGET_FIELDS = ("kind", *TARGET_TEXT_FIELDS, *TARGET_OPTIONAL_FIELDS, "note")

PHONE = re.compile(r"^[0-9+() .\-/x]{3,40}$")
TEXT_LABELS = {
    "name": "The name",
    "first_name": "The first name",
    "last_name": "The last name",
    "title": "The title",
    "organization": "The organization",
    "salutation": "The salutation",
}


class ContentInvalid(ValueError):
    """Content that breaks its schema: `errors` maps each field to its problems, in words for the organizer."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{key}: {' '.join(messages)}" for key, messages in errors.items()))
        self.errors = errors


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


class TargetContent(BaseModel):
    """A target's fields, checked and normalized. Only the fields given are checked (a CSV file may carry some)."""

    model_config = ConfigDict(extra="forbid")

    kind: str = "person"
    name: str = ""
    first_name: str = ""
    last_name: str = ""
    title: str = ""
    organization: str = ""
    salutation: str = ""
    email: str | None = None
    phone: str | None = None
    contact_form: str | None = None
    website: str | None = None
    postal_address: str | None = None
    note: str = ""

    @field_validator("kind", mode="before")
    @classmethod
    def _kind(cls, value: Any) -> str:
        kind = _text(value) or "person"
        if kind in LEGISLATOR_KINDS:
            raise ValueError(
                "Members of Congress come from the Congress data: turn on “write to members of Congress” instead."
            )
        if kind not in CUSTOM_KINDS:
            raise ValueError(f"Choose one of: {', '.join(CUSTOM_KINDS)}.")
        return kind

    @field_validator(*TARGET_TEXT_FIELDS, mode="before")
    @classmethod
    def _one_line(cls, value: Any, info) -> str:
        try:
            text = validation.header_text(_text(value), TEXT_LABELS[info.field_name], 200)
        except validation.FieldError as exc:
            raise ValueError(str(exc)) from None
        if info.field_name == "name" and not text:
            raise ValueError("Every target needs a name.")
        return text

    @field_validator("email", mode="before")
    @classmethod
    def _email(cls, value: Any) -> str | None:
        raw = _text(value)
        if not raw:
            return None
        try:
            return validation.email(raw)
        except validation.FieldError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("phone", mode="before")
    @classmethod
    def _phone(cls, value: Any) -> str | None:
        raw = _text(value)
        if raw and not PHONE.match(raw):
            raise ValueError("Write the phone number with digits, spaces, ( ) + and - only, like (212) 415-4000.")
        return raw or None

    @field_validator("contact_form", "website", mode="before")
    @classmethod
    def _link(cls, value: Any) -> str | None:
        raw = _text(value)
        if raw and (not raw.startswith(("https://", "http://")) or len(raw) > 500 or any(c.isspace() for c in raw)):
            raise ValueError("Links must start with https:// (or http://).")
        return raw or None

    @field_validator("postal_address", mode="before")
    @classmethod
    def _postal_address(cls, value: Any) -> str | None:
        try:
            text = validation.plain_text(str(value or ""), "The postal address", 500)
        except validation.FieldError as exc:
            raise ValueError(str(exc)) from None
        return "\n".join(line.strip() for line in text.split("\n") if line.strip()) or None

    @field_validator("note", mode="before")
    @classmethod
    def _note(cls, value: Any) -> str:
        try:
            return validation.plain_text(_text(value), "The note", 1000)
        except validation.FieldError as exc:
            raise ValueError(str(exc)) from None


def problems(exc: ValidationError) -> dict[str, list[str]]:
    """Pydantic's errors as the organizer reads them: field → messages (ours, without pydantic's prefix)."""
    found: dict[str, list[str]] = {}
    for error in exc.errors():
        key = str(error["loc"][0]) if error["loc"] else "_"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "is not a field a target has."
        found.setdefault(key, []).append(message)
    return found


def clean_target(values: Mapping[str, Any], fields: Iterable[str] = TARGET_FIELDS) -> dict[str, Any]:
    """The given fields of a target, checked and normalized; raises ContentInvalid with every problem."""
    fields = tuple(fields)
    try:
        target = TargetContent.model_validate({key: values.get(key) for key in fields})
    except ValidationError as exc:
        raise ContentInvalid(problems(exc)) from None
    return {key: getattr(target, key) for key in fields}
