"""The publication, tested in-process: the served configuration, every table, view and canned query
as HTML, JSON and CSV against the real built database, facets, maps, links, search and downloads."""
import csv
import io
import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from open287g import ROOT, config, serve

DB = config.DATABASE
QUERIES = config.read_queries()


@pytest.fixture(scope="session")
def ds(site_db):
    return serve.make_datasette(site_db)


def served_tables(site_db):
    conn = sqlite3.connect(f"file:{site_db}?mode=ro", uri=True)
    rows = conn.execute("select name, type from sqlite_master where type in ('table', 'view') order by name").fetchall()
    conn.close()
    shadow = re.compile(r"_fts(_data|_idx|_docsize|_config)?$|^sqlite_")
    return [(name, kind) for name, kind in rows if not shadow.search(name)]


# Every table the build writes, for a clean clone that has no build to read them from (CI): a test below
# checks it against the session's build, so a new table cannot go untested in CI.
WRITTEN = ["states", "publications", "agencies", "agreements", "listings", "changes", "agreement_merges",
           "pending_applications", "build_anomalies", "corrections", "historical_moa_2024",
           "steering_committee_meetings", "qa_checks", "counties", "county_shapes", "state_shapes",
           "search_entries", "id_aliases", "moa_documents", "moa_pages", "moa_signatories", "moa_contacts",
           "moa_refused", "agreement_documents", "places", "zip_codes", "agency_reach", "level_corrections",
           "search_abbreviations", "history_evidence", "list_gaps", "agency_links"]


def built_db_for_params():
    """Tables and views of the checked-in build, for parametrising; the tests themselves use site_db.
    Without a build (a clean clone running `make test`), the views and WRITTEN."""
    path = ROOT / "build" / "287g.db"
    if path.exists():
        return sorted({n for n, _ in served_tables(path)})
    return sorted({p.stem for p in (ROOT / "open287g" / "views").glob("*.sql")} | set(WRITTEN))


TABLES = built_db_for_params()
# no shipped MOA is refused; tests/test_moa.py fills moa_refused from hand-made bad files
EMPTY_IN_SHIPPED_DATA = {"moa_refused"}


def csv_rows(text):
    return list(csv.DictReader(io.StringIO(text)))


# --- the served configuration -------------------------------------------------------------


def test_config_assembles_every_canned_query_file(site_db):
    served = json.loads((site_db.parent / "metadata.json").read_text())
    queries = served["databases"][DB]["queries"]
    files = sorted(p.stem for p in (ROOT / "canned_queries").glob("*.sql"))
    assert sorted(queries) == files
    for name in files:
        parsed = config.parse_query_file(ROOT / "canned_queries" / f"{name}.sql")
        assert queries[name]["sql"] == parsed["sql"]
        assert queries[name]["title"] and queries[name]["description"]
        assert not queries[name]["sql"].lstrip().startswith("--"), name
    # the minimum set
    for name in ("as_of", "agreements_in_state", "agreements_in_county", "changes_between", "ended_agreements",
                 "growth_by_model", "pending_to_signed", "agencies_with_all_three_models",
                 "steering_committee_meetings_of_agency", "historical_2024_today", "agreements_by_state"):
        assert name in queries
    assert QUERIES["as_of"]["params"] == ["date"]
    assert QUERIES["agreements_in_county"]["params"] == ["state", "county"]


def test_metadata_matches_the_database(site_db):
    metadata = config.assemble()
    assert config.check_against_database(metadata, site_db) == []
    described = set(metadata["databases"][DB]["tables"])
    assert {name for name, _ in served_tables(site_db)} <= described, "every table and view has a description"
    for required in ("title", "license", "license_url", "source", "source_url", "about", "about_url"):
        assert metadata.get(required), required
    assert "canned_queries" not in json.dumps(metadata.get("databases", {}).get(DB, {}).get("tables", {}))


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_canned_query_style(name):
    body = QUERIES[name]["sql"]
    keywords = re.findall(r"\b(SELECT|FROM|WHERE|JOIN|GROUP BY|ORDER BY|HAVING|LIMIT|WITH|AND|OR)\b", re.sub(r"'[^']*'", "", body))
    assert not keywords, f"{name}: SQL is lowercase, found {keywords}"
    assert "?" not in re.sub(r"'[^']*'", "", body), f"{name}: named :params only"


@pytest.mark.parametrize("header, error", [
    ("-- description: d\n-- example:\nselect 1", "title"),
    ("-- title: t\n-- description: d\n-- colour: red\n-- example:\nselect 1", "unknown header field"),
    ("-- title: t\n-- description: d\n-- example:\nselect :date", "missing ['date']"),
    ("-- title: t\n-- description: d\n-- example: day=1\nselect :date", "unknown ['day']"),
    ("-- title: t\n-- description: d\n-- example:\n", "no SQL"),
    ("-- title: t\n-- description: d\n-- example:\n-- title: again\nselect 1", "twice"),
])
def test_bad_query_headers_are_refused(tmp_path, header, error):
    (tmp_path / "q.sql").write_text(header)
    with pytest.raises(config.ConfigError, match=re.escape(error)):
        config.read_queries(tmp_path)


@pytest.mark.parametrize("text, error", [
    ("title: [unclosed\n", "metadata.yml: not valid YAML at line 2"),
    ("- a list\n", "metadata.yml: not a mapping of settings"),
])
def test_a_broken_metadata_yml_is_named_in_one_line(tmp_path, text, error):
    (tmp_path / "metadata.yml").write_text(text)
    with pytest.raises(config.ConfigError, match=re.escape(error)):
        config.assemble(tmp_path / "metadata.yml", tmp_path)


def test_query_params_ignore_string_literals_and_comments():
    assert config.query_params("select '09:00' as t, :a -- :not_a_param\nwhere x = :b and y = :a") == ["a", "b"]
    # an apostrophe in a comment opens no string; "--" in a string starts no comment
    assert config.query_params("select 1 -- ICE's list\nwhere x = :b and s = '--:no' and y = :c") == ["b", "c"]


def test_continuation_lines_join_the_description(tmp_path):
    (tmp_path / "q.sql").write_text("-- title: T\n-- description: first line\n--   second line\n-- example: a=1\nselect :a")
    q = config.read_queries(tmp_path)["q"]
    assert q["description"] == "first line second line"
    assert q["example"] == {"a": "1"}


def test_serve_command_is_immutable_with_inspect_metadata_and_limits(site_db):
    cmd = serve.datasette_command(site_db, "127.0.0.1", 8123)
    assert cmd[cmd.index("-i") + 1] == str(site_db)
    assert Path(cmd[cmd.index("--inspect-file") + 1]).exists()
    assert Path(cmd[cmd.index("--metadata") + 1]) == site_db.parent / "metadata.json"
    assert "--plugins-dir" not in cmd  # the plugins are the package's entry points
    settings = dict(zip(cmd[cmd.index("--setting") + 1::3], cmd[cmd.index("--setting") + 2::3]))
    assert int(settings["max_returned_rows"]) >= 5000
    assert int(settings["sql_time_limit_ms"]) > 0
    assert settings["allow_download"] == "on"
    assert int(settings["default_cache_ttl"]) > 0


def test_inspect_counts_equal_the_database(site_db, sql):
    inspected = json.loads(serve.inspect_path(site_db).read_text())[DB]
    for table in ("agreements", "agencies", "listings", "publications", "changes"):
        assert inspected["tables"][table]["count"] == sql(f"select count(*) from {table}")[0][0]


async def test_settings_served(ds):
    settings = (await ds.client.get("/-/settings.json")).json()
    assert settings["max_returned_rows"] == 5000
    assert settings["sql_time_limit_ms"] == serve.SETTINGS["sql_time_limit_ms"]
    assert settings["allow_download"] is True
    plugins = (await ds.client.get("/-/plugins.json")).json()
    assert {"datasette-cluster-map", "datasette-gzip", "open287g"} <= {p["name"] for p in plugins}
    # each plugin module is registered once, by the package's datasette entry points
    from datasette.plugins import pm

    modules = sorted(p.stem for p in (ROOT / "open287g" / "plugins").glob("*.py") if p.stem != "__init__")
    assert sorted(m.__name__ for m in pm.get_plugins() if m.__name__.startswith("open287g.")) == \
        [f"open287g.plugins.{m}" for m in modules]
    assert len([p for p in plugins if p["name"] == "open287g"]) == len(modules) == 17
    databases = (await ds.client.get("/-/databases.json")).json()
    assert databases[0]["is_mutable"] is False and databases[0]["hash"]


def test_datasette_plugins_lists_the_sites_plugins():
    """`datasette plugins` in this environment: the installed package's entry points, nothing loaded by path."""
    done = subprocess.run([sys.executable, "-m", "datasette", "plugins"], capture_output=True, text=True, timeout=60)
    listed = json.loads(done.stdout)
    ours = [p for p in listed if p["name"] == "open287g"]
    assert len(ours) == 17
    assert {"extra_template_vars", "startup", "register_routes", "permission_allowed"} & {h for p in ours for h in p["hooks"]}


# --- every table and view, three formats ---------------------------------------------------


@pytest.mark.parametrize("table", TABLES)
async def test_table_html_json_csv(ds, sql, table):
    count = sql(f'select count(*) from "{table}"')[0][0]
    if table in EMPTY_IN_SHIPPED_DATA:
        assert count == 0, f"{table} holds rows: a shipped document was refused"
        for suffix in ("", ".json", ".csv"):
            assert (await ds.client.get(f"/{DB}/{table}{suffix}")).status_code == 200
        return
    assert count > 0, f"{table} is empty"
    html = await ds.client.get(f"/{DB}/{table}")
    assert html.status_code == 200
    assert f"{count:,} row" in html.text
    data = (await ds.client.get(f"/{DB}/{table}.json?_shape=objects&_size=max")).json()
    assert data["filtered_table_rows_count"] == count
    if count <= serve.SETTINGS["max_returned_rows"]:
        assert len(data["rows"]) == count and data["next"] is None, f"{table} would be cut"
    else:
        assert len(data["rows"]) == serve.SETTINGS["max_returned_rows"] and data["next"]
    streamed = await ds.client.get(f"/{DB}/{table}.csv?_stream=on&_size=max")
    assert streamed.status_code == 200
    rows = csv_rows(streamed.text)
    assert len(rows) == count
    assert set(data["columns"]) <= set(rows[0])


@pytest.mark.parametrize("table", TABLES)
async def test_paging_returns_every_row_once(ds, sql, table):
    """Following next links page by page, in the table's default order, yields every row exactly once."""
    count = sql(f'select count(*) from "{table}"')[0][0]
    distinct = len(set(sql(f'select * from "{table}"')))
    url, rows = f"/{DB}/{table}.json?_size=500", []
    while url:
        data = (await ds.client.get(url)).json()
        rows += [json.dumps(r) for r in data["rows"]]
        url = data["next_url"] and data["next_url"].replace("http://localhost", "")
    assert len(rows) == count
    assert len(set(rows)) == distinct


# --- every canned query with its example parameters ------------------------------------------


@pytest.mark.parametrize("name", sorted(QUERIES))
async def test_canned_query_html_json_csv(ds, sql, name):
    query = QUERIES[name]
    # Datasette's magic parameters, as the in-process client's request fills them
    magic = {"_header_host": "localhost", "_header_x_forwarded_proto": "", "_open287g_lang": "en"}
    expected = sql(query["sql"], {**query["example"], **{k: v for k, v in magic.items() if f":{k}" in query["sql"]}})
    assert expected, f"{name} returns nothing for its example {query['example']}"
    html = await ds.client.get(config.example_path(query))
    assert html.status_code == 200
    assert query["title"].replace("'", "&#39;") in html.text or query["title"] in html.text
    data = (await ds.client.get(config.example_path(query, fmt=".json") + ("&" if query["example"] else "?") + "_shape=objects")).json()
    assert data["ok"] and not data["truncated"]
    assert len(data["rows"]) == len(expected)
    assert [tuple(r.values()) for r in data["rows"]] == [tuple(r) for r in expected]
    text = (await ds.client.get(config.example_path(query, fmt=".csv"))).text
    assert len(csv_rows(text)) == len(expected)


async def test_as_of_newest_list_is_complete(ds):
    data = (await ds.client.get(f"/{DB}/as_of.json?date=2026-03-27&_shape=objects")).json()
    assert len(data["rows"]) == 1560 and not data["truncated"]
    assert data["columns"][:4] == ["state", "agency", "support_type", "signed_on"]
    assert {r["publication"] for r in data["rows"]} == {"participatingAgencies03272026am.xlsx"}
    etowah = [r for r in data["rows"] if r["agency"] == "Etowah County Sheriff's Office"]
    assert sorted(r["support_type"] for r in etowah) == ["Jail Enforcement Model", "Task Force Model"]
    text = (await ds.client.get(f"/{DB}/as_of.csv?date=2026-03-27")).text
    assert len(csv_rows(text)) == 1560


@pytest.mark.parametrize("date, file_name", [
    ("2025-06-06", "participatingAgencies06062025am.xlsx"),
    ("2025-06-10", "participatingAgencies06062025am.xlsx"),  # nothing new until the 11th: the list of the 6th still stands
])
async def test_as_of_other_dates_equal_their_workbook(ds, sql, date, file_name):
    (row_count,) = sql("select row_count from publications where file_name = ? and list = 'participating'", (file_name,))[0]
    data = (await ds.client.get(f"/{DB}/as_of.json?date={date}&_shape=objects")).json()
    assert {r["publication"] for r in data["rows"]} == {file_name}
    assert len(data["rows"]) == row_count


async def test_as_of_in_the_web_page_era(ds, sql):
    file_name, row_count = sql(
        "select file_name, row_count from publications where list = 'participating' and seq is not null "
        "and published_at < '2024-05-16' order by published_at desc, seq desc limit 1")[0]
    data = (await ds.client.get(f"/{DB}/as_of.json?date=2024-05-15&_shape=objects")).json()
    assert {r["publication"] for r in data["rows"]} == {file_name}
    assert len(data["rows"]) == row_count > 100


# --- facets, links, maps, charts, search, downloads ------------------------------------------


async def test_default_facets_on_agreements(ds, sql):
    data = (await ds.client.get(f"/{DB}/agreements.json?_size=0")).json()
    facets = data["facet_results"]
    # support_type repeats model in ICE's words; county names repeat across states (Polk County is in
    # six), so a nationwide county facet adds unlike places up: both on request only (_facet=county)
    assert set(facets) == {"state_code", "model", "status", "level"}
    assert {r["value"]: r["count"] for r in facets["model"]["results"]} == dict(sql("select model, count(*) from agreements group by model"))
    assert {r["value"]: r["count"] for r in facets["status"]["results"]} == dict(sql("select status, count(*) from agreements group by status"))
    florida = [r for r in facets["state_code"]["results"] if r["value"] == "FL"][0]
    assert florida["label"] == "Florida"


async def test_agreements_pages_by_50_and_facets_county_on_request(ds, sql):
    page = (await ds.client.get(f"/{DB}/agreements.json?state_code=TX&_shape=objects")).json()
    texas = sql("select count(*) from agreements where state_code = 'TX'")[0][0]
    assert texas > 50 and len(page["rows"]) == 50 and page["next"]
    rows = page["rows"]
    while page["next_url"]:
        page = (await ds.client.get(page["next_url"].removeprefix("http://localhost"))).json()
        rows += page["rows"]
    assert len(rows) == len({r["id"] for r in rows}) == texas
    polk = (await ds.client.get(f"/{DB}/agreements.json?state_code=FL&_facet=county&_facet_size=max&_size=0")).json()
    counts = {r["value"]: r["count"] for r in polk["facet_results"]["county"]["results"]}
    assert counts["Polk County"] == sql("select count(*) from agreements where state_code = 'FL' and county = 'Polk County'")[0][0]


async def test_facet_links_filter(ds, sql):
    html = (await ds.client.get(f"/{DB}/agreements")).text
    assert re.search(r'href="(http://localhost)?/287g/agreements\?model=TFM"', html)
    tfm_fl = sql("select count(*) from agreements where model = 'TFM' and state_code = 'FL'")[0][0]
    data = (await ds.client.get(f"/{DB}/agreements.json?model=TFM&state_code=FL&_size=0")).json()
    assert data["filtered_table_rows_count"] == tfm_fl


async def test_agency_page_lists_its_agreements(ds, sql):
    (agency_id,) = sql("select id from agencies where name = ?", ("Etowah County Sheriff's Office",))[0]
    page = (await ds.client.get(f"/{DB}/agencies/{agency_id}")).text
    assert "Etowah County Sheriff&#39;s Office" in page or "Etowah County Sheriff's Office" in page
    agreements = sql("select id, model from agreements where agency_id = ?", (agency_id,))
    assert len(agreements) == 4  # JEM 2008 and 2013 on ICE's roster (superseded), JEM 2016 (re-dated 2020), TFM 2025
    assert f'href="/287g/agreements?agency_id={agency_id}"' in page
    for agreement_id, _ in agreements:
        assert f'/287g/agreements/{agreement_id}"' in page, "the agency page lists each agreement"


async def test_agreement_page_links_agency_listings_and_changes(ds, sql):
    agreement_id, agency_id = sql(
        "select agreements.id, agencies.id from agreements join agencies on agencies.id = agreements.agency_id "
        "where agencies.name = ? and agreements.model = 'JEM'", ("Etowah County Sheriff's Office",))[0]
    page = (await ds.client.get(f"/{DB}/agreements/{agreement_id}")).text
    assert f'href="/287g/agencies/{agency_id}"' in page
    listings = sql("select count(*) from listings where agreement_id = ?", (agreement_id,))[0][0]
    changes = sql("select count(*) from changes where agreement_id = ?", (agreement_id,))[0][0]
    assert listings and changes
    assert f'href="/287g/listings?agreement_id={agreement_id}"' in page
    assert f'href="/287g/changes?agreement_id={agreement_id}"' in page
    assert re.search(rf'/287g/listings\?agreement_id={agreement_id}">\s*{listings} rows?', page)


@pytest.mark.parametrize("path", ["agencies", "agencies_map", "agreements_map", "agreements_with_agencies"])
async def test_map_pages_carry_the_map_and_marker_plugins(ds, path):
    page = (await ds.client.get(f"/{DB}/{path}")).text
    assert "datasette-cluster-map.js" in page
    assert "window.OPEN287G_MAP" in page and "o287g-marker" in page
    settings = json.loads(re.search(r"window.OPEN287G_MAP = (\{.*?\});\n", page).group(1))
    # the one palette (open287g/palette.py), Okabe-Ito blue, orange and reddish purple
    assert [settings["colours"][m] for m in ("JEM", "WSO", "TFM")] == ["#0072B2", "#E69F00", "#CC79A7"]
    assert settings["outlines"] == "/-/open287g/states-10m.json"


async def test_pages_without_coordinates_have_no_map(ds):
    page = (await ds.client.get(f"/{DB}/changes")).text
    assert "datasette-cluster-map.js" not in page and "OPEN287G_MAP" not in page


@pytest.mark.parametrize("view, count_sql", [
    ("agencies_map", "select count(*) from agencies where latitude is not null"),
    ("agreements_map", "select count(*) from agreements where latitude is not null"),
])
async def test_map_data_arrives_in_one_page_with_popups(ds, sql, view, count_sql):
    # what datasette-cluster-map requests: all markers at once, none cut at 1,000
    data = (await ds.client.get(f"/{DB}/{view}.json?_size=max&_labels=on&_extra=count&_extra=next_url&_shape=objects")).json()
    expected = sql(count_sql)[0][0]
    assert len(data["rows"]) == expected > 1000
    assert data["next"] is None
    popups = [json.loads(r["popup"]) for r in data["rows"]]
    assert all(p["link"].startswith(f"/{DB}/") for p in popups)
    models = re.compile(r"^(JEM|WSO|TFM)(, (JEM|WSO|TFM))*$")
    # the marker plugin reads a models-only segment and a status segment from each description
    for p in popups:
        segments = [s.strip() for s in p["description"].split("·")]
        assert any(models.match(s) for s in segments) or "pending" in p["description"], p
        assert any(re.match(r"(active|ended|superseded|pending)", s) for s in segments), p
    etowah = [p for p in popups if p["title"].startswith("Etowah County Sheriff's Office")]
    assert etowah and all("signed" in p["description"] for p in etowah)


async def test_chart_queries_carry_a_chart_fragment(ds, sql):
    database_page = (await ds.client.get(f"/{DB}")).text
    for name in ("growth_by_model", "agreements_by_state", "signings_by_month"):
        fragment = QUERIES[name]["fragment"]
        assert "g.mark=" in fragment and "g.color_column=model" in fragment
        assert f"/{DB}/{name}#{fragment}".replace("&", "&amp;") in database_page
    page = (await ds.client.get(f"/{DB}/growth_by_model")).text
    assert "window.OPEN287G_CHART" in page and 'id="o287g-chart"' in page and "datasette_vega" not in page
    assert "window.OPEN287G_CHART" not in (await ds.client.get(f"/{DB}/as_of?date=2026-03-27")).text
    growth = (await ds.client.get(f"/{DB}/growth_by_model.json?_shape=objects")).json()["rows"]
    assert {r["model"] for r in growth} == {"JEM", "WSO", "TFM", "names"}
    # From 2007: ICE's name list of 19 September 2007 (28 agencies), the OIG's 61 signed (hybrids once per model)
    assert [(r["month"], r["agreements"]) for r in growth if r["model"] == "names"] == [("2007-09", 28), ("2008-03", 41)]
    assert {r["month"] for r in growth if "2017-09" <= r["month"] < "2021-01"} == set()
    newest = [r for r in growth if r["month"] == "2026-03"]
    assert {r["publication"] for r in newest} == {"participatingAgencies03272026am.xlsx"}
    assert sum(r["agreements"] for r in newest) == sql(
        "select count(distinct agreement_id) from listings l join publications p on p.file_name = 'participatingAgencies03272026am.xlsx' "
        "and p.list = 'participating' and l.list = 'participating' and p.seq between l.first_seq and l.last_seq")[0][0]
    by_state = (await ds.client.get(f"/{DB}/agreements_by_state.json?_shape=objects")).json()["rows"]
    assert sum(r["agreements"] for r in by_state) == sql("select count(*) from agreements where status = 'active'")[0][0]


async def test_search_on_agency_names(ds):
    data = (await ds.client.get(f"/{DB}/agencies.json?_search=Etowah&_shape=objects")).json()
    assert "Etowah County Sheriff's Office" in [r["name"] for r in data["rows"]]
    page = (await ds.client.get(f"/{DB}/agencies")).text
    assert 'name="_search"' in page


async def test_home_page_links_the_combined_csv_and_the_database(ds, sql, site_db):
    home = (await ds.client.get("/")).text
    link = re.search(r'href="(/287g/agreements_with_agencies\.csv[^"]*)"', home).group(1).replace("&amp;", "&")
    rows = csv_rows((await ds.client.get(link)).text)
    assert len(rows) == sql("select count(*) from agreements")[0][0]
    etowah = [r for r in rows if r["agency"] == "Etowah County Sheriff's Office"]
    assert {r["model"] for r in etowah} == {"JEM", "TFM"} and all(r["county_name"] == "Etowah County" for r in etowah)
    assert 'href="/287g.db"' in home
    download = await ds.client.get(f"/{DB}.db")
    assert download.status_code == 200 and len(download.content) == site_db.stat().st_size
    assert download.content[:16] == b"SQLite format 3\x00"


async def test_about_page_and_atom_feed(ds, sql):
    about = await ds.client.get("/about")
    assert about.status_code == 200 and "How the database is built" in about.text
    feed = await ds.client.get(f"/{DB}/recent_changes.atom")
    assert feed.status_code == 200 and feed.text.count("<entry>") == 200


def test_rows_html_writes_the_cells_datasette_would():
    from markupsafe import Markup

    from open287g.plugins.templating import rows_html

    rows = [[{"column": "id", "value_type": "pk", "value": Markup('<a href="/db/t/1">1</a>')},
             {"column": "agency", "value_type": "str", "value": "O'Brien <County>"},
             {"column": "ended_seen", "value_type": "none", "value": Markup("&nbsp;")},
             {"column": "two words", "value_type": "float", "value": "2.5"}]]
    html = str(rows_html(rows))
    assert html.startswith('<tr><td class="col-id type-pk"><a href="/db/t/1">1</a></td>')
    assert '<td class="col-agency type-str">O&#39;Brien &lt;County&gt;</td>' in html
    assert '<td class="col-ended_seen type-none">&nbsp;</td>' in html
    # a column name that is not a CSS class gets Datasette's own hashed class
    assert '<td class="col-two-words-573eb8 type-float">2.5<' in html and html.endswith("</td></tr>\n")


async def test_table_page_cells_link_their_foreign_keys(ds, sql):
    (agreement_id, agency_id, agency, state) = sql(
        "select agreements.id, agency_id, agencies.name, agreements.state_code from agreements "
        "join agencies on agencies.id = agency_id where agencies.name = ? and model = 'JEM' and agreements.status = 'active'",
        ("Etowah County Sheriff's Office",))[0]
    page = (await ds.client.get(f"/{DB}/agreements?agency_id={agency_id}&model=JEM&status=active")).text
    assert page.count("<tr><td ") == 1, "one body row, written by templates/_table.html's rows_html"
    assert f'<td class="col-id type-pk"><a href="/287g/agreements/{agreement_id}">{agreement_id}</a></td>' in page
    assert (f'<td class="col-agency_id type-str"><a href="/287g/agencies/{agency_id}">'
            f'Etowah County Sheriff&#39;s Office</a>&nbsp;<em>{agency_id}</em></td>') in page
    assert f'<td class="col-state_code type-str"><a href="/287g/states/{state}">Alabama</a>' in page


def test_id_link_links_only_named_id_columns():
    from markupsafe import Markup

    from open287g.plugins.queries import id_link

    assert str(id_link("abc123", "agency_id", "287g")) == '<a href="/287g/agencies/abc123">abc123</a>'
    assert id_link("abc123", "agency", "287g") == "abc123"
    nbsp = Markup("&nbsp;")
    assert id_link(nbsp, "agency_id", "287g") is nbsp, "an empty cell stays empty"
    assert str(id_link("a<b", "agreement_id", "287g")) == '<a href="/287g/agreements/a&lt;b">a&lt;b</a>'


def test_repeated_facet_arguments_are_dropped():
    from open287g.plugins.facets import without_repeated_facets

    assert without_repeated_facets("_facet=model&state_code=TX&_facet=county", ["model", "status"]) == "state_code=TX&_facet=county"
    assert without_repeated_facets("_facet=county&_facet=county&_sort=seq", []) == "_facet=county&_sort=seq"
    assert without_repeated_facets("_facet=county&agency=O%27Brien+PD", ["model"]) is None, "nothing repeated: left as given"


async def test_a_url_naming_a_shown_facet_gets_it_once(ds, sql):
    page = (await ds.client.get(f"/{DB}/agreements?_facet=state_code&_facet=model&_facet=status&_facet=county")).text
    boxes = re.findall(r'class="facet-info[^"]*"[^>]*data-column="([^"]+)"', page)
    assert sorted(boxes) == ["county", "level", "model", "state_code", "status"]
    data = (await ds.client.get(f"/{DB}/agreements.json?_facet=model&model=JEM&_size=0")).json()
    assert set(data["facet_results"]) == {"state_code", "model", "status", "level"}
    assert data["filtered_table_rows_count"] == sql("select count(*) from agreements where model = 'JEM'")[0][0]


def test_the_private_method_permissions_wraps_is_the_one_it_was_written_for():
    """plugins/permissions.py wraps Datasette 0.65.5's private _table_permission_allows (no public hook can spare
    the default permission hook's call to it): another Datasette, or another source of either, fails here."""
    import hashlib
    import inspect

    from datasette import default_permissions
    from datasette.app import Datasette
    from datasette.version import __version__

    def digest(function):
        return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]

    assert __version__ == "0.65.5", "check plugins/permissions.py against this Datasette, then update the pins here"
    assert digest(Datasette._table_permission_allows) == "b165e240f8c461d4"
    assert digest(default_permissions.permission_allowed) == "5966f4db11c60665"


async def test_table_permission_rules_are_read_once_and_still_hold(tmp_path):
    """plugins/permissions.py keeps each table's rules; a denial in the metadata still denies."""
    from datasette.app import Datasette

    path = tmp_path / "t.db"
    conn = sqlite3.connect(path)
    conn.executescript("create table open_rows (id integer primary key); create table closed_rows (id integer primary key);")
    conn.close()
    made = Datasette([str(path)], metadata={"databases": {"t": {"tables": {"closed_rows": {"allow": False}}}}})
    computed = []
    original = made._table_permission_allows
    made._table_permission_allows = lambda database, table: computed.append(table) or original(database, table)
    await made.invoke_startup()
    for _ in range(3):
        assert (await made.client.get("/t/open_rows.json")).status_code == 200
        assert (await made.client.get("/t/closed_rows.json")).status_code == 403
    assert sorted(computed) == ["closed_rows", "open_rows"], "each table's rules computed once"


def test_every_column_readers_see_is_described_and_every_description_has_its_column(site_db):
    """metadata.yml's column help matches the columns: of every table and view, and of every canned query."""
    served = json.loads((site_db.parent / "metadata.json").read_text())
    tables = served["databases"][DB]["tables"]
    shared = served["plugins"]["open287g-queries"]["columns"]
    conn = sqlite3.connect(f"file:{site_db}?mode=ro", uri=True)
    undescribed = []
    for name, _ in served_tables(site_db):
        columns = [r[1] for r in conn.execute(f'pragma table_info("{name}")')]
        described = tables[name].get("columns") or {}
        undescribed += [f"{name}.{c}" for c in columns if c not in described]
        assert set(described) <= set(columns), name
    assert undescribed == []
    # a canned query's column is described by the shared query columns or a table's own
    query_columns = set()
    for name, query in QUERIES.items():
        params = {p: (query["example"].get(p) or "") for p in query["params"]}
        params.update({"_header_host": "localhost", "_header_x_forwarded_proto": "", "_open287g_lang": "en"})
        cursor = conn.execute(f"select * from ({query['sql']}) limit 0", params)
        columns = [d[0] for d in cursor.description if not d[0].startswith("atom_")]
        query_columns |= set(columns)
        missing = [c for c in columns if c not in shared and not any(c in (t.get("columns") or {}) for t in tables.values())]
        assert missing == [], name
    assert sorted(set(shared) - query_columns) == [], "shared query columns no canned query has"
    conn.close()
    # states.name is the state's name, never an agency's
    assert "Agency" not in tables["states"]["columns"]["name"]


def test_the_clean_clone_table_list_is_every_table_served(db_path):
    views = {p.stem for p in (ROOT / "open287g" / "views").glob("*.sql")}
    assert sorted(views | set(WRITTEN)) == sorted({n for n, _ in served_tables(db_path)})
