"""Letters in several languages: the file format and its checks, the loader and the versions it keeps, the API
(languages named, a submission's language), the workspace's translations, and a Spanish letter delivered through
the real SMTP server with its accents intact in the bytes that arrive."""

from __future__ import annotations

import email
import email.header
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import PROJECT
from tests.support.letters import LAUNCH, un_letter
from tests.support.waiting import wait_for
from webapp.campaigns import files
from webapp.campaigns.service import load_campaigns
from webapp.extensions import db
from webapp.models import LetterTemplate, Submission, TemplateVersion

LAUNCH_DIR = PROJECT / "letter_templates" / LAUNCH
SPANISH_SUBJECT = "Niños separados de sus padres en la frontera de Estados Unidos"


def copy_campaign(tmp_path: Path) -> Path:
    folder = tmp_path / LAUNCH
    shutil.copytree(LAUNCH_DIR, folder)
    return folder


# ---- the files ----------------------------------------------------------------------------------------------


def test_the_launch_campaign_ships_its_letters_and_call_scripts_in_spanish():
    spec = files.read_campaign(LAUNCH_DIR)
    for template in spec.templates:
        assert template.language == "en"
        assert "es" in template.translations, f"{template.slug} has no Spanish version"
        spanish = template.translations["es"]
        assert spanish["name"] != template.name and spanish["subject"] != template.subject
        # Written in Spanish: no English sentence left behind, and Spanish letters' own openings and closings
        assert not re.search(r"\b(Dear|Sincerely|the|and|please)\b", spanish["body"], re.IGNORECASE), template.slug
    un = next(t for t in spec.templates if t.slug == "un-human-rights-office").translations["es"]
    assert un["subject"] == SPANISH_SUBJECT
    assert un["body"].startswith("Señoras y señores:") and "Respetuosamente," in un["body"]
    assert next(t for t in spec.targets if t["id"] == "ohchr")["languages"] == ["en", "es", "fr"]


def test_a_translation_is_checked_like_the_letter(tmp_path):
    folder = copy_campaign(tmp_path)
    version = folder / "letters" / "un-human-rights-office.es.txt"
    version.write_text(version.read_text(encoding="utf-8").replace("{{ supporter.name }}", "{{ suporter.name }}"))
    with pytest.raises(files.CampaignFileError, match=r"un-human-rights-office\.es\.txt: .*'suporter'"):
        files.read_campaign(folder)
    version.write_text(version.read_text(encoding="utf-8").replace("{% if supporter.note %}", "{% if false %}"))
    with pytest.raises(files.CampaignFileError, match="es.txt"):
        files.read_campaign(folder)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("subject: Niños =?utf-8?q?separados?=", "Spanish: The subject contains '=?'"),
        ('name: "Oficina\\u202e de derechos"', "Spanish: The name must be a single line"),
    ],
)
def test_a_translations_name_and_subject_follow_the_letters_rules(tmp_path, line, problem):
    folder = copy_campaign(tmp_path)
    version = folder / "letters" / "un-human-rights-office.es.txt"
    key = line.partition(":")[0]
    text = version.read_text(encoding="utf-8")
    version.write_text(re.sub(rf"^{key}:.*$", lambda _: line, text, count=1, flags=re.M), encoding="utf-8")
    with pytest.raises(files.CampaignFileError, match=rf"un-human-rights-office\.es\.txt: {re.escape(problem)}"):
        files.read_campaign(folder)


@pytest.mark.parametrize(
    "name,text,problem",
    [
        ("un-human-rights-office.es.txt", "---\nname: x\nsubject: y\nchannels: [smtp]\n---\nHola\n", "belong in"),
        ("un-human-rights-office.ES.txt", "---\nname: x\nsubject: y\n---\n{{ supporter.note }}\n", "language"),
        ("un-human-rights-office.en.txt", "---\nname: x\nsubject: y\n---\n{{ supporter.note }}\n", "already in en"),
        ("no-such-letter.es.txt", "---\nname: x\nsubject: y\n---\n{{ supporter.note }}\n", "which is missing"),
        ("un-human-rights-office.fr.txt", "---\nname: x\n---\n{{ supporter.note }}\n", "'subject' is missing"),
    ],
)
def test_translation_files_that_cannot_be_read_are_refused_by_name(tmp_path, name, text, problem):
    folder = copy_campaign(tmp_path)
    (folder / "letters" / name).write_text(text, encoding="utf-8")
    with pytest.raises(files.CampaignFileError, match=problem):
        files.read_campaign(folder)


def test_export_writes_the_translations_back_and_reads_back_equal(app, tmp_path):
    from webapp.campaigns.service import export_campaign, find_campaign

    with app.app_context():
        written = export_campaign(find_campaign(LAUNCH), tmp_path)
    assert any(line.endswith("un-human-rights-office.es.txt") for line in written)
    again = files.read_campaign(tmp_path / LAUNCH)
    original = files.read_campaign(LAUNCH_DIR)
    assert {t.slug: t.translations for t in again.templates} == {t.slug: t.translations for t in original.templates}
    assert next(t for t in again.targets if t["id"] == "ohchr")["languages"] == ["en", "es", "fr"]


def test_a_changed_translation_is_a_new_version_kept_with_it(app, tmp_path):
    folder = copy_campaign(tmp_path)
    version = folder / "letters" / "un-human-rights-office.es.txt"
    with app.app_context():
        template = db.session.scalar(select(LetterTemplate).where(LetterTemplate.slug == "un-human-rights-office"))
        before = template.version
        version.write_text(version.read_text(encoding="utf-8").replace("Señoras y señores:", "Estimada Oficina:"))
        report = load_campaigns(folder)
        db.session.commit()
        assert any("un-human-rights-office (translations" in line for line in report.lines), report.lines
        db.session.refresh(template)
        assert template.version == before + 1
        assert template.translations["es"]["body"].startswith("Estimada Oficina:")
        kept = db.session.scalar(
            select(TemplateVersion).where(
                TemplateVersion.template_id == template.id, TemplateVersion.version == before + 1
            )
        )
        assert kept.translations["es"]["body"].startswith("Estimada Oficina:")
        load_campaigns(LAUNCH_DIR, force=True)  # back as the files say, for the other tests
        db.session.commit()


# ---- the API ------------------------------------------------------------------------------------------------


def test_the_campaign_answer_names_each_letters_languages(client):
    answer = client.get(f"/api/v1/campaigns/{LAUNCH}").get_json()
    un = next(t for t in answer["templates"] if t["slug"] == "un-human-rights-office")
    assert un["language"] == "en" and un["languages"] == ["en", "es"]
    assert un["versions"]["es"]["subject"] == SPANISH_SUBJECT
    ohchr = next(t for t in answer["targets"] if t["id"] == "ohchr")
    assert ohchr["languages"] == ["en", "es", "fr"]
    spec = client.get("/api/v1/openapi.json").get_json()
    request = spec["components"]["schemas"]["SubmissionRequest"]["properties"]
    assert "language" in request and "languages" in str(request["language"]["description"])


def test_a_submission_names_its_language(client, supporter):
    answer = client.post("/api/v1/submissions", json=un_letter(supporter, language="es"))
    assert answer.status_code == 202, answer.get_json()
    view = answer.get_json()
    assert view["language"] == "es"
    letter = view["letters"][0]
    assert letter["subject"] == SPANISH_SUBJECT
    assert letter["body"].startswith("Señoras y señores:")
    assert "My grandmother crossed this border" in letter["body"]  # the supporter's own words, as they wrote them
    # Left out: the letter's own language
    english = client.post("/api/v1/submissions", json=un_letter(supporter)).get_json()
    assert english["language"] == "en" and english["letters"][0]["body"].startswith("Dear ")


def test_a_language_the_letter_lacks_is_a_field_error_in_the_readers_language(client, supporter):
    answer = client.post(
        "/api/v1/submissions", json=un_letter(supporter, language="de"), headers={"Accept-Language": "es"}
    )
    assert answer.status_code == 422
    assert answer.get_json()["errors"]["language"] == ["Esta carta se puede enviar en: en (inglés), es (español)."]


# ---- delivered in Spanish through the real SMTP server ----------------------------------------------------------


@pytest.mark.usefixtures("celery_worker")
def test_a_spanish_letter_arrives_with_its_accents_intact(client, supporter, mail_server, app):
    supporter = {
        **supporter,
        "name": "María José Núñez",
        "note": "Mi abuela cruzó esta frontera con mi mamá en brazos.",
    }
    payload = un_letter(supporter, channel="smtp", language="es", smtp=mail_server.smtp_settings())
    created = client.post("/api/v1/submissions", json=payload)
    assert created.status_code == 202, created.get_json()
    submission_id = created.get_json()["id"]

    def done():
        view = client.get(f"/api/v1/submissions/{submission_id}").get_json()
        return view if view["done"] else None

    view = wait_for(done, timeout=30, what="the Spanish letter to be sent")
    assert view["letters"][0]["status"] == "sent", view
    assert len(mail_server.received) == 1
    raw = mail_server.received[0].data
    head, _, body_bytes = raw.partition(b"\r\n\r\n")
    # Headers travel as ASCII: the subject and the sender's name as RFC 2047 encoded words in UTF-8
    assert all(byte < 128 for byte in head), head
    subject_line = re.search(rb"^Subject: ([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", head, re.M).group(1).decode("ascii")
    assert "=?utf-8?" in subject_line.lower()
    decoded = str(email.header.make_header(email.header.decode_header(subject_line.replace("\r\n", ""))))
    assert decoded == SPANISH_SUBJECT
    assert re.search(rb"^From: =\?utf-8\?", head, re.M | re.I)
    message = mail_server.received[0].message
    assert str(message["From"]) == "María José Núñez <supporter@example.org>"
    assert message.get_content_charset() == "utf-8"
    assert message["Content-Transfer-Encoding"] in ("8bit", "quoted-printable", "base64")
    if message["Content-Transfer-Encoding"] == "8bit":
        assert "Señoras y señores:".encode() in body_bytes  # the accents as UTF-8 bytes on the wire
    body = message.get_content()
    assert body.startswith("Señoras y señores:\n\nLes escribo para pedir a la Oficina del Alto Comisionado")
    assert "Mi abuela cruzó esta frontera con mi mamá en brazos." in body
    assert "Respetuosamente,\nMaría José Núñez" in body
    with app.app_context():
        assert db.session.get(Submission, submission_id).language == "es"


# ---- the campaign's own words ----------------------------------------------------------------------------------


def test_the_campaign_page_reads_in_spanish_where_the_files_translate_it(client):
    html = client.get(f"/c/{LAUNCH}", headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert "<h1>Que reúnan a las familias separadas en la frontera</h1>" in html
    assert "Ya estamos en marcha." in html and "Novedad, 29 de noviembre de 2026:" in html
    assert "Busca abogados voluntarios para los niños" in html
    assert "Todavía no conocemos una dirección de correo pública de la señora Novakovic" in html
    english = client.get(f"/c/{LAUNCH}", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "<h1>Reunite families separated at the border</h1>" in english and "Update, November 29, 2026:" in english


@pytest.mark.parametrize(
    "translations,problem",
    [
        (
            "translations:\n  es:\n    updates:\n      2020-01-01: Hola\n",
            "not the date of one of the campaign's updates",
        ),
        (
            "translations:\n  es:\n    resources:\n      Nobody: Hola\n",
            "not the name of one of the campaign's resources",
        ),
        ("translations:\n  es:\n    slogan: Hola\n", "nothing else"),
        ("translations:\n  Español:\n    title: Hola\n", "language code"),
    ],
)
def test_campaign_translations_that_name_nothing_are_refused(tmp_path, translations, problem):
    folder = copy_campaign(tmp_path)
    yaml_file = folder / "campaign.yaml"
    text = yaml_file.read_text(encoding="utf-8")
    yaml_file.write_text(text[: text.index("translations:")] + translations, encoding="utf-8")
    with pytest.raises(files.CampaignFileError, match=problem):
        files.read_campaign(folder)


def test_a_printed_spanish_letter_is_dated_and_headed_in_spanish(client, supporter):
    payload = un_letter(
        supporter,
        channel="print",
        language="es",
        template="general-dynamics-open-the-doors",
        targets=["general-dynamics-ceo"],
    )
    answer = client.post("/api/v1/submissions", json=payload)
    assert answer.status_code == 202, answer.get_json()
    created = answer.get_json()
    page = client.get(created["letters"][0]["print_url"], headers={"Accept-Language": "en"})
    html = page.get_data(as_text=True)
    assert '<article class="printed-letter"' in html and 'lang="es"' in html
    # the letter's words in the letter's language…
    assert "Asunto: Abran las puertas de los albergues que General Dynamics gestiona para niños migrantes" in html
    assert "Estimada señora Novakovic:" in html
    assert re.search(r'<p class="date">\d{1,2} de \w+ de \d{4}</p>', html)
    assert "Print this letter" in html  # …and the page around it in the reader's
