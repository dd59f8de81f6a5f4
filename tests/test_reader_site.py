"""The site for readers, through the real Datasette in-process: no address answers 500, downloads carry
file names, parameters are checked, every query column is described, ids link, responses are compressed."""
import csv
import io
import re

import pytest

from open287g import config
from open287g.serve import make_datasette

DB = config.DATABASE
QUERIES = config.read_queries()

# addresses a reader can type, mangle or follow from an old link; Datasette 0.65 answered 500 to the first five
BAD_ADDRESSES = [
    "/287g/agreements?_sort=no_such_column",
    "/287g/agreements?_sort_desc=no_such_column",
    "/287g/agreements_map?_sort=nope",
    "/287g/agreements?_timelimit=abc",
    "/287g/agreements?_through=nope",
    "/287g/agreements.csv?_sort=nope",
    "/287g/agreements.json?_sort=nope",
    "/287g/agreements?_facet=nope",
    "/287g/agreements?_size=abc",
    "/287g/agreements?_search=%22",
    "/287g/agreements?_where=nope",
    "/287g/agreements/no-such-agreement",
    "/287g/no_such_table",
    "/no_such_database",
    "/287g/as_of?date=notadate",
    "/287g/as_of.csv?date=2026-02-30",
    "/287g/changes_between?start=yesterday&end=today",
    "/287g/agreements_in_state?state=Narnia",
    "/287g?sql=select+nope",
]


@pytest.fixture(scope="module")
def ds(site_db):
    return make_datasette(site_db)


@pytest.mark.parametrize("path", BAD_ADDRESSES)
async def test_no_reader_address_answers_500(ds, path):
    response = await ds.client.get(path)
    assert 400 <= response.status_code < 500, (path, response.status_code)
    if not path.endswith((".csv", ".json")) and ".csv?" not in path and ".json?" not in path:
        # the site's header, its search box and a way home
        assert 'action="/search"' in response.text and 'name="q"' in response.text and 'href="/"' in response.text


async def test_error_page_says_what_went_wrong(ds):
    response = await ds.client.get("/287g/agreements?_sort=no_such_column")
    assert response.status_code == 400 and "Cannot sort table by no_such_column" in response.text
    response = await ds.client.get("/287g/agencies/no-such-agency")
    assert response.status_code == 404 and "<title>Page not found · 287(g) Open Data</title>" in response.text
    response = await ds.client.get("/287g/agreements.json?_timelimit=abc")
    assert response.status_code == 400 and response.json()["ok"] is False


@pytest.mark.parametrize("path, name", [
    ("/287g/agreements.csv?model=TFM&_labels=on", "287g-agreements-model-TFM.csv"),
    ("/287g/agreements.json", "287g-agreements.json"),
    ("/287g/as_of.csv?date=2026-01-08", "287g-as_of-2026-01-08.csv"),
    ("/287g/changes_between.json?start=2026-03-01&end=2026-03-27", "287g-changes_between-2026-03-01-2026-03-27.json"),
    ("/287g/agreements_in_county.csv?state=TX&county=Galveston", "287g-agreements_in_county-state-TX-county-Galveston.csv"),
    ("/287g.csv?sql=select+1", "287g-query.csv"),
    ("/287g.db", "287g.db"),
])
async def test_downloads_have_file_names(ds, path, name):
    response = await ds.client.get(path)
    assert response.status_code == 200
    assert response.headers["content-disposition"] == f'attachment; filename="{name}"'


async def test_custom_sql_csv_says_it_was_cut(ds, sql):
    total = sql("select count(*) from listings")[0][0]
    assert total > 5000
    response = await ds.client.get("/287g.csv?sql=select+id+from+listings")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["id"] and len(rows) == 1 + 5000 + 1
    assert rows[-1][0] == f"Cut at the site's limit of 5,000 rows: the query has {total - 5000:,} more rows. Add limit and offset to the SQL to download the rest."
    assert response.headers["x-rows-cut"] == "5000"
    whole = await ds.client.get("/287g.csv?sql=select+code+from+states")
    assert "Cut at" not in whole.text and "x-rows-cut" not in whole.headers
    page = await ds.client.get("/287g?sql=select+id+from+listings")
    assert "the result was cut at the site&#39;s row limit" in page.text or "the result was cut at the site's row limit" in page.text


async def test_query_results_page_by_100(ds):
    last = (await ds.client.get("/287g/as_of?date=2026-01-08&_page=14")).text
    assert "Rows 1,301–1,317 of 1,317." in last and 'rel="next"' not in last
    assert last.count('<td class="col-agency">') == 17
    past_the_end = (await ds.client.get("/287g/as_of?date=2026-01-08&_page=999")).text
    assert "Rows 1,301–1,317 of 1,317." in past_the_end


async def test_parameters_are_checked(ds):
    response = await ds.client.get("/287g/as_of.json?date=2026-13-01")
    assert response.status_code == 400
    assert response.json()["error"] == "as_of: “2026-13-01” is not a date: enter date as year-month-day, for example 2026-01-08."
    response = await ds.client.get("/287g/agreements_in_state?state=fl")
    assert response.status_code == 200 and "is not a state" not in response.text
    # an empty form is an invitation, not an error
    response = await ds.client.get("/287g/as_of")
    assert response.status_code == 200 and "Fill in the form above" in response.text
    assert '<input type="date" id="qp-date" name="date"' in response.text


@pytest.mark.parametrize("name", sorted(QUERIES))
async def test_every_query_column_is_described_and_ids_link(ds, name):
    query = QUERIES[name]
    page = (await ds.client.get(config.example_path(query))).text
    assert f"<title>{query['title']} · 287(g) Open Data</title>".replace("'", "&#39;") in page
    assert '<details class="sql-details">' in page and "Run SQL" not in page
    data = (await ds.client.get(config.example_path(query, fmt=".json"))).json()
    described = set(re.findall(r"<dt>([a-z_0-9]+)</dt><dd>", page))
    shown = [c for c in data["columns"] if not c.startswith("atom_")]
    assert set(shown) <= described, f"{name}: columns without a description: {sorted(set(shown) - described)}"
    for column, table in (("agreement_id", "agreements"), ("agency_id", "agencies")):
        if column in data["columns"] and data["rows"]:
            value = next(row[data["columns"].index(column)] for row in data["rows"] if row[data["columns"].index(column)])
            assert f'<a href="/287g/{table}/{value}">{value}</a>' in page


async def test_responses_are_compressed(ds):
    response = await ds.client.get("/287g/agreements", headers={"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"


async def test_palette_is_the_only_source_of_model_colours(ds):
    from open287g.palette import MODEL_COLOURS

    metadata = (await ds.client.get("/-/metadata.json")).json()
    assert "open287g-markers" not in metadata.get("plugins", {})
    page = (await ds.client.get("/287g/as_of?date=2026-01-08")).text
    for colour in MODEL_COLOURS.values():
        assert colour in page
    for old in ("#1f77b4", "#2ca02c", "#d62728"):
        assert old not in page


async def test_the_header_search_box_searches(ds):
    """Every page's header box sends its words to /search (it once sent them to the home page, which ignored them)."""
    page = (await ds.client.get("/287g/agreements")).text
    form = page[page.index('<form class="site-search"'):]
    assert form.startswith('<form class="site-search" action="/search"')
    results = await ds.client.get("/search?q=tampa")
    assert results.status_code == 200 and "Tampa Police Department" in results.text
