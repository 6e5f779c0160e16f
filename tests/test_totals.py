"""Totals are exact: counted in the letter's own transaction, per target, channel, template and day."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from tests.support.letters import LAUNCH, un_letter
from tests.support.waiting import wait_for
from webapp.extensions import db
from webapp.models import Letter, LetterTally
from webapp.totals import service as totals


def post(client, supporter, channel, smtp=None):
    payload = {
        "campaign": LAUNCH,
        "template": "un-human-rights-office",
        "targets": ["ohchr"],
        "supporter": supporter,
        "channel": channel,
    }
    if smtp:
        payload["smtp"] = smtp
    response = client.post("/api/v1/submissions", json=payload)
    assert response.status_code == 202, response.get_json()
    return response.get_json()["id"]


@pytest.mark.usefixtures("celery_worker")
def test_totals_after_a_mix_of_outcomes(client, supporter, mail_server, runner, app):
    mail_server.script.rcpt = ["550 5.1.1 No such mailbox"]
    ids = [post(client, supporter, "smtp", mail_server.smtp_settings()) for _ in range(3)]
    ids += [post(client, supporter, "mailto") for _ in range(2)]
    ids.append(post(client, supporter, "smtp", mail_server.smtp_settings(password="wrong")))

    def finished():
        views = [client.get(f"/api/v1/submissions/{i}").get_json() for i in ids]
        return all(view["done"] for view in views)

    wait_for(finished, what="all letters to finish")
    result = client.get(f"/api/v1/campaigns/{LAUNCH}/totals").get_json()
    assert result["campaign"] == LAUNCH
    assert result["totals"] == {
        "sent": 2, "handed_off": 2, "failed": 2, "confirmed": 0, "went_out": 2, "shown_only": 2,
    }  # fmt: skip
    ohchr = next(t for t in result["targets"] if t["id"] == "ohchr")
    assert (ohchr["sent"], ohchr["handed_off"], ohchr["failed"]) == (2, 2, 2)
    assert len(mail_server.received) == 2

    with app.app_context():
        by_status = dict(db.session.execute(select(Letter.status, func.count()).group_by(Letter.status)).all())
        assert by_status == {"sent": 2, "handed_off": 2, "failed": 2}
        # The two tallies agree: per target (what pages read) and per template/channel/day (breakdowns).
        from webapp.models import Campaign, TargetTally

        campaign = db.session.scalar(select(Campaign).where(Campaign.slug == LAUNCH))
        per_channel = totals.breakdown(db.session, campaign, "channel")
        assert [tuple(row) for row in per_channel] == [("mailto", 0, 2, 0, 0), ("smtp", 2, 0, 2, 0)]
        assert db.session.scalar(select(func.count()).select_from(TargetTally)) == 1

    output = runner.invoke(args=["totals", LAUNCH]).output
    assert "UN Human Rights Office (OHCHR)" in output
    assert "per channel" in output and "smtp" in output and "mailto" in output
    assert "per day" in output
    lines = [line for line in output.splitlines() if line.startswith("ALL")]
    assert lines and lines[0].split()[1:4] == ["2", "2", "2"]


def test_totals_command_for_unknown_campaign(runner):
    result = runner.invoke(args=["totals", "nope"])
    assert result.exit_code != 0
    assert "No campaign 'nope'" in result.output


def test_concurrent_counting_loses_nothing(app, client, supporter):
    """Many threads bump the same counter at once; the upsert must not lose an increment."""
    letter_id = client.post(
        "/api/v1/submissions",
        json=un_letter(supporter),
    ).get_json()["letters"][0]["id"]
    threads, per_thread = 8, 25
    errors = []

    def bump_many():
        try:
            with app.app_context():
                letter = db.session.get(Letter, letter_id)
                for _ in range(per_thread):
                    totals.bump(db.session, letter, "confirmed")
                    db.session.commit()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    workers = [threading.Thread(target=bump_many) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    with app.app_context():
        confirmed = db.session.scalar(select(func.sum(LetterTally.confirmed)))
    assert confirmed == threads * per_thread


def test_campaign_page_reads_counters_not_letters(app, client, supporter):
    """Totals come from the counter rows: a letter row alone does not count, a counter row alone does."""
    for _ in range(3):
        client.post(
            "/api/v1/submissions",
            json=un_letter(supporter),
        )
    with app.app_context():
        db.session.query(Letter).delete()
        db.session.commit()
    result = client.get(f"/api/v1/campaigns/{LAUNCH}/totals").get_json()
    assert result["totals"]["handed_off"] == 3
