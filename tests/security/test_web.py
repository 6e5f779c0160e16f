"""The web attack surface: security headers on every response, Secure session cookies outside debug, CSRF on
every form (CSRF on, as in production), and escaped output of everything a supporter can type."""

from __future__ import annotations

import html
from html.parser import HTMLParser

import pytest

from tests.conftest import csrf_token
from tests.support.forms import form_fields
from tests.support.letters import LAUNCH, un_letter
from tests.support.pages import SEND, WRITE
from webapp.core import validation
from webapp.security.headers import CONTENT_SECURITY_POLICY

# ---- headers ------------------------------------------------------------------------------------------------------


def responses(client):
    """One response of every kind: pages, errors, JSON, static files, health."""
    return {
        "index": client.get("/"),
        "campaign": client.get(f"/c/{LAUNCH}"),
        "write": client.get(f"{WRITE}?target=ohchr"),
        "404 page": client.get("/c/no-such-campaign"),
        "405": client.get(SEND),
        "400 csrf": client.post(WRITE, data={}),
        "api": client.get("/api/v1/campaigns"),
        "api 404": client.get("/api/v1/submissions/nope"),
        "api 413": client.post(
            "/api/v1/submissions", data=b"{" + b" " * validation.REQUEST_MAX + b"}", content_type="application/json"
        ),
        "openapi": client.get("/api/v1/openapi.json"),
        "static": client.get("/static/js/outcry.js"),
        "health": client.get("/healthz"),
    }


@pytest.mark.parametrize(
    "header,value",
    [
        ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "same-origin"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
    ],
)
def test_every_response_carries_the_security_headers(client, header, value):
    for name, response in responses(client).items():
        assert response.headers.get(header) == value, f"{name} ({response.status_code}) lacks {header}"


def test_the_csp_forbids_inline_script_plugins_framing_and_foreign_forms():
    directives = dict(part.split(" ", 1) for part in CONTENT_SECURITY_POLICY.split("; "))
    assert directives["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval', no hosts
    assert directives["default-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["form-action"] == "'self'"
    assert "unsafe" not in CONTENT_SECURITY_POLICY


class Tags(HTMLParser):
    """Every start tag with its attributes."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def tags_of(page: str) -> list[tuple[str, dict]]:
    parser = Tags()
    parser.feed(page)
    return parser.tags


def assert_policy_holds(page: str) -> None:
    """What the CSP would block does not occur: inline script, inline handlers, inline styles, foreign forms."""
    for tag, attrs in tags_of(page):
        if tag == "script":
            assert attrs.get("src", "").startswith("/static/"), f"inline or foreign script: {attrs}"
        if tag == "style":
            raise AssertionError("inline <style> block")
        if tag == "form":
            assert attrs.get("action", "/").startswith("/") or attrs.get("action") is None
        for name, value in attrs.items():
            assert not name.startswith("on"), f"inline event handler {name}= on <{tag}>"
            assert name != "style", f"inline style on <{tag}>"
            if name in ("href", "src", "action"):
                assert not (value or "").lower().lstrip().startswith("javascript:")


def test_pages_work_under_the_csp(client, supporter):
    """The pages a supporter walks through use nothing the CSP forbids, and the mail hand-offs are links."""
    pages = [client.get("/"), client.get(f"/c/{LAUNCH}"), client.get(f"{WRITE}?target=ohchr")]
    page = pages[-1].get_data(as_text=True)
    preview = client.post(
        WRITE,
        data={"csrf_token": csrf_token(page), "targets": ["ohchr"], "template": "un-human-rights-office", **supporter},
        follow_redirects=True,
    )
    pages.append(preview)
    fields = form_fields(preview.get_data(as_text=True))
    fields["action"] = ["mailto"]
    sent = client.post(SEND, data=fields)
    assert sent.status_code == 303
    status = client.get(sent.headers["Location"])
    pages.append(status)
    call = client.get(f"/c/{LAUNCH}/call?target=us-mission-un")
    calling = form_fields(call.get_data(as_text=True))
    pages += [call, client.post(f"/c/{LAUNCH}/call", data=calling, follow_redirects=True)]
    pages += [client.get(f"/c/{LAUNCH}/receipt"), client.get(f"/c/{LAUNCH}/poster")]
    for response in pages:
        assert response.status_code == 200
        assert_policy_holds(response.get_data(as_text=True))
    links = [attrs.get("href", "") for tag, attrs in tags_of(status.get_data(as_text=True)) if tag == "a"]
    assert any(href.startswith("mailto:") for href in links)
    assert any(href.startswith("https://mail.google.com/") for href in links)


# ---- cookies ------------------------------------------------------------------------------------------------------


def session_cookie(response) -> str:
    cookies = [value for value in response.headers.getlist("Set-Cookie") if value.startswith("session=")]
    assert cookies, "no session cookie was set"
    return cookies[0]


def test_session_cookies_are_secure_outside_debug(make_app):
    production = make_app(TESTING=False, SECRET_KEY="a-production-like-secret-key-for-this-test")
    assert production.config["SESSION_COOKIE_SECURE"] is True
    cookie = session_cookie(production.test_client().get(f"{WRITE}?target=ohchr", base_url="https://outcry.test"))
    assert "; Secure" in cookie and "; HttpOnly" in cookie and "SameSite=Lax" in cookie
    debug = make_app(TESTING=False, DEBUG=True)  # `make run` on http://127.0.0.1 needs a plain cookie
    assert not debug.config.get("SESSION_COOKIE_SECURE")


def test_same_origin_referrers_keep_https_form_posts_working(make_app, supporter):
    """Flask-WTF refuses an HTTPS form post without a same-site Referer; `Referrer-Policy: same-origin`
    still sends it to us (`no-referrer` would break every form)."""
    production = make_app(TESTING=False, SECRET_KEY="a-production-like-secret-key-for-this-test")
    client = production.test_client()
    https = {"base_url": "https://outcry.test"}
    page = client.get(f"{WRITE}?target=ohchr", **https)
    assert page.headers["Referrer-Policy"] == "same-origin"
    data = {
        "csrf_token": csrf_token(page.get_data(as_text=True)),
        "targets": ["ohchr"],
        "template": "un-human-rights-office",
        **supporter,
    }
    assert (
        client.post(
            WRITE, data=data, headers={"Referer": f"https://outcry.test{WRITE}?target=ohchr"}, **https
        ).status_code
        == 303  # to the preview
    )
    assert client.post(WRITE, data=data, **https).status_code == 400  # what no-referrer would cause
    assert client.post(WRITE, data=data, headers={"Referer": "https://evil.example/"}, **https).status_code == 400


# ---- CSRF on every form -------------------------------------------------------------------------------------------


def state_changing_endpoints(app) -> list[tuple[str, str]]:
    """Every HTML route that accepts a state-changing method (the JSON API takes no cookies)."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") or rule.endpoint == "static":
            continue
        for method in sorted((rule.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}):
            found.append((method, rule.rule, rule.endpoint))
    return found


def fill(rule: str, client) -> str:
    """A URL for a rule: the launch campaign, and a real submission or letter where one is needed."""
    path = rule.replace("<slug>", LAUNCH)
    if "<" in path:
        created = client.post(
            "/api/v1/submissions",
            json=un_letter({"name": "Ana", "email": "ana@example.org", "zip": "94110"}),
        ).get_json()
        path = path.replace("<submission_id>", created["id"]).replace("<letter_id>", created["letters"][0]["id"])
    return path


def test_every_form_endpoint_refuses_posts_without_a_valid_token(app, client):
    endpoints = state_changing_endpoints(app)
    assert {endpoint for _m, _r, endpoint in endpoints} >= {"letters.write", "letters.send"}
    for method, rule, endpoint in endpoints:
        url = fill(rule, client)
        for data in (
            {},
            {"csrf_token": "forged"},
            {"csrf_token": csrf_token(client.get(f"{WRITE}?target=ohchr").get_data(as_text=True)) + "x"},
        ):
            response = client.open(url, method=method, data={**data, "outcome": "sent", "action": "mailto"})
            assert response.status_code == 400, f"{method} {rule} ({endpoint}) accepted {data}"
            assert "This form expired" in html.unescape(response.get_data(as_text=True))


def test_every_post_form_on_every_page_carries_a_token(client, supporter):
    page = client.get(f"{WRITE}?target=ohchr").get_data(as_text=True)
    preview = client.post(
        WRITE,
        data={"csrf_token": csrf_token(page), "targets": ["ohchr"], "template": "un-human-rights-office", **supporter},
        follow_redirects=True,
    )
    fields = form_fields(preview.get_data(as_text=True))
    fields["action"] = ["mailto"]
    status = client.get(client.post(SEND, data=fields).headers["Location"])
    pages = [client.get("/"), client.get(f"/c/{LAUNCH}"), client.get(f"{WRITE}?target=ohchr"), preview, status]
    pages += [client.get(f"/c/{LAUNCH}/receipt"), client.get(f"/c/{LAUNCH}/call")]
    posts = 0
    for response in pages:
        text = response.get_data(as_text=True)
        forms = text.split("<form")[1:]
        for form in forms:
            form = form.split("</form>")[0]
            if 'method="post"' in form.lower():
                posts += 1
                assert 'name="csrf_token"' in form, f"a POST form without a CSRF token: {form[:200]}"
    assert posts >= 2


def test_a_foreign_site_cannot_post_with_the_supporters_session(client, supporter):
    """Cross-site: the attacker's page has no token of ours; our session cookie alone is not enough."""
    client.get(f"{WRITE}?target=ohchr")  # the supporter has a session
    forged = {"targets": ["ohchr"], "template": "un-human-rights-office", "action": "mailto", **supporter}
    response = client.post(
        SEND, data=forged, headers={"Origin": "https://evil.example", "Referer": "https://evil.example/"}
    )
    assert response.status_code == 400


# ---- XSS --------------------------------------------------------------------------------------------------------

PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'><svg onload=alert(1)>",
    "</textarea><script>alert(1)</script>",
    "javascript:alert(1)",
    "{{ 7*7 }} {% raw %}",
]


def assert_escaped(page: str, payload: str) -> None:
    if "<" in payload or '"' in payload:
        assert payload not in page, f"unescaped: {payload!r}"
    assert_policy_holds(page)
    # The only scripts are ours; no tag the payloads would create.
    assert [tag for tag, _ in tags_of(page) if tag in ("svg", "img", "iframe")] == []


@pytest.mark.parametrize("payload", PAYLOADS)
def test_supporter_text_is_escaped_on_the_preview_and_status_pages(client, supporter, payload):
    typed = {
        **supporter,
        "name": "O'Brien & Sons' onmouseover=alert(1) x",  # names refuse < > " @; quotes and & remain
        "email": "o'brien+{tag}`x@example.org",  # the quote and backtick are valid in a local part
        "address": f"1 Main St {payload}",
        "note": f"My note {payload}",
    }
    page = client.get(f"{WRITE}?target=ohchr").get_data(as_text=True)
    preview = client.post(
        WRITE,
        data={"csrf_token": csrf_token(page), "targets": ["ohchr"], "template": "un-human-rights-office", **typed},
        follow_redirects=True,
    )
    assert preview.status_code == 200
    text = preview.get_data(as_text=True)
    assert_escaped(text, payload)
    for _tag, attrs in tags_of(text):
        assert "onmouseover" not in attrs  # the name did not break out of its attribute
    fields = form_fields(text)
    fields["letters-0-subject"] = [f"Subject {payload}"]
    fields["letters-0-body"] = [f"Dear office,\n{payload}\nThank you."]
    fields["action"] = ["mailto"]
    sent = client.post(SEND, data=fields)
    assert sent.status_code == 303, sent.get_data(as_text=True)[:1000]
    status = client.get(sent.headers["Location"])
    text = status.get_data(as_text=True)
    assert_escaped(text, payload)
    assert payload in html.unescape(text)  # shown, as text
    for _tag, attrs in tags_of(text):
        assert "onmouseover" not in attrs and "onerror" not in attrs
    # What the visit remembers is shown again on the next pages: escaped there too.
    for later in (client.get(f"/c/{LAUNCH}/receipt"), client.get(f"{WRITE}?target=ohchr")):
        text = later.get_data(as_text=True)
        assert "O&#39;Brien &amp; Sons&#39; onmouseover=alert(1) x" in text
        assert_escaped(text, payload)
        for _tag, attrs in tags_of(text):
            assert "onmouseover" not in attrs and "onerror" not in attrs


@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_campaign_and_error_pages_escape_what_is_in_the_url(client, payload):
    from urllib.parse import quote

    for response in (
        client.get(f"/c/{LAUNCH}?zip={quote(payload)}"),
        client.get(f"/c/{quote(payload, safe='')}"),
        client.get(f"{WRITE}?target={quote(payload)}&template={quote(payload)}"),
    ):
        assert_escaped(response.get_data(as_text=True), payload)
