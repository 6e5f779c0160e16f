"""The workspace shows which letters lack a translation, and writes one: checked like the letter, kept as a version."""

from __future__ import annotations

from sqlalchemy import select

from tests.organize.conftest import form_token
from tests.organize.test_templates import GOOD, create
from webapp.extensions import db
from webapp.models import LetterTemplate, TemplateVersion


def test_the_workspace_shows_which_letters_lack_a_translation(app, as_organizer, own_campaign):
    assert create(as_organizer, own_campaign).status_code == 302
    page = as_organizer.get(f"/organize/c/{own_campaign}/letters").get_data(as_text=True)
    assert "No Spanish version yet" in page
    letter_page = as_organizer.get(f"/organize/c/{own_campaign}/letters/ask-dana-to-open-the-records")
    assert "Add a Spanish version" in letter_page.get_data(as_text=True)


def test_a_translation_written_in_the_workspace_is_checked_and_kept(app, as_organizer, own_campaign):
    create(as_organizer, own_campaign)
    url = f"/organize/c/{own_campaign}/letters/ask-dana-to-open-the-records/languages/es"
    broken = {
        "csrf_token": form_token(as_organizer, url),
        "name": "Pídele a Dana que abra los archivos",
        "subject": "Abra los archivos, {{ target.name }}",
        "body": "Hola {{ supporter.nombre }}",
    }
    refused = as_organizer.post(url, data=broken)
    assert refused.status_code == 422
    assert "nombre" in refused.get_data(as_text=True)
    spanish = GOOD.replace("Dear", "Estimada").replace("Please open the records.", "Por favor, abra los archivos.")
    spanish = spanish.replace("Sincerely,", "Atentamente,")
    saved = as_organizer.post(url, data={**broken, "body": spanish, "csrf_token": form_token(as_organizer, url)})
    assert saved.status_code == 302
    with app.app_context():
        template = db.session.scalar(
            select(LetterTemplate).where(LetterTemplate.slug == "ask-dana-to-open-the-records")
        )
        assert template.languages == ["en", "es"] and template.version == 2
        kept = db.session.scalars(select(TemplateVersion).where(TemplateVersion.template_id == template.id)).all()
        assert [v.note for v in sorted(kept, key=lambda v: v.version)] == ["created", "Spanish version"]
    page = as_organizer.get(f"/organize/c/{own_campaign}/letters").get_data(as_text=True)
    assert "No Spanish version yet" not in page and "In English, Spanish" in page
