"""Contact-form links for members of Congress: organizers fill in the ones the data lacks, supporters get them at
once, `flask congress load` keeps them, and a link can only ever point at the member's own website."""

from __future__ import annotations

import csv
import html

import pytest
from sqlalchemy import update

from tests.organize.conftest import ADMIN, ORGANIZER, form_token
from tests.support.letters import LAUNCH
from webapp.congress import links as congress_links
from webapp.congress import service as congress
from webapp.congress.files import BUNDLED
from webapp.congress.models import FormLink
from webapp.extensions import db
from webapp.models import Target
from webapp.organize import campaigns, invalid
from webapp.organize import congress as links
from webapp.organizers import accounts

PADILLA, SCHIFF, PELOSI = "P000145", "S001150", "P000197"
PELOSI_FORM = "https://pelosi.house.gov/contact/email-me"


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


# Every test ends with the bundled Congress data and no organizer links.
pytestmark = pytest.mark.usefixtures("fresh_congress")


@pytest.fixture
def congress_campaign(app, own_campaign):
    with app.app_context():
        campaigns.update_campaign(campaigns.find_campaign(own_campaign), congress=True)
        db.session.commit()
    return own_campaign


def save(client, slug: str, target_id: str, url: str, *, page: str = "", **extra):
    page = page or f"/organize/c/{slug}/congress?state=CA"
    return client.post(
        f"/organize/c/{slug}/congress/{target_id}/form-link",
        data={"csrf_token": form_token(client, page), "url": url, "state": "CA", **extra},
    )


@pytest.mark.parametrize(
    "target_id,url,problem",
    [
        (PELOSI, PELOSI_FORM, None),
        (PELOSI, "https://www.pelosi.house.gov/contact", None),  # with or without www.
        (SCHIFF, "https://www.schiff.senate.gov/contact/", None),
        (PELOSI, "http://pelosi.house.gov/contact", "https://"),
        (PELOSI, "https://evil.example/pelosi", "own website, pelosi.house.gov"),
        (PELOSI, "https://pelosi.house.gov.evil.example/contact", "own website"),
        (PELOSI, "https://pelosi.house.gov@evil.example/contact", "https://"),  # user info: the host is evil.example
        (PELOSI, "https://pelosi.house.gov:8443/contact", "https://"),
        (PELOSI, "https://schiff.senate.gov/contact", "own website"),  # another member's site
        (PELOSI, "javascript:alert(1)", "https://"),
        (PELOSI, "https://pelosi.house.gov/a b", "doesn't look like a web address"),
        (PELOSI, "", "Paste the address"),
    ],
)
def test_a_link_must_be_a_page_on_the_members_own_website(app, target_id, url, problem):
    with app.app_context():
        found = congress_links.form_link_problem(db.session.get(Target, target_id), url)
        assert (found is None) if problem is None else (problem in found), found


def test_a_member_without_a_website_takes_a_page_on_their_chambers_domain(app):
    with app.app_context():
        member = Target(id="x", kind="senator", name="Sam Example")
        assert congress_links.form_link_problem(member, "https://www.example.senate.gov/contact") is None
        assert "senate.gov" in congress_links.form_link_problem(member, "https://www.example.house.gov/contact")


def test_an_organizer_fills_in_a_missing_form_and_supporters_get_it(app, as_organizer, congress_campaign, client):
    listing = text(as_organizer.get(f"/organize/c/{congress_campaign}/congress"))
    assert "California" in listing and "without a form" in listing
    page = text(as_organizer.get(f"/organize/c/{congress_campaign}/congress?state=CA"))
    assert "Representative Nancy Pelosi (D-CA-11)" in page
    assert "No contact form yet: supporters get the home page" in page
    assert "Senator Alex Padilla" not in page  # the data has his form: not asked for

    saved = save(as_organizer, congress_campaign, PELOSI, PELOSI_FORM)
    assert saved.status_code == 302 and saved.headers["Location"].endswith(f"state=CA#member-{PELOSI}")
    page = text(as_organizer.get(saved.headers["Location"]))
    assert f"Contact form entered by {ORGANIZER}" in page and f'value="{PELOSI_FORM}"' in page

    with app.app_context():
        assert db.session.get(Target, PELOSI).contact_form == PELOSI_FORM
        assert congress.lookup("94110").representatives[0].contact_form == PELOSI_FORM
    letter = client.post(
        "/api/v1/submissions",
        json={
            "campaign": LAUNCH, "template": "congress-reunite-and-investigate", "targets": [PELOSI],
            "supporter": {"name": "Maria", "email": "maria@example.org", "zip": "94110"}, "channel": "contact_form",
        },
    ).get_json()["letters"][0]  # fmt: skip
    assert letter["contact_url"] == PELOSI_FORM  # no longer the home page


def test_a_website_stored_before_links_were_checked_does_not_break_the_page(
    app, as_organizer, congress_campaign, client
):
    """A member whose stored website can't be read (saved before websites were checked): their own site is then
    unknown, so a link is held to their chamber's domain, as for a member with no website; no page links to it
    (supporters get no contact-form hand-off, the other ways stay); never a 500."""
    with app.app_context():
        db.session.execute(update(Target).where(Target.id == PELOSI).values(website="https://[pelosi.house.gov"))
        db.session.commit()
        member = db.session.get(Target, PELOSI)
        assert "house.gov" in congress_links.form_link_problem(member, "https://evil.example/pelosi")
    page = as_organizer.get(f"/organize/c/{congress_campaign}/congress?state=CA")
    assert page.status_code == 200 and 'href="https://[pelosi' not in page.get_data(as_text=True)
    letter = {
        "campaign": LAUNCH, "template": "congress-reunite-and-investigate", "targets": [PELOSI],
        "supporter": {
            "name": "Maria", "email": "maria@example.org", "zip": "94110",
            "address": "500 Valencia St\nSan Francisco, CA 94110",
        },
    }  # fmt: skip
    assert client.post("/api/v1/submissions", json={**letter, "channel": "contact_form"}).status_code == 422
    printed = client.post("/api/v1/submissions", json={**letter, "channel": "print"})
    assert printed.status_code == 202 and client.get(f"/s/{printed.get_json()['id']}").status_code == 200
    refused = save(as_organizer, congress_campaign, PELOSI, "https://evil.example/pelosi")
    assert refused.status_code == 422 and "Use a page on house.gov" in text(refused)
    assert save(as_organizer, congress_campaign, PELOSI, PELOSI_FORM).status_code == 302
    with app.app_context():
        assert db.session.get(Target, PELOSI).contact_form == PELOSI_FORM


def test_a_bad_link_is_refused_next_to_the_field_and_what_was_typed_stays(as_organizer, congress_campaign):
    refused = save(as_organizer, congress_campaign, PELOSI, "https://pelosi-contact.example/form")
    assert refused.status_code == 422
    page = text(refused)
    assert "Use a page on Nancy Pelosi's own website, pelosi.house.gov" in page
    assert 'value="https://pelosi-contact.example/form"' in page and 'aria-invalid="true"' in page


def test_congress_load_keeps_organizer_links_and_says_when_the_data_has_its_own(
    app, as_organizer, congress_campaign, runner, tmp_path
):
    assert save(as_organizer, congress_campaign, PELOSI, PELOSI_FORM).status_code == 302
    result = runner.invoke(args=["congress", "load"])
    assert result.exit_code == 0, result.output
    assert "contact forms organizers entered: 1 kept" in result.output
    with app.app_context():
        assert db.session.get(Target, PELOSI).contact_form == PELOSI_FORM

    # A newer file now has a form for her: the organizer's link stays, and the load names both.
    newer = tmp_path / "legislators-current.csv"
    with open(BUNDLED["legislators"], newline="") as source, open(newer, "w", newline="") as out:
        reader = csv.DictReader(source)
        writer = csv.DictWriter(out, fieldnames=reader.fieldnames)
        writer.writeheader()
        for row in reader:
            if row["bioguide_id"] == PELOSI:
                row["contact_form"] = "https://pelosi.house.gov/contact/newer-form"
            writer.writerow(row)
    result = runner.invoke(args=["congress", "load", "--legislators", str(newer)])
    assert result.exit_code == 0, result.output
    assert (
        f"kept the contact form {ORGANIZER} entered for Nancy Pelosi ({PELOSI}): {PELOSI_FORM}; "
        "the data now has https://pelosi.house.gov/contact/newer-form"
    ) in result.output
    with app.app_context():
        assert db.session.get(Target, PELOSI).contact_form == PELOSI_FORM
    page = text(as_organizer.get(f"/organize/c/{congress_campaign}/congress?state=CA"))
    assert "the data now has" in page

    # Removing the organizer's link gives the data's link back.
    removed = save(as_organizer, congress_campaign, PELOSI, "", action="remove")
    assert removed.status_code == 302
    with app.app_context():
        assert db.session.get(Target, PELOSI).contact_form == "https://pelosi.house.gov/contact/newer-form"
        assert db.session.get(FormLink, PELOSI) is None


def test_who_may_set_a_link(app, as_organizer, as_admin, own_campaign, people):
    # A campaign that doesn't write to Congress has no such page and can't change members.
    assert as_organizer.get(f"/organize/c/{own_campaign}/congress").status_code == 404
    with app.app_context():
        organizer = accounts.find_organizer(ORGANIZER)
        campaign = campaigns.find_campaign(own_campaign)
        with pytest.raises(invalid.Invalid, match="doesn't write to members of Congress"):
            links.save_form_link(organizer, campaign, PELOSI, PELOSI_FORM)
        campaigns.update_campaign(campaign, congress=True)
        # A form the data gives is replaced only by an admin.
        with pytest.raises(invalid.Invalid, match="The Congress data gives Alex Padilla's contact form"):
            links.save_form_link(organizer, campaign, PADILLA, "https://www.padilla.senate.gov/other-form")
        links.save_form_link(accounts.find_organizer(ADMIN), campaign, PADILLA, "https://www.padilla.senate.gov/f")
        assert db.session.get(Target, PADILLA).contact_form == "https://www.padilla.senate.gov/f"
        # Not a member of Congress at all.
        with pytest.raises(invalid.Invalid, match="no member of Congress"):
            links.save_form_link(organizer, campaign, "ohchr", "https://www.ohchr.org/contact")
    # Someone who doesn't run the campaign can't reach the page or the form.
    stranger_campaign = f"/organize/c/{LAUNCH}/congress"
    assert as_organizer.get(stranger_campaign).status_code == 403
    own_page = f"/organize/c/{own_campaign}/congress"
    assert save(as_organizer, LAUNCH, PELOSI, PELOSI_FORM, page=own_page).status_code == 403
