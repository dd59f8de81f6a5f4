"""Bad inputs, interrupted builds, incremental and no-change rebuilds, each on a private copy of data/."""
import csv
import hashlib
import re
import shutil
import sqlite3

import pytest

from conftest import DATA, ROOT, copy_data, run_cli
from workbooks import real_rows, write_workbook as _workbook

NEWEST = "participatingAgencies03272026am.xlsx"
TRUNCATED = "participatingAgencies03212026am.xlsx"
SMALL = DATA / "ice" / "page-tables" / "ParticipatingEntities-20210113002027.xlsx"


def _real_rows(path=SMALL):
    return real_rows(path)


@pytest.fixture(scope="module")
def bad_build(tmp_path_factory, cache_dir, build_result):
    """One build of the real data plus six bad files, sharing the session's parse cache."""
    root = tmp_path_factory.mktemp("bad")
    data = copy_data(root / "data")
    folder = data / "ice" / "page-tables"
    # Names with capture times 1-6 seconds after the first real capture, so each is dated.
    names = {n: f"ParticipatingEntities-202101130020{28 + i}.xlsx" for i, n in enumerate(["corrupt", "html", "empty", "missing", "extra", "baddate"])}
    (folder / names["corrupt"]).write_bytes(SMALL.read_bytes()[:3000])
    (folder / names["html"]).write_text("<!DOCTYPE html><html><body><h1>Access Denied</h1></body></html>")
    _workbook(folder / names["empty"], [])
    rows = _real_rows()
    _workbook(folder / names["missing"], [["STATE", "AGENCY NAME", "SUPPORT TYPE", "SIGNED", "MOA"]] + rows[1:])
    _workbook(folder / names["extra"], [rows[0] + ["NOTES"]] + [r + ["x"] for r in rows[1:]])
    bad_dates = [list(r) for r in rows]
    bad_dates[5][3] = "sometime in 2020"
    _workbook(folder / names["baddate"], bad_dates)
    # A truncated publication: the first 300 rows of the 20 March 2026 list, published the next day.
    full = _real_rows(DATA / "ice" / "participating" / "participatingAgencies03202026pm.xlsx")
    _workbook(data / "ice" / "participating" / TRUNCATED, [r for r in full[:301]])
    result = run_cli("build", "--data", data, "--out", root / "287g.db", "--cache", cache_dir)
    db = sqlite3.connect(root / "287g.db")
    db.row_factory = sqlite3.Row
    return result, db, names


@pytest.mark.parametrize("kind,reason", [
    ("corrupt", "zip"),
    ("html", "an HTML page, not a workbook"),
    ("empty", "empty sheet"),
    ("missing", "missing required column LAW ENFORCEMENT AGENCY"),
    ("extra", "unknown column 'NOTES'"),
])
def test_bad_workbook_is_one_line_error_and_recorded(bad_build, kind, reason):
    result, db, names = bad_build
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if names[kind] in line]
    assert len(lines) == 1 and lines[0].startswith("error: ") and reason in lines[0], result.stderr
    pub = db.execute("select * from publications where file_name = ?", (names[kind],)).fetchone()
    assert pub["status"] == "rejected" and reason in pub["error"]
    assert db.execute("select count(*) from build_anomalies where publication_id = ? and kind = 'rejected'", (pub["id"],)).fetchone()[0] == 1


def test_unparseable_date_keeps_the_row_and_says_so(bad_build):
    result, db, names = bad_build
    pub = db.execute("select * from publications where file_name = ?", (names["baddate"],)).fetchone()
    assert pub["status"] != "rejected" and pub["row_count"] == 150
    a = db.execute("select * from build_anomalies where publication_id = ? and kind = 'unparseable_date'", (pub["id"],)).fetchone()
    assert a["sheet_rows"] == "6" and "sometime in 2020" in a["detail"]
    warning = [line for line in result.stderr.splitlines() if names["baddate"] in line]
    assert len(warning) == 1 and warning[0].startswith("warning: ") and "row 6" in warning[0]


def test_bad_files_cost_no_other_publication(bad_build, db):
    _, bad, names = bad_build
    good = {r["file"]: r["row_count"] for r in db.execute("select file, row_count from publications")}
    after = {r["file"]: r["row_count"] for r in bad.execute("select file, row_count from publications")}
    assert all(after[f] == n for f, n in good.items())
    assert len(after) == len(good) + 7  # six bad files and the truncated list
    assert bad.execute("select count(*) from agreements where status = 'active'").fetchone()[0] == 1560


def test_truncated_publication_is_kept_but_ends_nothing(bad_build, db):
    _, bad, _ = bad_build
    pub = bad.execute("select * from publications where file_name = ?", (TRUNCATED,)).fetchone()
    assert pub["status"] == "truncated" and pub["row_count"] == 300
    a = bad.execute("select * from build_anomalies where publication_id = ? and kind = 'truncated'", (pub["id"],)).fetchone()
    assert "300 rows against 1546 before and 1552 after" in a["detail"]
    # ICE's list as of that publication is what it printed...
    listed = bad.execute("select count(*) from listings where list = 'participating' and ? between first_seq and last_seq", (pub["seq"],)).fetchone()[0]
    assert listed == 300
    # ...but nothing ended or came back because of it.
    assert bad.execute("select count(*) from changes where publication_id = ?", (pub["id"],)).fetchone()[0] == 0
    # (the injected 2021 capture with an unreadable date does make one gap, for La Paz County: that row lost its date)
    gaps = "select agency, changed_at from changes where kind = 'gap' and changed_at >= '2025'"
    assert bad.execute(gaps).fetchall() == db.execute(gaps).fetchall()


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_rebuild_with_one_new_workbook_parses_one(tmp_path, cache_dir, build_result):
    data = copy_data(tmp_path / "data", skip={NEWEST})
    cache = tmp_path / "cache"
    newest_sha = _sha(DATA / "ice" / "participating" / NEWEST)
    shutil.copytree(cache_dir, cache, ignore=lambda d, names: [n for n in names if n.startswith((newest_sha, "lineage-"))])
    out = tmp_path / "287g.db"
    first = run_cli("build", "--data", data, "--out", out, "--cache", cache)
    assert first.returncode == 0 and "(0 workbooks parsed, 1121 from cache)" in first.stdout, first.stdout
    started = next(cache.glob("start-*.sqlite")).stat().st_mtime_ns
    shutil.copy(DATA / "ice" / "participating" / NEWEST, data / "ice" / "participating" / NEWEST)
    second = run_cli("build", "--data", data, "--out", out, "--cache", cache)
    assert second.returncode == 0 and "(1 workbook parsed, 1121 from cache)" in second.stdout, second.stdout
    conn = sqlite3.connect(out)
    pub = conn.execute("select id, published_at from publications where file_name = ?", (NEWEST,)).fetchone()
    added = conn.execute("select count(*) from changes where publication_id = ? and kind = 'added'", (pub[0],)).fetchone()[0]
    assert pub[1].startswith("2026-03-27") and added >= 8
    # The lineage walk resumed before the list it added, and the database is the cold build's, row for row.
    assert "lineage: resumed from its checkpoint after 213 of 215 distinct lists" in second.stderr, second.stderr
    # The second build began as a copy of the start file the first left (basedb.Start), and left it as it was.
    (start,) = cache.glob("start-*.sqlite")
    assert start.stat().st_mtime_ns == started
    # Without the checkpoints, the start file, nor what the writers keep of what they computed (the build's own search
    # entries, reach, evidence rows, county rows, document links, the lists no correction touches, the boilerplate
    # words): every table written by its writer, as the rebuild's copies must equal.
    walked = tmp_path / "walked"
    kept = ("lineage-", "start-", "base-entries-", "reach-", "evidence-rows-", "county-rows-", "document-links-", "clean-lists-", "boilerplate-")
    shutil.copytree(cache, walked, ignore=lambda d, names: [n for n in names if n.startswith(kept)])
    whole = run_cli("build", "--data", data, "--out", tmp_path / "whole.db", "--cache", walked)
    assert whole.returncode == 0 and "lineage: resumed" not in whole.stderr, whole.stderr
    assert _tables(out) == _tables(tmp_path / "whole.db")
    assert list(walked.glob("start-*.sqlite")) == [walked / start.name]  # made again from the base files, under the same key
    # ICE publishing the newest list again under the next day's name: a repeat, resumed at the same point.
    shutil.copy(DATA / "ice" / "participating" / NEWEST, data / "ice" / "participating" / "participatingAgencies03282026am.xlsx")
    third = run_cli("build", "--data", data, "--out", out, "--cache", cache)
    assert third.returncode == 0 and "lineage: resumed from its checkpoint after 214 of 215" in third.stderr, third.stderr


def _tables(path):
    """Every table's rows, sorted (FTS shadow tables left out: they index the tables)."""
    conn = sqlite3.connect(path)
    names = [n for (n,) in conn.execute("select name from sqlite_master where type = 'table' and name not like '%fts%' and name not like 'sqlite_%'")]
    out = {n: sorted(map(repr, conn.execute(f'select * from "{n}"'))) for n in names}
    conn.close()
    return out


def test_no_change_rebuild_is_skipped(tmp_path, cache_dir, db_path, snapshot_data):
    run_cli("build", "--data", snapshot_data, "--out", db_path, "--cache", cache_dir)  # in case the code changed meanwhile
    again = run_cli("build", "--data", snapshot_data, "--out", db_path, "--cache", cache_dir)
    assert again.returncode == 0
    assert again.stdout.startswith("up to date")
    assert "agreements: 1816 (1560 active" in again.stdout


# --- header rules on small made-up sheets (docs/OPERATIONS.md) ---------------------------------------
FULL = ["STATE", "LAW ENFORCEMENT AGENCY", "TYPE", "COUNTY", "SUPPORT TYPE", "SIGNED", "MOA", "ADDENDUM"]
ROW = ["TX", "Example County Sheriff's Office", "County", "Example County", "Jail Enforcement Model", "2025-02-03", "link", ""]


def test_a_new_column_beside_every_known_one_is_left_unread_and_reported(tmp_path):
    from open287g.read import read_workbook

    _workbook(tmp_path / "new.xlsx", [FULL + ["REGION"], ROW + ["South"], ROW[:1] + ["Other PD"] + ROW[2:] + ["West"]])
    r = read_workbook(tmp_path / "new.xlsx")
    assert [row.agency for row in r["rows"]] == ["Example County Sheriff's Office", "Other PD"]
    assert r["header"] == "|".join(FULL + ["REGION"])
    assert r["anomalies"] == (("unknown_column", 1, "column 'REGION' is not one the reader knows: left unread"),)


def test_a_new_column_with_a_known_one_absent_is_refused(tmp_path):
    from open287g.read import PublicationError, read_workbook

    # SIGNED renamed: reading on would lose every signing date without a word
    header = [c if c != "SIGNED" else "DATE SIGNED" for c in FULL]
    _workbook(tmp_path / "renamed.xlsx", [header, ROW])
    with pytest.raises(PublicationError, match=r"^unknown column 'DATE SIGNED' in header row 1, with SIGNED absent: it may be that column renamed$"):
        read_workbook(tmp_path / "renamed.xlsx")


PENDING_HEADER = ["STATE", "LAW ENFORCEMENT AGENCY", "TYPE", "COUNTY", "SUPPORT TYPE", "MOA"]  # ICE's pending list since January 2026
PENDING_ROW = ["TX", "Example County Sheriff's Office", "County", "Example County", "Warrant Service Officer", ""]


def test_a_new_column_beside_every_column_the_pending_list_prints_is_left_unread_and_reported(tmp_path):
    from open287g.read import read_workbook

    # The pending list has never printed SIGNED or ADDENDUM: their absence does not make a new column a rename.
    _workbook(tmp_path / "pending.xlsx", [PENDING_HEADER + ["PRIORITY"], PENDING_ROW + ["High"], PENDING_ROW[:1] + ["Other PD"] + PENDING_ROW[2:] + ["Low"]])
    r = read_workbook(tmp_path / "pending.xlsx")
    assert [row.agency for row in r["rows"]] == ["Example County Sheriff's Office", "Other PD"]
    assert [row.signed_on for row in r["rows"]] == [None, None] and "SIGNED" not in r["header"].split("|")
    assert r["anomalies"] == (("unknown_column", 1, "column 'PRIORITY' is not one the reader knows: left unread"),)


@pytest.mark.parametrize("header, rows, reason", [
    # MOA renamed on the pending list: the links would be lost without a word
    ([c if c != "MOA" else "MOA LINK" for c in PENDING_HEADER], [PENDING_ROW],
     r"^unknown column 'MOA LINK' in header row 1, with MOA absent: it may be that column renamed$"),
    # the participating list of March-June 2025 (no ADDENDUM) with SIGNED renamed: read on, it would be filed as the pending list
    (["STATE", "LAW ENFORCEMENT AGENCY", "TYPE", "COUNTY", "SUPPORT TYPE", "SIGNED ON", "MOA"],
     [ROW[:5] + ["2025-02-03", "link"], ROW[:1] + ["Other PD"] + ROW[2:5] + ["3/4/2025", ""]],
     r"^unknown column 'SIGNED ON' in header row 1 holds dates, with SIGNED absent: it may be SIGNED renamed$"),
])
def test_a_new_column_that_may_be_a_known_one_renamed_on_a_list_without_signed_is_refused(tmp_path, header, rows, reason):
    from open287g.read import PublicationError, read_workbook

    _workbook(tmp_path / "renamed.xlsx", [header, *rows])
    with pytest.raises(PublicationError, match=reason):
        read_workbook(tmp_path / "renamed.xlsx")


def test_title_rows_above_the_header_are_skipped_and_reported(tmp_path):
    from open287g.read import PublicationError, read_workbook

    _workbook(tmp_path / "title.xlsx", [["287(g) Participating Agencies"], [], ["As of 2026-04-01"], FULL, ROW])
    r = read_workbook(tmp_path / "title.xlsx")
    assert r["header_row"] == 4 and len(r["rows"]) == 1 and r["sheet_rows"] == (5,)
    assert r["anomalies"] == (("rows_above_header", 4, "2 non-blank row(s) above the header row 4 left unread"),)
    # no header in the first ten non-blank rows: refused, naming the first row as before
    _workbook(tmp_path / "none.xlsx", [[f"note {i}"] for i in range(10)] + [FULL, ROW])
    with pytest.raises(PublicationError, match=r"^missing required column STATE, LAW ENFORCEMENT AGENCY, SUPPORT TYPE \(header row 1: NOTE 0\)$"):
        read_workbook(tmp_path / "none.xlsx")


def test_cache_keys_follow_the_code_and_the_packages(tmp_path):
    """The parse cache is keyed by read.py's and xlsx.py's bytes and calamine's version, not a hand-bumped number."""
    import importlib.util

    from open287g import places, read, xlsx
    from open287g.cachekey import cache_key

    def load_copy(text, name):
        (tmp_path / name).write_text(text)
        spec = importlib.util.spec_from_file_location("open287g.xlsx", tmp_path / name)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    key = cache_key(read, xlsx, packages=("python-calamine",))
    assert read.extract_cache_file(tmp_path, "ab12").name == f"ab12.{key}.pickle" and len(key) == 16
    source = (ROOT / "open287g" / "xlsx.py").read_text()
    # the same bytes give the same key; one changed byte of xlsx.py, a new one
    assert cache_key(read, load_copy(source, "same.py"), packages=("python-calamine",)) == key
    assert cache_key(read, load_copy(source + "\n# changed\n", "changed.py"), packages=("python-calamine",)) != key
    # another module list, another package, or a package absent: each its own key
    others = {cache_key(read, packages=("python-calamine",)), cache_key(read, xlsx), cache_key(read, xlsx, packages=("pypdfium2",)),
              cache_key(read, xlsx, packages=("no-such-package-here",)), cache_key(places, packages=places.PACKAGES)}
    assert len(others) == 5 and key not in others
    # a key built on a module's imports follows them, read from its source: lineage's checkpoints change
    # with words.py (identity's normaliser) and rules.py (a table of constants), places' caches with words.py
    from open287g.cachekey import with_imports

    assert {"open287g.lineage", "open287g.identity", "open287g.words", "open287g.rules", "open287g.ids"} <= set(with_imports("open287g.lineage"))
    assert with_imports(places) == ("open287g.files", "open287g.places", "open287g.words")


def test_the_import_scan_finds_every_import_a_full_parse_finds():
    """cachekey reads a module's imports from its import lines alone; on every module of the package (and on
    made-up sources: nested, parenthesised, continued, in a docstring) it must find what a full parse finds."""
    import ast

    from open287g import cachekey

    def full(source):
        return sorted(ast.dump(n) for n in ast.walk(ast.parse(source)) if isinstance(n, (ast.Import, ast.ImportFrom)))

    def scanned(source):
        return sorted(ast.dump(n) for n in cachekey._import_nodes(source))

    made_up = (b"import os\nfrom . import (\n    a,\n    b,\n)\ndef f():\n    from .x import y  # lazy\n"
               b"    if 1:\n        import open287g.z as z\nfrom .w import \\\n    v\n")
    assert scanned(made_up) == full(made_up) and len(full(made_up)) == 5
    modules = sorted((ROOT / "open287g").rglob("*.py"))
    assert len(modules) > 40
    for path in modules:
        source = path.read_bytes()
        # a docstring line that reads like an import may add a statement, never lose one
        assert set(full(source)) <= set(scanned(source)), path.name


def test_the_build_prunes_cache_entries_of_other_code(odd_list, cache_dir):
    from open287g.read import extract_cache_file

    names = {p.name for p in cache_dir.iterdir()}
    assert not {f"{NEWEST_SHA}.v13.pickle", "places-index-d85efe9463ce.pickle", "places-d85efe9463ce.json"} & names
    odd = extract_cache_file(cache_dir, _sha(odd_list[2] / "ice" / "participating" / ODD))
    assert odd.name in names and sum(1 for _ in cache_dir.glob(extract_cache_file(cache_dir, "*").name)) >= 1123
    parsed = [n for n in names if re.fullmatch(r"[0-9a-f]{64}\.\w+\.pickle", n)]
    assert parsed and all(n.endswith(odd.name[64:]) for n in parsed)


def test_a_crash_exits_not_built(monkeypatch, tmp_path):
    """Python exits 1 on an uncaught exception, which would read as "built, some file refused"."""
    from click.testing import CliRunner

    from open287g import pipeline
    from open287g.cli import cli

    def crash(*args, **kwargs):
        raise KeyError("published_at")

    monkeypatch.setattr(pipeline, "run_build", crash)
    result = CliRunner().invoke(cli, ["build", "--data", str(tmp_path), "--out", str(tmp_path / "287g.db")])
    assert result.exit_code == pipeline.NOT_BUILT == 2
    assert "KeyError: 'published_at'" in result.output and "error: the build stopped; the database was not replaced" in result.output
    assert not (tmp_path / "287g.db").exists()
    helped = CliRunner().invoke(cli, ["build", "--help"])
    assert "1  built, some file refused" in helped.output and "2  not built" in helped.output


def test_footnote_below_the_list_is_recorded_and_counted_alike_by_fetch_and_build(tmp_path):
    from open287g.fetch import summarise
    from open287g.read import read_workbook

    other = ROW[:1] + ["Other PD"] + ROW[2:]
    rows = [["287(g) Participating Agencies"], FULL, ROW, [None] * 8, other, ["", "  "], ["* Source: ICE, as of 2026-04-01"], [None, None, None, None, None, None, "", "see note"]]
    _workbook(tmp_path / "foot.xlsx", rows)
    r = read_workbook(tmp_path / "foot.xlsx")
    assert [row.agency for row in r["rows"]] == ["Example County Sheriff's Office", "Other PD"] and r["sheet_rows"] == (3, 5)
    assert r["blank_rows"] == 2
    assert [a for a in r["anomalies"] if a[0] == "footnote"] == [
        ("footnote", 7, "'* Source: ICE, as of 2026-04-01' below the list, naming no agency or support type: left unread"),
        ("footnote", 8, "'see note' below the list, naming no agency or support type: left unread")]
    # the manifest's count is the build's: two data rows, the header as printed
    assert summarise(tmp_path / "foot.xlsx") == (2, "|".join(FULL), None)
    # a row naming no agency between two listings is a row (an empty agency), not a note
    _workbook(tmp_path / "mid.xlsx", [FULL, ROW, ["TX"], other])
    assert [row.agency for row in read_workbook(tmp_path / "mid.xlsx")["rows"]] == ["Example County Sheriff's Office", "", "Other PD"]
    # a file the build refuses is still stored by fetch, its rows uncounted and the reason kept
    _workbook(tmp_path / "renamed.xlsx", [[c if c != "SIGNED" else "DATE SIGNED" for c in FULL], ROW])
    assert summarise(tmp_path / "renamed.xlsx") == (None, "", "unknown column 'DATE SIGNED' in header row 1, with SIGNED absent: it may be that column renamed")


def test_a_misspelt_state_is_the_one_state_it_misspells():
    from open287g.read import _interpret

    def read(state):
        row, found = _interpret(("state", "agency", "support_type"), (state, "Lake County Sheriff's Office", "Task Force Model"), None, None)
        return row.state_code, [kind for kind, _ in found]

    assert read("TENNESSEE") == ("TN", [])
    assert read("TENNESEE") == ("TN", ["state_misspelt"]) and read("Virgina") == ("VA", ["state_misspelt"])
    assert read("ARKANSA") == ("AR", ["state_misspelt"])  # not Kansas
    assert read("NOWHERE") == (None, []) and read("") == (None, [])  # unknown_state, flagged after the corrections


def test_levels_are_read_from_the_words_for_one_level():
    from open287g.read import level_of

    assert [level_of(t) for t in ("County ", "Muncipality", "State Agency", "City", "Township", "Parish")] == [
        "County", "Municipality", "State", "Municipality", "Municipality", "County"]
    assert level_of("#NA") is None and level_of("Tribal") is None  # an unknown_level anomaly


def test_model_spellings_are_read_only_when_one_model_is_meant():
    from open287g.read import model_of

    read = {t: model_of(t) for t in ["Task Force Model", "Jail Enforcment Model", "Task Force Model (TFM)", "287(g) Jail Enforcement Model",
                                     "WSO", "Warrant Service Officer (WSO) program", "task-force model"]}
    assert read == {"Task Force Model": "Task Force Model", "Jail Enforcment Model": "Jail Enforcement Model",
                    "Task Force Model (TFM)": "Task Force Model", "287(g) Jail Enforcement Model": "Jail Enforcement Model",
                    "WSO": "Warrant Service Officer", "Warrant Service Officer (WSO) program": "Warrant Service Officer",
                    "task-force model": "Task Force Model"}
    # the program's name and plurals read past
    assert [model_of(t) for t in ("WSO Program", "Warrant Service Officers", "Jail Enforcement Models")] == [
        "Warrant Service Officer", "Warrant Service Officer", "Jail Enforcement Model"]
    # two models, a code that contradicts the name, or nothing known: not read (an unknown_model anomaly)
    for text in ["Jail Enforcement Model / Task Force Model", "Task Force Model (JEM)", "Task Force", "", "Pending"]:
        assert model_of(text) is None, text


def test_dates_in_file_names_ice_has_not_used_yet_are_read():
    import datetime

    from open287g.dating import name_date

    am = datetime.datetime(2026, 4, 15, 9)
    for name in ["participatingAgencies04152026am.xlsx", "participating_agencies_04-15-2026_am.xlsx",
                 "Participating Agencies 04.15.2026 AM.xlsx", "participatingAgencies-2026-04-15-am.xlsx"]:
        assert name_date(name) == (am, "ICE file name", "am"), name
    assert name_date("pendingAgencies04152026.xlsx")[0] == datetime.datetime(2026, 4, 15, 12)
    # an archive capture time is still read as one, and a name without a date gives none
    assert name_date("participatingAgencies-20250224183354.xlsx")[1] == "archive capture time in file name"
    assert name_date("participatingAgencies.xlsx") == (None, None, None)
    assert name_date("participatingAgencies13402026.xlsx") == (None, None, None), "month 13 is not a date"


def test_a_capture_time_in_a_file_name_is_read_as_strptime_reads_it():
    """dating.name_date cuts the 14 digits in their places and leaves what is not a real time to strptime."""
    import datetime

    from open287g.dating import name_date

    for digits in ("20250224183354", "20211231235959", "20240229000000", "20251301000000", "20250230120000", "20250101246000", "99999999999999"):
        try:
            expected = (datetime.datetime.strptime(digits, "%Y%m%d%H%M%S"), "archive capture time in file name", None)
        except ValueError:
            expected = (None, None, None)
        assert name_date(f"participatingAgencies-{digits}.xlsx") == expected, digits
    assert name_date("participatingAgencies-20250224183354.xlsx")[0] == datetime.datetime(2025, 2, 24, 18, 33, 54)


def test_signing_dates_with_month_names_are_read():
    from open287g.read import parse_date

    for text in ["March 27, 2026", "Mar 27, 2026", "27-Mar-2026", "27-Mar-26", "27 March 2026", "Mar. 27, 2026"]:
        assert parse_date(text) == ("2026-03-27", False), text
    assert parse_date("Sept 3, 2025") == ("2025-09-03", False)
    with pytest.raises(ValueError, match="is not a date"):
        parse_date("Marchember 27, 2026")


def _pub(name, saved=None, keys=frozenset({"a", "b"})):
    from open287g.dating import name_date

    when, source, slot = name_date(name)
    return {"file_name": name, "published_at": when, "date_source": source, "slot": slot, "keys": set(keys), "fingerprint": None,
            "found": [], "saved_at": saved, "capture_utc": None}  # dating's scratch record: what it found goes in "found"


def test_a_name_date_days_before_the_save_is_corrected_by_the_save_time():
    """Rule saved_time on made-up publications: ICE's January habit, participatingAgencies01052025pm saved in 2026."""
    from open287g.dating import Similarity, _fix_typed_dates

    list_ = [_pub("participatingAgencies12152025am.xlsx", "2025-12-14T10:00:00"),
             _pub("participatingAgencies12302025am.xlsx", "2025-12-29T10:00:00")]
    typo = _pub("participatingAgencies01052025pm.xlsx", "2026-01-05T20:22:43")
    late_save = _pub("participatingAgencies12202025am.xlsx", "2025-12-21T19:28:12")  # saved 1.4 days after its name date
    unexplained = _pub("participatingAgencies06102025am.xlsx", "2025-12-01T08:00:00")  # no one-year or one-month slip fits
    _fix_typed_dates(list_ + [typo, late_save, unexplained], Similarity())
    assert str(typo["published_at"]) == "2026-01-05 17:00:00"
    assert typo["date_source"] == "ICE file name, date corrected from its save time"
    assert typo["found"] == [("typo_year", None, "file name says 2025-01-05, but the file was saved on 2026-01-05; date corrected to 2026-01-05")]
    assert str(late_save["published_at"]) == "2025-12-20 09:00:00" and late_save["date_source"] == "ICE file name"
    assert str(unexplained["published_at"]) == "2025-06-10 09:00:00"
    assert unexplained["found"][0][0] == "date_far_from_neighbours" and "saved on 2025-12-01" in unexplained["found"][0][2]


def test_similarities_are_kept_by_fingerprint_and_reused_by_the_next_build(tmp_path, monkeypatch):
    """dating.Similarity: a pair compared once is not compared again, in either order, and a second build given the
    first's pairs, kept in the cache as pipeline.kept_similarities keeps them, computes none and dates alike."""
    from open287g import dating
    from open287g.dating import Similarity, _fix_typed_dates
    from open287g.pipeline import kept_similarities

    def made():
        # each week's list adds an agency; January 2026's list, mistyped 2025, adds a fifth
        days = (1, 8, 15, 22)
        pubs = [_pub(f"participatingAgencies12{day:02d}2025am.xlsx", keys=set(days[:i + 1])) for i, day in enumerate(days)]
        pubs.append(_pub("participatingAgencies01052025pm.xlsx", keys={*days, 29}))
        for p in pubs:
            p["fingerprint"] = repr(sorted(p["keys"]))
        return pubs

    first = Similarity(kept_similarities(tmp_path, "rows-1"))
    assert first(made()[1], made()[3]) == first(made()[3], made()[1]) == 2 / 4 and len(first.answers.used) == 1
    cold, warm = made(), made()
    _fix_typed_dates(cold, first)
    first.answers.save()
    second = Similarity(kept_similarities(tmp_path, "rows-1"))
    monkeypatch.setattr(dating, "jaccard", lambda *a: pytest.fail("compared a pair the cache holds"))
    _fix_typed_dates(warm, second)
    assert second.answers.used == first.answers.used and len(first.answers.used) > 1
    assert Similarity(kept_similarities(tmp_path, "rows-2")).answers.kept == {}  # other rows: nothing kept applies
    assert [(p["published_at"], p["found"]) for p in warm] == [(p["published_at"], p["found"]) for p in cold]
    assert str(cold[-1]["published_at"]) == "2026-01-05 17:00:00"  # the content fits a year later far better


def test_the_save_time_is_read_from_the_workbook(tmp_path):
    from open287g.xlsx import saved_at

    assert saved_at(DATA / "ice" / "participating" / "participatingAgencies01052025pm.xlsx") == "2026-01-05T20:22:43"
    (tmp_path / "not.xlsx").write_bytes(b"<html>")
    assert saved_at(tmp_path / "not.xlsx") is None


# --- ICE's next list with a sheet of totals before it, a title above the header and a note below the list (issue 21) ---
ODD = "participatingAgencies03302026am.xlsx"
ODD_TITLE = "287(g) Participating Agencies as of March 30, 2026"
ODD_NOTE = "Source: U.S. Immigration and Customs Enforcement. Agencies listed had an active 287(g) agreement on the date above."
ODD_STATE = "TENNESEE"
# ICE's list of 2 March 2026 carries a sheet of totals after the list (its first rows, as printed); this one puts it first
ODD_TOTALS = [["Total", "", "JEM", "", "TFM", "", "WSO"], ["ALABAMA", "", "ALABAMA", "", "ALABAMA", "", "ALABAMA"], ["ALASKA", "", "ARIZONA", "", "ARIZONA", "", "ALASKA"]]
PENDING = "pending/pendingAgencies02272026am.xlsx"  # 2 data rows
# and the pending list again the same day with a column ICE has never printed (rule unknown_column)
ODD_PENDING = "pendingAgencies03302026am.xlsx"
ODD_COLUMN = "FIELD OFFICE"
NEWEST_SHA = "2fdce17" + "0" * 57  # a made-up sha256 for a stale cache entry


@pytest.fixture(scope="module")
def odd_list(tmp_path_factory, cache_dir, build_result):
    """The snapshot plus ICE's newest list again as the next day's, with a title row above the header and
    a note below the list, its MANIFEST line from the fetcher's summarise; and the pending list's
    manifest line miscounted. Built once, with the session's parse cache."""
    from open287g.fetch import read_manifest, summarise, write_manifest

    root = tmp_path_factory.mktemp("odd")
    data = copy_data(root / "data")
    path = data / "ice" / "participating" / ODD
    real = real_rows(DATA / "ice" / "participating" / NEWEST)  # its header, 1560 rows, then 10 blank-but-formatted rows
    # and ICE's next typo in a state's name (rule state_misspelt): Tennessee's rows printed "TENNESEE"
    real = [[ODD_STATE if j == 0 and value == "TENNESSEE" else value for j, value in enumerate(r)] for r in real]
    _workbook(path, [[ODD_TITLE], []] + real + [[], [ODD_NOTE]], before=[("Totals", ODD_TOTALS)])
    data_rows, header, refused = summarise(path)
    pending = data / "ice" / "pending" / ODD_PENDING
    _workbook(pending, [r + ([ODD_COLUMN] if i == 0 else ["Dallas"] if any(r) else [None]) for i, r in enumerate(real_rows(DATA / "ice" / PENDING))])
    header_names, rows, terminator = read_manifest(data / "ice" / "MANIFEST.csv")
    column = {name: i for i, name in enumerate(header_names)}
    rows[[r[0] for r in rows].index(PENDING)][column["data_rows"]] = "3"
    line = {"file": f"participating/{ODD}", "original_name": ODD, "sha256": _sha(path), "bytes": str(path.stat().st_size),
            "data_rows": str(data_rows), "header": header, "capture_utc": "2026-03-30T14:05:00Z", "archived_by": "fetched from ICE's page"}
    pending_rows, pending_header, _ = summarise(pending)
    pending_line = {**line, "file": f"pending/{ODD_PENDING}", "original_name": ODD_PENDING, "sha256": _sha(pending),
                    "bytes": str(pending.stat().st_size), "data_rows": str(pending_rows), "header": pending_header}
    write_manifest(data / "ice" / "MANIFEST.csv", header_names, rows + [line, pending_line], terminator)
    # entries an older reader and geocoder left in the cache
    for stale in (f"{NEWEST_SHA}.v13.pickle", "places-index-d85efe9463ce.pickle", "places-d85efe9463ce.json"):
        (cache_dir / stale).write_bytes(b"old")
    result = run_cli("build", "--data", data, "--out", root / "287g.db", "--cache", cache_dir)
    db = sqlite3.connect(root / "287g.db")
    db.row_factory = sqlite3.Row
    return result, db, data, (data_rows, header, refused), len(real)


def test_the_odd_next_list_builds_clean_and_is_the_newest(odd_list):
    result, db, _, summary, _ = odd_list
    assert summary == (1560, "STATE|LAW ENFORCEMENT AGENCY|TYPE|COUNTY|SUPPORT TYPE|SIGNED|MOA|ADDENDUM", None)
    assert result.returncode == 0, result.stderr  # built, no file refused
    assert f"latest participating list: {ODD} (2026-03-30, 1560 rows)" in result.stdout
    pub = db.execute("select * from publications where file_name = ?", (ODD,)).fetchone()
    assert (pub["row_count"], pub["manifest_rows"], pub["header"]) == (1560, 1560, summary[1]), dict(pub)
    assert db.execute("select count(*) from listings where list = 'participating' and ? between first_seq and last_seq", (pub["seq"],)).fetchone()[0] == 1560
    assert db.execute("select count(*) from agreements where status = 'active'").fetchone()[0] == 1560
    assert db.execute("select count(*) from qa_checks where passed = 0").fetchone()[0] == 0


def test_a_pending_list_with_a_new_column_is_built_with_the_column_left_unread(odd_list):
    result, db, _, _, _ = odd_list
    pub = db.execute("select * from publications where file_name = ?", (ODD_PENDING,)).fetchone()
    last = db.execute("select id from publications where file = ?", (PENDING,)).fetchone()["id"]
    # read, not refused: its two rows are the last pending list's, so it is that list again (rule republished_duplicate)
    assert (pub["status"], pub["list"], pub["row_count"], pub["manifest_rows"], pub["duplicate_of"]) == ("duplicate", "pending", 2, 2, last), dict(pub)
    assert pub["header"] == f"STATE|LAW ENFORCEMENT AGENCY|TYPE|COUNTY|SUPPORT TYPE|MOA|{ODD_COLUMN}"
    (anomaly,) = db.execute("select kind, sheet_rows, detail from build_anomalies where publication_id = ? and kind = 'unknown_column'", (pub["id"],))
    assert tuple(anomaly) == ("unknown_column", "1", f"column {ODD_COLUMN!r} is not one the reader knows: left unread")
    assert f"warning: pending/{ODD_PENDING}: unknown_column: " in result.stderr


def test_the_title_and_the_note_are_recorded_not_read_as_agencies(odd_list):
    result, db, _, _, real = odd_list
    pub = db.execute("select id, blank_rows from publications where file_name = ?", (ODD,)).fetchone()
    kinds = {r["kind"]: r for r in db.execute("select * from build_anomalies where publication_id = ?", (pub["id"],))}
    assert set(kinds) >= {"rows_above_header", "footnote", "state_misspelt", "other_sheets"} and "unknown_state" not in kinds and "unknown_model" not in kinds
    # rule list_sheet: the sheet of totals before the list is left unread, and said so
    assert kinds["other_sheets"]["detail"] == "the list is sheet 'Sheet1' (2 of 2); sheet 'Totals' before it, naming no header: left unread"
    assert db.execute("select sheet from publications where id = ?", (pub["id"],)).fetchone()[0] == "Sheet1"
    # Tennessee's agreements go on: none ended, none added under another key
    assert kinds["state_misspelt"]["detail"].startswith(f"STATE {ODD_STATE!r} read as TN")
    assert not db.execute("select 1 from changes where publication_id = ? and kind in ('ended', 'added')", (pub["id"],)).fetchall()
    assert kinds["rows_above_header"]["sheet_rows"] == "3"  # the header, under the title and a blank row
    assert kinds["footnote"]["sheet_rows"] == str(2 + real + 2) and ODD_NOTE in kinds["footnote"]["detail"]
    assert pub["blank_rows"] == real - 1 - 1560 + 1  # the real file's blank rows and the one above the note
    assert kinds["footnote"]["action"] == "note below the list left unread; not an agency"
    assert db.execute("select count(*) from listings where agency like 'Source:%' or state like 'Source:%' or agency like '287(g)%'").fetchone()[0] == 0
    assert f"warning: participating/{ODD}: footnote: " in result.stderr


def test_the_sheet_after_an_ice_list_is_recorded_and_the_list_read(db):
    # Rule list_sheet on the real files: one workbook of 1,122 holds two sheets, its list and a sheet of totals after it
    found = db.execute("select p.file_name, p.sheet, p.row_count, a.detail from build_anomalies a join publications p on p.id = a.publication_id "
                       "where a.kind = 'other_sheets'").fetchall()
    assert [tuple(r) for r in found] == [("participatingAgencies03022026am.xlsx", "Sheet1", 1499,
                                          "the list is sheet 'Sheet1' (1 of 2); sheet 'Sheet2' after it: left unread")]
    # the page tables' sheet is named by the third party that made them; the roster's captures have none
    assert dict(db.execute("select sheet, count(*) from publications group by sheet").fetchall()) == {
        "287(g) Agreements": 658, "Sheet1": 283, "Sheet 1": 181, None: 33}


def test_a_manifest_row_count_that_differs_is_recorded_and_built(odd_list):
    result, db, _, _, _ = odd_list
    pub = db.execute("select * from publications where file = ?", (PENDING,)).fetchone()
    assert (pub["row_count"], pub["manifest_rows"]) == (2, 3)
    a = db.execute("select * from build_anomalies where publication_id = ? and kind = 'manifest_rows_differ'", (pub["id"],)).fetchone()
    assert a["detail"] == "2 data rows read; MANIFEST.csv records 3"
    check = db.execute("select * from qa_checks where \"check\" like 'row counts that differ from MANIFEST.csv%'").fetchone()
    assert (check["expected"], check["found"], check["passed"], check["detail"]) == ("1", "1", 1, PENDING)
    assert f"warning: {PENDING}: manifest_rows_differ: 2 data rows read; MANIFEST.csv records 3" in result.stderr


def test_the_odd_next_list_passes_the_gates(odd_list, db_path):
    _, db, data, _, _ = odd_list
    r = run_cli("gates", "--db", db.execute("pragma database_list").fetchone()["file"], "--data", data, "--previous", db_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("gates passed: ") and "1,560 active agreements (1,560 published)" in r.stdout


def test_fetching_the_odd_list_counts_the_rows_the_build_reads(odd_list, tmp_path):
    from ice_server import Server
    from open287g.fetch import fetch

    _, db, data, _, _ = odd_list
    target = tmp_path / "data"
    for folder in ("participating", "pending"):
        (target / "ice" / folder).mkdir(parents=True)
    server = Server()
    try:
        url = server.serve({ODD: ("bytes", (data / "ice" / "participating" / ODD).read_bytes())})
        lines = []
        result = fetch(url, target, echo=lines.append, timeout=2.0, retries=0, backoff=0.01)
    finally:
        server.close()
    built = db.execute("select row_count, header from publications where file_name = ?", (ODD,)).fetchone()
    assert result.ok and [(s.file, s.data_rows) for s in result.new] == [(f"participating/{ODD}", built["row_count"])]
    assert lines == [f"new participating/{ODD} (1,560 rows)"]
    with open(target / "ice" / "MANIFEST.csv", newline="", encoding="utf-8") as f:
        (row,) = list(csv.DictReader(f))
    assert row["data_rows"] == "1560" and row["header"].upper() == built["header"]


def test_corrections_return_new_rows_so_a_second_build_in_one_process_applies_them_again():
    """Rows are shared by every publication printing them (read's memo); a correction must not rewrite them."""
    from dataclasses import replace

    from open287g.fixes import apply_corrections, load_corrections
    from open287g.read import read_workbook
    from open287g.records import Publication

    name = "participatingAgencies02272026am.xlsx"
    # The real line, sending the rows to a made-up state: the reader itself reads them as Pennsylvania (state_misspelt).
    corrections = [{**c, "right": "OHIO"} for c in load_corrections(DATA / "corrections.csv") if c["wrong"] == "PENNSLYVANIA"]
    base = Publication(path=None, file=f"participating/{name}", file_name=name, original_name=name, folder="participating",
                       source_kind="participating", bytes=0)
    r = read_workbook(DATA / "ice" / "participating" / name)
    pub = replace(base, **{k: v for k, v in r.items() if k != "header_row"})
    (first,), report, _ = apply_corrections([pub], corrections)
    (again,), report_again, _ = apply_corrections([replace(base, **{k: v for k, v in read_workbook(DATA / "ice" / "participating" / name).items() if k != "header_row"})], corrections)
    touched = report[0]["rows_touched"]
    assert touched == report_again[0]["rows_touched"] and touched > 60  # ICE misspelt Pennsylvania on 69 rows of that file
    fixed = [row for row in first.rows if row.state == "PENNSLYVANIA"]
    assert len(fixed) == touched and {row.state_code for row in fixed} == {"OH"}
    # the rows as read are untouched: without the correction they are the reader's Pennsylvania
    (plain,), _, _ = apply_corrections([pub], [])
    assert {row.state_code for row in plain.rows if row.state == "PENNSLYVANIA"} == {"PA"}


def test_a_state_correction_narrowed_to_a_signing_date_moves_only_that_row_and_says_where():
    """Rule corrected_ids' input: ICE printed Moore County Sheriff's Office (Texas) a second time under Tennessee."""
    from dataclasses import replace

    from open287g.fixes import apply_corrections, moved_keys
    from open287g.read import read_workbook
    from open287g.records import Publication

    name = "participatingAgencies08022025pm.xlsx"
    base = Publication(path=None, file=f"participating/{name}", file_name=name, original_name=name, folder="participating",
                       source_kind="participating", bytes=0)
    pub = replace(base, **{k: v for k, v in read_workbook(DATA / "ice" / "participating" / name).items() if k != "header_row"})
    line = {"column": "state", "wrong": "TENNESSEE", "right": "TEXAS", "agency": "Moore County Sheriff's Office",
            "signed_on": "2025-08-28", "reason": "r", "source": "s"}
    (fixed,), [report], printed = apply_corrections([pub], [line])
    moved = moved_keys(printed)
    assert report["rows_touched"] == 1
    assert moved == [(("TN", "moore county sheriffs office", "WSO", "2025-08-28"), ("TX", "moore county sheriffs office", "WSO", "2025-08-28"))]
    assert [r.state_code for r in fixed.rows if r.agency == "Moore County Sheriff's Office"] == ["TX", "TX"]
    (_,), [other_day], printed = apply_corrections([pub], [{**line, "signed_on": "2025-11-06"}])
    moved = moved_keys(printed)
    assert other_day["rows_touched"] == 0 and moved == []


def test_a_hand_kept_line_with_a_cell_too_many_is_named(tmp_path):
    from open287g.fixes import CorrectionsError, load_corrections

    bad = tmp_path / "corrections.csv"
    bad.write_text("column,wrong,right,agency,signed_on,reason,source\n"
                   "state,UTAHJ,UTAH,,,stray keystroke,ICE's list, row 12\n", encoding="utf-8")
    with pytest.raises(CorrectionsError, match=r"corrections.csv line 2: 1 cell\(s\) more than the header has columns"):
        load_corrections(bad)
    bad.write_text("column,wrong,right,agency,signed_on,reason,source\nstate,UTAHJ,UTAH,,28 Aug 2025,why,where\n", encoding="utf-8")
    with pytest.raises(CorrectionsError, match="line 2: signed_on narrows a line to rows signed that day"):
        load_corrections(bad)


def test_lists_no_correction_touches_are_kept_and_left_unread_by_the_next_build(tmp_path, monkeypatch):
    """pipeline.correct keeps the fingerprints of the lists no hand correction touches (kept_clean_lists): the next build
    with the same lines and code checks only the others, with the same publications and report as checking them all."""
    from dataclasses import replace
    from types import SimpleNamespace

    from open287g import fixes, pipeline
    from open287g.fixes import load_corrections
    from open287g.read import read_workbook
    from open287g.records import Publication

    def pub(name):
        base = Publication(path=None, file=f"participating/{name}", file_name=name, original_name=name, folder="participating",
                           source_kind="participating", bytes=0, id=name)
        return replace(base, **{k: v for k, v in read_workbook(DATA / "ice" / "participating" / name).items() if k != "header_row"})

    # The Pennsylvania line touches the first file (68 rows); neither of the two later ones prints that misspelling.
    pubs = tuple(pub(n) for n in ("participatingAgencies02272026am.xlsx", "participatingAgencies03272026am.xlsx", "participatingAgencies08022025pm.xlsx"))
    corrections = [c for c in load_corrections(DATA / "corrections.csv") if c["wrong"] == "PENNSLYVANIA"]
    inputs = SimpleNamespace(corrections=corrections)
    kept = pipeline.kept_clean_lists(tmp_path, pipeline.rows_key(corrections))
    plain = pipeline.correct(SimpleNamespace(publications=pubs), inputs)
    first = pipeline.correct(SimpleNamespace(publications=pubs), inputs, kept)
    assert first == plain and plain.report[0]["rows_touched"] == 68
    assert kept.load(lambda v: True) == {pubs[1].fingerprint, pubs[2].fingerprint}
    checked = []
    real = fixes.apply_corrections
    monkeypatch.setattr(fixes, "apply_corrections", lambda ps, cs, clean=frozenset(): (checked.append(
        [p.file_name for p in ps if p.fingerprint not in clean]), real(ps, cs, clean))[1])
    assert pipeline.correct(SimpleNamespace(publications=pubs), inputs, kept) == plain
    assert checked == [["participatingAgencies02272026am.xlsx"]]
    # A list named clean is left as it is, unread: what makes the kept fingerprints worth keeping.
    (left,), [report], _ = real(pubs[:1], corrections, frozenset({pubs[0].fingerprint}))
    assert left is pubs[0] and report["rows_touched"] == 0
