"""mailto: links per RFC 6068 and the web-compose and tel: links."""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

from hypothesis import given
from hypothesis import strategies as st

from webapp.letters.handoff import MAILTO_MAX, hand_off, mailto_url, tel_uri


def test_spaces_and_line_breaks_are_encoded_the_rfc_6068_way():
    url = mailto_url("petitions@ohchr.org", "Two words", "Line one\nLine two\r\nLine three")
    assert url == ("mailto:petitions@ohchr.org?subject=Two%20words&body=Line%20one%0D%0ALine%20two%0D%0ALine%20three")
    assert "+" not in url


def test_reserved_characters_do_not_break_the_link():
    url = mailto_url("a@example.org", "A & B = C?", "100% #1 +more")
    query = urlsplit(url).query
    assert query.count("&") == 1
    parts = dict(part.split("=", 1) for part in query.split("&"))
    assert unquote(parts["subject"]) == "A & B = C?"
    assert unquote(parts["body"]) == "100% #1 +more"


@given(st.text(max_size=300), st.text(max_size=1500))
def test_round_trip(subject, body):
    url = mailto_url("a@example.org", subject, body)
    query = urlsplit(url).query
    parts = dict(part.split("=", 1) for part in query.split("&"))
    assert unquote(parts["subject"]) == subject
    expected = body.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")
    assert unquote(parts["body"]) == expected
    assert " " not in url and "+" not in url.replace("%2B", "")


def test_long_letters_get_a_subject_only_link_and_copy_buttons():
    links = hand_off("a@example.org", "Subject", "word " * 1000)
    assert not links.complete
    assert "body=" not in links.mailto_url
    assert len(links.mailto_url) <= MAILTO_MAX
    assert parse_qs(urlsplit(links.gmail_url).query)["su"] == ["Subject"]


def test_short_letters_carry_the_body_everywhere():
    links = hand_off("a@example.org", "Subject", "Dear you,\nHello")
    assert links.complete
    assert parse_qs(urlsplit(links.gmail_url).query)["body"] == ["Dear you,\nHello"]
    assert parse_qs(urlsplit(links.outlook_url).query)["to"] == ["a@example.org"]


def test_tel_links():
    assert tel_uri("(212) 415-4000") == "tel:+12124154000"
    assert tel_uri("202-224-3121") == "tel:+12022243121"
