"""Operator commands: `flask config show`, `flask mail test`, `flask letters requeue`, `flask letters stuck`."""

from __future__ import annotations

import os

import click
from email_validator import EmailNotValidError, validate_email
from flask import current_app
from flask.cli import AppGroup

from webapp import outbox
from webapp.delivery.credentials import SECURITY_CHOICES, SmtpAccount
from webapp.delivery.smtp import DeliveryError
from webapp.delivery.ssrf import RefusedHost
from webapp.letters.cli import letters_cli  # `flask letters …` is one group, shared with `letters check`
from webapp.models import utcnow
from webapp.operations import service
from webapp.operations.service import duration

config_cli = AppGroup("config", help="The settings Outcry runs with.")
mail_cli = AppGroup("mail", help="Trying the path letters take through a mail server.")

# Where `flask mail test` reads the password from when it is not typed at the prompt.
PASSWORD_VARIABLE = "SMTP_PASSWORD"  # noqa: S105 - the name of a variable, not a password


@config_cli.command("show")
def config_show_command() -> None:
    """Every setting in force and where it came from; secrets are never shown."""
    shown = service.settings_in_force(current_app.config, os.environ)
    width = max(len(setting.name) for setting in shown)
    for setting in shown:
        source = "" if setting.source == "not set" else f"  [{setting.source}]"
        click.echo(f"{setting.name:<{width}}  {setting.value}{source}")


def _address(value: str, what: str) -> str:
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise click.BadParameter(str(exc), param_hint=what) from None


@mail_cli.command("test")
@click.argument("address")
@click.option("--smtp-host", required=True, help="The mail server to send through.")
@click.option("--smtp-port", type=int, default=587, show_default=True)
@click.option("--security", type=click.Choice(SECURITY_CHOICES), default="starttls", show_default=True)
@click.option("--username", help="Login name [default: the --from address].")
@click.option("--from", "sender", help="Sender address [default: the user name].")
def mail_test_command(
    address: str, smtp_host: str, smtp_port: int, security: str, username: str | None, sender: str | None
) -> None:
    """Send one test letter to ADDRESS through a mail server, as a worker sends a supporter's letter.

    The password is read from the SMTP_PASSWORD environment variable, or asked for without echo; it is
    never an argument, so it stays out of shell history and process lists.
    """
    recipient = _address(address, "ADDRESS")
    if not (username or sender):
        raise click.UsageError("Give --username or --from (the account's address).")
    sender = _address(sender or username or "", "--from")
    username = username or sender
    password = os.environ.get(PASSWORD_VARIABLE) or click.prompt(f"Password for {username}", hide_input=True)
    account = SmtpAccount(host=smtp_host, port=smtp_port, security=security, username=username, password=password)
    try:
        message_id = service.send_test_letter(account, sender, recipient)
    except (RefusedHost, DeliveryError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"Sent a test letter to {recipient} through {smtp_host}:{smtp_port} ({security}); Message-ID {message_id}"
    )


@letters_cli.command("requeue")
@click.option("--older-than", type=click.FloatRange(min=0), default=0, metavar="SECONDS", show_default=True,
              help="Only letters written at least this long ago.")  # fmt: skip
@click.option("--include-sending", is_flag=True,
              help="Also take back letters a worker holds right now (only if that worker is surely gone: "
                   "a letter it is still sending could go out twice).")  # fmt: skip
def requeue_command(older_than: float, include_sending: bool) -> None:
    """Queue unfinished own-email letters again now, without waiting for their lease or retry time."""
    count, submission_ids = outbox.requeue(older_than, include_sending=include_sending)
    refused = service.queue_deliveries(submission_ids)
    click.echo(f"{count} letters of {len(submission_ids)} submissions queued again.")
    if refused:
        raise click.ClickException(
            f"The queue (Redis) refused {len(refused)} of the {len(submission_ids)} delivery tasks; "
            "the sweeper queues those letters once it can reach it."
        )


@letters_cli.command("stuck")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Letters to list.")
@click.option("--older-than", type=click.FloatRange(min=0), default=0, metavar="SECONDS", show_default=True,
              help="Only letters written at least this long ago.")  # fmt: skip
def stuck_command(limit: int, older_than: float) -> None:
    """Letters not yet sent, failed or handed off, oldest first, and what each is waiting for."""
    report = service.stuck(limit=limit, older_than=older_than)
    total = sum(report.counts.values())
    workers = "unknown (Redis unreachable)" if report.workers is None else str(report.workers)
    if not total:
        click.echo(f"Every letter is finished. Workers alive: {workers}.")
        return
    by_status = ", ".join(f"{status} {count}" for status, count in sorted(report.counts.items()))
    click.echo(
        f"{total} letters unfinished ({by_status}); oldest {duration(report.oldest_seconds or 0)}; "
        f"workers alive: {workers}."
    )
    now = utcnow()
    click.echo(f"{'letter':<32}  {'submission':<24}  {'status':<7}  tries  {'age':>4}  why")
    for letter in report.letters:
        click.echo(
            f"{letter.id:<32}  {letter.submission_id:<24}  {letter.status:<7}  {letter.attempts:>5}  "
            f"{duration(letter.age(now)):>4}  {letter.why(now, report.workers)}"
        )
    if total > len(report.letters):
        click.echo(f"… and {total - len(report.letters)} more (--limit).")
