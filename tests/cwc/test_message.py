"""The CWC message: an office code for every member, a valid message for each with a constituent in their district,
names and addresses that XML must escape arriving exactly as written, and a grammar that refuses what is wrong."""

from __future__ import annotations

import datetime as dt
import logging
import re
import uuid
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import select

from webapp.congress.models import ZCTA, ZipDistrict
from webapp.cwc import message, service
from webapp.cwc.topics import TOPICS
from webapp.extensions import db
from webapp.models import LEGISLATOR_KINDS, Target

AGENT = message.Agent(
    name="Families Together Delivery Agent",
    ack_email="acks@agent.example.org",
    contact_name="Dana Operator",
    contact_email="operator@agent.example.org",
    contact_phone="202-555-0100",
)

# Names and addresses people really have, and the characters XML must escape.
PEOPLE = [
    ("Ms.", "Zoë", "Núñez-García", "1500 Calle de la Reina", "Apt. 4B"),
    ("Mr.", "Seán", "O'Brien", "22 Saint Mary's Lane", ""),
    ("Dr.", "Amélie & Jo", "D'Angelo <Smith>", '7 "Old" Mill Rd. & Co.', "Unit <3>"),
    ("Mrs.", "Nguyễn Thị", "Minh Khai", "88 Lê Lợi Blvd.", ""),
    ("Reverend", "Jean-François", "L'Écuyer", "3 Rue d'Été", "c/o St. Anne's & Paul's"),
]
BODY = (
    "Dear Senator,\n\nFamilies who crossed the border together must be reunited & released — now.\n"
    "Children aren't bargaining chips; 2 < 3 and \"detention\" isn't care.\n\nRespectfully,\nA constituent"
)


def _zip_in_seat(target: Target) -> str:
    query = select(ZipDistrict.zip).where(ZipDistrict.state == target.state)
    if target.kind != "senator":
        query = query.where(ZipDistrict.district == target.district)
    # A Census ZIP where there is one; the Northern Mariana Islands have only postal ones.
    found = db.session.scalar(query.order_by(ZipDistrict.source != ZCTA, ZipDistrict.zip).limit(1))
    assert found, f"no ZIP in the data for {target.id}'s seat"
    return found


def _message_for(target: Target, index: int) -> tuple[bytes, message.Constituent, message.Letter]:
    prefix, first, last, street, unit = PEOPLE[index % len(PEOPLE)]
    person = message.Constituent(
        prefix=prefix,
        first_name=first,
        last_name=last,
        address1=street,
        address2=unit,
        city="Coeur d'Alene" if index % 2 else "Española",
        state=target.state,
        zip=_zip_in_seat(target),
        email=f"supporter.{index}@example.org",
    )
    letter = message.Letter(
        delivery_id=uuid.uuid4().hex,
        date=dt.date(2026, 6, 21),
        campaign_id=message.campaign_id(AGENT.name, "reunite-families"),
        office=service.office_code(target) or "",
        subject=f"Reunite families — {target.name}'s vote matters",
        topics=("Immigration", "Families"),
        body=BODY,
    )
    return message.build(AGENT, person, letter), person, letter


def test_every_member_has_an_office_code_of_their_seat(ctx):
    members = db.session.scalars(select(Target).where(Target.kind.in_(LEGISLATOR_KINDS), Target.active)).all()
    assert len(members) == 537
    codes = {}
    for target in members:
        code = (target.extra or {}).get("cwc_office")  # stored by `flask congress load`
        assert code == service.office_code(target)
        assert re.fullmatch(r"[HS][A-Z]{2}\d{2}", code), target.id
        assert code[1:3] == target.state
        if target.kind == "senator":
            assert code[0] == "S" and int(code[3:]) == target.extra["senate_class"] - 1
        else:
            assert code == f"H{target.state}{target.district:02d}"
        codes.setdefault(code, []).append(target.id)
    assert all(len(ids) == 1 for ids in codes.values()), "two members share an office code"
    # Seats with known codes: a class 3 and a class 1 senator, a numbered district, an at-large seat, a delegate.
    by_id = {target.id: service.office_code(target) for target in members}
    assert by_id["P000145"] == "SCA02"  # Alex Padilla, class 3
    assert by_id["S001150"] == "SCA00"  # Adam Schiff, class 1
    assert by_id["P000197"] == "HCA11"  # Nancy Pelosi, CA-11
    assert by_id["F000482"] == "HND00"  # North Dakota's at-large seat
    assert by_id["N000147"] == "HDC00"  # the District of Columbia's delegate


def test_every_member_gets_a_valid_message_with_a_constituent_in_their_seat(ctx):
    members = db.session.scalars(
        select(Target).where(Target.kind.in_(LEGISLATOR_KINDS), Target.active).order_by(Target.id)
    ).all()
    assert len(members) == 537
    for index, target in enumerate(members):
        xml, person, letter = _message_for(target, index)
        assert message.problems(xml) == [], target.id
        # What arrives is what was written: every escaped character comes back out of the XML unchanged.
        root = etree.fromstring(xml)
        assert root.findtext("Recipient/MemberOffice") == letter.office
        assert root.findtext("Constituent/FirstName") == person.first_name
        assert root.findtext("Constituent/LastName") == person.last_name
        assert root.findtext("Constituent/Address1") == person.address1
        assert root.findtext("Constituent/Address2") == (person.address2 or None)
        assert root.findtext("Constituent/City") == person.city
        assert root.findtext("Constituent/Zip") == person.zip
        assert root.findtext("Message/ConstituentMessage") == BODY
        assert root.findtext("Message/Subject") == letter.subject
        assert [t.text for t in root.iter("LibraryOfCongressTopic")] == ["Immigration", "Families"]
        assert root.findtext("Delivery/DeliveryId") == letter.delivery_id
        assert root.findtext("Delivery/DeliveryDate") == "20260621"


def test_markup_in_a_name_is_text_not_elements(ctx):
    target = db.session.get(Target, "P000197")
    xml, _, _ = _message_for(target, 2)  # "D'Angelo <Smith>", "Unit <3>", "& Co."
    assert b"<Smith>" not in xml and b"&lt;Smith&gt;" in xml
    assert etree.fromstring(xml).find(".//Smith") is None


def test_characters_xml_cannot_carry_are_refused_before_anything_is_sent(ctx):
    target = db.session.get(Target, "P000197")
    _, person, letter = _message_for(target, 0)
    for bad in ("\x00", "\x07", "\x1b[31m"):
        with pytest.raises(message.MessageError):
            message.build(AGENT, person, message.Letter(**{**letter.__dict__, "body": f"Hello{bad}there"}))


def test_an_invalid_message_says_where_without_the_supporters_data(ctx, log_records):
    target = db.session.get(Target, "P000197")
    _, person, letter = _message_for(target, 0)
    secret_email = "not-an-email-zoë-núñez"
    broken = message.Constituent(**{**person.__dict__, "email": secret_email, "state": "ZZ"})
    with pytest.raises(message.MessageError) as caught:
        service.checked_message(broken, letter, {"CWC_DELIVERY_AGENT": AGENT.name, **_agent_config()})
    said = " ".join(caught.value.problems)
    assert "/CWC/Constituent/Email" in said and "/CWC/Constituent/StateAbbreviation" in said
    logged = "\n".join(record.getMessage() for record in log_records.records if record.levelno >= logging.ERROR)
    # The letter named by the first characters of its id, as every log line names one (webapp/operations/logs.py).
    assert f"cwc.invalid_message letter={letter.delivery_id[:6]}~" in logged and "/CWC/Constituent/Email" in logged
    for private in (secret_email, person.first_name, person.last_name, person.address1, BODY[:20]):
        assert private not in logged and private not in said


def test_every_required_part_is_required(ctx):
    target = db.session.get(Target, "P000197")
    xml, _, _ = _message_for(target, 1)
    for path in (
        "Delivery/DeliveryId",
        "Delivery/CampaignId",
        "Recipient/MemberOffice",
        "Constituent/Prefix",
        "Constituent/Address1",
        "Constituent/Zip",
        "Constituent/Email",
        "Message/Subject",
        "Message/LibraryOfCongressTopics",
        "Message/ConstituentMessage",
    ):
        root = etree.fromstring(xml)
        element = root.find(path)
        element.getparent().remove(element)
        assert message.problems(etree.tostring(root)), f"{path} left out, and the grammar took it"
    for path, value in (
        ("Delivery/DeliveryId", "short"),
        ("Recipient/MemberOffice", "California"),
        ("Constituent/Zip", "9411"),
        ("Message/LibraryOfCongressTopics/LibraryOfCongressTopic", "Kittens"),
        ("Delivery/DeliveryAgentContact/DeliveryAgentContactPhone", "(202) 555-0100"),
    ):
        root = etree.fromstring(xml)
        root.find(path).text = value
        assert message.problems(etree.tostring(root)), f"{path}={value!r} taken"


def test_the_grammars_topics_are_the_ones_organizers_choose_from():
    grammar = etree.parse(str(message.GRAMMAR))
    ns = {"rng": "http://relaxng.org/ns/structure/1.0"}
    values = grammar.xpath("//rng:define[@name='topic']/rng:choice/rng:value/text()", namespaces=ns)
    assert tuple(values) == TOPICS


def test_another_grammar_file_can_be_dropped_in(ctx, tmp_path: Path):
    """The official grammar replaces ours by a setting (or by replacing the file): the same checks then use it."""
    target = db.session.get(Target, "P000197")
    xml, _, _ = _message_for(target, 0)  # has an Address2
    stricter = etree.parse(str(message.GRAMMAR))
    ns = {"rng": "http://relaxng.org/ns/structure/1.0"}
    (address2,) = stricter.xpath("//rng:element[@name='Address2']/..", namespaces=ns)
    address2.getparent().remove(address2)
    path = tmp_path / "official.rng"
    stricter.write(str(path))
    assert message.problems(xml) == []
    assert any("Address2" in problem or "Constituent" in problem for problem in message.problems(xml, str(path)))


def _agent_config() -> dict[str, str]:
    return {
        "CWC_DELIVERY_AGENT_ACK_EMAIL": AGENT.ack_email,
        "CWC_DELIVERY_AGENT_CONTACT_NAME": AGENT.contact_name,
        "CWC_DELIVERY_AGENT_CONTACT_EMAIL": AGENT.contact_email,
        "CWC_DELIVERY_AGENT_CONTACT_PHONE": AGENT.contact_phone,
    }
