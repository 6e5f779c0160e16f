"""`flask organizers …`: create organizers, reset passwords, issue API tokens, give access to campaigns."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from webapp.extensions import db
from webapp.organize.campaigns import find_campaign
from webapp.organizers import accounts
from webapp.organizers.models import ROLES

organizers_cli = AppGroup("organizers", help="Organizer accounts for the workspace at /organize and the organizer API.")


def _find(email: str):
    organizer = accounts.find_organizer(email)
    if organizer is None:
        raise click.ClickException(
            f"No organizer with the email {email}. Create one with `flask organizers create {email}`."
        )
    return organizer


def _prompt_password() -> str:
    return click.prompt(
        f"Password (at least {accounts.PASSWORD_MIN} characters)", hide_input=True, confirmation_prompt=True
    )


@organizers_cli.command("create")
@click.argument("email")
@click.option(
    "--role",
    type=click.Choice(ROLES),
    default="organizer",
    show_default=True,
    help="admin: manages organizers and every campaign; organizer: the campaigns they are members of.",
)
@click.option("--campaign", "campaigns", multiple=True, metavar="SLUG", help="A campaign they run (repeat for more).")
def create_command(email: str, role: str, campaigns: tuple[str, ...]) -> None:
    """Create an organizer; asks for their password."""
    found = []
    for slug in campaigns:
        campaign = find_campaign(slug)
        if campaign is None:
            raise click.ClickException(f"No campaign '{slug}'.")
        found.append(campaign)
    password = _prompt_password()
    try:
        organizer = accounts.create_organizer(email, password, role, found)
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    runs = f", running {', '.join(c.slug for c in found)}" if found else ""
    click.echo(f"Created {role} {organizer.email}{runs}. They log in at /organize/login.")


@organizers_cli.command("reset-password")
@click.argument("email")
def reset_password_command(email: str) -> None:
    """Set a new password (asks for it); every browser logged in as them is logged out."""
    organizer = _find(email)
    password = _prompt_password()
    try:
        accounts.set_password(organizer, password)
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"New password set for {organizer.email}; their other sessions are logged out.")


@organizers_cli.command("token")
@click.argument("email")
@click.option("--name", default="", help="What the token is for, to recognise it later.")
def token_command(email: str, name: str) -> None:
    """Issue an API token for the organizer API. It is shown once and stored only as a hash."""
    organizer = _find(email)
    token, _record = accounts.issue_token(organizer, name or "made with flask organizers token")
    db.session.commit()
    click.echo(token)
    click.echo("Keep it safe: it is shown only this once. Send it as 'Authorization: Bearer <token>'.", err=True)


@organizers_cli.command("grant")
@click.argument("email")
@click.argument("slug")
def grant_command(email: str, slug: str) -> None:
    """Let an organizer run campaign SLUG."""
    organizer = _find(email)
    campaign = find_campaign(slug)
    if campaign is None:
        raise click.ClickException(f"No campaign '{slug}'.")
    added = accounts.add_member(campaign, organizer)
    db.session.commit()
    click.echo(f"{organizer.email} {'can now run' if added else 'already runs'} {slug}.")


@organizers_cli.command("list")
def list_command() -> None:
    """Every organizer, their role and the campaigns they run."""
    for organizer in accounts.all_organizers():
        runs = ", ".join(m.campaign.slug for m in organizer.memberships) or (
            "every campaign" if organizer.is_admin else "-"
        )
        state = "" if organizer.active else " (cannot log in)"
        click.echo(f"{organizer.email:<40} {organizer.role:<10} {runs}{state}")
