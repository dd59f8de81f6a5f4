"""The publication in a real browser: Debian's chromium driven by Playwright against a real
`datasette serve` of the built database. Screenshots go to build/screenshots/ for review.

Map tiles come from the internet and are blocked here; Leaflet still draws markers and clusters."""
import shutil
import tempfile
from pathlib import Path

import pytest

from open287g import ROOT

CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "build" / "screenshots"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-quic"]

if not Path(CHROMIUM).exists():
    pytest.skip(f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium); Playwright never downloads one",
                allow_module_level=True)
playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright (python) is not installed")


@pytest.fixture(scope="module")
def page(server):
    SHOTS.mkdir(parents=True, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="open287g-chromium-")
    with playwright_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=ARGS, headless=True, viewport={"width": 1280, "height": 900})
        # tiles would wait on a closed network: fail them at once
        context.route("**/*tile.openstreetmap.org/**", lambda route: route.abort())
        pg = context.new_page()
        errors = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.errors = errors
        pg.set_default_timeout(15000)
        yield pg
        context.close()
    shutil.rmtree(profile, ignore_errors=True)


def zoom(page, lat, lon, level):
    page.evaluate(f"window.open287g.maps[0].setView([{lat}, {lon}], {level}, {{animate: false}})")
    page.wait_for_timeout(600)


def open_popup(page, markers, tries=5):
    """Click markers until one opens its popup: right after a zoom, markercluster may still be moving
    markers, and a click can land on the map instead (seen once in a clean-clone run)."""
    for i in range(min(tries, markers.count())):
        markers.nth(i).click()
        try:
            return page.wait_for_selector(".leaflet-popup-content", timeout=3000)
        except playwright_api.TimeoutError:
            page.wait_for_timeout(300)
    return page.wait_for_selector(".leaflet-popup-content")


def test_agencies_map_draws_model_coloured_clusters_and_markers(page, server, sql):
    page.goto(server + "/287g/agencies_map")
    page.wait_for_selector(".leaflet-container .marker-cluster.o287g-cluster")
    page.wait_for_selector(".o287g-legend")
    assert "JEM" in page.inner_text(".o287g-legend") and "ended" in page.inner_text(".o287g-legend")
    # every agency arrived in one request: no "load all" button, no "Showing x of y"
    assert page.locator("button.cluster-map-button").count() == 0
    styles = page.eval_on_selector_all(".o287g-pie", "els => els.map(e => e.getAttribute('style'))")
    assert any("conic-gradient" in s for s in styles), "clusters are pies of the models inside them"
    zoom(page, 37.5, -96, 4)
    assert page.locator(".marker-cluster").count() > 10
    page.locator(".leaflet-container").screenshot(path=str(SHOTS / "map.png"))
    assert not page.errors, page.errors


def test_markers_have_model_colours_and_popups(page, server, sql):
    page.goto(server + "/287g/agencies_map?state_code=AL")
    page.wait_for_selector(".leaflet-marker-icon")
    zoom(page, 33.9, -86.6, 8)
    markers = page.locator(".o287g-marker")
    assert markers.count() > 5
    titles = page.eval_on_selector_all(".o287g-dot", "els => els.map(e => e.getAttribute('title'))")
    assert any(t.startswith("JEM") for t in titles) and any("TFM" in t for t in titles)
    popup = open_popup(page, page.locator(".o287g-marker.o287g-active"))
    text = popup.inner_text()
    assert "signed" in text and "(AL)" in text
    assert popup.query_selector("a").get_attribute("href").startswith("/287g/agencies/")
    page.locator(".leaflet-container").screenshot(path=str(SHOTS / "map_alabama.png"))


def test_ended_agreements_are_drawn_apart(page, server, sql):
    page.goto(server + "/287g/agreements_map?status=ended")
    page.wait_for_selector(".leaflet-marker-icon")
    ended = sql("select count(*) from agreements where status = 'ended' and latitude is not null")[0][0]
    assert page.locator(".o287g-marker.o287g-active").count() == 0
    assert page.locator(".o287g-marker.o287g-ended").count() + page.locator(".o287g-cluster").count() > 0
    counts = page.eval_on_selector_all(".o287g-cluster span", "els => els.map(e => +e.textContent)")
    assert sum(counts) + page.locator(".o287g-marker.o287g-ended").count() == ended
    page.locator(".leaflet-container").screenshot(path=str(SHOTS / "map_ended.png"))


def test_agency_page_agreement_row_and_facet_link(page, server, sql):
    page.goto(server + "/287g/agencies?_search=Etowah")
    page.locator("tr", has_text="Etowah County Sheriff's Office").locator("td.col-id a").click()
    assert page.inner_text("#headline").startswith("Etowah County Sheriff's Office, Alabama: 2 active agreements")
    # two active, and the two JEM agreements of 2008 and 2013 that ICE's roster printed before them
    assert page.locator("#agreements tbody tr").count() == 4
    assert page.locator("#agreements tr[data-status=superseded] .ended-range").count() == 2
    # open an agreement's record from the agency page, then follow its link back to the agency's agreements
    page.locator("#agreements a", has_text="record").first.click()
    page.wait_for_selector("text=Links to other tables")
    # its agency, and the agreement of 2013 it follows (ICE's roster)
    assert page.locator("ul.outgoing-links a", has_text="Etowah County Sheriff's Office").count() == 2
    assert page.locator("ul.outgoing-links a[href*='/agencies/']", has_text="Etowah County Sheriff's Office").count() == 1
    page.screenshot(path=str(SHOTS / "agreement.png"), full_page=True)
    page.goto(server + "/287g/agreements")
    page.locator(".facet-info[data-column=model] a", has_text="TFM").first.click()
    page.wait_for_url("**model=TFM**")
    tfm = sql("select count(*) from agreements where model = 'TFM'")[0][0]
    assert f"{tfm:,} rows" in page.inner_text("h3")
    page.locator(".facet-info[data-column=state_code] a", has_text="Florida").first.click()
    page.wait_for_url("**state_code=FL**")
    both = sql("select count(*) from agreements where model = 'TFM' and state_code = 'FL'")[0][0]
    assert f"{both:,} rows" in page.inner_text("h3")
    page.screenshot(path=str(SHOTS / "facets.png"))


def test_charts_read_at_a_glance(page, server, sql):
    """The three chart queries: a large SVG chart with labelled axes, the palette's colours, and
    stacked bars that never cover one another."""
    from open287g.palette import MODEL_COLOURS

    page.goto(server + "/287g")
    page.click("text=Growth of agreements by model, month by month")
    page.wait_for_selector("#o287g-chart svg .o287g-line")
    box = page.locator("#o287g-chart svg").bounding_box()
    assert box["width"] >= 800 and box["height"] >= 400
    texts = page.eval_on_selector_all("#o287g-chart svg text", "els => els.map(e => e.textContent)")
    assert "Month" in texts and "Agreements" in texts and "2025" in texts
    strokes = page.eval_on_selector_all(".o287g-line", "els => els.map(e => e.getAttribute('stroke'))")
    # JEM and TFM in three runs (2009, 2011-2017, 2021 on), WSO in one, ICE's name lists of 2007-2008 in grey
    assert sorted(strokes) == sorted([MODEL_COLOURS["JEM"]] * 3 + [MODEL_COLOURS["TFM"]] * 3 + [MODEL_COLOURS["WSO"], "#999"])
    # the stretches of list_gaps are shaded and never bridged: before ICE's first roster capture (20 Feb 2011;
    # the 2007-2009 points are other sources) and 1 Aug 2017 to 13 Jan 2021
    gaps = sql("select count(*) from list_gaps where list = 'participating' and ends is not null")[0][0]
    assert gaps == 2 and "2008" in texts and "2011" in texts and texts.count("no list readable") == gaps
    shaded = page.eval_on_selector_all(".o287g-gap", "els => els.map(e => +e.getAttribute('width'))")
    assert len(shaded) == gaps and min(shaded) > 0
    page.locator("#o287g-chart").screenshot(path=str(SHOTS / "chart.png"))
    for name, slots_sql in (
        ("agreements_by_state", "select count(distinct state_code) from agreements where status = 'active'"),
        ("signings_by_month", None),
    ):
        page.goto(server + f"/287g/{name}")
        page.wait_for_selector("#o287g-chart svg .o287g-bar")
        bars = page.eval_on_selector_all(".o287g-bar", """els => els.map(e => ({x: +e.getAttribute('x'), y: +e.getAttribute('y'),
            w: +e.getAttribute('width'), h: +e.getAttribute('height'), fill: e.getAttribute('fill')}))""")
        assert {b["fill"] for b in bars} <= set(MODEL_COLOURS.values())
        # no two bars share any area: side by side, or stacked one on top of the other
        for i, a in enumerate(bars):
            for b in bars[i + 1:]:
                overlap_x = min(a["x"] + a["w"], b["x"] + b["w"]) - max(a["x"], b["x"])
                overlap_y = min(a["y"] + a["h"], b["y"] + b["h"]) - max(a["y"], b["y"])
                assert overlap_x <= 0.01 or overlap_y <= 0.01, (a, b)
        if slots_sql:
            assert len({b["x"] for b in bars}) == sql(slots_sql)[0][0]
        page.locator("#o287g-chart").screenshot(path=str(SHOTS / f"chart_{name}.png"))
