"""The postal-address fields a letter to Congress through CWC asks for: on the send step and to fix an address."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice

from webapp.congress.service import STATE_NAMES
from webapp.cwc import address
from webapp.cwc.message import PREFIXES
from webapp.i18n import lazy_gettext as _l

STATE_CHOICES = [SelectChoice("", _l("Choose…"))] + [
    SelectChoice(code, name[4:] if name.startswith("the ") else name)
    for code, name in sorted(STATE_NAMES.items(), key=lambda item: item[1].removeprefix("the "))
]


# How each honorific reads to the supporter; Congress's system gets the English one (the value), whatever the label.
PREFIX_LABELS = {
    "Ms.": _l("Ms."),
    "Mr.": _l("Mr."),
    "Mrs.": _l("Mrs."),
    "Miss": _l("Miss"),
    "Dr.": _l("Dr."),
    "Reverend": _l("Reverend"),
    "Father": _l("Father"),
    "Sister": _l("Sister"),
}


class PostalFields:
    """Mixed into a form: no validators of their own, since they count only when the supporter chooses CWC;
    `postal()` checks them with the one rule (webapp/cwc/address.py) and puts each message on its field."""

    postal_prefix = SelectField(
        _l("How should the office address you?"),
        choices=[SelectChoice("", _l("Choose…"))] + [SelectChoice(p, PREFIX_LABELS.get(p, p)) for p in PREFIXES],
        validate_choice=False,  # the address rule (webapp/cwc/address.py) says what is wrong, in a sentence
    )
    postal_first_name = StringField(_l("First name"), render_kw={"autocomplete": "given-name", "maxlength": 100})
    postal_last_name = StringField(_l("Last name"), render_kw={"autocomplete": "family-name", "maxlength": 100})
    postal_street = StringField(
        _l("Street address"), render_kw={"autocomplete": "address-line1", "maxlength": address.STREET_MAX}
    )
    postal_street2 = StringField(
        _l("Apartment, suite or unit (optional)"),
        render_kw={"autocomplete": "address-line2", "maxlength": address.STREET_MAX},
    )
    postal_city = StringField(
        _l("City or town"), render_kw={"autocomplete": "address-level2", "maxlength": address.CITY_MAX}
    )
    postal_state = SelectField(
        _l("State"), choices=STATE_CHOICES, validate_choice=False, render_kw={"autocomplete": "address-level1"}
    )
    postal_zip = StringField(
        _l("ZIP code"), render_kw={"autocomplete": "postal-code", "inputmode": "numeric", "maxlength": 10}
    )

    def postal(self) -> address.PostalAddress | None:
        """The address, or None with each field's message on the field."""
        try:
            return address.parse({name: getattr(self, f"postal_{name}").data for name in address.FIELDS})
        except address.AddressInvalid as exc:
            self.attach_postal_errors(exc.errors)
            return None

    def attach_postal_errors(self, errors: dict[str, list[str]]) -> None:
        """Put `postal.zip`-style (or bare `zip`) messages next to their fields; others on the street field."""
        for key, messages in errors.items():
            name = key.removeprefix("postal.")
            field = getattr(self, f"postal_{name}", None) if name in address.FIELDS else self.postal_street
            field.errors = [*(field.errors or []), *messages]

    def fill_postal(self, values: dict[str, str]) -> None:
        """Start the fields from what is known (the supporter's name and ZIP, an address they gave before)."""
        for name in address.FIELDS:
            field = getattr(self, f"postal_{name}")
            if not field.data and values.get(name):
                field.data = values[name]


class AddressForm(PostalFields, FlaskForm):
    """Fixing the address of a letter Congress's system refused, and sending it again."""
