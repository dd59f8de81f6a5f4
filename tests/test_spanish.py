"""The Spanish edition (issue 19), through the real Datasette in-process on the real build: every reader page
at /es/..., a catalogue with no missing string, lang and hreflang, links and redirects that keep /es,
Babel's es_US dates and plural forms."""
import html
import xml.etree.ElementTree as ET
import re
import subprocess
import sys

import jinja2
import pytest
from babel.messages.pofile import read_po

from open287g import i18n, wording
from open287g.serve import make_datasette

ROOT = i18n.LOCALE_DIR.parent.parent
ATOM = "{http://www.w3.org/2005/Atom}"

# every kind of page a reader uses, by its English address (the Spanish one is /es + it)
READER_PAGES = [
    "/",
    "/search?q=polk+fl",
    "/search?q=savannah",
    "/search?q=florida",
    "/search?q=broward+sheriff",
    "/search?q=zzzzqqq",
    "/places/ga/savannah",
    "/287g/states/FL",
    "/287g/counties/12105",  # Polk County, Florida
    "/287g/agencies/4db574dc1f18",  # Polk County Sheriff's Office, FL: MOA documents and a timeline
    "/states",
    "/county-map",
    "/documents?q=sheriff",
    "/287g/as_of?date=2026-03-27",
    "/287g/changes_between?start=2026-03-01&end=2026-03-27",
    "/287g/endings_since?since=2025-06-01",
    "/287g/ended_agreements?state=TX&since=",
    "/287g/recent_changes?state=",
    "/287g/growth_by_model",
    "/287g/signings_by_month",
    "/287g/agencies_map",
    "/287g/agreements_map",
    "/287g/agreements/f0bff39d5ed4",  # one of Polk County Sheriff's Office's agreements
    "/287g/publications/c291c4bb6cef",  # ICE's newest participating list of the snapshot
    "/287g/as_of?date=notadate",
    "/287g",  # Datasette's database page: the canned queries by their Spanish titles
    "/287g/agencies",  # Datasette's own table page: our header and footer in Spanish
    "/287g/publications",
    "/about",
    "/no-such-page",
    "/287g/agencies/no-such-agency",
    "/287g/agreements?_sort=no_such_column",  # Datasette's own message, marked lang="en"
]


@pytest.fixture(scope="module")
def ds(site_db):
    return make_datasette(site_db)


# two or more of these words in one line of a page is an English sentence
ENGLISH = re.compile(r"\b(the|and|with|has|have|is|are|from|of|this|that|which|not|on|by|to)\b", re.I)


def english_lines(page):
    """Lines of a Spanish page's visible text that read as English, leaving out what is English on purpose:
    ICE.s data and place names (result tables, links to agencies, files, counties and towns), code, Datasette's own controls (select menus) and
    anything marked lang="en" (a change's evidence, an MOA's text)."""
    page = re.sub(r"<(style|script|svg|code|pre|title|select)\b.*?</\1>", " ", page, flags=re.S)
    page = re.sub(r'<(\w+)[^>]*\blang="en"[^>]*>.*?</\1>', " ", page, flags=re.S)
    page = re.sub(r'<table class="rows-and-columns">.*?</table>', " ", page, flags=re.S)
    page = re.sub(r'<a [^>]*href="[^"]*/(agencies|publications|agreements|counties|places)/[^"]*"[^>]*>.*?</a>', " ", page, flags=re.S)
    lines = (line.strip() for line in html.unescape(re.sub(r"<[^>]+>", "\n", page)).splitlines())
    return [line for line in lines if len(ENGLISH.findall(line)) >= 2]


def text_of(page):
    """The visible text of an HTML page, tags dropped and whitespace squeezed."""
    page = re.sub(r"<(style|script|svg)\b.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page))).strip()


def test_every_template_parses_with_the_i18n_extension():
    """Babel skips a template it cannot parse without a word, so its strings would drop out of the catalogue."""
    env = jinja2.Environment(extensions=["jinja2.ext.i18n"])
    for template in sorted([*(ROOT / "templates").rglob("*.html"), *(ROOT / "templates").rglob("*.xsl")]):
        env.parse(template.read_text(encoding="utf-8"))


def test_catalogue_has_every_string_of_the_templates_and_plugins(tmp_path):
    """`make messages` would find nothing new: every msgid the templates and plugins mark is in the
    Spanish .po with a translation (not empty, not fuzzy)."""
    pot = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "-k", "plural:2,3",
                    "-k", "_", "-k", "_N", "-k", "gettext", "-k", "ngettext:1,2", "--no-location", "-o", str(pot), "."],
                   cwd=ROOT, check=True, capture_output=True)
    with pot.open("rb") as f:
        wanted = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(f) if m.id}
    with i18n.po_path("es").open("rb") as f:
        po = {(m.id if isinstance(m.id, str) else m.id[0]): m for m in read_po(f, locale="es") if m.id}
    assert len(wanted) > 20
    absent = sorted(w for w in wanted if w not in po)
    assert not absent, f"msgids missing from the .po (run make messages and translate them): {absent[:10]}"
    blank = sorted(w for w in wanted if not all(po[w].string if isinstance(po[w].string, tuple) else [po[w].string]) or po[w].fuzzy)
    assert not blank, f"msgids with no Spanish: {blank[:10]}"


@pytest.mark.parametrize("path", READER_PAGES)
async def test_every_reader_page_is_in_spanish_with_no_string_missing(ds, path):
    i18n.missing.clear()
    response = await ds.client.get("/es" + path)
    assert response.status_code in (200, 400, 404), (path, response.status_code)
    assert '<html lang="es">' in response.text
    assert not i18n.missing, f"/es{path} asked the catalogue for strings it lacks: {sorted(i18n.missing)[:10]}"
    # the switch back: the same page in English, marked with its language
    english = path if path != "/" else "/"
    assert f'href="{html.escape(english)}" hreflang="en" lang="en">English</a>' in response.text
    assert f'<link rel="alternate" hreflang="es" href="{html.escape("/es" + path)}">' in response.text
    assert not english_lines(response.text), f"/es{path} has English sentences: {english_lines(response.text)[:5]}"
    text = text_of(response.text)
    assert "Skip to the content" not in text and "Ir al contenido" in text
    assert "Todos los acuerdos con sus agencias (CSV)" in text


async def test_english_pages_stay_english_and_offer_the_spanish_page(ds):
    response = await ds.client.get("/287g/states/FL")
    assert '<html lang="en">' in response.text
    assert 'href="/es/287g/states/FL" hreflang="es" lang="es">Español</a>' in response.text
    assert 'href="/287g/agencies_map">Map</a>' in response.text and "/es/287g/agencies_map" not in response.text


async def test_spanish_links_forms_and_redirects_keep_es(ds):
    response = await ds.client.get("/es/287g/states/FL", headers={"Accept-Encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"  # read by the link keeper before compression
    assert 'action="/es/search"' in response.text and 'href="/es/287g/agencies_map"' in response.text
    assert 'href="/-/static/app.css' in response.text  # Datasette's static files keep their one address
    # a ZIP code answers with its town's page: in Spanish, the Spanish one
    response = await ds.client.get("/es/search?q=31401")
    assert response.status_code == 302 and response.headers["location"] == "/es/places/ga/savannah?zip=31401"
    # a checked canned query still says what is wrong at its Spanish address
    assert (await ds.client.get("/es/287g/as_of?date=notadate")).status_code == 400
    assert (await ds.client.get("/es/287g/as_of.json?date=2026-03-27")).json()["ok"] is not False


def test_the_english_sentence_check_can_fail():
    assert english_lines("<p>No agency of Polk County has an agreement with ICE.</p><p lang=\"en\">same county; same signing date</p>") == [
        "No agency of Polk County has an agreement with ICE."]
    assert not english_lines('<p>Ninguna agencia de <a href="/287g/agencies/x">City of Sanford Police Department</a> tiene un acuerdo.</p>')


def test_babel_writes_dates_and_plurals_in_us_spanish():
    token = i18n.current.set("es")
    try:
        assert wording.day("2026-03-27T12:00:00") == "27 de marzo de 2026"
        assert wording.plural(1, "agency", "agencies") == "1 agencia"
        assert wording.plural(2, "agency", "agencies") == "2 agencias"
        assert wording.plural(1311, "statewide agency", "statewide agencies") == "1,311 agencias estatales"
    finally:
        i18n.current.reset(token)
    assert wording.day("2026-03-27") == "27 Mar 2026" and wording.plural(2, "agency", "agencies") == "2 agencies"


async def test_the_change_feed_has_a_spanish_edition(ds, db):
    """/es/287g/recent_changes.atom: the same changes as the English feed, in Spanish, linking to Spanish pages."""
    english = ET.fromstring((await ds.client.get("/287g/recent_changes.atom?state=TX")).content)
    response = await ds.client.get("/es/287g/recent_changes.atom?state=TX")
    assert response.status_code == 200 and b'href="/es/feed.xsl"' in response.content
    spanish = ET.fromstring(response.content)
    assert spanish.find(f"{ATOM}title").text == "Cambios recientes en la lista 287(g) de ICE: Texas"
    assert len(spanish.findall(f"{ATOM}entry")) == len(english.findall(f"{ATOM}entry"))
    first = spanish.findall(f"{ATOM}entry")[0]
    change = db.execute("select agency, changed_at, agreement_id from changes where state_code = 'TX' and kind in "
                        "('added', 'ended', 're-dated', 'renamed', 'relabelled', 'moved_state', 'superseded', 'gap') "
                        "order by changed_at desc, id limit 1").fetchone()
    token = i18n.current.set("es")
    try:
        seen = wording.day(change[1])
    finally:
        i18n.current.reset(token)
    assert first.find(f"{ATOM}title").text.startswith(change[0] + " (TX): ")
    assert first.find(f"{ATOM}content").text == f"Visto en la lista de participantes de ICE del {seen}."
    assert first.find(f"{ATOM}link").get("href").endswith(f"/es/287g/agreements/{change[2]}")
    # read in a browser, the feed is a page in Spanish
    stylesheet = (await ds.client.get("/es/feed.xsl")).text
    assert '<html lang="es">' in stylesheet and "Este es un canal de noticias (Atom)" in stylesheet
    assert '<html lang="en">' in (await ds.client.get("/feed.xsl")).text


async def test_where_a_signing_date_comes_from_is_in_spanish(ds):
    page = (await ds.client.get("/es/287g/agencies/9223ab59ad7c")).text  # Carteret County Sheriff's Office, NC
    assert "(la lista de ICE)" in page and "(ICE&#39;s list)" not in page and "(ICE's list)" not in page
