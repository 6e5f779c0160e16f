"""Talking to the supporter's mail server: a pinned, verified-TLS connection, safe messages, readable failures."""

from __future__ import annotations

import functools
import smtplib
import socket
import ssl
from dataclasses import dataclass
from email import policy as email_policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import formatdate

from webapp.delivery.credentials import SmtpAccount
from webapp.delivery.ssrf import CheckedAddress

# The only headers a letter carries; the supporter writes none of them directly.
HEADERS = ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type", "Content-Transfer-Encoding")
_EXPECTED = sorted(name.lower() for name in HEADERS)


class DeliveryError(Exception):
    """A failure with a reason a supporter understands. `transient` ones are retried."""

    def __init__(self, reason: str, *, transient: bool, code: int | None = None):
        super().__init__(reason)
        self.reason, self.transient, self.code = reason, transient, code


class _PinnedMixin:
    """Connect only to addresses the SSRF check approved, while TLS still checks the host's name."""

    pinned_addresses: tuple[str, ...]

    def _get_socket(self, host, port, timeout):  # noqa: ANN001 - smtplib's signature
        self._host = host  # smtplib only sets it in __init__; STARTTLS checks the certificate against it
        sock, error = None, None
        for address in self.pinned_addresses:
            try:
                sock = socket.create_connection((address, port), timeout, self.source_address)
                break
            except OSError as exc:
                error = exc
        if sock is None:
            raise error or OSError("no address to connect to")
        if isinstance(self, smtplib.SMTP_SSL):
            return self.context.wrap_socket(sock, server_hostname=self._host)
        return sock


class PinnedSMTP(_PinnedMixin, smtplib.SMTP):
    def __init__(self, pinned_addresses: tuple[str, ...], **kwargs):
        self.pinned_addresses = pinned_addresses
        super().__init__(**kwargs)


class PinnedSMTPSSL(_PinnedMixin, smtplib.SMTP_SSL):
    def __init__(self, pinned_addresses: tuple[str, ...], **kwargs):
        self.pinned_addresses = pinned_addresses
        super().__init__(**kwargs)


@functools.lru_cache(maxsize=8)
def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """System trust store plus an optional extra CA; certificates and host names always verified.

    Built once per CA file and shared: loading the system trust store is most of what a new context
    costs (about 20 ms, half a delivery), and a context is safe to share between connections.
    """
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


def connect(account: SmtpAccount, checked: CheckedAddress, *, timeout: float, ca_file: str | None) -> smtplib.SMTP:
    """Open, encrypt and log in, or raise DeliveryError. The password is never part of an error."""
    context = tls_context(ca_file)
    connection: smtplib.SMTP | None = None
    try:
        if account.security == "ssl":
            connection = PinnedSMTPSSL(checked.addresses, timeout=timeout, context=context)
        else:
            connection = PinnedSMTP(checked.addresses, timeout=timeout)
        code, message = connection.connect(checked.host, checked.port)
        if code != 220:
            raise smtplib.SMTPConnectError(code, message)
        connection.ehlo()
        if account.security != "ssl":
            if not connection.has_extn("starttls"):
                raise DeliveryError(
                    "Your mail server doesn't offer an encrypted connection on this port, so your "
                    "password wasn't sent. Try port 465 with SSL/TLS.",
                    transient=False,
                )
            connection.starttls(context=context)
            connection.ehlo()
        _login(connection, account)
        return connection
    except DeliveryError:
        if connection is not None:
            close(connection)
        raise
    except (smtplib.SMTPException, OSError) as exc:
        if connection is not None:
            close(connection)
        raise explain(exc) from None


def _login(connection: smtplib.SMTP, account: SmtpAccount) -> None:
    """Log in once, with PLAIN or LOGIN. smtplib's login() would try every mechanism with the same
    wrong password, and some providers lock an account after a few failures."""
    offered = connection.esmtp_features.get("auth", "").upper().split()
    for mechanism in ("PLAIN", "LOGIN"):
        if mechanism in offered:
            connection.user, connection.password = account.username, account.password
            try:
                connection.auth(mechanism, getattr(connection, f"auth_{mechanism.lower()}"))
            finally:
                connection.password = ""
            return
    raise DeliveryError(
        "Your mail server doesn't offer a way to log in that we support (PLAIN or LOGIN).", transient=False
    )


def close(connection: smtplib.SMTP) -> None:
    """Say goodbye politely if the server still listens; drop the socket either way."""
    try:
        connection.quit()
    except (smtplib.SMTPException, OSError):
        connection.close()


def explain(exc: Exception) -> DeliveryError:
    """Map whatever smtplib, ssl or the network raised to a supporter-readable DeliveryError."""
    code = getattr(exc, "smtp_code", None)
    if isinstance(exc, smtplib.SMTPAuthenticationError) and not (isinstance(code, int) and 400 <= code < 500):
        return DeliveryError(
            "Your mail server rejected the user name or password. Check them (Gmail, Yahoo and iCloud "
            "need an app password) and send again.",
            transient=False,
            code=code,
        )
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code = next(iter(exc.recipients.values()))[0] if exc.recipients else None
    if isinstance(exc, ssl.SSLCertVerificationError):
        return DeliveryError(
            "Your mail server's security certificate could not be verified, so nothing was sent. "
            "Check the server name.",
            transient=False,
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return DeliveryError(
            "Your mail server doesn't support what sending needs (login over an encrypted connection).", transient=False
        )
    if (
        isinstance(
            exc, (smtplib.SMTPServerDisconnected, ssl.SSLError, socket.timeout, TimeoutError, ConnectionError, OSError)
        )
        and code is None
    ):
        return DeliveryError(
            "We couldn't reach your mail server just now; we'll keep trying for a while.", transient=True
        )
    if isinstance(code, int) and 400 <= code < 500:
        return DeliveryError(
            f"Your mail server asked us to try again later (code {code}); we'll keep trying for a while.",
            transient=True,
            code=code,
        )
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return DeliveryError(
            "Your mail server refused to send from your address. Use the email address of the account you log in with.",
            transient=False,
            code=code,
        )
    if isinstance(exc, (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError)):
        return DeliveryError("The recipient's server refused the letter.", transient=False, code=code)
    if isinstance(exc, smtplib.SMTPConnectError):
        return DeliveryError("Your mail server refused the connection.", transient=False, code=code)
    return DeliveryError(
        "Your mail server gave an error we didn't expect, so the letter wasn't sent.", transient=False, code=code
    )


@dataclass(frozen=True)
class OutgoingLetter:
    letter_id: str
    sender_name: str
    sender_email: str
    recipient: str
    recipient_name: str
    subject: str
    body: str
    message_id_domain: str | None = None


def message_id(letter_id: str, sender_email: str, domain: str | None = None) -> str:
    """Deterministic, so a letter sent twice (the crash-after-250 window) shows up as a duplicate."""
    return f"<outcry.{letter_id}@{domain or sender_email.rsplit('@', 1)[-1]}>"


# Python's header folding (3.11) can drop the quotes around a long display name when it breaks the line, so
# that `"Smith, John …" <a@b>` reads back as two mailboxes, or as an empty group. Headers that would not
# read back as written are written unfolded instead: RFC 5322 allows lines up to 998 characters.
_UNFOLDED = email_policy.SMTP.clone(max_line_length=998)
UNSAFE = "The letter could not be made into a safe email."


def build_message(letter: OutgoingLetter) -> bytes:
    """The letter as RFC 5322 bytes, checked to carry exactly the expected headers, our sender and one recipient."""
    msg = EmailMessage(policy=email_policy.SMTP)
    msg["From"] = Address(display_name=letter.sender_name, addr_spec=letter.sender_email)
    msg["To"] = _to_header(letter.recipient_name, letter.recipient)
    msg["Subject"] = letter.subject
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = message_id(letter.letter_id, letter.sender_email, letter.message_id_domain)
    msg.set_content(letter.body)
    data = msg.as_bytes()
    headers = _read_headers(data)
    if headers is None or not _reads_back(headers, letter):
        data = msg.as_bytes(policy=_UNFOLDED)
        headers = _read_headers(data)
    _verify_headers(headers, letter)
    return data


# Parsing a header is a pure function of its name and raw text, and most letters of a campaign share most of
# their headers (To, the subject, the MIME ones): each of those is parsed once per process, not once per
# letter. The parsed objects are immutable and only read, so sharing them between messages is safe. The
# sender's headers differ on every letter: they are parsed each time and not kept (nor is the supporter).
_PER_LETTER = frozenset({"from", "date", "message-id"})


@functools.lru_cache(maxsize=64)
def _to_header(display_name: str, addr_spec: str):
    return email_policy.SMTP.header_factory("To", Address(display_name=display_name, addr_spec=addr_spec))


@functools.lru_cache(maxsize=64)
def _parse_shared_header(name: str, raw: str):
    return email_policy.default.header_fetch_parse(name, raw)


def _parse_header(name: str, raw: str):
    if name.lower() in _PER_LETTER:
        return email_policy.default.header_fetch_parse(name, raw)
    return _parse_shared_header(name, raw)


def _read_headers(data: bytes) -> list[tuple[str, object]] | None:
    """Every header of `data` as the email package reads it back — (lower-case name, parsed value), each
    parsed once and in order, duplicates kept — or None when one does not parse."""
    parsed = BytesHeaderParser(policy=email_policy.default).parsebytes(data)
    try:
        return [(name.lower(), _parse_header(name, raw)) for name, raw in parsed.raw_items()]
    except (AttributeError, IndexError, TypeError, ValueError):  # the email package's errors on odd input
        return None


def _header(headers: list[tuple[str, object]], name: str) -> object | None:
    """The first header called `name` (lower case), or None."""
    return next((value for found, value in headers if found == name), None)


def _mailboxes(headers: list[tuple[str, object]], name: str) -> list[tuple[str, str]] | None:
    """(display name, address) of each mailbox in a header, or None when it does not parse as mailboxes."""
    try:
        return [(address.display_name, address.addr_spec.lower()) for address in _header(headers, name).addresses]
    except (AttributeError, IndexError, TypeError, ValueError):  # the email package's errors on odd input
        return None


def _reads_back(headers: list[tuple[str, object]], letter: OutgoingLetter) -> bool:
    """Whether From, To and Subject read back exactly as they were written."""
    return (
        _mailboxes(headers, "from") == [(letter.sender_name, letter.sender_email.lower())]
        and _mailboxes(headers, "to") == [(letter.recipient_name, letter.recipient.lower())]
        and str(_header(headers, "subject")) == letter.subject
    )


def _verify_headers(headers: list[tuple[str, object]] | None, letter: OutgoingLetter) -> None:
    """Re-read what we built: a defence against header injection whatever the email package did.

    Every header is parsed once (`_read_headers`) and each check looks at that one reading: the same
    checks as reading each header again, at a third of the cost."""
    if headers is None:
        raise DeliveryError(UNSAFE, transient=False)
    names = [name for name, _ in headers]
    if sorted(names) != _EXPECTED or len(set(names)) != len(names):
        raise DeliveryError(UNSAFE, transient=False)
    for _, value in headers:
        try:
            text = str(value)
        except (AttributeError, IndexError, TypeError, ValueError):
            raise DeliveryError(UNSAFE, transient=False) from None
        if "\n" in text or "\r" in text:
            raise DeliveryError(UNSAFE, transient=False)
    senders, recipients = _mailboxes(headers, "from"), _mailboxes(headers, "to")
    if not senders or [address for _, address in senders] != [letter.sender_email.lower()]:
        raise DeliveryError(UNSAFE, transient=False)
    if not recipients or [address for _, address in recipients] != [letter.recipient.lower()]:
        raise DeliveryError(UNSAFE, transient=False)


def send(connection: smtplib.SMTP, letter: OutgoingLetter) -> None:
    """Send one letter to exactly one envelope recipient, or raise DeliveryError."""
    data = build_message(letter)
    try:
        refused = connection.sendmail(letter.sender_email, [letter.recipient], data)
    except smtplib.SMTPException as exc:
        raise explain(exc) from None
    except OSError as exc:
        raise explain(exc) from None
    if refused:  # only possible with several recipients; kept for completeness
        raise DeliveryError("The recipient's server refused the letter.", transient=False)
