"""A letter Congress's system refused, delivered again with a corrected address (every failed letter's hand-offs,
its contact form or a printed letter, are webapp/letters/views/status.py's `another_way`)."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for

from webapp.congress import service as congress
from webapp.cwc.forms import AddressForm
from webapp.extensions import db
from webapp.letters import reporting, service
from webapp.letters.errors import SubmissionInvalid
from webapp.models import CWC, FAILED, Letter
from webapp.security import limits

bp = Blueprint("cwc", __name__)


def _refused(letter_id: str) -> Letter:
    letter = reporting.find_letter(letter_id)
    if letter is None or letter.channel != CWC:
        abort(404)
    return letter


def _status(letter: Letter):
    return redirect(url_for("letters.status", submission_id=letter.submission_id, _anchor=f"letter-{letter.id}"), 303)


@bp.route("/l/<letter_id>/address", methods=["GET", "POST"])
def fix_address(letter_id: str):
    """Correct the address a refused letter carried, and deliver it through Congress's system again."""
    letter = _refused(letter_id)
    submission = letter.submission
    if letter.status != FAILED or submission.purged_at is not None:
        return _status(letter)
    form = AddressForm()
    if request.method == "GET":
        form.fill_postal(submission.constituent or {})
        return render_template("cwc/address.html", form=form, letter=letter)
    postal = form.postal() if form.validate_on_submit() else None
    if postal is not None:
        try:
            again = service.send_another_way(letter, CWC, postal)
        except SubmissionInvalid as exc:
            form.attach_postal_errors(
                {key: messages for key, messages in exc.errors.items() if key.startswith("postal")}
                or {"postal.street": [message for messages in exc.errors.values() for message in messages]}
            )
        except congress.CongressDataMissing:
            abort(503)
        except limits.RateLimited as exc:
            form.postal_street.errors = [*form.postal_street.errors, exc.description]
            page = render_template("cwc/address.html", form=form, letter=letter)
            return page, 429, {"Retry-After": str(exc.retry_after_seconds)}
        else:
            db.session.commit()
            service.queue(again)
            return redirect(url_for("letters.status", submission_id=again.id), 303)
    return render_template("cwc/address.html", form=form, letter=letter), 422
