"""`flask letters check`: validate letter templates with the same check the editor and the tests use."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from webapp.campaigns.files import CampaignFileError, read_all

letters_cli = AppGroup("letters", help="Letters and letter templates.")


@letters_cli.command("check")
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
def check_command(folder: Path | None) -> None:
    """Check every campaign and letter template under FOLDER (default: letter_templates/)."""
    root = folder or Path(current_app.config["LETTER_TEMPLATES_DIR"])
    try:
        specs = read_all(root)
    except CampaignFileError as exc:
        raise click.ClickException(str(exc)) from None
    for spec in specs:
        click.echo(f"{spec.slug}: {len(spec.templates)} letters OK")
