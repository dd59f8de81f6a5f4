"""Checking a figure against its source, in a real browser (Debian's chromium via Playwright, the served site as
in test_browser.py): ICE's newest file downloads byte for byte with the SHA-256 its page shows; from the Texas
page, Texas's endings, feed and CSV are one click each; pages fit a phone. Screenshots go to build/screenshots/."""
import csv
import hashlib
import io
import urllib.request
import xml.etree.ElementTree as ET

import pytest

from test_browser import SHOTS, page  # noqa: F401  (the same browser fixture; the datasette server is conftest's)

# The newest participating list of the pinned snapshot (tests/snapshot_files.txt) and its bytes' SHA-256
NEWEST = "participatingAgencies03272026am.xlsx"
NEWEST_SHA = "c291c4bb6cefc291dd5cc3cfc62ac47591ba702e5ad79504355659e8d26f77e8"
ATOM = "{http://www.w3.org/2005/Atom}"
PHONE = {"width": 390, "height": 844}
MAX_PHONE_HEIGHT = 15000


@pytest.fixture(scope="module")
def phone(page):
    """A 390 x 844 page in the same browser (one Playwright per process)."""
    pg = page.context.new_page()
    pg.set_viewport_size(PHONE)
    yield pg
    pg.close()


def test_the_newest_file_downloads_with_the_sha256_its_page_shows(page, server, sql):
    page.goto(server + "/")
    with page.expect_download() as download:
        page.click(f"#newest-file a:has-text('{NEWEST}')")
    data = open(download.value.path(), "rb").read()
    assert download.value.suggested_filename == NEWEST
    assert hashlib.sha256(data).hexdigest() == NEWEST_SHA
    page.click("#newest-file a:has-text('its SHA-256 and source')")
    page.wait_for_url("**/287g/publications/c291c4bb6cef")
    assert page.inner_text("code.sha256") == NEWEST_SHA
    assert "Kept by RelevantResearch/287g-DetentionData, folder participatingAgencies" in page.inner_text("#source-file")
    with page.expect_download() as again:
        page.click("#source-file a.download")
    assert hashlib.sha256(open(again.value.path(), "rb").read()).hexdigest() == NEWEST_SHA
    page.screenshot(path=str(SHOTS / "publication.png"), full_page=True)
    # an Internet Archive capture names the capture it was made from
    (capture,) = sql("select id from publications where file_name = 'ParticipatingEntities-20210113002027.xlsx'")[0]
    page.goto(f"{server}/287g/publications/{capture}")
    assert page.get_attribute("#source-file a:has-text('the capture')", "href") == \
        "https://web.archive.org/web/20210113002027/https://www.ice.gov/identify-and-arrest/287g"
    # a 2011-2017 roster capture's rows come from data/history/: its file downloads too
    (roster, sha) = sql("select id, sha256 from publications where source_kind = 'roster' order by published_at limit 1")[0]
    page.goto(f"{server}/287g/publications/{roster}")
    href = page.get_attribute("#source-file a.download", "href")
    assert href == "/history/pre2018-roster-long.csv"
    assert hashlib.sha256(urllib.request.urlopen(server + href).read()).hexdigest() == sha


def test_an_agreement_page_names_the_files_and_sheet_rows_that_printed_it(page, server, sql):
    (agreement,) = sql("select a.id from agreements a join agencies g on g.id = a.agency_id "
                       "where g.name = 'Okeechobee County Sheriff''s Office' and a.model = 'WSO'")[0]
    page.goto(f"{server}/287g/agreements/{agreement}")
    printed = page.inner_text("#printed")
    # the first printing: the web-page table captured on 13 January 2021, row 48; the newest: row 353
    assert "first ParticipatingEntities-20210113002027.xlsx row 48" in printed
    assert f"last {NEWEST} row 353" in printed
    href = page.get_attribute(f"#printed li:has-text('{NEWEST} row 353') a:has-text('file') >> nth=-1", "href")
    assert href == f"/files/participating/{NEWEST}"
    assert hashlib.sha256(urllib.request.urlopen(server + href).read()).hexdigest() == NEWEST_SHA


def test_texas_endings_are_one_click_from_its_page_and_only_texas(page, server, sql):
    page.goto(server + "/287g/states/TX")
    page.click("#state-ended")
    page.wait_for_url("**/287g/ended_agreements?state=TX*")
    rows = page.locator("table.rows-and-columns tbody tr")
    expected = sql("select a.agency from agreements a where a.status = 'ended' and a.state_code = 'TX' order by a.agency")
    # two since 2025, five from ICE's 2011-2017 roster (two of them within the 2017-2021 gap)
    assert rows.count() == len(expected) == 7
    assert set(page.locator("td.col-state_name").all_inner_texts()) == {"Texas"}
    henderson = page.locator("tr", has_text="Henderson County Sheriff's Office")
    # ended between the last list that printed it and the first that did not
    # last printed by participatingAgencies10312025pm.xlsx (pm = 17:00), gone from participatingAgencies11032025am.xlsx
    assert henderson.locator("td.col-last_listed").inner_text() == "2025-10-31 17:00"
    assert henderson.locator("td.col-first_missing").inner_text() == "2025-11-03 09:00"
    harris = page.locator("tr", has_text="Harris County Sheriff's Office")
    assert harris.locator("td.col-last_listed").inner_text() == "2017-01-29 00:21"
    assert harris.locator("td.col-first_missing").inner_text() == "2017-03-05 22:53"
    henderson.locator("td.col-agency a").click()
    page.wait_for_url("**/287g/agencies/*")
    assert page.inner_text("h1") == "Henderson County Sheriff's Office"
    # the query takes a date too: endings first seen on or after it
    page.goto(server + "/287g/ended_agreements?state=Texas&since=2025-09-01")
    assert page.locator("table.rows-and-columns tbody tr").count() == 1


def test_texas_feed_names_texas_and_reads_as_a_page(page, server):
    page.goto(server + "/287g/states/TX")
    feed = page.get_attribute("#state-feed", "href")
    assert page.get_attribute("link[type='application/atom+xml']", "href") == feed
    xml = ET.fromstring(urllib.request.urlopen(server + feed).read())
    assert xml.find(f"{ATOM}title").text == "Latest changes to ICE's 287(g) list: Texas"
    entries = xml.findall(f"{ATOM}entry")
    assert entries and all(" (TX): " in e.find(f"{ATOM}title").text for e in entries)
    page.click("#state-feed")
    page.wait_for_load_state()
    # chromium applies the feed's XSLT: a page that says how to follow it, then its entries
    assert page.inner_text("h1") == "Latest changes to ICE's 287(g) list: Texas"
    assert "copy this page's address into a feed reader" in page.inner_text("body")
    assert page.locator("li a").count() == len(entries)
    page.screenshot(path=str(SHOTS / "feed_texas.png"))


def test_texas_active_agreements_csv_leads_with_what_a_reader_needs(page, server, sql):
    page.goto(server + "/287g/states/TX")
    with page.expect_download() as download:
        page.click("#state-csv")
    rows = list(csv.DictReader(io.StringIO(open(download.value.path(), encoding="utf-8").read())))
    header = list(rows[0])
    assert header[:7] == ["agency", "level", "county", "model", "signed_on", "status", "moa_url"]
    assert header[-2:] == ["agency_id", "agreement_id"]
    expected = sql("select count(*) from agreements where state_code = 'TX' and status = 'active'")[0][0]
    assert len(rows) == expected == 336 and {r["status"] for r in rows} == {"active"}
    assert any(r["agency"] == "Cut \"N\" Shoot Police Department" and r["signed_on"] == "2026-03-19" for r in rows)


def test_texas_changes_since_a_date_are_one_click_away(page, server, sql):
    page.goto(server + "/287g/states/TX")
    page.click("#state-changes")
    page.wait_for_url("**/287g/changes_between?state=TX*")
    assert page.input_value("input[name=start]") == "2025-03-27" and page.input_value("input[name=end]") == "2026-03-27"
    states = set(page.locator("td.col-state_code").all_inner_texts())
    assert states == {"TX"}


@pytest.mark.parametrize("path", [
    "/", "/states", "/287g/states/TX", "/287g/states/FL", "/287g/counties/12105", "/287g/agencies",
    "/287g/agreements", "/287g/publications", "/287g/changes", "/287g/listings", "/287g/ended_agreements",
    "/287g/recent_changes", "/287g/as_of?date=2026-03-27", "/documents?q=sheriff", "/search?q=polk",
])
def test_pages_fit_a_phone(phone, server, path):
    assert phone.goto(server + path, wait_until="networkidle").status == 200
    height = phone.evaluate("document.documentElement.scrollHeight")
    assert height <= MAX_PHONE_HEIGHT, f"{path} is {height} px tall at 390 px"
    if path == "/287g/states/TX":
        phone.screenshot(path=str(SHOTS / "state_texas_phone.png"), full_page=True)


@pytest.mark.parametrize("width", [1280, 390])
def test_ices_list_on_a_date_before_2021_is_asked_for_by_clicking(page, server, sql, width):
    """The date picker starts at the first publication on file (a roster capture of 2011), not at 2021."""
    tab = page.context.new_page()
    tab.set_viewport_size({"width": width, "height": 900})
    tab.goto(server + "/")
    link = tab.get_by_role("link", name="ICE's list on a date").first
    if not link.is_visible():
        tab.locator("summary, button").filter(has_text="Menu").first.click()
    link.click()
    first = sql("select substr(min(published_at), 1, 10) from publications")[0][0]
    assert first == "2011-02-20" and tab.locator("input[name=date]").get_attribute("min") == first
    for day, expect in (("2016-06-01", "Jail Enforcement"), ("2019-06-01", "2021-01-13 (ICE's next list) is readable")):
        tab.locator("input[name=date]").fill(day)
        tab.locator("form:has(input[name=date]) [type=submit]").click()
        tab.wait_for_load_state()
        assert f"date={day}" in tab.url and expect in tab.inner_text("main"), (day, tab.inner_text("main")[:500])
    tab.screenshot(path=str(SHOTS / f"as_of_gap_{width}.png"))
    tab.close()
