"""Members of Congress by ZIP: the lookup API, the service functions, the cache and `flask congress load`."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import event, select, update

from webapp.congress import files as congress_files
from webapp.congress import load as congress_load
from webapp.congress import service
from webapp.congress.models import CongressDataset, DistrictOffice, ZipDistrict
from webapp.extensions import db
from webapp.models import Campaign, LetterTally, Target

DATA = congress_files.DATA_DIR
FAKE_ID = "Z999999"  # a member invented by the refresh tests, deleted again afterwards


@pytest.fixture(scope="module", autouse=True)
def congress(app):
    with app.app_context():
        congress_load.ensure_loaded()
    yield
    with app.app_context():
        _restore_bundled()


def _restore_bundled() -> None:
    """Tests share one database: put the bundled data back, and drop the invented member."""
    congress_load.load_congress()
    fake = db.session.get(Target, FAKE_ID)
    if fake is not None:
        db.session.execute(DistrictOffice.__table__.delete().where(DistrictOffice.target_id == FAKE_ID))
        db.session.delete(fake)
        db.session.commit()


@pytest.fixture
def restore(app):
    """For tests that change the data: the bundled files are loaded again afterwards, pass or fail."""
    yield
    with app.app_context():
        _restore_bundled()


def get(client, zip_code: str):
    return client.get("/api/v1/congress", query_string={"zip": zip_code})


def names(body: dict, kind: str | None = None) -> list[str]:
    return [t["last_name"] for t in body["targets"] if not t["vacant"] and (kind is None or t["kind"] == kind)]


# ---------------------------------------------------------------- lookups, as the API answers them


def test_san_francisco_gets_two_senators_and_pelosi(client):
    response = get(client, "94110")
    assert response.status_code == 200
    body = response.get_json()
    assert body["zip"] == "94110"
    assert body["states"] == ["CA"]
    assert body["split"] is False
    assert body["district_unknown"] is False
    assert body["districts"] == [{"state": "CA", "district": 11}]
    assert names(body, "senator") == ["Padilla", "Schiff"]
    assert names(body, "representative") == ["Pelosi"]
    padilla = body["targets"][0]
    assert padilla == {
        "id": "P000145",
        "kind": "senator",
        "role": "Senator",
        "name": "Alex Padilla",
        "first_name": "Alejandro",
        "last_name": "Padilla",
        "party": "Democrat",
        "state": "CA",
        "district": None,
        "phone": "202-224-3553",
        "website": "https://www.padilla.senate.gov",
        "contact_form": "https://www.padilla.senate.gov/contact/",
        "office_address": "331 Hart Senate Office Building\nWashington, DC 20510",
        "channels": ["contact_form", "call", "print"],
        "vacant": False,
    }
    pelosi = body["targets"][2]
    assert (pelosi["id"], pelosi["district"], pelosi["contact_form"]) == ("P000197", 11, None)
    # House members' forms live on their websites: the contact-form channel falls back to it.
    assert pelosi["website"] == "https://pelosi.house.gov"
    assert pelosi["channels"] == ["contact_form", "call", "print"]
    assert "smtp" not in str(body) and "mailto" not in str(body)


def test_split_zip_offers_every_candidate(client):
    body = get(client, "10001").get_json()
    assert body["split"] is True
    assert body["districts"] == [{"state": "NY", "district": 10}, {"state": "NY", "district": 12}]
    assert names(body, "senator") == ["Schumer", "Gillibrand"]
    assert names(body, "representative") == ["Goldman", "Nadler"]
    assert "spans 2 districts (NY-10, NY-12)" in body["message"]
    assert service.FIND_REPRESENTATIVE_URL in body["message"]


def test_zip_across_a_state_line_offers_both_states(client):
    body = get(client, "30165").get_json()
    assert body["states"] == ["AL", "GA"]
    assert body["split"] is True
    assert body["districts"] == [{"state": "AL", "district": 3}, {"state": "GA", "district": 14}]
    senators = [(t["state"], t["last_name"]) for t in body["targets"] if t["kind"] == "senator"]
    assert sorted(senators) == [("AL", "Britt"), ("AL", "Tuberville"), ("GA", "Ossoff"), ("GA", "Warnock")]
    assert [(t["state"], t["district"], t["last_name"]) for t in body["targets"] if t["kind"] == "representative"] == [
        ("AL", 3, "Rogers"),
        ("GA", 14, "Fuller"),
    ]
    assert "crosses a state line (AL and GA)" in body["message"]


def test_washington_dc_has_its_delegate_and_no_senators(client):
    body = get(client, "20001").get_json()
    assert body["states"] == ["DC"]
    assert [(t["kind"], t["name"]) for t in body["targets"]] == [("delegate", "Eleanor Holmes Norton")]
    assert "no senators" in body["message"]


def test_puerto_rico_has_its_resident_commissioner(client):
    body = get(client, "00601").get_json()
    assert body["states"] == ["PR"]
    [member] = body["targets"]
    assert (member["kind"], member["role"], member["name"]) == (
        "delegate",
        "Resident Commissioner",
        "Pablo José Hernández",
    )
    assert "Resident Commissioner" in body["message"]


def test_montana(client):
    body = get(client, "59001").get_json()
    assert names(body, "senator") == ["Daines", "Sheehy"]
    assert [(t["last_name"], t["district"]) for t in body["targets"] if t["kind"] == "representative"] == [
        ("Downing", 2)
    ]


def test_guam_comes_from_the_supplement(client):
    body = get(client, "96910").get_json()
    assert body["states"] == ["GU"]
    assert body["district_unknown"] is False
    assert [(t["kind"], t["last_name"]) for t in body["targets"]] == [("delegate", "Moylan")]


def test_po_box_zip_gives_the_senators_and_says_the_district_is_unknown(client):
    body = get(client, "10008").get_json()
    assert body["states"] == ["NY"]
    assert body["district_unknown"] is True
    assert body["districts"] == []
    assert body["split"] is False
    assert names(body) == ["Schumer", "Gillibrand"]
    assert "PO box" in body["message"] and "House district" in body["message"]


@pytest.mark.parametrize(
    ("zip_code", "state", "district"),
    [("94541", "CA", 14), ("33313", "FL", 20), ("30017", "GA", 13), ("78001", "TX", 23)],
)
def test_vacant_seat_is_shown_as_vacant(client, zip_code, state, district):
    body = get(client, zip_code).get_json()
    assert len(names(body, "senator")) == 2
    [seat] = [t for t in body["targets"] if t["kind"] == "representative"]
    assert seat["vacant"] is True
    assert (seat["id"], seat["state"], seat["district"], seat["channels"]) == (None, state, district, [])
    assert f"{state}-{district} is vacant" in body["message"]


@pytest.mark.parametrize("raw", ["94110-1234", "941101234", " 94110 "])
def test_zip_plus_four_is_accepted(client, raw):
    body = get(client, raw).get_json()
    assert body["zip"] == "94110"
    assert "Pelosi" in names(body)


@pytest.mark.parametrize("raw", ["9411", "abcde", "94110-12", "", "941101"])
def test_malformed_zip_is_422_with_a_field_message(client, raw):
    response = get(client, raw)
    assert response.status_code == 422
    assert response.get_json() == {"errors": {"zip": ["Enter a 5-digit ZIP code, like 94110 or 94110-1234."]}}


def test_missing_zip_parameter_is_422(client):
    response = client.get("/api/v1/congress")
    assert response.status_code == 422
    assert "zip" in response.get_json()["errors"]


def test_unknown_zip_is_404_json(client):
    response = get(client, "00000")
    assert response.status_code == 404
    body = response.get_json()
    assert body["status"] == 404
    assert "We don't know ZIP code 00000" in body["error"]


# ---------------------------------------------------------------- the service functions the letter flow uses


def test_legislators_for_zip_returns_the_target_rows(ctx):
    targets = service.legislators_for_zip("10001-0001")
    assert [t.id for t in targets] == ["S000148", "G000555", "G000599", "N000002"]
    assert all(isinstance(t, Target) and t.active and t.is_legislator for t in targets)
    assert service.legislators_for_zip("94541")[-1].last_name == "Schiff"  # CA-14 vacant: senators only
    with pytest.raises(service.InvalidZip):
        service.legislators_for_zip("941")
    with pytest.raises(service.UnknownZip):
        service.legislators_for_zip("00000")


def test_allowed_legislator_ids(ctx):
    assert service.allowed_legislator_ids("94110") == {"P000145", "S001150", "P000197"}
    assert "S000148" not in service.allowed_legislator_ids("94110")  # a New York senator is not yours
    assert service.allowed_legislator_ids("00000") == frozenset()
    assert service.allowed_legislator_ids("nope") == frozenset()


def test_district_offices_have_addresses_and_phones(ctx):
    offices = service.district_offices("P000197")
    assert offices, "Pelosi's San Francisco office is in the data"
    office = offices[0]
    assert office.target_id == "P000197" and office.city == "San Francisco" and office.phone
    assert office.postal_address == "90 7th St., Suite 2-800\nSan Francisco, CA 94103"
    assert service.district_offices("nobody") == []
    # Offices without a street address still take calls, but are not offered for printed letters.
    no_street = db.session.scalar(select(DistrictOffice.target_id).where(DistrictOffice.address == ""))
    assert any(o.postal_address is None and o.phone for o in service.district_offices(no_street))


def test_targets_are_stored_for_the_letter_code(ctx):
    pelosi = db.session.get(Target, "P000197")
    assert (pelosi.kind, pelosi.title, pelosi.salutation, pelosi.email) == (
        "representative",
        "Representative",
        "",
        None,
    )
    assert (pelosi.state, pelosi.district, pelosi.active) == ("CA", 11, True)
    assert pelosi.postal_address == "1236 Longworth House Office Building\nWashington, DC 20515-0511"
    padilla = db.session.get(Target, "P000145")
    assert padilla.district is None
    assert padilla.extra["senate_class"] == 3 and padilla.extra["state_rank"] == "senior"
    assert padilla.extra["nickname"] == "Alex"
    assert db.session.get(Target, "H001103").extra["role"] == "Resident Commissioner"
    assert db.session.get(Target, "S000033").extra["caucus"] == "Democrat"
    kinds = db.session.execute(
        select(Target.kind, db.func.count()).where(Target.active.is_(True)).group_by(Target.kind)
    )
    assert {kind: n for kind, n in kinds if kind in ("senator", "representative", "delegate")} == {
        "senator": 100,
        "representative": 431,
        "delegate": 6,
    }
    # A member with no published contact details yet says so, and offers no channel.
    gallagher = db.session.get(Target, "G000607")
    assert gallagher.channels == [] and "no office contact details" in gallagher.note


def test_ensure_loaded_does_nothing_the_second_time(ctx):
    assert congress_load.ensure_loaded() is False


def test_cache_and_database_give_the_same_answers(ctx):
    for zip_code in ("94110", "10001", "30165", "20001", "00601", "96910", "10008", "94541", "59001", "05401"):
        assert service.lookup(zip_code) == service.lookup_from_database(zip_code)


# ---------------------------------------------------------------- the cache


def test_warm_lookups_do_not_touch_the_database(app, ctx):
    service.lookup("94110")  # warm
    statements = []

    def count(*args, **kwargs):
        statements.append(args[2])

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        for zip_code in ("94110", "10001", "20001", "10008", "30165") * 20:
            service.lookup(zip_code)
        service.district_offices("P000197")
        service.allowed_legislator_ids("10001")
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert statements == []


def test_another_process_loading_new_data_is_noticed(app, ctx, restore):
    """A refresh in another process only changes the database; this process sees it at its next check."""
    cache = service.get_cache()
    service.lookup("94110")
    cache.check_every = 3600.0
    db.session.execute(update(Target).where(Target.id == "P000197").values(phone="202-555-0100"))
    db.session.execute(update(CongressDataset).values(version="from-another-process"))
    db.session.commit()
    try:
        assert service.lookup("94110").targets[2].phone == "202-225-4965"  # not checked yet: still cached
        cache.check_every = 0.0
        assert service.lookup("94110").targets[2].phone == "202-555-0100"
    finally:
        cache.check_every = service.DEFAULT_CHECK_SECONDS


def test_nothing_loaded_is_503(app, client, monkeypatch):
    """What a process sees before the first load: the version row is missing, so its snapshot is empty."""
    with app.app_context():
        cache = service.get_cache()
    monkeypatch.setattr(service._Snapshot, "read", classmethod(lambda cls, engine: cls(None, {}, {}, {}, {}, {})))
    cache.invalidate()
    try:
        response = get(client, "94110")
        assert response.status_code == 503
        assert response.get_json()["status"] == 503
        assert response.headers["Retry-After"] == "60"  # the minute the message asks for, for a client that waits
    finally:
        monkeypatch.undo()
        cache.invalidate()
    assert get(client, "94110").status_code == 200


# ---------------------------------------------------------------- `flask congress load`


def _read(name: str) -> tuple[list[str], list[dict[str, str]]]:
    with (DATA / name).open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def _write(path: Path, fields: list[str], rows: list[dict[str, str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _tally(target_id: str, handed_off: int) -> None:
    campaign = db.session.scalar(select(Campaign).limit(1))
    db.session.add(
        LetterTally(
            campaign_id=campaign.id,
            target_id=target_id,
            template_id=campaign.templates[0].id,
            channel="print",
            day=dt.date(2026, 6, 20),
            handed_off=handed_off,
        )
    )
    db.session.commit()


def test_refresh_adds_updates_and_retires_members_keeping_their_ids_and_totals(app, runner, client, tmp_path, restore):
    with app.app_context():
        _tally("P000197", 7)
    fields, rows = _read("legislators-current.csv")
    newer = []
    for row in rows:
        if row["bioguide_id"] == "P000197":
            continue  # Pelosi leaves office
        if row["bioguide_id"] == "S001150":
            row = {**row, "phone": "202-224-0000"}  # Schiff's office gets a new number
        newer.append(row)
    newer.append(
        {
            **dict.fromkeys(fields, ""),
            "bioguide_id": FAKE_ID,
            "first_name": "Jordan",
            "last_name": "Example",
            "full_name": "Jordan Example",
            "chamber": "house",
            "party": "Democrat",
            "state": "TX",
            "district": "23",
            "website": "https://example.house.gov",
            "phone": "202-225-0023",
            "office_address": "1 Cannon House Office Building Washington DC 20515-4323",
        }  # fmt: skip
    )
    legislators = _write(tmp_path / "legislators-current.csv", fields, newer)

    result = runner.invoke(args=["congress", "load", "--legislators", str(legislators)])
    assert result.exit_code == 0, result.output
    assert "legislators: 1 added, 1 removed, 1 updated" in result.output
    assert "added: Jordan Example (Representative, D-TX-23, Z999999)" in result.output
    assert "removed (left office): Nancy Pelosi (Representative, D-CA-11, P000197)" in result.output
    assert "updated: Adam B. Schiff (Senator, D-CA, S001150): phone" in result.output
    assert "ZIP rows: 0 added, 0 removed" in result.output

    # The supporter sees the change at once: CA-11 vacant, Schiff's new number, TX-23 filled.
    body = get(client, "94110").get_json()
    assert [t["phone"] for t in body["targets"] if t["last_name"] == "Schiff"] == ["202-224-0000"]
    [seat] = [t for t in body["targets"] if t["kind"] == "representative"]
    assert seat["vacant"] is True and seat["district"] == 11
    body = get(client, "78001").get_json()
    [member] = [t for t in body["targets"] if t["kind"] == "representative"]
    assert (member["id"], member["vacant"]) == (FAKE_ID, False)

    with app.app_context():
        pelosi = db.session.get(Target, "P000197")
        assert pelosi is not None and pelosi.active is False  # retired, never deleted
        assert "P000197" not in service.allowed_legislator_ids("94110")
        tally = db.session.scalar(select(LetterTally).where(LetterTally.target_id == "P000197"))
        assert tally.handed_off == 7  # her totals stay

    again = runner.invoke(args=["congress", "load", "--legislators", str(legislators)])
    assert again.exit_code == 0, again.output
    assert "no changes" in again.output
    assert "added" not in again.output

    # Back to the bundled file: she returns under the same id, with the same totals.
    back = runner.invoke(args=["congress", "load"])
    assert "added (back in office): Nancy Pelosi (Representative, D-CA-11, P000197)" in back.output
    assert "removed (left office): Jordan Example" in back.output
    with app.app_context():
        assert db.session.get(Target, "P000197").active is True
        assert db.session.scalar(select(LetterTally.handed_off).where(LetterTally.target_id == "P000197")) == 7
    assert "Pelosi" in names(get(client, "94110").get_json())


def test_refresh_of_zips_supplement_and_offices(app, runner, client, tmp_path, restore):
    fields, rows = _read("zip_districts.csv")
    rows = [row for row in rows if row["zip"] != "59001"] + [{"zip": "59001", "state": "MT", "district": "1"}]
    zips = _write(tmp_path / "zips.csv", fields, rows)
    fields, rows = _read("zip_state_supplement.csv")
    rows = [*rows, {"zip": "99999", "state": "AK", "district": "0", "zip_type": "PO BOX"}]
    supplement = _write(tmp_path / "supplement.csv", fields, rows)
    fields, rows = _read("legislators-district-offices.csv")
    rows = [row for row in rows if row["office_id"] != rows[0]["office_id"]]
    offices = _write(tmp_path / "offices.csv", fields, rows)

    args = ["congress", "load", "--zips", str(zips), "--supplement", str(supplement), "--offices", str(offices)]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    assert "legislators: 0 added, 0 removed, 0 updated" in result.output
    assert "ZIP rows: 2 added, 1 removed" in result.output
    assert "district offices: 0 added, 1 removed, 0 updated" in result.output
    body = get(client, "59001").get_json()
    assert body["districts"] == [{"state": "MT", "district": 1}]
    assert [t["last_name"] for t in get(client, "99999").get_json()["targets"]] == ["Murkowski", "Sullivan", "Begich"]
    assert "no changes" in runner.invoke(args=args).output


def test_a_bad_file_changes_nothing(app, runner, client, tmp_path, restore):
    fields, rows = _read("legislators-current.csv")
    rows = [row for row in rows if row["bioguide_id"] != "P000197"]
    legislators = _write(tmp_path / "legislators.csv", fields, rows)
    fields, rows = _read("zip_districts.csv")
    rows[10] = {**rows[10], "state": "California"}
    zips = _write(tmp_path / "zips.csv", fields, rows)

    result = runner.invoke(args=["congress", "load", "--legislators", str(legislators), "--zips", str(zips)])
    assert result.exit_code == 1
    assert "zips.csv line 12: state 'California' is not a two-letter code." in result.output
    assert "Nothing was changed." in result.output
    assert "Pelosi" in names(get(client, "94110").get_json())


def test_an_empty_legislators_file_is_refused(runner, tmp_path, client):
    fields, _ = _read("legislators-current.csv")
    result = runner.invoke(args=["congress", "load", "--legislators", str(_write(tmp_path / "l.csv", fields, []))])
    assert result.exit_code == 1
    assert "refusing to retire all of Congress" in result.output
    assert len(names(get(client, "59001").get_json())) == 3


def test_lookup_command(runner):
    result = runner.invoke(args=["congress", "lookup", "10001"])
    assert result.exit_code == 0
    assert "ZIP 10001: NY (split)" in result.output
    assert "NY-12    Jerrold Nadler" in result.output


def test_zip_rows_match_the_bundled_files(ctx):
    count = db.session.scalar(select(db.func.count()).select_from(ZipDistrict))
    assert count == 42_033 + 7_305
