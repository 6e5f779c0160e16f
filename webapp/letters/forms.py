"""The supporter's forms: what they write, how they edit it, and how they send it."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    ValidationError,
    widgets,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Optional

from webapp.core import validation
from webapp.cwc.forms import PostalFields
from webapp.delivery import ssrf
from webapp.delivery.credentials import SECURITY_CHOICES, SmtpAccount
from webapp.i18n import gettext, ngettext
from webapp.i18n import lazy_gettext as _l
from webapp.mailauth.providers import BY_KEY, PROVIDERS
from webapp.mailauth.service import clients as oauth_clients


class Check:
    """Run one of the shared field rules and keep the value it normalized (e.g. the email address)."""

    def __init__(self, rule):
        self.rule = rule

    def __call__(self, form, field) -> None:
        try:
            field.data = self.rule(field.data or "")
        except validation.FieldError as exc:
            raise ValidationError(str(exc)) from None


class CheckboxListField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class WriteForm(FlaskForm):
    """Step one: who to write to, which letter, and who the supporter is."""

    targets = CheckboxListField(_l("Who do you want to write to?"))
    template = RadioField(_l("Which letter?"))
    name = StringField(
        _l("Your name"), [Check(validation.name)], render_kw={"autocomplete": "name", "maxlength": validation.NAME_MAX}
    )
    email = EmailField(
        _l("Your email address"),
        [Check(validation.email)],
        render_kw={"autocomplete": "email", "maxlength": validation.EMAIL_MAX},
    )
    zip = StringField(
        _l("ZIP code"),
        render_kw={"autocomplete": "postal-code", "inputmode": "numeric", "maxlength": 10},
    )
    address = TextAreaField(
        _l("Postal address (optional)"),
        [Check(validation.address)],
        render_kw={"autocomplete": "street-address", "rows": 3, "maxlength": validation.ADDRESS_MAX},
    )
    # No maxlength on what may be pasted at length: a browser cuts a paste there without a word. The page's counter
    # (data-limit) and the field's error say how much to cut instead.
    note = TextAreaField(
        _l("In your own words (optional)"),
        [Check(validation.note)],
        render_kw={"rows": 5, "data-limit": validation.NOTE_MAX},
    )

    # The draft this page came back from (the preview's "change"), so the letters' edits are kept.
    draft = HiddenField()

    # Members of Congress among the targets offered: the ZIP is asked for only when one of them is chosen.
    legislator_ids: frozenset[str] = frozenset()

    def validate_targets(self, field) -> None:
        if not field.data:
            raise ValidationError(gettext("Choose at least one person to write to."))
        # The API's cap too (its `targets`): the request size limit, validation.REQUEST_MAX, is made for this many.
        if len(set(field.data)) > validation.LETTERS_MAX:
            raise ValidationError(
                ngettext(
                    "Choose at most %(num)d person to write to at once; you can write to the others afterwards.",
                    "Choose at most %(num)d people to write to at once; you can write to the others afterwards.",
                    validation.LETTERS_MAX,
                )
            )

    def validate_zip(self, field) -> None:
        field.data = _zip_when_needed(field.data, bool(set(self.targets.data or []) & self.legislator_ids))

    def supporter_fields(self) -> dict[str, str]:
        return {
            "name": self.name.data,
            "email": self.email.data,
            "zip": self.zip.data,
            "address": self.address.data or "",
            "note": self.note.data or "",
        }


def _zip_when_needed(value: str | None, needed: bool) -> str:
    """A ZIP code is asked for only when members of Congress are in the group (it proves they represent the
    supporter); otherwise an empty one is fine and a typed one is still checked."""
    value = (value or "").strip()
    if not value and needed:
        raise ValidationError(
            gettext("Please enter your ZIP code: members of Congress answer only the people they represent.")
        )
    if not value:
        return ""
    try:
        return validation.zip_code(value)
    except validation.FieldError as exc:
        raise ValidationError(str(exc)) from None


class LetterEditForm(Form):
    """One letter as the supporter edits it on the preview page."""

    target = HiddenField()
    # A fingerprint of the text as the template wrote it (empty when the supporter's own edit was shown): a letter
    # whose text still matches was not edited, so it is written again when the supporter's details change.
    drafted = HiddenField()
    subject = StringField(_l("Subject"), [Check(validation.subject)], render_kw={"maxlength": validation.SUBJECT_MAX})
    body = TextAreaField(
        _l("Letter"), [Check(validation.body)], render_kw={"rows": 16, "data-limit": validation.BODY_MAX}
    )  # no maxlength: see WriteForm.note


class LetterList(FieldList):
    """The preview's letters, numbered `letters-0-…` in ASCII digits only. WTForms reads any str.isdigit() number:
    '²' then makes int() raise (a 500), and '٣' reads as 3 (a second field for the same letter)."""

    def _extract_indices(self, prefix, formdata):
        offset = len(prefix) + 1
        for key in formdata:
            if key.startswith(prefix):
                number = key[offset:].split(self._field_separator, 1)[0]
                if number.isascii() and number.isdigit():
                    yield int(number)


class SendForm(PostalFields, WriteForm):
    """Step two: the edited letters and how to send them. SMTP fields matter only for own-email sending."""

    letters = LetterList(FormField(LetterEditForm))
    provider = SelectField(
        _l("Your email provider"),
        choices=[
            SelectChoice("", _l("Choose…")),
            *(SelectChoice(p.key, p.label) for p in PROVIDERS),
            SelectChoice("other", _l("Other (enter server details)")),
        ],
        validate_choice=True,
        default="",
    )
    smtp_host = StringField(
        _l("Outgoing mail server (SMTP)"),
        [Optional()],
        render_kw={"placeholder": "smtp.example.org", "autocapitalize": "off", "spellcheck": "false"},
    )
    smtp_port = IntegerField(_l("Port"), [Optional()], default=587)
    smtp_security = SelectField(
        _l("Encryption"),
        choices=[
            SelectChoice("starttls", _l("STARTTLS (usually port 587)")),
            SelectChoice("ssl", _l("SSL/TLS (usually port 465)")),
        ],
        default="starttls",
    )
    smtp_username = StringField(
        _l("User name (usually your email address)"),
        [Optional()],
        render_kw={"autocomplete": "username", "autocapitalize": "off", "spellcheck": "false"},
    )
    smtp_password = PasswordField(
        _l("Password or app password"), [Optional()], render_kw={"autocomplete": "current-password"}
    )

    def smtp_account(self) -> SmtpAccount | None:
        """The account to send through, or None with the problems attached to the fields."""
        provider = BY_KEY.get(self.provider.data or "")
        if provider is not None and (provider.host is None or not provider.password_works):
            # Their servers take no password from other apps: say what works instead of failing at the server.
            self.provider.errors = [*self.provider.errors, provider.shown_help(oauth_clients())]
            return None
        if provider is not None:
            self.smtp_host.data, self.smtp_port.data, self.smtp_security.data = (
                provider.host,
                provider.port,
                provider.security,
            )
        ok = True
        if not self.provider.data:
            self.provider.errors = [*self.provider.errors, gettext("Choose your email provider, or Other.")]
            ok = False
        host = ssrf.normalize_host(self.smtp_host.data or "")
        if not host:
            self.smtp_host.errors = [*self.smtp_host.errors, gettext("Enter your mail server's host name.")]
            ok = False
        if not self.smtp_port.data or not 0 < self.smtp_port.data < 65536:
            self.smtp_port.errors = [*self.smtp_port.errors, gettext("Enter the port number, usually 587 or 465.")]
            ok = False
        if self.smtp_security.data not in SECURITY_CHOICES:
            self.smtp_security.errors = [*self.smtp_security.errors, gettext("Choose STARTTLS or SSL/TLS.")]
            ok = False
        username = (self.smtp_username.data or "").strip() or (self.email.data or "")
        try:
            username = validation.smtp_username(username)  # the API's rule, too
        except validation.FieldError as exc:
            self.smtp_username.errors = [*self.smtp_username.errors, str(exc)]
            ok = False
        if not self.smtp_password.data:
            self.smtp_password.errors = [*self.smtp_password.errors, gettext("Enter your password or app password.")]
            ok = False
        elif len(self.smtp_password.data) > 1024:
            self.smtp_password.errors = [*self.smtp_password.errors, gettext("That password is too long.")]
            ok = False
        if not ok:
            return None
        return SmtpAccount(host, int(self.smtp_port.data), self.smtp_security.data, username, self.smtp_password.data)

    def server_field(self, name: str = "smtp_host"):
        """The field where a problem with the mail server (`name`: its host, port or security) is told: that field
        when the supporter typed the server ("Other"), else the provider (one from the list, or none yet, as when
        signing in with Google or Microsoft), since the page then hides the server's fields."""
        if name in ("smtp_host", "smtp_port", "smtp_security") and self.provider.data != "other":
            return self.provider
        return self[name]


class CallForm(FlaskForm):
    """Calls need only who to call and the name (and, for members of Congress, the ZIP) the script gives."""

    targets = CheckboxListField(_l("Who will you call?"))
    name = StringField(
        _l("Your name"), [Check(validation.name)], render_kw={"autocomplete": "name", "maxlength": validation.NAME_MAX}
    )
    zip = StringField(
        _l("ZIP code"),
        render_kw={"autocomplete": "postal-code", "inputmode": "numeric", "maxlength": 10},
    )

    legislator_ids: frozenset[str] = frozenset()

    def validate_targets(self, field) -> None:
        if not field.data:
            raise ValidationError(gettext("Choose at least one office to call."))

    def validate_zip(self, field) -> None:
        field.data = _zip_when_needed(field.data, bool(set(self.targets.data or []) & self.legislator_ids))


CALL_OUTCOMES = ("called", "voicemail", "busy", "skipped")


class CallOutcomeForm(FlaskForm):
    """What happened on one call of the step-through: talked to staff, voicemail, busy, or skipped."""

    target = HiddenField(validators=[DataRequired()])
    outcome = HiddenField(validators=[DataRequired()])

    def validate_outcome(self, field) -> None:
        if field.data not in CALL_OUTCOMES:
            raise ValidationError(gettext("Choose what happened on the call."))


class ConfirmForm(FlaskForm):
    """'I sent it' / 'I called' / 'voicemail': the supporter's own word, recorded once."""

    outcome = HiddenField(validators=[DataRequired()])


class AnotherWayForm(FlaskForm):
    """Sending a failed letter another way (the mail app, the contact form, on paper): a button and its CSRF token."""


class ForgetForm(FlaskForm):
    """The "delete my data now" button, protected like every other change."""


class RetryForm(FlaskForm):
    """Send the failed letters again with the password typed again (the server is the one they were sent to)."""

    smtp_username = StringField(
        _l("User name (usually your email address)"),
        [Optional()],
        render_kw={"autocomplete": "username", "autocapitalize": "off", "spellcheck": "false"},
    )
    smtp_password = PasswordField(
        _l("Password or app password"), [Optional()], render_kw={"autocomplete": "current-password"}
    )
    smtp_port = IntegerField(_l("Port"), [Optional()], default=587)

    def smtp_account(self, submission) -> SmtpAccount | None:
        username = (self.smtp_username.data or "").strip() or submission.supporter_email
        if len(username) > 254 or any(ord(c) < 32 for c in username):
            self.smtp_username.errors = [
                *self.smtp_username.errors,
                gettext("That user name can't be right; check it."),
            ]
            return None
        if not self.smtp_password.data or len(self.smtp_password.data) > 1024:
            self.smtp_password.errors = [*self.smtp_password.errors, gettext("Enter your password or app password.")]
            return None
        if not submission.smtp_host or submission.smtp_host.startswith("signed-in:"):
            return None
        port = submission.smtp_port or 587
        security = "ssl" if port == 465 else "starttls"
        return SmtpAccount(submission.smtp_host, port, security, username, self.smtp_password.data)


class VisitForm(FlaskForm):
    """Buttons that change only the visit (forget my details, try the busy calls again)."""


def error_items(form, anchors: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """Every problem on a form as (the id of the element to jump to, the message), in the form's order, for the error
    summary at the top of the page. `anchors` sends a field's problems elsewhere (a field the page doesn't show)."""
    anchors = anchors or {}
    items = []
    for field in form:
        if isinstance(field, FieldList):
            for entry in field.entries:
                for sub in entry.form:
                    items += [(anchors.get(sub.name, sub.id), message) for message in sub.errors]
            continue
        if isinstance(field, (CheckboxListField, RadioField)):
            anchor = anchors.get(field.name, f"{field.id}-0")  # the first choice: where the fieldset's input starts
        else:
            anchor = anchors.get(field.name, field.id)
        items += [(anchor, message) for message in field.errors if isinstance(message, str)]
    return items
