"""One rule for every write to a target, tried as the attacker of issue 12 did: an organizer whose side campaign
shares `ohchr` with the launch campaign tries to send the launch campaign's UN letters to attacker@evil.example
through the edit form, the organizer API, the CSV import's preview and its apply, and a campaign folder loaded by
`flask campaigns import`. Each path must refuse, and the launch campaign's supporters must still write to OHCHR.
Also: every workspace route that writes targets or letters answers 403 to an organizer of another campaign."""

from __future__ import annotations

import hashlib
import html

import pytest
import yaml
from sqlalchemy import select

from tests.organize.conftest import ADMIN, ORGANIZER, STRANGER, active_letter, form_token, log_in, token_for
from tests.support.letters import LAUNCH, un_letter
from webapp.extensions import db
from webapp.models import CampaignTarget, Letter, LetterTemplate, Target
from webapp.organize import campaigns, invalid, target_import
from webapp.organizers import accounts, permissions
from webapp.organizers.permissions import OPERATOR

SIDE = "side-campaign"
ATTACKER = "attacker@evil.example"
OHCHR_EMAIL = "petitions@ohchr.org"
ATTACK_CSV = f"id,name,kind,email\nohchr,UN Human Rights Office (OHCHR),un_office,{ATTACKER}\n"


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def ohchr_email(app) -> str | None:
    with app.app_context():
        return db.session.get(Target, "ohchr").email


def launch_letter_goes_to(app, client, supporter) -> str:
    """What a supporter of the launch campaign sees: where their UN letter is addressed."""
    response = client.post("/api/v1/submissions", json=un_letter(supporter))
    assert response.status_code == 202, response.get_json()
    with app.app_context():
        letter = db.session.scalars(select(Letter).where(Letter.target_id == "ohchr")).one()
        return letter.recipient


@pytest.fixture
def side_campaign(app, people, as_admin):
    """The organizer runs a side campaign; an admin brought the launch campaign's `ohchr` into it, by CSV import."""
    with app.app_context():
        organizer = accounts.find_organizer(ORGANIZER)
        campaigns.create_campaign(organizer, title="A side campaign", slug=SIDE)
        db.session.commit()
    url = f"/organize/c/{SIDE}/targets/import"
    shared = "id,name\nohchr,UN Human Rights Office (OHCHR)\n"
    preview = as_admin.post(url, data={"csrf_token": form_token(as_admin, url), "csv_text": shared, "step": "preview"})
    fingerprint = text(preview).split('name="fingerprint" type="hidden" value="')[1].split('"')[0]
    applied = as_admin.post(
        url,
        data={"csrf_token": form_token(as_admin, url), "csv_text": shared, "fingerprint": fingerprint, "step": "apply"},
    )
    assert applied.status_code == 302
    with app.app_context():
        assert [c.slug for c in permissions.campaigns_writing_to("ohchr")] == [LAUNCH, SIDE]
    return SIDE


@pytest.fixture
def attacker(app, side_campaign):
    client = app.test_client()
    assert log_in(client, ORGANIZER).status_code == 302
    return client


def test_the_edit_form_refuses(app, attacker, client, supporter):
    edit = f"/organize/c/{SIDE}/targets/ohchr/edit"
    page = text(attacker.get(edit))
    assert "shared with a campaign you don't run" in page
    refused = attacker.post(
        edit,
        data={
            "csrf_token": form_token(attacker, edit),
            "kind": "un_office",
            "name": "UN Human Rights Office (OHCHR)",
            "email": ATTACKER,
        },
    )
    assert refused.status_code == 422
    assert "shared with a campaign you don't run, so only an admin can change it" in text(refused)
    assert ohchr_email(app) == OHCHR_EMAIL
    assert launch_letter_goes_to(app, client, supporter) == OHCHR_EMAIL


def test_the_organizer_api_refuses(app, people, side_campaign, client, supporter):
    api = app.test_client()
    api.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token_for(app, ORGANIZER)}"
    refused = api.post(
        f"/api/v1/organize/campaigns/{SIDE}/targets",
        json={"id": "ohchr", "kind": "un_office", "name": "UN Human Rights Office (OHCHR)", "email": ATTACKER},
    )
    assert refused.status_code == 422
    assert "only an admin can change it" in refused.get_json()["errors"]["id"][0]
    assert ohchr_email(app) == OHCHR_EMAIL
    assert launch_letter_goes_to(app, client, supporter) == OHCHR_EMAIL


def test_the_csv_preview_refuses_and_offers_nothing_to_apply(app, attacker):
    url = f"/organize/c/{SIDE}/targets/import"
    page = text(attacker.post(url, data={"csrf_token": form_token(attacker, url), "csv_text": ATTACK_CSV}))
    assert "<strong>0</strong> updated" in page and "1 with mistakes (skipped)" in page
    assert "UN Human Rights Office (OHCHR) (ohchr) is shared with a campaign you don't run" in page
    assert ATTACKER not in page.split("What will change")[1].split("</table>")[0]  # not shown as a change either
    assert "Apply these" not in page


def _unguarded_fingerprint() -> str:
    """The fingerprint the preview showed before the fix, when it planned to update ohchr: an attacker can compute
    it without any preview, since the plan's format is public."""
    changes = [("kind", "un_office", "un_office"), ("email", OHCHR_EMAIL, ATTACKER)]
    changes = [change for change in changes if change[1] != change[2]]
    plan = target_import.ImportPlan(
        rows=[target_import.ImportRow(line=1, target_id="ohchr", name="", action="update", changes=changes)], columns=[]
    )
    return hashlib.sha256(repr([(r.target_id, r.action, r.changes) for r in plan.rows]).encode()).hexdigest()[:24]


def test_the_csv_apply_refuses_whatever_the_fingerprint(app, attacker, client, supporter):
    url = f"/organize/c/{SIDE}/targets/import"
    preview = text(attacker.post(url, data={"csrf_token": form_token(attacker, url), "csv_text": ATTACK_CSV}))
    honest = preview.split('name="fingerprint" type="hidden" value="')[1].split('"')[0]
    for fingerprint in (honest, _unguarded_fingerprint()):
        response = attacker.post(
            url,
            data={
                "csrf_token": form_token(attacker, url),
                "csv_text": ATTACK_CSV,
                "fingerprint": fingerprint,
                "step": "apply",
            },
        )
        assert response.status_code == 200 and "Imported:" not in text(response)
        assert ohchr_email(app) == OHCHR_EMAIL
    assert launch_letter_goes_to(app, client, supporter) == OHCHR_EMAIL


def test_the_csv_apply_asks_again_when_a_target_became_shared_after_the_preview(app, people, own_campaign):
    """The organizer previews a change to their own target; before they apply, another campaign starts writing
    to it. The apply is refused as a whole, and the page says which line and why."""
    csv_text = "id,name,kind,email\ndana-example,Dana Example,ceo,dana@elsewhere.example\n"
    with app.app_context():
        organizer = accounts.find_organizer(ORGANIZER)
        campaign = campaigns.find_campaign(own_campaign)
        plan = target_import.plan_import(campaign, organizer, csv_text)
        assert [row.action for row in plan.rows] == ["update"]
        theirs = campaigns.create_campaign(accounts.find_organizer(STRANGER), title="Theirs", slug="theirs")
        theirs.target_links.append(CampaignTarget(target_id="dana-example", position=0))
        db.session.commit()
        with pytest.raises(invalid.Invalid) as refused:
            target_import.apply_import(campaign, organizer, plan)
        assert refused.value.errors == {
            "csv_text": [
                "Line 1: Dana Example (dana-example) is shared with a campaign you don't run, so only an admin "
                "can change it."
            ]
        }
        db.session.rollback()
        assert db.session.get(Target, "dana-example").email == "dana@example.com"


def test_an_organizer_of_every_campaign_sharing_it_may_change_it(app, attacker):
    """The rule is about who runs the campaigns, not a blanket refusal: add the organizer to the launch campaign's
    team and the same import goes through."""
    with app.app_context():
        accounts.add_member(campaigns.find_campaign(LAUNCH), accounts.find_organizer(ORGANIZER))
        db.session.commit()
    url = f"/organize/c/{SIDE}/targets/import"
    page = text(attacker.post(url, data={"csrf_token": form_token(attacker, url), "csv_text": ATTACK_CSV}))
    assert "<strong>1</strong> updated" in page
    fingerprint = page.split('name="fingerprint" type="hidden" value="')[1].split('"')[0]
    data = {"csrf_token": form_token(attacker, url), "csv_text": ATTACK_CSV, "fingerprint": fingerprint}
    assert attacker.post(url, data={**data, "step": "apply"}).status_code == 302
    assert ohchr_email(app) == ATTACKER


def test_an_admin_may_change_a_shared_target(app, as_admin, side_campaign):
    edit = f"/organize/c/{SIDE}/targets/ohchr/edit"
    saved = as_admin.post(
        edit,
        data={
            "csrf_token": form_token(as_admin, edit),
            "kind": "un_office",
            "name": "UN Human Rights Office (OHCHR)",
            "email": "new-petitions@ohchr.org",
        },
    )
    assert saved.status_code == 302
    assert ohchr_email(app) == "new-petitions@ohchr.org"


def _campaign_folder(tmp_path, targets: list[dict]) -> str:
    folder = tmp_path / "their-campaign"
    (folder / "letters").mkdir(parents=True)
    (folder / "campaign.yaml").write_text(
        yaml.safe_dump({"title": "Their campaign", "summary": "Handed to the operator.", "targets": targets})
    )
    (folder / "letters" / "hello.txt").write_text(
        "---\nname: Hello\nsubject: Hello\nkinds: [ceo]\nchannels: [mailto]\n---\n{{ supporter.note }}\n"
    )
    return str(folder)


def test_a_campaign_folder_may_not_write_to_a_member_of_congress(app, runner, tmp_path):
    """A folder someone hands the operator names a senator's id as its 'CEO': importing it would have rewritten
    the senator's record, and with it where every campaign's letters to her go."""
    with app.app_context():
        senator = db.session.get(Target, "M001153")
        before = (senator.kind, senator.name, senator.email, senator.contact_form)
    folder = _campaign_folder(tmp_path, [{"id": "M001153", "kind": "ceo", "name": "Not a senator", "email": ATTACKER}])
    try:
        result = runner.invoke(args=["campaigns", "import", folder])
        assert result.exit_code != 0
        assert "M001153 is a member of Congress; they come from the Congress data" in result.output
        with app.app_context():
            senator = db.session.get(Target, "M001153")
            assert (senator.kind, senator.name, senator.email, senator.contact_form) == before
            assert campaigns.find_campaign("their-campaign") is None  # all or nothing
    finally:
        with app.app_context():
            senator = db.session.get(Target, "M001153")
            senator.kind, senator.name, senator.email, senator.contact_form = before
            db.session.commit()


def test_a_campaign_folder_that_changes_a_shared_target_says_whose_letters_it_moves(app, runner, tmp_path, people):
    """The operator is trusted like an admin, so the change is made; the report says which campaigns it reaches."""
    folder = _campaign_folder(
        tmp_path, [{"id": "ohchr", "kind": "un_office", "name": "UN Human Rights Office (OHCHR)", "email": ATTACKER}]
    )
    result = runner.invoke(args=["campaigns", "import", folder])
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if line.startswith("their-campaign: target ohchr ("))
    assert line.endswith(f"email) also changed for {LAUNCH}"), result.output


def test_the_rule_itself(app, people, side_campaign):
    """The decision table, as `permissions.refusal` gives it to every path."""
    with app.app_context():
        organizer, admin = accounts.find_organizer(ORGANIZER), accounts.find_organizer(ADMIN)
        stranger = accounts.find_organizer(STRANGER)
        side, launch = campaigns.find_campaign(SIDE), campaigns.find_campaign(LAUNCH)
        cases = [
            (organizer, side, "ohchr", "update", "shared with a campaign you don't run"),
            (organizer, side, "us-mission-un", "link", "belongs to a campaign you don't run"),
            (organizer, side, "M001153", "link", "member of Congress"),
            (organizer, side, "brand-new", "add", None),
            (organizer, side, "ohchr", "unlink", None),
            (organizer, launch, "ohchr", "update", "You don't run the campaign"),
            (stranger, side, "brand-new", "add", "You don't run the campaign"),
            (admin, side, "ohchr", "update", None),
            (admin, side, "M001153", "update", "member of Congress"),
            (OPERATOR, side, "ohchr", "update", None),
            (OPERATOR, side, "M001153", "update", "member of Congress"),
        ]
        for actor, campaign, target_id, action, expected in cases:
            got = permissions.refusal(actor, campaign, target_id, action)
            assert (got is None) == (expected is None) and (expected is None or expected in got), (
                actor,
                campaign.slug,
                target_id,
                action,
                got,
            )
        assert "Members of Congress come from the Congress data" in permissions.refusal(
            admin, side, "new-senator", "add", kind="senator"
        )


# ---- every workspace route that writes targets or letters, tried by an organizer of another campaign ----------


def _template_slug(app, campaign_slug: str) -> str:
    with app.app_context():
        return db.session.scalars(
            select(LetterTemplate.slug).where(LetterTemplate.campaign_id == campaigns.find_campaign(campaign_slug).id)
        ).first()


WRITES = [
    ("targets/new", {"kind": "person", "name": "Someone"}),
    ("targets/dana-example/edit", {"kind": "ceo", "name": "Dana Example", "email": ATTACKER}),
    ("targets/dana-example/remove", {}),
    ("targets/import", {"csv_text": f"id,name,email\ndana-example,Dana Example,{ATTACKER}\n", "step": "preview"}),
    ("letters/new", {"name": "Mine", "subject": "Hi", "body": "{{ supporter.note }}", "channels": "mailto"}),
    ("letters/{letter}", {"name": "Mine", "subject": "Hi", "body": "{{ supporter.note }}", "channels": "mailto"}),
    ("letters/{letter}/active", {"active": "0"}),
    ("letters/{letter}/versions/1/restore", {}),
]


@pytest.mark.parametrize("path,data", WRITES, ids=[path for path, _ in WRITES])
def test_an_organizer_of_another_campaign_gets_403_and_changes_nothing(app, people, own_campaign, path, data):
    with app.app_context():
        campaign = campaigns.find_campaign(own_campaign)
        template = active_letter(campaign)
        campaign.published = True  # someone else's draft answers 404 instead, like no campaign (test_api.py)
        db.session.commit()
        before = (
            [(t.id, t.name, t.email) for t in campaign.targets],
            [(t.slug, t.version, t.active, t.body) for t in campaign.templates],
        )
    stranger = app.test_client()
    assert log_in(stranger, STRANGER).status_code == 302
    token = form_token(stranger, "/organize/account")
    url = f"/organize/c/{own_campaign}/" + path.format(letter=template.slug)
    response = stranger.post(url, data={"csrf_token": token, **data})
    assert response.status_code == 403, (url, response.status_code)
    assert "You don't run this campaign" in text(response)
    with app.app_context():
        campaign = campaigns.find_campaign(own_campaign)
        after = (
            [(t.id, t.name, t.email) for t in campaign.targets],
            [(t.slug, t.version, t.active, t.body) for t in campaign.templates],
        )
    assert after == before


def test_the_live_preview_of_another_campaign_is_403(app, people, own_campaign):
    with app.app_context():
        campaigns.find_campaign(own_campaign).published = True  # a draft would answer 404
        db.session.commit()
    stranger = app.test_client()
    assert log_in(stranger, STRANGER).status_code == 302
    token = form_token(stranger, "/organize/account")
    response = stranger.post(
        f"/organize/c/{own_campaign}/letters/preview",
        json={"subject": "Hi", "body": "{{ target.email }}", "target": "dana-example"},
        headers={"X-CSRFToken": token},
    )
    assert response.status_code == 403
    assert "dana@example.com" not in response.get_data(as_text=True)


@pytest.mark.parametrize("target_id", ["Acme CEO", "acme/ceo", "a" * 65, "-acme"])
def test_a_campaign_folder_gives_a_new_target_an_id_the_workspace_would(app, runner, tmp_path, target_id):
    """A new target's id becomes part of the workspace's addresses and the key its totals are kept under: a
    folder may not add one the workspace, its API or the CSV import would refuse (nothing is loaded)."""
    folder = _campaign_folder(tmp_path, [{"id": target_id, "kind": "ceo", "name": "Acme CEO", "email": ATTACKER}])
    result = runner.invoke(args=["campaigns", "import", folder])
    assert result.exit_code != 0
    assert f"target '{target_id}': Use lower-case letters, digits and hyphens for the id" in result.output
    with app.app_context():
        assert db.session.get(Target, target_id) is None and campaigns.find_campaign("their-campaign") is None
