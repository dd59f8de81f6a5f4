"""Identity and lineage on the real workbooks: ICE's corrections continue agreements, real endings stay, ids hold, builds repeat byte for byte."""
import csv
import os
import re
import shutil
import sqlite3
from pathlib import Path

import openpyxl
import pytest

from conftest import DATA, ROOT, copy_data, run_cli
from open287g import serve

# Agreements the earlier build called ended although ICE kept listing them under a corrected row
# (hand-checked against the workbooks after them): (state, a name ICE printed, model).
CONTINUING = [
    ("FL", "Tampa PD", "TFM"), ("FL", "Pinellas Park PD", "TFM"), ("FL", "Kenneth City PD", "TFM"), ("FL", "Gulfport PD", "TFM"),
    ("WI", "Waukesha County Sheriff's Office", "JEM"), ("SC", "Lexington County Sheriff's Office", "JEM"),
    ("MT", "Flathead County Sheriff's Department", "WSO"), ("MO", "Pettis County Sheriff's Department", "JEM"),
    ("FL", "Office of Aggricultural Law Enforcement", "TFM"), ("WY", "Wyoming Highway State Patrol", "TFM"),
    ("MN", "Cass County Sheriff's Office", "TFM"), ("MN", "Crow Wing County Sheriff's Office", "WSO"),
    ("TX", "Wichita County Sheriff's Office", "WSO"), ("KS", "Ellis County Sheriff's Office", "WSO"),
    ("FL", "Lake Placid Police Department", "TFM"), ("FL", "Escambia County Sheriff's Office", "WSO"),
    ("FL", "Okaloosa County Sheriff's Office", "WSO"), ("PA", "Cambria County Sheriff's Office", "WSO"),
    ("PA", "Franklin County Sheriffs Office", "WSO"), ("AZ", "Pinal County Sheriff's Office", "TFM"),
    ("TN", "Tennessee State Constable 4th District", "TFM"), ("FL", "City of Zephyrhills Police Department", "TFM"),
    ("FL", "City of St. Cloud Police Department", "TFM"), ("FL", "University of West Florida Board of Trustees", "TFM"),
    ("MN", "Freedom County Sheriff's Office", "WSO"), ("TX", "Lampass County Sheriff's Office", "WSO"),
    ("NY", "Cattaraugus Counry Sheriff's Office", "TFM"), ("NC", "Albermarle District Jail", "WSO"),
]


def _agreement(db, state, name, model):
    # Agreements ICE's files of 2021 on printed: the 2011-2017 roster's earlier MOAs of an agency are its predecessors.
    return db.execute(
        "select a.* from agreements a, json_each(a.spellings) s where a.state_code = ? and s.value = ? and a.model = ? "
        "and a.last_seen >= '2021-01-13'",
        (state, name, model),
    ).fetchall()


@pytest.mark.parametrize("state, name, model", CONTINUING)
def test_corrected_rows_continue_their_agreement(db, state, name, model):
    found = _agreement(db, state, name, model)
    assert [a["status"] for a in found] == ["active"], f"{name}: {[dict(a) for a in found]}"


def test_a_renamed_agreement_keeps_its_first_listing(db):
    (waukesha,) = _agreement(db, "WI", "Waukesha County Sheriff's Department", "JEM")
    assert waukesha["first_seen"].startswith("2021-01-13") and waukesha["signed_on"] == "2020-06-10"
    (tampa,) = _agreement(db, "FL", "Tampa Police Department", "TFM")
    assert tampa["first_seen"].startswith("2025-03-06") and "Tampa PD" in tampa["spellings"]
    rules = {r["rule"] for r in db.execute("select rule from agreement_merges where agreement_id = ?", (tampa["id"],))}
    assert rules == {"renamed"}


def test_date_corrections_are_re_dated_not_new_agreements(db):
    for state, name in (("FL", "St. Lucie County Sheriff's Office"), ("NH", "Hillsborough County Sheriff's Office"), ("TX", "Webb County Sheriff's Office")):
        rows = _agreement(db, state, name, "TFM" if state != "TX" else "JEM")
        assert [r["status"] for r in rows] == ["active"], name
    (lucie,) = _agreement(db, "FL", "St. Lucie County Sheriff's Office", "TFM")
    assert lucie["signed_on"] == "2025-02-26"
    assert db.execute("select count(*) from changes where agreement_id = ? and kind = 're-dated'", (lucie["id"],)).fetchone()[0] == 1


def test_a_new_moa_printed_beside_the_old_one_supersedes_it(db):
    old = db.execute("select * from agreements where agency = 'University of Central Florida Board of Trustees'").fetchone()
    new = db.execute("select * from agreements where id = ?", (old["superseded_by"],)).fetchone()
    assert (old["status"], new["agency"], new["signed_on"], new["status"]) == ("superseded", "University of Central Florida Police Department", "2025-07-24", "active")


def test_re_signings_follow_the_agreement_they_replace(db):
    old = db.execute("select * from agreements where agency = 'Fort Walton Beach Police Department' and signed_on = '2025-02-28'").fetchone()
    new = db.execute("select * from agreements where id = ?", (old["superseded_by"],)).fetchone()
    assert (old["status"], new["status"], new["follows"], new["signed_on"]) == ("superseded", "active", old["id"], "2025-08-04")


def test_endings_since_2025(db):
    counts = dict(db.execute("select status, count(*) from agreements where ended_seen >= '2025-01-01' group by status").fetchall())
    assert counts == {"ended": 67, "superseded": 5}  # 68 before the Moore County (TN) copy was corrected
    # Each ending is dated at the first participating list without it, which is after its last listing.
    bad = db.execute(
        "select count(*) from agreements a join publications e on e.id = a.ended_publication_id "
        "join publications l on l.id = a.last_publication_id where a.status != 'active' and not (e.seq > l.seq)"
    ).fetchone()[0]
    assert bad == 0


def test_merges_record_rule_score_and_evidence(db):
    rows = db.execute("select rule, count(*), min(score), sum(evidence is null or evidence = '') from agreement_merges group by rule").fetchall()
    by_rule = {r[0]: r[1] for r in rows}
    assert set(by_rule) == {"renamed", "relabelled", "moved_state", "re-dated", "re-signed", "duplicate", "addendum", "misread"}
    assert all(r[3] == 0 and r[2] > 0 for r in rows)
    assert by_rule["moved_state"] == 5


def test_signing_year_corrections_apply_and_are_counted(db):
    ottawa = db.execute("select * from agreements where agency = 'Ottawa County Sheriff''s Office' and state_code = 'OK'").fetchone()
    assert (ottawa["signed_on"], ottawa["signed_printed"]) == ("2026-02-23", "2025-02-23")
    touched = dict(db.execute("select agency, rows_touched from corrections where column = 'signed'").fetchall())
    assert touched["Ottawa County Sheriff's Office"] > 0 and touched["Tenaha Police Department"] > 0
    flagged = db.execute("select count(*) from build_anomalies where kind = 'signed_date_contradicted'").fetchone()[0]
    assert flagged >= 10


async def test_an_old_id_leads_to_the_current_row(site_db):
    conn = sqlite3.connect(site_db)
    alias, target = conn.execute("select alias, id from id_aliases where table_name = 'agreements' order by alias limit 1").fetchone()
    conn.close()
    ds = serve.make_datasette(site_db)
    response = await ds.client.get(f"/287g/agreements/{alias}")
    assert response.status_code == 301 and response.headers["location"] == f"/287g/agreements/{target}"
    assert (await ds.client.get(f"/287g/agreements/{target}")).status_code == 200
    # Kershaw County's application, printed under Florida first (rule pending_state_misprinted)
    response = await ds.client.get("/287g/pending_applications/069c081db568")
    assert response.status_code == 301 and response.headers["location"] == "/287g/pending_applications/9925d3cd341f"


def _dump(path):
    conn = sqlite3.connect(path)
    tables = [r[0] for r in conn.execute("select name from sqlite_master where type = 'table' and name not like '%fts%' and name not like 'sqlite_%' order by name")]
    dump = {t: conn.execute(f"select * from [{t}] order by 1").fetchall() for t in tables}
    conn.close()
    return dump


def test_builds_are_identical_whatever_the_hash_seed(tmp_path, cache_dir, snapshot_data, db_path):
    dumps = []
    for seed in ("1", "2"):
        out = tmp_path / seed / "287g.db"
        result = run_cli("build", "--data", snapshot_data, "--out", out, "--cache", cache_dir, env=dict(os.environ, PYTHONHASHSEED=seed, CI="1"))
        assert result.returncode == 0, result.stderr
        dumps.append(_dump(out))
    assert dumps[0] == dumps[1]
    assert dumps[0]["agreements"] == _dump(db_path)["agreements"]


def test_a_build_that_writes_the_fixed_tables_itself_gives_the_same_database(tmp_path, cache_dir, snapshot_data, db_path):
    """A first build's base files are made by a process of its own while it resolves (bases.make); a build whose cache
    holds only a start file of other keys, as after a change to the code that writes them, writes them in its load
    stage: the same tables, Connecticut's old Fairfield County (added for the Danbury police) on its towns included."""
    def copy(source, target):  # the workbooks' cache entries are never written in place: linked, the rest copied
        (os.link if re.fullmatch(r"[0-9a-f]{64}\..*", Path(source).name) else shutil.copy2)(source, target)

    cache = tmp_path / "cache"
    shutil.copytree(cache_dir, cache, copy_function=copy)
    for path in cache.glob("base-*.sqlite"):
        path.unlink()
    for path in cache.glob("start-*.sqlite"):
        path.rename(path.with_name("start-0000000000000000-00000000.sqlite"))
    out = tmp_path / "287g.db"
    result = run_cli("build", "--data", snapshot_data, "--out", out, "--cache", cache)
    assert result.returncode == 0, result.stderr
    # the start file's four, and the build's own search entries with their index (search_index.write_index)
    assert sorted(p.name.split("-")[1] for p in cache.glob("base-*.sqlite")) == ["counties", "documents", "entries", "gazetteer", "search"]
    written, reference = _dump(out), _dump(db_path)
    assert written == reference
    stamford = [r for r in written["places"] if r[0] == "ct/stamford"][0]
    assert "09001" in stamford and [r for r in written["places"] if r[0] == "ct/hartford"][0][5] is None


def _build_with_lines(tmp_path, cache_dir, lines):
    """A build of a copy of the snapshot with lines added to hand-kept files ({file name in data/: line})."""
    data = copy_data(tmp_path / "data")
    for name, line in lines.items():
        path = data / name
        text = path.read_text(encoding="utf-8")
        path.unlink()  # a hard link to the real file: write a new one
        path.write_text(text + line + "\n", encoding="utf-8")
    return run_cli("build", "--data", data, "--out", tmp_path / "287g.db", "--cache", cache_dir)


def test_an_agency_correction_keeps_listings_linked_and_a_same_agencies_line_that_joins_nothing_is_a_warning(tmp_path, cache_dir):
    # One build for two hand-kept files' lines (each build of the snapshot costs seconds).
    result = _build_with_lines(tmp_path, cache_dir, {
        "corrections.csv": "agency,Tampa PD,Tampa Police Department,,,test: the short name read as the full one,made up",
        "same_agencies.csv": "FL,Tampa Police Department,Tampa Municipal Police,test: a name ICE never printed,made up"})
    assert result.returncode == 0, result.stderr
    assert "QA checks: 7 passed, 0 failed" in result.stdout
    assert ("warning: same_agencies.csv: FL 'Tampa Police Department' / 'Tampa Municipal Police': ICE printed no agency "
            "under both names; the line joins nothing") in result.stderr
    conn = sqlite3.connect(tmp_path / "287g.db")
    linked = conn.execute("select count(*), count(agreement_id) from listings where agency = 'Tampa PD' and list = 'participating'").fetchone()
    touched = conn.execute("select rows_touched from corrections where wrong = 'Tampa PD'").fetchone()[0]
    applied = conn.execute("select state_code, applied from agency_links order by state_code").fetchall()
    conn.close()
    assert linked[0] > 0 and linked[0] == linked[1] and touched > 0
    assert applied == [("FL", 0), ("MA", 1), ("MO", 1), ("TN", 1), ("VA", 1)]


def test_a_truncated_newest_list_is_held_and_publishing_withheld(tmp_path, cache_dir):
    data = copy_data(tmp_path / "data")
    full = [list(r) for r in openpyxl.load_workbook(DATA / "ice" / "participating" / "participatingAgencies03272026am.xlsx", read_only=True).worksheets[0].iter_rows(values_only=True)]
    wb = openpyxl.Workbook()
    for r in full[:301]:
        wb.active.append(r)
    wb.save(data / "ice" / "participating" / "participatingAgencies03282026am.xlsx")
    result = run_cli("build", "--data", data, "--out", tmp_path / "287g.db", "--cache", cache_dir)
    assert result.returncode == 0, result.stderr
    assert "WITHHOLD: no unconfirmed mass ending" in result.stdout
    assert "warning: participating/participatingAgencies03282026am.xlsx: unconfirmed_mass_ending" in result.stderr
    conn = sqlite3.connect(tmp_path / "287g.db")
    held = conn.execute("select id, status from publications where file_name = 'participatingAgencies03282026am.xlsx'").fetchone()
    active = conn.execute("select count(*) from agreements where status = 'active'").fetchone()[0]
    gate = conn.execute("select passed, gate from qa_checks where [check] like '%mass ending%'").fetchone()
    changes = conn.execute("select count(*) from changes where publication_id = ?", (held[0],)).fetchone()[0]
    conn.close()
    assert held[1] == "held" and active == 1560 and changes == 0 and tuple(gate) == (0, 1)


def test_an_unknown_state_in_a_new_file_ends_nothing_and_says_so(tmp_path, cache_dir):
    data = copy_data(tmp_path / "data")
    rows = [list(r) for r in openpyxl.load_workbook(DATA / "ice" / "participating" / "participatingAgencies03272026am.xlsx", read_only=True).worksheets[0].iter_rows(values_only=True)]
    assert rows[5][:2] == ["ALABAMA", "Blount County Sheriff's Office"]
    rows[5][0] = "ATLANTIS"
    wb = openpyxl.Workbook()
    for r in rows:
        wb.active.append(r)
    wb.save(data / "ice" / "participating" / "participatingAgencies03282026am.xlsx")
    result = run_cli("build", "--data", data, "--out", tmp_path / "287g.db", "--cache", cache_dir)
    assert result.returncode == 0, result.stderr
    assert "row 6: STATE 'ATLANTIS' is not a US state or territory; add a line to data/corrections.csv" in result.stderr
    conn = sqlite3.connect(tmp_path / "287g.db")
    statuses = dict(conn.execute("select status, count(*) from agreements group by status").fetchall())
    moved = conn.execute("select detail from agreement_merges where rule = 'moved_state' and detail = 'AL -> None'").fetchall()
    conn.close()
    assert statuses["active"] == 1560 and statuses["ended"] == 142 and len(moved) == 1


def test_a_correction_naming_no_state_is_refused(tmp_path, cache_dir):
    data = copy_data(tmp_path / "data")
    corrections = data / "corrections.csv"
    text = corrections.read_text(encoding="utf-8")
    corrections.unlink()
    corrections.write_text(text + "state,NEBRASKA,ATLANTIS,,test,made up\n", encoding="utf-8")
    result = run_cli("build", "--data", data, "--out", tmp_path / "287g.db", "--cache", cache_dir)
    assert result.returncode == 2 and "'ATLANTIS' is not a US state or territory" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "287g.db").exists()


def test_every_id_an_earlier_build_published_still_leads_somewhere(db):
    # Every agreement and agency id of the build before the identity rewrite (commit 2fdce17, same snapshot).
    with open(ROOT / "tests" / "ids_2fdce17.csv", newline="") as f:
        old = [(r["table_name"], r["id"]) for r in csv.DictReader(f)]
    assert len(old) == 1690 + 1444
    lost = [(t, i) for t, i in old
            if not db.execute(f"select 1 from [{t}] where id = ?", (i,)).fetchone()
            and not db.execute("select 1 from id_aliases where alias = ? and table_name = ?", (i, t)).fetchone()]
    assert lost == []


def test_a_row_printed_again_under_another_state_is_its_agreements_and_its_old_ids_lead_there(db):
    # data/corrections.csv: Moore County Sheriff's Office (TX, WSO, 2025-08-28) printed under Tennessee too, in two lists.
    [(agreement, agency)] = db.execute("select id, agency_id from agreements where agency = 'Moore County Sheriff''s Office'").fetchall()
    assert tuple(db.execute("select state_code, status from agreements where id = ?", (agreement,)).fetchone()) == ("TX", "active")
    printed = [tuple(r) for r in db.execute("select state, publications from listings where agreement_id = ? order by first_seen", (agreement,))]
    assert printed == [("TEXAS", 16), ("TENNESSEE", 2), ("TEXAS", 111)]
    aliases = [tuple(r) for r in db.execute("select table_name, alias, id from id_aliases where reason like '%data/corrections.csv corrected it' "
                                            "and table_name != 'pending_applications' and alias in ('9c7e89363fb6', '6c7d1ad9d2b6') order by table_name")]
    assert aliases == [("agencies", "9c7e89363fb6", agency), ("agreements", "6c7d1ad9d2b6", agreement)]
    # Tennessee's Moore County is the Metropolitan Moore County Sheriff's Office, signed 2025-11-06
    assert [r[0] for r in db.execute("select name from agencies where state_code = 'TN' and county_name = 'Moore County'")] == ["Metropolitan Moore County Sheriff's Office"]
