"""The embeddable campaign page: framed only by this site and the origins a campaign's organizers list
(`frame-ancestors`, with X-Frame-Options never saying otherwise), every other page still unframeable, the list
checked so nothing but an origin reaches the header, and the snippet on the dashboard."""

from __future__ import annotations

import html

import pytest

from tests.organize.conftest import form_token
from tests.support.letters import LAUNCH
from webapp.embed import service as embed
from webapp.extensions import db
from webapp.organize import campaigns
from webapp.security.headers import CONTENT_SECURITY_POLICY

EMBED = f"/c/{LAUNCH}/embed"


def directives(response) -> dict[str, str]:
    return dict(part.split(" ", 1) for part in response.headers["Content-Security-Policy"].split("; "))


def save_origins(client, text: str):
    dashboard = f"/organize/c/{LAUNCH}/dashboard"
    return client.post(
        f"/organize/c/{LAUNCH}/embed", data={"csrf_token": form_token(client, dashboard), "origins": text}
    )


@pytest.fixture(autouse=True)
def no_origins(app):
    yield
    with app.app_context():
        campaign = campaigns.find_campaign(LAUNCH)
        campaign.embed_origins = []
        db.session.commit()


def test_by_default_only_this_site_may_frame_the_embed(client):
    response = client.get(EMBED)
    assert response.status_code == 200
    assert directives(response)["frame-ancestors"] == "'self'"
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"  # says the same as the CSP
    others = {k: v for k, v in directives(response).items() if k != "frame-ancestors"}
    site = dict(part.split(" ", 1) for part in CONTENT_SECURITY_POLICY.split("; "))
    assert others == {k: v for k, v in site.items() if k != "frame-ancestors"}  # the rest of the policy is the site's
    assert "Set-Cookie" not in response.headers  # a third-party frame gets none anyway: the page needs none


def test_listed_sites_may_frame_the_embed_and_nothing_else_changes(as_admin, client):
    saved = save_origins(as_admin, "https://www.example.org/take-action?ref=1\nhttps://*.allies.example\n\n")
    assert saved.status_code == 302 and saved.headers["Location"].endswith("/dashboard#embed")
    response = client.get(EMBED)
    assert directives(response)["frame-ancestors"] == "'self' https://www.example.org https://*.allies.example"
    assert "X-Frame-Options" not in response.headers  # DENY or SAMEORIGIN would contradict the list
    for path in (f"/c/{LAUNCH}", "/", f"/c/{LAUNCH}/write?target=ohchr", "/c/nope/embed", "/organize/"):
        other = client.get(path)
        assert directives(other)["frame-ancestors"] == "'none'", path
        assert other.headers["X-Frame-Options"] == "DENY", path
    page = html.unescape(as_admin.get(f"/organize/c/{LAUNCH}/dashboard").get_data(as_text=True))
    assert "https://www.example.org\nhttps://*.allies.example</textarea>" in page


@pytest.mark.parametrize(
    "typed",
    [
        "https://x.example; script-src *",
        "https://x.example'",
        "https://x.example https://y.example",
        "*",
        "https://*",
        "x.example",
        "ftp://x.example",
        "javascript:alert(1)",
        "https://x.example:99999",
        "https://user@x.example",
        "'self'",
    ],
)
def test_anything_but_an_origin_is_refused_and_nothing_is_saved(app, as_admin, client, typed):
    refused = save_origins(as_admin, f"https://ok.example\n{typed}")
    assert refused.status_code == 422
    page = html.unescape(refused.get_data(as_text=True))
    assert "is not a site address" in page or "port" in page
    assert f"https://ok.example\n{typed}</textarea>" in page  # what was typed stays
    assert directives(client.get(EMBED))["frame-ancestors"] == "'self'"


def test_at_most_twenty_sites(as_admin):
    refused = save_origins(as_admin, "\n".join(f"https://site{n}.example" for n in range(21)))
    assert refused.status_code == 422 and "List at most 20 sites." in refused.get_data(as_text=True)


def test_a_stored_value_that_isnt_an_origin_never_reaches_the_header(app, client):
    with app.app_context():
        campaign = campaigns.find_campaign(LAUNCH)
        campaign.embed_origins = ["https://ok.example", "https://x.example; script-src *"]
        db.session.commit()
    assert directives(client.get(EMBED))["frame-ancestors"] == "'self' https://ok.example"


def test_the_embed_offers_the_campaign_and_opens_every_action_in_a_new_tab(client):
    page = html.unescape(client.get(EMBED + "?zip=94110").get_data(as_text=True))
    assert "Reunite families separated at the border" in page
    assert "Senator Alex Padilla" in page and "UN Human Rights Office (OHCHR)" in page
    assert "Letters and calls that went out so far" in page
    links = [part.split(">")[0] for part in page.split("<a ")[1:]]
    assert links and all('target="_blank"' in link and 'rel="noopener"' in link for link in links), links
    assert 'method="post"' not in page.lower()  # nothing that needs a cookie inside someone else's page
    assert '<script src="/static/js/frame.js"' in page


def test_an_unpublished_campaign_has_no_embed(app, client, own_campaign):
    assert client.get(f"/c/{own_campaign}/embed").status_code == 404


def test_the_dashboard_gives_the_snippet(as_admin):
    page = html.unescape(as_admin.get(f"/organize/c/{LAUNCH}/dashboard").get_data(as_text=True))
    site = as_admin.application.config.get("SERVER_NAME") or "localhost"
    assert (
        f'<iframe src="http://{site}{EMBED}" title="Reunite families separated at the border" data-outcry-embed' in page
    )
    assert f'<script src="http://{site}/static/js/embed.js" async></script>' in page
    assert 'data-copy="embed-snippet"' in page


def test_origins_are_normalized_as_browsers_write_them():
    assert embed.clean_origins(
        ["HTTPS://WWW.Example.org:443/x", "http://127.0.0.1:8080/", "http://a.example:80", "https://a.example:8443"]
    ) == ["https://www.example.org", "http://127.0.0.1:8080", "http://a.example", "https://a.example:8443"]
