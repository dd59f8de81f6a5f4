"""The build against the real ICE files: coverage, traceability, detected quirks, identity, as-of lists."""
import collections
import csv
import datetime
import json

import openpyxl
import pytest

from conftest import DATA, SNAPSHOT

MANIFEST = [m for m in csv.DictReader(open(DATA / "ice" / "MANIFEST.csv", newline="", encoding="utf-8")) if m["file"] in SNAPSHOT]
AS_OF_SQL = """
select l.state, l.agency, l.support_type, l.signed
from listings l join publications p on p.list = l.list and p.seq between l.first_seq and l.last_seq
where p.id = ?
"""


def test_every_shipped_file_is_in_the_manifest():
    # Pinned to the snapshot: a workbook ICE publishes later is listed by `open287g fetch` when it
    # fetches it (tests/test_fetch.py), and no test here may depend on what is newest.
    files = {p.relative_to(DATA / "ice").as_posix() for p in (DATA / "ice").glob("*/*.xlsx")}
    manifest = {m["file"] for m in csv.DictReader(open(DATA / "ice" / "MANIFEST.csv", newline="", encoding="utf-8"))}
    assert manifest <= files and set(SNAPSHOT) <= manifest


def test_every_shipped_file_is_a_publication(db):
    files = sorted(SNAPSHOT)
    assert len(files) == len(MANIFEST) == 1122
    rows = db.execute("select file, sha256, status from publications where era != 'roster'").fetchall()
    assert sorted(r["file"] for r in rows) == files
    by_file = {m["file"]: m["sha256"] for m in MANIFEST}
    assert all(by_file[r["file"]] == r["sha256"] for r in rows)
    assert not [r for r in rows if r["status"] == "rejected"]


def test_listings_traced_to_each_publication_equal_its_data_rows(db):
    traced = dict(db.execute(
        "select p.file, count(l.id) from publications p left join listings l "
        "on l.list = p.list and p.seq between l.first_seq and l.last_seq where p.era != 'roster' group by p.file"
    ).fetchall())
    for m in MANIFEST:
        assert traced[m["file"]] == int(m["data_rows"]), m["file"]
    # 317,773 published rows, stored as a few thousand distinct rows with spans.
    assert sum(traced.values()) == sum(int(m["data_rows"]) for m in MANIFEST) == 317773
    assert db.execute("select count(*) from listings").fetchone()[0] < 6000


def test_each_roster_capture_is_a_publication_traced_to_its_lines(db):
    # data/history/pre2018-roster-long.csv: 1,472 rows from 33 captures, 71 rows on 20 February 2011, 58 on 1 August 2017.
    caps = db.execute(
        "select p.published_at, p.caption_date, count(l.id) as n from publications p join listings l "
        "on l.list = p.list and p.seq between l.first_seq and l.last_seq where p.era = 'roster' group by p.id order by p.seq").fetchall()
    assert len(caps) == 33 and sum(c["n"] for c in caps) == 1472
    assert (caps[0]["published_at"], caps[0]["caption_date"], caps[0]["n"]) == ("2011-02-20T09:02:59", "2010-10-29", 71)
    assert (caps[-1]["published_at"][:10], caps[-1]["caption_date"], caps[-1]["n"]) == ("2017-08-01", None, 58)
    # Line 2 of the file is the first capture's Alabama Department of Public Safety, Task Force, signed 2003-09-10.
    row = db.execute("select * from listings where first_sheet_row = 2 and first_publication_id = "
                     "(select id from publications where era = 'roster' order by seq limit 1)").fetchone()
    assert (row["agency"], row["model"], row["signed_on"]) == ("Alabama Department of Public Safety", "TFM", "2003-09-10")


def test_each_listing_points_at_its_file_and_sheet_row(db):
    row = db.execute(
        "select l.*, p.file from listings l join publications p on p.id = l.first_publication_id "
        "where l.agency = 'Etowah County Sheriff''s Office' and p.source_kind = 'participating' order by l.first_seen limit 1"
    ).fetchone()
    sheet = openpyxl.load_workbook(DATA / "ice" / row["file"], read_only=True).worksheets[0]
    printed = next(sheet.iter_rows(min_row=row["first_sheet_row"], max_row=row["first_sheet_row"], values_only=True))
    assert printed[0].strip().upper() == "ALABAMA"
    assert printed[1].strip() == "Etowah County Sheriff's Office"


def test_every_foreign_key_leads_to_a_row(db):
    """Datasette links a foreign key's value to the row it names: none may lead to a page that does not exist (an
    agency's county is in counties, counties.added; a town's state is in states, rule zip_outside_states)."""
    assert db.execute("pragma foreign_key_check").fetchall() == []
    assert ("county_fips", "counties") in {(r["from"], r["table"]) for r in db.execute("pragma foreign_key_list(agencies)")}


def _anomaly(db, file, kind):
    return db.execute("select * from build_anomalies where file = ? and kind = ?", (file, kind)).fetchone()


def test_swapped_lists_are_detected_and_refiled(db):
    for file, named, actual, rows in (
        ("pending/pendingAgencies09222025pm.xlsx", "pending", "participating", 1000),
        ("participating/participatingAgencies09222025pm.xlsx", "participating", "pending", 42),
    ):
        assert _anomaly(db, file, "swapped_list") is not None
        pub = db.execute("select list, row_count from publications where file = ?", (file,)).fetchone()
        assert (pub["list"], pub["row_count"]) == (actual, rows)


@pytest.mark.parametrize("file,kind,printed,corrected", [
    ("participating/participatingAgencies01052025pm.xlsx", "typo_year", "2025-01-05", "2026-01-05"),
    ("participating/participatingAgencies01092025pm.xlsx", "typo_year", "2025-01-09", "2026-01-09"),
    ("pending/pendingAgencies01092025pm.xlsx", "typo_year", "2025-01-09", "2026-01-09"),
    ("participating/participatingAgencies08022025pm.xlsx", "typo_month", "2025-08-02", "2025-09-02"),
])
def test_mistyped_dates_in_file_names_are_corrected(db, file, kind, printed, corrected):
    a = _anomaly(db, file, kind)
    assert a is not None and printed in a["detail"] and corrected in a["detail"]
    assert db.execute("select published_at from publications where file = ?", (file,)).fetchone()[0].startswith(corrected)


def test_correct_names_are_left_alone(db):
    # Late-December pending lists are really December 2025, whatever their neighbours hold.
    assert db.execute("select published_at from publications where file = 'pending/pendingAgencies12292025am.xlsx'").fetchone()[0].startswith("2025-12-29")
    assert db.execute("select published_at from publications where file = 'participating/participatingAgencies03272026am.xlsx'").fetchone()[0].startswith("2026-03-27")


def test_undated_file_is_placed_by_content(db):
    a = _anomaly(db, "pending/pendingAgencies.xlsx", "undated")
    assert a is not None
    pub = db.execute("select published_at, date_source from publications where file = 'pending/pendingAgencies.xlsx'").fetchone()
    assert pub["date_source"].startswith("inferred from content") and pub["published_at"].startswith("2025-03")


def test_republished_duplicates_are_detected(db):
    dup = db.execute(
        "select d.file_name, o.file_name as original from publications d join publications o on o.id = d.duplicate_of "
        "where d.file_name = 'participatingAgencies01092025pm.xlsx'"
    ).fetchone()
    assert dup is not None and dup["original"] != dup["file_name"]
    same = db.execute("select count(*) from publications where duplicate_of is not null").fetchone()[0]
    assert same == db.execute("select count(*) from build_anomalies where kind = 'republished_duplicate'").fetchone()[0] > 600


def test_reused_names_are_recorded(db):
    a = _anomaly(db, "participating/participatingAgencies07032025pm.xlsx", "name_reused")
    assert a is not None and "participatingAgencies07032025pm__dfbd5b3a.xlsx" in a["detail"]


def test_newest_list_is_the_active_agreements(db):
    pub = db.execute("select * from publications where list = 'participating' order by seq desc limit 1").fetchone()
    assert pub["file_name"] == "participatingAgencies03272026am.xlsx" and pub["row_count"] == 1560
    assert db.execute("select count(*) from agreements where status = 'active'").fetchone()[0] == 1560
    assert db.execute("select count(*) from qa_checks where passed = 0").fetchone()[0] == 0


def test_typo_fix_is_a_rename_not_a_cancellation(db):
    a = db.execute("select * from agreements where spellings like '%Berrian County Sheriff''s Offic\"%'").fetchone()
    assert a["status"] == "active"
    assert set(json.loads(a["spellings"])) >= {"Berrian County Sheriff's Offic", "Berrian County Sheriff's Office"}
    kinds = [r[0] for r in db.execute("select kind from changes where agreement_id = ?", (a["id"],))]
    assert "renamed" in kinds and "ended" not in kinds
    assert db.execute("select count(*) from agreement_merges where agreement_id = ? and rule = 'renamed'", (a["id"],)).fetchone()[0] == 1


def test_apostrophe_variants_are_one_agency(db):
    a = db.execute("select * from agencies where name = 'Pasco County Sheriff''s Office' and state_code = 'FL'").fetchone()
    assert set(json.loads(a["spellings"])) >= {"Pasco County Sheriff's Office", "Pasco County Sheriff\u2019s Office"}
    assert db.execute("select count(*) from agencies where state_code = 'FL' and name like 'Pasco County Sheriff%'").fetchone()[0] == 1


def test_signing_date_correction_is_a_re_date(db):
    # The page table of 2022-03-05 re-printed Etowah County's 2016 MOA as signed 2020-06-09.
    rows = db.execute(
        "select c.kind, c.before, c.after from changes c join agreements a on a.id = c.agreement_id "
        "where a.agency = 'Etowah County Sheriff''s Office' and a.model = 'JEM' order by c.changed_at"
    ).fetchall()
    assert ("re-dated", "2016-06-08", "2020-06-09") in [tuple(r) for r in rows]
    assert "ended" not in [r["kind"] for r in rows]


def test_misspelt_state_is_corrected_from_data_not_a_mass_cancellation(db):
    c = db.execute("select * from corrections where wrong = 'PENNSLYVANIA'").fetchone()
    assert c["rows_touched"] == 69
    ended = db.execute(
        "select count(*) from changes c join publications p on p.id = c.publication_id "
        "where p.file_name = 'participatingAgencies02272026am.xlsx' and c.kind = 'ended'"
    ).fetchone()[0]
    assert ended < 10


def _printed(value):
    if isinstance(value, datetime.datetime):
        return value.date().isoformat()
    return " ".join(str(value).replace("\xa0", " ").split()) if value is not None else ""


@pytest.mark.parametrize("file", [
    "page-tables/ParticipatingEntities-20210113002027.xlsx",
    "page-tables/ParticipatingEntities-20250219163339.xlsx",
    "participating/participatingAgencies-20250224183354.xlsx",
    "participating/participatingAgencies07032025pm__dfbd5b3a.xlsx",
    "participating/participatingAgencies01052025pm.xlsx",
    "participating/participatingAgencies03272026am.xlsx",
    "pending/pendingAgencies10292025pmB.xlsx",
])
def test_list_as_of_a_publication_reproduces_its_workbook(db, file):
    """Read the workbook independently with openpyxl and compare row for row (as multisets)."""
    sheet = openpyxl.load_workbook(DATA / "ice" / file, read_only=True).worksheets[0]
    rows = list(sheet.iter_rows(values_only=True))
    header = [_printed(h).upper() for h in rows[0]]
    pick = [header.index(c) if c in header else None for c in ("STATE", "LAW ENFORCEMENT AGENCY", "SUPPORT TYPE", "SIGNED")]
    expected = collections.Counter()
    for r in rows[1:]:
        values = tuple(_printed(r[i]) if i is not None and i < len(r) else "" for i in pick)
        if any(_printed(v) for v in r):
            expected[values] += 1
    pub = db.execute("select id, row_count from publications where file = ?", (file,)).fetchone()
    got = collections.Counter(tuple(v or "" for v in r) for r in db.execute(AS_OF_SQL, (pub["id"],)))
    assert sum(expected.values()) == pub["row_count"]
    assert got == expected


def test_pending_to_signed_is_measured(db):
    app = db.execute(
        "select * from pending_applications where outcome = 'signed' and days_to_listed is not null order by first_seen limit 1"
    ).fetchone()
    a = db.execute("select * from agreements where id = ?", (app["agreement_id"],)).fetchone()
    assert a["first_seen"] >= app["first_seen"]
    assert db.execute("select count(*) from changes where kind = 'pending->signed'").fetchone()[0] == db.execute(
        "select count(*) from pending_applications where outcome = 'signed'").fetchone()[0] > 500


def test_pending_applications_ice_printed_under_another_state_are_the_right_states(db):
    # pendingAgencies of 3-6 April 2025 print Kershaw County Sheriff's Office under FLORIDA, then under SOUTH CAROLINA.
    rows = db.execute("select state_code, state_printed_first, first_seen, outcome, agency_id from pending_applications "
                      "where state_printed_first is not null order by first_seen").fetchall()
    assert [tuple(r)[:4] for r in rows] == [
        ("ND", "TX", "2025-03-18T02:59:11", "signed"),  # McKenzie County
        ("SC", "FL", "2025-04-03T23:10:27", "signed"),  # Kershaw County
        ("KY", "FL", "2025-04-28T17:00:00", "signed"),  # Heritage Creek (no COUNTY printed: the town its name names)
        ("TN", "TX", "2025-08-08T09:00:00", "signed"),  # Trousdale County
        ("OK", "TX", "2026-02-09T09:00:00", "signed"),  # McIntosh County
    ]
    kershaw = db.execute("select id, state_code, first_seen from agencies where name = 'Kershaw County Sheriff''s Office'").fetchall()
    assert [tuple(r) for r in kershaw] == [("d96adc998346", "SC", "2025-04-03T23:10:27")] and rows[1]["agency_id"] == "d96adc998346"
    # The Florida agency an earlier build made leads to South Carolina's.
    assert db.execute("select id from id_aliases where alias = 'b02cb325972b'").fetchone()[0] == "d96adc998346"


def test_pending_applications_ice_printed_with_a_typo_join_the_name_that_followed(db):
    # pendingAgencies11252025am.xlsx prints "Palmer County Sheriff's Office" (no such county), the pm file "Parmer"
    parmer = db.execute("select agency, first_seen, joined_by, outcome from pending_applications where agency like 'Parmer County%'").fetchall()
    assert [tuple(r) for r in parmer] == [("Parmer County Sheriff's Office", "2025-11-25T09:00:00", "pending_renamed", "signed")]
    assert db.execute("select count(*) from pending_applications where agency like 'Palmer County%'").fetchone()[0] == 0
    carteret = db.execute("select a.name from pending_applications p join agencies a on a.id = p.agency_id "
                          "where p.state_code = 'NC' and p.first_seen like '2025-04-29%' and p.model = 'WSO'").fetchall()
    assert [tuple(r) for r in carteret] == [("Carteret County Sheriff's Office",)]  # printed "Cartert" from 29 April 2025
    spellings = db.execute("select spellings from agencies where name = 'Carteret County Sheriff''s Office'").fetchone()[0]
    assert "Cartert County Sheriff's Office" in json.loads(spellings)  # among the names ICE printed for it
    # pendingAgencies of 21-27 May 2025 print "Lafourche County Sheriff's Office"; from 28 May, "Lafourche Parish"
    lafourche = db.execute("select agency, first_seen, agency_printed_first, joined_by, outcome from pending_applications where agency like 'Lafourche%'").fetchall()
    assert [tuple(r) for r in lafourche] == [("Lafourche Parish Sheriff's Office", "2025-05-21T17:00:00", "Lafourche County Sheriff's Office", "pending_renamed", "signed")]
    # Without the state's own name: "Department of Public Safety" (Mississippi, 5 December 2025), listed on 8 December
    # as the Mississippi Department of Public Safety; with the COUNTY both print: Polk County's 4th constable district.
    joined = db.execute("select p.agency, p.joined_by, p.outcome, a.id, a.name from pending_applications p join agencies a on a.id = p.agency_id "
                        "where p.agency in ('Department of Public Safety', 'Tennessee State Constable 4th District Polk County')").fetchall()
    assert sorted(tuple(r) for r in joined) == [
        ("Department of Public Safety", "pending_renamed", "signed", "c649a94a8aae", "Mississippi Department of Public Safety"),
        ("Tennessee State Constable 4th District Polk County", "pending_renamed", "signed", "adcf551bd25e", "Polk County Constable District 4")]
    # Taylor and Baylor County, Texas, are two counties: Taylor's application of the same day is not Baylor's agreement.
    taylor = db.execute("select outcome, agreement_id from pending_applications where state_code = 'TX' and agency = 'Taylor County Sheriff''s Office' and model = 'TFM'").fetchall()
    assert [tuple(r) for r in taylor] == [("removed without an agreement", None)]


def test_pending_names_corrected_by_hand_join_what_they_became_and_keep_their_ids(db):
    # data/corrections.csv: "St. Charles Place" (pending, 10-24 July 2025) is the St. Charles Parish Sheriff's Office;
    # the Monroeville constable office printed without its ward (10-15 July 2025) is the 6th Ward's; "Pembroke" (3-11
    # April 2025, beside Pembroke Park's own application) is Pembroke Pines.
    apps = db.execute("select p.agency, p.model, p.first_seen, p.outcome, g.agency, g.signed_on from pending_applications p "
                      "left join agreements g on g.id = p.agreement_id where p.agency like 'St. Charles P%' "
                      "or p.agency like 'Monroeville%' or p.agency = 'Pembroke Police Department' order by p.agency, p.model").fetchall()
    assert [tuple(r) for r in apps] == [
        ("Monroeville Constable Office, PA", "TFM", "2025-07-10T17:00:00", "signed", "Office of Constable Monroeville 6th Ward", "2025-07-15"),
        ("Pembroke Police Department", "TFM", "2025-04-03T23:10:27", "signed", "Pembroke Pines Police Department", "2025-04-14"),
        ("St. Charles Place Sheriff's Office", "TFM", "2025-07-10T17:00:00", "removed without an agreement", None, None),
        ("St. Charles Place Sheriff's Office", "WSO", "2025-07-22T17:00:00", "signed", "St. Charles Parish Sheriff's Office", "2025-07-24")]
    # rule corrected_ids: the applications and agencies earlier builds published under the names as printed lead here
    aliases = dict(db.execute("select alias, table_name from id_aliases where reason like '%data/corrections.csv corrected it'").fetchall())
    for alias, table in (("838f92b29ea2", "pending_applications"), ("5843e9f5f407", "pending_applications"),
                         ("9d03a83d092d", "pending_applications"), ("66e8225a12a7", "pending_applications"),
                         ("095da1eac544", "pending_applications"), ("be78dbfbb100", "agencies"), ("4f0326323102", "agencies"),
                         ("a6047fbbd899", "agencies")):
        assert aliases.get(alias) == table, alias


def test_an_application_printed_while_its_agreement_was_listed_is_already_listed(db):
    # The pending list of 16 March 2025 prints 53 applications; Butler County's JEM had been listed since 27 February.
    rows = db.execute("select p.outcome, p.days_to_listed, g.signed_on, g.first_seen from pending_applications p "
                      "join agreements g on g.id = p.agreement_id where p.state_code = 'OH' and p.agency = 'Butler County Sheriff''s Office' "
                      "and p.first_seen like '2025-03-16%'").fetchall()
    assert [tuple(r) for r in rows] == [("already listed", None, "2025-02-24", "2025-02-27T21:46:58")]
    counts = dict(db.execute("select outcome, count(*) from pending_applications group by outcome").fetchall())
    assert counts["already listed"] == 33 and counts["removed without an agreement"] == 29  # 37 before Lafourche, Mississippi DPS, the Polk County constable and Heritage Creek were joined; 33 before the St. Charles, Monroeville and Pembroke lines of data/corrections.csv
    # printed with no SUPPORT TYPE on 28 October 2025; its WSO listed on 4 November (rule pending_model_blank)
    sedgwick = db.execute("select p.outcome, p.days_to_listed, g.model from pending_applications p join agreements g on g.id = p.agreement_id "
                          "where p.state_code = 'KS' and p.agency = 'Sedgwick County Sheriff''s Office' and p.model is null").fetchall()
    assert [tuple(r) for r in sedgwick] == [("signed", 7, "WSO")]


def test_names_of_one_body_that_no_rule_joins_are_joined_by_same_agencies_csv(db):
    # The roster of 2011-2012 prints "Missouri State Highway Patrol" (TFM signed 2008-06-25), the lists of 2025 "Missouri Highway Patrol"
    rows = db.execute("select id, earliest_signed_on, agreements_total, status from agencies where name = 'Missouri Highway Patrol'").fetchall()
    assert [tuple(r) for r in rows] == [("cc4f853af830", "2008-06-25", 2, "active")]
    assert db.execute("select count(*) from agencies where name like 'Missouri State Highway Patrol'").fetchone()[0] == 0
    assert db.execute("select id, reason from id_aliases where alias = 'ee71a83fde24'").fetchone()[0] == "cc4f853af830"
    assert [tuple(r) for r in db.execute("select state_code, applied from agency_links order by state_code")] == [("MA", 1), ("MO", 1), ("TN", 1), ("VA", 1)]


def test_steering_committee_and_historical_tables(db):
    assert db.execute("select count(*) from steering_committee_meetings").fetchone()[0] == 94
    assert db.execute("select count(*) from historical_moa_2024").fetchone()[0] == 135
    linked = db.execute("select count(*) from historical_moa_2024 where agency_id is not null").fetchone()[0]
    assert linked > 120


def test_summary_is_one_screen(build_result):
    lines = build_result.stdout.strip().splitlines()
    assert len(lines) <= 12
    assert "publications: 1155 (907 participating, 248 pending; 33 of them captures of ICE's 2011-2017 roster)" in build_result.stdout
    assert "agreements: 1816 (1560 active" in build_result.stdout
    assert "Traceback" not in build_result.stderr
