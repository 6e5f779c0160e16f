"""Why a letter failed, waits or can't use a mail server, in the reader's language: the delivery code makes every
sentence it can, and each must be one webapp/i18n/reasons.py knows (so a reworded English reason fails here instead
of showing in English on a Spanish page); a Spanish page shows them in Spanish, an English one as written."""

from __future__ import annotations

import smtplib
import ssl

import httpx
import pytest

from tests.support.letters import LAUNCH
from webapp.cwc import service as cwc
from webapp.cwc.client import Reply as CwcReply
from webapp.delivery import oauth, smtp, ssrf
from webapp.delivery.credentials import OAuthAccount
from webapp.delivery.cwc import NOT_BUILT
from webapp.delivery.deadline import Deadline, DeadlineExceeded
from webapp.delivery.https import Reply
from webapp.delivery.service import EXPIRED
from webapp.i18n import reasons
from webapp.outbox import CANCELLED

SPANISH = {"Accept-Language": "es"}


def _smtp_reasons() -> list[str]:
    failures = [
        DeadlineExceeded(Deadline(15, smtp.CONNECTING)),
        DeadlineExceeded(Deadline(60, smtp.SENDING)),
        smtp.ReplyTooLong("x"),
        smtp.PlaintextAfterStartTLS("x"),
        UnicodeEncodeError("ascii", "é", 0, 1, "x"),
        smtplib.SMTPAuthenticationError(535, b"5.7.8 no"),
        smtplib.SMTPAuthenticationError(535, b"5.7.139 Authentication unsuccessful, basic authentication is disabled."),
        ssl.SSLCertVerificationError("x"),
        smtplib.SMTPNotSupportedError("x"),
        ConnectionRefusedError(),
        smtplib.SMTPServerDisconnected("x"),
        smtplib.SMTPSenderRefused(451, b"4.3.0 later", "a@example.org"),
        smtplib.SMTPDataError(552, b"5.4.5 Daily user sending limit exceeded"),
        smtplib.SMTPSenderRefused(553, b"5.7.1 not yours", "a@example.org"),
        smtplib.SMTPDataError(554, b"5.7.1 spam"),
        smtplib.SMTPRecipientsRefused({"b@example.org": (550, b"no such user")}),
        smtplib.SMTPConnectError(554, b"go away"),
        smtplib.SMTPResponseException(502, b"what"),
    ]
    return [smtp.explain(failure).reason for failure in failures] + [smtp.UNSAFE]


def _oauth_reasons() -> list[str]:
    found = []
    for provider, send_with in (("google", "gmail_api"), ("microsoft", "graph")):
        account = OAuthAccount(provider, "a@example.org", "token", 0, send_with)
        found += [oauth.sign_in_again(provider), oauth._setup_problem(account)]
        found.append(oauth._unreachable(account, httpx.ReadTimeout("slow")).reason)
        for status, body in (
            (401, b"{}"),
            (403, b'{"error": {"code": "ErrorQuotaExceeded"}}'),
            (403, b'{"error": {"code": "ErrorSendAsDenied"}}'),
            (403, b"{}"),
            (429, b"{}"),
            (400, b'{"error": {"code": "ErrorInvalidRecipients"}}'),
            (400, b"{}"),
        ):
            found.append(oauth.explain_reply(account, Reply(status, httpx.Headers(), body)).reason)
    return found


def _cwc_reasons() -> list[str]:
    office = "Nancy Pelosi's office"
    address = b"<Errors><Error>Constituent address is not within the member's district.</Error></Errors>"
    other = b"<Errors><Error>Topic is not valid.</Error></Errors>"
    found = [
        cwc.classify(CwcReply(status, body), office).reason
        for status, body in ((400, address), (400, other), (400, b""), (413, b""), (401, b""), (503, b""), (418, b""))
    ]
    return [*found, NOT_BUILT, "We couldn't connect to Congress's system; we will try again."]


def _engine_reasons(app) -> list[str]:
    with app.test_request_context():
        refusals = []
        for host, port in (("127.0.0.1", 587), ("smtp.example.org", 8080), ("bad host!", 587), ("", 587)):
            try:
                ssrf.check(host, port, frozenset(), (25, 465, 587, 2525))
            except ssrf.RefusedHost as exc:
                refusals.append(str(exc))
    return [
        *refusals,
        EXPIRED,
        CANCELLED,
        "We couldn't send this letter after many tries. Please send it again.",
    ]


def test_every_reason_the_delivery_code_gives_is_known(app):
    every = [*_smtp_reasons(), *_oauth_reasons(), *_cwc_reasons(), *_engine_reasons(app)]
    unknown = sorted({reason for reason in every if reasons.known(reason) is None})
    assert not unknown, f"add these to webapp/i18n/reasons.py (and translate them): {unknown}"


def test_the_failure_budgets_refusals_are_known_and_read_in_spanish(app, monkeypatch):
    """Both budgets of refused sign-ins (the mail server's, the account's), spent for real."""
    from webapp.delivery import budget
    from webapp.delivery.smtp import DeliveryError

    found = []
    with app.app_context():
        for setting, host in (("SMTP_AUTH_FAILURES", "smtp.host-budget.example.org"),
                              ("SMTP_AUTH_FAILURES_PER_ACCOUNT", "smtp.account-budget.example.org")):  # fmt: skip
            monkeypatch.setitem(app.config, setting, "1 per hour")
            budget.spend(host, "maria@example.org")
            with pytest.raises(DeliveryError) as refused:
                budget.check(host, "maria@example.org")
            found.append(refused.value.reason)
            monkeypatch.undo()
    assert "smtp.host-budget.example.org" in found[0] and "maria@example.org" in found[1]
    with app.test_request_context(headers=SPANISH):
        spanish = [reasons.translate(reason) for reason in found]
    assert spanish[0].startswith("Hace poco fallaron demasiados inicios de sesión en smtp.host-budget.example.org")
    assert spanish[1].startswith("Hace poco tu servidor de correo rechazó varias veces la contraseña de maria@")


def test_a_spanish_reader_reads_them_in_spanish(app):
    every = [*_smtp_reasons(), *_oauth_reasons(), *_cwc_reasons(), *_engine_reasons(app)]
    with app.test_request_context(headers=SPANISH):
        for reason in every:
            spanish = reasons.translate(reason)
            assert spanish != reason, reason
        deadline = reasons.translate(smtp.explain(DeadlineExceeded(Deadline(15, smtp.CONNECTING))).reason)
        assert deadline == (
            "Tu servidor de correo tardó demasiado al conectarse e iniciar sesión (más de 15 segundos), así que "
            "paramos; lo seguiremos intentando durante un rato."
        )
        try:
            ssrf.check("smtp.example.org", 8080, frozenset(), (25, 465, 587, 2525))
        except ssrf.RefusedHost as exc:
            refused = reasons.translate(str(exc))
        assert "los servidores de correo usan los puertos 25, 465, 587 o 2525" in refused
        said = reasons.translate(_cwc_reasons()[0])
        assert said.startswith("La oficina de Nancy Pelosi no aceptó la carta por la dirección que diste. Su sistema")
        assert "«Constituent address is not within the member's district.»" in said  # their words, as said
        assert reasons.translate("Something nobody wrote down.") == "Something nobody wrote down."
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert all(reasons.translate(reason) == reason for reason in every)


def test_what_a_zip_codes_lookup_says_reads_in_spanish(app, client):
    """The lookup's notes are kept in English per ZIP code; a Spanish page shows them in Spanish, sentence by sentence."""
    from webapp.congress import service as congress

    with app.app_context():
        notes = {zip_code: congress.lookup(zip_code).message for zip_code in ("00901", "60011", "50011")}
        with pytest.raises(congress.UnknownZip) as unknown:
            congress.lookup("00002")
    assert all(notes.values()), notes
    with app.test_request_context(headers=SPANISH):
        spanish = {zip_code: reasons.translate_sentences(text) for zip_code, text in notes.items()}
        assert reasons.translate(str(unknown.value)).startswith("No conocemos el código postal 00002.")
    assert spanish["00901"].startswith("Puerto Rico tiene en el Congreso un comisionado residente"), spanish
    assert "es un código postal de apartados de correos en Illinois" in spanish["60011"]
    assert "es un código postal de una sola organización en Iowa" in spanish["50011"]
    page = client.get(f"/c/{LAUNCH}?zip=00901", headers=SPANISH).get_data(as_text=True)
    assert "Puerto Rico tiene en el Congreso un comisionado residente" in page
