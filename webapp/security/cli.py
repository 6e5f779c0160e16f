"""`flask limits lift SLUG`: raise a campaign's rate limits for a planned push, for a set time."""

from __future__ import annotations

import datetime as dt

import click
from flask import current_app
from flask.cli import AppGroup

from webapp.extensions import db
from webapp.models import Campaign, utcnow
from webapp.security import limits

limits_cli = AppGroup("limits", help="Rate limits.")


@limits_cli.command("lift")
@click.argument("slug")
@click.option(
    "--hours",
    type=click.FloatRange(min=0, min_open=True),
    default=24.0,
    show_default=True,
    help="How long the lift lasts.",
)
@click.option("--end", is_flag=True, help="End a lift now.")
def lift_command(slug: str, hours: float, end: bool) -> None:
    """Raise SLUG's per-address and per-target limits by RATELIMIT_LIFT_FACTOR for a while."""
    campaign = db.session.scalar(db.select(Campaign).where(Campaign.slug == slug))
    if campaign is None:
        raise click.ClickException(f"No campaign '{slug}'.")
    if end:
        limits.lift(campaign, None)
        db.session.commit()
        click.echo(f"{slug}: normal limits again.")
        return
    until = utcnow() + dt.timedelta(hours=hours)
    limits.lift(campaign, until)
    db.session.commit()
    factor = current_app.config["RATELIMIT_LIFT_FACTOR"]
    click.echo(f"{slug}: limits per address and per target raised {factor}-fold until {until:%Y-%m-%d %H:%M} UTC.")
