"""`flask campaigns load` and `flask totals`: campaigns from files, and their counts in the terminal."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from webapp.campaigns.files import CampaignFileError
from webapp.campaigns.service import load_campaigns
from webapp.extensions import db
from webapp.models import Campaign, LetterTemplate
from webapp.totals.service import breakdown, campaign_totals

campaigns_cli = AppGroup("campaigns", help="Campaigns kept as files in letter_templates/.")


@campaigns_cli.command("load")
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
def load_command(folder: Path | None) -> None:
    """Load (or refresh) every campaign under FOLDER (default: letter_templates/)."""
    root = folder or Path(current_app.config["LETTER_TEMPLATES_DIR"])
    try:
        report = load_campaigns(root)
    except CampaignFileError as exc:
        raise click.ClickException(str(exc)) from None
    for line in report.lines:
        click.echo(line)
    if not report.lines:
        click.echo(f"No campaigns found under {root}.")


@click.command("totals")
@click.argument("campaign")
@with_appcontext
def totals_command(campaign: str) -> None:
    """Print a campaign's totals per target, channel, letter and day."""
    found = db.session.scalar(select(Campaign).where(Campaign.slug == campaign))
    if found is None:
        raise click.ClickException(f"No campaign '{campaign}'.")
    result = campaign_totals(db.session, found)
    columns = list(result.totals.as_dict())
    header = f"{'':<40}" + "".join(f"{name:>12}" for name in columns)

    def row(label: str, values) -> str:
        return f"{label[:40]:<40}" + "".join(f"{value:>12}" for value in values)

    click.echo(f"{found.title} ({found.slug})")
    click.echo(header)
    click.echo(row("ALL", result.totals.as_dict().values()))
    click.echo("\nper target")
    for target in result.targets:
        click.echo(row(target.name, target.as_dict().values()))
    names = dict(db.session.execute(select(LetterTemplate.id, LetterTemplate.slug)).all())
    for title, by, label in (
        ("per channel", "channel", str),
        ("per letter", "template_id", lambda v: names.get(v, str(v))),
        ("per day", "day", str),
    ):
        rows = breakdown(db.session, found, by)
        if rows:
            click.echo(f"\n{title}")
            for key, *values in rows:
                click.echo(row(label(key), values))
