"""A resident's questions asked in a real browser (Debian's chromium via Playwright, the served site as in
test_browser.py): each test types or clicks as a user would and asserts the answer on the page.
Screenshots go to build/screenshots/ (the ones in docs/ are copied from there)."""
from test_browser import SHOTS, page  # noqa: F401  (the same browser fixture; the datasette server is conftest's)
from test_find import newest_rows

from open287g import palette

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def search_from_home(page, server, query):
    page.goto(server + "/")
    page.fill("#find-q", query)
    page.press("#find-q", "Enter")
    page.wait_for_url("**/search?q=*")
    return page


def test_maricopa_finds_mesa_police_jem_active(page, server):
    page.goto(server + "/")
    assert "Data as of 27 Mar 2026" in page.inner_text(".as-of")
    page.screenshot(path=str(SHOTS / "home.png"), full_page=True)
    search_from_home(page, server, "Maricopa")
    county = page.locator("section.county-result[data-fips='04013']")
    assert "1 agency with 1 active agreement (JEM)" in county.inner_text()
    mesa = page.locator("#agency-results li", has_text="Mesa Police Department")
    assert mesa.count() == 1
    assert "Maricopa County, Arizona" in mesa.inner_text() and "active: JEM" in mesa.inner_text().replace(" :", ":")
    page.screenshot(path=str(SHOTS / "search_maricopa.png"), full_page=True)


def test_mecklenberg_misspelt_finds_mecklenburg(page, server):
    search_from_home(page, server, "mecklenberg")
    assert page.locator("#forgiving").is_visible()
    first = page.locator("#agency-results li").first.inner_text()
    # the only Mecklenburg agency in ICE's files since 2021 is Virginia's sheriff
    assert "Mecklenburg County Sheriff's Office" in first and "Virginia" in first and "active" in first


def test_harris_co_answers_for_texas_and_georgia(page, server):
    search_from_home(page, server, "harris co")
    texas = page.locator("section.county-result[data-fips='48201']").inner_text()
    georgia = page.locator("section.county-result[data-fips='13145']").inner_text()
    assert texas.startswith("Harris County, Texas")
    assert "The sheriff's office and other county-wide agencies have none; only the local agency below does" in texas and "Southside Place Police Department" in texas
    assert "Harris County Sheriff's Office" in georgia and "active" in georgia and "WSO" in georgia
    page.screenshot(path=str(SHOTS / "search_harris.png"), full_page=True)


def test_polk_county_florida_lists_its_agencies_and_agreements(page, server, sql):
    search_from_home(page, server, "polk fl")
    page.click("section.county-result h2 a:has-text('Polk County, Florida')")
    page.wait_for_url("**/287g/counties/12105")
    rows = page.locator("#county-agencies tbody tr")
    ice = newest_rows(sql, "a.county_fips = '12105'")
    assert rows.count() == len({r[0] for r in ice}) == 11  # Florida Polytechnic University's police included
    held = [int(rows.nth(i).locator("td[data-label=agreements]").inner_text().split()[0]) for i in range(rows.count())]
    assert sum(held) == len(ice) == 12
    assert "Polk County Sheriff's Office" in rows.first.inner_text()
    page.screenshot(path=str(SHOTS / "county.png"), full_page=True)


def test_etowah_agency_page_shows_both_models_and_the_redating(page, server):
    search_from_home(page, server, "etowah al")
    page.click("#agency-results a:has-text(\"Etowah County Sheriff's Office\")")
    page.wait_for_url("**/287g/agencies/*")
    headline = page.inner_text("#headline")
    assert "2 active agreements" in headline
    assert "Task Force Model since 8 Dec 2025" in headline and "Jail Enforcement Model since 9 Jun 2020" in headline
    for model, signed in (("JEM", "2020-06-09"), ("TFM", "2025-12-08")):
        row = page.locator(f"#agreements tr[data-model={model}][data-status=active]")  # JEM's 2008 and 2013 MOAs are superseded
        assert row.count() == 1 and signed in row.inner_text()
    assert "ICE printed 2016-06-08 until it re-dated the agreement on 5 Mar 2022" in page.locator("#agreements tr[data-model=JEM][data-status=active]").inner_text()
    redated = page.locator("#timeline li[data-kind=re-dated]").inner_text()
    assert "ICE changed the JEM agreement's signing date from 8 Jun 2016 to 9 Jun 2020" in redated
    page.screenshot(path=str(SHOTS / "agency.png"), full_page=True)


def test_florida_state_page_counts_agencies_and_counties(page, server, sql):
    page.goto(server + "/states")
    page.click("#states a:has-text('Florida')")
    page.wait_for_url("**/287g/states/FL")
    ice = newest_rows(sql, "l.state_code = 'FL'")
    cells = page.locator("#state-figures tr[data-model=all] td")
    assert int(cells.nth(0).inner_text()) == len(ice)
    assert int(cells.nth(1).inner_text().split()[0]) == len({r[0] for r in ice})
    tfm = page.locator("#state-figures tr[data-model=TFM] td")
    assert int(tfm.nth(1).inner_text()) == len({r[0] for r in ice if r[1] == "TFM"})
    assert "67 of 67" in page.inner_text("#counties-taking-part")
    page.screenshot(path=str(SHOTS / "state.png"))


def fills(page, prefix):
    return page.eval_on_selector_all(
        f"svg.county-map path[data-fips^='{prefix}']",
        "paths => paths.map(p => [p.dataset.fips, getComputedStyle(p).fill])")


def test_county_map_fills_florida(page, server):
    page.goto(server + "/county-map")
    florida = dict(fills(page, "12"))
    none = "rgb(242, 242, 242)"
    assert palette.NONE_COLOUR.lower() == "#f2f2f2"
    assert len(florida) == 67 and none not in florida.values()
    assert florida["12105"].startswith("url(") and "fill-WSO-TFM" in florida["12105"]
    # counties with no agreement are drawn too (Vermont has none; Connecticut's Danbury police held one until 2011)
    assert set(dict(fills(page, "50")).values()) == {none}
    assert page.locator("svg.county-map path.border").count() == 51  # the states and DC, drawn over the counties
    page.locator("svg.county-map").screenshot(path=str(SHOTS / "county_map.png"))
    page.locator("svg.county-map path[data-fips='12105']").click(force=True)
    page.wait_for_url("**/287g/counties/12105")


def test_phone_390_pages_fit_the_screen(page, server, sql):
    page.set_viewport_size(PHONE)
    try:
        (polk,) = sql("select id from agencies where name = 'Polk County Sheriff''s Office' and state_code = 'FL'")[0]
        for name, path in (("home", "/"), ("agency", f"/287g/agencies/{polk}"), ("state", "/287g/states/FL"),
                           ("county_map", "/county-map")):
            page.goto(server + path)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"{path} is {width}px wide on a 390px phone"
            page.screenshot(path=str(SHOTS / f"{name}_phone.png"), full_page=name != "state")
        page.goto(server + f"/287g/agencies/{polk}")
        headline = page.locator("#headline")
        assert headline.is_visible()
        assert headline.inner_text().startswith("Polk County Sheriff's Office, Florida: 2 active agreements")
        assert "Warrant Service Officer since 6 May 2019" in headline.inner_text()
        box = page.locator("#agreements").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    finally:
        page.set_viewport_size(DESKTOP)
