"""The workspace's forms: structure and CSRF. The rules live in the services, so the API and the forms agree."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, NumberRange, Optional

from webapp.campaigns.content import RESOURCE_KINDS
from webapp.core import validation
from webapp.cwc import topics as cwc_topics
from webapp.i18n import lazy_gettext as _l
from webapp.models import CUSTOM_KINDS
from webapp.organize.names import CHANNEL_NAMES, KIND_NAMES
from webapp.organizers.models import ROLES


class CheckboxesField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class LoginForm(FlaskForm):
    email = EmailField(
        "Email address", [DataRequired("Enter your email address.")], render_kw={"autocomplete": "username"}
    )
    password = PasswordField(
        "Password", [DataRequired("Enter your password.")], render_kw={"autocomplete": "current-password"}
    )


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class NewCampaignForm(FlaskForm):
    title = StringField("Title", [DataRequired("Give the campaign a title.")], render_kw={"maxlength": 200})
    slug = StringField(
        "Address (optional)",
        render_kw={
            "maxlength": 80,
            "placeholder": "made from the title",
            "autocapitalize": "off",
            "spellcheck": "false",
        },
    )
    congress = BooleanField("Supporters write to their own members of Congress (found by ZIP code)")


class CampaignForm(FlaskForm):
    title = StringField("Title", render_kw={"maxlength": 200})
    summary = TextAreaField("Summary", render_kw={"rows": 4, "maxlength": 2000})
    congress = BooleanField("Supporters write to their own two senators and representative (found by ZIP code)")
    position = IntegerField("Order in the campaign list", [Optional()], render_kw={"min": 0})


class UpdateForm(FlaskForm):
    date = DateField("Date", [DataRequired("Give the date.")])
    text = TextAreaField("What changed", render_kw={"rows": 2, "maxlength": 2000})


class ResourceForm(FlaskForm):
    kind = SelectField(
        "Kind", choices=[SelectChoice(key, label) for key, label in RESOURCE_KINDS.items()], default="donate"
    )
    name = StringField("Name", render_kw={"maxlength": 200})
    url = StringField(
        "Link (optional)", render_kw={"placeholder": "https://…", "autocapitalize": "off", "spellcheck": "false"}
    )
    description = StringField("Description (optional)", render_kw={"maxlength": 1000})


class MemberForm(FlaskForm):
    email = SelectField("Organizer", choices=[])


class TargetForm(FlaskForm):
    id = StringField(
        "Id (optional)",
        render_kw={
            "maxlength": 64,
            "placeholder": "made from the name",
            "autocapitalize": "off",
            "spellcheck": "false",
        },
    )
    kind = SelectField("Kind", choices=[SelectChoice(kind, KIND_NAMES[kind]) for kind in CUSTOM_KINDS], default="ceo")
    name = StringField("Name", render_kw={"maxlength": 200})
    first_name = StringField("First name", render_kw={"maxlength": 200})
    last_name = StringField("Last name", render_kw={"maxlength": 200})
    title = StringField("Title", render_kw={"maxlength": 200, "placeholder": "Chief Executive Officer"})
    organization = StringField("Organization", render_kw={"maxlength": 200})
    salutation = StringField("Salutation", render_kw={"maxlength": 200, "placeholder": "Ms. Novakovic"})
    email = EmailField("Email address", render_kw={"maxlength": 254, "autocapitalize": "off", "spellcheck": "false"})
    phone = StringField("Phone", render_kw={"maxlength": 40, "inputmode": "tel"})
    contact_form = StringField(
        "Web contact form", render_kw={"placeholder": "https://…", "autocapitalize": "off", "spellcheck": "false"}
    )
    website = StringField(
        "Website", render_kw={"placeholder": "https://…", "autocapitalize": "off", "spellcheck": "false"}
    )
    postal_address = TextAreaField("Postal address", render_kw={"rows": 4, "maxlength": 500})
    note = TextAreaField("Note shown to supporters", render_kw={"rows": 2, "maxlength": 1000})


class ImportForm(FlaskForm):
    csv_file = FileField("A CSV file")
    csv_text = TextAreaField("… or paste it here", render_kw={"rows": 8, "spellcheck": "false"})
    fingerprint = HiddenField()


class TemplateForm(FlaskForm):
    name = StringField("Name supporters pick it by", render_kw={"maxlength": 200})
    slug = StringField(
        "File name (optional)",
        render_kw={
            "maxlength": 80,
            "placeholder": "made from the name",
            "autocapitalize": "off",
            "spellcheck": "false",
        },
    )
    target_ids = CheckboxesField("This campaign's targets", choices=[])
    target_kinds = CheckboxesField("Whole kinds of target", choices=[])
    channels = CheckboxesField(
        "How supporters may send it", choices=[SelectChoice(key, label) for key, label in CHANNEL_NAMES.items()]
    )
    min_note_length = IntegerField(
        "Minimum length of the supporter's own words",
        [Optional(), NumberRange(0, validation.NOTE_MAX, "Choose a number from 0 to %(max)s.")],
        default=0,
        render_kw={"min": 0, "max": validation.NOTE_MAX, "inputmode": "numeric"},
    )
    subject = StringField("Subject", render_kw={"maxlength": 1000, "spellcheck": "true"})
    salutation_and_signoff = BooleanField("Add “Dear …,” and the sign-off for me")
    cwc_topics = CheckboxesField(
        "Library of Congress topics", choices=[SelectChoice(topic, topic) for topic in cwc_topics.TOPICS]
    )
    body = TextAreaField("Letter", render_kw={"rows": 22, "spellcheck": "true"})
    base_version = HiddenField()


class PasswordForm(FlaskForm):
    current = PasswordField("Current password", render_kw={"autocomplete": "current-password"})
    new = PasswordField("New password", render_kw={"autocomplete": "new-password"})
    confirm = PasswordField("New password again", render_kw={"autocomplete": "new-password"})


class TokenForm(FlaskForm):
    name = StringField("What it's for", render_kw={"maxlength": 100, "placeholder": "e.g. our spreadsheet script"})
    # A token outlives the session that made it: whoever holds only a session cookie can't mint one.
    password = PasswordField("Your password", render_kw={"autocomplete": "current-password"})


class OrganizerForm(FlaskForm):
    email = EmailField("Email address", render_kw={"maxlength": 254, "autocapitalize": "off"})
    role = SelectField("Role", choices=[SelectChoice(role, role) for role in ROLES], default="organizer")
    campaigns = CheckboxesField("Campaigns they run", choices=[])


class OrganizerEditForm(FlaskForm):
    role = SelectField("Role", choices=[SelectChoice(role, role) for role in ROLES])
    active = BooleanField("Can log in")
    campaigns = CheckboxesField("Campaigns they run", choices=[])


class TranslationForm(FlaskForm):
    """One language's version of a letter: its own name, subject and body; everything else is the letter's."""

    name = StringField(_l("Name supporters pick it by"), render_kw={"maxlength": 200})
    subject = StringField(_l("Subject"), render_kw={"maxlength": 1000, "spellcheck": "true"})
    body = TextAreaField(_l("Letter"), render_kw={"rows": 22, "spellcheck": "true"})
    base_version = HiddenField()
