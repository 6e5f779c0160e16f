"""The organizer's live preview when no render process can start: the problem is said beside their text (the
editor keeps it), as the save check says it, never a 500 or an error page in place of the editor's answer."""

from __future__ import annotations

from tests.organize.conftest import form_token
from webapp.core import rendering


def test_the_live_preview_says_the_renderer_is_unavailable(as_organizer, own_campaign, monkeypatch, tmp_path):
    token = form_token(as_organizer, f"/organize/c/{own_campaign}/letters/new")
    monkeypatch.setattr(rendering, "SANDBOX_SCRIPT", tmp_path / "missing.py")
    monkeypatch.setattr(rendering, "_pool", None)
    payload = {"subject": "S", "body": "Please reunite them.\n{{ supporter.note }}", "target": "dana-example",
               "with_note": True, "channels": ["mailto"], "target_ids": ["dana-example"]}  # fmt: skip
    answer = as_organizer.post(
        f"/organize/c/{own_campaign}/letters/preview", json=payload, headers={"X-CSRFToken": token}
    )
    assert answer.status_code == 200
    messages = [problem["message"] for problem in answer.get_json()["problems"]]
    assert messages == [rendering.unavailable_problem().message]
