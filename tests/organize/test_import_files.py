"""What spreadsheets save and what organizers paste, at the target import: UTF-8 with or without its mark, UTF-16
("Unicode Text"), Windows-1252 (saying so), commas, semicolons or tabs; a file that is no CSV is refused beside the
file field, never read as mojibake."""

from __future__ import annotations

import pytest

from tests.organize.conftest import form_token
from tests.organize.test_large_bodies import plain, upload

NAMES = "id,kind,name,title\nmunoz,person,José Muñoz,Señor Director\nlopez,person,Ana López,Jefa de Gabinete\n"


@pytest.mark.parametrize(
    ("data", "note"),
    [
        (NAMES.encode("utf-8"), None),
        (b"\xef\xbb\xbf" + NAMES.encode("utf-8"), None),  # Excel's "CSV UTF-8"
        (NAMES.replace(",", "\t").encode("utf-16"), None),  # Excel's "Unicode Text": UTF-16 with tabs
        (NAMES.encode("cp1252"), "Windows-1252"),  # Excel's plain "CSV" on Windows
        (NAMES.replace(",", ";").encode("cp1252"), "Windows-1252"),  # … where the comma is decimal (es, fr, de)
    ],
    ids=["utf-8", "utf-8 with BOM", "utf-16 tab-separated", "windows-1252", "windows-1252 semicolons"],
)
def test_what_excel_saves_is_read_with_its_accents(as_organizer, own_campaign, data, note):
    url = f"/organize/c/{own_campaign}/targets/import"
    page = plain(upload(as_organizer, url, data, step="preview"))
    assert "José Muñoz" in page and "Señor Director" in page and "Ana López" in page
    assert "Apply these 2 changes" in page
    assert "\ufffd" not in page
    assert (note in page) if note else ("read as" not in page)


def test_cells_pasted_from_a_spreadsheet_are_read_as_columns(as_organizer, own_campaign):
    """Copying cells from a spreadsheet and pasting them gives tab-separated text."""
    url = f"/organize/c/{own_campaign}/targets/import"
    response = as_organizer.post(
        url, data={"csrf_token": form_token(as_organizer, url), "csv_text": NAMES.replace(",", "\t"), "step": "preview"}
    )
    page = plain(response)
    assert "José Muñoz" in page and "Apply these 2 changes" in page
    assert "not target fields" not in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(256)) * 4, "an Excel workbook"),
        (bytes(range(256)) * 8, "not a CSV"),
    ],
    ids=["xlsx", "binary"],
)
def test_a_file_that_is_no_csv_is_refused_next_to_the_file(as_organizer, own_campaign, data, message):
    url = f"/organize/c/{own_campaign}/targets/import"
    response = upload(as_organizer, url, data, step="preview")
    assert response.status_code == 422
    assert message in plain(response)
    assert "Apply these" not in plain(response)


def test_a_header_cell_past_the_csv_readers_limit_is_explained_not_a_crash(as_organizer, own_campaign):
    """csv refuses a cell over 128 KB; the header row is read first, and it was read outside the check (a 500)."""
    url = f"/organize/c/{own_campaign}/targets/import"
    page = plain(upload(as_organizer, url, ("name" + "x" * 140_000 + ",id\nDana,dana\n").encode(), step="preview"))
    assert "The file is not valid CSV: field larger than field limit" in page
