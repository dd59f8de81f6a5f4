"""What a reader sees in a real browser (Debian's chromium, Playwright): query pages, downloads, the map's
first view, the error pages, and axe-core's accessibility check (zero critical and serious violations).

Uses the served site and browser page of test_browser.py. axe-core comes from the npm registry
through `make test` (package.json); screenshots go to build/screenshots/.
"""
import json
import re
from pathlib import Path

import pytest

from open287g import ROOT
from test_browser import SHOTS, page, playwright_api  # noqa: F401  (the same browser fixture; the datasette server is conftest's)

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe_violations(pg):
    """Critical and serious axe-core violations of the page as it stands: [(rule, impact, count, first target)]."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: `make test` installs axe-core with npm (package.json)")
    pg.add_script_tag(path=str(AXE))
    result = pg.evaluate("async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG)
    return [(v["id"], v["impact"], len(v["nodes"]), v["nodes"][0]["target"]) for v in result["violations"]
            if v["impact"] in ("critical", "serious")]


def wait_for_map(pg):
    pg.wait_for_selector(".leaflet-container .o287g-cluster, .leaflet-container .o287g-marker")
    pg.wait_for_selector(".leaflet-overlay-pane path")
    # the first batch of markers placed and the view fitted to it (markers.js counts the batches)
    pg.wait_for_function("() => (window.open287g && window.open287g.batches) > 0")
    pg.wait_for_timeout(500)


def test_as_of_shows_counts_by_model_above_a_paged_list(page, server, sql):
    response = page.goto(server + "/287g/as_of?date=2026-01-08")
    assert response.status == 200
    assert page.title() == "ICE's participating list as of a date · 287(g) Open Data"
    assert page.inner_text("h1") == "ICE's participating list as of a date"
    # ICE's workbook participatingAgencies01082026am.xlsx prints 147 JEM, 448 WSO and 722 TFM rows
    counts = dict(page.eval_on_selector_all(
        "table.counts-by-model tbody tr", "rows => rows.map(r => [r.className.replace('model-', ''), r.querySelector('td').textContent])"))
    assert counts == {"JEM": "147", "WSO": "448", "TFM": "722"}
    assert page.inner_text("table.counts-by-model tfoot td") == "1,317"
    assert "2026-01-08" in page.inner_text("table.counts-by-model caption")
    page.screenshot(path=str(SHOTS / "as_of.png"))
    # the SQL is one click away, not on the page
    assert not page.is_visible("#sql-query")
    page.click("text=Show the SQL behind this page")
    assert page.is_visible("#sql-query") and "from listings" in page.inner_text("#sql-query")
    # a labelled date picker
    date_input = page.get_by_label("Date", exact=True)
    assert date_input.get_attribute("type") == "date" and date_input.input_value() == "2026-01-08"
    # the list pages: 100 rows, then the next 100
    assert page.locator("table.rows-and-columns tbody tr").count() == 100
    assert "Rows 1–100 of 1,317." in page.inner_text("nav.paging")
    page.click("nav.paging >> text=Next 100")
    page.wait_for_url("**_page=2**")
    assert "Rows 101–200 of 1,317." in page.inner_text("nav.paging")
    # columns are described, ids are links to their rows
    assert "The agreement: click to open its page" in page.inner_text("dl.column-descriptions")
    link = page.locator("td.col-agreement_id a").first
    agreement = link.inner_text()
    link.click()
    page.wait_for_url(f"**/287g/agreements/{agreement}")
    agency = sql("select agency from agreements where id = ?", (agreement,))[0][0]
    assert agency in page.inner_text("body")


def test_a_bad_date_says_so(page, server):
    response = page.goto(server + "/287g/as_of?date=notadate")
    assert response.status == 400
    message = page.inner_text("[role=alert]")
    assert "“notadate” is not a date" in message and "2026-01-08" in message
    assert page.locator("table.rows-and-columns").count() == 0 and page.locator("table.counts-by-model").count() == 0
    response = page.goto(server + "/287g/changes_between?start=2026-03-01&end=31/03/2026")
    assert response.status == 400 and "“31/03/2026” is not a date" in page.inner_text("[role=alert]")


def test_map_opens_on_the_48_states_on_a_slow_phone_too(page, server):
    # A CPU six times slower than this machine's: markercluster places the first batch of markers in several
    # timed chunks, and the view datasette-cluster-map fitted to the first chunk (none) was the whole world.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": 6})
    try:
        page.goto(server + "/287g/agencies_map")
        wait_for_map(page)
        assert_on_the_48_states(page)
    finally:
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": 1})  # the page is the module's: later tests run at full speed
    assert not page.errors, page.errors


def test_csv_link_downloads_a_named_file(page, server):
    page.goto(server + "/287g/as_of?date=2026-01-08")
    with page.expect_download() as info:
        page.click("p.download-links >> text=CSV (spreadsheet)")
    download = info.value
    assert download.suggested_filename == "287g-as_of-2026-01-08.csv"
    lines = Path(download.path()).read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("state,agency,support_type,signed_on") and len(lines) == 1 + 1317
    # a table's CSV link, as the table page shows it
    response = page.request.get(server + "/287g/agreements.csv?model=TFM&_labels=on")
    assert response.headers["content-disposition"] == 'attachment; filename="287g-agreements-model-TFM.csv"'


CORNERS = {"Cape Flattery WA": (48.38, -124.7), "Lubec ME": (44.8, -66.95), "Key West FL": (24.55, -81.8),
           "San Diego CA": (32.7, -117.15), "Brownsville TX": (25.9, -97.5), "Lake of the Woods MN": (49.38, -95.15)}


def assert_on_the_48_states(pg):
    """The map's view holds the corners of the contiguous states, not Guam."""
    inside = pg.evaluate("""(points) => { const m = window.open287g.maps[0];
        return Object.fromEntries(Object.entries(points).map(([k, p]) => [k, m.getBounds().contains(p)])); }""", CORNERS)
    assert inside == {name: True for name in CORNERS}
    assert pg.evaluate("window.open287g.maps[0].getBounds().contains([13.44, 144.79])") is False


def test_map_opens_on_the_48_states_with_outlines_and_the_legend_below(page, server):
    page.goto(server + "/287g/agencies_map")
    wait_for_map(page)
    assert_on_the_48_states(page)
    # state outlines shipped with the site: one path per state or territory, no tile server
    assert page.locator(".leaflet-overlay-pane path").count() >= 50
    # the map comes before the facets and the table; the legend is under the map, not over it
    map_box = page.locator(".leaflet-container").bounding_box()
    assert map_box["y"] < page.locator(".facet-results").bounding_box()["y"]
    assert map_box["y"] < page.locator("form.filters").bounding_box()["y"]
    assert page.locator(".o287g-legend").bounding_box()["y"] >= map_box["y"] + map_box["height"] - 1
    assert "Task Force Model" in page.inner_text(".o287g-legend")
    page.locator("#o287g-map").screenshot(path=str(SHOTS / "map_first_view.png"))
    page.click(".o287g-regions >> text=Alaska")
    page.wait_for_timeout(400)
    assert page.evaluate("window.open287g.maps[0].getBounds().contains([61.2, -149.9])")  # Anchorage
    assert not page.errors, page.errors


def test_states_table_has_no_map(page, server):
    page.goto(server + "/287g/states")
    page.wait_for_selector("table.rows-and-columns")
    page.wait_for_timeout(300)
    assert page.locator(".leaflet-container").count() == 0


def test_missing_page_has_the_header_search_and_a_way_home(page, server):
    response = page.goto(server + "/287g/agencies/no-such-agency")
    assert response.status == 404
    assert page.title().startswith("Page not found")
    assert page.get_by_label("Search a town, ZIP code, county, agency or state").count() == 1
    page.screenshot(path=str(SHOTS / "error_404.png"))
    page.click("a.home-link")
    page.wait_for_url(server + "/")
    response = page.goto(server + "/287g/agreements?_sort=no_such_column")
    assert response.status == 400 and "Cannot sort table by no_such_column" in page.inner_text("main")


def test_chart_code_only_on_chart_pages(page, server):
    page.goto(server + "/287g/agreements")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("typeof window.OPEN287G_CHART") == "undefined"
    assert page.locator("script[src*=vega]").count() == 0
    page.goto(server + "/287g/growth_by_model")
    page.wait_for_selector("#o287g-chart svg")
    assert page.evaluate("window.OPEN287G_CHART.mark") == "line"


AXE_PAGES = {
    "home": "/",
    "table": "/287g/agreements",
    "row": "/287g/agencies/{agency}",
    "query": "/287g/as_of?date=2026-01-08",
    "map": "/287g/agencies_map",
    "county_map": "/county-map",
    "error": "/287g/agencies/no-such-agency",
    "chart": "/287g/signings_by_month",
}


@pytest.mark.parametrize("kind", AXE_PAGES)
def test_no_critical_or_serious_accessibility_violations(page, server, sql, kind):
    agency = sql("select id from agencies where status = 'active' order by agreements_active desc, id limit 1")[0][0]
    page.goto(server + AXE_PAGES[kind].format(agency=agency))
    if kind == "map":
        wait_for_map(page)
    if kind == "chart":
        page.wait_for_selector("#o287g-chart svg")
    violations = axe_violations(page)
    assert violations == [], json.dumps(violations, indent=1)
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.locator("main#main").count() == 1
