"""Input that cannot be used, field by field: the one error type every feature raises for it.

A form shows the messages beside their fields; the JSON APIs answer them as documented in openapi.yaml
(`{"errors": {field: [message, …]}}`, a 422; webapp/core/json_errors.py). Feature packages name their
own cases as subclasses (a submission, a target or template's content, a postal address, an account) where
a caller tells them apart; the fields and messages are always `errors`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class Invalid(ValueError):
    """`errors` maps a field, or a path into a JSON body ("postal.zip", "updates.2.text"), to whole sentences.

    A ValueError, so a pydantic validator may raise it and have its message shown for the field it checks.
    """

    status = 422  # what the JSON APIs answer with

    def __init__(self, errors: Mapping[str, Sequence[str]]):
        self.errors: dict[str, list[str]] = {field: list(messages) for field, messages in errors.items()}
        super().__init__(
            "; ".join(
                f"{field}: {' '.join(messages)}" if field else " ".join(messages)
                for field, messages in self.errors.items()
            )
        )

    def under(self, prefix: str) -> dict[str, list[str]]:
        """The same errors with each field put under `prefix` ("postal" → "postal.zip")."""
        return {f"{prefix}.{field}" if field else prefix: messages for field, messages in self.errors.items()}

    def body(self) -> dict[str, Any]:
        """What the JSON APIs answer."""
        return {"errors": self.errors}


class Conflict(Invalid):
    """Input made against an older state than the current one (someone saved in between): a 409."""

    status = 409
