"""The send step's "Test my settings": sign in to the supporter's mail server as a send would, then hang up;
nothing is sent and nothing is kept.

The same transport as delivery (webapp/delivery/transport.py's SmtpTransport): the address policy (SSRF) on
the host and port, the failure budget per mail server (so a test is no faster way to try stolen passwords
than a send), verified TLS, one deadline for connecting and signing in. The page that asks counts against the
same per-address limit as sending (webapp/security/limits.py).
"""

from __future__ import annotations

import logging
import re

from flask import current_app

from webapp.delivery import ssrf
from webapp.delivery.credentials import SmtpAccount
from webapp.delivery.smtp import SIGN_IN_REFUSED, DeliveryError
from webapp.delivery.transport import SmtpTransport
from webapp.i18n import gettext, reasons
from webapp.i18n.reasons import N_

log = logging.getLogger(__name__)

# The part of a delivery's reason that promises another try ("…; we'll keep trying for a while.", "… Your letter
# waits and we'll try again."), in each language the reasons are shown in (webapp/i18n/reasons.py): a test is not
# retried, so it is left out of the test's answer.
_RETRY_PROMISE = re.compile(
    r"(?:;\s*|\.\s+)(?:(?:your letter waits and )?we'll (?:try again|keep trying)"
    r"|(?:tu carta espera y )?lo (?:volveremos a intentar|seguiremos intentando))[^.]*\.?\s*$",
    re.I,
)

# A delivery's refusal that tells the supporter to send again, as the answer to a test: test again.
_AS_A_TEST = {
    SIGN_IN_REFUSED: N_(
        "Your mail server rejected the user name or password. Check them (Gmail, Yahoo and iCloud need an app "
        "password) and test again."
    ),
}

# Saying goodbye after a successful sign-in.
CLOSE_SECONDS = 5.0


def check_settings(account: SmtpAccount) -> str:
    """Sign in with `account` and hang up. Returns a sentence saying it worked; raises CheckFailed with one
    saying, in plain words, what is wrong (the password never part of it)."""
    config = current_app.config
    seconds = min(float(config["MAIL_TEST_TIMEOUT"]), float(config["SMTP_TIMEOUT"]))
    host, username = account.host, account.username
    try:
        session = SmtpTransport(account).open(seconds)
    except ssrf.RefusedHost as exc:
        log.info("smtp.test refused=host")
        raise CheckFailed(gettext("%(reason)s Nothing was sent.", reason=reasons.translate(str(exc)))) from None
    except DeliveryError as exc:
        log.info("smtp.test failed transient=%s code=%s kind=%s", exc.transient, exc.code, exc.kind or "-")
        raise CheckFailed(_for_a_test(exc), kind=exc.kind) from None
    session.close(CLOSE_SECONDS)
    log.info("smtp.test ok")
    return gettext(
        "Your settings work: we signed in to %(host)s as %(username)s over an encrypted connection, then hung up. "
        "Nothing was sent.",
        host=host,
        username=username,
    )


class CheckFailed(Exception):
    """The test did not sign in; `reason` says why, for the supporter, and `kind` whose problem it was (the
    delivery's DeliveryError.kind)."""

    def __init__(self, reason: str, *, kind: str = ""):
        super().__init__(reason)
        self.reason, self.kind = reason, kind


def _for_a_test(exc: DeliveryError) -> str:
    """A delivery's reason, as the answer to a test: a temporary problem is not retried here, so instead of
    "we'll keep trying" the supporter is told to check and test again."""
    if exc.reason in _AS_A_TEST:
        return gettext(_AS_A_TEST[exc.reason])
    reason = reasons.translate(exc.reason)
    if not exc.transient:
        return reason
    first = _RETRY_PROMISE.sub("", reason).rstrip(". ;")
    return gettext(
        "%(reason)s. Nothing was sent. Check the server name and port, or test again in a few minutes.", reason=first
    )
