"""ICE's list before 2021 on the real files (data/history/): roster captures through as_of, endings as ranges,
a hybrid, a re-signing, the misread and addendum rows of 2021-2024, and the 2025-2026 record unchanged."""
import pytest

from open287g.serve import make_datasette

DB = "287g"
WAKE = "1d6b614507f1"  # Wake County Sheriff's Office NC, JEM 2016-06-08: on the roster of August 2017, not in January 2021
ETOWAH_2016 = "81d6a8499247"  # Etowah County Sheriff's Office AL, JEM 2016-06-08: the id every build gave it since 2021


@pytest.fixture(scope="module")
def ds(site_db):
    return make_datasette(site_db)


async def as_of(ds, day):
    response = await ds.client.get(f"/{DB}/as_of.json?date={day}&_shape=objects&_size=max")
    assert response.status_code == 200
    return response.json()["rows"]


@pytest.mark.parametrize("day, capture, rows, jem, tfm", [
    ("2011-02-20", "20110220090259", 71, 46, 25),  # "Mutually Signed Agreements (71) as of 10/29/2010"
    ("2012-06-30", "20120606112224", 68, 48, 20),  # the capture of 6 June 2012, "(68) as of 09/02/2011"
    ("2013-04-02", "20130402163405", 39, None, None),  # after the Task Force wind-down: "(39) signed as of 12/31/2012"
    ("2016-06-30", "20160611151543", 32, 32, 0),
    ("2017-08-01", "20170801021304", 58, 58, 0),  # the last capture before the gap
])
async def test_as_of_answers_each_roster_capture_exactly(ds, sql, day, capture, rows, jem, tfm):
    got = await as_of(ds, day)
    assert len(got) == rows and {r["publication"] for r in got} == {f"ICE 287(g) roster, Internet Archive capture {capture}"}
    printed = sql("select count(*) from listings l join publications p on p.file_name = ? and l.list = p.list "
                  "and p.seq between l.first_seq and l.last_seq", (f"ICE 287(g) roster, Internet Archive capture {capture}",))[0][0]
    assert printed == rows
    if jem is not None:
        assert (sum(r["model"] == "JEM" for r in got), sum(r["model"] == "TFM" for r in got)) == (jem, tfm)


async def test_as_of_says_when_ices_list_is_unknown(ds):
    assert await as_of(ds, "2019-06-01") == [] and await as_of(ds, "2017-08-02") == []
    page = (await ds.client.get(f"/{DB}/as_of?date=2019-06-01")).text
    assert "ICE's list on this date is not known" in page and "2017-08-01" in page and "2021-01-13" in page
    assert await as_of(ds, "2009-10-28") == []  # the OIG's table is evidence, not ICE's list
    page = (await ds.client.get(f"/{DB}/as_of?date=2009-10-28")).text
    assert "ICE's list on this date is not known" in page and "2011-02-20" in page
    assert len(await as_of(ds, "2021-01-13")) == 150  # ParticipatingEntities-20210113002027.xlsx, 150 rows, as before
    page = (await ds.client.get(f"/{DB}/as_of?date=2021-01-13")).text
    assert "not known" not in page


def test_an_agreement_that_ended_in_2011_has_its_range(db):
    (g,) = db.execute("select * from agreements where agency = 'Guilford County Sheriff''s Office' and model = 'TFM'").fetchall()
    assert (g["status"], g["signed_on"], g["last_seen"][:10], g["ended_seen"][:10], g["ended_in_gap"]) == ("ended", "2009-10-15", "2011-02-20", "2011-08-18", 0)


async def test_an_ending_in_the_gap_says_so(ds, db):
    wake = db.execute("select * from agreements where id = ?", (WAKE,)).fetchone()
    assert (wake["agency"], wake["status"], wake["last_seen"][:10], wake["ended_seen"][:10], wake["ended_in_gap"]) == (
        "Wake County Sheriff's Office", "ended", "2017-08-01", "2021-01-13", 1)
    assert db.execute("select count(*) from agreements where ended_in_gap = 1 and status = 'ended'").fetchone()[0] == 12
    page = (await ds.client.get(f"/{DB}/agencies/{wake['agency_id']}")).text
    assert "ended between 1 Aug 2017 and 13 Jan 2021, when no list of ICE's is readable" in page
    feed = (await ds.client.get(f"/{DB}/recent_changes.json?state=NC&_shape=objects&_size=max")).json()["rows"]
    (entry,) = [r for r in feed if r["agreement_id"] == WAKE and r["kind"] == "ended"]
    assert entry["atom_title"] == ("Wake County Sheriff's Office (NC): Jail Enforcement Model agreement ended between "
                                   "1 August 2017 and 13 January 2021, when no list of ICE's is readable")


async def test_ended_before_2021_lists_the_roster_endings(ds):
    rows = (await ds.client.get(f"/{DB}/ended_before_2021.json?_shape=objects&_size=max")).json()["rows"]
    ended = [r for r in rows if r["status"] == "ended"]
    assert len(ended) == 48 + 12 and sum(r["ended_in_gap"] for r in ended) == 12
    assert {r["agency"] for r in ended if r["ended_seen"].startswith("2011-08-18")} >= {"Guilford County Sheriff's Office", "Rhode Island State Police"}


def test_a_hybrid_is_two_agreements(db):
    rows = db.execute("select model, agreement_id, finding from history_evidence where file = 'history/historical-oig-2009.csv' "
                      "and agency = 'Benton County Sheriff''s Office' order by model").fetchall()
    assert [(r["model"], r["finding"]) for r in rows] == [
        ("JEM", "confirms the signing date"), ("TFM", "another model of a listed agency: ICE's roster never printed it")]
    jem = db.execute("select agency, model, signed_on from agreements where id = ?", (rows[0]["agreement_id"],)).fetchone()
    assert tuple(jem) == ("Benton County Sheriff's Office", "JEM", "2007-09-26")


async def test_a_re_signing_at_a_standard_moa_date_links_the_chain(ds, db):
    chain = db.execute("select id, signed_on, status, follows, superseded_by from agreements where agency_id = "
                       "(select agency_id from agreements where id = ?) and model = 'JEM' order by first_seen", (ETOWAH_2016,)).fetchall()
    assert [(r["signed_on"], r["status"]) for r in chain] == [("2008-07-08", "superseded"), ("2013-06-28", "superseded"), ("2020-06-09", "active")]
    assert chain[1]["follows"] == chain[0]["id"] and chain[0]["superseded_by"] == chain[1]["id"] and chain[2]["follows"] == chain[1]["id"]
    assert chain[2]["id"] == ETOWAH_2016
    merge = db.execute("select rule, evidence from agreement_merges where agreement_id = ? and publication_id = "
                       "(select first_publication_id from agreements where id = ?)", (chain[1]["id"], ETOWAH_2016)).fetchone()
    assert merge["rule"] == "re-signed" and "new MOA 2016-06-08 after 2013-06-28" in merge["evidence"]
    # ICE's files printed the 2016 MOA's date until they re-dated it to 2020-06-09 (a correction, as without the roster)
    assert db.execute("select before, after from changes where agreement_id = ? and kind = 're-dated'", (ETOWAH_2016,)).fetchone()[:] == ("2016-06-08", "2020-06-09")
    page = (await ds.client.get(f"/{DB}/agencies/{db.execute('select agency_id from agreements where id = ?', (ETOWAH_2016,)).fetchone()[0]}")).text
    assert "Earliest signing known: <time datetime=\"2008-07-08\">8 Jul 2008</time> <span class=\"meta\">(ICE's list)</span>" in page
    assert "Before 2021 the list is ICE's web page as the Internet Archive captured it" in page


def test_the_misread_name_of_december_2024_is_walton(db):
    (merge,) = db.execute("select * from agreement_merges where rule = 'misread'").fetchall()
    walton = db.execute("select * from agreements where id = ?", (merge["agreement_id"],)).fetchone()
    assert (walton["agency"], walton["state_code"], walton["model"], walton["signed_on"], walton["status"]) == (
        "Walton County Sheriff's Office", "FL", "WSO", "2019-05-06", "active")
    assert not db.execute("select 1 from changes where agreement_id = ? and kind = 'gap'", (walton["id"],)).fetchall()
    assert db.execute("select id from id_aliases where alias = 'bed35649ab23'").fetchone()[0] == walton["id"]
    rows = db.execute("select agreement_id, publications from listings where agency = 'Waria-labelon County Sheriff''s Office'").fetchall()
    assert [(r["agreement_id"], r["publications"]) for r in rows] == [(walton["id"], 2)]


def test_the_addendum_row_is_monmouths_agreement(db):
    rows = db.execute("select distinct agreement_id from listings where agency = 'Monmouth County Sheriff''s Office (Addendum)'").fetchall()
    assert [r[0] for r in rows] == ["8601e4db3917"]
    monmouth = db.execute("select * from agreements where id = '8601e4db3917'").fetchone()
    assert (monmouth["agency"], monmouth["signed_on"], monmouth["status"], monmouth["last_seen"][:10], monmouth["ended_seen"][:10]) == (
        "Monmouth County Sheriff's Office", "2016-06-08", "ended", "2021-11-17", "2021-11-20")
    assert db.execute("select id from id_aliases where alias = '5695047945dd'").fetchone()[0] == "8601e4db3917"
    assert not db.execute("select 1 from agreements where agency like '%Addendum%' and last_seen >= '2021'").fetchall()


def test_timelines_link_only_their_own_agencys_agreements(db):
    crossing = db.execute("select c.agency from changes c join agreements other on c.detail like '%' || other.id || '%' "
                          "where other.agency_id != c.agency_id order by c.agency").fetchall()
    # UCF's Board of Trustees and its Police Department: the one link between two bodies the rules make (IDENTITY.md 5)
    assert [r[0] for r in crossing] == ["University of Central Florida Board of Trustees", "University of Central Florida Police Department"]


def test_2025_2026_unchanged(db):
    status = dict(db.execute("select status, count(*) from agreements where last_seen >= '2021-01-13' group by status").fetchall())
    assert status["active"] == 1560
    assert db.execute("select count(*) from agreements where status = 'ended' and ended_seen >= '2025-02-20'").fetchone()[0] == 67  # 68 before the Moore County (TN) copy was corrected (data/corrections.csv)
    assert db.execute("select count(*) from agreements where status = 'ended' and ended_seen > '2021-01-14' and ended_seen < '2025-02-20'").fetchone()[0] == 15


def test_roster_captures_kept_in_the_cache_equal_read_ones(tmp_path, monkeypatch):
    """history.roster_publications with a cache: the 33 captures of data/history/pre2018-roster-long.csv as read, then
    loaded from the cache without reading the file's rows again; a damaged entry reads them again."""
    from pathlib import Path

    from open287g import history

    data = Path(__file__).resolve().parent.parent / "data"
    read = history.roster_publications(data)
    assert len(read) == 33 and sum(len(p.rows) for p in read) == 1472
    assert history.roster_publications(data, tmp_path) == read
    monkeypatch.setattr(history, "_roster_publications", lambda *a: pytest.fail("read the roster the cache holds"))
    assert history.roster_publications(data, tmp_path) == read
    monkeypatch.undo()
    (kept,) = tmp_path.glob("roster-*.pickle")
    kept.write_bytes(b"junk")
    assert history.roster_publications(data, tmp_path) == read
    elsewhere = tmp_path / "data" / "history"  # the same file in another data/ folder: loaded, with its own path
    elsewhere.mkdir(parents=True)
    (elsewhere / "pre2018-roster-long.csv").write_bytes((data / "history" / "pre2018-roster-long.csv").read_bytes())
    monkeypatch.setattr(history, "_roster_publications", lambda *a: pytest.fail("read the roster the cache holds"))
    moved = history.roster_publications(tmp_path / "data", tmp_path)
    assert [p.path for p in moved] == [elsewhere / "pre2018-roster-long.csv"] * 33
    assert [p.updated(path=None) for p in moved] == [p.updated(path=None) for p in read]


def test_san_bernardinos_addendum_of_2013_is_san_bernardino_countys(db):
    # The roster of 14 April 2014 prints "San Bernardino County Sheriff's Office Addendum" (JEM, 2013-10-11) alone.
    rows = [tuple(r) for r in db.execute("select a.id, a.name, g.agency, g.signed_on from agreements g join agencies a on a.id = g.agency_id "
                                         "where g.agency like 'San Bernardino County Sheriff%' order by g.signed_on")]
    assert rows == [("23f1ed8a6547", "San Bernardino County Sheriff's Office", "San Bernardino County Sheriff's Office", "2005-11-19"),
                    ("23f1ed8a6547", "San Bernardino County Sheriff's Office", "San Bernardino County Sheriff's Office Addendum", "2013-10-11")]
    assert db.execute("select id from id_aliases where alias = '19664466d3ba'").fetchone()[0] == "23f1ed8a6547"
