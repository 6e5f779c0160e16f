"""Header and recipient injection, tried by Hypothesis: names, emails, subjects and bodies full of control
characters, Unicode line and paragraph separators, RFC 2047 encoded words and very long lines.

Two layers: (1) everything the shared field rules accept builds into a message with exactly the expected
headers and one recipient (many examples, no network); (2) end to end, POST /api/v1/submissions with
channel smtp through Redis and a real Celery worker to a real SMTP server (aiosmtpd, STARTTLS + AUTH):
every message that arrives has one envelope recipient, one To, the expected header set and no header the
supporter wrote, and every input is answered 202 or 422, never 500."""

from __future__ import annotations

import uuid
from email import message_from_bytes, policy

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from tests.support.letters import un_letter
from tests.support.waiting import wait_for
from webapp.core import validation
from webapp.delivery.smtp import HEADERS, OutgoingLetter, build_message

RECIPIENT, RECIPIENT_NAME = "petitions@ohchr.org", "UN Human Rights Office (OHCHR)"
EXPECTED = sorted(name.lower() for name in HEADERS)

# What an attacker reaches for when they want a header of their own.
ATTACKS = [
    "\r",
    "\n",
    "\r\n",
    "\r\n\r\n",
    "\x00",
    "\x0b",
    "\x0c",
    "\x1b",
    "\x7f",
    "\x85",
    "\u2028",
    "\u2029",
    "\u200b",
    "\ufeff",
    "\t",
    "\r\nBcc: evil@example.net",
    "\nTo: evil@example.net",
    "\r\n Cc: evil@example.net",
    "\nX-Injected: 1",
    "=?utf-8?q?=0D=0ABcc:_evil@example.net?=",
    "=?UTF-8?B?DQpCY2M6IGV2aWxAZXhhbXBsZS5uZXQ=?=",
    "=?iso-8859-1?Q?a?=",
    # Whitespace inside the encoded word: a stricter pattern let it through and Python decoded it anyway.
    "=? utf-8 ?q?=0D=0ABcc:_evil@example.net?=",
    "=? UTF-8 ?Q?The_President?=",
    "=?utf-8? q ?x?=",
    "=?",
    "?=",
    "Bcc: evil@example.net",
    ",evil@example.net",
    ";evil@example.net",
    "<evil@example.net>",
    '"',
    "'",
    "\\",
    "(comment)",
    ":",
    "%0d%0a",
    "&#13;&#10;",
    "a" * 200,
    "b" * 1200,
    "é",
    "漢字",
    "🙂",
]

piece = st.one_of(st.sampled_from(ATTACKS), st.text(min_size=1, max_size=12))
hostile_text = st.lists(piece, min_size=1, max_size=6).map("".join)
# Text the rules accept but that still looks like headers, addresses or SMTP commands once in a message.
TRICKY = [
    "Bcc: evil@example.net",
    "<evil@example.net>",
    "'",
    "%0d%0a",
    "=?",
    "?=",
    ":",
    ",",
    ";",
    "(x)",
    "Ana",
    "Lopez",
    "c" * 200,
    "é",
    "漢字",
    "🙂",
    " ",
    "To: evil@example.net",
    "MAIL FROM:<x@y.z>",
    "=0D=0A",
]
tricky_line = st.lists(st.sampled_from(TRICKY), min_size=1, max_size=5).map(
    lambda parts: "".join(parts).strip()[:200] or "Hi"
)
tricky_name = st.lists(st.sampled_from([p for p in TRICKY if not set(p) & set('<>"@')]), min_size=1, max_size=4).map(
    lambda parts: "".join(parts).strip()[:100] or "Ana"
)
tricky_email = st.sampled_from(
    ["ana@example.org", "o'brien+x@Example.ORG", "a.b@example.org", "x=y?z@example.org", "{ok}@example.org"]
)
tricky_body = st.lists(st.one_of(tricky_line, st.just("."), st.just("d" * 1500)), min_size=1, max_size=5).flatmap(
    lambda lines: st.sampled_from(["\n", "\r\n"]).map(lambda eol: eol.join(lines))
)
local_part = st.lists(
    st.one_of(
        st.sampled_from(["a", "o'brien", "x+tag", "=?q?", "{x}", "a.b", "`", "!#$%&*/=?^_|~-"]),
        st.sampled_from(ATTACKS),
    ),
    min_size=1,
    max_size=3,
).map("".join)
hostile_email = st.one_of(
    st.builds(
        lambda local, domain: f"{local}@{domain}",
        local_part,
        st.sampled_from(["example.org", "EXAMPLE.org", "example.org\r\nBcc: x@y.z"]),
    ),
    st.sampled_from(
        [
            "supporter@example.org",
            "a@example.org, b@example.org",
            "a@example.org\nBcc: b@example.net",
            "<a@example.org>",
        ]
    ),
)


def accepted(rule, value: str) -> str | None:
    try:
        return rule(value)
    except validation.FieldError:
        return None


def assert_safe(data: bytes, *, sender: str, subject: str | None = None, sender_name: str | None = None) -> None:
    message = message_from_bytes(data, policy=policy.default)
    names = sorted(name.lower() for name in message)
    assert names == EXPECTED, f"headers {names}"
    to = message["To"].addresses
    assert len(to) == 1 and to[0].addr_spec == RECIPIENT
    sender_addresses = message["From"].addresses
    assert len(sender_addresses) == 1 and sender_addresses[0].addr_spec.lower() == sender.lower()
    for name in HEADERS:
        assert "\n" not in str(message[name]) and "\r" not in str(message[name])
    if subject is not None:
        assert " ".join(str(message["Subject"]).split()) == " ".join(subject.split())
    if sender_name is not None:  # the From name a reader sees is the one the supporter wrote, nothing decoded into it
        assert " ".join(sender_addresses[0].display_name.split()) == " ".join(sender_name.split())
    head = data.split(b"\r\n\r\n", 1)[0]
    assert b"\nbcc" not in head.lower() and b"\ncc:" not in head.lower() and b"\nx-injected" not in head.lower()


# ---- layer 1: building the message --------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(
    name=st.one_of(hostile_text, tricky_line),
    email=hostile_email,
    subject=st.one_of(hostile_text, tricky_line),
    body=st.one_of(hostile_text, tricky_body),
)
@example(name="Ana\r\nBcc: evil@example.net", email="a@example.org", subject="Hi", body="x")
@example(name="Ana", email="a@example.org", subject="=?utf-8?q?=0D=0ABcc:_evil@example.net?=", body="x")
@example(name="Ana", email="a@example.org", subject="Hi\u2028Bcc: evil@example.net", body="x")
@example(name="=? utf-8 ?q?The_President?=", email="a@example.org", subject="=? utf-8 ?q?Resign?=", body="x")
@example(name="Ana", email="a@example.org", subject="s" * 200, body=("long line " * 300) + "\r\nBcc: evil@example.net")
def test_whatever_the_field_rules_accept_builds_a_safe_message(name, email, subject, body):
    # A field the rules refuse never reaches a message (the API answers 422); the others still get tried.
    name = accepted(validation.name, name) or "Ana Lopez"
    email = accepted(validation.email, email) or "ana@example.org"
    subject = accepted(validation.subject, subject) or "Reunite families"
    body = accepted(validation.body, body) or "Dear office,"
    letter = OutgoingLetter(uuid.uuid4().hex, name, email, RECIPIENT, RECIPIENT_NAME, subject, body)
    assert_safe(build_message(letter), sender=email, subject=subject, sender_name=name)


@settings(max_examples=300, deadline=None)
@given(value=hostile_text)
def test_the_header_rule_refuses_every_line_break_and_encoded_word(value):
    kept = accepted(validation.subject, value)
    if kept is not None:
        for bad in ("\r", "\n", "\x85", "\u2028", "\u2029", "\x00", "\x0b", "\x0c"):
            assert bad not in kept
        assert "=?" not in kept


# ---- layer 2: end to end through the API, Redis, a worker and a real SMTP server ------------------------------


def submit(client, mail_server, supporter: dict, subject: str, body: str):
    return client.post(
        "/api/v1/submissions",
        json=un_letter(supporter, "smtp", subject=subject, body=body, smtp=mail_server.smtp_settings()),
    )


def received_for(mail_server, letter_id: str):
    for message in list(mail_server.received):
        if f"outcry.{letter_id}@".encode() in message.data:
            return message
    return None


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    fields=st.sampled_from(["name", "email", "subject", "body", None, None, None, None]).flatmap(
        lambda hostile: st.fixed_dictionaries(
            {
                "name": hostile_text if hostile == "name" else tricky_name,
                "email": hostile_email if hostile == "email" else tricky_email,
                "subject": hostile_text if hostile == "subject" else tricky_line,
                "body": hostile_text if hostile == "body" else tricky_body,
            }
        )
    )
)
@example(fields={"name": "Ana", "email": "a@example.org", "subject": "Hi\r\nBcc: evil@example.net", "body": "x"})
@example(fields={"name": "=? utf-8 ?q?The_President?=", "email": "a@example.org", "subject": "Hi", "body": "x"})
@example(fields={"name": "Ana", "email": "a@example.org", "subject": "=? utf-8 ?q?I_resign?=", "body": "x"})
@example(
    fields={
        "name": "Ana Lopez",
        "email": "o'brien+tag@example.org",
        "subject": "Reunite families now",
        "body": "Line one\r\n.\r\nBcc: evil@example.net\r\n" + "z" * 1500,
    }
)
def test_every_message_that_arrives_has_one_recipient_and_only_our_headers(client, mail_server, celery_worker, fields):
    """One field at a time is hostile (or none); the others are valid but look like headers and commands."""
    name, email, subject, body = fields["name"], fields["email"], fields["subject"], fields["body"]
    supporter = {"name": name, "email": email, "zip": "94110"}
    response = submit(client, mail_server, supporter, subject, body)
    assert response.status_code in (202, 422), (response.status_code, response.get_data(as_text=True)[:300])
    event(f"answered {response.status_code}")
    if response.status_code == 422:
        assert set(response.get_json()["errors"]) <= {"supporter.name", "supporter.email", "subject", "body"}
        event(f"refused {response.get_json()['errors']}")
        return
    letter = response.get_json()["letters"][0]
    arrived = wait_for(lambda: received_for(mail_server, letter["id"]), timeout=20, what="the letter to arrive")
    assert arrived.rcpt_tos == [RECIPIENT]
    normalized = validation.email(email)
    assert arrived.mail_from == normalized
    assert_safe(arrived.data, sender=normalized, subject=letter["subject"], sender_name=validation.name(name))
    content = message_from_bytes(arrived.data, policy=policy.default).get_content()
    assert content.replace("\r\n", "\n").strip() == letter["body"]
