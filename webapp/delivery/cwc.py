"""CWC as a delivery transport: the engine (webapp/delivery/service.py) claims a submission's letters and hands them
here one by one, each under its deadline; this builds the letter's message, checks it against the grammar again
(a message that does not validate is never sent), POSTs it, and says what CWC answered. Recording the outcome, the
retries and the lease are the engine's and the outbox's, exactly as for a letter sent from the supporter's account.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

from flask import current_app
from sqlalchemy import select

from webapp.cwc import address, client, message, service
from webapp.delivery.smtp import DeliveryError
from webapp.extensions import db
from webapp.models import Campaign, LetterTemplate, Submission

log = logging.getLogger(__name__)

# Shown when the address was erased (retention, or the supporter's own request) before the letter could go.
ADDRESS_GONE = (
    "Your address was deleted before this letter could be delivered to Congress, and offices need it. "
    "Please send the letter again."
)
SWITCHED_OFF = (
    "This site stopped delivering letters through Congress's system before this one went out. "
    "You can send it through their contact form or as a printed letter instead."
)
NOT_BUILT = (
    "We couldn't prepare this letter in the form Congress's system requires, so it was not sent. "
    "You can send it through their contact form or as a printed letter instead."
)


class OutgoingLetter(Protocol):
    """What the engine's claimed letter carries that a CWC message needs."""

    id: str
    submission_id: str
    recipient: str  # the member's office code, copied from their record when the letter was written
    recipient_name: str
    subject: str
    body: str


@dataclass
class CwcSession:
    """One submission's letters: the same constituent and topics, one POST per letter."""

    constituent: message.Constituent
    topics: tuple[str, ...]
    campaign_id: str
    config: dict[str, Any]

    def send(self, letter: OutgoingLetter, seconds: float) -> None:
        office = letter.recipient
        built = service.letter_for(letter.id, office, self.campaign_id, letter.subject, self.topics, letter.body)
        try:
            xml = service.checked_message(self.constituent, built, self.config)
        except message.MessageError:
            raise DeliveryError(NOT_BUILT, transient=False, kind="invalid") from None
        endpoint = service.endpoint("senator" if office.startswith("S") else "representative", self.config)
        try:
            reply = client.post(endpoint, xml, seconds)
        except client.Unreachable as exc:
            log.info("cwc.unreachable letter=%s office=%s deadline=%s", letter.id, office, exc.deadline)
            raise DeliveryError(
                f"{exc.reason}; we will try again.", transient=True, kind="deadline" if exc.deadline else ""
            ) from None
        outcome = service.classify(reply, f"{letter.recipient_name}'s office")
        if outcome.accepted:
            log.info("cwc.accepted letter=%s office=%s status=%s", letter.id, office, reply.status)
            return
        # A refusal's detail (CWC's own words, which may quote the constituent) goes to the letter's reason, which
        # organizers see, never to the log; a temporary one's detail names only the status and the settings to check.
        log.info(
            "cwc.not_accepted letter=%s office=%s status=%s transient=%s address=%s detail=%s",
            letter.id, office, reply.status, outcome.transient, outcome.address_problem,
            outcome.detail if outcome.transient else "-",
        )  # fmt: skip
        raise DeliveryError(
            outcome.reason,
            transient=outcome.transient,
            code=reply.status,
            kind="address" if outcome.address_problem else "",
        )

    def close(self, seconds: float) -> None:
        """Each POST had its own connection; nothing is left open."""


@dataclass
class CwcTransport:
    submission_id: str

    def open(self, seconds: float) -> CwcSession:
        """Read what every letter of the submission shares; nothing goes over the network yet."""
        row = db.session.execute(
            select(Submission.constituent, Submission.supporter_email, Campaign.slug, LetterTemplate.cwc_topics)
            .join(Campaign, Campaign.id == Submission.campaign_id)
            .join(LetterTemplate, LetterTemplate.id == Submission.template_id)
            .where(Submission.id == self.submission_id)
        ).first()
        config = current_app.config
        if not service.enabled(config):
            raise DeliveryError(SWITCHED_OFF, transient=False, kind="off")
        if row is None or not row.constituent or not row.supporter_email:
            raise DeliveryError(ADDRESS_GONE, transient=False, kind="erased")
        postal = address.PostalAddress(**{name: row.constituent.get(name, "") for name in address.FIELDS})
        return CwcSession(
            constituent=service.constituent(postal, row.supporter_email),
            topics=tuple(row.cwc_topics or ()),
            campaign_id=service.campaign_id(row.slug, config),
            config=config,
        )
