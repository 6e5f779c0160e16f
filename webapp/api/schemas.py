"""JSON request bodies, validated with pydantic using the same field rules as the HTML forms."""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar

from flask import abort, request
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_core import PydanticCustomError
from werkzeug.exceptions import BadRequest

from webapp.core import validation
from webapp.core.invalid import Invalid

Model = TypeVar("Model", bound=BaseModel)


def _rule(rule, value: str) -> str:
    try:
        return rule(value)
    except validation.FieldError as exc:
        raise PydanticCustomError("invalid", str(exc)) from None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=25_000)


class SupporterIn(_Strict):
    name: str
    email: str = ""  # required for every channel but a phone call (the service says so)
    zip: str
    address: str = ""
    note: str = ""

    @field_validator("name", "email", "zip", "address", "note")
    @classmethod
    def _check(cls, value: str, info) -> str:
        if info.field_name == "email" and not value.strip():
            return ""
        rules = {
            "name": validation.name,
            "email": validation.email,
            "zip": validation.zip_code,
            "address": validation.address,
            "note": validation.note,
        }
        return _rule(rules[info.field_name], value)


class SmtpIn(_Strict):
    host: str = Field(min_length=1, max_length=253)
    port: int = Field(ge=1, le=65535)
    security: Literal["starttls", "ssl"]
    username: str = Field(min_length=1, max_length=254)
    password: SecretStr = Field(min_length=1, max_length=1024)

    @field_validator("username")
    @classmethod
    def _check_username(cls, value: str) -> str:
        return _rule(validation.smtp_username, value)


class PostalIn(_Strict):
    """The full postal address a letter to Congress through CWC carries (checked by webapp/cwc/address.py)."""

    prefix: str = Field(max_length=40)
    first_name: str = Field(max_length=200)
    last_name: str = Field(max_length=200)
    street: str = Field(max_length=200)
    street2: str = Field(default="", max_length=200)
    city: str = Field(max_length=200)
    state: str = Field(max_length=10)
    zip: str = Field(max_length=20)


# A target's id as the database holds it (Target.id, 64 characters at most): a longer one names nobody, and is
# refused here rather than looked up and repeated back in the answer.
TargetId = Annotated[str, Field(min_length=1, max_length=64)]


class SubmissionIn(_Strict):
    campaign: str = Field(min_length=1, max_length=80)
    template: str = Field(min_length=1, max_length=80)
    targets: list[TargetId] = Field(min_length=1, max_length=validation.LETTERS_MAX)
    supporter: SupporterIn
    channel: Literal["smtp", "mailto", "contact_form", "call", "print", "cwc"]
    subject: str | None = None
    body: str | None = None
    smtp: SmtpIn | None = None
    postal: PostalIn | None = None
    # The language the letters are written in: one of the template's `languages` (its own when left out).
    language: str | None = Field(default=None, min_length=2, max_length=16)


def errors_of(exc: ValidationError) -> dict[str, list[str]]:
    """pydantic's errors as {"supporter.email": ["message", …]}; input values are never echoed."""
    errors: dict[str, list[str]] = {}
    for error in exc.errors(include_input=False, include_url=False):
        path = ".".join(str(part) for part in error["loc"]) or "body"
        errors.setdefault(path, []).append(error["msg"])
    return errors


class ConfirmIn(_Strict):
    outcome: Literal["sent", "called", "voicemail"]


class HandOffIn(_Strict):
    channel: Literal["mailto", "contact_form", "print", "cwc"]
    postal: PostalIn | None = None  # for cwc: the corrected address


def parse(model: type[Model]) -> Model:
    """The request's JSON object (`json_object`) checked by `model`; Invalid with every field's messages if not."""
    try:
        return model.model_validate(json_object())
    except ValidationError as exc:
        raise Invalid(errors_of(exc)) from None


def json_object() -> dict:
    """The request's JSON body, which must be an object sent as `application/json` (both APIs).

    Any other content type is a 415, read or not: a web page can make its visitors' browsers post
    `text/plain` or a form to another site without asking, but not `application/json` (that needs a
    CORS preflight, which this API never grants). Malformed or too deeply nested JSON is a 400.
    """
    if request.mimetype != "application/json":
        abort(415, description="Send the request body as JSON, with the header 'Content-Type: application/json'.")
    try:
        data = request.get_json()
    except BadRequest:
        abort(400, description="The request body is not valid JSON.")
    if not isinstance(data, dict):
        abort(400, description="The request body must be a JSON object.")
    return data
