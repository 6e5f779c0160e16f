"""The launch campaign has no dead ends: every target it offers can be reached, and every group it names has a link."""

from __future__ import annotations

import re

import pytest

from tests.conftest import PROJECT
from tests.support.forms import form_fields
from tests.support.letters import LAUNCH
from tests.support.pages import text_of
from webapp.campaigns.files import read_all, read_campaign
from webapp.extensions import db
from webapp.models import CALL, Target

SOURCE = PROJECT / "letter_templates"
CAMPAIGNS = [spec.slug for spec in read_all(SOURCE)]
GD = "general-dynamics-ceo"


def test_every_group_the_campaign_names_links_to_its_own_site():
    spec = read_campaign(SOURCE / LAUNCH)
    links = {resource["name"]: resource["url"] for resource in spec.resources if resource["kind"] == "donate"}
    expected = {
        "La Unión del Pueblo Entero (LUPE)": "https://www.lupe.org",
        "We Belong Together": "https://webelongtogether.org",
        "Kids in Need of Defense (KIND)": "https://www.supportkind.org",
        "United We Dream": "https://unitedwedream.org",
        "Human Rights First": "https://humanrightsfirst.org",
        "Asylum Seeker Advocacy Project (ASAP)": "https://asylumadvocacy.org",
        "American Civil Liberties Union (ACLU)": "https://www.aclu.org",
        "Women's Refugee Commission": "https://www.womensrefugeecommission.org",
    }
    assert links == expected


def test_the_campaign_page_links_every_group(client):
    page = client.get(f"/c/{LAUNCH}").get_data(as_text=True)
    resources = page.split('id="resources"')[1]
    assert '<a href="https://webelongtogether.org" rel="noopener">We Belong Together</a>' in resources
    assert resources.count('href="https://') == 8


def test_the_general_dynamics_ceo_is_reached_by_letter_and_call_at_the_public_address():
    spec = read_campaign(SOURCE / LAUNCH)
    ceo = next(target for target in spec.targets if target["id"] == GD)
    assert not ceo.get("email"), "no public address is known: never invent one"
    assert ceo["phone"] == "(703) 876-3000"
    assert ceo["postal_address"].splitlines()[-2:] == ["11011 Sunset Hills Road", "Reston, VA 20190"]


@pytest.mark.parametrize("slug", CAMPAIGNS)
def test_every_target_in_the_files_has_a_way_a_letter_or_call_can_take(slug):
    """What the workspace's publish check refuses, checked here on the files that ship."""
    spec = read_campaign(SOURCE / slug)
    for fields in spec.targets:
        target = Target(id=fields["id"], **{k: v for k, v in fields.items() if k != "id"})
        ways = {
            channel
            for template in spec.templates
            if target.id in template.targets or target.kind in template.kinds
            for channel in template.channels
            if channel in target.channels
        }
        assert ways, f"{slug}: {target.id} has no channel any of its letters or scripts can use"


@pytest.mark.parametrize("slug", CAMPAIGNS)
def test_supporter_pages_offer_no_target_without_a_channel(client, app, slug):
    """The campaign page, the write page and the call page, with and without a ZIP, offer only reachable targets."""
    zips = ["", "94110", "20001"]
    for zip_code in zips:
        query = f"?zip={zip_code}" if zip_code else ""
        campaign_page = client.get(f"/c/{slug}{query}").get_data(as_text=True)
        for card in re.findall(
            r'<article class="card target" id="target-([^"]+)">(.*?)</article>', campaign_page, re.S
        ):
            assert 'class="button' in card[1], f"{card[0]} is shown with nothing to do"
        write = client.get(f"/c/{slug}/write{query}").get_data(as_text=True)
        call = client.get(f"/c/{slug}/call{query}").get_data(as_text=True)
        with app.app_context():
            from webapp.extensions import db

            for target_id in re.findall(r'name="targets"[^>]*value="([^"]+)"', write):
                target = db.session.get(Target, target_id)
                assert set(target.channels) - {CALL}, f"{target_id} is offered for a letter it cannot take"
            for target_id in re.findall(r'name="(?:target|targets)"[^>]*value="([^"]+)"', call):
                target = db.session.get(Target, target_id)
                assert CALL in target.channels, f"{target_id} is offered for a call without a number"


def test_a_printed_letter_to_the_general_dynamics_ceo_goes_to_the_head_office(client, supporter):
    page = client.get(f"/c/{LAUNCH}/write?target={GD}")
    fields = form_fields(page.get_data(as_text=True))
    assert fields["targets"] == [GD]
    assert fields["template"] == ["general-dynamics-open-the-doors"]
    fields.update({key: [value] for key, value in supporter.items()})
    preview = client.post(f"/c/{LAUNCH}/write", data=fields, follow_redirects=True)
    assert preview.status_code == 200, text_of(preview)
    text = text_of(preview)
    assert "Print and mail it" in text
    assert "separate groups" not in text and "Send from my email" not in text
    send = form_fields(preview.get_data(as_text=True))
    send["action"] = ["print"]
    status = client.post(f"/c/{LAUNCH}/send", data=send, follow_redirects=True)
    print_url = re.search(r'href="(?:http://outcry.test)?(/l/[0-9a-f]+/print)"', status.get_data(as_text=True)).group(1)
    printed = text_of(client.get(print_url))
    assert (
        "Phebe Novakovic\nChief Executive Officer\nGeneral Dynamics Corporation\n11011 Sunset Hills Road\nReston, VA 20190"
        in printed
    )
    assert "Dear Ms. Novakovic," in printed


@pytest.fixture
def ceo_unreachable(tmp_path, app):
    """The launch campaign as it shipped before: the CEO with no channel at all (no email, phone or address)."""
    import shutil

    from webapp.campaigns.service import load_campaigns

    root = tmp_path / "letter_templates"
    shutil.copytree(SOURCE, root)
    config = root / LAUNCH / "campaign.yaml"
    text = re.sub(r"    phone: \(703\).*?Reston, VA 20190\n", "", config.read_text(), flags=re.S)
    assert "Sunset Hills" not in text
    config.write_text(text)
    with app.app_context():
        load_campaigns(root)
        db.session.commit()
    yield
    with app.app_context():
        load_campaigns(SOURCE)
        db.session.commit()


@pytest.mark.usefixtures("ceo_unreachable")
def test_a_target_with_no_channel_is_not_offered(client):
    campaign_page = text_of(client.get(f"/c/{LAUNCH}"))
    assert 'id="target-general-dynamics-ceo"' not in campaign_page
    write = client.get(f"/c/{LAUNCH}/write?target={GD}").get_data(as_text=True)
    assert f'value="{GD}"' not in write
    assert 'value="ohchr"' in write


def test_a_letter_to_the_un_signed_without_a_zip_code_or_address_ends_with_the_name(client):
    """The write page asks a ZIP code only for Congress: a UN letter from a name and an email alone must not be
    signed 'ZIP code , United States'."""
    page = client.get(f"/c/{LAUNCH}/write?target=ohchr")
    fields = form_fields(page.get_data(as_text=True))
    assert "zip" not in fields, "the UN letter does not ask for a ZIP code"
    fields.update({"name": ["Maria Lopez"], "email": ["supporter@example.org"]})
    preview = client.post(f"/c/{LAUNCH}/write", data=fields, follow_redirects=True)
    assert preview.status_code == 200, text_of(preview)
    body = form_fields(preview.get_data(as_text=True))["letters-0-body"][0]
    assert "ZIP code" not in body
    assert body.rstrip().endswith("Respectfully,\nMaria Lopez"), body[-200:]


def test_the_write_page_offers_no_letter_for_nobody(client):
    """Before a ZIP code is given, the letter to Congress has no one to go to: it is not offered as a letter 'For'
    nobody, and the page says how to reach the members. With the ZIP it is offered, for the three of them."""
    page = text_of(client.get(f"/c/{LAUNCH}/write?target=ohchr"))
    assert not re.search(r"<small>For\s*</small>", page)
    assert 'value="congress-reunite-and-investigate"' not in page
    assert "Find them by ZIP code first" in page
    with_zip = text_of(client.get(f"/c/{LAUNCH}/write?zip=94110&target=P000197"))
    assert 'value="congress-reunite-and-investigate"' in with_zip
    assert "For Alex Padilla, Adam B. Schiff, Nancy Pelosi" in with_zip
