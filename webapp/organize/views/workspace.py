"""The organizer workspace's blueprint and what its pages share: the log-in wall, no caching, the rule that
opens a campaign to those who run it, and service errors put beside their fields."""

from __future__ import annotations

from flask import Blueprint, Response, abort, request
from flask_login import current_user

from webapp.extensions import login_manager
from webapp.models import Campaign
from webapp.organize import names
from webapp.organize.campaigns import find_campaign
from webapp.organize.forms import ActionForm
from webapp.organizers import permissions
from webapp.organizers.models import Organizer

bp = Blueprint("organize", __name__, url_prefix="/organize")

PUBLIC = ("organize.login",)


@bp.before_request
def require_login():
    if request.endpoint not in PUBLIC and not current_user.is_authenticated:
        return login_manager.unauthorized()
    return None


@bp.after_request
def no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"  # organizer pages never sit in a shared or back-button cache
    return response


@bp.context_processor
def workspace_context():
    return {
        # formdata=None: the buttons' CSRF token only; reading the body here would raise again on a 413's own page
        "action_form": ActionForm(formdata=None),
        "kind_names": names.KIND_NAMES,
        "channel_names": names.CHANNEL_NAMES,
        "channel_tags": names.CHANNEL_TAGS,
    }


def current_organizer() -> Organizer:
    """The organizer logged in (every page but the log-in page has one)."""
    return current_user._get_current_object()  # type: ignore[attr-defined]


def managed_campaign(slug: str) -> Campaign:
    """The campaign at /c/<slug> when the organizer runs it; else a 404 (none, or someone else's draft) or a 403."""
    campaign = find_campaign(slug)
    refused = permissions.campaign_refusal(current_organizer(), campaign)
    if refused == 403:
        abort(403, description="You don't run this campaign. Ask an admin to add you to its team.")
    if refused is not None or campaign is None:
        abort(404)
    return campaign


def admin_only() -> None:
    if not current_organizer().is_admin:
        abort(403, description="Only admins can manage organizers.")


def attach_errors(form, errors: dict[str, list[str]], default: str | None = None) -> list[str]:
    """Put service errors next to their fields; returns the ones that belong to no field."""
    loose = []
    for key, messages in errors.items():
        field = getattr(form, key, None) if key in form else None
        if field is None and default:
            field = getattr(form, default)
        if field is None:
            loose += messages
        else:
            field.errors = [*field.errors, *messages]
    return loose


def plain_number(value: str | None) -> int | None:
    """A whole number in ASCII digits, at most 12 of them (an id, a version), else None. Not str.isdigit alone: it
    takes '²', which int() refuses (a 500), and '٣', which int() reads as 3 (a second address for the same page)."""
    if value and len(value) <= 12 and value.isascii() and value.isdigit():
        return int(value)
    return None


def url_number(value: str) -> int:
    """An id from the URL. Rules take it as a string (not `<int:…>`) so that any malformed URL still meets the CSRF
    check and the log-in before a 404, like every other form endpoint."""
    number = plain_number(value)
    if number is None:
        abort(404)
    return number
