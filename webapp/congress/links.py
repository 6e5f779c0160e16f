"""The contact-form links organizers enter for members of Congress whose data has none: the rule for a link
(a page on the member's own site), and setting or removing one."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit

from flask import has_app_context
from sqlalchemy import select

from webapp.congress.models import CongressDataset, FormLink
from webapp.congress.service import get_cache
from webapp.extensions import db
from webapp.models import Target, utcnow

# Where each chamber's members keep their websites (every one in the data is on these).
CHAMBER_DOMAINS = {"senator": "senate.gov", "representative": "house.gov", "delegate": "house.gov"}
FORM_LINK_MAX = 500


def _site(host: str) -> str:
    return host.lower().removeprefix("www.")


def _own_site(target: Target) -> str:
    """The host of the member's website, "" when none is known or the stored one can't be read (a website saved
    before they were checked): the link is then held to the chamber's domain, as for a member with no website."""
    try:
        return _site(urlsplit(target.website).hostname or "") if target.website else ""
    except ValueError:
        return ""


def form_link_problem(target: Target, url: str) -> str | None:
    """Why `url` can't be `target`'s contact form, in a sentence; None when it can.

    The link must be an https:// page on the member's own website (their `website` host, with or without
    `www.`), or on their chamber's domain when no website is known: a mistyped or hostile link can then
    never send supporters, with their name and address, anywhere but the member's office.
    """
    url = url.strip()
    domain = CHAMBER_DOMAINS.get(target.kind)
    if domain is None:
        return f"{target.name} is not a member of Congress."
    if not url:
        return "Paste the address of their contact form."
    if len(url) > FORM_LINK_MAX or any(c.isspace() or ord(c) < 32 for c in url):
        return f"That doesn't look like a web address (no spaces, up to {FORM_LINK_MAX} characters)."
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "That doesn't look like a web address."
    own = _own_site(target)
    if parts.scheme != "https" or not parts.hostname or parts.username or parts.password or port not in (None, 443):
        where = own or f"a {domain} site"
        return f"Use the https:// address of the form on {where}, like https://{own or 'name.' + domain}/contact."
    host = _site(parts.hostname)
    if own and host != own:
        return f"Use a page on {target.name}'s own website, {own}: the form supporters fill in must be their office's."
    if not own and host != domain and not host.endswith("." + domain):
        chamber = "Senate" if domain == "senate.gov" else "House"
        return f"Use a page on {domain}, where members of the {chamber} keep their websites."
    return None


def form_links() -> dict[str, FormLink]:
    return {link.target_id: link for link in db.session.scalars(select(FormLink))}


def _new_version() -> None:
    """Tell every process's lookup cache that members changed (as a load does)."""
    dataset = db.session.scalar(select(CongressDataset).order_by(CongressDataset.id).limit(1))
    if dataset is not None:
        dataset.version = uuid.uuid4().hex


def set_form_link(target: Target, url: str, entered_by: str) -> FormLink:
    """Make `url` the member's contact form, kept over the data by later loads (committed).

    Callers check who may (webapp/organizers/permissions.py) and `form_link_problem` first.
    """
    problem = form_link_problem(target, url)
    if problem is not None:
        raise ValueError(problem)
    link = db.session.get(FormLink, target.id)
    if link is None:
        link = FormLink(target_id=target.id, data_url=target.contact_form)
        db.session.add(link)
    link.url, link.entered_by, link.entered_at = url.strip(), entered_by, utcnow()
    target.contact_form = link.url
    _new_version()
    # Committed here, not by the caller: this process's lookup cache is cleared only once the change is durable.
    # Cleared before the commit, a lookup in between would rebuild from the old rows under the old version and
    # serve them until its next version check.
    db.session.commit()
    if has_app_context():
        get_cache().invalidate()
    return link


def remove_form_link(target: Target) -> bool:
    """Drop the link an organizer entered; the member gets the data's link back, if it has one (committed)."""
    link = db.session.get(FormLink, target.id)
    if link is None:
        return False
    target.contact_form = link.data_url
    db.session.delete(link)
    _new_version()
    db.session.commit()  # before the cache is cleared, as in set_form_link
    if has_app_context():
        get_cache().invalidate()
    return True
