"""A closed campaign thanks supporters, shows its totals, and takes no more letters on any path."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.support.letters import LAUNCH, un_letter
from webapp.extensions import db
from webapp.models import Campaign, utcnow


@pytest.fixture
def closed(app):
    with app.app_context():
        campaign = db.session.scalar(select(Campaign).where(Campaign.slug == LAUNCH))
        campaign.closed_at = utcnow()
        db.session.commit()
    yield
    with app.app_context():
        campaign = db.session.scalar(select(Campaign).where(Campaign.slug == LAUNCH))
        campaign.closed_at = None
        db.session.commit()


def test_closed_campaign_pages(client, closed):
    assert "See what everyone sent" in client.get("/").get_data(as_text=True)
    page = client.get(f"/c/{LAUNCH}").get_data(as_text=True)
    assert "This campaign has closed" in page
    for path in (f"/c/{LAUNCH}/write?target=ohchr", f"/c/{LAUNCH}/call?target=us-mission-un"):
        response = client.get(path)
        assert response.status_code == 303
        assert response.headers["Location"].endswith(f"/c/{LAUNCH}")


def test_closed_campaign_refuses_letters_through_the_api(client, closed, supporter):
    response = client.post(
        "/api/v1/submissions",
        json=un_letter(supporter),
    )
    assert response.status_code == 422
    assert "has closed and takes no more letters" in str(response.get_json()["errors"])
