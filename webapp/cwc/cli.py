"""`flask cwc check`: whether Communicating with Congress is configured, and whether every member's message validates."""

from __future__ import annotations

import datetime as dt

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from webapp.cwc import message, service
from webapp.extensions import db
from webapp.models import LEGISLATOR_KINDS, Target

cwc_cli = AppGroup("cwc", help="Letters delivered to Congress through Communicating with Congress (CWC).")

SAMPLE_AGENT = message.Agent(
    "Sample Delivery Agent", "acks@example.org", "Sample Contact", "contact@example.org", "202-555-0100"
)


@cwc_cli.command("check")
def check_command() -> None:
    """Say whether CWC is on, which grammar checks messages, and build and check a sample message for every member.

    Nothing is sent. Run it after changing the CWC_ settings, dropping in another grammar (CWC_GRAMMAR), or
    `flask congress load`: it names any member without an office code or whose message the grammar refuses.
    """
    config = current_app.config
    if service.enabled():
        click.echo(f"CWC: on, as delivery agent {config['CWC_DELIVERY_AGENT']!r}")
        click.echo(f"  House (and Senate, unless set apart): {config['CWC_API_URL']}")
        if config.get("CWC_SENATE_API_URL"):
            click.echo(f"  Senate: {config['CWC_SENATE_API_URL']}")
    else:
        click.echo("CWC: off (set every CWC_ setting in .env.example to deliver letters to Congress through it)")
    grammar = service.grammar_path()
    click.echo(
        f"grammar: {grammar or message.GRAMMAR} ({'set by CWC_GRAMMAR' if grammar else 'bundled, written by Outcry'})"
    )
    agent = service.agent() if service.enabled() else SAMPLE_AGENT
    person = message.Constituent(
        "Ms.", "Sample", "Constituent", "1 Main St", "", "Anytown", "", "", "sample@example.org"
    )
    members = db.session.scalars(select(Target).where(Target.kind.in_(LEGISLATOR_KINDS), Target.active)).all()
    bad = 0
    for target in members:
        office = service.office_code(target)
        if office is None:
            click.echo(f"  {target.display_name} ({target.id}): no office code (run `flask congress load`)")
            bad += 1
            continue
        letter = message.Letter("0" * 32, dt.date.today(), "0" * 32, office, "Sample", ("Immigration",), "Sample.")
        sample = message.Constituent(**{**person.__dict__, "state": target.state, "zip": "00000"})
        problems = message.problems(message.build(agent, sample, letter), grammar)
        if problems:
            click.echo(f"  {target.display_name} ({office}): {problems[0]}")
            bad += 1
    click.echo(f"members: {len(members)}, messages that validate: {len(members) - bad}")
    if bad:
        raise SystemExit(1)
