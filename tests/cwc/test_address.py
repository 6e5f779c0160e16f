"""The address a CWC letter carries: every field checked with a sentence that says what to fix, and the seat checked
(the member must represent the address's ZIP code) before anything is written."""

from __future__ import annotations

import pytest

from webapp.cwc import address
from webapp.extensions import db
from webapp.models import Target

GOOD = {
    "prefix": "Ms.",
    "first_name": "Zoë",
    "last_name": "O'Brien",
    "street": "500 Valencia St",
    "street2": "Apt. 2",
    "city": "San Francisco",
    "state": "ca",
    "zip": "94110",
}


def test_a_good_address_is_taken_as_written():
    postal = address.parse(GOOD)
    assert postal.state == "CA" and postal.last_name == "O'Brien" and postal.street2 == "Apt. 2"
    assert postal.lines == "500 Valencia St\nApt. 2\nSan Francisco, CA 94110"


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("prefix", "Lord", "Choose how the office should address you"),
        ("first_name", "  ", "Please enter your first name."),
        ("last_name", "", "Please enter your last name."),
        ("street", "", "Please enter your street address."),
        ("street", "1 Main St\nBcc: x@example.org", "single line"),
        ("street", "x" * 101, "at most 100 characters"),
        ("city", "<script>", "can't contain < > or @"),
        ("state", "XX", "Choose your state."),
        ("zip", "9411", "5-digit ZIP code"),
    ],
)
def test_each_wrong_field_gets_its_own_sentence(field, value, says):
    with pytest.raises(address.AddressInvalid) as caught:
        address.parse({**GOOD, field: value})
    assert list(caught.value.errors) == [field]
    assert says in caught.value.errors[field][0]


def test_every_missing_field_is_named_at_once():
    with pytest.raises(address.AddressInvalid) as caught:
        address.parse({})
    assert set(caught.value.errors) == {"prefix", "first_name", "last_name", "street", "city", "state", "zip"}


def test_a_name_splits_into_a_starting_guess():
    assert address.split_name("Mary Ann O'Brien") == ("Mary Ann", "O'Brien")
    assert address.split_name("Cher") == ("Cher", "")


def test_the_members_of_the_address_pass_the_seat_check(ctx):
    postal = address.parse(GOOD)
    members = [db.session.get(Target, i) for i in ("P000145", "S001150", "P000197")]  # Padilla, Schiff, Pelosi
    assert address.seat_problems(postal, members) == {}


def test_a_member_of_another_state_or_district_is_refused_with_why(ctx):
    postal = address.parse(GOOD)
    cruz = db.session.get(Target, "C001098")  # a senator for Texas
    other_district = db.session.get(Target, "K000389")  # Ro Khanna, CA-17
    problems = address.seat_problems(postal, [cruz, other_district])["zip"]
    assert problems[0].startswith(
        "Senator Ted Cruz (R-TX) represents Texas, and the address you gave is in California."
    )
    assert "does not represent ZIP code 94110" in problems[1]


def test_an_unknown_zip_is_refused(ctx):
    postal = address.parse({**GOOD, "zip": "00000"})
    assert "We don't know ZIP code 00000" in address.seat_problems(postal, [])["zip"][0]
