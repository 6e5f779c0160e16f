"""`flask campaigns load/import/export` and `flask totals`: campaigns to and from files, and their counts in the terminal."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from webapp.campaigns.files import CampaignFileError
from webapp.campaigns.service import export_campaign, load_campaigns
from webapp.extensions import db
from webapp.models import Campaign, LetterTemplate
from webapp.totals.service import breakdown, campaign_totals

campaigns_cli = AppGroup("campaigns", help="Campaigns kept as files in letter_templates/.")


@campaigns_cli.command("load")
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Apply folders even if unchanged since they were last loaded.")
def load_command(folder: Path | None, force: bool) -> None:
    """Load (or refresh) every campaign under FOLDER (default: letter_templates/).

    A folder unchanged since it was last loaded is skipped, so changes made in the organizer
    workspace since then stay; --force applies the files anyway.
    """
    _load(folder or Path(current_app.config["LETTER_TEMPLATES_DIR"]), force=force)


@campaigns_cli.command("import")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
def import_command(folder: Path) -> None:
    """Read campaigns back from FOLDER (one campaign folder, or a folder of them), as `export` wrote them.

    Unlike `load`, the files always win: what they say replaces what the workspace holds.
    """
    _load(folder, force=True)


def _load(root: Path, *, force: bool) -> None:
    try:
        report = load_campaigns(root, force=force)
    except CampaignFileError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    for line in report.lines:
        click.echo(line)
    if not report.lines:
        click.echo(f"No campaigns found under {root}.")


@campaigns_cli.command("export")
@click.argument("slug")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
def export_command(slug: str, folder: Path) -> None:
    """Write campaign SLUG to FOLDER/SLUG/ in the letter_templates/ format (`load` and `import` read it back)."""
    campaign = db.session.scalar(select(Campaign).where(Campaign.slug == slug))
    if campaign is None:
        raise click.ClickException(f"No campaign '{slug}'.")
    lines = export_campaign(campaign, folder)
    for line in lines:
        click.echo(line)
    click.echo(f"{slug}: exported to {folder / slug}" + ("" if lines else " (the files were already up to date)"))


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
