"""The letter as bytes: long display names with specials, or non-ASCII, read back exactly as written."""

from __future__ import annotations

from email import message_from_bytes, policy

import pytest

from webapp.delivery.smtp import OutgoingLetter, build_message


@pytest.mark.parametrize(
    "name",
    [
        "Ana",
        # Python 3.11 folds these without their quotes: "Smith," and "John …" would read as two mailboxes,
        # ";Ana…" as an empty group (a From header with no sender at all).
        "Smith, John " + "x" * 80,
        ";Ana" + "c" * 95,
        "a(b)c:d;e,f" + "z" * 80,
        "María José Pérez-" + "ñ" * 60,
    ],
)
def test_the_sender_reads_back_as_one_mailbox_with_the_name_as_written(name):
    letter = OutgoingLetter(
        letter_id="0123abcd",
        sender_name=name,
        sender_email="x=y?z@example.org",
        recipient="petitions@ohchr.org",
        recipient_name="UN Human Rights Office (OHCHR)",
        subject="Reunite the families",
        body="Dear Office,\n\nPlease act.\n",
    )
    data = build_message(letter)
    message = message_from_bytes(data, policy=policy.default)
    (sender,) = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == (name, "x=y?z@example.org")
    (recipient,) = message["To"].addresses
    assert recipient.addr_spec == "petitions@ohchr.org"
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))
