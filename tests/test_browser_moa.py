"""The agreement documents in a real browser (Debian's chromium via Playwright, the served site as in
test_browser.py): an agency page shows who signed its MOA and the points of contact; /documents finds a name."""
from test_browser import SHOTS, page  # noqa: F401  (the same browser fixture; the datasette server is conftest's)

FRANKLIN_WSO = "FranklinCountyAL_WSO_MOA_030625.pdf"


def agency_of(sql, file_name):
    return sql("select g.agency_id from agreement_documents ad join agreements g on g.id = ad.agreement_id "
               "join moa_documents d on d.sha256 = ad.sha256 where d.file_name = ?", (file_name,))[0][0]


def test_agency_page_shows_the_signers_and_contacts(page, server, sql):
    page.goto(f"{server}/287g/agencies/{agency_of(sql, FRANKLIN_WSO)}")
    on_file = page.inner_text("#documents-on-file")
    # ICE listed four agreements (WSO, JEM, a TFM ended and a TFM re-signed); the corpus holds the WSO and the first TFM MOA
    assert on_file.startswith("Document on file for 2 of 4 agreements."), on_file
    wso = page.locator("section.moa-document[data-model='WSO']")
    text = wso.inner_text()
    assert "Shannon Oliver" in text and "Sheriff" in text
    ice = wso.locator("tr[data-party='ice']").inner_text()
    assert "Todd M. Lyons" in ice and "Acting Director" in ice and "26 Mar 2025" in ice
    assert "handwritten, not read" in wso.locator("tr[data-party='agency']").inner_text()
    assert "New Orleans" in wso.locator(".field-office").inner_text()
    assert "Justin Trulove, Chief Deputy, 256-332-8824" in wso.locator(".contacts").inner_text()
    assert wso.locator("a", has_text="ICE's document").get_attribute("href").endswith(FRANKLIN_WSO)
    wso.screenshot(path=str(SHOTS / "agency_moa.png"))
    assert not page.errors, page.errors


def test_documents_search_finds_a_name_with_page_and_agency(page, server):
    page.goto(server + "/documents")
    page.fill("#documents-q", "Trulove")
    page.press("#documents-q", "Enter")
    page.wait_for_url("**/documents?q=*")
    hit = page.locator("#document-hits li", has_text=FRANKLIN_WSO)
    assert "page 10" in hit.inner_text() and "Franklin County" in hit.inner_text()
    assert "Trulove" in hit.locator("mark").first.inner_text()
    hit.locator("strong a").first.click()
    page.wait_for_url("**/287g/agencies/*")
    assert "Franklin County" in page.inner_text("h1")


def test_agency_pages_of_a_tfm_and_a_scanned_document(page, server, sql):
    # Franklin County PA (2025 TFM, text layer): its contacts are printed as rank and surname ('Sheriff Sites')
    page.goto(f"{server}/287g/agencies/{agency_of(sql, 'FranklinCoPA_TFM_MOA_03.10.2025.pdf')}")
    tfm = page.locator("section.moa-document[data-model='TFM']")
    agency = tfm.locator("tr[data-party='agency']").inner_text()
    assert "Benjamin H. Sites" in agency and "Sheriff" in agency and "28 Feb 2025" in agency
    assert "Todd M. Lyons" in tfm.locator("tr[data-party='ice']").inner_text()
    contacts = tfm.locator(".contacts").inner_text()
    assert "Agency: Sites, Sheriff" in contacts and "Agency: Foy, Chief Deputy" in contacts
    assert "Sheriff Sites" not in contacts
    # Crow Wing County MN: the signature page is a scan; the sheriff signed and dated by hand, ICE's date is typed
    page.goto(f"{server}/287g/agencies/{agency_of(sql, 'crowWingCoMN_TFM_MOA_03.19.25.pdf')}")
    scan = page.locator("section.moa-document[data-model='TFM']")
    agency = scan.locator("tr[data-party='agency']").inner_text()
    assert "no typed name read" in agency and "handwritten, not read" in agency and "ocr" in agency
    assert "25 Mar 2025" in scan.locator("tr[data-party='ice']").inner_text()
    assert "Craig Katzenberger, Lieutenant, 218-829-4749, craig.katzenberger@crowwing.gov" in scan.locator(".contacts").inner_text()
    assert not page.errors, page.errors


def test_a_link_to_another_agencys_document_says_whose_it_is(page, server, sql):
    # Rule another_agencys_document: ICE's row of the Gilmer County Sheriff's Office (GA, WSO) links the Georgia
    # Department of Public Safety's Task Force MOA; the page shows no signers for Gilmer and says whose it is.
    [(gilmer,)] = sql("select id from agencies where name = 'Gilmer County Sheriff''s Office' and state_code = 'GA'")
    page.goto(f"{server}/287g/agencies/{gilmer}")
    assert page.inner_text("#documents-on-file").startswith("Document on file for 0 of 1 agreement."), page.inner_text("#documents-on-file")
    assert page.locator("section.moa-document").count() == 0
    note = page.locator("p.moa-misdirected[data-model='WSO']")
    assert "leads to the signed agreement of another agency, Georgia Department of Public Safety" in note.inner_text()
    assert note.locator("a").get_attribute("href").endswith("georgiaDeptPublicSafety_TFM_MOA_03.10.25.pdf")
    page.goto(f"{server}/es/287g/agencies/{gilmer}")
    assert "lleva al acuerdo firmado de otra agencia, Georgia Department of Public Safety" in page.inner_text("p.moa-misdirected")
    # on a phone, the file name (one long word) breaks rather than run off the page
    page.set_viewport_size({"width": 390, "height": 844})
    try:
        page.goto(f"{server}/es/287g/agencies/{gilmer}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})
    assert not page.errors, page.errors


def test_a_scan_whose_sentence_tesseract_read_out_of_order_shows_its_signers(page, server, sql):
    # Lee County FL (2025 JEM, every page a scan): tesseract read the sentence above the blocks with its words out of
    # order; the blocks below it are read. A contact printed without a name shows its phone alone.
    page.goto(f"{server}/287g/agencies/{agency_of(sql, 'LeeCoSheriffsOffice_JEM_MOA_02.20.2025.pdf')}")
    jem = page.locator("section.moa-document[data-model='JEM']")
    agency = jem.locator("tr[data-party='agency']").inner_text()
    assert "Carmine Marceno" in agency and "Sheriff" in agency and "handwritten, not read" in agency
    ice = jem.locator("tr[data-party='ice']").inner_text()
    assert "Caleb Vitello" in ice and "Acting Director" in ice and "3 Mar 2025" in ice
    contacts = jem.locator(".contacts").inner_text()
    assert "ICE: 202-732-4242" in contacts and ": ," not in contacts
    assert not page.errors, page.errors


def test_a_block_with_nothing_read_shows_no_stray_method(page, server, sql):
    # Oconee County GA (2019 WSO): the text layer under the agency's block holds nothing readable, so no value and no way
    # it was read; its contact is a rank with a word of the post before it (Training Sergeant Marla R. Brown)
    page.goto(f"{server}/287g/agencies/{agency_of(sql, '287gWSO_OconeeCoGa2019-12-31.pdf')}")
    wso = page.locator("section.moa-document[data-model='WSO']")
    agency = wso.locator("tr[data-party='agency']").inner_text()
    assert "no typed name read" in agency and "(page 8)" in agency and ", )" not in agency
    assert "Agency: Marla R. Brown, Training Sergeant, 706-310-3555" in wso.locator(".contacts").inner_text()
    assert not page.errors, page.errors
