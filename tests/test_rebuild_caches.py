"""The caches that make a rebuild cheap after the load stage (history's name matches, reach's counties,
the search index's words) and finish's count of listings per publication: each gives what computing gives,
and a missing or corrupt cache file is ignored. Small made-up cases, no build."""
import sqlite3

import pytest

from open287g import finish, history, identity, load, pipeline, places, reach, search_index
from conftest import DATA

AGREEMENTS = [
    {"id": "a1", "agency_id": "x", "state_code": "AR", "model": "JEM", "signed_on": "2007-09-26",
     "first_seen": "2011-02-20", "spellings": ["Benton County Sheriff's Office"]},
    {"id": "a2", "agency_id": "y", "state_code": "AR", "model": "TFM", "signed_on": "2008-01-02",
     "first_seen": "2011-02-20", "spellings": ["Washington County Sheriff's Office", "Washington Co. SO"]},
]


def evidence():
    return [dict(file="f", line=n, source="OIG", as_of="2009-10-28", state="Arkansas", agency=agency, model_printed=None,
                 model=None, signed_on=signed, date_kind="as printed", note=None)
            for n, (agency, signed) in enumerate([("Benton County Sheriff's Office", "2007-09-26"),
                                                  ("Washington County Sheriffs Office", None),
                                                  ("Rogers Police Department", "2009-01-01")], start=2)]


def matched(agreements, cache_dir=None):
    rows = history.match_evidence(evidence(), agreements, {"AR": "Arkansas"}, lambda s: "AR", cache_dir)
    return [(r["agreement_id"], r["agency_id"], r["finding"]) for r in rows]


def test_evidence_matches_from_the_cache_equal_computed_ones(tmp_path, monkeypatch):
    computed = matched(AGREEMENTS)
    assert matched(AGREEMENTS, tmp_path) == computed
    assert len(list(tmp_path.glob("evidence-matches-*.pickle"))) == 1

    def never(*args, **kwargs):
        raise AssertionError("compared a pair the cache holds")

    with monkeypatch.context() as m:
        m.setattr(identity, "compare_names", never)
        assert matched(AGREEMENTS, tmp_path) == computed
    # A new agreement of the state: only its spelling is compared, and the answer is what computing gives.
    more = AGREEMENTS + [{"id": "a3", "agency_id": "z", "state_code": "AR", "model": "JEM", "signed_on": "2009-01-01",
                          "first_seen": "2012-01-01", "spellings": ["Rogers Police Dept"]}]
    assert matched(more, tmp_path) == matched(more) != computed


def test_a_corrupt_evidence_cache_is_ignored(tmp_path):
    computed = matched(AGREEMENTS)
    matched(AGREEMENTS, tmp_path)
    for junk in (b"not a pickle", b"\x80\x05N.", b""):  # garbage, a pickled None, an empty file
        (path,) = tmp_path.glob("evidence-matches-*.pickle")
        path.write_bytes(junk)
        assert matched(AGREEMENTS, tmp_path) == computed


def test_county_answers_are_kept_by_the_place_cache(tmp_path, monkeypatch):
    # The counties agency_areas.csv names (reach.write) and the pending list's COUNTY (resolve) are both read through
    # PlaceCache.county: a rebuild answers them without the geography index.
    with pipeline.PlaceCache(tmp_path) as first:
        answers = [first.county("AR", name, False) for name in ("Benton County", "Nowhere County")]
    assert answers == ["05007", None]
    monkeypatch.setattr(places, "_index", lambda: pytest.fail("loaded the geography index"))
    with pipeline.PlaceCache(tmp_path) as again:
        assert [again.county("AR", name, False) for name in ("Benton County", "Nowhere County")] == answers
    first.path.write_bytes(b"\x00garbage")  # a damaged file reads as nothing kept
    monkeypatch.undo()
    with pipeline.PlaceCache(tmp_path) as damaged:
        assert [damaged.county("AR", name, False) for name in ("Benton County", "Nowhere County")] == answers


def small_database(path):
    db = sqlite3.connect(path)
    db.executescript("""
        create table states (code text primary key, name text);
        insert into states values ('AR', 'Arkansas'), ('FL', 'Florida');
        create table agencies (id text primary key, name text, state_code text, status text, spellings text, place_name text, county_name text);
        insert into agencies values ('ar-1', 'Benton County Sheriff''s Office', 'AR', 'active', '["Benton Co. S.O."]', 'Bentonville', 'Benton County'),
                                    ('fl-1', 'St. Johns County Sheriff''s Office', 'FL', 'ended', null, null, 'St. Johns County');
        create table counties (fips text primary key, state_code text, name text, state_name text, agencies_active integer);
        insert into counties values ('05007', 'AR', 'Benton County', 'Arkansas', 1), ('12109', 'FL', 'St. Johns County', 'Florida', 0);
        create table places (id text primary key, state_code text, name text, state_name text);
        insert into places values ('ar/bentonville', 'AR', 'Bentonville', 'Arkansas'), ('fl/st-augustine', 'FL', 'St. Augustine', 'Florida');
    """)
    db.commit()
    db.close()
    return path


def index_of(path, cache_dir=None, places_key=None, change=None):
    small_database(path)
    if change:
        with sqlite3.connect(path) as db:
            db.execute(change)
    search_index.write_index(path, [], cache_dir, places_key)
    db = sqlite3.connect(path)
    try:
        return (db.execute("select * from search_entries order by id").fetchall(),
                db.execute("select rowid from search_entries_fts where search_entries_fts match 'saint' order by rowid").fetchall(),
                db.execute("select sql from sqlite_master where name = 'search_entries'").fetchall())
    finally:
        db.close()


def test_search_words_from_the_cache_equal_computed_ones(tmp_path, monkeypatch):
    computed = index_of(tmp_path / "a.db")
    assert computed[1]  # "St." is spelt saint
    cache = tmp_path / "cache"
    assert index_of(tmp_path / "b.db", cache) == computed
    monkeypatch.setattr(search_index, "_text", lambda *parts: pytest.fail("spelt an entry the cache holds"))
    assert index_of(tmp_path / "c.db", cache) == computed
    monkeypatch.undo()
    (path,) = cache.glob("search-words-*.pickle")
    path.write_bytes(b"junk")
    assert index_of(tmp_path / "d.db", cache) == computed


def test_search_entries_from_the_base_equal_computed_ones_until_the_places_change(tmp_path, monkeypatch):
    computed = index_of(tmp_path / "a.db")
    assert [(kind, entry_id >= search_index.PLACE_IDS) for entry_id, kind, *_ in computed[0]] == [
        ("agency", False), ("agency", False), ("county", False), ("county", False), ("state", False), ("state", False),
        ("place", True), ("place", True)]
    cache = tmp_path / "cache"
    assert index_of(tmp_path / "b.db", cache, "places-1") == computed
    (base,) = cache.glob("base-search-*.sqlite")
    real_save = search_index.basedb.Base.save

    def save_own_entries_only(self, *a, **k):
        assert self.family == "entries", "computed the places' entries the base holds"
        return real_save(self, *a, **k)

    monkeypatch.setattr(search_index.basedb.Base, "save", save_own_entries_only)
    # The same agencies, counties and states: the build's own entries and the whole index come from the entries' base.
    monkeypatch.setattr(search_index, "_entries", lambda *a: pytest.fail("computed entries the entries' base holds"))
    assert index_of(tmp_path / "c.db", cache, "places-1") == computed
    monkeypatch.undo()
    monkeypatch.setattr(search_index.basedb.Base, "save", save_own_entries_only)
    # An agency's status changes the build's own entries only: they are computed, the places' entries and index still
    # come from the base, and the whole index is the one computed without it; then the old status reads as it did.
    ended = "update agencies set status = 'ended' where id = 'ar-1'"
    assert index_of(tmp_path / "d.db", cache, "places-1", ended) == index_of(tmp_path / "e.db", change=ended) != computed
    assert index_of(tmp_path / "d2.db", cache, "places-1") == computed
    assert base.exists()
    monkeypatch.undo()
    # Other places (another gazetteer key) make another base: computed, not copied, and the old file is pruned.
    saved = []
    monkeypatch.setattr(search_index.basedb.Base, "save",
                        lambda self, *a, **k: (self.family == "search" and saved.append(self.key), real_save(self, *a, **k)))
    assert index_of(tmp_path / "f.db", cache, "places-2") == computed and len(saved) == 1
    assert not base.exists()
    (base,) = cache.glob("base-search-*.sqlite")
    with sqlite3.connect(base) as conn:
        conn.execute("drop table search_entries_fts_data")  # the entries copy, their index cannot: neither is kept
    assert index_of(tmp_path / "g.db", cache, "places-2") == computed and len(saved) == 2
    (base,) = cache.glob("base-search-*.sqlite")
    base.write_bytes(base.read_bytes()[:4096])  # cut short: read as missing
    assert index_of(tmp_path / "h.db", cache, "places-2") == computed and len(saved) == 3


def test_listings_traced_equal_the_join(tmp_path):
    db = sqlite3.connect(tmp_path / "t.db")
    db.executescript("""
        create table publications (id text primary key, list text, seq integer);
        insert into publications values ('p1', 'participating', 1), ('p2', 'participating', 2), ('p3', 'participating', 3),
                                        ('q1', 'pending', 1), ('r', null, null), ('s', 'participating', null), ('t', 'other', 1);
        create table listings (id integer primary key, list text, first_seq integer, last_seq integer);
        insert into listings (list, first_seq, last_seq) values ('participating', 1, 3), ('participating', 2, 2), ('participating', 3, 1),
                                                                ('participating', 1, 1), ('pending', 1, 1), ('pending', null, 4), (null, 1, 3);
    """)
    joined = dict(db.execute("select p.id, count(l.id) from publications p left join listings l "
                             "on l.list = p.list and p.seq between l.first_seq and l.last_seq group by p.id"))
    assert finish._traced(db) == joined == {"p1": 2, "p2": 2, "p3": 1, "q1": 1, "r": 0, "s": 0, "t": 0}


def test_the_finished_file_is_written_again_only_when_pages_are_free(tmp_path):
    def made(name, drop):
        path = tmp_path / name
        db = load.open_new(path)
        db.conn.execute("create table kept (text)")
        db.conn.execute("create table scratch (text)")
        db.conn.executemany("insert into kept values (?)", [("x" * 500,)] * 200)
        db.conn.executemany("insert into scratch values (?)", [("y" * 500,)] * 2000)
        if drop:
            db.conn.execute("drop table scratch")  # its pages go to the free list
        db.conn.commit()
        before = (path.stat().st_ino, db.conn.execute("pragma page_count").fetchone()[0])
        finish._close(db, path)
        conn = sqlite3.connect(path)
        try:
            after = (path.stat().st_ino, conn.execute("pragma page_count").fetchone()[0], conn.execute("pragma freelist_count").fetchone()[0])
            assert conn.execute("select count(*) from kept").fetchone()[0] == 200
        finally:
            conn.close()
        return before, after

    before, after = made("full.db", drop=False)
    assert after == (*before, 0)  # nothing free: the same file, as written
    before, after = made("freed.db", drop=True)
    assert after[0] != before[0] and after[1] < before[1] / 5 and after[2] == 0  # compacted into a new file
    assert not (tmp_path / "freed.db.vacuum").exists()


def test_a_kept_entry_reads_back_what_was_saved_and_nothing_else(tmp_path):
    """cachekey.Kept: missing, damaged or not valid reads as None; saving removes its family's other keys only."""
    from open287g.cachekey import Kept

    k1, k2 = "0123456789abcdef", "fedcba9876543210"  # keys as cache_key makes them
    old, new, other = Kept(tmp_path, "answers", k1), Kept(tmp_path, "answers", k2), Kept(tmp_path, "answers-more", k1)
    assert new.load() is None
    old.save({"a": 1})
    other.save({"b": 2})
    assert old.load() == {"a": 1}
    assert old.load(lambda v: isinstance(v, list)) is None
    new.save({"a": 2})
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"answers-{k2}.pickle", f"answers-more-{k1}.pickle"]
    new.path.write_bytes(b"junk")
    assert new.load() is None and other.load() == {"b": 2}


def test_pruning_the_snapshots_of_other_code_keeps_this_snapshots_delta(tmp_path):
    """The read stage prunes read-<key>.pickle and read-<key>-new.pickle as two families: a build that adds no file
    (and so writes no delta) keeps the delta the last build wrote."""
    from open287g.cachekey import KEY_GLOB, prune

    key, old = "0123456789abcdef", "fedcba9876543210"
    for name in (f"read-{key}.pickle", f"read-{key}-new.pickle", f"read-{old}.pickle", f"read-{old}-new.pickle"):
        (tmp_path / name).write_bytes(b"")
    prune(tmp_path, f"read-{KEY_GLOB}.pickle", f"read-{key}.pickle")
    prune(tmp_path, f"read-{KEY_GLOB}-new.pickle", f"read-{key}-new.pickle")
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"read-{key}-new.pickle", f"read-{key}.pickle"]


def test_the_assembled_metadata_is_kept_until_a_file_it_reads_changes(tmp_path, monkeypatch):
    # pipeline.kept_metadata: a rebuild reads no YAML; a changed metadata.yml or canned query is read again.
    from open287g import config

    queries = tmp_path / "queries"
    queries.mkdir()
    for path in config.QUERIES_DIR.glob("*.sql"):
        (queries / path.name).write_bytes(path.read_bytes())
    metadata = tmp_path / "metadata.yml"
    metadata.write_bytes(config.METADATA.read_bytes())
    monkeypatch.setattr(config, "METADATA", metadata)
    monkeypatch.setattr(config, "QUERIES_DIR", queries)
    assemble = config.assemble
    monkeypatch.setattr(config, "assemble", lambda: assemble(metadata, queries))
    cache = tmp_path / "cache"
    first = pipeline.kept_metadata(cache)
    assert first == assemble(metadata, queries) and "recent_changes" in first["databases"]["287g"]["queries"]
    with monkeypatch.context() as m:
        m.setattr(config, "assemble", lambda: pytest.fail("read the YAML again"))
        assert pipeline.kept_metadata(cache) == first
    (queries / "recent_changes.sql").write_text((queries / "recent_changes.sql").read_text().replace("limit", "limit\n ", 1))
    assert pipeline.kept_metadata(cache)["databases"]["287g"]["queries"]["recent_changes"] != first["databases"]["287g"]["queries"]["recent_changes"]
    metadata.write_text(metadata.read_text() + "\nnot: [valid\n")
    with pytest.raises(config.ConfigError):
        pipeline.kept_metadata(cache)
    assert len(list(cache.glob("metadata-*.pickle"))) == 1


def made_up(path, script, change=None):
    """A made-up database from script, with one statement more (change) when given."""
    with sqlite3.connect(path) as db:
        db.executescript(script)
        if change:
            db.execute(change)
    return path


def reach_database(path, change=None):
    return made_up(path, """
            create table agencies (id text primary key, name text, state_code text, level text, county_fips text, precision text, location_method text);
            insert into agencies values ('ar-1', 'Benton County Sheriff''s Office', 'AR', 'County', '05007', 'county', 'county named'),
                                        ('ar-2', 'Rogers Police Department', 'AR', 'County', '05007', 'place', 'town named');
            create table counties (fips text primary key);
            insert into counties values ('05007');
            create table places (state_code text, key text);
        """, change)


def reach_of(path):
    with sqlite3.connect(path) as db:
        return [db.execute("select id, reach, reach_counties, reach_rule from agencies order by id").fetchall(),
                db.execute("select * from agency_reach order by 1, 2").fetchall(),
                db.execute("select * from level_corrections order by 1").fetchall()]


def test_reach_answers_from_the_cache_equal_computed_ones_until_an_agency_changes(tmp_path, monkeypatch):
    reach.write(reach_database(tmp_path / "a.db"), [])
    computed = reach_of(tmp_path / "a.db")
    assert computed[2] == [("ar-2", "Rogers Police Department", "AR", "County", "town", "town: a town's own police, marshal or constable", "town named")]
    cache = tmp_path / "cache"
    reach.write(reach_database(tmp_path / "b.db"), [], cache_dir=cache)
    assert reach_of(tmp_path / "b.db") == computed and len(list(cache.glob("reach-*.pickle"))) == 1
    with monkeypatch.context() as m:
        m.setattr(reach, "classify", lambda *a, **k: pytest.fail("classified an agency the cache holds"))
        reach.write(reach_database(tmp_path / "c.db"), [], cache_dir=cache)
    assert reach_of(tmp_path / "c.db") == computed
    # An agency placed otherwise is classified again, as without the cache.
    moved = "update agencies set precision = 'county', location_method = 'county named' where id = 'ar-2'"
    reach.write(reach_database(tmp_path / "d.db", moved), [], cache_dir=cache)
    reach.write(reach_database(tmp_path / "e.db", moved), [])
    assert reach_of(tmp_path / "d.db") == reach_of(tmp_path / "e.db") != computed
    (kept,) = cache.glob("reach-*.pickle")
    kept.write_bytes(b"junk")
    reach.write(reach_database(tmp_path / "f.db"), [], cache_dir=cache)
    assert reach_of(tmp_path / "f.db") == computed


def history_database(path, change=None):
    return made_up(path, """
            create table states (code text primary key, name text);
            create table agencies (id text primary key);
            insert into agencies values ('x'), ('y');
            create table list_gaps (after_publication_id text, starts text, ends text);
            create table agreements (id text primary key, agency_id text, state_code text, model text, signed_on text, first_seen text,
                                     spellings text, last_seen text, ended_seen text, ended_publication_id text);
            insert into agreements values ('a1', 'x', 'AR', 'JEM', '2007-09-26', '2011-02-20', '["Benton County Sheriff''s Office"]', null, null, null),
                                          ('a2', 'y', 'AR', 'TFM', null, '2011-02-20', '["Washington County Sheriff''s Office"]', null, null, null);
        """, change)


def evidence_of(path):
    with sqlite3.connect(path) as db:
        return [db.execute("select file, line, agency, agreement_id, agency_id, finding from history_evidence order by id").fetchall(),
                db.execute("select id, earliest_signed_on, earliest_signed_source from agencies order by id").fetchall()]


def test_evidence_rows_from_the_cache_equal_computed_ones_until_an_agreement_or_a_file_changes(tmp_path, monkeypatch):
    data = tmp_path / "data"
    (data / "history").mkdir(parents=True)
    roster = data / "history" / "MyAttorneyUSA_roster_2017-08-01.tsv"
    roster.write_text("Arkansas\tBenton County Sheriff's Office\t09/26/2007\nArkansas\tWashington County Sheriffs Office\t01/02/2008\n")

    def write(name, cache=None, change=None):
        history.write(history_database(tmp_path / name, change), data, {"AR": "Arkansas"}, lambda s: "AR", cache)
        return evidence_of(tmp_path / name)

    computed = write("a.db")
    assert [(agreement, agency) for _, _, _, agreement, agency, _ in computed[0]] == [("a1", "x"), ("a2", "y")]
    cache = tmp_path / "cache"
    assert write("b.db", cache) == computed and len(list(cache.glob("evidence-rows-*.pickle"))) == 1
    with monkeypatch.context() as m:
        m.setattr(history, "match_evidence", lambda *a, **k: pytest.fail("matched evidence the cache holds"))
        assert write("c.db", cache) == computed
    # Another spelling of an agreement, or another line in a file, is matched again, as without the cache.
    renamed = "update agreements set spellings = '[\"Rogers Police Department\"]' where id = 'a2'"
    assert write("d.db", cache, renamed) == write("e.db", None, renamed) != computed
    roster.write_text(roster.read_text() + "Arkansas\tRogers Police Department\t03/03/2009\n")
    assert write("f.db", cache) == write("g.db") != computed


def counties_database(path, change=None):
    return made_up(path, """
        create table states (code text primary key, name text, fips text);
        insert into states values ('AR', 'Arkansas', '05'), ('FL', 'Florida', '12');
        create table agencies (id text primary key, name text, state_code text, level text, precision text, status text,
                               county_fips text, county_name text);
        insert into agencies values ('ar-1', 'Benton County Sheriff''s Office', 'AR', 'County', 'county', 'active', '05007', 'Benton County'),
                                    ('fl-1', 'St. Johns County Sheriff''s Office', 'FL', 'County', 'county', 'ended', '12109', 'St. Johns County');
        create table agreements (id text primary key, agency_id text, status text, model text);
        insert into agreements values ('a1', 'ar-1', 'active', 'JEM'), ('a2', 'fl-1', 'ended', 'WSO');
    """, change)


def test_county_rows_from_the_cache_equal_computed_ones_until_an_agreement_changes(tmp_path, monkeypatch):
    """counties.write keeps its rows under a key of the census read and of what they are made of: the agencies'
    counties and their agreements' figures."""
    from open287g import counties

    cache = tmp_path / "cache"
    found = counties.census(DATA, {"05": "AR", "12": "FL"}, cache)

    def rows(name, cache_dir=None, change=None):
        counties.write(counties_database(tmp_path / name, change), DATA, cache_dir, found, fixed=True)
        with sqlite3.connect(tmp_path / name) as db:
            return db.execute("select fips, agencies_active, agreements_active, map_fill from counties where fips in ('05007', '12109') order by fips").fetchall()

    computed = rows("a.db")
    assert computed == [("05007", 1, 1, "JEM"), ("12109", 0, 0, "ended")]
    assert rows("b.db", cache) == computed and len(list(cache.glob("county-rows-*.pickle"))) == 1
    with monkeypatch.context() as m:
        m.setattr(counties, "_rows", lambda *a: pytest.fail("made the rows the cache holds"))
        assert rows("c.db", cache) == computed
    ended = "update agreements set status = 'ended' where id = 'a1'"
    assert rows("d.db", cache, ended) == rows("e.db", None, ended) == [("05007", 1, 0, "ended"), ("12109", 0, 0, "ended")]


def test_boilerplate_answers_are_kept_between_builds(tmp_path, monkeypatch):
    """pipeline.WordCache keeps identity.is_boilerplate's answers: a new process answers the words kept without
    comparing them with the boilerplate words again; a damaged file is nothing kept."""
    words = ("couny", "departent", "benton")
    with pipeline.WordCache(tmp_path):
        answers = [identity.is_boilerplate(w) for w in words]
    assert answers == [True, True, False]
    monkeypatch.setattr(identity, "_BOILERPLATE_ANSWERS", {})  # as in a new process
    with monkeypatch.context() as m:
        m.setattr(identity, "_is_boilerplate", lambda w: pytest.fail(f"compared {w!r}, a word kept"))
        with pipeline.WordCache(tmp_path):
            assert [identity.is_boilerplate(w) for w in words] == answers
    (kept,) = tmp_path.glob("boilerplate-*.pickle")
    kept.write_bytes(b"junk")
    monkeypatch.setattr(identity, "_BOILERPLATE_ANSWERS", {})
    with pipeline.WordCache(tmp_path):
        assert [identity.is_boilerplate(w) for w in words] == answers


def documents_database(path, change=None):
    return made_up(path, """
        create table states (code text primary key, name text);
        insert into states values ('AL', 'Alabama');
        create table agreements (id text primary key, agency_id text, agency text, state_code text);
        insert into agreements values ('g1', 'al-1', 'Franklin County Sheriff''s Office', 'AL');
        create table listings (agreement_id text, moa_url text, addendum_url text);
        insert into listings values ('g1', 'https://www.ice.gov/doclib/287gMOA/FranklinCountyAL_WSO_MOA_030625.pdf', null),
                                    ('g1', 'https://www.ice.gov/doclib/287gMOA/NoSuchFile.pdf', null);
    """, change)


def test_document_links_from_the_cache_equal_computed_ones_until_a_link_changes(tmp_path, monkeypatch):
    from open287g import documents

    cache = tmp_path / "cache"

    def links(name, cache_dir=None, change=None):
        documents.write(documents_database(tmp_path / name, change), DATA, cache_dir)
        with sqlite3.connect(tmp_path / name) as db:
            return db.execute("select agreement_id, file_name, match, sha256 is not null from agreement_documents order by id").fetchall()

    computed = links("a.db")
    assert [(f, m, linked) for _, f, m, linked in computed] == [
        ("FranklinCountyAL_WSO_MOA_030625.pdf", "file name", 1), ("NoSuchFile.pdf", "no document on file", 0)]
    assert links("b.db", cache) == computed and len(list(cache.glob("document-links-*.pickle"))) == 1
    with monkeypatch.context() as m:
        m.setattr(documents, "link", lambda *a: pytest.fail("linked what the cache holds"))
        assert links("c.db", cache) == computed
    moved = "update listings set moa_url = null where moa_url like '%NoSuchFile%'"
    assert links("d.db", cache, moved) == links("e.db", None, moved) == computed[:1]
