"""A printed letter: the supporter's address block, the date, the office's address, room to sign."""

from __future__ import annotations

import datetime as dt

from flask import abort, redirect, render_template, request, url_for

from webapp.congress import service as congress
from webapp.letters import reporting
from webapp.letters.views import bp
from webapp.models import PRINT, Target


@bp.route("/l/<letter_id>/print")
def print_letter(letter_id: str):
    """A print-ready letter: the supporter's address block, the date, the office's address, the letter, room to sign.

    A member of Congress's letter goes by default to the district office nearest the supporter's ZIP code (mail to
    Washington is screened and slow); `?office=dc` picks the Washington office, `?office=ID` another one.
    """
    letter = reporting.find_letter(letter_id)
    if letter is None or letter.channel != PRINT:
        abort(404)
    target = letter.target
    submission = letter.submission
    if submission.purged_at is not None:  # deleted: its status page says so, rather than an empty letter to print
        return redirect(url_for("letters.status", submission_id=submission.id), 303)
    offices = (
        [office for office in congress.district_offices(target.id) if office.postal_address]
        if target.is_legislator
        else []
    )
    offices.sort(key=lambda office: _distance(office.zip, submission.supporter_zip))
    wanted = request.args.get("office")
    chosen = None if wanted == "dc" else next((o for o in offices if o.id == wanted), offices[0] if offices else None)
    before, signature = _signature_split(letter.body or "", submission.supporter_name or "")
    return render_template(
        "letters/print.html",
        letter=letter,
        submission=submission,
        target=target,
        offices=offices,
        chosen=chosen,
        nearest=offices[0] if offices and submission.supporter_zip else None,
        recipient_block=_recipient_block(target, chosen),
        body_before_signature=before,
        signature=signature,
        today=dt.date.today(),
    )


def _distance(office_zip: str, supporter_zip: str) -> tuple[int, int]:
    """How far an office is from the supporter, by ZIP code: first the digits they share (ZIPs that share their
    first three digits share a mail-sorting center), then how far apart the numbers are."""
    office, home = (office_zip or "")[:5], (supporter_zip or "")[:5]
    if not (office.isdigit() and home.isdigit()):
        return (0, 0)
    shared = next((i for i, (a, b) in enumerate(zip(office, home, strict=False)) if a != b), 5)
    return (-shared, abs(int(office) - int(home)))


def _signature_split(body: str, name: str) -> tuple[str, str]:
    """The letter up to the supporter's typed name, and from it on, so the printed page leaves room to sign above it.

    The name is looked for from the end (it closes the letter); a letter that doesn't end with it gets it added."""
    lines = body.rstrip("\n").split("\n")
    for index in range(len(lines) - 1, -1, -1):
        if name and lines[index].strip() == name.strip():
            return "\n".join(lines[:index]), "\n".join(lines[index:])
    return body.rstrip("\n"), name


def _recipient_block(target: Target, office: congress.Office | None) -> str:
    """The address block of a printed letter: a district office, the DC office, or the target's address."""
    if not target.is_legislator:
        return target.postal_address or target.name
    lines = [f"The Honorable {target.name}"]
    if office is not None:
        lines.append(office.postal_address or "")
    else:
        lines.append("United States Senate" if target.kind == "senator" else "United States House of Representatives")
        lines.append(target.postal_address or "")
    return "\n".join(line for line in lines if line)
