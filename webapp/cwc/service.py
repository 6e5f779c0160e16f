"""What Communicating with Congress means for Outcry: whether it is configured, which office a member has, the
message for one letter, and what CWC's answer means for the letter (sent, failed with a reason, or try again)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from flask import current_app
from lxml import etree

from webapp.congress.files import member_office_code
from webapp.cwc import message
from webapp.cwc.client import Endpoint, Reply
from webapp.models import LEGISLATOR_KINDS, Target, utcnow

log = logging.getLogger(__name__)


def enabled(config: dict[str, Any] | None = None) -> bool:
    """Whether the operator configured CWC (every CWC_REQUIRED setting; see webapp/config.py)."""
    config = config if config is not None else current_app.config
    return bool(config.get("CWC_ENABLED"))


def agent(config: dict[str, Any] | None = None) -> message.Agent:
    config = config if config is not None else current_app.config
    return message.Agent(
        name=config["CWC_DELIVERY_AGENT"],
        ack_email=config["CWC_DELIVERY_AGENT_ACK_EMAIL"],
        contact_name=config["CWC_DELIVERY_AGENT_CONTACT_NAME"],
        contact_email=config["CWC_DELIVERY_AGENT_CONTACT_EMAIL"],
        contact_phone=config["CWC_DELIVERY_AGENT_CONTACT_PHONE"],
    )


def endpoint(kind: str, config: dict[str, Any] | None = None) -> Endpoint:
    """Where a letter to a member of this kind goes: the Senate's own endpoint when one is set, else CWC_API_URL."""
    config = config if config is not None else current_app.config
    if kind == "senator" and config.get("CWC_SENATE_API_URL"):
        url, key = config["CWC_SENATE_API_URL"], config["CWC_SENATE_API_KEY"]
    else:
        url, key = config["CWC_API_URL"], config["CWC_API_KEY"]
    return Endpoint(url=url, key=key, ca_file=config.get("CWC_CA_FILE"))


def office_code(target: Target) -> str | None:
    """The member's CWC office code, as `flask congress load` stored it (derived again if an older load did not)."""
    if target.kind not in LEGISLATOR_KINDS or not target.state:
        return None
    extra = target.extra or {}
    stored = extra.get("cwc_office")
    if stored:
        return stored
    chamber = "senate" if target.kind == "senator" else "house"
    return member_office_code(chamber, target.state, target.district, extra.get("senate_class"))


def grammar_path(config: dict[str, Any] | None = None) -> str | None:
    config = config if config is not None else current_app.config
    return config.get("CWC_GRAMMAR") or None


MessageError = message.MessageError


def constituent(postal: Any, email: str) -> message.Constituent:
    """The message's constituent from the address the supporter gave (webapp/cwc/address.PostalAddress)."""
    return message.Constituent(
        prefix=postal.prefix,
        first_name=postal.first_name,
        last_name=postal.last_name,
        address1=postal.street,
        address2=postal.street2,
        city=postal.city,
        state=postal.state,
        zip=postal.zip,
        email=email,
    )


def campaign_id(campaign_slug: str, config: dict[str, Any] | None = None) -> str:
    config = config if config is not None else current_app.config
    return message.campaign_id(config["CWC_DELIVERY_AGENT"], campaign_slug)


def letter_for(
    letter_id: str, office: str, campaign: str, subject: str, topics: tuple[str, ...], body: str
) -> message.Letter:
    """One letter's part of the message; its id is the DeliveryId, so every try of a letter carries the same one."""
    return message.Letter(
        delivery_id=letter_id,
        date=utcnow().date(),
        campaign_id=campaign,
        office=office,
        subject=subject,
        topics=topics,
        body=body,
    )


def checked_message(
    constituent: message.Constituent, letter: message.Letter, config: dict[str, Any] | None = None
) -> bytes:
    """The letter's message, validated against the grammar; MessageError (its problems logged) if it isn't valid.

    The log line names the letter and what the grammar objected to (element paths and libxml2's reasons), never a
    value: an operator can see why without reading anyone's name, address or letter.
    """
    try:
        return message.check(message.build(agent(config), constituent, letter), grammar_path(config))
    except message.MessageError as exc:
        log.error(
            "cwc.invalid_message letter=%s office=%s problems=%s",
            letter.delivery_id,
            letter.office,
            " | ".join(exc.problems[:8]),
        )
        raise


# ---- what CWC's answer means --------------------------------------------------------------------------------------

# Words in a refusal that mean "this person is not the member's constituent" or "this address is wrong".
_ADDRESS_WORDS = re.compile(r"constituent|address|district|zip|state", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
MAX_ERRORS, MAX_ERROR_CHARS = 5, 300


@dataclass(frozen=True)
class Outcome:
    """What happened to one letter at CWC. `reason` is for the supporter; `detail` for the operator's log."""

    accepted: bool
    transient: bool = False
    reason: str = ""
    detail: str = ""
    code: int | None = None
    address_problem: bool = False


def refusal_errors(body: bytes) -> list[str]:
    """The <Error> lines of a CWC refusal (at most MAX_ERRORS, each shortened), or the body's text if not XML."""
    try:
        root = etree.fromstring(body, parser=etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False))
        lines = [" ".join((element.text or "").split()) for element in root.iter("Error")]
    except etree.XMLSyntaxError:
        lines = [body.decode("utf-8", "replace")]
    cleaned = [_CONTROL.sub(" ", line).strip()[:MAX_ERROR_CHARS] for line in lines]
    return [line for line in cleaned if line][:MAX_ERRORS]


def classify(reply: Reply, office: str) -> Outcome:
    """Accepted (2xx), refused for good (most 4xx: the reason says why and what to do), or worth another try."""
    status = reply.status
    if 200 <= status < 300:
        return Outcome(accepted=True, code=status)
    if status == 400 or status == 422:
        errors = refusal_errors(reply.body)
        said = f" Their system said: “{errors[0]}”" if errors else ""
        if any(_ADDRESS_WORDS.search(error) for error in errors):
            reason = (
                f"{office} did not accept the letter because of the address you gave.{said} Check your street "
                "address and ZIP code and send it again, or use their contact form or a printed letter instead."
            )
            return Outcome(
                False, reason=reason, detail=f"refused: {' | '.join(errors)}", code=status, address_problem=True
            )
        reason = (
            f"{office} did not accept the letter through Congress's system.{said} You can send it through their "
            "contact form or as a printed letter instead."
        )
        return Outcome(False, reason=reason, detail=f"refused: {' | '.join(errors)}", code=status)
    if status == 413:
        return Outcome(
            False,
            reason="The letter is too long for Congress's system. Shorten it and send it again.",
            detail="refused: too large",
            code=status,
        )
    if status in (401, 403, 404, 405, 407):
        # Our settings (the key, the address), not the supporter's letter: worth retrying once the operator fixes them.
        return Outcome(
            False,
            transient=True,
            reason="Congress's system did not accept our delivery settings; we will try again.",
            detail=f"endpoint answered {status}: check CWC_API_URL and CWC_API_KEY",
            code=status,
        )
    if status in (408, 409, 425, 429) or status >= 500 or status < 200 or 300 <= status < 400:
        return Outcome(
            False,
            transient=True,
            reason=f"Congress's system had a problem on its side (error {status}); we will try again.",
            detail=f"endpoint answered {status}",
            code=status,
        )
    return Outcome(
        False,
        reason=f"Congress's system refused the letter (error {status}). You can send it through their contact form "
        "or as a printed letter instead.",
        detail=f"endpoint answered {status}",
        code=status,
    )
