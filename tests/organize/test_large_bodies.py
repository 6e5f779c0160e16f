"""Request bodies on the workspace's pages: one past the limit is a 413 page that says so, never a 500; the target
import takes a file of as many targets as it imports (2,000), and one larger is a 413 saying what it takes."""

from __future__ import annotations

import html
import io
import re
from urllib.parse import urlencode

from tests.organize.conftest import form_token
from webapp.core.sandbox import BODY_OUTPUT_MAX
from webapp.extensions import db
from webapp.models import Target
from webapp.organize import campaigns
from webapp.organize.target_import import IMPORT_ROWS_MAX


def plain(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def test_a_huge_post_to_any_workspace_page_is_413_not_a_crash(as_organizer, own_campaign):
    url = f"/organize/c/{own_campaign}/"
    refused = as_organizer.post(
        url, data={"csrf_token": form_token(as_organizer, url), "title": "Ask", "summary": "x" * (70 * 1024)}
    )
    assert refused.status_code == 413
    assert "more text than we can take at once" in plain(refused)


def test_the_letter_editor_takes_a_letter_in_any_script(as_organizer, own_campaign):
    """A letter at the longest a letter may be, in a script of three UTF-8 bytes a character (nine once a form
    writes each byte as %XX), is ~180 KB on the wire: the editor answers it (security/bodies.takes_a_letter)
    instead of a 413 that loses the organizer's text."""
    url = f"/organize/c/{own_campaign}/letters/new"
    body = "\u8a9e" * BODY_OUTPUT_MAX
    answer = as_organizer.post(
        url, data={"csrf_token": form_token(as_organizer, url), "name": "Ask", "subject": "Ask", "body": body}
    )
    assert len(urlencode({"body": body})) > 150 * 1024
    assert answer.status_code != 413
    assert answer.status_code < 500


def upload(client, url: str, data: bytes, **fields):
    return client.post(
        url,
        data={"csrf_token": form_token(client, url), "csv_file": (io.BytesIO(data), "targets.csv"), **fields},
        content_type="multipart/form-data",
    )


def fingerprint(response) -> str:
    return response.get_data(as_text=True).split('name="fingerprint" type="hidden" value="')[1].split('"')[0]


def full_file(rows: int) -> str:
    """A realistic export: every row with a title, an organization and a two-line postal address (~200 bytes)."""
    return "id,kind,name,title,organization,email,postal_address\n" + "".join(
        f"office-{n},government,Regional Office {n},Director of Regional Affairs,Department of Examples,"
        f'office{n}@agency.example,"{n} Example Avenue, Suite {n}\nSpringfield, IL 62701"\n'
        for n in range(rows)
    )


def test_a_file_of_as_many_targets_as_an_import_takes_is_previewed_and_applied(app, as_organizer, own_campaign):
    url = f"/organize/c/{own_campaign}/targets/import"
    text = full_file(IMPORT_ROWS_MAX)
    assert len(text.encode()) > 300 * 1024  # far past the 64 KB any other workspace form may be
    preview = upload(as_organizer, url, text.encode(), step="preview")
    assert preview.status_code == 200
    assert f"Apply these {IMPORT_ROWS_MAX} changes" in plain(preview)
    applied = as_organizer.post(  # the confirmation posts the previewed text back, as the page's form does
        url,
        data={
            "csrf_token": form_token(as_organizer, url),
            "csv_text": text,
            "fingerprint": fingerprint(preview),
            "step": "apply",
        },  # fmt: skip
        content_type="multipart/form-data",
    )
    assert applied.status_code == 302
    with app.app_context():
        assert len(campaigns.find_campaign(own_campaign).targets) == IMPORT_ROWS_MAX + 1
        assert (
            db.session.get(Target, "office-1999").postal_address
            == "1999 Example Avenue, Suite 1999\nSpringfield, IL 62701"
        )


def test_a_file_too_large_for_an_import_is_413_saying_what_an_import_takes(app, as_organizer, own_campaign):
    url = f"/organize/c/{own_campaign}/targets/import"
    refused = upload(as_organizer, url, full_file(30_000).encode(), step="preview")
    assert refused.status_code == 413
    assert "2,000 targets" in plain(refused) and "MB" in plain(refused)
    assert "shorten your letter" not in plain(refused)
    with app.app_context():
        assert [t.id for t in campaigns.find_campaign(own_campaign).targets] == ["dana-example"]
