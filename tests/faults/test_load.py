"""500 concurrent API submissions against gunicorn, hand-offs (mailto) and own-SMTP letters mixed: every answer
is 202 or 429, none is a 5xx, and the totals equal the letters accepted."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.faults.conftest import default_redis_kind, duplicates_of, running_stack
from tests.support.letters import LAUNCH
from tests.support.mailserver import MailServer

pytestmark = pytest.mark.faults

REQUESTS, CLIENTS = 500, 100
# Generous enough that most submissions go through, low enough that some meet the per-address limit.
LIMITS = {"RATELIMIT_PER_ADDRESS": "400 per hour", "RATELIMIT_DEFAULT": "100000 per hour"}


@pytest.fixture(scope="module")
def stack(app, tmp_path_factory, database_url, certificate_authority, mail_sink):
    workdir = tmp_path_factory.mktemp("faults-load")
    with running_stack(default_redis_kind(), workdir, database_url, certificate_authority[1], [mail_sink]) as stack:
        yield stack


def _payload(number: int, sink: MailServer) -> dict:
    payload = {
        "campaign": LAUNCH,
        "template": "un-human-rights-office",
        "targets": ["ohchr"],
        "supporter": {
            "name": f"Load Supporter {number}",
            "email": f"load{number}@example.org",
            "zip": "94110",
            "note": "I am writing because these children deserve to be with their parents again.",
        },
        "channel": "smtp" if number % 2 else "mailto",
    }
    if number % 2:
        payload["smtp"] = sink.smtp_settings()
    return payload


def _post(url: str, payload: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as exc:
        body = exc.read()
        try:
            return exc.code, json.loads(body)
        except ValueError:
            return exc.code, {"raw": body[:200].decode(errors="replace")}


def test_concurrent_submissions_through_gunicorn(stack, mail_sink, report):
    mail_sink.reset()
    _, base = stack.web(workers=2, threads=4, **LIMITS)
    stack.worker("load", concurrency=2)
    started = time.monotonic()
    with ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(lambda n: _post(f"{base}/api/v1/submissions", _payload(n, mail_sink)), range(REQUESTS)))
    answered = time.monotonic() - started
    codes = Counter(code for code, _ in results)
    accepted = [body for code, body in results if code == 202]
    by_channel = Counter(letter["channel"] for body in accepted for letter in body["letters"])
    letters = sum(by_channel.values())
    counts = stack.wait_terminal(letters, timeout=120)
    with urllib.request.urlopen(f"{base}/api/v1/campaigns/{LAUNCH}/totals", timeout=30) as response:
        totals = json.load(response)["totals"]
    duplicates = duplicates_of(mail_sink)
    report(
        f"requests={REQUESTS} from {CLIENTS} clients answered in {answered:.1f}s ({REQUESTS / answered:.0f}/s) "
        f"codes={dict(sorted(codes.items()))} accepted_letters={dict(by_channel)} final={dict(counts)} "
        f"totals={totals} smtp_received={len(mail_sink.received)} duplicates={len(duplicates)} "
        f"all_done_in={time.monotonic() - started:.1f}s"
    )
    errors = [body for code, body in results if code >= 500]
    assert not errors, f"{len(errors)} server errors, e.g. {errors[:3]}"
    assert set(codes) <= {202, 429}, codes
    assert codes[202] > 0
    assert counts == {"sent": by_channel["smtp"], "handed_off": by_channel["mailto"]}
    assert (totals["sent"], totals["handed_off"]) == (by_channel["smtp"], by_channel["mailto"])
    assert len(mail_sink.received) == by_channel["smtp"] and not duplicates
