"""Checks the committed seed CSVs against the May 2024 page text they were extracted from."""
import csv
import importlib.util
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
SEEDS = ROOT / "data" / "seeds"
PAGE = SEEDS / "ice_287g_page_2024-05.txt"


def read_csv(name):
    with open(SEEDS / name, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def page_lines():
    return PAGE.read_text(encoding="utf-8").split("\n")


def test_page_is_the_seed_and_says_may_2024():
    text = PAGE.read_text(encoding="utf-8")
    assert "As of May 2024" in text
    assert "JEM agreements with 60 law enforcement agencies" in text


def test_moa_row_count_matches_page():
    lines = page_lines()
    # Independent count: the table lines above the meetings section, minus header and separator.
    end = lines.index("Steering Committee Meetings")
    state_rows = [l for l in lines[:end]
                  if re.match(r"^[A-Z][A-Z .]+ \| ", l) and not l.startswith("STATE |")]
    rows = read_csv("historical_moa_2024.csv")
    assert len(rows) == len(state_rows) == 135
    # 60 JEM + 75 WSO agencies per the page's own summary; rows are agreements, so at least that.
    assert {r["support_type"] for r in rows} == {"Jail Enforcement Model", "Warrant Service Officer"}


def test_meeting_row_count_matches_page():
    lines = page_lines()
    start = lines.index("Steering Committee Meetings")
    table_rows = [l for l in lines[start:]
                  if l.count("|") == 4 and not l.startswith("MOA Name") and not l.startswith("---")]
    rows = read_csv("steering_committee_meetings.csv")
    assert len(rows) == len(table_rows) == 94
    by_year = {}
    for r in rows:
        by_year[r["fiscal_year"]] = by_year.get(r["fiscal_year"], 0) + 1
    assert by_year == {"2025": 2, "2024": 55, "2023": 37}


def test_source_lines_point_at_the_printed_row():
    lines = page_lines()
    for name, key in (("historical_moa_2024.csv", "agency"), ("steering_committee_meetings.csv", "moa_name")):
        for r in read_csv(name):
            line = lines[int(r["source_line"]) - 1]
            assert line.split("|")[1 if key == "agency" else 0].strip() == r[key], (name, r)


def test_etowah_row():
    rows = read_csv("historical_moa_2024.csv")
    etowah = [r for r in rows if r["agency"] == "Etowah County Sheriff's Office"]
    assert len(etowah) == 1
    r = etowah[0]
    assert (r["state"], r["support_type"], r["signed"], r["moa"]) == (
        "ALABAMA", "Jail Enforcement Model", "2020-06-09", "link")
    assert r["source_line"] == "18"


def test_addendum_cells_are_kept():
    rows = read_csv("historical_moa_2024.csv")
    with_addendum = sorted(r["agency"] for r in rows if r["addendum"])
    assert with_addendum == ["Aransas County Sheriff's Office", "Montgomery County Sheriff’s Office",
                             "Nueces County Sheriff's Office"]


def test_values_kept_as_printed():
    rows = read_csv("steering_committee_meetings.csv")
    names = [r["moa_name"] for r in rows]
    for typo in ("Albemarele District Jail", "Wakula County", "Fredrick County Sheriff's Office"):
        assert typo in names
    # Curly apostrophe kept as printed.
    assert rows[0]["moa_name"] == "Floyd County Sheriff’s Office"
    assert rows[0]["meeting_date"] == "02/12/2025"
    hernando = [r for r in rows if r["fiscal_year"] == "2023"
                and r["moa_name"] == "Hernando County Sheriff's Office" and r["meeting_date"] == "04/17/2023"]
    assert len(hernando) == 2
    fy2025 = [r for r in rows if r["fiscal_year"] == "2025"]
    assert [r["moa_name"] for r in fy2025] == ["Floyd County Sheriff’s Office", "Cabarrus County Sheriff's Office"]
    alamance = next(r for r in rows if r["moa_name"] == "Alamance County")
    assert (alamance["fiscal_year"], alamance["meeting_date"], alamance["location"], alamance["model"]) == (
        "2024", "12/6/2023", "Virtual", "WSO")
    assert {r["model"] for r in rows} == {"JEM", "WSO"}
    assert {r["location"] for r in rows} == {"Virtual", "In Person"}


def test_script_regenerates_committed_csvs(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("extract_seed_tables", ROOT / "scripts" / "extract_seed_tables.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    monkeypatch.setattr(mod, "MOA_CSV", tmp_path / "moa.csv")
    monkeypatch.setattr(mod, "MEETINGS_CSV", tmp_path / "meetings.csv")
    mod.main(["extract_seed_tables.py"])
    assert (tmp_path / "moa.csv").read_bytes() == (SEEDS / "historical_moa_2024.csv").read_bytes()
    assert (tmp_path / "meetings.csv").read_bytes() == (SEEDS / "steering_committee_meetings.csv").read_bytes()


def test_meetings_are_linked_on_evidence_and_say_how(sql):
    """Misspellings, abbreviations and bare county names are linked only when one candidate held the
    meeting's model on ICE's list on the meeting's date; the way each was linked is recorded."""
    linked = dict(((line, (name, state)) for line, name, state in sql(
        "select m.source_line, a.name, a.state_code from steering_committee_meetings m join agencies a on a.id = m.agency_id")))
    assert linked[257] == ("Frederick County Sheriff's Office", "MD")  # printed "Fredrick"
    assert linked[186] == ("Wakulla County Sheriff's Office", "FL")  # printed "Wakula County"
    assert linked[183] == ("Alaska Department of Corrections", "AK")  # printed "AKDOC"
    assert linked[194] == ("Kodiak Police Department", "AK")  # printed "Kodiak PD"
    assert linked[176] == ("Jefferson County Sheriff's Office", "FL")  # printed "Jefferson County"
    (match, detail), = sql("select match, match_detail from steering_committee_meetings where source_line = 176")
    assert match == "the only candidate holding the model on the meeting date"
    assert "only Jefferson County Sheriff's Office (FL) held a WSO agreement on ICE's list on 2024-01-19" in detail
    # every link made beyond the name says why; anything left unlinked says why too
    for match, detail, agency in sql("select match, match_detail, agency_id from steering_committee_meetings"):
        assert match.startswith(("one agency with this name", "the only candidate")) == (agency is not None)
        assert detail or match.startswith("one agency with this name")


def test_meeting_candidates_kept_in_the_cache_link_as_computed_ones(db_path, tmp_path, monkeypatch):
    """seeds.link_meetings on the built database with its evidence links undone: with a cache under the search
    index's key it links as without one, then links again from the cache alone; another key searches again."""
    import shutil
    import sqlite3

    from open287g import seeds

    def unlinked_copy(name):
        path = tmp_path / name
        shutil.copy(db_path, path)
        with sqlite3.connect(path) as conn:
            n = conn.execute("update steering_committee_meetings set agency_id = null, match = null, match_detail = null "
                             "where match = 'the only candidate holding the model on the meeting date'").rowcount
        assert n == 20
        return path

    def links(path):
        with sqlite3.connect(path) as conn:
            return conn.execute("select source_line, agency_id, match, match_detail from steering_committee_meetings order by 1").fetchall()

    assert seeds.link_meetings(unlinked_copy("a.db")) == 20
    computed = links(tmp_path / "a.db")
    assert computed == links(db_path)
    cache = tmp_path / "cache"
    assert seeds.link_meetings(unlinked_copy("b.db"), cache, "k1") == 20 and links(tmp_path / "b.db") == computed
    assert len(list(cache.glob("meetings-*.pickle"))) == 1
    monkeypatch.setattr(seeds, "_candidates", lambda db, name: pytest.fail(f"searched for {name!r}, which the cache holds"))
    assert seeds.link_meetings(unlinked_copy("c.db"), cache, "k1") == 20 and links(tmp_path / "c.db") == computed
    with pytest.raises(pytest.fail.Exception):
        seeds.link_meetings(unlinked_copy("d.db"), cache, "k2")
