"""The submission most tests send: the launch campaign's UN letter to OHCHR, the one target with an email."""

from __future__ import annotations

LAUNCH = "reunite-families"
UN_LETTER = "un-human-rights-office"


def un_letter(supporter: dict, channel: str = "mailto", **overrides) -> dict:
    """The JSON body of POST /api/v1/submissions for the UN letter; `overrides` replace or add fields."""
    return {
        "campaign": LAUNCH,
        "template": UN_LETTER,
        "targets": ["ohchr"],
        "supporter": supporter,
        "channel": channel,
        **overrides,
    }
