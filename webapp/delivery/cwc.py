"""CWC as a delivery transport: the engine (webapp/delivery/service.py) claims a submission's letters and hands them
here one by one, each under its deadline; this builds the letter's message, checks it against the grammar again
(a message that does not validate is never sent), POSTs it, and says what CWC answered. Recording the outcome, the
retries and the lease are the engine's and the outbox's, exactly as for a letter sent from the supporter's account.

The POST goes through the HTTPS client the mail providers' APIs use (webapp/delivery/https.py): the endpoint's
name looked up within the deadline (a resolver that hangs ends with it) and the connection pinned to the address
found; every socket operation (connect, TLS handshake, each write, each read) bounded by one monotonic deadline with
the delivery watchdog behind it, so an endpoint that answers one byte at a time ends at the same moment as one that
never answers; no redirects, no proxies from the environment, answers never compressed, and a reply read up to
client.MAX_REPLY bytes and no further. The endpoint is the operator's setting (never from a request), so it is the
one host its client may reach, whatever its address. TLS certificates are verified (system CAs, plus CWC_CA_FILE
when set). The API key travels as the `apikey` query parameter, as the known CWC clients send it; it never appears
in an exception, a log line or a reason.
"""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
from flask import current_app
from sqlalchemy import select

from webapp.cwc import address, client, message, service
from webapp.delivery import https
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
POSTING = "delivering the letter to Congress"


class Unreachable(Exception):
    """The exchange failed before a complete reply arrived: refused, reset, TLS, or out of time. Worth retrying."""

    def __init__(self, reason: str, *, deadline: bool = False):
        super().__init__(reason)
        self.reason, self.deadline = reason, deadline


def connect(endpoint: client.Endpoint) -> https.HttpsClient:
    """A client that reaches this endpoint only; keep it for a conversation's letters and close it after."""
    return https.HttpsClient(allowed=frozenset({(endpoint.host, endpoint.port)}), ca_file=endpoint.ca_file or "")


def post(
    endpoint: client.Endpoint, body: bytes, seconds: float, *, connection: https.HttpsClient | None = None
) -> client.Reply:
    """POST `body` (XML) to the endpoint and read the reply, all within `seconds`; raises Unreachable.

    `connection` (from `connect(endpoint)`) is kept alive between the letters of one conversation; without one,
    a connection is made for this POST and closed after it."""
    http = connection if connection is not None else connect(endpoint)
    too_long = Unreachable(f"Congress's system did not answer within {seconds:g} seconds", deadline=True)
    try:
        reply = http.request(
            "POST",
            endpoint.url,
            params={"apikey": endpoint.key},
            content=body,
            headers={
                "User-Agent": client.USER_AGENT,
                "Content-Type": "application/xml; charset=utf-8",
                "Accept": "application/xml, text/plain, application/json",
            },
            seconds=seconds,
            phase=POSTING,
            max_bytes=client.MAX_REPLY,
        )
    except ssl.SSLCertVerificationError:
        raise Unreachable("Congress's system presented a certificate we could not verify") from None
    except (httpx.TimeoutException, TimeoutError):
        raise too_long from None
    except (httpx.HTTPError, OSError) as exc:
        if http.backend.deadline.expired:  # the watchdog cut what outlived the deadline
            raise too_long from None
        if isinstance(exc, httpx.ConnectError):
            raise Unreachable("We couldn't connect to Congress's system") from None
        if isinstance(exc, (httpx.RemoteProtocolError, httpx.DecodingError)):
            raise Unreachable("Congress's system sent an answer we could not read") from None
        raise Unreachable("The connection to Congress's system broke off") from None
    finally:
        if connection is None:
            http.close()
    return client.Reply(reply.status, reply.body, reply.truncated)


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
    """One submission's letters: the same constituent and topics, one POST per letter, over one connection per
    endpoint kept for the conversation (the House's, and the Senate's when it has its own)."""

    constituent: message.Constituent
    topics: tuple[str, ...]
    campaign_id: str
    config: dict[str, Any]
    connections: dict[client.Endpoint, https.HttpsClient] = field(default_factory=dict)

    def send(self, letter: OutgoingLetter, seconds: float) -> None:
        office = letter.recipient
        built = service.letter_for(letter.id, office, self.campaign_id, letter.subject, self.topics, letter.body)
        try:
            xml = service.checked_message(self.constituent, built, self.config)
        except message.MessageError:
            raise DeliveryError(NOT_BUILT, transient=False, kind="invalid") from None
        endpoint = service.endpoint("senator" if office.startswith("S") else "representative", self.config)
        try:
            if endpoint not in self.connections:
                self.connections[endpoint] = connect(endpoint)
            reply = post(endpoint, xml, seconds, connection=self.connections[endpoint])
        except Unreachable as exc:
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
        for connection in self.connections.values():
            connection.close()
        self.connections.clear()


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
