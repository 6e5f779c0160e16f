"""Request bodies on the workspace's pages: one past the limit is a 413 page that says so, never a 500."""

from __future__ import annotations

import html
import re

from tests.organize.conftest import form_token


def plain(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def test_a_huge_post_to_any_workspace_page_is_413_not_a_crash(as_organizer, own_campaign):
    url = f"/organize/c/{own_campaign}/letters/new"
    refused = as_organizer.post(
        url, data={"csrf_token": form_token(as_organizer, url), "name": "Ask", "body": "x" * (70 * 1024)}
    )
    assert refused.status_code == 413
    assert "64 KB" in plain(refused)
