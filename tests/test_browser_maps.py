"""The maps on a phone and from a keyboard, in a real browser (Debian's chromium, Playwright): the map
pages fit a 390 x 844 screen with the map first and its controls under it, the map names places and
draws county lines from the site's own data, and the county map is light and quick to tab past.

Uses the served site and browser page of test_browser.py; screenshots go to build/screenshots/.
"""
import gzip
from urllib.parse import urlsplit

from test_browser import SHOTS, page, playwright_api, zoom  # noqa: F401  (the same browser fixture; the datasette server is conftest's)
from test_reader_pages import wait_for_map

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
TALLEST = 15_000  # px at 390 x 844 (issue 20)


def on_phone(page):
    page.set_viewport_size(PHONE)


def height(page):
    return page.evaluate("document.documentElement.scrollHeight")


def test_agencies_map_fits_a_phone_map_first_table_folded(page, server, sql):
    on_phone(page)
    try:
        page.goto(server + "/287g/agencies_map")
        wait_for_map(page)
        assert height(page) <= TALLEST, f"agencies map is {height(page)}px tall on a 390px phone"
        page.screenshot(path=str(SHOTS / "map_phone.png"))
        map_box = page.locator(".leaflet-container").bounding_box()
        # the map opens the page, on the first screen, before the description, the facets and the table
        assert map_box["y"] < PHONE["height"] / 2
        for after in (".metadata-description", "form.filters", ".facet-results", "details.folded-rows"):
            assert page.locator(after).bounding_box()["y"] > map_box["y"] + map_box["height"], after
        # no control over the map but Leaflet's zoom buttons: the regions and layers sit under it
        assert page.locator(".leaflet-container .o287g-regions, .leaflet-container .leaflet-control-layers").count() == 0
        tools = page.locator(".o287g-map-tools").bounding_box()
        assert tools["y"] >= map_box["y"] + map_box["height"] - 1
        page.click(".o287g-regions >> text=Hawaii")
        page.wait_for_timeout(400)
        assert page.evaluate("window.open287g.maps[0].getBounds().contains([21.31, -157.86])")  # Honolulu
        # the table: folded, 20 rows, with the count of every agency on the map
        placed = sql("select count(*) from agencies where latitude is not null")[0][0]
        folded = page.locator("details.folded-rows")
        assert folded.get_attribute("open") is None
        assert page.inner_text("details.folded-rows summary") == f"The rows as a table: the first 20 of {placed:,}"
        assert page.locator("details.folded-rows table.rows-and-columns tbody tr").count() == 20
        assert not page.errors, page.errors

        page.goto(server + "/287g/agreements_map")
        wait_for_map(page)
        assert height(page) <= TALLEST, f"agreements map is {height(page)}px tall on a 390px phone"
    finally:
        page.set_viewport_size(DESKTOP)


def test_map_names_places_and_draws_county_lines_from_the_site_alone(page, server, sql):
    hosts = set()
    page.on("request", lambda r: hosts.add(urlsplit(r.url).netloc))
    page.goto(server + "/287g/agencies_map")
    wait_for_map(page)
    # the whole country: state names, no town names or county lines yet
    page.wait_for_selector(".o287g-label-state")
    assert page.locator(".o287g-label-town").count() == 0
    zoom(page, 29.76, -95.37, 8)
    page.wait_for_selector(".o287g-label-town >> text=Houston")
    page.wait_for_selector(".o287g-label-county")
    # county names where no town name is (the towns go first): real counties of Texas and Louisiana
    counties = page.eval_on_selector_all(".o287g-label-county", "els => els.map(e => e.textContent)")
    known = {name for (name,) in sql("select name from counties where state_code in ('TX', 'LA')")}
    assert len(counties) >= 5 and set(counties) <= known, counties
    assert page.locator(".leaflet-o287g-lines-pane canvas").count() == 1
    lines_shown = "getComputedStyle(document.querySelector('.leaflet-o287g-lines-pane')).display !== 'none'"
    assert page.evaluate(lines_shown)
    page.locator("#o287g-map").screenshot(path=str(SHOTS / "map_houston.png"))
    # the Albers USA outlines turned back into latitude and longitude land where they belong:
    # Harris County's outline holds Houston's city hall; Anchorage and Honolulu go and come back
    found = page.evaluate("""async () => {
        const a = window.open287gAlbersUsa;
        const harris = (await (await fetch('/county-shapes.json')).json()).find(s => s.fips === '48201');
        const sw = a.invert(harris.b[0], harris.b[3]), ne = a.invert(harris.b[2], harris.b[1]);
        const back = ([lon, lat]) => a.invert(...a.project(lon, lat)).map(v => +v.toFixed(4));
        return {sw, ne, anchorage: back([-149.9, 61.2]), honolulu: back([-157.86, 21.31])};
    }""")
    assert found["sw"][0] < -95.37 < found["ne"][0] and found["sw"][1] < 29.76 < found["ne"][1], found
    assert -96.0 < found["sw"][0] and found["ne"][0] < -94.9 and 29.4 < found["sw"][1] and found["ne"][1] < 30.2, found
    assert found["anchorage"] == [-149.9, 61.2] and found["honolulu"] == [-157.86, 21.31]
    # the names can be switched off
    page.uncheck(".o287g-layers input >> nth=0")
    page.wait_for_timeout(300)
    assert page.locator(".o287g-label").count() == 0
    assert not page.evaluate(lines_shown)
    # nothing came from anywhere but this site
    assert hosts == {urlsplit(server).netloc}, hosts
    assert not page.errors, page.errors


def test_county_map_is_quick_to_tab_past_and_lists_counties_by_state(page, server, sql):
    page.goto(server + "/county-map")
    svg_links = page.locator("svg.county-map a")
    assert svg_links.count() == 3142
    assert page.eval_on_selector_all("svg.county-map a", "links => links.every(a => a.getAttribute('tabindex') === '-1')")
    # from the top of the page, the header's links, then the link after the map, in a few keystrokes
    presses = 0
    while presses < 20:
        page.keyboard.press("Tab")
        presses += 1
        if page.evaluate("document.activeElement.classList.contains('map-list-link')"):
            break
    assert page.evaluate("document.activeElement.textContent") == "The same counties as a list, state by state"
    assert presses <= 15, presses
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Alabama: 26 of 67 counties taking part"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.getAttribute('href')") == "/287g/counties/01001"
    # every county that has a shape is in the lists, under its state
    listed = page.eval_on_selector_all("details.state-counties a", "links => links.map(a => a.getAttribute('href'))")
    assert len(listed) == len(set(listed)) == 3142
    florida = page.locator("details.state-counties", has_text="Florida:")
    active = sql("select count(*) from counties where state_code = 'FL' and agreements_active > 0 and has_shape = 1")[0][0]
    assert florida.locator("summary").inner_text() == f"Florida: {active} of 67 counties taking part"


def test_county_map_weighs_at_most_300_kb_compressed(page, server):
    bodies = {}
    page.on("response", lambda r: bodies.setdefault(r.url, r))
    page.goto(server + "/county-map", wait_until="networkidle")
    sizes = {url: len(gzip.compress(r.body())) for url, r in bodies.items()}
    assert server + "/county-map" in sizes and len(sizes) >= 2  # the page and its stylesheet at least
    assert sum(sizes.values()) <= 300_000, sizes


def test_agency_page_map_is_out_of_the_tab_order(page, server, sql):
    (polk,) = sql("select id from agencies where name = 'Polk County Sheriff''s Office' and state_code = 'FL'")[0]
    on_phone(page)
    try:
        page.goto(server + f"/287g/agencies/{polk}")
        assert height(page) <= TALLEST
        links = page.locator("svg.county-map a")
        assert links.count() == 67
        assert page.eval_on_selector_all("svg.county-map a", "links => links.every(a => a.getAttribute('tabindex') === '-1')")
        assert page.locator("svg.county-map").get_attribute("aria-hidden") == "true"
        after = page.locator("figure.county-map-figure a.map-list-link")
        assert after.inner_text() == "Counties of Florida with agencies, as a list"
        assert after.get_attribute("href") == "/287g/states/FL#state-counties"
        # the keyboard goes from the map's caption straight to the links under the map
        after.focus()
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "JSON"
    finally:
        page.set_viewport_size(DESKTOP)


def test_state_page_map_caption_opens_its_counties(page, server, sql):
    on_phone(page)
    try:
        page.goto(server + "/287g/states/TX")
        assert page.locator("svg.county-map a").count() == 254
        assert page.eval_on_selector_all("svg.county-map a", "links => links.every(a => a.getAttribute('tabindex') === '-1')")
        assert not page.locator("#state-counties").is_visible()  # folded on a phone
        page.click("figure.county-map-figure a.map-list-link")
        page.wait_for_timeout(300)
        assert page.locator("#state-counties").is_visible()
        listed = sql("select count(*) from counties where state_code = 'TX' and agencies > 0")[0][0]
        assert page.locator("#state-counties tbody tr").count() == listed
    finally:
        page.set_viewport_size(DESKTOP)


def test_map_table_is_open_on_a_wide_screen(page, server):
    page.goto(server + "/287g/agreements_map")
    assert page.locator("details.folded-rows").get_attribute("open") is not None
    assert page.locator("details.folded-rows table.rows-and-columns tbody tr").count() == 20
