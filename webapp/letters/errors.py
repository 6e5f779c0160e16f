"""Why a supporter's request cannot become letters: the errors every step of the submission raises."""

from __future__ import annotations

from webapp.core.invalid import Invalid


class SubmissionInvalid(Invalid):
    """Input that cannot become letters: field path → messages, for a 422 or the form."""


class NotFound(LookupError):
    """An unknown campaign, template or target id: a 404."""
