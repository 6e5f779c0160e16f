"""A campaign's letter templates in the workspace: checked before they are saved, every change kept as a version
(and restorable), their other languages' versions, and whether supporters are offered them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm.exc import StaleDataError

from webapp.campaigns.content import SLUG, TemplateContent, normalize_body
from webapp.core.rendering import LetterTemplateError
from webapp.extensions import db
from webapp.i18n import LANGUAGES as SUPPORTER_LANGUAGES
from webapp.i18n import language_name
from webapp.models import (
    EMAIL_CHANNELS,
    LEGISLATOR_KINDS,
    Campaign,
    Letter,
    LetterTemplate,
    TemplateVersion,
    template_content,
)
from webapp.organize.invalid import Conflict, Invalid, TemplateInvalid
from webapp.organize.names import slugify


@dataclass
class TemplateInput:
    name: str
    subject: str
    body: str
    target_ids: list[str] = field(default_factory=list)
    target_kinds: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    min_note_length: int = 0
    slug: str = ""
    salutation_and_signoff: bool = False
    # Library of Congress topics for letters delivered through CWC: a setting kept beside the versions, not in them.
    cwc_topics: list[str] = field(default_factory=list)
    language: str | None = None  # None: the template's own (English for a new one)
    # Other languages' versions, {"es": {"name", "subject", "body"}}; None keeps the template's as they are.
    translations: dict[str, dict[str, str]] | None = None

    def content(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"language": (self.language or "en").strip().lower()} if self.language else {}
        if self.translations is not None:
            extra["translations"] = {
                language: {
                    "name": (text.get("name") or "").strip(),
                    "subject": (text.get("subject") or "").strip(),
                    "body": normalize_body(text.get("body") or ""),
                }
                for language, text in self.translations.items()
            }
        return extra | {
            "name": self.name.strip(),
            "subject": self.subject.strip(),
            "body": normalize_body(self.body),
            "target_ids": list(dict.fromkeys(self.target_ids)),
            "target_kinds": list(dict.fromkeys(self.target_kinds)),
            "channels": list(dict.fromkeys(self.channels)),
            "min_note_length": int(self.min_note_length or 0),
            "salutation_and_signoff": bool(self.salutation_and_signoff),
        }


def check_template_input(
    campaign: Campaign, data: TemplateInput
) -> tuple[dict[str, list[str]], list[LetterTemplateError]]:
    """Every problem with a template and its settings, by the one template schema (webapp/campaigns/content.py):
    the settings' rules, then `check_template` (the one check `flask letters check`, file loading and the tests use)."""
    letter = TemplateContent.model_validate({**data.content(), "cwc_topics": list(data.cwc_topics or [])})
    return letter.check({target.id: target.kind for target in campaign.targets})


def template_warnings(campaign: Campaign, template: LetterTemplate) -> list[str]:
    """Things that aren't errors but that an organizer would want to know before supporters notice."""
    warnings = []
    chosen = [t for t in campaign.targets if t.id in (template.target_ids or [])]
    for target in chosen:
        if not template.channels_for(target):
            reason = target.no_email_reason if set(template.channels) <= set(EMAIL_CHANNELS) else None
            warnings.append(
                f"{target.name} can't be reached by any of the chosen ways yet"
                + (f": {reason}" if reason else " (add their email, contact form, phone or postal address).")
            )
    if set(template.target_kinds or []) & set(LEGISLATOR_KINDS) and not campaign.congress:
        warnings.append(
            "This letter is for members of Congress, but the campaign doesn't offer writing to them (see Settings)."
        )
    if set(template.target_kinds or []) & set(LEGISLATOR_KINDS) and set(template.channels) <= set(EMAIL_CHANNELS):
        warnings.append("Members of Congress publish no email addresses: add the contact form or printed-letter way.")
    return warnings


RESERVED_SLUGS = frozenset({"new", "preview"})  # workspace addresses under /letters/


def _unique_template_slug(campaign: Campaign, wanted: str) -> str:
    taken = {t.slug for t in campaign.templates} | RESERVED_SLUGS
    base = wanted or "letter"
    slug, number = base, 2
    while slug in taken:
        slug = f"{base[:75]}-{number}"
        number += 1
    return slug


def _same(key: str, old: Any, new: Any) -> bool:
    """Whether a content field is unchanged; the order of targets, kinds and channels means nothing."""
    if key in ("target_ids", "target_kinds", "channels"):
        return sorted(set(old or [])) == sorted(set(new or []))
    return old == new


def save_content(template: LetterTemplate, content: Mapping[str, Any], author: str, note: str = "") -> bool:
    """Apply content changes; a change is a new version, kept. Returns whether anything changed."""
    changed = [key for key, value in content.items() if not _same(key, getattr(template, key), value)]
    if not changed:
        return False
    for key in changed:
        setattr(template, key, content[key])
    db.session.add(TemplateVersion.next(template, author=author, note=note))
    return True


def _overtaken(now: str) -> Conflict:
    return Conflict(
        {
            "version": [
                f"Someone saved this letter{now} after you opened it. Your text is still here: look at the versions "
                "list to see their change, then save again to replace it."
            ]
        }
    )


def _check_unchanged_since(template: LetterTemplate, base_version: int | None) -> None:
    """Raise Conflict when someone saved a newer version of the letter since `base_version` was loaded."""
    if base_version is not None and base_version != template.version:
        raise _overtaken(f" (now version {template.version})")


def _write() -> None:
    """Flush a change to a template. Raise Conflict when someone saved it between this request's read and this
    write (its UPDATE names the version read: LetterTemplate's version_id_col); the caller rolls back."""
    try:
        db.session.flush()
    except StaleDataError:
        raise _overtaken("") from None


def save_template(
    campaign: Campaign,
    data: TemplateInput,
    *,
    author: str,
    slug: str | None = None,
    base_version: int | None = None,
) -> tuple[LetterTemplate, bool]:
    """Create (slug None) or change a letter template after checking it; returns it and whether it changed.

    Raises TemplateInvalid with every problem (field and line), so a broken letter never reaches supporters,
    or Invalid when someone else saved a newer version since `base_version` was loaded.
    """
    template = None
    if slug is not None:
        template = next((t for t in campaign.templates if t.slug == slug), None)
        if template is None:
            raise Invalid({"slug": [f"No letter '{slug}' in this campaign."]})
        if data.language is None:
            data.language = template.language or "en"
    errors, problems = check_template_input(campaign, data)
    if template is None:
        wanted = (data.slug or "").strip().lower()
        if wanted and not SLUG.match(wanted):
            errors["slug"] = ["Use lower-case letters, digits and hyphens for the file name, like ask-the-ceo."]
        elif wanted and (wanted in RESERVED_SLUGS or any(t.slug == wanted for t in campaign.templates)):
            errors["slug"] = [f"There is already a letter called {wanted} in this campaign."]
    if errors or problems:
        raise TemplateInvalid(problems, errors, source=(data.subject, data.body))
    if template is not None:
        _check_unchanged_since(template, base_version)
    content = data.content()
    if template is None:
        position = max((t.position for t in campaign.templates), default=-1) + 1
        template = LetterTemplate(
            slug=_unique_template_slug(campaign, (data.slug or "").strip().lower() or slugify(content["name"])),
            version=1,
            position=position,
            active=False,  # a new letter is a draft until an organizer publishes it
            cwc_topics=list(dict.fromkeys(data.cwc_topics or [])),
            **content,
        )
        campaign.templates.append(template)
        db.session.add(TemplateVersion.snapshot(template, author=author, note="created"))
        db.session.flush()
        return template, True
    changed = save_content(template, content, author)
    topics = list(dict.fromkeys(data.cwc_topics or []))
    if sorted(template.cwc_topics or []) != sorted(topics):  # the form lists them in its own order
        template.cwc_topics, changed = topics, True
    _write()
    return template, changed


def find_template(campaign: Campaign, slug: str) -> LetterTemplate | None:
    return next((t for t in campaign.templates if t.slug == slug), None)


def versions_of(template: LetterTemplate) -> list[TemplateVersion]:
    return list(
        db.session.scalars(
            select(TemplateVersion)
            .where(TemplateVersion.template_id == template.id)
            .order_by(TemplateVersion.version.desc())
        )
    )


def letters_per_template(campaign: Campaign) -> dict[int, int]:
    """How many letters each of the campaign's templates has written: one query on the template index."""
    ids = [template.id for template in campaign.templates]
    return dict(
        db.session.execute(
            select(Letter.template_id, func.count()).where(Letter.template_id.in_(ids)).group_by(Letter.template_id)
        ).all()
    )


def letters_per_version(template: LetterTemplate) -> dict[int, int]:
    return dict(
        db.session.execute(
            select(Letter.template_version, func.count())
            .where(Letter.template_id == template.id)
            .group_by(Letter.template_version)
        ).all()
    )


def restore_version(campaign: Campaign, template: LetterTemplate, version: int, author: str) -> LetterTemplate:
    """Make an older version current again, as a new version (the newer ones stay kept)."""
    old = db.session.scalar(
        select(TemplateVersion).where(TemplateVersion.template_id == template.id, TemplateVersion.version == version)
    )
    if old is None:
        raise Invalid({"version": [f"There is no version {version} of this letter."]})
    data = template_input(template, old)
    in_campaign = {link.target_id for link in campaign.target_links}
    data.target_ids = [t for t in data.target_ids if t in in_campaign]
    errors, problems = check_template_input(campaign, data)
    if errors or problems:
        raise TemplateInvalid(problems, errors)
    save_content(template, data.content(), author, note=f"restored from version {version}")
    _write()
    return template


def missing_translations(template: LetterTemplate) -> list[str]:
    """The languages supporters read that this letter has no version in (the workspace lists them)."""
    return [language for language in SUPPORTER_LANGUAGES if language not in template.languages]


def template_input(template: LetterTemplate, version: TemplateVersion | None = None) -> TemplateInput:
    """A template as it is now (its text and settings as `version` kept them, when given), as the input that would
    save it: with the template's current CWC topics, a setting kept beside the versions, which the check needs."""
    return TemplateInput(**template_content(version or template), cwc_topics=list(template.cwc_topics or []))


def save_translation(
    campaign: Campaign,
    template: LetterTemplate,
    language: str,
    text: Mapping[str, str] | None,
    *,
    author: str,
    base_version: int | None = None,
) -> bool:
    """Add, change or (text None) remove one language's version of a letter: checked like the letter itself, and a
    new version of it, kept. Returns whether anything changed."""
    data = template_input(template)
    translations = dict(data.translations or {})
    if text is None:
        translations.pop(language, None)
    else:
        translations[language] = {key: text.get(key) or "" for key in ("name", "subject", "body")}
    data.translations = translations
    errors, problems = check_template_input(campaign, data)
    if problems:  # the letter's own text has a problem (an older version restored by hand?): say so
        raise TemplateInvalid(problems, errors)
    if errors:
        raise Invalid(errors)
    _check_unchanged_since(template, base_version)
    note = f"{language_name(language, 'en')} {'removed' if text is None else 'version'}"
    changed = save_content(template, {"translations": data.content()["translations"]}, author, note=note)
    _write()
    return changed


def set_template_active(template: LetterTemplate, active: bool) -> None:
    template.active = active
    _write()
