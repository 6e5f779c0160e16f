"""The seam between the delivery engine and the ways a letter can leave: open a session, send one letter, close.

The engine (webapp/delivery/service.py) claims letters, keeps their lease while the conversation progresses,
and records every outcome through webapp/outbox.py; a transport only talks to the outside world, and each of
its three phases ends within the number of seconds it is given (a deadline, not a timeout per read). SMTP
with a password, and a sign-in with Google or Microsoft (the Gmail API, Microsoft Graph, or SMTP with
XOAUTH2), are the transports of the supporter's own account; HTTP sends such as Congress's CWC plug in
here with the same contract.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from typing import Protocol

from flask import current_app

from webapp.delivery import budget, credentials, https, oauth, smtp, ssrf
from webapp.delivery.credentials import OAuthAccount, SmtpAccount
from webapp.delivery.deadline import Deadline, DeadlineExceeded
from webapp.delivery.smtp import DeliveryError, OutgoingLetter
from webapp.outbox import Claimed


class Session(Protocol):
    def send(self, letter: Claimed, seconds: float) -> None:
        """Hand one letter over within `seconds`, or raise DeliveryError (transient ones are retried)."""

    def close(self, seconds: float) -> None:
        """End the session politely within `seconds`; never raises."""


class Transport(Protocol):
    def open(self, seconds: float) -> Session:
        """Connect and sign in within `seconds`, or raise DeliveryError (or ssrf.RefusedHost)."""


def outgoing(letter: Claimed, message_id_domain: str | None) -> OutgoingLetter:
    return OutgoingLetter(
        letter_id=letter.id,
        sender_name=letter.sender_name,
        sender_email=letter.sender_email,
        recipient=letter.recipient,
        recipient_name=letter.recipient_name,
        subject=letter.subject,
        body=letter.body,
        message_id_domain=message_id_domain,
    )


def check_smtp_host(host: str, port: int, deadline: Deadline) -> ssrf.CheckedAddress:
    """The SSRF check of a mail server, its DNS lookup within `deadline` (the connecting phase's, which the
    connection then continues): a resolver that hangs is that phase taking too long, a temporary failure with
    its plain reason, and never holds a worker past the deadline. Raises ssrf.RefusedHost or DeliveryError."""
    config = current_app.config
    try:
        return ssrf.check(
            host, port, config["SMTP_ALLOWED_HOSTS"], tuple(config["SMTP_ALLOWED_PORTS"]), deadline=deadline
        )
    except DeadlineExceeded as exc:
        raise smtp.explain(exc, deadline) from None


@dataclass
class SmtpSession:
    connection: smtplib.SMTP
    message_id_domain: str | None

    def send(self, letter: Claimed, seconds: float) -> None:
        smtp.send(self.connection, outgoing(letter, self.message_id_domain), timeout=seconds)

    def close(self, seconds: float) -> None:
        smtp.close(self.connection, timeout=seconds)


@dataclass
class SmtpTransport:
    """The supporter's own mail server, signed in to with their password (held encrypted in Redis until then)."""

    account: SmtpAccount

    def open(self, seconds: float) -> SmtpSession:
        config = current_app.config
        account = self.account
        deadline = Deadline(seconds, smtp.CONNECTING)
        checked = check_smtp_host(account.host, account.port, deadline)
        username = account.username
        budget.check(checked.host, username)
        try:
            connection = smtp.connect(
                account,
                checked,
                timeout=seconds,
                deadline=deadline,
                ca_file=config.get("SMTP_CA_FILE"),
                ehlo_name=config.get("SMTP_EHLO_NAME"),
                # Asked again right before the password goes out: other workers may have spent the budget since.
                before_login=lambda: budget.check(checked.host, username),
            )
        except DeliveryError as exc:
            if exc.kind == "auth":
                budget.spend(checked.host, username)
            raise
        finally:
            self.account = None  # the password is not needed past login, nor kept for the rest of the batch
        budget.succeeded(checked.host, username)
        return SmtpSession(connection, config.get("MESSAGE_ID_DOMAIN"))


@dataclass
class ApiSession:
    """One conversation with the Gmail API or Microsoft Graph: a kept-alive HTTPS connection (checked by the
    SSRF policy, pinned, verified), a request per letter carrying the bytes the SMTP path would send, each
    under the phase's deadline and the same watchdog."""

    account: OAuthAccount
    client: https.HttpsClient
    message_id_domain: str | None

    def send(self, letter: Claimed, seconds: float) -> None:
        try:
            data = smtp.build_message(outgoing(letter, self.message_id_domain))
        except (UnicodeError, ValueError) as exc:  # an address the email package cannot write
            raise smtp.explain(exc) from None
        oauth.send_api(self.client, self.account, data, seconds)

    def close(self, seconds: float) -> None:
        self.client.close()


@dataclass
class SignedInTransport:
    """The supporter's own account, signed in to with Google or Microsoft: an access token (held encrypted in
    Redis, never a refresh token) sends through the Gmail API, Graph, or Microsoft's SMTP with XOAUTH2."""

    account: OAuthAccount

    def open(self, seconds: float) -> Session:
        config = current_app.config
        account = self.account
        oauth.check_fresh(account)  # a token about to run out: the supporter signs in again instead
        if account.send_with != "smtp":
            return ApiSession(account, https.HttpsClient(), config.get("MESSAGE_ID_DOMAIN"))
        settings = oauth.smtp_account(account)
        deadline = Deadline(seconds, smtp.CONNECTING)
        checked = check_smtp_host(settings.host, settings.port, deadline)
        connection = smtp.connect(
            settings,
            checked,
            timeout=seconds,
            deadline=deadline,
            ca_file=config.get("SMTP_CA_FILE"),
            ehlo_name=config.get("SMTP_EHLO_NAME"),
            login=lambda connection: oauth.login_xoauth2(connection, account),
        )
        return SmtpSession(connection, config.get("MESSAGE_ID_DOMAIN"))


def account_transport(submission_id: str) -> Transport | None:
    """The transport for a submission sent from the supporter's own account (a password or a sign-in), or
    None when the credentials are gone (their time in Redis ran out, or the supporter asked us to erase
    their data)."""
    account = credentials.load(submission_id)
    if account is None:
        return None
    if isinstance(account, OAuthAccount):
        return SignedInTransport(account)
    return SmtpTransport(account)
