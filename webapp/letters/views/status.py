"""After sending: a submission's status page, a failed letter sent another way, the supporter's confirmations, erasing
their data, and the receipt of everything done in the visit."""

from __future__ import annotations

from flask import abort, flash, get_flashed_messages, redirect, render_template, request, url_for

from webapp.campaigns.service import find_campaign
from webapp.extensions import db
from webapp.i18n import gettext
from webapp.i18n import lazy_gettext as _l
from webapp.letters import actions, mail_account, reporting, service
from webapp.letters import visit as visits
from webapp.letters.errors import SubmissionInvalid
from webapp.letters.forms import AnotherWayForm, ConfirmForm, ForgetForm, RetryForm, VisitForm, error_items
from webapp.letters.views import bp
from webapp.letters.views.calls import callable_targets
from webapp.mailauth.service import clients as oauth_clients
from webapp.models import CALL, CONTACT_FORM, MAILTO, PRINT, SMTP
from webapp.privacy import service as privacy
from webapp.security import limits

# The flashed message's category for letters saved whose delivery could not be asked for at once (the broker out of
# reach): the status page says so at the top, once.
DELAYED = "delayed"
# The category of "done" messages every supporter page shows once at the top (base.html), e.g. details forgotten.
DONE = "done"


@bp.route("/s/<submission_id>")
def status(submission_id: str):
    return status_page(submission_id)


def status_page(
    submission_id: str,
    *,
    retry_error: str | None = None,
    retry_form=None,
    another_way_error: tuple[str, str] | None = None,
    status: int = 200,
):
    """The status page; `another_way_error` is (letter id, message) when sending a letter another way was refused."""
    submission = reporting.find_submission(submission_id)
    if submission is None:
        abort(404)
    visit = visits.current()
    in_visit = visit.has(submission.id)
    campaign = submission.campaign
    view = reporting.submission_view(submission)
    failed = service.retryable(submission)
    provider = mail_account.signed_in_with(submission)
    instead = mail_account.sign_in_instead(submission, failed) if failed else None
    clients = oauth_clients()
    # A refused "Send it again" is said like every refused form: a summary at the top that takes the focus.
    problems = error_items(retry_form) if retry_form is not None else []
    if retry_error:
        problems.append(("send-again", retry_error))
    if another_way_error:
        problems.append((f"another-way-{another_way_error[0]}", another_way_error[1]))
    ways_out = {letter.id: service.ways_out(letter) for letter in submission.letters}  # each looked up once
    return render_template(
        "letters/status.html",
        submission=submission,
        delayed=get_flashed_messages(category_filter=[DELAYED]),
        view=view,
        confirm_form=ConfirmForm(),
        # Where each failed letter can still go by hand, and why not where it can't.
        another_ways={letter_id: ways for letter_id, (ways, _closed) in ways_out.items()},
        ways_closed={letter_id: closed for letter_id, (_ways, closed) in ways_out.items()},
        another_way_error=dict([another_way_error]) if another_way_error else {},
        forget_form=ForgetForm(),
        outcome_labels=OUTCOME_LABELS,
        # "their contact form" only where the data has one; otherwise the link is their website's home page.
        contact_forms={letter.target_id: bool(letter.target.contact_form) for letter in submission.letters},
        plan=actions.for_visit(campaign, visit) if in_visit and not campaign.closed else None,
        in_visit=in_visit,
        retry_failed=failed,
        retry_provider=provider,
        retry_client=clients.get(provider) if provider else None,
        # After a refused password: "Send with Google / Microsoft" first, where this site can sign in there.
        sign_in_client=clients.get(instead) if instead else None,
        retry_form=retry_form
        or RetryForm(
            formdata=None, data={"smtp_username": submission.supporter_email, "smtp_port": submission.smtp_port or 587}
        ),  # fmt: skip
        retry_error=retry_error,
        problems=problems,
    ), status


@bp.route("/l/<letter_id>/another-way", methods=["POST"])
def another_way(letter_id: str):
    """The same failed letter through the supporter's mail app, the target's contact form or on paper: a new
    hand-off, shown on its own status page. (Once the address of Congress's refused letters only: the same URL.)"""
    letter = reporting.find_letter(letter_id)
    if letter is None:
        abort(404)
    if not AnotherWayForm().validate_on_submit():
        abort(400)
    try:
        submission = service.send_another_way(letter, request.form.get("channel", ""))
    except SubmissionInvalid as exc:
        message = " ".join(m for messages in exc.errors.values() for m in messages)
        return status_page(letter.submission_id, another_way_error=(letter.id, message), status=422)
    except limits.RateLimited as exc:
        abort(429, description=exc.description)
    db.session.commit()
    service.queue(submission)
    return redirect(url_for("letters.status", submission_id=submission.id), 303)


@bp.route("/s/<submission_id>/forget", methods=["POST"])
def forget(submission_id: str):
    """Erase this submission's personal data now; the counts stay. The visit's copy of the details goes too."""
    if not ForgetForm().validate_on_submit():
        abort(400)
    if not privacy.forget_submission(submission_id):
        abort(404)
    visit = visits.current()
    if visit.has(submission_id):
        visit.data.pop("details", None)
        visit.data.pop("drafts", None)
        visit.data.pop("smtp", None)
        visits.save(visit)
    return redirect(url_for("letters.status", submission_id=submission_id), 303)


OUTCOME_LABELS = {
    (MAILTO, "sent"): _l("I sent it"),
    (CONTACT_FORM, "sent"): _l("I sent it through the form"),
    (PRINT, "sent"): _l("I mailed it"),
    (CALL, "called"): _l("I called and spoke to someone"),
    (CALL, "voicemail"): _l("No answer / I left a voicemail"),
}


@bp.route("/l/<letter_id>/confirm", methods=["POST"])
def confirm(letter_id: str):
    letter = reporting.find_letter(letter_id)
    if letter is None:
        abort(404)
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            service.confirm(letter, form.outcome.data)
        except SubmissionInvalid:
            abort(422)
        db.session.commit()
    else:
        abort(400)
    return redirect(url_for("letters.status", submission_id=letter.submission_id, _anchor=f"letter-{letter.id}"), 303)


# How each letter and call of a visit stands, for the receipt: one whole sentence per case (translations need them).
RECEIPT_LINES = {
    (SMTP, "sent"): _l("Email from your account: sent, and their mail server accepted it."),
    (SMTP, "failed"): _l("Email from your account: not sent."),
    (SMTP, "queued"): _l("Email from your account: on its way."),
    (SMTP, "sending"): _l("Email from your account: on its way."),
    (MAILTO, None): _l("From your mail app: ready for you to send."),
    (MAILTO, "sent"): _l("From your mail app: you said you sent it."),
    (CONTACT_FORM, None): _l("Through their contact form: ready for you to paste and send."),
    (CONTACT_FORM, "sent"): _l("Through their contact form: you said you sent it."),
    (PRINT, None): _l("Printed letter: ready to print, sign and mail."),
    (PRINT, "sent"): _l("Printed letter: you said you mailed it."),
    (CALL, None): _l("Phone call: the script was handed to you."),
    (CALL, "called"): _l("Phone call: you talked to someone."),
    (CALL, "voicemail"): _l("Phone call: you left a voicemail."),
    (CALL, "busy"): _l("Phone call: the line was busy or nobody answered."),
    (CALL, "skipped"): _l("Phone call: you skipped this office."),
}


ERASED_LINE = _l("Your details and the text were deleted; the count stays.")


def receipt_line(letter: dict, purged: bool = False) -> str:
    """The receipt's sentence for one letter as `letter_view` shows it."""
    if purged:
        return ERASED_LINE
    key = (
        (letter["channel"], letter["status"])
        if letter["channel"] == SMTP
        else (letter["channel"], letter.get("outcome"))
    )
    return RECEIPT_LINES.get(key, "")


@bp.route("/c/<slug>/receipt")
def receipt(slug: str):
    """Everything done in this visit for this campaign: each letter and call and how it stands, what is left, and
    ways to share the campaign."""
    campaign = find_campaign(slug, page=False)
    if campaign is None:
        abort(404)
    visit = visits.current()
    submissions = [s for s in map(reporting.find_submission, visit.submission_ids(slug)) if s is not None]
    outcomes = visit.call_outcomes(slug)
    queue = visit.calls(slug).get("queue") or []
    by_id = {target.id: target for target in callable_targets(campaign, visit.calls(slug).get("zip"))}
    not_reached = [(by_id[t], outcomes[t]) for t in queue if outcomes.get(t) in ("busy", "skipped") and t in by_id]
    return render_template(
        "letters/receipt.html",
        campaign=campaign,
        submissions=submissions,
        views={s.id: reporting.submission_view(s) for s in submissions},
        not_reached=not_reached,
        receipt_line=receipt_line,
        receipt_lines=RECEIPT_LINES,
        plan=None if campaign.closed else actions.for_visit(campaign, visit),
        share_url=url_for("campaigns.campaign", slug=slug, _external=True),
        visit_form=VisitForm(),
        details=visit.details,
    )


@bp.route("/visit/forget", methods=["POST"])
def forget_visit():
    """ "Not you?" on a shared device: forget this visit's details, drafts and receipt now (what was sent stays)."""
    if not VisitForm().validate_on_submit():
        abort(400)
    visits.end()
    flash(
        gettext(
            "Done: this device has forgotten your details (your name, email, ZIP code, address and note), your "
            "drafts and its list of what you did. What you sent stays as it is."
        ),
        DONE,
    )
    back = request.form.get("campaign")
    campaign = find_campaign(back, page=False) if back else None
    return redirect(url_for("campaigns.campaign", slug=campaign.slug) if campaign else url_for("campaigns.index"), 303)


@bp.route("/c/<slug>/receipt/forget", methods=["POST"])
def forget_all(slug: str):
    """Erase the personal data of everything sent in this visit for this campaign, and end the visit."""
    if not ForgetForm().validate_on_submit():
        abort(400)
    for submission_id in visits.current().submission_ids(slug):
        privacy.forget_submission(submission_id)
    visits.end()
    return redirect(url_for("campaigns.campaign", slug=slug, forgotten=1), 303)
