"""Talking to the supporter's mail server: a pinned, verified-TLS connection, safe messages, readable failures."""

from __future__ import annotations

import contextlib
import functools
import re
import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from email import policy as email_policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.utils import formatdate

from webapp.delivery.credentials import SmtpAccount
from webapp.delivery.deadline import Deadline, DeadlineExceeded, watchdog
from webapp.delivery.ssrf import CheckedAddress

# The only headers a letter carries; the supporter writes none of them directly.
HEADERS = ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type", "Content-Transfer-Encoding")
_EXPECTED = sorted(name.lower() for name in HEADERS)


class DeliveryError(Exception):
    """A failure with a reason a supporter understands. `transient` ones are retried."""

    def __init__(self, reason: str, *, transient: bool, code: int | None = None, kind: str = ""):
        super().__init__(reason)
        self.reason, self.transient, self.code = reason, transient, code
        # Whose problem it was, stored with a failed letter (models.NOT_THE_TARGETS): "auth" (the user name,
        # password or token refused), "expired" (sign in again), "quota", "sender" (the From address refused),
        # "deadline", "unreachable", "busy" (asked to try later), "server" (it can't do what sending needs),
        # "setup" (this site's sign-in set-up), "no_passwords" (Microsoft takes no passwords for this account);
        # "recipient" (the target's address refused), "content" (the
        # letter refused), "other".
        self.kind = kind


# What one reply of a mail server may be. A real one answers EHLO in a dozen short lines; a hostile one could
# send lines without end (a 262 MB greeting took a worker from 115 MB to 580 MB): past these, we hang up.
MAX_REPLY_LINES = 100
MAX_REPLY_BYTES = 64 * 1024
MAX_LINE = 8192  # smtplib's own limit for one line; RFC 5321 asks for 512


class ReplyTooLong(smtplib.SMTPException):
    """The server's reply went past MAX_REPLY_LINES or MAX_REPLY_BYTES."""


class PlaintextAfterStartTLS(smtplib.SMTPException):
    """The server sent more than its 220 before the TLS handshake: an injection attempt (CVE-2011-0411's kind)."""


class _Conversation:
    """What every connection to a supporter's mail server does on top of smtplib:

    - connects only to the addresses the SSRF check approved, while TLS still checks the host's name;
    - takes every socket operation's timeout from the current phase's deadline (`self.deadline`), so a
      trickling server cannot stretch a read, and no phase outlives its deadline;
    - reads replies itself, capped in lines and bytes, so no server can grow our memory;
    - refuses bytes sent ahead of the TLS handshake after STARTTLS.
    """

    pinned_addresses: tuple[str, ...]
    deadline: Deadline | None = None

    def _setup(self, pinned_addresses: tuple[str, ...]) -> None:
        self.pinned_addresses = pinned_addresses
        self._inbuf = bytearray()

    def _timeout(self) -> float:
        return self.deadline.remaining() if self.deadline is not None else self.timeout

    def cut(self, deadline: Deadline) -> None:
        """End whatever read, write or TLS handshake is blocked on the socket, if `deadline`'s phase is still
        the one running (the watchdog calls this from its thread; a phase that ended in the meantime is left
        alone, and so is the next one, which has a watch of its own)."""
        if self.deadline is not deadline:
            return
        sock = self.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                # The bare socket's shutdown, also for a TLS socket (whose own shutdown() drops its TLS state under
                # the reader's feet): the handshake, read or write in the other thread sees the end of the stream.
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def _handshake(self, sock: socket.socket, context: ssl.SSLContext) -> ssl.SSLSocket:
        """The TLS handshake, all of it within the phase's deadline, on a socket the watchdog can cut: the TLS
        socket becomes `self.sock` before the handshake starts (wrap_socket's own handshake would run on a socket
        the watchdog cannot reach, the plain one being detached by then)."""
        sock.settimeout(self._timeout())  # the whole handshake, not each record of it
        tls = context.wrap_socket(sock, server_hostname=self._host, do_handshake_on_connect=False)
        self.sock = tls
        tls.do_handshake()
        return tls

    def _get_socket(self, host, port, timeout):  # noqa: ANN001 - smtplib's signature
        self._host = host  # smtplib only sets it in __init__; STARTTLS checks the certificate against it
        sock, error = None, None
        for address in self.pinned_addresses:
            try:
                sock = socket.create_connection((address, port), self._timeout(), self.source_address)
                break
            except OSError as exc:
                error = exc
        if sock is None:
            raise error or OSError("no address to connect to")
        if isinstance(self, smtplib.SMTP_SSL):
            return self._handshake(sock, self.context)
        return sock

    def send(self, s):  # noqa: ANN001 - smtplib's signature
        if self.sock is not None:
            self.sock.settimeout(self._timeout())  # sendall: the timeout bounds the whole write
        super().send(s)

    def _readline(self) -> bytes:
        while True:
            end = self._inbuf.find(b"\n")
            if end >= 0:
                line = bytes(self._inbuf[: end + 1])
                del self._inbuf[: end + 1]
                return line
            if len(self._inbuf) > MAX_LINE:
                raise smtplib.SMTPResponseException(500, b"Line too long.")
            self.sock.settimeout(self._timeout())
            try:
                chunk = self.sock.recv(4096)
            except OSError:
                self.close()
                raise
            if not chunk:
                line = bytes(self._inbuf)
                self._inbuf.clear()
                return line
            self._inbuf += chunk

    def getreply(self):
        """smtplib's getreply, reading from our capped, deadline-bound buffer instead of an unbounded file."""
        if self.sock is None:
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        lines: list[bytes] = []
        size = 0
        while True:
            line = self._readline()
            if not line:
                self.close()
                raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
            size += len(line)
            lines.append(line[4:].strip(b" \t\r\n"))
            if len(lines) > MAX_REPLY_LINES or size > MAX_REPLY_BYTES:
                self.close()
                raise ReplyTooLong(f"a reply of more than {MAX_REPLY_LINES} lines or {MAX_REPLY_BYTES} bytes")
            code = line[:3]
            try:
                errcode = int(code)
            except ValueError:
                errcode = -1
                break
            if line[3:4] != b"-":
                break
        return errcode, b"\n".join(lines)

    def starttls(self, *, context: ssl.SSLContext):  # noqa: ANN201 - smtplib's signature
        """smtplib's starttls, with the handshake under the phase's deadline and no plaintext carried across."""
        self.ehlo_or_helo_if_needed()
        if not self.has_extn("starttls"):
            raise smtplib.SMTPNotSupportedError("STARTTLS extension not supported by server.")
        resp, reply = self.docmd("STARTTLS")
        if resp != 220:
            raise smtplib.SMTPResponseException(resp, reply)
        if self._inbuf:
            self.close()
            raise PlaintextAfterStartTLS("bytes before the TLS handshake")
        self._handshake(self.sock, context)
        self.file = None
        self.helo_resp = self.ehlo_resp = None
        self.esmtp_features = {}
        self.does_esmtp = False
        return resp, reply

    def close(self) -> None:
        self._inbuf.clear()
        super().close()


class PinnedSMTP(_Conversation, smtplib.SMTP):
    def __init__(self, pinned_addresses: tuple[str, ...], **kwargs):
        self._setup(pinned_addresses)
        super().__init__(**kwargs)


class PinnedSMTPSSL(_Conversation, smtplib.SMTP_SSL):
    def __init__(self, pinned_addresses: tuple[str, ...], **kwargs):
        self._setup(pinned_addresses)
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


# What the connection says after EHLO when no SMTP_EHLO_NAME is set: an address literal, as mail programs on
# a laptop send, instead of the worker's own (internal) host name.
DEFAULT_EHLO_NAME = "[127.0.0.1]"

CONNECTING = "connecting and signing in"
SENDING = "sending the letter"


def connect(
    account: SmtpAccount,
    checked: CheckedAddress,
    *,
    timeout: float,
    ca_file: str | None,
    ehlo_name: str | None = None,
    before_login: Callable[[], None] | None = None,
    login: Callable[[smtplib.SMTP], None] | None = None,
    deadline: Deadline | None = None,
) -> smtplib.SMTP:
    """Open, encrypt and log in within `timeout` seconds in all (or by `deadline`, the phase's end when it began
    earlier, with the host's lookup), or raise DeliveryError. The password is never part of an error.
    `before_login` runs once the connection is encrypted, just before the password goes out (the failure
    budget's check); a DeliveryError it raises ends the connection. `login` signs in instead of the password
    (XOAUTH2 with a token)."""
    context = tls_context(ca_file)
    deadline = deadline or Deadline(timeout, CONNECTING)
    connection: smtplib.SMTP | None = None
    kwargs = {"local_hostname": ehlo_name or DEFAULT_EHLO_NAME, "timeout": timeout}
    try:
        if account.security == "ssl":
            connection = PinnedSMTPSSL(checked.addresses, context=context, **kwargs)
        else:
            connection = PinnedSMTP(checked.addresses, **kwargs)
        connection.deadline = deadline
        with watchdog.watching(deadline, functools.partial(connection.cut, deadline)):
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
                        kind="server",
                    )
                connection.starttls(context=context)
                connection.ehlo()
            if before_login is not None:
                before_login()
            (login or functools.partial(_login, account=account))(connection)
        return connection
    except DeliveryError:
        if connection is not None:
            connection.close()
        raise
    except (smtplib.SMTPException, OSError, UnicodeError, ValueError) as exc:
        if connection is not None:
            connection.close()
        raise explain(exc, deadline) from None


def _login(connection: smtplib.SMTP, account: SmtpAccount) -> None:
    """Log in once, with PLAIN or LOGIN. smtplib's login() would try every mechanism with the same
    wrong password, and some providers lock an account after a few failures."""
    offered = connection.esmtp_features.get("auth", "").upper().split()
    for mechanism in ("PLAIN", "LOGIN"):
        if mechanism in offered:
            connection.user, connection.password = account.username, account.password
            answer = getattr(connection, f"auth_{mechanism.lower()}")
            try:
                connection.auth(mechanism, lambda challenge=None, answer=answer: _Utf8(answer(challenge)))
            finally:
                connection.password = ""
            return
    raise DeliveryError(
        "Your mail server doesn't offer a way to log in that we support (PLAIN or LOGIN).",
        transient=False,
        kind="server",
    )


class _Utf8(str):
    """An AUTH answer that smtplib's auth() encodes as UTF-8: it calls .encode("ascii"), which refuses a password
    like "contraseña"; PLAIN is UTF-8 (RFC 4616), and servers read LOGIN's user name and password the same way."""

    __slots__ = ()

    def encode(self, *_encoding: str, **_errors: str) -> bytes:  # whatever smtplib asks for: UTF-8
        return str.encode(self, "utf-8")


def close(connection: smtplib.SMTP, timeout: float = 5.0) -> None:
    """Say goodbye politely if the server still listens (for at most `timeout` seconds); drop the socket either way."""
    deadline = Deadline(timeout, "saying goodbye")
    connection.deadline = deadline
    try:
        with watchdog.watching(deadline, functools.partial(connection.cut, deadline)):
            connection.quit()
    except (smtplib.SMTPException, OSError, ValueError):
        connection.close()


def _deadline_fired(exc: Exception, deadline: Deadline) -> bool:
    """Whether `exc` is what our deadline did to the conversation, whatever the network layer called it: a
    socket timeout (every one is set to the deadline's remaining time), any socket or TLS error once the
    deadline has passed or the watchdog cut the socket (a handshake cut mid-way can surface as any SSLError,
    and a server that takes too long is a temporary failure, never an untrusted certificate)."""
    if not isinstance(exc, (OSError, smtplib.SMTPServerDisconnected)):
        return False
    return isinstance(exc, TimeoutError) or deadline.was_cut or deadline.expired


def explain(exc: Exception, deadline: Deadline | None = None) -> DeliveryError:
    """Map whatever smtplib, ssl or the network raised to a supporter-readable DeliveryError."""
    if isinstance(exc, DeadlineExceeded) or (deadline is not None and _deadline_fired(exc, deadline)):
        phase = deadline or exc.deadline
        return DeliveryError(
            f"Your mail server took too long while {phase.phase} (more than {phase.seconds:g} seconds), so we "
            "stopped; we'll keep trying for a while.",
            transient=True,
            kind="deadline",
        )
    if isinstance(exc, ReplyTooLong):
        return DeliveryError(
            "Your mail server sent an answer far longer than mail servers send, so we stopped talking to it "
            "and nothing was sent.",
            transient=False,
            kind="server",
        )
    if isinstance(exc, PlaintextAfterStartTLS):
        return DeliveryError(
            "Your mail server's encrypted connection could not be trusted, so your password wasn't sent.",
            transient=False,
            kind="server",
        )
    if isinstance(exc, UnicodeError):
        return DeliveryError(
            "Your email address, user name or password has characters your mail server can't take (such as "
            "accented letters in the address), so nothing was sent. Use the plain form your provider gives.",
            transient=False,
            kind="other",
        )
    code = getattr(exc, "smtp_code", None)
    if isinstance(exc, smtplib.SMTPAuthenticationError) and _NO_PASSWORDS.search(_bytes(exc.smtp_error)):
        # Not a wrong password, and not the server misbehaving: no failed sign-in is counted (kind "no_passwords").
        return DeliveryError(NO_PASSWORDS, transient=False, code=code, kind="no_passwords")
    if isinstance(exc, smtplib.SMTPAuthenticationError) and not (isinstance(code, int) and 400 <= code < 500):
        return DeliveryError(
            SIGN_IN_REFUSED,
            transient=False,
            code=code,
            kind="auth",
        )
    reply = getattr(exc, "smtp_error", b"")
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(exc.recipients.values())) if exc.recipients else (None, b"")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return DeliveryError(
            "Your mail server's security certificate could not be verified, so nothing was sent. "
            "Check the server name.",
            transient=False,
            kind="server",
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return DeliveryError(
            "Your mail server doesn't support what sending needs (login over an encrypted connection).",
            transient=False,
            kind="server",
        )
    if (
        isinstance(
            exc, (smtplib.SMTPServerDisconnected, ssl.SSLError, socket.timeout, TimeoutError, ConnectionError, OSError)
        )
        and code is None
    ):
        return DeliveryError(
            "We couldn't reach your mail server just now; we'll keep trying for a while.",
            transient=True,
            kind="unreachable",
        )
    quota = _SENDING_QUOTA.search(_bytes(reply)) is not None
    if isinstance(code, int) and 400 <= code < 500:
        return DeliveryError(
            f"Your mail server asked us to try again later (code {code}); we'll keep trying for a while.",
            transient=True,
            code=code,
            kind="quota" if quota else "recipient" if isinstance(exc, smtplib.SMTPRecipientsRefused) else "busy",
        )
    if quota and isinstance(exc, (smtplib.SMTPSenderRefused, smtplib.SMTPDataError)):
        return DeliveryError(
            "Your email account has reached the number of messages it may send for now, so this letter wasn't "
            "sent. Send it again tomorrow, or another way.",
            transient=False,
            code=code,
            kind="quota",
        )
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return DeliveryError(
            "Your mail server refused to send from your address. Use the email address of the account you log in with.",
            transient=False,
            code=code,
            kind="sender",
        )
    if isinstance(exc, smtplib.SMTPDataError):
        return DeliveryError(
            f"Your mail server refused the letter itself (code {code}), often because it took it for spam; "
            "nothing was sent.",
            transient=False,
            code=code,
            kind="content",
        )
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return DeliveryError("The recipient's server refused the letter.", transient=False, code=code, kind="recipient")
    if isinstance(exc, smtplib.SMTPConnectError):
        return DeliveryError("Your mail server refused the connection.", transient=False, code=code, kind="server")
    return DeliveryError(
        "Your mail server gave an error we didn't expect, so the letter wasn't sent.",
        transient=False,
        code=code,
        kind="other",
    )


# A refusal that says the supporter's account has sent all it may for now: Gmail's 5.4.5 ("Daily user sending
# quota exceeded"), Microsoft's SubmissionQuotaExceeded, and the words other providers use. A recipient's full
# mailbox (5.2.2) is not this: that one is the target's.
_SENDING_QUOTA = re.compile(
    rb"\b[45]\.4\.5\b|sending (quota|limit)|submission ?quota|message limit|daily (user )?(sending )?limit",
    re.IGNORECASE,
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


def _bytes(reply: object) -> bytes:
    return reply if isinstance(reply, bytes) else str(reply).encode()


# Outlook.com and Microsoft 365 with basic authentication turned off refuse every password with 535 5.7.139
# ("Authentication unsuccessful, basic authentication is disabled"): only a sign-in with Microsoft works there.
_NO_PASSWORDS = re.compile(rb"\b5\.7\.139\b")
NO_PASSWORDS = (
    "Microsoft no longer accepts passwords from other apps for this account (basic authentication is turned off), "
    "so nothing was sent. Your password isn't the problem, and typing it again won't help."
)

SIGN_IN_REFUSED = (
    "Your mail server rejected the user name or password. Check them (Gmail, Yahoo and iCloud need an app password) "
    "and send again."
)


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
        raise DeliveryError(UNSAFE, transient=False, kind="other")
    names = [name for name, _ in headers]
    if sorted(names) != _EXPECTED or len(set(names)) != len(names):
        raise DeliveryError(UNSAFE, transient=False, kind="other")
    for _, value in headers:
        try:
            text = str(value)
        except (AttributeError, IndexError, TypeError, ValueError):
            raise DeliveryError(UNSAFE, transient=False, kind="other") from None
        if "\n" in text or "\r" in text:
            raise DeliveryError(UNSAFE, transient=False, kind="other")
    senders, recipients = _mailboxes(headers, "from"), _mailboxes(headers, "to")
    if not senders or [address for _, address in senders] != [letter.sender_email.lower()]:
        raise DeliveryError(UNSAFE, transient=False, kind="other")
    if not recipients or [address for _, address in recipients] != [letter.recipient.lower()]:
        raise DeliveryError(UNSAFE, transient=False, kind="other")


def send(connection: smtplib.SMTP, letter: OutgoingLetter, *, timeout: float) -> None:
    """Send one letter to exactly one envelope recipient within `timeout` seconds, or raise DeliveryError."""
    deadline = Deadline(timeout, SENDING)
    connection.deadline = deadline
    try:
        data = build_message(letter)  # an address the email package cannot write raises UnicodeError here
        with watchdog.watching(deadline, functools.partial(connection.cut, deadline)):
            # One recipient: refused, it raises SMTPRecipientsRefused (explained below); nothing is returned.
            connection.sendmail(letter.sender_email, [letter.recipient], data)
    except (smtplib.SMTPException, OSError, UnicodeError, ValueError) as exc:
        raise explain(exc, deadline) from None
