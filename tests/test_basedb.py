"""The base files in the cache (basedb): the fixed tables of counties, gazetteer and documents copied from them are the
tables written without them, schema, rowids and full-text index included; a damaged base file is made again."""
import shutil
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from open287g import basedb, counties, documents, gazetteer
from open287g.load import insert

DATA = Path(__file__).resolve().parent.parent / "data"


def _everything(path):
    """sqlite_master in order and every table's rows with their rowids (FTS shadow tables too), after the VACUUM finish
    runs (a copied table's indexes are made with it, so before it they sit elsewhere in sqlite_master)."""
    vacuumed = path.with_suffix(".vacuumed")
    vacuumed.unlink(missing_ok=True)
    sqlite3.connect(path).execute("vacuum into ?", (str(vacuumed),))
    conn = sqlite3.connect(vacuumed)
    out = {"schema": conn.execute("select type, name, tbl_name, sql from sqlite_master order by rowid").fetchall()}
    for (name,) in conn.execute("select name from sqlite_master where type = 'table' and sql not like 'create virtual%'"):
        without_rowid = "without rowid" in conn.execute("select lower(sql) from sqlite_master where name = ?", (name,)).fetchone()[0]
        out[name] = conn.execute(f"select {'' if without_rowid else 'rowid, '}* from [{name}]").fetchall()
    conn.close()
    return out


def _start(path):
    """What load.write leaves that the three writers read: states, agencies (one in a county the census lacks), agreements, listings."""
    db = sqlite_utils.Database(path)
    insert(db, "states", [{"code": "AL", "name": "Alabama", "fips": "01"}, {"code": "CT", "name": "Connecticut", "fips": "09"},
                          {"code": "PR", "name": "Puerto Rico", "fips": "72"}], pk="code")
    insert(db, "agencies", [{"id": "a1", "name": "Franklin County Sheriff", "state_code": "AL", "level": "County", "county_fips": "01059",
                             "county_name": "Franklin County", "precision": "county", "status": "active"},
                            {"id": "a2", "name": "Hartford Police", "state_code": "CT", "level": "City", "county_fips": "09001",
                             "county_name": "Hartford County", "precision": "town", "status": "active"}],
           pk="id", foreign_keys=[("state_code", "states", "code")])
    insert(db, "agreements", [{"id": "g1", "agency_id": "a1", "agency": "Franklin County Sheriff", "state_code": "AL", "status": "active", "model": "WSO"},
                              {"id": "g2", "agency_id": "a2", "agency": "Hartford Police", "state_code": "CT", "status": "ended", "model": "TFM"}], pk="id")
    insert(db, "listings", [{"id": 1, "agreement_id": "g1", "addendum_url": None,
                             "moa_url": "https://www.ice.gov/doclib/287gMOA/FranklinCountyAL_WSO_MOA_030625.pdf"},
                            {"id": 2, "agreement_id": "g2", "moa_url": "https:/www.ice.gov/doclib/287gMOA/NotHeld_TFM_MOA.pdf",
                             "addendum_url": None}], pk="id")
    db.conn.commit()
    db.conn.close()


@pytest.fixture(scope="module")
def fake_rows():
    """gazetteer.rows on a few places (the real ones need the geography index, so towns() is stood in for too);
    counts its calls."""
    calls = []

    def rows(partial, known):
        calls.append(1)
        return ([{"id": "al/russellville", "name": "Russellville", "key": "russellville", "state_code": "AL", "county_fips": "01059",
                  "latitude": 34.5, "longitude": -87.7, "source": "USPS postal town"}],
                [{"zip": "35653", "town": "Russellville", "state_code": "AL", "county_fips": "01059", "place_id": "al/russellville"}])
    return rows, calls


def _write_all(path, cache):
    counts = counties.write(path, DATA, cache)
    gazetteer.write(path, cache)
    return counts, documents.write(path, DATA, cache)


def test_tables_from_the_base_are_the_tables_written_without_it(tmp_path, monkeypatch, fake_rows):
    rows, calls = fake_rows
    monkeypatch.setattr(gazetteer, "rows", rows)
    monkeypatch.setattr(gazetteer, "towns", lambda idx: ((), ()))
    monkeypatch.setattr(gazetteer.places, "index", lambda: None)
    _start(tmp_path / "start.db")
    for name in ("plain", "first", "again", "damaged"):
        shutil.copy(tmp_path / "start.db", tmp_path / f"{name}.db")
    cache = tmp_path / "cache"
    plain = _write_all(tmp_path / "plain.db", None)
    assert _write_all(tmp_path / "first.db", cache) == plain  # makes the base files
    bases = sorted(cache.glob("base-*.sqlite"))
    assert [p.name.split("-")[1] for p in bases] == ["counties", "documents", "gazetteer"]
    made = {p: p.stat().st_mtime_ns for p in bases}
    calls.clear()
    assert _write_all(tmp_path / "again.db", cache) == plain  # copies from them
    assert not calls and {p: p.stat().st_mtime_ns for p in bases} == made  # read, not made again
    expected = _everything(tmp_path / "plain.db")
    assert expected["moa_pages_fts_data"] and expected["county_shapes"] and expected["places"]
    assert _everything(tmp_path / "first.db") == expected
    assert _everything(tmp_path / "again.db") == expected
    conn = sqlite3.connect(tmp_path / "again.db")
    assert conn.execute("select count(*) from moa_pages_fts where moa_pages_fts match 'Trulove'").fetchone()[0] >= 1
    assert conn.execute("select population from states where code = 'AL'").fetchone()[0] > 4_000_000
    conn.close()
    # a base cut short, one of garbage and one missing: each is made again and the tables are the same
    counties_base, documents_base, gazetteer_base = bases
    counties_base.write_bytes(counties_base.read_bytes()[:-4096])
    documents_base.write_bytes(b"not a database" * 1000)
    gazetteer_base.unlink()
    assert _write_all(tmp_path / "damaged.db", cache) == plain
    assert _everything(tmp_path / "damaged.db") == expected
    assert sorted(cache.glob("base-*.sqlite")) == bases
    assert all(sqlite3.connect(p).execute("pragma integrity_check").fetchone() == ("ok",) for p in bases)


def test_a_base_of_other_inputs_is_not_read(tmp_path):
    """The key follows the input files: other census bytes give another base, and the old one is pruned."""
    data = tmp_path / "data"
    shutil.copytree(DATA / "census", data / "census")
    shutil.copytree(DATA / "geo", data / "geo")
    _start(tmp_path / "a.db")
    shutil.copy(tmp_path / "a.db", tmp_path / "b.db")
    cache = tmp_path / "cache"
    counties.write(tmp_path / "a.db", data, cache)
    first = list(cache.glob("base-counties-*.sqlite"))
    county_file = data / counties.COUNTY_FILE[0]
    text = county_file.read_text(encoding="latin-1")
    county_file.write_text(text.replace("Franklin County", "Franklyn County", 1), encoding="latin-1")
    counties.write(tmp_path / "b.db", data, cache)
    second = list(cache.glob("base-counties-*.sqlite"))
    assert len(first) == len(second) == 1 and first != second
    names = dict(sqlite3.connect(tmp_path / "b.db").execute("select fips, name from counties where state_code = 'AL'"))
    assert "Franklyn County" in names.values()


def test_a_start_file_holds_the_bases_tables_and_one_cut_short_is_not_used(tmp_path):
    """basedb.Start: the tables of its bases in one file a new database is copied from; a copy cut short, or a part
    without a base (no cache, a missing input), gives no start and the writers work as without one."""
    source = tmp_path / "source.db"
    db = sqlite_utils.Database(source)
    insert(db, "places", [{"id": f"al/{n}", "name": n} for n in ("russellville", "red bay")], pk="id")
    insert(db, "moa_pages", [{"sha256": "d1", "page": 1, "text": "Sheriff Shannon Oliver"}], pk=("sha256", "page"))
    db["moa_pages"].enable_fts(["text"], create_triggers=False, tokenize="porter")
    db.conn.commit()
    db.conn.close()
    cache = tmp_path / "cache"
    places_base, pages_base = basedb.Base(cache, "gazetteer", "k1"), basedb.Base(cache, "documents", "k2")
    places_base.save(source, ["places"])
    pages_base.save(source, ["moa_pages"], fts=["moa_pages_fts"])
    start = basedb.Start(cache, [(places_base, ("places",), ()), (pages_base, ("moa_pages",), ("moa_pages_fts",))])
    start.save()
    (made,) = cache.glob("start-*.sqlite")
    assert start.copy(tmp_path / "new.db")
    conn = sqlite3.connect(tmp_path / "new.db")
    assert conn.execute("select name from places order by id").fetchall() == [("red bay",), ("russellville",)]
    assert conn.execute("select p.page from moa_pages_fts join moa_pages p on p.rowid = moa_pages_fts.rowid "
                        "where moa_pages_fts match 'oliver'").fetchall() == [(1,)]
    assert basedb.VALUES not in {n for (n,) in conn.execute("select name from sqlite_master")}
    conn.close()
    # under other keys: no file to copy; one made under them replaces the first
    other = basedb.Start(cache, [(places_base, ("places",), ())])
    assert not other.copy(tmp_path / "other.db") and not (tmp_path / "other.db").exists()
    # one byte changed, or the file cut short: it is not copied, and removed
    for damage in (lambda b: b[:5000] + bytes([b[5000] ^ 1]) + b[5001:], lambda b: b[:-4096]):
        start.save()
        (made,) = cache.glob("start-*.sqlite")
        made.write_bytes(damage(made.read_bytes()))
        assert not start.copy(tmp_path / "damaged.db") and not (tmp_path / "damaged.db").exists()
        assert not list(cache.glob("start-*.sqlite"))
    other.save()
    assert [p.name.startswith(other.prefix) for p in cache.glob("start-*.sqlite")] == [True]
    assert basedb.Start(cache, [(None, ("places",), ())]).prefix is None
    assert basedb.Start(None, [(places_base, ("places",), ())]).prefix is None


def test_counties_the_census_lacks_are_added_as_the_agencies_print_them():
    """counties.added: one row per county equivalent outside the census files that an agency sits in, named by the
    greatest name the agencies print (as SQL's max, an agency printing none counting for nothing); counties.names
    gives the places the same set the counties table holds."""
    census = counties.Census(({"fips": "01059", "name": "Franklin County", "state_code": "AL"},), {}, frozenset(), None)
    agencies = [{"county_fips": "09001", "county_name": "Hartford County", "state_code": "CT"},
                {"county_fips": "09001", "county_name": None, "state_code": "CT"},
                {"county_fips": "09001", "county_name": "Hartford", "state_code": "CT"},
                {"county_fips": "01059", "county_name": "Franklin Co", "state_code": "AL"},  # in the census: its name stays
                {"county_fips": None, "county_name": "Nowhere County", "state_code": "AL"},
                {"county_fips": "72127", "county_name": None, "state_code": "PR"}]
    rows = counties.added(census.counties, agencies)
    assert [(r["fips"], r["name"], r["state_code"], r["population"]) for r in rows] == [
        ("09001", "Hartford County", "CT", None), ("72127", None, "PR", None)]
    assert counties.names(census, agencies) == {"01059": "Franklin County", "09001": "Hartford County", "72127": None}


def test_places_in_a_county_added_for_an_agency_are_those_written_with_it(tmp_path, monkeypatch):
    """The gazetteer's base is written with the census's counties; gazetteer.add_counties then gives the towns and ZIP
    codes in a county equivalent added for an agency (counties.added: Connecticut's old Hartford County here) the rows
    that writing with every county gives, from the base file or without one."""
    towns = ((("CT", "avon", "Avon", "avon", "Connecticut", ("09003", "09110"), "06001", 1, 41.8, -72.9, "USPS postal town"),
              ("CT", "bethel", "Bethel", "bethel", "Connecticut", ("09190",), "06801", 1, 41.4, -73.4, "USPS postal town"),
              ("AL", "russellville", "Russellville", "russellville", "Alabama", ("01059",), "35653", 1, 34.5, -87.7, "USPS postal town")),
             (("06001", "Avon", "CT", "09003", "Hartford", "standard", 41.8, -72.9, "ct/avon"),
              ("06801", "Bethel", "CT", "09190", "Fairfield", "standard", 41.4, -73.4, "ct/bethel"),
              ("35653", "Russellville", "AL", "01059", "Franklin", "standard", 34.5, -87.7, "al/russellville")))
    monkeypatch.setattr(gazetteer, "_towns", lambda cache_dir: towns)
    census = {"01059": "Franklin County", "09110": "Capitol Planning Region", "09190": "Western Connecticut Planning Region"}
    every = {**census, "09003": "Hartford County"}

    def written(name, cache, with_every):
        path = tmp_path / f"{name}.db"
        conn = sqlite3.connect(path)
        conn.executescript("create table states (code text primary key); create table counties (fips text primary key);")
        conn.close()
        if with_every:
            gazetteer.write(path, cache, every)
        else:
            gazetteer.write(path, cache, census)
            assert gazetteer.add_counties(path, cache, census, every) == 1
        conn = sqlite3.connect(path)
        found = {t: conn.execute(f"select * from {t} order by rowid").fetchall() for t in gazetteer.TABLES}
        conn.close()
        return found

    expected = written("every", None, True)
    avon = [r for r in expected["places"] if r[0] == "ct/avon"][0]
    assert '"09003"' in avon[6] and avon[5] == "09003"  # Hartford County first: the town's ZIP lies in it
    assert [z[3] for z in expected["zip_codes"]] == ["09003", "09190", "01059"]
    assert written("plain", None, False) == expected
    assert written("first", tmp_path / "cache", False) == expected  # makes the base file, with the towns outside the census's counties
    assert written("again", tmp_path / "cache", False) == expected  # copies it, and adds the county from its value
