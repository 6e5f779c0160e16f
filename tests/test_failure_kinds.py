"""Whose problem a refusal is (DeliveryError.kind, kept with a failed letter): the supporter's account or mail
server, or the target. Target health (tests/organize/test_targets.py) leaves the supporter's own out."""

from __future__ import annotations

import smtplib

import pytest

from webapp.delivery.smtp import explain
from webapp.models import NOT_THE_TARGETS


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (smtplib.SMTPAuthenticationError(535, b"5.7.8 Username and Password not accepted"), "auth"),
        (smtplib.SMTPSenderRefused(550, b"5.4.5 Daily user sending quota exceeded.", "a@example.org"), "quota"),
        (smtplib.SMTPDataError(554, b"5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException"), "quota"),
        (
            smtplib.SMTPSenderRefused(553, b"5.7.1 Sender address rejected: not owned by user", "a@example.org"),
            "sender",
        ),
        (smtplib.SMTPSenderRefused(451, b"4.7.1 Try again later", "a@example.org"), "busy"),
        (TimeoutError("timed out"), "unreachable"),
        (ConnectionRefusedError(111, "refused"), "unreachable"),
        (smtplib.SMTPRecipientsRefused({"ceo@example.com": (550, b"5.1.1 No such user")}), "recipient"),
        # A recipient's full mailbox is the target's, though the word is "quota".
        (smtplib.SMTPRecipientsRefused({"ceo@example.com": (552, b"5.2.2 Mailbox over quota")}), "recipient"),
        (smtplib.SMTPDataError(554, b"5.7.1 Message rejected as spam"), "content"),
    ],
)
def test_each_refusal_says_whose_problem_it_is(error, kind):
    assert explain(error).kind == kind


def test_only_the_targets_own_refusals_count_against_it():
    assert {"auth", "expired", "quota", "sender", "unreachable", "deadline"} <= NOT_THE_TARGETS
    assert not {"recipient", "content", "other"} & NOT_THE_TARGETS
