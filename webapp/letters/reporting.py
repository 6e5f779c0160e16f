"""A submission and its letters as the status page, the receipt and the API report them (never any credential)."""

from __future__ import annotations

from typing import Any

from flask import url_for
from sqlalchemy.orm import joinedload, selectinload

from webapp.congress import service as congress
from webapp.extensions import db
from webapp.i18n import reasons
from webapp.letters.handoff import hand_off, tel_uri
from webapp.models import CALL, CONTACT_FORM, CWC, FAILED, MAILTO, OUTCOMES, PRINT, QUEUED, Letter, Submission


def find_submission(submission_id: str) -> Submission | None:
    """The submission with its campaign and letters (and their targets) loaded up front."""
    if not submission_id or len(submission_id) > 64:
        return None
    return db.session.get(
        Submission,
        submission_id,
        options=[joinedload(Submission.campaign), selectinload(Submission.letters).joinedload(Letter.target)],
    )


def find_letter(letter_id: str) -> Letter | None:
    if not letter_id or len(letter_id) > 64:
        return None
    return db.session.get(Letter, letter_id)


def letter_view(letter: Letter) -> dict[str, Any]:
    """A letter as the API and the status page show it (never any credential)."""
    view: dict[str, Any] = {
        "id": letter.id,
        "target": {"id": letter.target.id, "name": letter.target.name, "display_name": letter.target.display_name},
        "channel": letter.channel,
        "status": letter.status,
        "language": letter.submission.language if letter.submission else "en",
        "subject": letter.subject,
        "body": letter.body,
        "personal_share": letter.personal_share,
    }
    target = letter.target
    if letter.channel == MAILTO and letter.recipient:
        links = hand_off(letter.recipient, letter.subject, letter.body)
        view.update(
            mailto_url=links.mailto_url,
            mailto_complete=links.complete,
            gmail_url=links.gmail_url,
            outlook_url=links.outlook_url,
            recipient=letter.recipient,
        )
    elif letter.channel == CONTACT_FORM:
        view["contact_url"] = target.contact_url
    elif letter.channel == CALL:
        view["phone"] = target.phone
        view["phone_url"] = tel_uri(target.phone) if target.phone else None
        view["offices"] = [
            {"label": office.label, "phone": office.phone, "phone_url": tel_uri(office.phone)}
            for office in (congress.district_offices(target.id) if target.is_legislator else [])
            if office.phone
        ]
    elif letter.channel == PRINT:
        view["print_url"] = url_for("letters.print_letter", letter_id=letter.id, _external=True)
    elif letter.channel == CWC:
        view["office"] = letter.recipient  # the member's CWC office code
        if letter.status == FAILED and target.contact_url:
            view["contact_url"] = target.contact_url  # where the supporter can still send it by hand
    if letter.channel in OUTCOMES:
        view["outcome"] = letter.outcome
        view["outcomes"] = list(OUTCOMES[letter.channel])
    # The reasons are kept in English (the worker that writes them has no reader); shown in the reader's language.
    if letter.error and letter.status == FAILED:
        view["error"] = reasons.translate(letter.error)
    elif letter.error and letter.status == QUEUED:
        view["waiting"] = reasons.translate(letter.error)  # the temporary problem that the next try should get past
    return view


def submission_view(submission: Submission) -> dict[str, Any]:
    letters = sorted(submission.letters, key=lambda letter: letter.position)
    return {
        "id": submission.id,
        "status_url": url_for("letters.status", submission_id=submission.id, _external=True),
        "campaign": submission.campaign.slug,
        "channel": submission.channel,
        "language": submission.language or "en",
        "done": all(letter.terminal for letter in letters),
        "purged": submission.purged_at is not None,
        "letters": [letter_view(letter) for letter in letters],
    }
