"""Who may use the workspace: logging in and out (and the page for too many attempts), the organizer's own
account and API tokens, organizers (admins only) and a campaign's team. The rules are webapp/organizers/accounts.py's."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_limiter.errors import RateLimitExceeded
from flask_login import current_user, login_user, logout_user
from wtforms.fields.choices import SelectChoice

from webapp import i18n
from webapp.errors import rate_limited
from webapp.extensions import db
from webapp.organize.forms import (
    ActionForm,
    LoginForm,
    MemberForm,
    OrganizerEditForm,
    OrganizerForm,
    PasswordForm,
    TokenForm,
)
from webapp.organize.views.workspace import admin_only, bp, current_organizer, managed_campaign, url_number
from webapp.organizers import accounts
from webapp.organizers.models import Organizer
from webapp.security import limits

# ---- logging in and out ---------------------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Failed passwords are limited per account and client address (webapp/security/limits.py), never the account
    as a whole: a stranger's guesses elsewhere cannot keep the right password out."""
    if current_user.is_authenticated:
        return redirect(url_for("organize.index"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        logged_in = accounts.log_in(form.email.data or "", form.password.data or "")
        if logged_in is not None:
            organizer, new_tokens = logged_in
            session.clear()  # a fresh session: nothing from before the log-in carries over
            session.permanent = True  # expires after PERMANENT_SESSION_LIFETIME without use
            db.session.commit()
            login_user(organizer)
            for token in new_tokens:
                flash(
                    f"An API token “{token.name}” ({token.prefix}…) was made for your account on "
                    f"{token.created_at:%b %d, %Y at %H:%M} UTC. If that wasn't you, revoke it on your account page "
                    "and change your password.",
                    "error",
                )
            return redirect(i18n.safe_next(request.args.get("next"), url_for("organize.index")))
        form.password.errors = ["That email address and password don't match an organizer account."]
        status = 401
    elif request.method == "POST":
        status = 422
    return render_template("organize/login.html", form=form), status


@bp.errorhandler(RateLimitExceeded)
def too_many_attempts(exc: RateLimitExceeded):
    """The log-in limits answer on the page the organizer was using, the form kept, with when to try again."""
    seconds = limits.retry_after(exc)
    message = limits.explain(exc, seconds)
    headers = {"Retry-After": str(seconds)}
    if request.endpoint == "organize.login":
        form = LoginForm()
        form.password.errors = [message]
        return render_template("organize/login.html", form=form), 429, headers
    if request.endpoint == "organize.account":
        form = PasswordForm()
        form.current.errors = [message]
        return (*_account_page(password_form=form)[:1], 429, headers)
    if request.endpoint == "organize.create_token":
        form = TokenForm()
        form.password.errors = [message]
        return (*_account_page(token_form=form)[:1], 429, headers)
    return rate_limited(exc)


@bp.route("/logout", methods=["POST"])
def logout():
    if ActionForm().validate_on_submit():
        accounts.end_session(current_organizer())  # on the server: a copy of the cookie opens nothing any more
        db.session.commit()
        logout_user()
        session.clear()
        flash("You are logged out.", "info")
    return redirect(url_for("organize.login"))


@bp.route("/c/<slug>/members", methods=["POST"])
def add_member(slug: str):
    admin_only()
    found = managed_campaign(slug)
    form = MemberForm()
    form.email.choices = [SelectChoice(o.email, o.email) for o in accounts.all_organizers()]
    organizer = accounts.find_organizer(form.email.data or "") if form.validate_on_submit() else None
    if organizer is not None and accounts.add_member(found, organizer):
        db.session.commit()
        flash(f"{organizer.email} can now run this campaign.", "ok")
    return redirect(url_for("organize.campaign", slug=slug, _anchor="team"))


@bp.route("/c/<slug>/members/<organizer_id>/delete", methods=["POST"])
def remove_member(slug: str, organizer_id: str):
    organizer_id = url_number(organizer_id)
    admin_only()
    found = managed_campaign(slug)
    organizer = db.session.get(Organizer, organizer_id)
    if ActionForm().validate_on_submit() and organizer is not None and accounts.remove_member(found, organizer):
        db.session.commit()
        flash(f"{organizer.email} no longer runs this campaign.", "ok")
    return redirect(url_for("organize.campaign", slug=slug, _anchor="team"))


# ---- the organizer's own account ------------------------------------------------------------------------------


def _account_page(password_form=None, token_form=None, new_token: str | None = None, status: int = 200):
    return (
        render_template(
            "organize/account.html",
            password_form=password_form or PasswordForm(formdata=None),
            token_form=token_form or TokenForm(formdata=None),
            tokens=accounts.tokens_of(current_organizer()),
            new_token=new_token,
        ),
        status,
    )


@bp.route("/account", methods=["GET", "POST"])
def account():
    if request.method == "GET":
        return _account_page()
    form = PasswordForm()
    organizer = current_organizer()
    if form.validate_on_submit():
        try:
            accounts.change_password(organizer, form.current.data or "", form.new.data or "", form.confirm.data or "")
        except accounts.AccountError as exc:
            form[exc.field or "new"].errors = [str(exc)]
        else:
            db.session.commit()
            login_user(organizer)  # this browser stays logged in, with its new log-in; every other one is out
            flash(
                "Password changed. Any other browser logged in as you has been logged out, and your API tokens "
                "are revoked: make new ones for your scripts.",
                "ok",
            )
            return redirect(url_for("organize.account"))
    return _account_page(password_form=form, status=422)


@bp.route("/account/tokens", methods=["POST"])
def create_token():
    form = TokenForm()
    if not form.validate_on_submit():
        return _account_page(token_form=form, status=422)
    try:
        token = accounts.issue_token_with_password(current_organizer(), form.password.data or "", form.name.data or "")
    except accounts.AccountError as exc:
        form.password.errors = [str(exc)]
        return _account_page(token_form=form, status=403)
    db.session.commit()
    return _account_page(new_token=token)


@bp.route("/account/tokens/<token_id>/revoke", methods=["POST"])
def revoke_token(token_id: str):
    token_id = url_number(token_id)
    if ActionForm().validate_on_submit() and accounts.revoke_token(current_organizer(), token_id):
        db.session.commit()
        flash("Token revoked: it no longer opens the API.", "ok")
    return redirect(url_for("organize.account"))


# ---- organizers (admins) --------------------------------------------------------------------------------------


def _organizers_page(form: OrganizerForm | None = None, created: tuple[str, str] | None = None, status: int = 200):
    campaigns = accounts.managed_campaigns(current_organizer())
    form = form or OrganizerForm(formdata=None)
    form.campaigns.choices = [SelectChoice(c.slug, c.title) for c in campaigns]
    organizers = accounts.all_organizers()
    runs = {o.id: [m.campaign for m in o.memberships] for o in organizers}
    return (
        render_template("organize/organizers.html", form=form, organizers=organizers, runs=runs, created=created),
        status,
    )


@bp.route("/organizers", methods=["GET", "POST"])
def organizers():
    admin_only()
    if request.method == "GET":
        return _organizers_page()
    form = OrganizerForm()
    managed = accounts.managed_campaigns(current_organizer())
    form.campaigns.choices = [SelectChoice(c.slug, c.title) for c in managed]
    if form.validate_on_submit():
        password = accounts.generated_password()
        chosen = set(form.campaigns.data or [])
        try:
            organizer = accounts.create_organizer(
                form.email.data or "", password, form.role.data, [c for c in managed if c.slug in chosen]
            )
        except accounts.AccountError as exc:
            form.email.errors = [str(exc)]
        else:
            db.session.commit()
            return _organizers_page(created=(organizer.email, password))
    return _organizers_page(form, status=422)


@bp.route("/organizers/<organizer_id>", methods=["GET", "POST"])
def organizer(organizer_id: str):
    organizer_id = url_number(organizer_id)
    admin_only()
    found = db.session.get(Organizer, organizer_id)
    if found is None:
        abort(404)
    campaigns = accounts.managed_campaigns(current_organizer())
    form = OrganizerEditForm(obj=found) if request.method == "GET" else OrganizerEditForm()
    form.campaigns.choices = [SelectChoice(c.slug, c.title) for c in campaigns]
    new_password = None
    if request.method == "GET":
        form.campaigns.data = [m.campaign.slug for m in found.memberships]
    elif form.validate_on_submit():
        if request.form.get("action") == "reset":
            new_password = accounts.reset_password(found)
            db.session.commit()
        else:
            try:
                accounts.update_organizer(
                    current_organizer(),
                    found,
                    role=form.role.data,
                    active=bool(form.active.data),
                    runs=set(form.campaigns.data or []),
                )
            except accounts.AccountError as exc:
                flash(str(exc), "error")
            else:
                db.session.commit()
                flash(f"Saved {found.email}.", "ok")
                return redirect(url_for("organize.organizers"))
    return render_template("organize/organizer.html", form=form, organizer=found, new_password=new_password)
