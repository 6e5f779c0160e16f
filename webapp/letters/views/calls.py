"""Calls, one office after another: whom to call, then each office's number, the script and what happened."""

from __future__ import annotations

import secrets

from flask import abort, redirect, render_template, request, url_for
from wtforms.fields.choices import SelectChoice

from webapp import i18n
from webapp.campaigns.service import call_scripts, campaign_targets
from webapp.congress import service as congress
from webapp.extensions import db
from webapp.i18n import lazy_gettext as _l
from webapp.letters import actions, choosing, drafting, service
from webapp.letters import visit as visits
from webapp.letters.errors import NotFound, SubmissionInvalid
from webapp.letters.forms import CallForm, CallOutcomeForm, VisitForm, error_items
from webapp.letters.views import bp
from webapp.letters.views.writing import draft_with_reader, fill_details, legislators, open_campaign
from webapp.models import CALL, Campaign, Target
from webapp.security import limits


def callable_targets(campaign: Campaign, zip_code: str | None) -> list[Target]:
    """Offices a supporter can call for this campaign: a phone number and a call script that fits them."""
    scripts = call_scripts(campaign)
    return [
        target
        for target in legislators(campaign, zip_code) + campaign_targets(campaign)
        if CALL in target.channels and any(script.fits(target) for script in scripts)
    ]


def _call_page(form: CallForm, campaign: Campaign, targets: list[Target], status: int = 200, headers=None):
    visit = visits.current()
    page = render_template(
        "letters/call.html",
        form=form,
        campaign=campaign,
        targets=targets,
        asks_zip=bool(form.legislator_ids),
        offered_zip=request.form.get("offered_zip") or request.form.get("zip") or form.zip.data,
        known=bool(visit.details.get("name")),
        problems=error_items(form),
    )
    return page, status, headers or {}


@bp.route("/c/<slug>/call", methods=["GET", "POST"])
def call(slug: str):
    """Who to call and the name (and ZIP) the script gives; then the calls, office after office (`calls`)."""
    campaign = open_campaign(slug)
    visit = visits.current()
    form = CallForm()
    zip_code = request.values.get("zip") or (visit.details.get("zip") if request.method == "GET" else None)
    targets = callable_targets(campaign, zip_code)
    offered_zip = request.form.get("offered_zip")
    if offered_zip and offered_zip != zip_code:  # as on the write page: changing the ZIP keeps the choices
        known = {target.id for target in targets}
        targets += [t for t in callable_targets(campaign, offered_zip) if t.is_legislator and t.id not in known]
    form.targets.choices = [SelectChoice(target.id, target.display_name) for target in targets]
    form.legislator_ids = frozenset(target.id for target in targets if target.is_legislator)
    if request.method == "GET":
        offered = [target.id for target in targets]
        wanted = [target_id for target_id in request.args.getlist("target") if target_id in offered]
        form.targets.data = wanted or offered
        fill_details(form, {"name": visit.details.get("name", ""), "zip": zip_code or ""})
        return _call_page(form, campaign, targets)
    if campaign.closed:
        form.validate_on_submit()
        form.targets.errors = [*form.targets.errors, *choosing.CampaignClosed(campaign).errors["campaign"]]
        return _call_page(form, campaign, targets, 422)
    if not form.validate_on_submit():
        return _call_page(form, campaign, targets, 422)
    problems = []
    by_id = {target.id: target for target in targets}
    for target_id in form.targets.data:  # the same checks a call's letter gets: open campaign, the ZIP's own members
        script = next(s for s in call_scripts(campaign) if s.fits(by_id[target_id]))
        try:
            choosing.choose(campaign, script.slug, [target_id], CALL, form.zip.data or "")
        except (NotFound, SubmissionInvalid) as exc:
            errors = exc.errors if isinstance(exc, SubmissionInvalid) else {"targets": [str(exc)]}
            problems += [m for messages in errors.values() for m in messages if m not in problems]
    if problems:
        form.targets.errors = [*form.targets.errors, *problems]
        return _call_page(form, campaign, targets, 422)
    visit.remember_details(name=form.name.data, **({"zip": form.zip.data} if form.zip.data else {}))
    # A round of calls: calling an office again in a new one is a new call (`visits.claim_call`).
    round_id = secrets.token_urlsafe(6)
    visit.set_calls(
        slug, {"queue": list(form.targets.data), "outcomes": {}, "zip": form.zip.data or "", "round": round_id}
    )
    if not visits.save(visit):
        abort(503)
    return redirect(url_for("letters.calls", slug=slug), 303)


@bp.route("/c/<slug>/calls", methods=["GET", "POST"])
def calls(slug: str):
    """The call step-through: one office at a time, its number, the script, and what happened."""
    campaign = open_campaign(slug)
    visit = visits.current()
    state = visit.calls(slug)
    queue = state.get("queue") or []
    name = visit.details.get("name")
    if not queue or not name:
        return redirect(url_for("letters.call", slug=slug), 303)
    zip_code = state.get("zip") or ""
    by_id = {target.id: target for target in callable_targets(campaign, zip_code)}
    queue = [target_id for target_id in queue if target_id in by_id]
    outcomes = dict(state.get("outcomes") or {})
    form = CallOutcomeForm()
    problem, status, headers = None, 200, {}
    if request.method == "POST":
        if request.form.get("action") == "retry" and VisitForm().validate_on_submit():
            outcomes = {target_id: o for target_id, o in outcomes.items() if o != "busy"}
            visit.set_calls(slug, {**state, "outcomes": outcomes})
            visits.save(visit)
            return redirect(url_for("letters.calls", slug=slug), 303)
        if not form.validate_on_submit() or form.target.data not in by_id:
            abort(400)
        if form.target.data in outcomes:  # answered already (a double tap, the Back button): counted once
            return redirect(url_for("letters.calls", slug=slug), 303)
        target = by_id[form.target.data]
        counted = form.outcome.data in ("called", "voicemail")
        if counted and not visits.claim_call(visit, slug, target.id):  # two taps at once: the other one records it
            return redirect(url_for("letters.calls", slug=slug), 303)
        recorded = False
        try:
            if counted:
                submission = _record_call(campaign, target, name, zip_code, form.outcome.data)
                db.session.commit()  # the call's letter and its outcome, counted together
                visit.record(slug, submission.id)
            recorded = True
        except (NotFound, SubmissionInvalid) as exc:
            errors = exc.errors if isinstance(exc, SubmissionInvalid) else {"target": [str(exc)]}
            problem, status = " ".join(m for messages in errors.values() for m in messages), 422
        except limits.RateLimited as exc:
            problem, status, headers = exc.description, 429, {"Retry-After": str(exc.retry_after_seconds)}
        finally:
            if counted and not recorded:  # refused (or crashed): the next tap may record it
                visits.release_call(visit, slug, target.id)
        if recorded:
            outcomes[target.id] = form.outcome.data
            visit.set_calls(slug, {**state, "outcomes": outcomes})
            visits.save(visit)
            return redirect(url_for("letters.calls", slug=slug), 303)
    remaining = [target_id for target_id in queue if target_id not in outcomes]
    if not remaining:
        return render_template(
            "letters/calls_done.html",
            campaign=campaign,
            called=[(by_id[target_id], outcomes[target_id]) for target_id in queue if target_id in outcomes],
            plan=actions.for_visit(campaign, visit),
            visit_form=VisitForm(),
            outcome_labels=CALL_OUTCOME_LABELS,
        )
    target = by_id[remaining[0]]
    script = next(s for s in call_scripts(campaign) if s.fits(target))
    supporter = drafting.Supporter(name=name, email="", zip=zip_code)
    # The words to say are in the office's language; the supporter's own language's version is there to read.
    language = drafting.default_language(script, [target], i18n.current())
    drafts, readable = draft_with_reader(campaign, script, [target], supporter, language)
    text = drafts[0].body
    readable = readable[target.id].body if readable else None
    offices = [o for o in congress.district_offices(target.id) if o.phone] if target.is_legislator else []
    page = render_template(
        "letters/calls.html",
        campaign=campaign,
        target=target,
        number=queue.index(target.id) + 1,
        total=len(queue),
        script=text,
        script_language=language,
        script_in_reader_language=readable,
        offices=offices,
        form=CallOutcomeForm(formdata=None, data={"target": target.id}),
        problem=problem,
    )
    return page, status, headers


CALL_OUTCOME_LABELS = {
    "called": _l("You talked to someone."),
    "voicemail": _l("You left a voicemail."),
    "busy": _l("The line was busy or nobody answered."),
    "skipped": _l("You skipped this office."),
}


def _record_call(campaign: Campaign, target: Target, name: str, zip_code: str, outcome: str):
    """A call the supporter made: the letter (the script) is written and handed off, and their word recorded."""
    script = next(s for s in call_scripts(campaign) if s.fits(target))
    supporter = drafting.Supporter(name=name, email="", zip=zip_code)
    submission = service.send(
        campaign, service.Order(script.slug, (target.id,), CALL, supporter, reader=i18n.current())
    )
    service.confirm(submission.letters[0], outcome)
    return submission
