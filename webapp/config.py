"""Settings: defaults, read from the environment inside the factory, checked before the app starts."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kombu import Queue
from limits import parse_many


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message says which and how to fix it."""


PROJECT_DIR = Path(__file__).resolve().parent.parent
MIGRATIONS_DIR = PROJECT_DIR / "migrations"

DEFAULTS: dict[str, Any] = {
    # Where campaigns are read from by `flask campaigns load`.
    "LETTER_TEMPLATES_DIR": str(PROJECT_DIR / "letter_templates"),
    # 64 KiB for every request but the few that carry a letter's text (security/bodies.takes_a_letter: the largest
    # letter there can be, validation.REQUEST_MAX) or a file of targets; anything larger is refused with 413.
    "MAX_CONTENT_LENGTH": 64 * 1024,
    # hide_parameters: a database error in a log shows the SQL, never the values (names, letters, emails).
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "hide_parameters": True},
    "WTF_CSRF_TIME_LIMIT": None,  # the supporter may take their time writing
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_HTTPONLY": True,
    # Database connections each process keeps (and as many again in a burst). A delivery worker runs hundreds of
    # conversations in threads but holds a connection only for the short writes between network waits, so a
    # pool far smaller than its concurrency suffices (bench/README.md); PostgreSQL allows 100 by default.
    "DATABASE_POOL_SIZE": 10,
    # Outbound SMTP.
    "SMTP_ALLOWED_HOSTS": "",
    "SMTP_ALLOWED_PORTS": (25, 465, 587, 2525),
    # Seconds each phase of a conversation with a supporter's mail server may take, whatever the server does:
    # connecting and signing in (TCP, greeting, EHLO, STARTTLS, AUTH), then each letter (MAIL, RCPT, DATA).
    "SMTP_TIMEOUT": 60.0,
    "SMTP_EHLO_NAME": None,  # the name workers give in EHLO; default an address literal, never the host's name
    # Refused sign-ins per mail server (host name) before workers stop offering it passwords for the window ...
    "SMTP_AUTH_FAILURES": "30 per hour",
    # ... plus this many more for each account that signed in there successfully in the same window, so a big
    # provider's real supporters (who mostly succeed) earn room for their typos and a checker of stolen
    # passwords (who mostly fails) does not.
    "SMTP_AUTH_FAILURES_PER_SUCCESS": 1.0,
    # Refused sign-ins per account (mail server and user name) before workers stop trying it for the window.
    "SMTP_AUTH_FAILURES_PER_ACCOUNT": "5 per hour",
    "SMTP_CA_FILE": None,  # extra CA bundle to trust (tests, private relays); system CAs otherwise
    "SMTP_CREDENTIALS_TTL": 3600,  # seconds the encrypted password may wait in Redis
    # Delivery retries: seconds before each retry; jitter adds up to this share of the delay.
    "DELIVERY_RETRY_DELAYS": (30, 120, 600, 1800),
    "DELIVERY_RETRY_JITTER": 0.25,
    # A letter left queued/sending past its lease is re-queued by the sweeper.
    "DELIVERY_QUEUE_LEASE": 300,
    "DELIVERY_SEND_LEASE": 300,
    "SWEEP_INTERVAL": 30.0,
    "WORKER_HEARTBEAT_TTL": 30,
    # /healthz answers 503 once a letter due for delivery has waited longer than this many seconds.
    "HEALTH_MAX_WAIT": 120.0,
    "MESSAGE_ID_DOMAIN": None,  # default: the supporter's own mail domain
    # Rate limits (webapp/security/limits.py), in the `limits` notation: "20 per hour;100 per day".
    "RATELIMIT_ENABLED": True,
    # Sized for shared networks (issue 14.7): a letter-writing party of fifty on one Wi-Fi sends a few hundred
    # submissions in an evening; a campus or a phone carrier's shared address more over a day. The budgets
    # strangers cannot share (sender, hand-offs per target and address) do the finer work.
    "RATELIMIT_PER_ADDRESS": "600 per hour;3000 per day",  # submissions, every channel, from one client address
    "RATELIMIT_DEFAULT": "1200 per minute",  # every other request from one client address (pages, status polls)
    "RATELIMIT_DELIVERIES_PER_ADDRESS": "200 per hour;1000 per day",  # own-email letters from one client address
    "RATELIMIT_PER_SENDER": "20 per hour;50 per day",  # own-email letters from one mail account (password-keyed)
    "RATELIMIT_PER_TARGET": "2000 per day",  # own-email letters to one target through one campaign, from everyone
    "RATELIMIT_HANDOFFS_PER_TARGET": "300 per day",  # hand-offs to one target through one campaign, per address
    "RATELIMIT_LIFT_FACTOR": 10,  # how far a campaign's lift (Campaign.limits_lifted_until) raises its limits
    # Failed organizer passwords per account from one client address (a correct password from another address is
    # never held back), and from one client address whatever the account.
    "RATELIMIT_LOGIN": "5 per minute;20 per hour",
    "RATELIMIT_LOGIN_ADDRESS": "30 per hour;100 per day",
    # Seconds an organizer stays logged in without using the workspace; also how long a supporter's open form stays valid.
    "PERMANENT_SESSION_LIFETIME": 12 * 3600,
    # Behind a reverse proxy: how many X-Forwarded-For / X-Forwarded-Proto hops to trust (0: none).
    "PROXY_FIX_HOPS": 0,
    # Privacy: days after which a finished submission's personal data is erased (counts stay).
    "RETENTION_DAYS": 30,
    # Seconds a supporter's visit (details typed once, drafts, the receipt) is kept after its last step.
    "VISIT_LIFETIME": 3 * 3600,
    "PURGE_INTERVAL": 3600.0,  # seconds between the scheduler's retention purges
    # "Send with Google / Microsoft" (webapp/mailauth): shown only when the operator registered a client.
    "GOOGLE_CLIENT_ID": "",
    "GOOGLE_CLIENT_SECRET": "",
    "MICROSOFT_CLIENT_ID": "",
    "MICROSOFT_CLIENT_SECRET": "",
    "MICROSOFT_TENANT": "common",  # common: personal and work accounts; organizations; consumers; a tenant id
    "MICROSOFT_SEND_WITH": "graph",  # graph (Mail.Send) or smtp (XOAUTH2 with SMTP.Send); docs/deploy.md says why
    # The providers' endpoints (https:// only). Changed for Microsoft's national clouds (login.microsoftonline.us,
    # graph.microsoft.us …) or to try the flow against a local stand-in provider (the browser tests do).
    "GOOGLE_ACCOUNTS_URL": "https://accounts.google.com",  # the consent page: /o/oauth2/v2/auth
    "GOOGLE_OAUTH2_URL": "https://oauth2.googleapis.com",  # the code exchange: /token
    "GMAIL_API_URL": "https://gmail.googleapis.com",
    "MICROSOFT_LOGIN_URL": "https://login.microsoftonline.com",  # /{tenant}/oauth2/v2.0/authorize and /token
    "GRAPH_API_URL": "https://graph.microsoft.com",
    "MICROSOFT_SMTP_HOST": "smtp.office365.com:587",
    "OAUTH_ALLOWED_HOSTS": "",  # host:port pairs exempt from the public-address rule (local stand-ins, tests)
    "OAUTH_CA_FILE": None,  # extra CA bundle to trust for those endpoints (tests); system CAs otherwise
    "OAUTH_TIMEOUT": 10.0,  # seconds for the sign-in's token exchange, all of it, while the supporter waits
    "OAUTH_SIGN_IN_TTL": 900,  # seconds a started sign-in (and the letters waiting on it) is kept
    # Whether the send step looks up a custom domain's MX records to suggest its provider's settings.
    "MAIL_SETTINGS_MX_LOOKUP": True,
    # "Test my settings": seconds to connect and sign in while the supporter waits (at most SMTP_TIMEOUT).
    "MAIL_TEST_TIMEOUT": 15.0,
    # Communicating with Congress (webapp/cwc): off until every CWC_REQUIRED setting is given.
    "CWC_API_URL": None,  # where messages are POSTed (CWC's test or production endpoint)
    "CWC_API_KEY": None,
    "CWC_SENATE_API_URL": None,  # the Senate's endpoint and key, when they differ from the House's
    "CWC_SENATE_API_KEY": None,
    "CWC_DELIVERY_AGENT": None,  # the delivery agent's name, exactly as CWC approved it
    "CWC_DELIVERY_AGENT_ACK_EMAIL": None,  # where CWC sends its acknowledgements
    "CWC_DELIVERY_AGENT_CONTACT_NAME": None,
    "CWC_DELIVERY_AGENT_CONTACT_EMAIL": None,
    "CWC_DELIVERY_AGENT_CONTACT_PHONE": None,  # 202-555-0100
    "CWC_CA_FILE": None,  # extra CA bundle to trust for the CWC endpoint (tests); system CAs otherwise
    "CWC_GRAMMAR": None,  # a RELAX NG grammar to check messages against instead of webapp/cwc/schema/cwc.rng
}

# Without all of these, Congress letters keep their hand-offs (contact form, call, print) and nothing else.
CWC_REQUIRED = (
    "CWC_API_URL",
    "CWC_API_KEY",
    "CWC_DELIVERY_AGENT",
    "CWC_DELIVERY_AGENT_ACK_EMAIL",
    "CWC_DELIVERY_AGENT_CONTACT_NAME",
    "CWC_DELIVERY_AGENT_CONTACT_EMAIL",
    "CWC_DELIVERY_AGENT_CONTACT_PHONE",
)


# Deliveries wait in the default queue; the periodic jobs (the outbox sweeper, the retention purge) have a
# queue of their own, consumed by the scheduler's small worker and never by delivery workers: however long
# deliveries wait, or however stuck a mail server holds them, the sweep that rescues letters still runs.
DELIVERY_QUEUE = "celery"
PERIODIC_QUEUE = "outcry.periodic"


def celery_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """Celery's settings (`app.config["CELERY"]`, as the Flask docs keep them), from the other settings; keys
    of a CELERY mapping the caller gave win. The broker is added when Redis is known (`celery_init_app`)."""
    smtp_timeout = float(config["SMTP_TIMEOUT"])
    return {
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {"visibility_timeout": 3600},
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_ignore_result": True,
        "task_serializer": "json",
        "accept_content": ["json"],
        "worker_prefetch_multiplier": 1,
        "worker_hijack_root_logger": False,
        "task_default_queue": DELIVERY_QUEUE,
        "task_queues": (
            Queue(DELIVERY_QUEUE, routing_key=DELIVERY_QUEUE),
            Queue(PERIODIC_QUEUE, routing_key=PERIODIC_QUEUE),
        ),
        # A backstop for pools that enforce time limits (prefork): every phase of a conversation already
        # has its deadline (SMTP_TIMEOUT), and the threads pool, which ignores these, has the watchdog
        # (webapp/delivery/deadline.py). Generous: a submission of many letters is many phases.
        "task_annotations": {
            "tasks.delivery.send_submission": {
                "soft_time_limit": 30 * smtp_timeout,
                "time_limit": 30 * smtp_timeout + 30,
            }
        },
        "task_routes": {
            "tasks.delivery.sweep_outbox": {"queue": PERIODIC_QUEUE},
            "tasks.privacy.purge_expired": {"queue": PERIODIC_QUEUE},
        },
        "beat_schedule": {
            "sweep-outbox": {
                "task": "tasks.delivery.sweep_outbox",
                "schedule": config["SWEEP_INTERVAL"],
                # A sweep nobody ran in time is dropped: the next one is already on its way.
                "options": {"expires": config["SWEEP_INTERVAL"]},
            },
            "purge-personal-data": {
                "task": "tasks.privacy.purge_expired",
                "schedule": config["PURGE_INTERVAL"],
            },
        },
        **config.get("CELERY", {}),
    }


def boolean(raw: str) -> bool:
    """`true/false`, `yes/no`, `on/off`, `1/0` (any case); anything else is a mistake worth stopping for."""
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


# Settings that may come from the environment, with the type to read them as.
ENVIRONMENT: dict[str, type] = {
    "DATABASE_URL": str,
    "DATABASE_POOL_SIZE": int,
    "REDIS_URL": str,
    "CREDENTIALS_REDIS_URL": str,
    "SECRET_KEY": str,
    "CREDENTIALS_KEY": str,
    "SMTP_ALLOWED_HOSTS": str,
    "SMTP_TIMEOUT": float,
    "SMTP_EHLO_NAME": str,
    "SMTP_AUTH_FAILURES": str,
    "SMTP_AUTH_FAILURES_PER_SUCCESS": float,
    "SMTP_AUTH_FAILURES_PER_ACCOUNT": str,
    "SMTP_CA_FILE": str,
    "SMTP_CREDENTIALS_TTL": int,
    "DELIVERY_RETRY_JITTER": float,
    "DELIVERY_QUEUE_LEASE": int,
    "DELIVERY_SEND_LEASE": int,
    "SWEEP_INTERVAL": float,
    "WORKER_HEARTBEAT_TTL": int,
    "HEALTH_MAX_WAIT": float,
    "MESSAGE_ID_DOMAIN": str,
    "LETTER_TEMPLATES_DIR": str,
    "RATELIMIT_ENABLED": boolean,
    "RATELIMIT_PER_ADDRESS": str,
    "RATELIMIT_DEFAULT": str,
    "RATELIMIT_PER_SENDER": str,
    "RATELIMIT_PER_TARGET": str,
    "RATELIMIT_DELIVERIES_PER_ADDRESS": str,
    "RATELIMIT_HANDOFFS_PER_TARGET": str,
    "RATELIMIT_LIFT_FACTOR": int,
    "RATELIMIT_LOGIN": str,
    "RATELIMIT_LOGIN_ADDRESS": str,
    "PERMANENT_SESSION_LIFETIME": int,
    "PROXY_FIX_HOPS": int,
    "RETENTION_DAYS": int,
    "GOOGLE_CLIENT_ID": str,
    "GOOGLE_CLIENT_SECRET": str,
    "MICROSOFT_CLIENT_ID": str,
    "MICROSOFT_CLIENT_SECRET": str,
    "MICROSOFT_TENANT": str,
    "MICROSOFT_SEND_WITH": str,
    "GOOGLE_ACCOUNTS_URL": str,
    "GOOGLE_OAUTH2_URL": str,
    "GMAIL_API_URL": str,
    "MICROSOFT_LOGIN_URL": str,
    "GRAPH_API_URL": str,
    "MICROSOFT_SMTP_HOST": str,
    "OAUTH_ALLOWED_HOSTS": str,
    "OAUTH_CA_FILE": str,
    "OAUTH_TIMEOUT": float,
    "OAUTH_SIGN_IN_TTL": int,
    "MAIL_SETTINGS_MX_LOOKUP": boolean,
    "VISIT_LIFETIME": int,
    "MAIL_TEST_TIMEOUT": float,
    **{name: str for name in DEFAULTS if name.startswith("CWC_")},
}


def read_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """Settings present in the environment, converted to their types."""
    found: dict[str, Any] = {}
    for name, kind in ENVIRONMENT.items():
        raw = environ.get(name)
        if raw is None or raw == "":
            continue
        try:
            found[name] = kind(raw)
        except ValueError as exc:
            raise ConfigError(f"{name}={raw!r} is not a valid {kind.__name__}") from exc
    if environ.get("DELIVERY_RETRY_DELAYS"):
        try:
            found["DELIVERY_RETRY_DELAYS"] = tuple(float(part) for part in environ["DELIVERY_RETRY_DELAYS"].split(","))
        except ValueError as exc:
            raise ConfigError("DELIVERY_RETRY_DELAYS must be comma-separated seconds") from exc
    return found


def sqlalchemy_url(database_url: str) -> str:
    """`postgres://` (what some hosts hand out) and `postgresql://` name the driver we ship: psycopg2."""
    for scheme in ("postgres://", "postgresql://"):
        if database_url.startswith(scheme):
            return "postgresql+psycopg2://" + database_url[len(scheme) :]
    return database_url


def finalize(config: dict[str, Any], instance_path: str) -> None:
    """Fill in derived settings and refuse to start with unsafe ones."""
    database_url = sqlalchemy_url(config.get("DATABASE_URL") or f"sqlite:///{Path(instance_path) / 'outcry.db'}")
    config["SQLALCHEMY_DATABASE_URI"] = database_url
    pool = int(config["DATABASE_POOL_SIZE"])
    if pool < 1:
        raise ConfigError(f"DATABASE_POOL_SIZE must be 1 or more, not {pool}")
    config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        **config["SQLALCHEMY_ENGINE_OPTIONS"],
        "pool_size": pool,
        "max_overflow": pool,
        "pool_timeout": 30,  # a thread waits this long for a free connection before its task fails and retries
    }
    if database_url.startswith("sqlite"):  # a file on this machine: nothing for a pre-ping to find broken
        config["SQLALCHEMY_ENGINE_OPTIONS"] = {**config["SQLALCHEMY_ENGINE_OPTIONS"], "pool_pre_ping": False}
    config["DATABASE_URL"] = database_url
    key_file = Path(instance_path) / "secret_key"  # written by `make run` for this checkout
    if not config.get("SECRET_KEY") and key_file.is_file():
        config["SECRET_KEY"] = key_file.read_text().strip()
    if not config.get("SECRET_KEY"):
        if not (config.get("DEBUG") or config.get("TESTING")):
            raise ConfigError(
                "SECRET_KEY is not set. Set it to a long random string, e.g. "
                "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`."
            )
        config["SECRET_KEY"] = "insecure-development-key"  # noqa: S105 - debug and tests only
    if not (config.get("DEBUG") or config.get("TESTING")):
        # Not setdefault: Flask's own defaults already hold SESSION_COOKIE_SECURE=False.
        config["SESSION_COOKIE_SECURE"] = True
    config["SMTP_ALLOWED_HOSTS"] = parse_allowed_hosts(config.get("SMTP_ALLOWED_HOSTS", ""))
    ca_file = config.get("SMTP_CA_FILE")
    if ca_file and not Path(ca_file).is_file():
        raise ConfigError(f"SMTP_CA_FILE={ca_file!r} does not exist; point it at a PEM file of CA certificates.")
    _check_delivery_timing(config)
    config["CELERY"] = celery_settings(config)
    _finalize_oauth(config)
    if int(config["VISIT_LIFETIME"]) < 60:
        raise ConfigError("VISIT_LIFETIME is in seconds and must be at least 60 (default 10800: 3 hours)")
    check_cwc(config)
    for name in ("RETENTION_DAYS", "PROXY_FIX_HOPS"):
        if int(config[name]) < 0:
            raise ConfigError(f"{name} must be 0 or more, not {config[name]!r}")
    if not float(config["SMTP_AUTH_FAILURES_PER_SUCCESS"]) >= 0:
        raise ConfigError(
            "SMTP_AUTH_FAILURES_PER_SUCCESS must be 0 or more (refused sign-ins allowed for each successful account; "
            f"default 1), not {config['SMTP_AUTH_FAILURES_PER_SUCCESS']!r}"
        )
    if int(config["RATELIMIT_LIFT_FACTOR"]) < 1:
        raise ConfigError("RATELIMIT_LIFT_FACTOR must be 1 or more (1 means a lift changes nothing)")
    lifetime = config["PERMANENT_SESSION_LIFETIME"]  # seconds, or a timedelta as Flask also accepts
    if (lifetime.total_seconds() if hasattr(lifetime, "total_seconds") else int(lifetime)) < 60:
        raise ConfigError("PERMANENT_SESSION_LIFETIME is in seconds and must be at least 60 (default 43200: 12 hours)")
    for name in (
        "RATELIMIT_PER_ADDRESS",
        "RATELIMIT_DEFAULT",
        "RATELIMIT_PER_SENDER",
        "RATELIMIT_PER_TARGET",
        "RATELIMIT_DELIVERIES_PER_ADDRESS",
        "RATELIMIT_HANDOFFS_PER_TARGET",
        "RATELIMIT_LOGIN",
        "RATELIMIT_LOGIN_ADDRESS",
        "SMTP_AUTH_FAILURES",
        "SMTP_AUTH_FAILURES_PER_ACCOUNT",
    ):
        try:
            parse_many(config[name])
        except ValueError:
            raise ConfigError(
                f"{name}={config[name]!r} is not a rate limit; write e.g. '20 per hour;100 per day'"
            ) from None


def _check_delivery_timing(config: dict[str, Any]) -> None:
    """A worker renews its letters' lease between phases, so the lease must outlast one whole phase (and the
    watchdog's grace after it); otherwise the sweeper could hand letters to a second worker mid-conversation."""
    timeout, lease = float(config["SMTP_TIMEOUT"]), float(config["DELIVERY_SEND_LEASE"])
    if timeout <= 0:
        raise ConfigError(f"SMTP_TIMEOUT must be more than 0 seconds, not {config['SMTP_TIMEOUT']!r}")
    if lease < timeout + 2:
        raise ConfigError(
            f"DELIVERY_SEND_LEASE ({lease:g} s) must be at least SMTP_TIMEOUT ({timeout:g} s) plus 2 s: a letter's "
            "lease has to outlast each phase of the conversation, or another worker could send it too."
        )
    name = config.get("SMTP_EHLO_NAME")
    if name and not re.fullmatch(
        r"\[[0-9.]+\]|\[IPv6:[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?", name
    ):
        raise ConfigError(
            f"SMTP_EHLO_NAME={name!r} must be a host name (mail.example.org) or an address literal ([192.0.2.1])"
        )


_TENANT = re.compile(r"^(common|organizations|consumers|[0-9a-f-]{36}|[a-z0-9-]+(\.[a-z0-9-]+)+)$")


def _finalize_oauth(config: dict[str, Any]) -> None:
    """ "Send with Google / Microsoft": a client is on only with both its id and secret; endpoints are https."""
    config["OAUTH_ALLOWED_HOSTS"] = parse_allowed_hosts(config.get("OAUTH_ALLOWED_HOSTS", ""), "OAUTH_ALLOWED_HOSTS")
    for provider in ("GOOGLE", "MICROSOFT"):
        present = [bool(config.get(f"{provider}_CLIENT_{part}")) for part in ("ID", "SECRET")]
        if any(present) and not all(present):
            raise ConfigError(f"Set both {provider}_CLIENT_ID and {provider}_CLIENT_SECRET, or neither.")
    for name in ("GOOGLE_ACCOUNTS_URL", "GOOGLE_OAUTH2_URL", "GMAIL_API_URL", "MICROSOFT_LOGIN_URL", "GRAPH_API_URL"):
        if not str(config[name]).startswith("https://"):
            raise ConfigError(f"{name} must be an https:// address, not {config[name]!r}")
        config[name] = str(config[name]).rstrip("/")
    tenant = str(config["MICROSOFT_TENANT"]).strip().lower()
    if not _TENANT.match(tenant):
        raise ConfigError(
            "MICROSOFT_TENANT must be common (personal and work accounts), organizations, consumers, "
            f"a tenant id or a tenant domain, not {config['MICROSOFT_TENANT']!r}"
        )
    config["MICROSOFT_TENANT"] = tenant
    if config["MICROSOFT_SEND_WITH"] not in ("graph", "smtp"):
        raise ConfigError(f"MICROSOFT_SEND_WITH must be graph or smtp, not {config['MICROSOFT_SEND_WITH']!r}")
    host, sep, port = str(config["MICROSOFT_SMTP_HOST"]).rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ConfigError(f"MICROSOFT_SMTP_HOST must look like host:port, not {config['MICROSOFT_SMTP_HOST']!r}")
    ca_file = config.get("OAUTH_CA_FILE")
    if ca_file and not Path(ca_file).is_file():
        raise ConfigError(f"OAUTH_CA_FILE={ca_file!r} does not exist; point it at a PEM file of CA certificates.")
    if float(config["MAIL_TEST_TIMEOUT"]) <= 0:
        raise ConfigError(f"MAIL_TEST_TIMEOUT must be more than 0 seconds, not {config['MAIL_TEST_TIMEOUT']!r}")


_EMAIL = re.compile(r"[^@\s]+@[^@.\s]+\.[^@\s]+")
_PHONE = re.compile(r"\d{3}-\d{3}-\d{4}")


def check_cwc(config: dict[str, Any]) -> None:
    """CWC is off when none of its settings is given, on when all are (CWC_ENABLED); half of them is a mistake."""
    given = [name for name in CWC_REQUIRED if config.get(name)]
    config["CWC_ENABLED"] = len(given) == len(CWC_REQUIRED)
    if given and not config["CWC_ENABLED"]:
        missing = ", ".join(name for name in CWC_REQUIRED if not config.get(name))
        raise ConfigError(
            f"Communicating with Congress is half configured: set {missing} too, or none of the CWC_ settings."
        )
    if not given:
        return
    for name in ("CWC_API_URL", "CWC_SENATE_API_URL"):
        url = config.get(name)
        if not url:
            continue
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname or parts.query or parts.username or parts.password:
            raise ConfigError(
                f"{name} must be the https:// address messages are sent to, without a query string or a password "
                "(the API key goes in CWC_API_KEY)."
            )
    if bool(config.get("CWC_SENATE_API_URL")) != bool(config.get("CWC_SENATE_API_KEY")):
        raise ConfigError(
            "Set CWC_SENATE_API_URL and CWC_SENATE_API_KEY together, or neither (then senators use CWC_API_URL)."
        )
    for name in ("CWC_DELIVERY_AGENT_ACK_EMAIL", "CWC_DELIVERY_AGENT_CONTACT_EMAIL"):
        if not _EMAIL.fullmatch(config[name]):
            raise ConfigError(f"{name}={config[name]!r} is not an email address.")
    if not _PHONE.fullmatch(config["CWC_DELIVERY_AGENT_CONTACT_PHONE"]):
        raise ConfigError("CWC_DELIVERY_AGENT_CONTACT_PHONE must look like 202-555-0100 (CWC's format).")
    for name in ("CWC_CA_FILE", "CWC_GRAMMAR"):
        if config.get(name) and not Path(config[name]).is_file():
            raise ConfigError(f"{name}={config[name]!r} does not exist.")


def parse_allowed_hosts(value: str | frozenset, name: str = "SMTP_ALLOWED_HOSTS") -> frozenset[tuple[str, int]]:
    """`host:port,host:port` → {(host, port)}; hosts compared lower-case."""
    if isinstance(value, frozenset):
        return value
    allowed = set()
    for item in filter(None, (part.strip() for part in value.split(","))):
        host, sep, port = item.rpartition(":")
        if not sep or not port.isdigit() or not host:
            raise ConfigError(f"{name} entry {item!r} must look like host:port")
        allowed.add((host.strip("[]").lower(), int(port)))
    return frozenset(allowed)


def load(app_config: dict[str, Any], instance_path: str, test_config: Mapping | None) -> None:
    """Defaults, then the environment, then the test's overrides, then derived values."""
    app_config.update(DEFAULTS)
    app_config.update(read_environment(os.environ))
    if test_config:
        app_config.update(test_config)
    finalize(app_config, instance_path)
