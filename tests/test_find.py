"""Finding an agency, a county or a state: counties and census figures, agencies' counties, the search,
and the home, agency, state and county pages, served in-process from the real build."""
import csv
import html
import re

import pytest

from conftest import DATA
from open287g import palette, search, serve


@pytest.fixture(scope="module")
def ds(site_db):
    return serve.make_datasette(site_db)


def text_of(page):
    """The visible text of an HTML page, tags dropped and whitespace squeezed."""
    page = re.sub(r"<(style|script|svg)\b.*?</\1>", " ", page, flags=re.S)
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page))).strip()
    return re.sub(r" ([,.;:])", r"\1", text)


def newest_rows(sql, where="1 = 1", params=()):
    """Rows of ICE's newest participating workbook (as printed), joined to the agency they built."""
    return sql(
        "with p as (select list, seq from publications where list = 'participating' and status = 'used' "
        "order by published_at desc limit 1) "
        "select l.agency, l.model, l.state_code, a.county_fips, l.signed_on from listings l join p "
        "on l.list = p.list and p.seq between l.first_seq and l.last_seq join agencies a on a.id = l.agency_id "
        f"where {where}", params)


# --- counties and census ---------------------------------------------------------------------

def census_rows(name):
    with open(DATA / "census" / name, newline="", encoding="latin-1") as f:
        return list(csv.DictReader(f))


def test_counties_are_every_census_county_with_its_population_and_vintage(sql):
    census = [r for r in census_rows("co-est2025-alldata.csv") if r["SUMLEV"] == "050"]
    assert len(census) == 3144
    assert sql("select count(*) from counties where population is not null")[0][0] == 3144
    assert sql("select name, state_code, population, population_vintage from counties where fips = '04013'") == [
        ("Maricopa County", "AZ", 4689558, "Vintage 2025")]
    assert sql("select name, state_code, population from counties where fips = '48201'") == [("Harris County", "TX", 5045026)]
    # the state totals are the Census Bureau's own 040 rows, and they equal the sum of their counties
    fl = sql("select population, population_vintage, population_source from states where code = 'FL'")[0]
    assert fl[0] == sum(int(r["POPESTIMATE2025"]) for r in census if r["STATE"] == "12") == 23462518
    assert fl[1] == "Vintage 2025" and "co-est2025-alldata.csv" in fl[2]
    # Puerto Rico is in no county file: its figure comes from the Vintage 2024 national/state file
    assert sql("select population, population_vintage from states where code = 'PR'") == [(3203295, "Vintage 2024")]


def test_county_shapes_cover_the_counties_of_the_2017_boundaries(sql):
    assert sql("select count(*) from county_shapes")[0][0] == 3142
    # every Florida county has an outline, and outlines are SVG paths inside the 975 x 610 box
    assert sql("select count(*) from counties c join county_shapes s on s.fips = c.fips where c.state_code = 'FL'")[0][0] == 67
    path, x0, x1 = sql("select path, x0, x1 from county_shapes where fips = '12105'")[0]
    assert path.startswith("M") and path.endswith("z") and 0 < x0 < x1 < 975


def test_local_agencies_get_their_county(sql):
    cases = {
        ("Mesa Police Department", "AZ"): "04013",  # Maricopa County
        ("Southside Place Police Department", "TX"): "48201",  # an enclave of Houston, Harris County
        ("Lower Burrell Fourth Ward Constable", "PA"): "42129",  # Westmoreland County; pending as "... Constable's Office"
        ("St. Charles Parish Sheriff's Office", "LA"): "22089",  # ICE's county "German Coast", pending as "St. Charles Place"
        ("Lakeland Police Department", "FL"): "12105",
    }
    for (name, state), fips in cases.items():
        assert sql("select county_fips from agencies where name = ? and state_code = ?", (name, state)) == [(fips,)], name
    # ICE printed Crow Wing under MASSACHUSETTS, then MINNESOTA: the agency follows the state printed last
    assert sql("select county_fips from agencies where name = 'Crow Wing County Sheriff''s Office'") == [("27035",)]
    # what is left without a county is either a state agency or a county ICE printed under the wrong state
    left = sql("select name, state_code, location_method from agencies where county_fips is null "
               "and coalesce(level, '') != 'State' and precision = 'state'")
    assert all("fallback" in m or "state agency" in m for _, _, m in left)


def test_polk_county_florida_counts_match_ices_newest_list(sql):
    rows = newest_rows(sql, "a.county_fips = '12105'")
    agencies = {r[0] for r in rows}
    # 11 agencies: Florida Polytechnic University's police, printed "State" by ICE, is placed at its campus in Lakeland
    assert len(rows) == 12 and len(agencies) == 11
    assert {"Polk County Sheriff's Office", "Lakeland Police Department", "Winter Haven Police Department",
            "Lake Hamilton Police Department", "Haines City Police Department",
            "Florida Polytechnic University Police Department"} <= agencies
    assert sql("select agencies_active, agreements_active, wso_active, tfm_active, map_fill from counties where fips = '12105'") == [
        (11, 12, 1, 11, "WSO+TFM")]


# --- the search --------------------------------------------------------------------------------

def test_queries_are_read_into_words_and_a_state():
    def core(q):
        return {k: v for k, v in search.parse(q).items() if k in ("terms", "state", "state_only")}
    assert core("harris co") == {"terms": ["harris", "county"], "state": None, "state_only": None}
    assert search.parse("harris co")["county"] and not search.parse("harris")["county"]
    # rule co_after_comma: after a comma, as an address writes it, "CO" is Colorado
    assert core("Aurora, CO") == {"terms": ["aurora"], "state": "CO", "state_only": None}
    assert core("Polk Co, FL") == {"terms": ["polk", "county"], "state": "FL", "state_only": None}
    assert core("polk fl") == {"terms": ["polk"], "state": "FL", "state_only": None}
    assert search.parse("Polk County, Florida")["state"] == "FL"
    assert core("florida") == {"terms": ["florida"], "state": None, "state_only": "FL"}
    # "Washington, DC" is DC, and DC's town Washington; "West Virginia" is no town of Virginia
    assert search.parse("Washington, DC")["state_only"] == "DC" and search.parse("Washington, DC")["town_in_state"] == ["washington"]
    assert search.parse("West Virginia")["town_in_state"] is None and search.parse("New Mexico")["town_in_state"] is None
    assert search.parse("mesa pd")["terms"] == ["mesa", "police", "department"]  # "PD" means one thing everywhere (words.py)
    assert search.expression(["mecklenberg"]) == '"mecklenberg"'
    assert '"nbe"' in search.forgiving_expression(["mecklenberg"])


async def test_washington_dc_answers_with_the_town_and_the_district(ds):
    page = text_of((await ds.client.get("/search?q=Washington%2C+DC")).text)
    assert "Washington is in District of Columbia." in page
    assert "Bow, Washington" not in page  # no town of Washington state for a query that names DC
    west = text_of((await ds.client.get("/search?q=West+Virginia")).text)
    assert "West Virginia 36 active agreements" in west and " is in " not in west[:400]


async def test_maricopa_finds_mesa_police_through_its_county(ds):
    page = text_of((await ds.client.get("/search?q=Maricopa")).text)
    assert "Maricopa County, Arizona 1 agency with 1 active agreement (JEM)" in page
    assert "Mesa Police Department Mesa, Maricopa County, Arizona active: JEM" in page


async def test_misspelt_mecklenberg_finds_mecklenburg(ds, sql):
    # Virginia's sheriff, active; North Carolina's, on ICE's roster until 2017 and ended within the 2017-2021 gap
    assert sql("select name, state_code, status from agencies where name like 'Mecklenburg%' order by state_code") == [
        ("Mecklenburg County Sheriff's Office", "NC", "ended"), ("Mecklenburg County Sheriff's Office", "VA", "active")]
    page = text_of((await ds.client.get("/search?q=mecklenberg")).text)
    assert "closest spellings" in page
    assert "Mecklenburg County Sheriff's Office Mecklenburg County, Virginia active: TFM" in page
    assert "Mecklenburg County, North Carolina no active agreement" in page
    assert "Kleberg" not in page  # shares a few letters only


async def test_harris_co_answers_for_both_harris_counties(ds):
    page = text_of((await ds.client.get("/search?q=harris+co")).text)
    georgia = page.index("Harris County, Georgia 1 agency with 1 active agreement (WSO)")
    texas = page.index("Harris County, Texas 1 agency with 1 active agreement (TFM). The sheriff's office and other county-wide agencies have none; only the local agency below does")
    assert "Southside Place Police Department active: TFM" in page[texas:]
    assert "Harris County Sheriff's Office active: WSO" in page[georgia:]


async def test_a_county_missing_from_the_named_state_says_where_it_is(ds):
    page = text_of((await ds.client.get("/search?q=harris+county+florida")).text)
    assert "Florida has no county of that name; Harris County, Georgia, Harris County, Texas are elsewhere." in page


async def test_partial_words_and_state_filters(ds):
    page = text_of((await ds.client.get("/search?q=polk+fl")).text)
    assert "Polk County, Florida 11 agencies with 12 active agreements (WSO, TFM)" in page
    assert "Polk County, Texas" not in page and "Polk County, Georgia" not in page
    page = text_of((await ds.client.get("/search?q=broward+sheriff")).text)
    assert page.split("Agencies", 1)[1].strip().startswith("Broward County Sheriff's Office Broward County, Florida active")
    page = text_of((await ds.client.get("/search?q=meck")).text)
    assert "Mecklenburg County Sheriff's Office" in page


async def test_nonsense_says_nothing_matched(ds):
    page = text_of((await ds.client.get("/search?q=qqqzzz")).text)
    assert "No agency, county or state matches “qqqzzz”." in page
    # FTS5 syntax, quotes and markup are only words to look for
    for q in ('"polk* OR NEAR(', "polk) AND (", "<script>alert(1)</script>", "x" * 5000):
        r = await ds.client.get("/search", params={"q": q})
        assert r.status_code == 200 and "<script>alert(1)</script>" not in r.text, q
    assert "Polk County, Florida" in text_of((await ds.client.get("/search", params={"q": '"polk* fl'})).text)


# --- pages -----------------------------------------------------------------------------------------

async def test_home_page_says_as_of_and_counts(ds, sql):
    page = text_of((await ds.client.get("/")).text)
    assert "Data as of 27 Mar 2026: ICE's newest participating list, participatingAgencies03272026am.xlsx" in page
    by_model = dict(sql("select model, count(*) from listings l join publications p on l.list = p.list "
                        "and p.seq between l.first_seq and l.last_seq where p.file_name = 'participatingAgencies03272026am.xlsx' group by model"))
    for model in ("JEM", "WSO", "TFM"):
        assert re.search(rf"{model} \w[\w ]+ {by_model[model]:,} agreements", page), model
    assert "Every state" in page and "County map" in page


async def test_etowah_agency_page(ds, sql):
    (agency_id,) = sql("select id from agencies where name = 'Etowah County Sheriff''s Office' and state_code = 'AL'")[0]
    page = text_of((await ds.client.get(f"/287g/agencies/{agency_id}")).text)
    assert ("Etowah County Sheriff's Office, Alabama: 2 active agreements, Task Force Model since 8 Dec 2025, "
            "Jail Enforcement Model since 9 Jun 2020") in page
    assert "5 Mar 2022: ICE changed the JEM agreement's signing date from 8 Jun 2016 to 9 Jun 2020" in page
    assert ("8 Dec 2025: Task Force Model (TFM): moved from ICE's pending list (on it since 5 Dec 2025) "
            "to its participating list, signed 8 Dec 2025") in page
    assert "→" not in page[page.index("Timeline"):]


async def test_florida_state_page_counts_distinct_agencies(ds, sql):
    rows = newest_rows(sql, "l.state_code = 'FL'")
    agencies = {r[0] for r in rows}
    tfm = [r[0] for r in rows if r[1] == "TFM"]
    counties = {r[3] for r in rows if r[3]}
    page = text_of((await ds.client.get("/287g/states/FL")).text)
    assert f"{len(rows)} active agreements held by {len(agencies)} agencies; {len(counties)} of 67 counties" in page
    assert f"TFM Task Force Model {len(tfm)} {len(set(tfm))}" in page
    assert len(agencies) < len(rows)  # agencies and agreements are counted apart
    assert "Census Bureau Vintage 2025 estimate for July 2025" in page


async def test_county_page_links_every_agreement_of_its_agencies(ds):
    page = (await ds.client.get("/287g/counties/12105")).text
    link = re.search(r'href="(/287g/agreements_with_agencies\.csv\?county_fips=12105[^"]*)"', page).group(1)
    rows = list(csv.DictReader((await ds.client.get(html.unescape(link))).text.splitlines()))
    assert len([r for r in rows if r["status"] == "active"]) == 12
    assert {r["agency_name_now"] for r in rows} >= {"Polk County Sheriff's Office", "Lakeland Police Department"}


async def test_county_map_fills_counties_by_model(ds, sql):
    raw = (await ds.client.get("/county-map")).text
    fills = {fips: fill for fill, fips in re.findall(r'fill="([^"]+)" data-fips="(\d{5})"', raw)}
    assert len(fills) == 3142
    florida = {f: c for f, c in fills.items() if f.startswith("12")}
    assert len(florida) == 67 and palette.NONE_COLOUR not in florida.values()
    assert fills["12105"] == "url(#fill-WSO-TFM)" and 'id="fill-WSO-TFM"' in raw
    none = sql("select fips from counties where map_fill = 'none' and has_shape = 1 limit 1")[0][0]
    assert fills[none] == palette.NONE_COLOUR


# --- bad census and boundary files ---------------------------------------------------------------

COUNTY_FILE = ("census", "co-est2025-alldata.csv")
SHAPES_FILE = ("geo", "counties-albers-10m.json")


@pytest.mark.parametrize("where, text, message", [
    (COUNTY_FILE, None, "co-est2025-alldata.csv: missing"),
    (COUNTY_FILE, "STATE,COUNTY\n01,001\n",
     "co-est2025-alldata.csv: not a Census county estimates file (no CTYNAME, POPESTIMATE2025, SUMLEV column)"),
    (SHAPES_FILE, '{"type": "Topology"}', "counties-albers-10m.json: not the us-atlas county topology"),
], ids=["missing", "wrong columns", "not a topology"])
def test_bad_census_or_boundary_file_is_one_line(tmp_path, cache_dir, build_result, where, text, message):
    from conftest import copy_data, run_cli

    data = copy_data(tmp_path / "data")
    path = data.joinpath(*where)
    path.unlink()  # the copy is a hard link: unlink it, never write through it
    if text is not None:
        path.write_text(text)
    result = run_cli("build", "--data", data, "--out", tmp_path / "287g.db", "--cache", cache_dir)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 2 and len(errors) == 1 and message in errors[0], result.stderr
    assert "Traceback" not in result.stderr and not list(tmp_path.glob("287g.db*"))


def test_find_plugin_model_names_are_the_readers():
    from open287g import rules
    from open287g.plugins import find
    from open287g.read import model_of

    # One table (open287g/rules.py): the plugin's names are the reader's, in the order pages list them.
    assert find.MODEL_NAMES is rules.MODEL_NAMES and find.MODELS == ("JEM", "WSO", "TFM")
    assert [rules.MODEL_CODES[model_of(t)] for t in ("Jail Enforcment Model", "warrant services officer", "Task Force Officer")] == ["JEM", "WSO", "TFM"]


def test_a_county_map_defines_each_stripe_pattern_once():
    from open287g.plugins.find import county_map

    shape = {"x0": 0, "y0": 0, "x1": 1, "y1": 1, "name": "X", "state_code": "TX", "agreements_active": 3, "models_active": "JEM, WSO, TFM"}
    m = county_map([dict(shape, fips="1", map_fill="JEM+WSO+TFM"), dict(shape, fips="2", map_fill="JEM+TFM")])
    ids = [p["id"] for p in m["patterns"] + m["all_patterns"]]
    assert sorted(ids) == ["fill-JEM-TFM", "fill-JEM-WSO-TFM"]
