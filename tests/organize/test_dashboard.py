"""The dashboard: figures, the per-target bar chart and per-day line chart (server-rendered SVG, no script),
the breakdowns, the personal-words share, and the CSV exports — the letters one without any personal data."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io

from sqlalchemy import update

from tests.support.letters import LAUNCH
from webapp.campaigns.service import find_campaign
from webapp.extensions import db
from webapp.letters import service as letters
from webapp.models import Letter, LetterTally, Target
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
                letters.Supporter(**{**PERSON, "note": note}),
                channel,
            )
            if days_ago:
                day = dt.date.today() - dt.timedelta(days=days_ago)
                db.session.execute(update(LetterTally).values(day=day).where(LetterTally.day == dt.date.today()))
                db.session.execute(
                    update(Letter)
                    .where(Letter.submission_id == submission.id)
                    .values(created_at=dt.datetime.combine(day, dt.time(12)))
                )
        db.session.commit()


def test_the_dashboard_page_has_figures_charts_tables_and_no_script(app, as_admin):
    seed(app, days_ago=3)  # (moves today's counts: first)
    seed(app, count=2, note="I was separated from my own mother for a year, at six years old, and I still remember it.")
    page = html.unescape(as_admin.get(f"/organize/c/{LAUNCH}/dashboard").get_data(as_text=True))
    assert 'data-figure="letters">3<' in page and 'data-figure="handed_off">3<' in page
    assert (
        '<figure class="chart bar-chart">' in page
        and 'aria-label="UN Human Rights Office (OHCHR): 3 (0 sent, 3 handed off, 0 failed)"' in page
    )
    assert '<figure class="chart line-chart">' in page and "<polyline" in page
    assert "<script>" not in page and "style=" not in page  # the CSP forbids both
    assert "The supporter's mail app (mailto)" in page and "Ask the UN to speak up for separated children" in page


def test_letters_per_day_fill_the_days_without_letters(app):
    seed(app, days_ago=3)
    seed(app, count=2)
    with app.app_context():
        board = dashboard.dashboard(find_campaign(LAUNCH))
        assert [counts.letters for _, counts in board.days] == [1, 0, 0, 2]
        assert board.days[-1][0] == dt.date.today()
        rows = list(csv.DictReader(io.StringIO(dashboard.days_csv(find_campaign(LAUNCH)))))
        assert [row["letters"] for row in rows] == ["1", "0", "0", "2"]


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
    assert rows[0]["status"] == "handed_off" and rows[0]["day"] == dt.date.today().isoformat()


def test_totals_csv_cells_cannot_become_spreadsheet_formulas(app):
    with app.app_context():
        target = db.session.get(Target, "ohchr")
        target.name = '=HYPERLINK("http://evil")'
        db.session.commit()
        text = dashboard.totals_csv(find_campaign(LAUNCH))
        target.name = "UN Human Rights Office (OHCHR)"
        db.session.commit()
    assert "'=HYPERLINK" in text


def test_the_bar_chart_scales_bars_to_the_largest_total():
    chart = charts.bar_chart(
        [
            charts.Bar("A & B", (charts.Segment("sent", 30, "sent"), charts.Segment("handed_off", 10, "handed off"))),
            charts.Bar("<C>", (charts.Segment("sent", 10, "sent"),)),
        ],
        title="t",
    )
    assert 'class="series-sent" x="0" width="750"' in chart and 'class="series-handed_off" x="750" width="250"' in chart
    assert 'class="series-sent" x="0" width="250"' in chart
    assert "A &amp; B" in chart and "&lt;C&gt;" in chart and "<C>" not in chart


def test_the_line_chart_axis_is_round():
    assert [charts.axis_top(n) for n in (0, 1, 3, 4, 9, 11, 37, 101, 4999)] == [2, 2, 4, 4, 10, 20, 40, 200, 5000]
    chart = charts.line_chart({"letters": [(dt.date(2026, 6, 1), 0), (dt.date(2026, 6, 2), 4)]}, title="t")
    assert 'points="0,200 1000,0"' in chart and "<span>Jun 1</span>" in chart and "<span>Jun 2</span>" in chart
