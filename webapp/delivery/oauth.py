"""Sending with a supporter's Google or Microsoft sign-in: the Gmail API (users.messages.send), Microsoft Graph
(me/sendMail) or SMTP with XOAUTH2, each carrying the exact RFC 5322 bytes the password path builds
(smtp.build_message: the same headers, checks and deterministic Message-ID), and every answer turned into a
reason a supporter understands. The sessions that use these are in webapp/delivery/transport.py, under the
delivery engine's deadlines.

Failures carry a `kind` saying whose problem they are (models.NOT_THE_TARGETS): "expired" and "auth" (sign in
again), "quota" and "sender" (the supporter's account), "busy", "unreachable" and "deadline" (the provider's
side), "setup" (this site); "recipient" (the target's address) and "content" (the letter) count against the target.
"""

from __future__ import annotations

import base64
import json
import logging
import smtplib
import ssl
import time

import httpx
from flask import current_app

from webapp.delivery import https, smtp
from webapp.delivery.credentials import OAuthAccount, SmtpAccount
from webapp.delivery.smtp import DeliveryError

log = logging.getLogger(__name__)

LABELS = {"google": "Google", "microsoft": "Microsoft"}
# Submission.smtp_host of a submission sent with a sign-in ("signed-in:google"): no server was typed, and the
# status page knows to offer signing in again rather than a password.
SIGNED_IN_PREFIX = "signed-in:"
# Seconds of life a token must have left to be worth starting a conversation with.
TOKEN_MARGIN = 30


def signed_in_provider(smtp_host: str | None) -> str | None:
    """ "google" or "microsoft" for a submission sent with a sign-in (from its Submission.smtp_host), else None."""
    host = smtp_host or ""
    return host.removeprefix(SIGNED_IN_PREFIX) if host.startswith(SIGNED_IN_PREFIX) else None


def sign_in_again(provider: str) -> str:
    label = LABELS.get(provider, provider)
    return (
        f"Your sign-in with {label} ran out before this letter could go, so it wasn't sent. "
        f"Sign in with {label} again to send it; the same letter goes, and nothing is sent twice."
    )


def _expired(account: OAuthAccount) -> DeliveryError:
    return DeliveryError(sign_in_again(account.provider), transient=False, kind="expired")


def check_fresh(account: OAuthAccount) -> None:
    """Refuse to start with a token about to run out: the supporter signs in again instead."""
    if account.expires_at - time.time() < TOKEN_MARGIN:
        raise _expired(account)


# ---- the HTTP APIs ----


def send_api(client: https.HttpsClient, account: OAuthAccount, data: bytes, seconds: float) -> None:
    """Hand one message's bytes to the Gmail API or Graph within `seconds`, or raise DeliveryError."""
    check_fresh(account)
    config = current_app.config
    headers = {"Authorization": f"Bearer {account.access_token}"}
    if account.send_with == "gmail_api":
        url = f"{config['GMAIL_API_URL']}/gmail/v1/users/me/messages/send"
        body = json.dumps({"raw": base64.urlsafe_b64encode(data).decode()}).encode()
        headers["Content-Type"] = "application/json"
    else:
        url = f"{config['GRAPH_API_URL']}/v1.0/me/sendMail"
        body = base64.b64encode(data)
        headers["Content-Type"] = "text/plain"
    try:
        reply = client.request("POST", url, content=body, headers=headers, seconds=seconds, phase=smtp.SENDING)
    except (httpx.HTTPError, OSError) as exc:  # a deadline's end is a TimeoutError
        raise _unreachable(account, exc) from None
    except ssl.SSLCertVerificationError:
        raise DeliveryError(_setup_problem(account), transient=False, kind="setup") from None
    if account.send_with == "gmail_api" and reply.status == 200:
        return
    if account.send_with == "graph" and reply.status == 202:
        return
    raise explain_reply(account, reply)


def _unreachable(account: OAuthAccount, exc: BaseException) -> DeliveryError:
    label = LABELS.get(account.provider, account.provider)
    log.info("oauth.unreachable provider=%s error=%s", account.provider, type(exc).__name__)
    if isinstance(exc, httpx.ConnectError) and "refused:" in str(exc):
        return DeliveryError(_setup_problem(account), transient=False, kind="setup")
    return DeliveryError(
        f"We couldn't reach {label} just now; we'll keep trying for a while.",
        transient=True,
        kind="deadline" if isinstance(exc, (httpx.TimeoutException, TimeoutError)) else "unreachable",
    )


def _setup_problem(account: OAuthAccount) -> str:
    label = LABELS.get(account.provider, account.provider)
    return f"Sending with {label} isn't set up correctly on this site, so the letter wasn't sent. The site's operators have been told."


def _error_of(reply: https.Reply) -> tuple[str, str]:
    """(code or reason, message) from a Google or Graph JSON error, as far as it says."""
    error = reply.json().get("error") if isinstance(reply.json(), dict) else None
    if not isinstance(error, dict):
        return "", ""
    reasons = [item.get("reason", "") for item in error.get("errors", []) if isinstance(item, dict)]
    code = error.get("code")
    return (str(code) if isinstance(code, str) else (reasons[0] if reasons else str(error.get("status", "")))), str(
        error.get("message", "")
    )[:200]


_QUOTA = {"dailyLimitExceeded", "quotaExceeded", "ErrorQuotaExceeded", "ErrorSubmissionQuotaExceeded"}
_SENDER = {"ErrorSendAsDenied", "ErrorMessageSubmissionBlocked", "ErrorAccountSuspend", "ErrorAccountDisabled"}
_RECIPIENT = {"ErrorInvalidRecipients", "ErrorRecipientNotFound"}
_SLOW_DOWN = {"rateLimitExceeded", "userRateLimitExceeded", "ApplicationThrottled", "MailboxConcurrency"}


def explain_reply(account: OAuthAccount, reply: https.Reply) -> DeliveryError:
    """A provider's refusal as a reason the supporter understands, marked with whose problem it is."""
    label = LABELS.get(account.provider, account.provider)
    code, message = _error_of(reply)
    log.info("oauth.refused provider=%s status=%d code=%s", account.provider, reply.status, code or "-")
    status = reply.status
    if status == 401:
        return DeliveryError(sign_in_again(account.provider), transient=False, code=status, kind="expired")
    if code in _QUOTA:
        return DeliveryError(
            f"Your {label} account has reached its sending limit, so this letter wasn't sent. "
            "Try again tomorrow, or send it another way.",
            transient=False,
            code=status,
            kind="quota",
        )
    if code in _SENDER or (account.send_with == "gmail_api" and "From" in message):
        return DeliveryError(
            f"{label} refused to send from your address. Write your letter from the address you signed in with.",
            transient=False,
            code=status,
            kind="sender",
        )
    if status == 403:
        return DeliveryError(
            f"{label} didn't let Outcry send from your account (the permission to send may not have been given, "
            "or your organization blocks it). Sign in again and allow sending, or send it another way.",
            transient=False,
            code=status,
            kind="auth",
        )
    if status == 429 or code in _SLOW_DOWN or status >= 500:
        return DeliveryError(
            f"{label} asked us to wait a little; we'll keep trying for a while.",
            transient=True,
            code=status,
            kind="busy",
        )
    if code in _RECIPIENT or "To header" in message:
        return DeliveryError(
            f"{label} refused the recipient's address, so this letter wasn't sent.",
            transient=False,
            code=status,
            kind="recipient",
        )
    return DeliveryError(
        f"{label} refused the letter (code {status}), so it wasn't sent.", transient=False, code=status, kind="content"
    )


# ---- SMTP with XOAUTH2 (Microsoft's SMTP.Send) ----


def xoauth2_string(email: str, access_token: str) -> str:
    """The SASL XOAUTH2 initial response (before base64), as Google and Microsoft document it."""
    return f"user={email}\x01auth=Bearer {access_token}\x01\x01"


def login_xoauth2(connection: smtplib.SMTP, account: OAuthAccount) -> None:
    """AUTH XOAUTH2 once. On failure the server sends a 334 with a JSON error first; we answer it with an empty
    line, as the mechanism asks, and the server then refuses with 535."""
    offered = connection.esmtp_features.get("auth", "").upper().split()
    if "XOAUTH2" not in offered:
        raise DeliveryError(
            "Microsoft's mail server didn't offer sign-in with Microsoft for sending, so nothing was sent.",
            transient=False,
            kind="auth",
        )
    initial = xoauth2_string(account.email, account.access_token)
    try:
        connection.auth("XOAUTH2", lambda challenge=None: "" if challenge else initial, initial_response_ok=True)
    except smtplib.SMTPAuthenticationError as exc:
        if 400 <= exc.smtp_code < 500:
            raise DeliveryError(
                "Microsoft asked us to try again later; we'll keep trying for a while.", transient=True,
                code=exc.smtp_code, kind="busy",
            ) from None  # fmt: skip
        raise DeliveryError(
            sign_in_again(account.provider), transient=False, code=exc.smtp_code, kind="expired"
        ) from None


def smtp_account(account: OAuthAccount) -> SmtpAccount:
    """Where Microsoft's SMTP service is, as the password path's account shape (no password: the token signs in)."""
    host, _, port = current_app.config["MICROSOFT_SMTP_HOST"].rpartition(":")
    return SmtpAccount(host=host, port=int(port), security="starttls", username=account.email, password="")
