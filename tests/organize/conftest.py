"""Organizer fixtures: accounts (an admin, an organizer, a stranger), a logged-in client, a campaign of the
test's own that is removed afterwards, and API tokens. The launch campaign is put back after any test."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select

from tests.conftest import PROJECT, csrf_token
from webapp.campaigns.service import load_campaigns
from webapp.extensions import db
from webapp.models import Campaign, CampaignTarget, Letter, LetterTally, LetterTemplate, Submission, Target, TargetTally
from webapp.organize import campaigns, letter_templates, targets
from webapp.organizers import accounts
from webapp.organizers.models import Organizer

PASSWORD = "a long enough test password"
ADMIN, ORGANIZER, STRANGER = "admin@example.org", "organizer@example.org", "stranger@example.org"


@pytest.fixture(autouse=True)
def clean_organize(app):
    """Each test starts with no organizers and leaves no campaigns, targets or accounts of its own behind."""
    with app.app_context():
        before = set(db.session.scalars(select(Campaign.slug)))
        targets_before = set(db.session.scalars(select(Target.id)))
    yield
    with app.app_context():
        db.session.rollback()
        extra = list(db.session.scalars(select(Campaign).where(Campaign.slug.not_in(before))))
        ids = [campaign.id for campaign in extra]
        if ids:
            submissions = select(Submission.id).where(Submission.campaign_id.in_(ids))
            db.session.execute(delete(Letter).where(Letter.submission_id.in_(submissions)))
            db.session.execute(delete(LetterTally).where(LetterTally.campaign_id.in_(ids)))
            db.session.execute(delete(TargetTally).where(TargetTally.campaign_id.in_(ids)))
            db.session.execute(delete(Submission).where(Submission.campaign_id.in_(ids)))
        for campaign in extra:
            db.session.delete(campaign)
        db.session.flush()
        new_targets = set(db.session.scalars(select(Target.id))) - targets_before
        if new_targets:
            db.session.execute(delete(CampaignTarget).where(CampaignTarget.target_id.in_(new_targets)))
            db.session.execute(delete(Letter).where(Letter.target_id.in_(new_targets)))
            db.session.execute(delete(LetterTally).where(LetterTally.target_id.in_(new_targets)))
            db.session.execute(delete(TargetTally).where(TargetTally.target_id.in_(new_targets)))
            db.session.execute(delete(Target).where(Target.id.in_(new_targets)))
        db.session.execute(delete(Organizer))
        db.session.commit()
        load_campaigns(PROJECT / "letter_templates", force=True)  # the launch campaign as shipped
        db.session.commit()


@pytest.fixture
def people(app):
    """An admin, an organizer who runs only their own campaigns, and another organizer."""
    with app.app_context():
        for email, role in ((ADMIN, "admin"), (ORGANIZER, "organizer"), (STRANGER, "organizer")):
            accounts.create_organizer(email, PASSWORD, role)
        db.session.commit()
    return {"admin": ADMIN, "organizer": ORGANIZER, "stranger": STRANGER}


def log_in(client, email: str, password: str = PASSWORD, next_url: str = ""):
    page = client.get("/organize/login")
    return client.post(
        "/organize/login" + (f"?next={next_url}" if next_url else ""),
        data={"csrf_token": csrf_token(page.get_data(as_text=True)), "email": email, "password": password},
    )


@pytest.fixture
def as_admin(app, people):
    client = app.test_client()
    assert log_in(client, ADMIN).status_code == 302
    return client


@pytest.fixture
def as_organizer(app, people):
    client = app.test_client()
    assert log_in(client, ORGANIZER).status_code == 302
    return client


@pytest.fixture
def own_campaign(app, people):
    """A draft campaign the organizer runs, with one target that has an email address."""
    with app.app_context():
        organizer = accounts.find_organizer(ORGANIZER)
        campaign = campaigns.create_campaign(
            organizer,
            title="Free the test data",
            slug="free-the-test-data",
            summary="Ask the company to open the records it keeps about us.",
        )
        targets.add_target(
            campaign,
            organizer,
            {"kind": "ceo", "name": "Dana Example", "salutation": "Ms. Example", "email": "dana@example.com"},
            "dana-example",
        )
        db.session.commit()  # the services flush; the caller commits (webapp/organize/__init__.py)
        return campaign.slug


def active_letter(campaign, name: str = "Ask Dana", **fields) -> LetterTemplate:
    """A letter saved through the workspace's service and switched on (flushed: the caller commits). `fields` are
    TemplateInput's; by default a mailto letter to dana-example that is the supporter's note alone."""
    fields = {"subject": "Hi", "body": "{{ supporter.note }}", "target_ids": ["dana-example"], "channels": ["mailto"],
              **fields}  # fmt: skip
    template, _ = letter_templates.save_template(
        campaign, letter_templates.TemplateInput(name=name, **fields), author="test"
    )
    letter_templates.set_template_active(template, True)
    return template


def token_for(app, email: str) -> str:
    with app.app_context():
        token, _ = accounts.issue_token(accounts.find_organizer(email), "test")
        db.session.commit()
        return token


def form_token(client, url: str) -> str:
    return csrf_token(client.get(url).get_data(as_text=True))


@pytest.fixture
def make_app(make_app):
    """The suite's `make_app` (tests/conftest.py), with limits off unless a test turns them on."""
    return lambda **overrides: make_app(**{"RATELIMIT_ENABLED": False, **overrides})
