"""The supporter's pages as a browser walks them (write → the preview → the send step), for tests in several files."""

from __future__ import annotations

import html

from tests.conftest import csrf_token
from tests.support.forms import form_fields
from tests.support.letters import LAUNCH, UN_LETTER

WRITE = f"/c/{LAUNCH}/write"
SEND = f"/c/{LAUNCH}/send"
CALL = f"/c/{LAUNCH}/call"


def text_of(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def write_form(client, supporter, **overrides) -> dict:
    page = client.get(f"{WRITE}?target=ohchr")
    assert page.status_code == 200
    return {
        "csrf_token": csrf_token(page.get_data(as_text=True)),
        "targets": ["ohchr"],
        "template": UN_LETTER,
        **supporter,
        **overrides,
    }


def preview(client, supporter, **overrides):
    """Write → the preview. A valid letter is answered with a redirect to the preview (so reloading it never posts the
    form again); a page with problems is answered at once, with a 422."""
    response = client.post(WRITE, data=write_form(client, supporter, **overrides))
    if response.status_code == 303:
        assert response.headers["Location"].startswith(f"/c/{LAUNCH}/letter/")
        return client.get(response.headers["Location"])
    return response


def send_form(preview_response) -> dict:
    """Everything the preview page's form would submit, as a browser would."""
    return form_fields(preview_response.get_data(as_text=True))


def own_email(mail_server) -> dict[str, list[str]]:
    """The send step's fields for sending from the supporter's own account on `mail_server` (STARTTLS)."""
    settings = mail_server.smtp_settings()
    return {
        "action": ["smtp"],
        "provider": ["other"],
        "smtp_host": [settings["host"]],
        "smtp_port": [str(settings["port"])],
        "smtp_security": ["starttls"],
        "smtp_username": [settings["username"]],
        "smtp_password": [settings["password"]],
    }


def start_calls(client, *targets: str) -> None:
    """The call step's first page as a supporter fills it (the offices chosen, a name): the step-through begins."""
    page = client.get(CALL + "?" + "&".join(f"target={target}" for target in targets))
    fields = form_fields(page.get_data(as_text=True))
    fields["name"] = ["Maria Lopez"]
    assert client.post(CALL, data=fields).status_code == 303
