"""Input the workspace can't use, field by field: what its services raise and its views and API show."""

from __future__ import annotations

from webapp.core.rendering import LetterTemplateError


class Invalid(ValueError):
    """Input the workspace can't use: field → messages, shown next to the fields (or as JSON from the API)."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{key}: {' '.join(messages)}" for key, messages in errors.items()))
        self.errors = errors


class TemplateInvalid(Invalid):
    """A letter template refused by `check_template` (or by the settings around it), with field and line."""

    def __init__(self, problems: list[LetterTemplateError], errors: dict[str, list[str]] | None = None):
        merged = dict(errors or {})
        for problem in problems:
            merged.setdefault(problem.field, []).append(str(problem))
        super().__init__(merged)
        self.problems = problems
