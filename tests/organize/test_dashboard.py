"""The dashboard: figures, the per-target bar chart and per-day line chart (server-rendered SVG, no script),
the breakdowns, the personal-words share, and the CSV exports — the letters one without any personal data."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re

import pytest
from flask import render_template_string
from sqlalchemy import update

from tests.support.letters import LAUNCH, un_letter
from tests.support.waiting import wait_for
from webapp.campaigns.service import find_campaign
from webapp.extensions import db
from webapp.letters import drafting
from webapp.letters import service as letters
from webapp.models import Letter, LetterTally, Target, utcnow
from webapp.organize import charts, dashboard

PERSON = dict(name="Private Person", email="private@example.org", zip="94110", address="1 Secret Lane", note="")


def seed(app, *, days_ago: int = 0, count: int = 1, channel: str = "mailto", note: str = "") -> None:
    with app.app_context():
        campaign = find_campaign(LAUNCH)
        letter = next(t for t in campaign.templates if t.slug == "un-human-rights-office")
        for _ in range(count):
            submission = letters.submit(
                campaign,
                letter,
                [db.session.get(Target, "ohchr")],
                drafting.Supporter(**{**PERSON, "note": note}),
                channel,
            )
            if days_ago:
                day = utcnow().date() - dt.timedelta(days=days_ago)
                db.session.execute(update(LetterTally).values(day=day).where(LetterTally.day == utcnow().date()))
                db.session.execute(
                    update(Letter)
                    .where(Letter.submission_id == submission.id)
                    .values(created_at=dt.datetime.combine(day, dt.time(12)))
                )
        db.session.commit()


def test_the_dashboard_page_has_figures_charts_tables_and_no_script(app, as_admin):
    seed(app, days_ago=3)  # (moves today's counts: first)
    seed(app, count=2, note="I was separated from my own mother for a year, at six years old, and I still remember it.")
    raw = as_admin.get(f"/organize/c/{LAUNCH}/dashboard").get_data(as_text=True)
    page = html.unescape(raw)
    assert 'data-figure="went_out">0<' in page and 'data-figure="shown_only">3<' in page
    assert (
        '<figure class="chart bar-chart">' in page
        and 'aria-label="UN Human Rights Office (OHCHR): 0 went out (0 sent, 0 confirmed, 3 shown, not confirmed)"'
        in page
    )
    assert '<figure class="chart line-chart">' in page and "<polyline" in page
    # The CSP forbids both (the embed snippet's own style attribute is text in a textarea, for another site).
    assert "<script>" not in raw and not re.search(r"<[a-z][^<>]*\sstyle=", raw)
    assert "The supporter's mail app (mailto)" in page and "Ask the UN to speak up for separated children" in page


def test_letters_per_day_fill_the_days_without_letters(app):
    seed(app, days_ago=3)
    seed(app, count=2)
    with app.app_context():
        board = dashboard.dashboard(find_campaign(LAUNCH))
        assert [counts.handed_off for _, counts in board.days] == [1, 0, 0, 2]
        assert board.days[-1][0] == utcnow().date()
        rows = list(csv.DictReader(io.StringIO(dashboard.days_csv(find_campaign(LAUNCH)))))
        assert [row["handed_off"] for row in rows] == ["1", "0", "0", "2"]


def test_the_personal_words_share_is_the_average_of_letters_that_went_out(app):
    seed(app, note="")
    seed(app, note="My father was deported when I was nine and we did not see him again for seven long years.")
    with app.app_context():
        board = dashboard.dashboard(find_campaign(LAUNCH))
        shares = [letter.personal_share for letter in db.session.query(Letter).all()]
        assert board.personal_letters == 2
        assert abs(board.personal_share - sum(shares) / 2) < 1e-9 and board.personal_share > 0


def test_the_letters_csv_has_nothing_personal_and_no_letter_ids(app, as_admin):
    seed(app, count=2, note="my secret words")
    response = as_admin.get(f"/organize/c/{LAUNCH}/export/letters.csv")
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    body = response.get_data(as_text=True)
    for private in ("Private Person", "private@example.org", "Secret Lane", "my secret words", "94110", "Dear "):
        assert private not in body
    with app.app_context():
        for letter in db.session.query(Letter).all():
            assert letter.id not in body and letter.submission_id not in body
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == 2
    assert rows[0]["target_id"] == "ohchr" and rows[0]["template"] == "un-human-rights-office"
    assert rows[0]["status"] == "handed_off" and rows[0]["day"] == utcnow().date().isoformat()


def test_totals_csv_cells_cannot_become_spreadsheet_formulas(app):
    with app.app_context():
        target = db.session.get(Target, "ohchr")
        target.name = '=HYPERLINK("http://evil")'
        db.session.commit()
        text = dashboard.totals_csv(find_campaign(LAUNCH))
        target.name = "UN Human Rights Office (OHCHR)"
        db.session.commit()
    assert "'=HYPERLINK" in text


def drawn(app, macro: str, chart) -> str:
    """The chart as the dashboard's template draws it (templates/organize/charts.html)."""
    with app.test_request_context():
        return render_template_string(
            f'{{% from "organize/charts.html" import {macro} %}}{{{{ {macro}(chart) }}}}', chart=chart
        )


def test_the_bar_chart_scales_bars_to_the_largest_total(app):
    chart = drawn(
        app,
        "bar_chart",
        charts.bar_chart(
            [
                charts.Bar(
                    "A & B", (charts.Segment("sent", 30, "sent"), charts.Segment("handed_off", 10, "handed off"))
                ),
                charts.Bar("<C>", (charts.Segment("sent", 10, "sent"),)),
            ],
            title="t",
        ),
    )
    assert 'class="series-sent" x="0" width="750"' in chart and 'class="series-handed_off" x="750" width="250"' in chart
    assert 'class="series-sent" x="0" width="250"' in chart
    assert "A &amp; B" in chart and "&lt;C&gt;" in chart and "<C>" not in chart


def test_the_line_chart_axis_is_round(app):
    assert [charts.axis_top(n) for n in (0, 1, 3, 4, 9, 11, 37, 101, 4999)] == [2, 2, 4, 4, 10, 20, 40, 200, 5000]
    chart = drawn(
        app,
        "line_chart",
        charts.line_chart({"went-out": [(dt.date(2026, 6, 1), 0), (dt.date(2026, 6, 2), 4)]}, title="t"),
    )
    assert 'points="0,200 1000,0"' in chart and "<span>Jun 1</span>" in chart and "<span>Jun 2</span>" in chart


def _cells(row_html: str) -> dict[str, int]:
    return {name: int(value) for name, value in re.findall(r'data-count="(\w+)">(\d+)<', row_html)}


@pytest.mark.usefixtures("celery_worker")
def test_quoted_counts_are_letters_that_went_out_and_the_bars_agree_with_the_table(
    app, as_admin, client, supporter, mail_server
):
    """3 hand-off pages shown (1 confirmed), 1 letter accepted by the supporter's server, 1 refused with 550:
    2 letters went out, and that is the number on the public page, the dashboard's top card and the bar."""
    mail_server.script.rcpt = ["550 5.1.1 No such mailbox"]
    smtp = [client.post("/api/v1/submissions", json=un_letter(supporter, "smtp", smtp=mail_server.smtp_settings()))]
    smtp.append(client.post("/api/v1/submissions", json=un_letter(supporter, "smtp", smtp=mail_server.smtp_settings())))
    shown = [client.post("/api/v1/submissions", json=un_letter(supporter)).get_json() for _ in range(3)]
    confirmed = client.post(f"/api/v1/letters/{shown[0]['letters'][0]['id']}/confirm", json={"outcome": "sent"})
    assert confirmed.status_code == 200
    wait_for(
        lambda: all(client.get(f"/api/v1/submissions/{r.get_json()['id']}").get_json()["done"] for r in smtp),
        what="both own-email letters to finish",
    )

    totals = client.get(f"/api/v1/campaigns/{LAUNCH}/totals").get_json()["totals"]
    assert totals == {"sent": 1, "handed_off": 3, "failed": 1, "confirmed": 1, "went_out": 2, "shown_only": 2}
    public = html.unescape(client.get(f"/c/{LAUNCH}").get_data(as_text=True))
    assert re.search(r'Letters and calls that went out: <strong data-total="went_out">2</strong>', public)
    assert 'sent them: <span data-total="shown_only">2</span> more' in public

    page = html.unescape(as_admin.get(f"/organize/c/{LAUNCH}/dashboard").get_data(as_text=True))
    assert 'data-figure="went_out">2<' in page and 'data-figure="shown_only">2<' in page
    assert 'data-figure="failed">1<' in page
    per_target = page.split('id="per-target"')[1].split("</section>")[0]
    table_rows = {
        name: _cells(row) for name, row in re.findall(r'<tr><th scope="row">([^<]+)</th>(.*?)</tr>', per_target)
    }
    bars = re.findall(
        r'<span class="bar-label">([^<]+)</span><span><span class="bar-total">(\d+)</span>(.*?)</div>.*?'
        r'aria-label="[^"]*\((\d+) sent, (\d+) confirmed, (\d+) shown, not confirmed\)"',
        per_target,
    )
    assert bars, per_target
    for name, total, extra, sent, confirmed, shown_only in bars:  # every bar says what its table row says
        row = table_rows[name]
        assert int(total) == row["went_out"] == row["sent"] + row["confirmed"]
        assert (int(sent), int(confirmed), int(shown_only)) == (row["sent"], row["confirmed"], row["shown_only"])
        assert ("shown, not confirmed" in extra) == (row["shown_only"] > 0)
    assert table_rows["UN Human Rights Office (OHCHR)"] == {
        "went_out": 2, "sent": 1, "confirmed": 1, "shown_only": 2, "failed": 1,
    }  # fmt: skip
    assert "failed" not in "".join(re.findall(r'<svg class="bar".*?</svg>', per_target))  # failures reached nobody

    organizer_index = html.unescape(as_admin.get("/organize/").get_data(as_text=True))
    assert "Went out: <strong>2</strong> (sent by email: 1, hand-offs confirmed: 1)" in organizer_index
