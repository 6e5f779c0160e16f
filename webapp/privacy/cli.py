"""`flask privacy purge [--dry-run]` and `flask privacy forget EMAIL`: the operator's erasure commands."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from webapp.privacy import service

privacy_cli = AppGroup("privacy", help="Erase supporters' personal data (counts are kept).")


def _letters(count: int) -> str:
    return f"{count} letter" + ("" if count == 1 else "s")


def _submissions(count: int) -> str:
    return f"{count} submission" + ("" if count == 1 else "s")


@privacy_cli.command("purge")
@click.option("--dry-run", is_flag=True, help="Only show what would be erased.")
@click.option("--days", type=click.IntRange(min=0), default=None, help="Override RETENTION_DAYS for this run.")
def purge_command(dry_run: bool, days: int | None) -> None:
    """Erase personal data of finished submissions older than RETENTION_DAYS (the scheduler does this hourly)."""
    days = current_app.config["RETENTION_DAYS"] if days is None else days
    before = service.cutoff(days=days)
    result = service.purge(dry_run=dry_run, days=days)
    what = f"{_submissions(result.submissions)} ({_letters(result.letters)}) made before {before:%Y-%m-%d %H:%M} UTC"
    if dry_run:
        click.echo(f"Would erase the personal data of {what} (older than {days} days). Nothing was changed.")
    else:
        click.echo(f"Erased the personal data of {what} (older than {days} days).")
    click.echo("Kept: the counts, and per letter its campaign, target, template, channel, status and day.")


@privacy_cli.command("forget")
@click.argument("email")
def forget_command(email: str) -> None:
    """Erase every submission made with EMAIL now, whatever its age (right to erasure); counts are kept."""
    result = service.forget_email(email)
    if not result.submissions:
        if result.sign_ins:
            click.echo(
                f"Deleted {result.sign_ins} unfinished sign-in(s) holding letters not yet sent. Counts are kept."
            )
            return
        click.echo("No personal data is stored for that email address (it may have been erased already).")
        return
    message = f"Erased the personal data of {_submissions(result.submissions)} ({_letters(result.letters)})"
    if result.cancelled:
        message += f"; {_letters(result.cancelled)} still waiting to be sent were cancelled"
    if result.sign_ins:
        message += f"; {result.sign_ins} unfinished sign-in(s) deleted"
    click.echo(message + ". Counts are kept.")
