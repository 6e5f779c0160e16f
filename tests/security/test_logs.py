"""Submission and letter ids are capabilities (whoever has one opens that supporter's letters), so no log line
carries a whole one: not the services' own lines, not Celery's, not gunicorn's access log. Each keeps the first
six characters, enough to follow a letter through the logs."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.conftest import PROJECT
from tests.support.letters import un_letter
from tests.support.waiting import wait_for
from webapp.extensions import db
from webapp.models import Letter
from webapp.operations.logs import redact


def ids_in(text: str, *ids: str) -> list[str]:
    return [value for value in ids if value in text]


def test_ids_are_cut_in_every_shape_they_take():
    submission, letter = "Qh3v-Ab_9xYzLm0pQrStUvWx", "4eaa2a61c0f94b8b9d3e1f2a3b4c5d6e"
    lines = [
        f"submission.created submission={submission} letters=3 channel=smtp",
        f"letter.confirmed submission={submission} letter={letter} outcome=sent",
        f'01/Jul/2026:10:00:00 "GET /s/{submission}/forget" 200 512 3ms',
        f'"POST /api/v1/letters/{letter}/confirm" 200',
        f"Message-ID: <outcry.{letter}@example.org>",
    ]
    for line in lines:
        assert ids_in(redact(line), submission, letter) == [], line
    assert redact(lines[0]) == "submission.created submission=Qh3v-A~ letters=3 channel=smtp"
    # Event names, exception names and Celery's task ids are left alone.
    kept = "organize.login_limits_unavailable error=SSLCertVerificationError id=1b4e28ba-2fa1-11d2-883f-0016d3cca427"
    assert redact(kept) == kept


def test_no_id_in_any_record_of_a_whole_own_email_letter(app, client, supporter, mail_server, celery_worker, caplog):
    caplog.set_level(logging.DEBUG)
    created = client.post("/api/v1/submissions", json=un_letter(supporter, "smtp", smtp=mail_server.smtp_settings()))
    assert created.status_code == 202
    submission, letter = created.get_json()["id"], created.get_json()["letters"][0]["id"]
    with app.app_context():
        wait_for(lambda: db.session.get(Letter, letter, populate_existing=True).status == "sent", what="sending")
    for path in (f"/s/{submission}", f"/api/v1/submissions/{submission}", f"/no-such-page/s/{submission}"):
        client.get(path)
    logging.getLogger("tests.anything").exception("failed for submission=%s", submission, exc_info=KeyError(letter))
    everything = "\n".join(record.getMessage() + "\n" + (record.exc_text or "") for record in caplog.records)
    # The services' own lines are there (the suite's loggers are live: see migrations/env.py), with the ids cut.
    assert f"submission.created submission={submission[:6]}~" in everything
    assert f"letter.sent submission={submission[:6]}~ letter={letter[:6]}~" in everything
    assert ids_in(everything, submission, letter) == []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def compose_access_log_format() -> str:
    compose = yaml.safe_load((PROJECT / "docker-compose.yml").read_text())
    option = next(arg for arg in compose["services"]["web"]["command"] if arg.startswith("--access-logformat="))
    return option.split("=", 1)[1]


def test_gunicorns_access_log_has_no_id(app, tmp_path: Path, supporter):
    """The web service exactly as docker-compose.yml runs it (its access log format), against the suite's
    database and Redis: after a submission and a look at its status page, the access log shows the paths
    with the ids cut."""
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")},
        "SECRET_KEY": app.config["SECRET_KEY"],
        "DATABASE_URL": app.config["DATABASE_URL"],
        "REDIS_URL": app.config["REDIS_URL"],
        "RATELIMIT_ENABLED": "false",
    }
    log = tmp_path / "web.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "webapp:create_app()", "--bind", f"127.0.0.1:{port}",
             "--workers", "1", "--access-logfile", "-", f"--access-logformat={compose_access_log_format()}"],
            cwd=PROJECT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"

        def answers() -> bool:
            try:
                with urllib.request.urlopen(f"{base}/api/v1/campaigns", timeout=5) as response:
                    return response.status == 200
            except OSError:
                assert process.poll() is None, log.read_text()
                return False

        wait_for(answers, timeout=60, interval=0.2, what="gunicorn to answer")
        request = urllib.request.Request(
            f"{base}/api/v1/submissions",
            data=json.dumps(un_letter(supporter)).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            created = json.loads(response.read())
        for path in (f"/s/{created['id']}", f"/api/v1/submissions/{created['id']}"):
            with urllib.request.urlopen(base + path, timeout=10) as response:
                assert response.status == 200
        time.sleep(0.5)  # the access log line is written after the response
    finally:
        process.terminate()
        process.wait(timeout=30)
    text = log.read_text()
    assert f'"GET /s/{created["id"][:6]}~' in text, text[-2000:]
    assert ids_in(text, created["id"], created["letters"][0]["id"]) == [], text[-2000:]


def test_a_failed_render_logs_which_template_and_where_never_the_supporters_words(app, caplog):
    """A template that breaks only for what one supporter typed (so the save check, with its sample supporters,
    passed it): the operator's log line names the template, field and line, and copies none of the letter, the name
    or the address, even when the template's error message quotes them."""
    from webapp.core.rendering import check_template
    from webapp.letters import drafting
    from webapp.letters.errors import SubmissionInvalid
    from webapp.models import Campaign, LetterTemplate, Target

    marker = "Zq7Marker" + os.urandom(4).hex()
    body = "Dear {{ target.name }},\n{% if 'XYZZY' in supporter.note %}{{ target[supporter.note] }}{% endif %}\n"
    body += "{{ supporter.note }}\n{{ supporter.name }}\n{{ supporter.address }}"
    assert check_template("Subject", body) == []  # no sample supporter finds it
    supporter = drafting.Supporter(
        name=f"Name {marker}", email="someone@example.org", zip="94110", address=f"1 {marker} Street",
        note=f"XYZZY my own words {marker}",
    )  # fmt: skip
    caplog.set_level(logging.DEBUG)
    with app.app_context():
        template = db.session.scalar(db.select(LetterTemplate).where(LetterTemplate.slug == "un-human-rights-office"))
        campaign, target = db.session.get(Campaign, template.campaign_id), db.session.get(Target, "ohchr")
        template_id = template.id
        template.body, template.salutation_and_signoff = body, False
        try:
            with pytest.raises(SubmissionInvalid):
                drafting.draft_letters(campaign, template, [target], supporter)
        finally:
            db.session.rollback()
    failed = [record for record in caplog.records if "render_failed" in record.getMessage()]
    assert failed, "the failure was not logged at all"
    assert f"template={template_id}" in failed[0].getMessage()
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert marker not in logged
