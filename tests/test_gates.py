"""open287g gates and the gate at the start of open287g publish: a truncated newest list, a file the
database does not hold, and the build's own gate rows each withhold publishing with one line and exit
3; a committed confirmation releases them; a withheld publish leaves the previous bundle as it was."""
import csv
import hashlib
import shutil
import sqlite3

import pytest

from conftest import DATA, SNAPSHOT, copy_data, run_cli
from open287g.gates import WITHHELD, check
from workbooks import real_rows, write_workbook

NEWEST = "participating/participatingAgencies03272026am.xlsx"
LATER = "participatingAgencies03302026am.xlsx"  # a later list that is only the first 300 rows of the newest
HTML = "pendingAgencies03302026am.xlsx"  # an HTML error page saved under a workbook's name
CONFIRM_HEADER = ["file", "sha256", "gate", "reason", "confirmed_by"]


def gates(db, data, *more):
    return run_cli("gates", "--db", db, "--data", data, *more)


def has_gate_column(db):
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return "gate" in {r[1] for r in conn.execute("pragma table_info(qa_checks)")}
    finally:
        conn.close()


def write_confirmations(data, rows):
    with open(data / "confirmations.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([CONFIRM_HEADER] + rows)


@pytest.fixture(scope="module")
def truncated(tmp_path_factory, cache_dir, build_result):
    """The snapshot plus a truncated later list and an HTML page saved as a pending workbook, built once."""
    root = tmp_path_factory.mktemp("truncated")
    data = copy_data(root / "data")
    write_workbook(data / "ice" / "participating" / LATER, real_rows(DATA / "ice" / NEWEST)[:301])
    (data / "ice" / "pending" / HTML).write_text("<!DOCTYPE html><html><body>Service Unavailable</body></html>")
    result = run_cli("build", "--data", data, "--out", root / "287g.db", "--cache", cache_dir)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr  # 1: built, one file rejected
    return root / "287g.db", data


def test_the_snapshot_build_passes_every_gate(db_path, snapshot_data):
    r = gates(db_path, snapshot_data, "--previous", db_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("gates passed: ") and "1,560 active agreements (1,560 published)" in r.stdout
    assert "1,122 files placed" in r.stdout


def test_a_truncated_newest_list_is_withheld_with_one_line(truncated, db_path):
    db, data = truncated
    r = gates(db, data, "--previous", db_path, "--report", data.parent / "gates.txt")
    assert r.returncode == WITHHELD, r.stdout + r.stderr
    (line,) = r.stderr.splitlines()
    assert line.startswith("withheld: ") and "Traceback" not in r.stderr
    assert (data.parent / "gates.txt").read_text() == line + "\n"
    if has_gate_column(db):
        assert line.startswith("withheld: build gate failed: ")  # the build's own mass-ending gate
    else:
        assert "active agreements would fall from 1,560 to 300" in line and f"participating/{LATER}" in line


def test_the_rejected_file_counts_as_placed_with_a_reason(truncated, db_path):
    db, data = truncated
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    status, error = conn.execute("select status, error from publications where file_name = ?", (HTML,)).fetchone()
    conn.close()
    assert status == "rejected" and "HTML" in error
    placed = [g for g in check(db, data, previous=None).gates if g.name == "placed"]
    assert [(g.passed, g.reason) for g in placed] == [(True, "1,123 files placed, 1 rejected with a reason")]


def test_a_confirmation_releases_the_withheld_list_and_a_wrong_one_does_not(truncated, db_path):
    db, data = truncated
    sha = hashlib.sha256((data / "ice" / "participating" / LATER).read_bytes()).hexdigest()
    reason = "checked against ice.gov on the day: ICE's list really was cut to 300 rows"
    try:
        write_confirmations(data, [[f"participating/{LATER}", "0" * 64, g, reason, "maintainer"] for g in ("active_drop", "build")])
        assert gates(db, data, "--previous", db_path).returncode == WITHHELD  # other bytes: not this file
        write_confirmations(data, [[f"participating/{LATER}", sha, g, reason, "maintainer"] for g in ("active_drop", "build")])
        r = gates(db, data, "--previous", db_path)
        assert r.returncode == 0, r.stderr
        assert "confirmed (checked against ice.gov on the day" in r.stdout
        write_confirmations(data, [[f"participating/{LATER}", sha, "everything", reason, "maintainer"]])
        bad = gates(db, data, "--previous", db_path)
        assert bad.returncode == 1 and bad.stderr.strip().endswith("is not one of build, active_drop, dates")
        assert "confirmations.csv:2" in bad.stderr and "Traceback" not in bad.stderr
    finally:
        (data / "confirmations.csv").unlink(missing_ok=True)


def test_withheld_publish_leaves_the_live_bundle_as_it_was(truncated, site_db, snapshot_data, tmp_path):
    out = tmp_path / "deploy"
    first = run_cli("publish", "--db", site_db, "--data", snapshot_data, "--out", out)
    assert first.returncode == 0, first.stderr
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    db, data = truncated
    shutil.copyfile(site_db.parent / "metadata.json", db.parent / "metadata.json")
    r = run_cli("publish", "--db", db, "--data", data, "--out", out)
    assert r.returncode == WITHHELD and r.stderr.startswith("withheld: ") and len(r.stderr.splitlines()) == 1, r.stderr
    assert {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_a_file_the_database_does_not_hold_is_withheld(db_path, tmp_path):
    data = copy_data(tmp_path / "data")
    shutil.copyfile(data / "ice" / NEWEST, data / "ice" / "participating" / "participatingAgencies04012026am.xlsx")
    r = gates(db_path, data)
    assert r.returncode == WITHHELD
    assert r.stderr == "withheld: 1 file in data/ice not in the database (it was built before they arrived: rebuild): participating/participatingAgencies04012026am.xlsx\n"
    (data / "ice" / "participating" / "participatingAgencies04012026am.xlsx").unlink()
    (data / "ice" / "other").mkdir()
    shutil.copyfile(data / "ice" / NEWEST, data / "ice" / "other" / "x.xlsx")
    r = gates(db_path, data)
    assert r.returncode == WITHHELD and "outside participating, pending, page-tables" in r.stderr and "other/x.xlsx" in r.stderr


def test_the_builds_gate_rows_withhold_until_confirmed(db_path, snapshot_data, tmp_path):
    """The contract with the build: qa_checks.gate = 1 and passed = 0 blocks; check and detail give the reason."""
    db = tmp_path / "287g.db"
    shutil.copyfile(db_path, db)
    conn = sqlite3.connect(db)
    if not has_gate_column(db_path):
        conn.execute("alter table qa_checks add column gate integer not null default 0")
    conn.execute('insert into qa_checks ("check", expected, found, passed, detail, gate) values (?, ?, ?, ?, ?, 1)',
                 ("unconfirmed mass ending", "0", "1260", 0, "participatingAgencies03272026am.xlsx would end 1,260 of 1,560 agreements"))
    conn.commit()
    conn.close()
    data = copy_data(tmp_path / "data")
    r = gates(db, data)
    assert r.returncode == WITHHELD
    assert r.stderr == ("withheld: build gate failed: unconfirmed mass ending "
                        "(participatingAgencies03272026am.xlsx would end 1,260 of 1,560 agreements)\n")
    write_confirmations(data, [[NEWEST, SNAPSHOT[NEWEST], "build", "ICE confirmed the cut by e-mail", "maintainer"]])
    r = gates(db, data)
    assert r.returncode == 0 and "build confirmed (ICE confirmed the cut by e-mail)" in r.stdout, r.stderr


def test_without_the_gate_column_there_are_no_build_gates(db_path, snapshot_data, tmp_path):
    db = tmp_path / "287g.db"
    shutil.copyfile(db_path, db)
    conn = sqlite3.connect(db)
    columns = {r[1] for r in conn.execute("pragma table_info(qa_checks)")}
    if "gate" in columns:
        conn.execute("alter table qa_checks drop column gate")
    conn.commit()
    conn.close()
    r = gates(db, snapshot_data)
    assert r.returncode == 0 and "no build gate rows" in r.stdout


def test_a_publication_dated_after_it_was_fetched_is_withheld_until_confirmed(db_path, snapshot_data, tmp_path):
    """A file the build dates a month after its capture (the replay found ICE's December 2025 lists
    dated January 2026 while they were the newest), or far before it (ICE's 01092025pm dated January
    2025), holds the database back."""
    db = tmp_path / "287g.db"
    shutil.copyfile(db_path, db)
    conn = sqlite3.connect(db)
    conn.execute("update publications set capture_utc = '2026-02-26T12:23:00Z' where file = ?", (NEWEST,))
    assert gates(db, snapshot_data).returncode == 0  # fetched a day before its date: am/pm are US half-days
    conn.execute("update publications set capture_utc = '2026-02-25T12:23:00Z' where file = ?", (NEWEST,))
    conn.commit()
    conn.close()
    data = copy_data(tmp_path / "data")
    r = gates(db, data)
    assert r.returncode == WITHHELD
    assert r.stderr == f"withheld: {NEWEST} is dated 2026-03-27 but was fetched on 2026-02-25: after its fetch, a misread date\n"
    conn = sqlite3.connect(db)
    conn.execute("update publications set capture_utc = '2026-05-12T12:23:00Z' where file = ?", (NEWEST,))  # 46 days on
    conn.commit()
    conn.close()
    r = gates(db, data)
    assert r.stderr == f"withheld: {NEWEST} is dated 2026-03-27 but was fetched on 2026-05-12: long before its fetch, a misread date\n"
    write_confirmations(data, [[NEWEST, SNAPSHOT[NEWEST], "dates", "ICE posted it early; the name's date is right", "maintainer"]])
    r = gates(db, data)
    assert r.returncode == 0 and "dates confirmed (ICE posted it early" in r.stdout, r.stderr


def test_the_verdict_is_one_line_naming_the_first_reason():
    from open287g.gates import Gate, Verdict

    held = Verdict([Gate("build", False, "build gate failed: x"), Gate("active_drop", True, "1,560 active"), Gate("dates", False, "y")])
    assert held.line() == "withheld: build gate failed: x; and 1 more gate" and not held.ok
    released = Verdict([Gate("active_drop", False, "a drop", confirmed="real cut"), Gate("placed", True, "3 files placed")])
    assert released.ok and released.line() == "gates passed: active_drop confirmed (real cut); 3 files placed"
