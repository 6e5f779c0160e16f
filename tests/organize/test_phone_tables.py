"""The workspace's tables on a phone: each row becomes a small block whose cells are named by their column (the
stylesheet prints a cell's data-label before it), so every cell under a named column must carry that name."""

from __future__ import annotations

from html.parser import HTMLParser

from tests.organize.test_dashboard import seed
from tests.organize.test_targets import CSV, post
from tests.support.letters import LAUNCH


class Tables(HTMLParser):
    """Each table.totals as its column names and, for every body row, the cells' (column, data-label) pairs."""

    def __init__(self):
        super().__init__()
        self.tables: list[dict] = []
        self.depth = 0  # inside a table.totals, how many tables deep
        self.cell: dict | None = None
        self.hidden = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            if self.depth or "totals" in (attrs.get("class") or "").split():
                self.depth += 1
                if self.depth == 1:
                    self.tables.append({"columns": [], "rows": [], "section": None})
            return
        if not self.depth:
            return
        table = self.tables[-1]
        if tag in ("thead", "tbody"):
            table["section"] = tag
        elif tag == "tr" and table["section"] == "tbody":
            table["rows"].append([])
        elif tag in ("th", "td"):
            self.cell = {"tag": tag, "label": attrs.get("data-label"), "colspan": "colspan" in attrs, "text": ""}
        elif tag == "span" and "visually-hidden" in (attrs.get("class") or ""):
            self.hidden += 1

    def handle_endtag(self, tag):
        if not self.depth:
            return
        if tag == "table":
            self.depth -= 1
            return
        table = self.tables[-1]
        if tag in ("th", "td") and self.cell is not None:
            if table["section"] == "thead":
                table["columns"].append("" if self.hidden else self.cell["text"].strip())
                self.hidden = 0
            elif table["rows"]:
                table["rows"][-1].append(self.cell)
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell["text"] += data


def unnamed_cells(page: str) -> list[tuple[str, str]]:
    """(column, what the cell says) for every data cell under a named column that a phone would show unnamed."""
    parser = Tables()
    parser.feed(page)
    assert parser.tables, "no table.totals on the page"
    missing = []
    for table in parser.tables:
        for row in table["rows"]:
            if any(cell["colspan"] for cell in row):
                continue  # "Nothing yet."
            for column, cell in zip(table["columns"], row, strict=True):
                if cell["tag"] == "td" and column and cell["label"] != column:
                    missing.append((column, cell["text"].strip()))
    return missing


def test_every_count_in_the_workspace_tables_is_named_on_a_phone(app, as_admin):
    seed(app)  # a letter, so the dashboard and the targets page have rows of counts
    for url in (f"/organize/c/{LAUNCH}/dashboard", f"/organize/c/{LAUNCH}/targets", "/organize/organizers"):
        page = as_admin.get(url).get_data(as_text=True)
        assert unnamed_cells(page) == [], url


def test_the_import_preview_names_its_cells_on_a_phone(as_organizer, own_campaign):
    url = f"/organize/c/{own_campaign}/targets/import"
    page = post(as_organizer, url, url, csv_text=CSV, step="preview").get_data(as_text=True)
    assert unnamed_cells(page) == []
