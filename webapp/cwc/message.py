"""The CWC 2.0 message: built with lxml from a letter the supporter approved, and checked against the grammar.

Every value goes in as element text (lxml escapes what XML must escape), never as markup, so a name like
`O'Brien <Esq> & Sons` arrives as written. The grammar is loaded once per file from `CWC_GRAMMAR` (default:
webapp/cwc/schema/cwc.rng, written by this project from the published format; see that file's header). A
message that does not validate is never sent; `problems()` says why without repeating any supporter's data.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

VERSION = "2.0"
GRAMMAR = Path(__file__).with_name("schema") / "cwc.rng"

# Titles CWC's format asks for before a constituent's name (EFF's CWC clients offer this list; a few of its
# military ranks are left out). The grammar may not restrict them, but an office's system might.
PREFIXES = ("Ms.", "Mr.", "Mrs.", "Miss", "Dr.", "Reverend", "Father", "Sister")


class MessageError(ValueError):
    """The message can't be built or doesn't validate; `problems` say where, without any supporter's data."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Agent:
    """The delivery agent: the organization CWC approved to deliver messages (the operator's settings)."""

    name: str
    ack_email: str
    contact_name: str
    contact_email: str
    contact_phone: str


@dataclass(frozen=True)
class Constituent:
    """The supporter as CWC needs them: name, full postal address in the member's state or district, email."""

    prefix: str
    first_name: str
    last_name: str
    address1: str
    address2: str
    city: str
    state: str
    zip: str
    email: str


@dataclass(frozen=True)
class Letter:
    """One letter to one office."""

    delivery_id: str  # 32 letters and digits: the letter's own id, so a retry carries the same id
    date: dt.date
    campaign_id: str
    office: str  # the member's office code, e.g. HCA12 or SCA00
    subject: str
    topics: tuple[str, ...]
    body: str


def campaign_id(agent_name: str, campaign_slug: str) -> str:
    """A stable id for one campaign of one delivery agent: 32 hex digits (offices group letters by it)."""
    return hashlib.sha256(f"{agent_name}\n{campaign_slug}".encode()).hexdigest()[:32]


def _add(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    element = etree.SubElement(parent, tag)
    if text is not None:
        element.text = text
    return element


def build(agent: Agent, constituent: Constituent, letter: Letter) -> bytes:
    """The message as UTF-8 XML. Raises MessageError for text XML can't carry (control characters)."""
    try:
        root = etree.Element("CWC")
        _add(root, "CWCVersion", VERSION)
        delivery = _add(root, "Delivery")
        _add(delivery, "DeliveryId", letter.delivery_id)
        _add(delivery, "DeliveryDate", letter.date.strftime("%Y%m%d"))
        _add(delivery, "DeliveryAgent", agent.name)
        _add(delivery, "DeliveryAgentAckEmailAddress", agent.ack_email)
        contact = _add(delivery, "DeliveryAgentContact")
        _add(contact, "DeliveryAgentContactName", agent.contact_name)
        _add(contact, "DeliveryAgentContactEmail", agent.contact_email)
        _add(contact, "DeliveryAgentContactPhone", agent.contact_phone)
        _add(delivery, "CampaignId", letter.campaign_id)
        recipient = _add(root, "Recipient")
        _add(recipient, "MemberOffice", letter.office)
        person = _add(root, "Constituent")
        _add(person, "Prefix", constituent.prefix)
        _add(person, "FirstName", constituent.first_name)
        _add(person, "LastName", constituent.last_name)
        _add(person, "Address1", constituent.address1)
        if constituent.address2:
            _add(person, "Address2", constituent.address2)
        _add(person, "City", constituent.city)
        _add(person, "StateAbbreviation", constituent.state)
        _add(person, "Zip", constituent.zip)
        _add(person, "Email", constituent.email)
        message = _add(root, "Message")
        _add(message, "Subject", letter.subject)
        topics = _add(message, "LibraryOfCongressTopics")
        for topic in letter.topics:
            _add(topics, "LibraryOfCongressTopic", topic)
        _add(message, "ConstituentMessage", letter.body)
    except ValueError:
        # lxml refuses NUL and other control characters: XML 1.0 has no way to write them.
        raise MessageError(["the letter or the address holds characters XML cannot carry"]) from None
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


@functools.cache
def grammar(path: str | None = None) -> etree.RelaxNG:
    """The RELAX NG grammar at `path` (default: the bundled one), parsed once per process."""
    return etree.RelaxNG(etree.parse(str(path or GRAMMAR)))


# libxml2's messages name elements, not values; anything quoted is dropped all the same.
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def problems(xml: bytes, grammar_path: str | None = None) -> list[str]:
    """Why `xml` is not a valid CWC message (element path and libxml2's reason), or [] when it is valid."""
    try:
        document = etree.fromstring(xml, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        return [f"not well-formed XML (line {exc.lineno})"]
    schema = grammar(grammar_path)
    if schema.validate(document):
        return []
    found = []
    for error in schema.error_log:
        reason = _QUOTED.sub("…", error.message).strip()
        found.append(f"{error.path or '/'}: {reason}")
    return found or ["the grammar refused it without saying why"]


def check(xml: bytes, grammar_path: str | None = None) -> bytes:
    """`xml` if it validates; MessageError otherwise."""
    found = problems(xml, grammar_path)
    if found:
        raise MessageError(found)
    return xml
