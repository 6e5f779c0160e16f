"""The API requests the bench sends: launch-campaign submissions, each from a different supporter."""

from __future__ import annotations

import json

from bench.harness import LAUNCH_CAMPAIGN
from bench.loadgen import request_bytes
from bench.sink import PASSWORD, USERNAME

# The launch campaign's letter to the UN human-rights office: the one target with a public email address.
TEMPLATE = "un-human-rights-office"
TARGET = "ohchr"
SUBMISSIONS_PATH = "/api/v1/submissions"


def submission(index: int, channel: str, smtp_port: int | None = None) -> dict:
    body = {
        "campaign": LAUNCH_CAMPAIGN,
        "template": TEMPLATE,
        "targets": [TARGET],
        "channel": channel,
        "supporter": {
            "name": f"Bench Supporter {index}",
            "email": f"supporter{index}@example.org",
            "zip": "94110",
            "address": f"{index} Valencia St\nSan Francisco, CA 94110",
            "note": "I am a parent, and I cannot imagine my children being taken from me at a border.",
        },
    }
    if channel == "smtp":
        body["smtp"] = {
            "host": "localhost",
            "port": smtp_port,
            "security": "starttls",
            "username": USERNAME,
            "password": PASSWORD,
        }
    return body


def submission_requests(port: int, channel: str, smtp_port: int | None = None):
    """A request factory for the load generator: index → raw HTTP request bytes."""

    def make(index: int) -> bytes:
        payload = json.dumps(submission(index, channel, smtp_port), separators=(",", ":")).encode()
        return request_bytes("POST", "127.0.0.1", port, SUBMISSIONS_PATH, payload)

    return make
