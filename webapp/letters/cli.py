"""`flask letters check`: validate letter templates and campaigns with the same checks the workspace and the tests
use (every template compiles and renders; a published campaign passes the publish check)."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from webapp.campaigns.checks import spec_problems
from webapp.campaigns.files import CampaignFileError, read_all

letters_cli = AppGroup("letters", help="Letters and letter templates.")


@letters_cli.command("check")
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
def check_command(folder: Path | None) -> None:
    """Check every campaign and letter template under FOLDER (default: letter_templates/).

    A published campaign must also pass the publish check (no target without a way to reach them, a summary,
    a link for every resource); a draft's problems are listed without failing.
    """
    root = folder or Path(current_app.config["LETTER_TEMPLATES_DIR"])
    try:
        specs = read_all(root)
    except CampaignFileError as exc:
        raise click.ClickException(str(exc)) from None
    refused = []
    for spec in specs:
        problems = spec_problems(spec)
        if not problems:
            click.echo(f"{spec.slug}: {len(spec.templates)} letters OK")
        elif spec.published:
            refused.append(spec.slug)
            click.echo(f"{spec.slug}: can't be published as it is:")
        else:
            click.echo(f"{spec.slug}: {len(spec.templates)} letters OK; a draft that can't be published yet:")
        for problem in problems:
            click.echo(f"  - {problem}")
    if refused:
        raise click.ClickException(f"{', '.join(refused)}: published in the files, but fix the problems above first.")
