"""Schemathesis against /api/v1/openapi.json, in process (WSGI): no 5xx, and every response matches the
documented status codes, content types and schemas, for schema-valid and for invalid requests. DNS is
stubbed (it is outside the product): generated SMTP host names resolve to nothing, so nothing reaches the
network.

Schemathesis' own pytest loader (`from_fixture`) does not run on pytest 9 yet, so each operation's
Hypothesis strategy is driven here directly."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.letters import LAUNCH
from webapp.delivery import ssrf
from webapp.extensions import get_redis

OPENAPI = yaml.safe_load((Path(__file__).resolve().parents[2] / "webapp" / "api" / "openapi.yaml").read_text())
OPERATIONS = [
    (method.upper(), path) for path, item in OPENAPI["paths"].items() for method in item if method != "parameters"
]
# Invalid input only means something where a body can be invalid (every string is a valid path parameter).
WITH_BODY = [(method, path) for method, path in OPERATIONS if "requestBody" in OPENAPI["paths"][path][method.lower()]]
# Examples per operation and mode; with the operations in the document this stays well under a minute.
EXAMPLES = 50
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def no_dns(host, port, *args, **kwargs):
    raise socket.gaierror(socket.EAI_NONAME, f"{host}: not resolved in tests")


@pytest.fixture
def api_schema(app, monkeypatch):
    monkeypatch.setattr(ssrf, "getaddrinfo", no_dns)
    with app.app_context():
        # A delivery worker's heartbeat (tasks/celery.py), so /healthz has no reason to answer 503, which
        # the not-a-server-error check would count against it.
        get_redis().set("outcry:worker:fuzz:1", "alive", ex=600)
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)


def pin_to_the_launch_campaign(case):
    """Random slugs only ever meet a 404; pinned to a real campaign, letter and target, the supporter's
    fields, edits and SMTP settings get through to validation, rendering and the outbox."""
    if isinstance(case.body, dict) and "supporter" in case.body:
        case.body.update(campaign=LAUNCH, template="un-human-rights-office", targets=["ohchr"])
        if isinstance(case.body["supporter"], dict):
            case.body["supporter"]["email"] = "fuzz@example.org"  # generated addresses rarely pass email-validator
    return case


CASES = (
    [(method, path, GenerationMode.POSITIVE, False) for method, path in OPERATIONS]
    + [(method, path, GenerationMode.NEGATIVE, False) for method, path in WITH_BODY]
    + [
        ("POST", "/api/v1/submissions", GenerationMode.POSITIVE, True),
        ("POST", "/api/v1/submissions", GenerationMode.NEGATIVE, True),
    ]
)


@pytest.mark.parametrize(
    "method,path,mode,pinned",
    CASES,
    ids=[f"{m} {p} {mode.value}{' launch' if pinned else ''}" for m, p, mode, pinned in CASES],
)
def test_the_api_keeps_its_documented_promises(api_schema, method, path, mode, pinned):
    operation = api_schema[path][method]
    strategy = operation.as_strategy(generation_mode=mode)
    if pinned:
        strategy = strategy.map(pin_to_the_launch_campaign)

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(case=strategy)
    def fuzz(case):
        case.call_and_validate(checks=CHECKS)

    fuzz()
