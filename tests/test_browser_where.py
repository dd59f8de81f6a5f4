"""Where I live, in a real browser (Debian's chromium via Playwright, the served site as in test_browser.py), at
phone width: a town, a ZIP code, a misspelt town, an abbreviation and "use my location" each answer from the
home page's search box. Screenshots go to build/screenshots/."""
import shutil
import tempfile

import pytest

from test_browser import ARGS, CHROMIUM, SHOTS, playwright_api

PHONE = {"width": 390, "height": 844}
# Inside Chatham County, Georgia (downtown Savannah)
SAVANNAH = {"latitude": 32.0809, "longitude": -81.0912}


@pytest.fixture(scope="module")
def phone(server):
    """A phone-sized page whose browser grants the geolocation of downtown Savannah."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="open287g-chromium-")
    with playwright_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=ARGS, headless=True, viewport=PHONE,
            geolocation=SAVANNAH, permissions=["geolocation"], is_mobile=True, has_touch=True)
        context.route("**/*tile.openstreetmap.org/**", lambda route: route.abort())
        pg = context.new_page()
        pg.errors = []
        pg.on("pageerror", lambda e: pg.errors.append(str(e)))
        pg.set_default_timeout(15000)
        yield pg
        assert not pg.errors, pg.errors
        context.close()
    shutil.rmtree(profile, ignore_errors=True)


def ask(page, server, query):
    page.goto(server + "/")
    page.fill("#find-q", query)
    page.press("#find-q", "Enter")
    page.wait_for_load_state("domcontentloaded")
    return page


def group(page, name):
    return page.locator(f"#group-{name}").inner_text()


def test_a_town_with_no_agency_of_its_own_shows_its_county_and_the_statewide_agencies(phone, server):
    ask(phone, server, "Savannah")
    answer = phone.locator("section.place-result").first
    assert answer.get_attribute("data-place") == "ga/savannah"
    text = answer.inner_text()
    assert "No police or sheriff's office of Savannah or Chatham County has a 287(g) agreement." in text
    assert "Georgia Department of Public Safety" in group(phone, "statewide")
    assert "Task Force Model (TFM) since 10 Mar 2025" in group(phone, "statewide")
    # the first screen answers: the sentence is on it, no namesake's "none" above it
    box = phone.locator("#none-here").bounding_box()
    assert box and box["y"] < PHONE["height"]
    assert phone.locator("#verdict").count() == 0
    phone.screenshot(path=str(SHOTS / "where_savannah_phone.png"), full_page=False)
    phone.click("section.place-result h2 a")
    phone.wait_for_url("**/places/ga/savannah")
    assert "Savannah is in Chatham County." in phone.inner_text("#where")
    phone.screenshot(path=str(SHOTS / "place_phone.png"), full_page=True)


def test_a_zip_code_answers_with_its_town(phone, server):
    ask(phone, server, "31401")
    phone.wait_for_url("**/places/ga/savannah?zip=31401")
    assert phone.inner_text("#where").startswith("ZIP code 31401 is in Savannah, Chatham County.")
    assert "Georgia Department of Corrections" in group(phone, "statewide")


def test_a_town_in_three_counties_answers_for_each(phone, server):
    ask(phone, server, "kansas city mo")
    answer = phone.locator("section.place-result").first.inner_text()
    for county in ("Jackson County", "Clay County", "Platte County"):
        assert county in answer
    assert "Missouri Highway Patrol" in group(phone, "statewide")


def test_a_town_named_like_counties_elsewhere_answers_for_the_town(phone, server):
    ask(phone, server, "Raleigh")
    first = phone.locator("section.place-result").first
    assert first.get_attribute("data-place") == "nc/raleigh"
    body = phone.inner_text("main") if phone.locator("main").count() else phone.inner_text("body")
    assert body.index("Raleigh, North Carolina") < body.index("Raleigh County, West Virginia")
    assert "No statewide agency of North Carolina has a 287(g) agreement." in group(phone, "statewide")


def test_a_misspelt_town_is_answered_and_labelled(phone, server):
    ask(phone, server, "knoxvile")
    assert "the closest spelling is Knoxville, Tennessee" in phone.inner_text("#lookalike")
    county = group(phone, "county")
    assert "Knox County Sheriff" in county and "Jail Enforcement Model (JEM) since 8 Jun 2020" in county


def test_a_town_with_its_own_police_lists_it_first(phone, server):
    ask(phone, server, "miami fl")
    # ICE prints the City of Miami's police "State" at times: it is Miami's own police here
    assert "City of Miami Police Department" in group(phone, "town")
    assert "Miami-Dade Sheriff's Office" in group(phone, "county")
    assert "Florida International University Police Department" in group(phone, "regional")


def test_an_abbreviation_finds_the_agency(phone, server):
    ask(phone, server, "FHP")
    assert "Florida Highway Patrol" in phone.inner_text("#expanded")
    assert "Division of Highway Patrol" in phone.locator("#agency-results li").first.inner_text()


def test_use_my_location_opens_the_county_and_lists_the_statewide_agencies(phone, server):
    requests = []
    phone.on("request", lambda r: requests.append(r.url))
    phone.goto(server + "/")
    phone.click("#use-location")
    phone.wait_for_url("**/287g/counties/13051?located=1")
    assert "Chatham County" in phone.inner_text("h1")
    assert "your position itself was not sent" in phone.inner_text("#located")
    assert "Georgia Department of Public Safety" in group(phone, "statewide")
    assert not [u for u in requests if "32.08" in u or "81.09" in u]  # the position never left the page
    phone.screenshot(path=str(SHOTS / "located_phone.png"), full_page=False)
