"""The Spanish edition in chromium (issue 19): a reader whose browser prefers Spanish is offered it on the
home page, searches a county, opens an agency, its state and the county map, all in Spanish with
lang="es" and no English sentence outside agency and place names; the switch returns the same page in
English; the map's legend and the charts speak Spanish. Screenshots (desktop and a 390 px phone) go
to build/screenshots/ (the es_*.png in docs/ are copied from there)."""
import re

import pytest

from test_browser import SHOTS, page  # noqa: F401  (the same browser fixture; the datasette server is conftest's)
from test_reader_pages import axe_violations, wait_for_map
from test_spanish import english_lines


def spanish(pg):
    assert pg.locator("html").get_attribute("lang") == "es", pg.url
    lines = english_lines(pg.content())
    assert not lines, f"{pg.url}: English sentences {lines[:5]}"


@pytest.fixture
def spanish_browser(page, server):
    """A tab of the same browser that prefers Spanish: navigator.languages and Accept-Language say es-US."""
    pg = page.context.new_page()
    pg.add_init_script("Object.defineProperty(navigator, 'languages', {get: () => ['es-US', 'es', 'en']});")
    pg.set_extra_http_headers({"Accept-Language": "es-US,es;q=0.9,en;q=0.5"})
    pg.set_default_timeout(15000)
    yield pg
    pg.close()


def test_a_spanish_reader_finds_a_county_an_agency_its_state_and_the_county_map_in_spanish(spanish_browser, server):
    pg = spanish_browser
    pg.goto(server + "/")
    # offered, not redirected: the English home page with a link to the Spanish one
    assert pg.locator("html").get_attribute("lang") == "en" and pg.url == server + "/"
    offer = pg.locator("#offer-es")
    assert offer.is_visible() and offer.get_attribute("lang") == "es"
    offer.locator("a").click()
    pg.wait_for_url(server + "/es/")
    spanish(pg)
    assert "En la lista más reciente de ICE" in pg.locator("main").inner_text()
    pg.screenshot(path=str(SHOTS / "es_home.png"), full_page=True)

    pg.fill("#find-q", "polk fl")
    pg.locator("form.search button[type=submit]").click()
    pg.wait_for_url(re.compile(r"/es/search\?q=polk"))
    spanish(pg)
    pg.locator('section.county-result h2 a[href="/es/287g/counties/12105"]').click()
    pg.wait_for_url(server + "/es/287g/counties/12105")
    spanish(pg)
    headline = pg.locator("#headline").inner_text()
    assert re.search(r"\d+ agencias? con \d+ acuerdos? vigentes? \(", headline), headline
    pg.screenshot(path=str(SHOTS / "es_county.png"), full_page=True)

    pg.locator('#county-agencies a[href="/es/287g/agencies/4db574dc1f18"]').click()
    pg.wait_for_url(server + "/es/287g/agencies/4db574dc1f18")
    spanish(pg)
    assert pg.locator("h1").inner_text() == "Polk County Sheriff's Office"  # agency names stay as ICE printed them
    assert pg.locator("#agreements th").first.inner_text().lower() == "modelo"
    # dates as Babel writes them for es_US: "26 de febrero de 2025"
    assert re.search(r"\d{1,2} de (enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|octubre|noviembre|diciembre) de 20\d\d",
                     pg.locator("#timeline").inner_text())

    pg.locator('main a[href="/es/287g/states/FL"]').first.click()
    pg.wait_for_url(server + "/es/287g/states/FL")
    spanish(pg)
    assert pg.locator("#research-title").inner_text() == "Verifique Florida con la fuente"

    pg.goto(server + "/es/")
    pg.locator('main a[href="/es/county-map"]').first.click()
    pg.wait_for_url(server + "/es/county-map")
    spanish(pg)
    assert "Condados con acuerdos 287(g)" == pg.locator("h1").inner_text()
    assert "Modelo de Fuerza de Tarea / Task Force Model (TFM)" in pg.locator(".legend").inner_text()
    pg.screenshot(path=str(SHOTS / "es_county_map.png"))


def test_the_switch_returns_the_same_page_in_english(page, server):
    page.goto(server + "/es/287g/counties/12105")
    switch = page.locator('header a[hreflang="en"]')
    assert switch.inner_text() == "English" and switch.get_attribute("lang") == "en"
    switch.click()
    page.wait_for_url(server + "/287g/counties/12105")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h2", has_text="Who can act as ICE in Polk County").count() == 1
    # and back again, with the query string kept
    page.goto(server + "/search?q=savannah")
    page.locator('header a[hreflang="es"]').click()
    page.wait_for_url(server + "/es/search?q=savannah")
    assert page.locator("html").get_attribute("lang") == "es"
    assert page.locator('link[rel=alternate][hreflang="en"]').get_attribute("href") == "/search?q=savannah"


def test_the_map_and_the_charts_speak_spanish(page, server):
    page.goto(server + "/es/287g/agencies_map")
    page.wait_for_selector(".o287g-legend")
    legend = page.locator(".o287g-legend").inner_text()
    assert "terminado" in legend and "solo pendiente" in legend and "Oficial de Órdenes de Arresto / Warrant Service Officer" in legend
    assert page.locator(".o287g-regions button").first.inner_text() == "48 estados"
    assert page.locator(".leaflet-container").first.get_attribute("aria-label").startswith("Mapa: Mapa de agencias")
    page.goto(server + "/es/287g/growth_by_model")
    page.wait_for_selector("#o287g-chart svg")
    assert page.locator("#o287g-chart-title").text_content() == "Crecimiento de los acuerdos por modelo, mes a mes"
    axis = page.locator("#o287g-chart svg text").all_text_contents()
    assert "Mes" in axis and "Acuerdos" in axis and axis.count("ninguna lista legible") == 2
    assert page.locator("#o287g-chart-desc").text_content() == "Acuerdos por mes, un color por modelo; la tabla de abajo tiene todas las cifras."


@pytest.mark.parametrize("name, path", [("es_home", "/es/"), ("es_county", "/es/287g/counties/12105"), ("es_county_map", "/es/county-map")])
def test_spanish_pages_fit_a_phone(page, server, name, path):
    page.set_viewport_size({"width": 390, "height": 844})
    try:
        page.goto(server + path)
        spanish(page)
        # nothing wider than the phone: a page that scrolls sideways has a label or a table that does not fit
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=str(SHOTS / f"{name}_phone.png"))
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})


@pytest.mark.parametrize("path", ["/es/", "/es/287g/agencies/4db574dc1f18", "/es/287g/as_of?date=2026-01-08", "/es/287g/agencies_map",
                                  "/es/287g/agencies/no-such-agency"])
def test_spanish_pages_have_no_critical_or_serious_accessibility_violations(page, server, path):
    page.goto(server + path)
    if "agencies_map" in path:
        wait_for_map(page)
    assert axe_violations(page) == []
