"""What a campaign's own words, a target and a letter template are made of: one set of rules each (a campaign's
title, summary, updates and resources here; `TargetContent`, `TemplateContent`), so the campaign files, the
workspace forms, the CSV import and the organizer API hold them to the same rules, in the same words."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from webapp.core import framing, validation
from webapp.core.invalid import Invalid
from webapp.core.rendering import LetterTemplateError
from webapp.cwc import topics as cwc_topics
from webapp.i18n import gettext, language_name
from webapp.models import ALL_CHANNELS, CALL, CUSTOM_KINDS, CWC, LEGISLATOR_KINDS, TARGET_KINDS

# A target's fields as the files spell them: text (empty when missing), optional contacts (null when missing).
TARGET_TEXT_FIELDS = ("name", "first_name", "last_name", "title", "organization", "salutation")
TARGET_OPTIONAL_FIELDS = ("email", "phone", "contact_form", "website", "postal_address")
TARGET_FIELDS = ("kind", *TARGET_TEXT_FIELDS, *TARGET_OPTIONAL_FIELDS, "note")

# A new target's id: stable (totals are kept under it) and part of the workspace's addresses. Members of Congress
# keep their bioguide ids (M001153); they never come from a campaign path.
TARGET_ID = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$")
TARGET_ID_RULE = "Use lower-case letters, digits and hyphens for the id, like acme-ceo."
# A letter's language: a language code as BCP 47 spells it, lower-case (en, es, fr, pt-br); "es" in a file name.
LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$")
PHONE = re.compile(r"^[0-9+() .\-/x]{3,40}$")
TEXT_LABELS = {
    "name": "The name",
    "first_name": "The first name",
    "last_name": "The last name",
    "title": "The title",
    "organization": "The organization",
    "salutation": "The salutation",
}


class ContentInvalid(Invalid):
    """Content that breaks its schema: `errors` maps each field to its problems, in words for the organizer."""


# A campaign's address (/c/<slug>), from the workspace or a campaign folder's name, or a letter's file name.
SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?$")
SLUG_RULE = "Use lower-case letters, digits and hyphens, like reunite-families."
RESOURCE_KINDS = {"donate": "Donate", "petition": "Petition", "read": "Read more"}
TITLE_MAX, SUMMARY_MAX, UPDATE_MAX = 200, 2000, 2000
POSITION_MAX = 100_000  # a campaign's place in the public list: any order a site needs, and a number SQL holds


def _field_problem(rule, value: str, what: str, limit: int, key: str, errors: dict[str, list[str]]) -> None:
    """The supporters' field rules for what organizers write too: no NUL (PostgreSQL refuses it) and no other
    control characters (a title or a name is one line; a subject becomes a mail header)."""
    try:
        rule(value, what, limit)
    except validation.FieldError as exc:
        errors.setdefault(key, []).append(str(exc))


def campaign_text_problems(title: str, summary: str, position: int | None = None) -> dict[str, list[str]]:
    """What is wrong with a campaign's title and summary (both already stripped) and its place in the list (None:
    unchanged): field → messages."""
    errors: dict[str, list[str]] = {}
    if position is not None and not 0 <= position <= POSITION_MAX:
        errors["position"] = [f"Choose a number from 0 to {POSITION_MAX:,}."]
    if not title:
        errors.setdefault("title", []).append("Give the campaign a title.")
    elif len(title) > TITLE_MAX:
        errors.setdefault("title", []).append(f"Keep the title under {TITLE_MAX} characters.")
    else:
        _field_problem(validation.single_line, title, "The title", TITLE_MAX, "title", errors)
    if len(summary) > SUMMARY_MAX:
        errors.setdefault("summary", []).append(f"Keep the summary under {SUMMARY_MAX:,} characters.")
    else:
        _field_problem(validation.plain_text, summary, "The summary", SUMMARY_MAX, "summary", errors)
    return errors


LINK_RULE = "Links must start with https:// (or http://) and name the site, like https://acme.example/contact"


def clean_update(date: Any, text: str) -> tuple[dt.date, str]:
    """A campaign's dated update, checked and normalized; raises ContentInvalid with every problem."""
    errors: dict[str, list[str]] = {}
    if isinstance(date, str):
        try:
            date = dt.date.fromisoformat(date.strip())
        except ValueError:
            date = None
    if not isinstance(date, dt.date):
        errors["date"] = ["Give the date as YYYY-MM-DD."]
    try:
        text = validation.plain_text(text or "", "The update", UPDATE_MAX)
    except validation.FieldError as exc:
        errors["text"] = [str(exc)]
    else:
        if not text:
            errors["text"] = ["Write what changed, in a sentence or two."]
    if errors:
        raise ContentInvalid(errors)
    return date, text


def clean_resource(kind: str, name: str, url: str | None, description: str = "") -> dict[str, Any]:
    """One of a campaign's resources (“More you can do”), checked and normalized; raises ContentInvalid."""
    errors: dict[str, list[str]] = {}
    kind = (kind or "read").strip()
    name, url, description = (name or "").strip(), (url or "").strip() or None, (description or "").strip()
    if kind not in RESOURCE_KINDS:
        errors["kind"] = [f"Choose one of: {', '.join(RESOURCE_KINDS)}."]
    if not name or len(name) > 200:
        errors["name"] = ["Give it a name (up to 200 characters)."]
    else:
        _field_problem(validation.single_line, name, "The name", 200, "name", errors)
    if url is not None and not validation.is_link(url):
        errors["url"] = [f"{LINK_RULE} — or leave it empty."]
    if len(description) > 1000:
        errors["description"] = ["Keep the description under 1,000 characters."]
    else:
        _field_problem(validation.plain_text, description, "The description", 1000, "description", errors)
    if errors:
        raise ContentInvalid(errors)
    return {"kind": kind, "name": name, "url": url, "description": description}


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
        if raw and not validation.is_link(raw):
            raise ValueError(f"{LINK_RULE}.")
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


def normalize_body(text: str) -> str:
    """A letter body as a file holds it: Unix line ends, no blank lines around it, one final newline."""
    return text.replace("\r\n", "\n").replace("\r", "\n").strip("\n") + "\n"


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _text_problems(name: str, subject: str, body: str) -> dict[str, list[str]]:
    """The rules for a letter's words, its own or a translation's (`_field_problem`'s among them)."""
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = ["Give the letter a name supporters will pick it by."]
    elif len(name) > 200:
        errors["name"] = ["Keep the name under 200 characters."]
    else:
        _field_problem(validation.single_line, name, "The name", 200, "name", errors)
    _field_problem(validation.header_text, subject, "The subject", len(subject), "subject", errors)
    _field_problem(validation.plain_text, body, "The letter", len(body), "body", errors)
    return errors


class TemplateContent(BaseModel):
    """A letter template's text and settings, normalized (`check` says what is wrong with them). Types are strict:
    a file's `salutation_and_signoff: yes` is refused, not guessed at."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str
    subject: str
    body: str
    target_ids: list[str] = Field(default_factory=list)
    target_kinds: list[str] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=list)
    min_note_length: int = 0
    salutation_and_signoff: bool = False
    # Library of Congress topics for letters delivered through CWC (the files' `topics`).
    cwc_topics: list[str] = Field(default_factory=list)
    language: str = "en"  # the language name, subject and body are in
    # The same letter in other languages, {"es": {"name", "subject", "body"}} (the files keep each in a file).
    translations: dict[str, dict[str, str]] = Field(default_factory=dict)

    @field_validator("name", "subject")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @field_validator("body")
    @classmethod
    def _body(cls, value: str) -> str:
        return normalize_body(value)

    @field_validator("target_ids", "target_kinds", "channels")
    @classmethod
    def _once_each(cls, value: list[str]) -> list[str]:
        return _unique(value)

    @property
    def is_call(self) -> bool:
        return self.channels == [CALL]

    def kinds(self, campaign_targets: Mapping[str, str]) -> list[str]:
        """The kinds of target it must render for: its kinds and the kinds of its targets."""
        return sorted({*self.target_kinds, *(campaign_targets[t] for t in self.target_ids if t in campaign_targets)})

    def check(self, campaign_targets: Mapping[str, str]) -> tuple[dict[str, list[str]], list[LetterTemplateError]]:
        """Every problem, given the campaign's targets (id → kind): the settings' rules (field → messages), then
        the template check itself (`framing.problems`, the one `flask letters check` and the tests use)."""
        errors = _text_problems(self.name, self.subject, self.body)
        strangers = [t for t in self.target_ids if t not in campaign_targets]
        if strangers:
            errors["target_ids"] = [f"Not targets of this campaign: {', '.join(strangers)}."]
        unknown_kinds = [k for k in self.target_kinds if k not in TARGET_KINDS]
        if unknown_kinds:
            errors["target_kinds"] = [f"Unknown kinds: {', '.join(unknown_kinds)}."]
        if not self.target_ids and not self.target_kinds:
            errors.setdefault("target_ids", []).append(
                "Choose who this letter is for: some targets, or members of Congress."
            )
        unknown_channels = [c for c in self.channels if c not in ALL_CHANNELS]
        if unknown_channels or not self.channels:
            errors["channels"] = [f"Choose how it may be sent: some of {', '.join(ALL_CHANNELS)}."]
        elif CALL in self.channels and not self.is_call:
            errors["channels"] = [
                "A call script is only for calls: choose “phone call” alone, or the other ways without it."
            ]
        if not 0 <= self.min_note_length <= validation.NOTE_MAX:
            errors["min_note_length"] = [f"Choose a number from 0 to {validation.NOTE_MAX:,}."]
        elif self.min_note_length and self.is_call:
            errors["min_note_length"] = ["A call script has no personal note, so it can't ask for one."]
        if self.is_call and self.salutation_and_signoff:
            errors["salutation_and_signoff"] = [
                "A call script is spoken, so there is no salutation or sign-off to add: turn this off for calls."
            ]
        kinds = self.kinds(campaign_targets)
        topic_problems = cwc_topics.problems(list(self.cwc_topics))
        if topic_problems:
            errors["cwc_topics"] = topic_problems
        elif CWC in self.channels and not self.cwc_topics:
            errors["cwc_topics"] = [
                gettext(
                    "Choose at least one Library of Congress topic: Congress's system files every letter under one."
                )
            ]
        if CWC in self.channels and not set(kinds) & set(LEGISLATOR_KINDS):
            errors.setdefault("channels", []).append(
                gettext(
                    "Congress's own system (CWC) delivers only to members of Congress: choose them, or another way."
                )
            )
        if not LANGUAGE.match(self.language):
            errors["language"] = ["Give the letter's language as a code like en or es."]
        problems = framing.problems(
            self.subject,
            self.body,
            salutation_and_signoff=self.salutation_and_signoff,
            target_kinds=kinds or None,
            require_note=not self.is_call,
            language=self.language,
        )
        for language, text in self.translations.items():
            field_name = f"translations.{language}"
            if not LANGUAGE.match(language) or language == self.language:
                errors[field_name] = [f"“{language}” can't be a translation of a letter written in {self.language}."]
                continue
            if not text.get("name") or not text.get("subject"):
                errors[field_name] = ["A translation needs its own name and subject."]
                continue
            for messages in _text_problems(text["name"], text["subject"], text.get("body", "")).values():
                errors.setdefault(field_name, []).extend(f"{language_name(language, 'en')}: {m}" for m in messages)
            for problem in framing.problems(
                text["subject"],
                text.get("body", ""),
                salutation_and_signoff=self.salutation_and_signoff,
                target_kinds=kinds or None,
                require_note=not self.is_call,
                language=language,
            ):
                errors.setdefault(field_name, []).append(f"{language_name(language, 'en')}: {problem}")
        return errors, problems


# What a value of the wrong type is told, by the type the field wants.
_TYPE_MESSAGES = {
    "bool": "must be true or false",
    "int": "must be a whole number",
    "list": "must be a list like [a, b]",
    "string": "must be text",
}


def problems(exc: ValidationError) -> dict[str, list[str]]:
    """Pydantic's errors as the organizer reads them: field → messages (ours, without pydantic's prefix)."""
    found: dict[str, list[str]] = {}
    for error in exc.errors():
        key = str(error["loc"][0]) if error["loc"] else "_"
        message = error["msg"].removeprefix("Value error, ")
        kind = error["type"].split("_", 1)[0]
        if error["type"] == "extra_forbidden":
            message = "is not a setting this has."
        elif error["type"] == "missing":
            message = "is missing."
        elif kind in _TYPE_MESSAGES and error["type"].endswith(("_type", "_parsing")):
            message = f"{key} {_TYPE_MESSAGES[kind]}."
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
