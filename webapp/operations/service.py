"""What the operator commands do: show the settings in force (secrets masked), send a test letter the way a
worker sends one, queue deliveries again, and explain which letters are not finished and why."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from flask import current_app
from kombu.exceptions import KombuError
from redis.exceptions import RedisError
from sqlalchemy import func, select

from webapp import config as settings
from webapp.delivery import credentials, smtp, transport
from webapp.delivery.credentials import SmtpAccount
from webapp.delivery.deadline import Deadline
from webapp.delivery.smtp import OutgoingLetter
from webapp.extensions import db
from webapp.health import service as health
from webapp.models import CWC, PENDING, SENDING, Letter, utcnow
from webapp.outbox import SEND_TASK

# ---- settings -------------------------------------------------------------------------------------------------

# Names whose values are never shown; URLs are shown with their password masked instead.
SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIALS_KEY|API_KEY")
URL_NAMES = ("DATABASE_URL", "REDIS_URL", "CREDENTIALS_REDIS_URL")
DEVELOPMENT_KEY = "insecure-development-key"  # noqa: S105 - the placeholder config.finalize() uses in debug and tests
# Flask's own settings worth seeing next to Outcry's.
FLASK_NAMES = ("DEBUG", "TESTING", "SESSION_COOKIE_SECURE", "SERVER_NAME")
# What the app works out from other settings.
DERIVED_NAMES = ("CWC_ENABLED",)  # every CWC_ setting given: letters to Congress can go through CWC
MASK = "****"


@dataclass(frozen=True)
class Setting:
    name: str
    value: str
    source: str  # "environment", "default", or "derived" (filled in by the app: embedded Redis, instance key)


def mask_url(url: str) -> str:
    """The URL with any password (in the authority or the query string) replaced by ****; otherwise as given."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return MASK
    masked = url
    if password is not None:
        userinfo, _, host = parts.netloc.rpartition("@")
        masked = masked.replace(parts.netloc, f"{userinfo.split(':', 1)[0]}:{MASK}@{host}", 1)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if any(SECRET_NAME.search(key.upper()) for key, _ in pairs):
        query = urlencode([(key, MASK if SECRET_NAME.search(key.upper()) else value) for key, value in pairs], safe="*")
        masked = masked.replace(f"?{parts.query}", f"?{query}", 1)
    return masked


def _display(name: str, value: Any) -> str:
    if SECRET_NAME.search(name):
        if not value:
            return "(not set)"
        return "INSECURE development key" if value == DEVELOPMENT_KEY else "set (hidden)"
    if value is None or value == "":
        return "(not set)"
    if name in URL_NAMES:
        return mask_url(str(value))
    if isinstance(value, frozenset):  # SMTP_ALLOWED_HOSTS, parsed
        return ", ".join(f"{host}:{port}" for host, port in sorted(value)) or "(none)"
    if isinstance(value, (tuple, list)):
        return ", ".join(str(item) for item in value)
    return str(value)


def settings_in_force(config: Mapping[str, Any], environ: Mapping[str, str]) -> list[Setting]:
    """Every setting Outcry reads, as the running app holds it, and where it came from."""
    names = list(dict.fromkeys([*settings.ENVIRONMENT, *settings.DEFAULTS, *URL_NAMES, *FLASK_NAMES, *DERIVED_NAMES]))
    shown = []
    for name in names:
        value = config.get(name)
        if environ.get(name):
            source = "environment"
        elif name in FLASK_NAMES:
            source = "flask"
        elif name in DERIVED_NAMES:
            source = "derived"
        elif name in settings.DEFAULTS:
            source = "default"
        else:
            source = "derived" if value else "not set"
        shown.append(Setting(name, _display(name, value), source))
    return shown


# ---- a test letter --------------------------------------------------------------------------------------------

TEST_SUBJECT = "Outcry test letter"
TEST_BODY = (
    "This is a test letter from Outcry's `flask mail test` command.\n\n"
    "It went out the way supporters' letters go out: after the same host check, over a verified TLS\n"
    "connection, with one login. If you can read it, this mail server works with Outcry.\n"
)


def send_test_letter(account: SmtpAccount, sender: str, recipient: str) -> str:
    """Send one short letter through `account` exactly as a worker would; returns its Message-ID.

    Raises ssrf.RefusedHost when the host is not one Outcry connects to, smtp.DeliveryError when the
    server fails; both messages are safe to show (they never contain the password).
    """
    config = current_app.config
    deadline = Deadline(config["SMTP_TIMEOUT"], smtp.CONNECTING)
    checked = transport.check_smtp_host(account.host, account.port, deadline)
    connection = smtp.connect(
        account,
        checked,
        timeout=config["SMTP_TIMEOUT"],
        deadline=deadline,
        ca_file=config.get("SMTP_CA_FILE"),
        ehlo_name=config.get("SMTP_EHLO_NAME"),
    )
    letter = OutgoingLetter(
        letter_id=f"test-{uuid.uuid4().hex}",
        sender_name="Outcry",
        sender_email=sender,
        recipient=recipient,
        recipient_name="",
        subject=TEST_SUBJECT,
        body=TEST_BODY,
        message_id_domain=config.get("MESSAGE_ID_DOMAIN"),
    )
    try:
        smtp.send(connection, letter, timeout=config["SMTP_TIMEOUT"])
    finally:
        smtp.close(connection)
    return smtp.message_id(letter.letter_id, sender, letter.message_id_domain)


# ---- the outbox -----------------------------------------------------------------------------------------------


def queue_deliveries(submission_ids: Iterable[str]) -> list[str]:
    """Queue a delivery task for each submission; returns those the broker refused (the sweeper retries them)."""
    celery = current_app.extensions["celery"]
    refused = []
    for submission_id in submission_ids:
        try:
            celery.send_task(SEND_TASK, args=[submission_id])
        except (KombuError, RedisError, OSError):
            refused.append(submission_id)
    return refused


@dataclass(frozen=True)
class StuckLetter:
    """A letter not yet sent, failed or handed off: identifiers and outbox state only, nothing personal."""

    id: str
    submission_id: str
    target_id: str
    status: str
    attempts: int
    created_at: dt.datetime
    lease_until: dt.datetime | None
    next_attempt_at: dt.datetime | None
    error: str | None
    password_waiting: bool | None  # None: Redis could not be asked

    def age(self, now: dt.datetime) -> float:
        return (now - self.created_at).total_seconds()

    def why(self, now: dt.datetime, workers: int | None) -> str:
        """What it waits for, in an operator's words."""
        lease = (self.lease_until - now).total_seconds() if self.lease_until else None
        if self.status == SENDING:
            if lease is not None and lease >= 0:
                reason = f"a worker is sending it (its hold lasts {duration(lease)} more)"
            else:
                reason = f"its worker stopped {duration(-(lease or 0))} ago; the sweeper queues it again"
        elif self.next_attempt_at and self.next_attempt_at > now:
            reason = f"waiting {duration((self.next_attempt_at - now).total_seconds())} to retry"
        elif lease is not None and lease < 0:
            reason = f"its queue message seems lost ({duration(-lease)} past its lease); the sweeper queues it again"
        else:
            reason = "waiting for a worker"
        if workers == 0:
            reason += "; NO WORKER IS RUNNING"
        if self.password_waiting is False:
            reason += "; its password has expired, so it will fail with 'please send again'"
        if self.error:
            reason += f"; last problem: {self.error}"
        return reason


@dataclass(frozen=True)
class StuckReport:
    letters: list[StuckLetter]
    counts: Counter[str]  # all unfinished letters (not only those listed), by status
    workers: int | None  # None: Redis could not be asked
    oldest_seconds: float | None


def stuck(limit: int = 50, older_than: float = 0.0) -> StuckReport:
    """Unfinished letters, oldest first, with what each waits for."""
    now = utcnow()
    cutoff = now - dt.timedelta(seconds=older_than)
    pending = (Letter.status.in_(PENDING), Letter.created_at <= cutoff)
    counts = Counter(
        dict(db.session.execute(select(Letter.status, func.count()).where(*pending).group_by(Letter.status)).all())
    )
    rows = db.session.execute(
        select(
            Letter.id, Letter.submission_id, Letter.target_id, Letter.status, Letter.attempts, Letter.created_at,
            Letter.lease_until, Letter.next_attempt_at, Letter.error, Letter.channel,
        )
        .where(*pending)
        .order_by(Letter.created_at, Letter.submission_id, Letter.position)
        .limit(limit)
    ).all()  # fmt: skip
    try:
        waiting = set(credentials.stored_submission_ids())
        workers: int | None = health.workers_alive()
    except RedisError:
        waiting, workers = None, None
    letters = [
        # A letter to Congress through CWC waits for no password: only own-email letters can find theirs expired.
        StuckLetter(
            *row[:-1],
            password_waiting=None if waiting is None or row.channel == CWC else row.submission_id in waiting,
        )
        for row in rows
    ]
    return StuckReport(letters, counts, workers, health.oldest_queued_seconds())


def duration(seconds: float) -> str:
    """12s, 4m, 3h, 2d: short enough for a table."""
    seconds = max(0.0, seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"
