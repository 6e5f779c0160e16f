"""Which letter and which targets a request may name: the campaign's own, or the ZIP's members of Congress."""

from __future__ import annotations

from webapp.campaigns.service import active_templates, campaign_targets
from webapp.congress import service as congress
from webapp.extensions import db
from webapp.i18n import gettext, reasons, roles
from webapp.letters.errors import NotFound, SubmissionInvalid
from webapp.models import CALL, CONTACT_FORM, CWC, EMAIL_CHANNELS, PRINT, Campaign, LetterTemplate, Target


class CampaignClosed(SubmissionInvalid):
    """The organizers closed the campaign: it takes no more letters."""

    def __init__(self, campaign: Campaign):
        super().__init__(
            {
                "campaign": [
                    gettext(
                        "“%(title)s” has closed and takes no more letters. Thank you for caring: "
                        "the campaign page shows what everyone sent.",
                        title=campaign.title,
                    )
                ]
            }
        )


def ensure_open(campaign: Campaign) -> None:
    if campaign.closed_at is not None:
        raise CampaignClosed(campaign)


def choose(
    campaign: Campaign, template_slug: str, target_ids: list[str], channel: str | None, zip_code: str = ""
) -> tuple[LetterTemplate, list[Target]]:
    """The template and targets a request names, checked against the campaign and the supporter's ZIP.

    Recipients come only from target records: the campaign's own targets, or, for a campaign that
    writes to Congress, the members who represent `zip_code`. Raises NotFound or SubmissionInvalid.
    """
    ensure_open(campaign)
    template = next((t for t in active_templates(campaign) if t.slug == template_slug), None)
    if template is None:
        raise NotFound(gettext("No letter '%(slug)s' in this campaign.", slug=template_slug))
    if not target_ids:
        raise SubmissionInvalid({"targets": [gettext("Choose at least one person to write to.")]})
    if len(set(target_ids)) != len(target_ids):
        raise SubmissionInvalid({"targets": [gettext("Each person can be chosen only once.")]})
    offered = {target.id: target for target in campaign_targets(campaign)}
    chosen = []
    errors: list[str] = []
    for target_id in target_ids:
        target = offered.get(target_id) or db.session.get(Target, target_id)
        if target is None:
            raise NotFound(gettext("No target '%(id)s'.", id=target_id))
        problem = _not_offered(campaign, target, zip_code) if target_id not in offered else None
        if problem is None and not template.fits(target):
            problem = gettext(
                "The letter '%(letter)s' is not meant for %(name)s.", letter=template.name, name=target.name
            )
        if problem is None and channel and channel not in template.channels_for(target):
            problem = (target.no_email_reason if channel in EMAIL_CHANNELS else None) or _unreachable(target, channel)
        if problem:
            errors.append(problem)
        else:
            chosen.append(target)
    if errors:
        raise SubmissionInvalid({"targets": errors})
    return template, chosen


def _not_offered(campaign: Campaign, target: Target, zip_code: str) -> str | None:
    """Why a target outside the campaign's own list may not be written to, or None if it may."""
    if not (target.is_legislator and campaign.congress):
        return gettext("'%(id)s' is not someone this campaign writes to.", id=target.id)
    if not target.active:
        return gettext("%(name)s is no longer in office.", name=target.name)
    if target.id not in congress.allowed_legislator_ids(zip_code):
        if zip_code:
            return gettext(
                "%(member)s does not represent ZIP code %(zip)s. You can write only to your own members of Congress.",
                member=f"{roles.with_name(target.role, target.name)} ({target.state})",
                zip=zip_code,
            )
        return gettext(
            "%(member)s does not represent the ZIP code you gave. You can write only to your own members of Congress.",
            member=f"{roles.with_name(target.role, target.name)} ({target.state})",
        )
    return None


def _unreachable(target: Target, channel: str) -> str:
    if channel == CONTACT_FORM:
        return gettext("We don't know a contact form for %(name)s.", name=target.name)
    if channel == CALL:
        return gettext("We don't have a phone number for %(name)s.", name=target.name)
    if channel == PRINT:
        return gettext("We don't have a postal address for %(name)s.", name=target.name)
    if channel == CWC:
        return gettext(
            "This letter can't be delivered to %(name)s's office through Congress's own system here.", name=target.name
        )
    return gettext("%(name)s can't be reached that way.", name=target.name)


def find_members(raw_zip: str | None) -> tuple[congress.ZipLookup | None, str | None]:
    """The supporter's members of Congress for the ZIP they typed (the campaign page and its embed), or the message
    that says what went wrong; (None, None) before any ZIP is typed."""
    if not raw_zip:
        return None, None
    try:
        return congress.lookup(raw_zip), None
    except congress.InvalidZip:
        return None, gettext("Please enter a 5-digit ZIP code (or ZIP+4, like 94110-1234).")
    except congress.UnknownZip as exc:
        return None, reasons.translate(str(exc)) or gettext(
            "We don't know that ZIP code. Check it, or use the House's find-your-representative page."
        )
    except congress.CongressDataMissing:
        return None, gettext("The list of members of Congress isn't loaded on this server yet. Please try again later.")
