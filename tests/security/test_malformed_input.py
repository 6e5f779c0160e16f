"""A hostile stranger and a careless client against every supporter route and every public API endpoint (listed from
`app.url_map`, so a new route is swept too): non-UTF-8 bytes in the query and the form, odd and huge numbers, '²' and
'٣' digits in ids, NUL bytes, repeated fields, wrong content types, JSON of the wrong shape, absurd Accept-Language
and Accept headers, very long paths. Every answer is below 500, and a refusal of bad input is a 4xx with words.

Table-driven rather than generated: each row is a kind of bad input someone has sent a web app, and a failure names
the route, the row and what came back. The JSON API's documented shapes are fuzzed by test_api_fuzz.py."""

from __future__ import annotations

import pytest

from tests.conftest import csrf_token
from tests.support.letters import LAUNCH
from tests.support.pages import SEND, WRITE, preview, send_form
from webapp.extensions import get_redis

# Routes of the organizer side (they need a log-in, and have their own review) and files.
SKIPPED_PREFIXES = ("/organize", "/api/v1/organize", "/static")

ODD_IDS = ["²", "٣", "1²", "\x00", "%00", "9" * 400, "-1", "1e999", "ß" * 40, "..", "x" * 3000]
ODD_QUERIES = [
    b"target=%ff%fe&zip=%ff&template=%c3&draft=%80&lang=%ff",
    b"zip=%00&target=%00&draft=%00&state=%00&next=%00",
    b"zip=%c2%b2%c2%b2%c2%b2%c2%b2%c2%b2&target=%d9%a3&page=%d9%a3&limit=%c2%b2",
    b"zip=9999999999999999999999999999&page=99999999999999999999&limit=-1&since=1e999",
    b"target=ohchr&target=ohchr&target=ohchr&template=a&template=b&zip=94110&zip=10001",
    b"target=" + b"a" * 20000,
    b"%ff%ff=%ff&=&&&==&%=%",
    # 94110 in Arabic-Indic and in fullwidth digits; a state and a draft that are not one
    b"zip=%d9%a9%d9%a4%d9%a1%d9%a1%d9%a0&target=ohchr&state=%d9%a3&draft=..%2f..",
    b"zip=%ef%bc%99%ef%bc%94%ef%bc%91%ef%bc%91%ef%bc%90&state=ca&q=%00&code=%ff&state=%ff&error=%00",
]
HEADERS = [
    {"Accept-Language": "x" * 8000},
    {"Accept-Language": "es;q=2, ;;;, *;q=abc, en-;q=-1, \u00e9s"},
    {"Accept-Language": "\x00"},
    {"Accept": "application/json;q=nope, */*;q=999, text/html;;;"},
    {"Accept": "x" * 8000, "Accept-Language": "es-419-xx-yy-zz"},
]


def routes(app) -> list[tuple[str, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(SKIPPED_PREFIXES):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((method, rule.rule))
    return sorted(found, key=lambda route: ("forget" in route[1], route))  # erasing the visit's data last


def fill(rule: str, value: str) -> str:
    """The rule with every <argument> replaced by `value` (path-quoted as a browser would)."""
    from urllib.parse import quote

    out, rest = "", rule
    while "<" in rest:
        before, _, after = rest.partition("<")
        _, _, rest = after.partition(">")
        out += before + quote(value, safe="")
    return out + rest


def real_ids(client, supporter) -> dict[str, str]:
    """Ids that exist, made through the pages so this visit holds them (its draft, its submission, its letter): the
    odd query, form and headers then reach a route's own code, not only its 404."""
    shown = preview(client, supporter)
    draft_id = shown.request.path.rsplit("/", 1)[-1]
    fields = send_form(shown)
    fields["action"] = ["mailto"]
    status_url = client.post(SEND, data=fields).headers["Location"]
    submission_id = status_url.rsplit("/", 1)[-1]
    letter_id = client.get(f"/api/v1/submissions/{submission_id}").get_json()["letters"][0]["id"]
    return {
        "slug": LAUNCH,
        "submission_id": submission_id,
        "letter_id": letter_id,
        "draft_id": draft_id,
        "provider": "google",
    }


def fill_real(rule: str, ids: dict[str, str]) -> str:
    out, rest = "", rule
    while "<" in rest:
        before, _, after = rest.partition("<")
        name, _, rest = after.partition(">")
        out += before + ids.get(name.split(":")[-1], "x")
    return out + rest


class Sweep:
    """Sends requests and keeps every answer of 500 or more (or exception) with what was sent."""

    def __init__(self, client):
        self.client = client
        self.failures: list[str] = []

    def send(self, what: str, method: str, url: str, **kwargs) -> None:
        try:
            answer = self.client.open(url, method=method, **kwargs)
        except Exception as exc:  # noqa: BLE001 - TESTING re-raises what would be a 500: count it as one
            self.failures.append(f"{method} {url[:120]} [{what}]: raised {type(exc).__name__}: {exc}"[:400])
            return
        if answer.status_code >= 500:
            self.failures.append(f"{method} {url[:120]} [{what}]: {answer.status_code}")
        elif answer.status_code in (400, 404, 405, 413, 415, 422) and not answer.get_data().strip():
            self.failures.append(f"{method} {url[:120]} [{what}]: a {answer.status_code} with no words")


@pytest.fixture
def sweep(app, client):
    with app.app_context():
        # A delivery worker's heartbeat (tasks/celery.py), so /healthz has no reason to answer 503.
        get_redis().set("outcry:worker:sweep:1", "alive", ex=600)
    return Sweep(client)


def token(client) -> str:
    return csrf_token(client.get(f"{WRITE}?target=ohchr").get_data(as_text=True))


def test_odd_ids_in_every_path(app, sweep):
    for method, rule in routes(app):
        if "<" not in rule:
            continue
        for value in ODD_IDS:
            sweep.send(f"id {value[:12]!r}", method, fill(rule, value))
    assert not sweep.failures, "\n".join(sweep.failures)


def test_odd_queries_and_headers_on_every_route(app, client, sweep, supporter):
    ids = real_ids(client, supporter)
    for method, rule in routes(app):
        url = fill_real(rule, ids)
        for query in ODD_QUERIES:
            sweep.send(f"query {query[:30]!r}", method, f"{url}?{query.decode()}")
        for headers in HEADERS:
            sweep.send(f"headers {str(headers)[:40]}", method, url, headers=headers)
    assert not sweep.failures, "\n".join(sweep.failures)


def test_odd_bodies_on_every_post(app, client, sweep, supporter):
    ids = real_ids(client, supporter)
    csrf = token(client).encode()
    form = b"application/x-www-form-urlencoded"
    bodies = [
        ("non-UTF-8 form", form, b"csrf_token=" + csrf + b"&targets=%ff%fe&template=%c3&name=%ff&zip=%ff&note=%80"),
        ("NUL form", form, b"csrf_token=" + csrf + b"&targets=ohchr%00&name=a%00b&zip=941%0010&email=%00&next=%00"),
        (
            "repeated fields",
            form,
            b"csrf_token=" + csrf + b"&csrf_token=x&targets=ohchr&targets=ohchr&template=a&template=b&action=mailto"
            b"&action=smtp&zip=94110&zip=%c2%b2&letters-0-body=a&letters-0-body=b&letters-%d9%a3-body=c"
            b"&letters-99999999999999999999-body=d&smtp_port=%c2%b2&smtp_port=99999999999999999999",
        ),
        (
            "odd numbers",
            form,
            b"csrf_token=" + csrf + b"&targets=ohchr&template=un-human-rights-office&name=M&email=m%40example.org"
            b"&smtp_port=%d9%a3%d9%a3&letters-%c2%b2-subject=s&letters--1-body=b&letters-1e9-body=b&count=1e999"
            b"&language=es&next=http%3A%2F%2F%5B%3A%3A1",
        ),
        (
            "every field odd",
            form,
            b"csrf_token=" + csrf + b"&targets=ohchr&template=un-human-rights-office&name=%00&email=a%40%ff.org"
            b"&zip=%d9%a9%d9%a4%d9%a1%d9%a1%d9%a0&address=%ff&note=%00&offered_zip=%c2%b2&draft=%ff&provider=%ff"
            b"&smtp_host=%00&smtp_port=%c2%b2&smtp_security=%ff&smtp_username=%00&smtp_password=%ff"
            b"&letters-0-target=%ff&letters-0-drafted=%ff&letters-0-subject=%00&letters-0-body=x&action=%ff"
            b"&language=%ff&next=%ff&outcome=%ff&street=%00&city=%ff&state=%d9%a3&zip4=%c2%b2&phone=%ff&prefix=%ff",
        ),
        (
            "fullwidth ZIP, every action",
            form,
            b"csrf_token=" + csrf + b"&targets=ohchr&targets=P000197&template=un-human-rights-office&name=M"
            b"&email=m%40example.org&zip=%ef%bc%99%ef%bc%94%ef%bc%91%ef%bc%91%ef%bc%90&action=smtp&action=mailto"
            b"&action=print&action=contact_form&action=call&provider=other&smtp_port=99999999999999999999",
        ),
        ("multipart, no boundary", b"multipart/form-data", b"csrf_token=" + csrf),
        ("text/plain", b"text/plain", b"\xff\xfe\x00"),
        ("JSON to a form", b"application/json", b'{"csrf_token": "' + csrf + b'", "targets": ["ohchr"]}'),
        ("broken JSON", b"application/json", b"\xff{"),
        ("JSON list", b"application/json", b"[1, 2, 3]"),
        ("JSON string", b"application/json", b'"x"'),
        ("JSON null", b"application/json", b"null"),
        ("JSON numbers", b"application/json", b'{"targets": 1e999, "supporter": 99999999999999999999999}'),
        (
            "JSON of the wrong shape",
            b"application/json",
            b'{"campaign": ["x"], "template": {}, "targets": "ohchr", "supporter": [], "channel": 1, "language": []}',
        ),
        (
            "JSON nearly right",
            b"application/json",
            b'{"campaign": "' + LAUNCH.encode() + b'", "template": "un-human-rights-office", "targets": ["ohchr", '
            b'"ohchr"], "supporter": {"name": "M\\u0000", "email": "m@example.org", "zip": "\\u0663\\u0663"}, '
            b'"channel": "mailto", "outcome": {}, "confirmed": "yes"}',
        ),
        ("JSON, NUL", b"application/json", b'{"\\u0000": "\\u0000", "targets": ["\\u0000"]}'),
        (  # PostgreSQL refuses a NUL in any query: each must be refused before one is made
            "JSON of the right shape, NUL in every string",
            b"application/json",
            b'{"campaign": "' + LAUNCH.encode() + b'", "template": "un-\\u0000", "targets": ["ohchr\\u0000"], '
            b'"supporter": {"name": "M\\u0000", "email": "m\\u0000@example.org", "zip": "94110\\u0000"}, '
            b'"channel": "mailto", "outcome": "\\u0000", "subject": "\\u0000", "body": "\\u0000"}',
        ),
        ("JSON, a NUL campaign", b"application/json", b'{"campaign": "\\u0000", "template": "x", "targets": ["x"]}'),
        ("JSON, deep", b"application/json", b"[" * 5000 + b"]" * 5000),
    ]
    for method, rule in routes(app):
        if method not in ("POST", "PUT"):
            continue
        url = fill_real(rule, ids)
        for what, content_type, body in bodies:
            sweep.send(what, method, url, data=body, content_type=content_type.decode())
    assert not sweep.failures, "\n".join(sweep.failures)


def test_very_long_paths(app, sweep):
    for path in ("/c/" + "a" * 20000, "/" + "x/" * 5000, "/api/v1/submissions/" + "9" * 20000, "/c/%ff%fe/write"):
        for method in ("GET", "POST"):
            sweep.send("long path", method, path)
    assert not sweep.failures, "\n".join(sweep.failures)


@pytest.mark.parametrize("port", ["²", "٣٣", "５８７", "99999999999999999999", "-587", "5e2", "\x00"])
def test_odd_port_numbers_on_the_send_step(client, supporter, port):
    """The mail server's port as a hostile or careless form sends it: a 422 that says so (or the address refused),
    the letter kept, never a 500. The host is a private address, refused before any lookup or connection."""
    fields = send_form(preview(client, supporter))
    fields.update(
        action=["smtp"], provider=["other"], smtp_host=["10.0.0.1"], smtp_port=[port], smtp_security=["starttls"],
        smtp_username=["m@example.org"], smtp_password=["secret-pass"],
    )  # fmt: skip
    answer = client.post(SEND, data=fields)
    assert answer.status_code == 422
    assert "Dear Office of the High Commissioner," in answer.get_data(as_text=True)
