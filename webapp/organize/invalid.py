"""Input the workspace can't use, field by field: what its services raise and its views and API show.

The types are webapp/core/invalid.py's, which every feature shares; a refused letter template adds its problems.
"""

from __future__ import annotations

from typing import Any

from webapp.core.invalid import Conflict, Invalid
from webapp.core.rendering import LetterTemplateError
from webapp.organize.editor import problem_view

__all__ = ["Conflict", "Invalid", "TemplateInvalid"]


class TemplateInvalid(Invalid):
    """A letter template refused by `check_template` (or by the settings around it), with field and line.

    `source` is the subject and body the problems were found in, so the API can quote each problem's line.
    """

    def __init__(
        self,
        problems: list[LetterTemplateError],
        errors: dict[str, list[str]] | None = None,
        source: tuple[str, str] = ("", ""),
    ):
        merged = dict(errors or {})
        for problem in problems:
            merged.setdefault(problem.field, []).append(str(problem))
        super().__init__(merged)
        self.problems = problems
        self.source = source

    def body(self) -> dict[str, Any]:
        problems = [problem_view(problem, *self.source) for problem in self.problems]
        error = "The letter can't be saved: " + "; ".join(p["error"] for p in problems)
        return {**super().body(), "problems": problems, "error": error}
