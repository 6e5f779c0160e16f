"""Every state-changing route of the workspace, found in the app's URL map (so a route added tomorrow is tried
too): another campaign's organizer gets 403 on a published campaign and 404 on a draft, and nothing changes;
every POST route outside a campaign is self-service (log in and out, one's own account, a new campaign) or
admins only."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.organize.conftest import ORGANIZER, STRANGER, active_letter, form_token, log_in
from webapp.extensions import db
from webapp.organize import campaigns
from webapp.organizers import accounts, permissions

# Routes outside any campaign that any logged-in organizer may use: each acts on their own account only.
SELF_SERVICE = {
    "organize.login",
    "organize.logout",
    "organize.account",
    "organize.create_token",
    "organize.revoke_token",
    "organize.create_campaign",
}
# A value for every kind of URL part a campaign route takes (the ids need not exist: the campaign check comes first).
PARTS = {"template_slug": "ask-dana", "target_id": "dana-example", "version": "1", "update_id": "1",
         "resource_id": "1", "organizer_id": "1", "language": "es"}  # fmt: skip


def post_routes(app, *, in_campaign: bool) -> list:
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("organize.") and "POST" in r.methods]
    return sorted((r for r in rules if ("<slug>" in r.rule) == in_campaign), key=lambda r: r.rule)


def everything(app) -> list[tuple]:
    """Every row of every table but the log-ins themselves: what a refused request must leave as it was."""
    with app.app_context():
        rows = []
        for table in db.metadata.sorted_tables:
            if table.name != "organizer_sessions":
                rows += [(table.name, *map(repr, row)) for row in db.session.execute(select(table)).all()]
        db.session.remove()
        return sorted(rows)


@pytest.fixture
def ask_dana(app, own_campaign):
    with app.app_context():
        active_letter(campaigns.find_campaign(own_campaign), slug="ask-dana")
        db.session.commit()  # the services flush; without this the letter the letter routes try was never there
    return own_campaign


def url_for_rule(rule, slug: str) -> str:
    path = rule.rule.replace("<slug>", slug)
    for part, value in PARTS.items():
        path = path.replace(f"<{part}>", value)
    assert "<" not in path, f"{rule.rule}: add a value for its URL part to PARTS"
    return path


def test_every_campaign_route_refuses_another_campaigns_organizer_and_changes_nothing(app, ask_dana):
    stranger = app.test_client()
    assert log_in(stranger, STRANGER).status_code == 302
    token = form_token(stranger, "/organize/account")
    routes = post_routes(app, in_campaign=True)
    assert len(routes) >= 18
    before = everything(app)
    for rule in routes:  # a draft answers exactly as a campaign that does not exist: its address stays private
        data = {"csrf_token": token, "title": "Mine now"}
        draft = stranger.post(url_for_rule(rule, ask_dana), data=data)
        nowhere = stranger.post(url_for_rule(rule, "no-such-campaign"), data=data)
        assert (draft.status_code, draft.get_data()) == (nowhere.status_code, nowhere.get_data()), rule.rule
        assert draft.status_code in (403, 404), (rule.rule, draft.status_code)  # 403 only where admins alone may
    assert everything(app) == before
    with app.app_context():
        assert [t.slug for t in campaigns.find_campaign(ask_dana).templates] == ["ask-dana"]
        campaigns.find_campaign(ask_dana).published = True
        db.session.commit()
    before = everything(app)
    for rule in routes:  # published: refused, and said why
        response = stranger.post(url_for_rule(rule, ask_dana), data={"csrf_token": token, "title": "Mine now"})
        assert response.status_code == 403, (rule.rule, response.status_code)
    assert everything(app) == before


def test_every_other_post_route_is_self_service_or_for_admins_only(app, people):
    organizer = app.test_client()
    assert log_in(organizer, ORGANIZER).status_code == 302
    token = form_token(organizer, "/organize/account")
    with app.app_context():
        admin_id = accounts.find_organizer("admin@example.org").id
    before = everything(app)
    admin_routes = [rule for rule in post_routes(app, in_campaign=False) if rule.endpoint not in SELF_SERVICE]
    assert {rule.endpoint for rule in admin_routes} == {"organize.organizers", "organize.organizer"}
    for rule in admin_routes:
        url = rule.rule.replace("<organizer_id>", str(admin_id))
        data = {"csrf_token": token, "email": "mine@example.org", "role": "admin", "action": "reset"}
        response = organizer.post(url, data=data)
        assert response.status_code == 403, (rule.rule, response.status_code)
    assert everything(app) == before


@pytest.mark.parametrize("number", ["²", "٣", "9" * 13, "9" * 5000])
def test_a_number_in_an_address_that_is_no_plain_number_is_a_404_for_those_who_run_the_campaign(app, ask_dana, number):
    """The ids in workspace addresses (a kept version, an update, a resource, an organizer, a token) are ASCII digits:
    a superscript two or an Arabic-Indic three is a digit to str.isdigit but no number to int()."""
    admin = app.test_client()
    assert log_in(admin, "admin@example.org").status_code == 302
    token = form_token(admin, "/organize/account")
    numbered = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("organize.") and "_id>" in r.rule
                or "<version>" in r.rule]  # fmt: skip
    assert len(numbered) >= 6
    for rule in numbered:
        path = rule.rule.replace("<slug>", ask_dana).replace("<template_slug>", "ask-dana")
        for part in ("version", "update_id", "resource_id", "organizer_id", "token_id", "target_id"):
            path = path.replace(f"<{part}>", number)
        for method in sorted(rule.methods & {"GET", "POST"}):
            response = admin.open(path, method=method, data={"csrf_token": token} if method == "POST" else None)
            assert response.status_code in (302, 404), (rule.rule, method, response.status_code)


def test_who_may_open_a_campaign_is_one_rule(app, own_campaign):
    """The workspace's pages and the organizer API both ask permissions.campaign_refusal; each answer, once."""
    with app.app_context():
        campaign = campaigns.find_campaign(own_campaign)
        organizer, stranger = accounts.find_organizer(ORGANIZER), accounts.find_organizer(STRANGER)
        admin = accounts.find_organizer("admin@example.org")
        assert permissions.campaign_refusal(organizer, campaign) is None
        assert permissions.campaign_refusal(admin, campaign) is None
        assert permissions.campaign_refusal(permissions.OPERATOR, campaign) is None
        assert permissions.campaign_refusal(stranger, campaign) == 404  # a draft: as if there were none
        assert permissions.campaign_refusal(organizer, None) == 404
        campaign.published = True
        assert permissions.campaign_refusal(stranger, campaign) == 403
        organizer.active = False  # switched off by an admin: out at once, even of their own campaign
        assert permissions.campaign_refusal(organizer, campaign) == 403
        db.session.rollback()
