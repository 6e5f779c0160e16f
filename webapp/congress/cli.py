"""`flask congress load` (refresh members, ZIPs and offices from files) and `flask congress lookup ZIP`."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from webapp.congress import files as congress_files
from webapp.congress import load as congress_load
from webapp.congress import service

congress_cli = AppGroup("congress", help="Members of Congress and the ZIP lookup data.")

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@congress_cli.command("load")
@click.option("--legislators", type=_FILE, help="legislators-current.csv (default: the bundled file)")
@click.option("--zips", type=_FILE, help="zip_districts.csv (default: the bundled file)")
@click.option("--supplement", type=_FILE, help="zip_state_supplement.csv (default: the bundled file)")
@click.option("--offices", type=_FILE, help="legislators-district-offices.csv (default: the bundled file)")
def load_command(legislators: Path | None, zips: Path | None, supplement: Path | None, offices: Path | None) -> None:
    """Load or refresh Congress data in one transaction and print what changed.

    Members keep their ids, so their totals follow them; members missing from the file stop being offered.
    """
    try:
        report = congress_load.load_congress(legislators=legislators, zips=zips, supplement=supplement, offices=offices)
    except congress_files.CongressDataError as exc:
        raise click.ClickException(f"{exc} Nothing was changed.") from None
    for line in report.lines:
        click.echo(line)


@congress_cli.command("lookup")
@click.argument("zip_code", metavar="ZIP")
def lookup_command(zip_code: str) -> None:
    """Show the members of Congress for a ZIP, as a supporter would get them."""
    try:
        found = service.lookup(zip_code)
    except (service.InvalidZip, service.UnknownZip, service.CongressDataMissing) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"ZIP {found.zip}: {', '.join(found.states)}" + (" (split)" if found.split else ""))
    for target in found.targets:
        seat = service.district_label(target.state, target.district)
        if target.vacant:
            click.echo(f"  {target.role:<22} {seat:<8} VACANT")
        else:
            click.echo(f"  {target.role:<22} {seat:<8} {target.name} ({target.party}) {target.phone or ''}")
    if found.message:
        click.echo(found.message)
