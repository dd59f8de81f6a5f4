"""MOA documents: real PDFs from the corpus (tests/moa/) read into their signers, contacts and field office;
one scanned page through tesseract; bad files refused one by one; links unwrapped; the built tables."""
import shutil
import sqlite3
import zlib
from pathlib import Path

import pytest

from open287g import documents, moa, moa_fields, pdfpages
from open287g.read import unwrap_url

FIXTURES = Path(__file__).parent / "moa"
FRANKLIN = FIXTURES / "FranklinCountyAL_WSO_MOA_030625.pdf"  # 2025 JEM/WSO, text layer
ARCADIA = FIXTURES / "ArcadiaPDFL_TFM_MOA_030425.pdf"  # 2025 TFM, values typed into form fields
ALASKA = FIXTURES / "287gWSO_DeptOfCorrectionsAK_07-24-2020.pdf"  # 2019-2020, a scanner's OCR layer
RUSK_SCAN = FIXTURES / "RuskCoSOTX_WSO_MOA_030425_page1.pdf"  # page 1 of a scan with no text layer


def read(path, tmp_path):
    record, _seconds = moa.extract_one(path, tmp_path / "ocr")
    assert "refused" not in record, record.get("refused")
    return record


def signer(record, party):
    return next(s for s in record["signatories"] if s["party"] == party)


def test_franklin_2025_wso_signers_field_office_and_contacts(tmp_path):
    r = read(FRANKLIN, tmp_path)
    assert (r["model"], r["template"], r["revision"]) == ("WSO", "2025 JEM/WSO", "2025-02-15")
    assert r["agency_named"] == "Franklin County Sheriff's Office, Alabama"
    ice, agency = signer(r, "ice"), signer(r, "agency")
    assert (ice["name"], ice["title"], ice["signed_on"], ice["page"]) == ("Todd M. Lyons", "Acting Director", "2025-03-26", 7)
    # the sheriff dated his signature by hand: left empty, flagged
    assert (agency["name"], agency["title"], agency["signed_on"], agency["date_handwritten"]) == ("Shannon Oliver", "Sheriff", None, 1)
    assert r["field_office"] == {"value": "New Orleans", "page": 6, "method": "text"}
    trulove = next(c for c in r["contacts"] if c["name"] == "Justin Trulove")
    assert (trulove["title"], trulove["phone"], trulove["section"], trulove["page"]) == ("Chief Deputy", "256-332-8824", "appendix C", 10)
    assert r["ocr_pages"] == [] and r["pages"] == 10


def test_arcadia_2025_tfm_reads_form_fields(tmp_path):
    r = read(ARCADIA, tmp_path)
    assert (r["model"], r["template"], r["revision"]) == ("TFM", "2025 TFM", "2025-02-12")
    assert r["agency_named"] == "Arcadia Police Dept"
    ice, agency = signer(r, "ice"), signer(r, "agency")
    assert (agency["signed_on"], agency["title"], agency["method"]) == ("2025-02-28", "Acting Director", "form")
    assert (ice["signed_on"], ice["title"], ice["name"]) == ("2025-03-05", "Acting Director", None)  # ICE typed no name
    poc = [(c["title"], c["name"]) for c in r["contacts"] if c["section"] == "appendix A" and c["party"] == "agency"]
    assert poc == [("City Marshal", "Quinn Jones"), ("Asst. Marshal", "Gary Evans"), ("Capt.", "Kevin Joens"),
                   ("Lt.", "Troy Carrillo"), ("Ssgt.", "Danielle Rios")]
    assert r["field_office"] is None  # 2025 TFM documents name no ERO field office


def test_alaska_2020_wso_signers_and_public_information_contact(tmp_path):
    r = read(ALASKA, tmp_path)
    assert (r["model"], r["template"]) == ("WSO", "2019-2020 WSO/JEM")
    ice, agency = signer(r, "ice"), signer(r, "agency")
    assert (ice["name"], ice["title"]) == ("Enrique M. Lucero", "Executive Associate Director")
    assert ice["date_handwritten"] == 0  # signed digitally, not by hand
    assert (agency["name"], agency["title"], agency["signed_on"]) == ("Jacob Wycoff", "Deputy Commissioner of Institutions", "2020-07-16")
    assert r["field_office"]["value"] == "Seattle"
    gallagher = next(c for c in r["contacts"] if c["name"] == "Sarah Gallagher")
    assert (gallagher["title"], gallagher["phone"]) == ("Public Information Officer", "907-269-5037")


@pytest.mark.skipif(not shutil.which("tesseract"), reason="needs Debian's tesseract-ocr (.ci/run installs it)")
def test_scanned_page_is_read_by_ocr_and_cached(tmp_path):
    r = read(RUSK_SCAN, tmp_path)
    assert r["ocr_pages"] == [1] and r["text_pages"] == 0
    text = r["page_text"][0]["text"]
    assert r["page_text"][0]["source"] == "ocr"
    assert "Warrant Service Officer" in text and "Rusk County" in text
    assert r["model"] == "WSO"
    cached = list((tmp_path / "ocr").glob("*.ocr.*.json"))
    assert len(cached) == 1, "tesseract's lines are cached by sha256"
    # the same document's lines under an older key (code or tesseract since changed) are pruned on the next OCR
    stale = cached[0].with_name(cached[0].name.split(".ocr.")[0] + ".ocr.0123456789abcdef.json")
    stale.write_text("{}")
    cached[0].unlink()
    assert read(RUSK_SCAN, tmp_path)["ocr_pages"] == [1]
    assert [p.name for p in (tmp_path / "ocr").glob("*.ocr.*.json")] == [cached[0].name]


# --- links ------------------------------------------------------------------------------------

def test_safelinks_unwrapped_and_single_slash_fixed():
    wrapped = ("https://nam02.safelinks.protection.outlook.com/?url=https%3A%2F%2Fwww.ice.gov%2Fdoclib%2F287gMOA%2F"
               "FranklinCountyAL_WSO_MOA_030625.pdf&data=05%7C02%7C%7Cabc&sdata=xyz&reserved=0")
    assert unwrap_url(wrapped) == "https://www.ice.gov/doclib/287gMOA/FranklinCountyAL_WSO_MOA_030625.pdf"
    assert moa.file_name_of(wrapped) == "FranklinCountyAL_WSO_MOA_030625.pdf"
    assert unwrap_url("https:/www.ice.gov/doclib/287gMOA/x.pdf") == "https://www.ice.gov/doclib/287gMOA/x.pdf"
    assert unwrap_url("https:///www.ice.gov/doclib/287gMOA/x.pdf") == "https://www.ice.gov/doclib/287gMOA/x.pdf"
    assert moa.file_name_of("https://www.ice.gov/doclib/287gMOA/Lee%20Co_JEM.pdf") == "Lee Co_JEM.pdf"


# --- bad documents ------------------------------------------------------------------------------

def pdf_bytes(pages=1, content=b"", filter_=False, trailer_extra=b""):
    """A small valid PDF made by hand: `pages` empty letter pages, one content stream, exact xref offsets."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{4 + i} 0 R" for i in range(pages)).encode()
    objects.append(b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages)
    stream = zlib.compress(content) if filter_ else content
    objects.append(b"<< /Length %d%s >>\nstream\n" % (len(stream), b" /Filter /FlateDecode" if filter_ else b"") + stream + b"\nendstream")
    for _ in range(pages):
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R >>")
    out, offsets = b"%PDF-1.4\n", []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1) + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, trailer_extra, xref)
    return out


ENCRYPT = (b" /Encrypt << /Filter /Standard /V 1 /R 2 /O <" + b"41" * 32 + b"> /U <" + b"42" * 32 + b"> /P -4 >>"
           b" /ID [<0123456789abcdef0123456789abcdef> <0123456789abcdef0123456789abcdef>]")


BAD = {
    "not_a_pdf.pdf": (b"<!DOCTYPE html><html><body>Page not found</body></html>", "not a PDF"),
    "truncated.pdf": (FRANKLIN.read_bytes()[:200_000], "truncated"),
    "encrypted.pdf": (pdf_bytes(trailer_extra=ENCRYPT), "encrypted"),
    "many_pages.pdf": (pdf_bytes(pages=pdfpages.MAX_PAGES + 1), "page-count bomb"),
    "inflates.pdf": (pdf_bytes(content=b"0" * (pdfpages.MAX_INFLATED + 1024), filter_=True), "decompression bomb"),
}


def test_a_small_hand_made_pdf_is_read():
    """The maker of the bad files makes good ones too: what is refused below is refused for its fault alone."""
    data = pdf_bytes(pages=2)
    pdfpages.check_bytes(data)
    pdf = pdfpages.open_pdf("ok.pdf", data)
    assert len(pdf) == 2
    pdf.close()


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_document_refused_with_one_line_reason(tmp_path, name):
    data, reason = BAD[name]
    path = tmp_path / name
    path.write_bytes(data)
    record, _ = moa.extract_one(path, None)
    assert record["refused"].startswith(reason), record["refused"]
    assert "\n" not in record["refused"]


def test_bad_documents_cost_no_other_and_reach_the_database(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    shutil.copy(FRANKLIN, source)
    for name, (data, _reason) in BAD.items():
        (source / name).write_bytes(data)
    lines = []
    records = moa.extract_folder(source, tmp_path / "out", None, None, echo=lines.append)
    assert sorted(r["file_name"] for r in records if "refused" in r) == sorted(BAD)
    assert [r["file_name"] for r in records if "refused" not in r] == [FRANKLIN.name]
    assert any(line.startswith("refused truncated.pdf: truncated") for line in lines), lines
    # the build loads what was read and records what was refused
    db_path = tmp_path / "t.db"
    conn = sqlite3.connect(db_path)
    conn.executescript("""
        create table states (code text primary key, name text);
        create table agreements (id text primary key, agency_id text, agency text, state_code text);
        create table listings (id integer primary key, agreement_id text, moa_url text, addendum_url text);
        insert into states values ('AL', 'Alabama');
        insert into agreements values ('a1', 'g1', 'Franklin County Sheriff''s Office', 'AL'),
                                      ('a2', 'g2', 'Colbert County Sheriff''s Office', 'AL');
        insert into listings values (1, 'a1', 'https://nam02.safelinks.protection.outlook.com/?url=https%3A%2F%2Fwww.ice.gov%2Fdoclib%2F287gMOA%2FFranklinCountyAL_WSO_MOA_030625.pdf&data=1', null);
        insert into listings values (2, 'a2', 'https:/www.ice.gov/doclib/287gMOA/NotHeld_WSO_MOA.pdf', null);
    """)
    conn.commit()
    conn.close()
    (tmp_path / "data" / "moa").mkdir(parents=True)
    shutil.copy(tmp_path / "out" / moa.DOCUMENTS, tmp_path / "data" / "moa")
    counts = documents.write(db_path, tmp_path / "data")
    assert counts == {"documents": 1, "refused": 5, "ocr_documents": 0, "documents_linked": 1,
                      "agreements_linked": 1, "agreements_not_linked": 1}
    conn = sqlite3.connect(db_path)
    assert conn.execute("select reason from moa_refused where file_name = 'many_pages.pdf'").fetchone()[0].startswith("page-count bomb")
    assert conn.execute("select agreement_id, match from agreement_documents where sha256 is not null").fetchall() == [("a1", "file name")]
    assert conn.execute("select url_unwrapped from agreement_documents where agreement_id = 'a2'").fetchone()[0] == \
        "https://www.ice.gov/doclib/287gMOA/NotHeld_WSO_MOA.pdf"
    hit = conn.execute("select page from moa_pages_fts join moa_pages p on p.rowid = moa_pages_fts.rowid "
                       "where moa_pages_fts match 'Trulove'").fetchall()
    assert hit == [(10,)]
    conn.close()


def test_a_document_linked_from_two_agencies_rows_is_the_one_it_names():
    # Rule another_agencys_document, on made-up links: one MOA, naming the Franklin County Sheriff's Office, is
    # linked from Franklin's agreement and from Colbert County's; a second, naming nobody either agency is
    # printed as, from both too; a third from Franklin's only.
    agreements = {"a1": ("g1", "Franklin County Sheriff's Office", "Alabama", "AL"),
                  "a2": ("g2", "Colbert County Sheriff's Office", "Alabama", "AL")}
    rows = [{"agreement_id": a, "sha256": sha, "role": "moa", "url": f"https://www.ice.gov/{sha}.pdf", "file_name": f"{sha}.pdf",
             "url_unwrapped": None, "match": "file name"} for a, sha in (("a1", "d1"), ("a2", "d1"), ("a1", "d2"), ("a2", "d2"), ("a1", "d3"))]
    named = {"d1": "Franklin County Sheriff's Office, Alabama", "d2": "Sheriffs Ofte s", "d3": "Colbert County Sheriff's Office"}
    out = documents._another_agencys(rows, named, agreements)
    assert [(r["agreement_id"], r["sha256"], r["match"]) for r in out] == [
        ("a1", "d1", "file name"),
        ("a2", None, "another agency's document: it names Franklin County Sheriff's Office, Alabama"),
        ("a1", "d2", "file name"), ("a2", "d2", "file name"),  # it names neither: both keep it
        ("a1", "d3", "file name"),  # linked from one agency only: kept, whatever it names
    ]
    assert out[1]["url"] == rows[1]["url"] and out[1]["file_name"] == "d1.pdf"  # the link ICE printed stays
    assert out[1]["other_agency_sha256"] == "d1"  # and the document it leads to, for the agency's page
    assert [r.get("other_agency_sha256") for i, r in enumerate(out) if i != 1] == [None] * 4


# --- the built database (the committed extraction of the corpus) -----------------------------------

def test_built_tables_answer(sql):
    assert sql("select count(*) from moa_documents")[0][0] == 198
    assert sql("select count(*) from moa_refused")[0][0] == 0
    lyons = sql("select count(*) from moa_signatories where party = 'ice' and name = 'Todd M. Lyons'")[0][0]
    assert lyons >= 10
    franklin = sql("select s.name, s.title from moa_signatories s join moa_documents d on d.sha256 = s.sha256 "
                   "where d.file_name = ? and s.party = 'agency'", (FRANKLIN.name,))
    assert franklin == [("Shannon Oliver", "Sheriff")]
    pages = sql("select d.file_name, p.page from moa_pages_fts join moa_pages p on p.rowid = moa_pages_fts.rowid "
                "join moa_documents d on d.sha256 = p.sha256 where moa_pages_fts match '\"Justin Trulove\"'")
    assert (FRANKLIN.name, 10) in pages
    linked = sql("select count(distinct agreement_id) from agreement_documents where sha256 is not null")[0][0]
    assert linked >= 150
    # rule another_agencys_document: ICE linked the Georgia Department of Public Safety's MOA from the Gilmer County
    # Sheriff's Office's row (26 January 2026 on), and the Melbourne Police Department's from the Melbourne Beach
    # Police Department's; each document stays its own agency's only
    misdirected = sql("select a.agency, ad.file_name, ad.match, d.file_name from agreement_documents ad join agreements a on a.id = ad.agreement_id "
                      "left join moa_documents d on d.sha256 = ad.other_agency_sha256 "
                      "where ad.sha256 is null and ad.match like 'another agency%' order by a.agency")
    assert misdirected == [
        ("Gilmer County Sheriff's Office", "georgiaDeptPublicSafety_TFM_MOA_03.10.25.pdf",
         "another agency's document: it names Georgia Department of Public Safety", "georgiaDeptPublicSafety_TFM_MOA_03.10.25.pdf"),
        ("Melbourne Beach Police Department", "MelbournePoliceDeptFL_TFM_MOA_04142025.pdf",
         "another agency's document: it names Melbourne Police Department", "MelbournePoliceDeptFL_TFM_MOA_04142025.pdf")]
    assert sql("select count(*) from agreement_documents where other_agency_sha256 is not null")[0][0] == 2
    owners = sql("select d.file_name, a.agency from agreement_documents ad join agreements a on a.id = ad.agreement_id "
                 "join moa_documents d on d.sha256 = ad.sha256 where d.file_name in (?, ?) order by 1",
                 ("georgiaDeptPublicSafety_TFM_MOA_03.10.25.pdf", "MelbournePoliceDeptFL_TFM_MOA_04142025.pdf"))
    assert owners == [("MelbournePoliceDeptFL_TFM_MOA_04142025.pdf", "Melbourne Police Department"),
                      ("georgiaDeptPublicSafety_TFM_MOA_03.10.25.pdf", "Georgia Department of Public Safety")]
    assert sql("select count(*) from moa_documents where ocr_pages > 0")[0][0] >= 20
    # rule agency_named: section I garbled by the text layer, the footers' reading instead; section I where it reads
    named = dict(sql("select file_name, agency_named || ' | ' || agency_method from moa_documents where file_name in (?, ?, ?)",
                     ("HighlandBeachPoliceDeptFL_TFM_MOA_04.10.2025.pdf", "HamiltonCoSheriffsOfficeTX_TFM_MOA_04.10.2025.pdf",
                      FRANKLIN.name)))
    assert named == {"HighlandBeachPoliceDeptFL_TFM_MOA_04.10.2025.pdf": "Highland Beach Police Department Florida | page footer",
                     "HamiltonCoSheriffsOfficeTX_TFM_MOA_04.10.2025.pdf": "Hamilton County Sheriff's Office, TX | page footer",
                     FRANKLIN.name: "Franklin County Sheriff's Office, Alabama | text"}
    # a scan whose text layer types ICE's date and name where tesseract lost the labels (page 7)
    cherokee = sql("select s.name, s.title, s.signed_on from moa_signatories s join moa_documents d on d.sha256 = s.sha256 "
                   "where d.file_name = 'CherokeeCountyNC_WSO_MOA_031025.pdf' and s.party = 'ice'")
    assert cherokee == [("Todd M. Lyons", "Acting Director", "2025-03-10")]


def test_unlabelled_block_reads_name_then_title():
    lines = moa_fields.lines_of([["Date:", 80, 200, 100, 210, "text"], ["C.M. Cronen", 80, 240, 140, 250, "text"],
                                 ["Assistant Director, Enforcement", 80, 252, 220, 262, "text"]])
    block = moa_fields.read_block([s for line in lines for s in line.parts])
    assert (block["name"], block["title"], block["date_handwritten"]) == ("C.M. Cronen", "Assistant Director, Enforcement", 1)


# --- the rules of reading, each on a small made-up case ------------------------------------------

@pytest.mark.parametrize("text,name", [
    ("Timothy 1 S. Robbins - 5 ~", "Timothy S. Robbins"),  # a signature's strokes around a typed name
    ("Th addeus C. Cleveland", "Thaddeus C. Cleveland"),  # a scanner's text layer split the word
    ("Harrell Reid ~ ' d", "Harrell Reid"),
    ("Dennis J. Quakenbush II", "Dennis J. Quakenbush II"),
    ("TIMOTHY R. WILZ", "TIMOTHY R. WILZ"),
    ("Sheriff Sites", None), ("not read", None), ("Signature", None), ("Signatur Tod", None),
    ("Media Relations", None), ("Blountstown. FL", None), ("Er . Sev s", None), ("Kris OIGlovannl", None),
    ("Rehabilitation and Reentry", None), ("odd M. Lyons Austin Garrett", None),
    ("C .M . Cronen", "C.M. Cronen"),  # a text layer's space before an initial's full stop
])
def test_person_name_gives_a_name_or_nothing(text, name):
    assert moa_fields.person_name(text) == name


@pytest.mark.parametrize("text,title", [
    ("Sheriff, Martin County", "Sheriff, Martin County"), ("Sher if f", "Sheriff"), ("Acting Director", "Acting Director"),
    ("sk, n/ f", None), ("OF THE SHERIFF", None), ("Agency: Sheriff", None), ("Enforcement and Removal Operations", None),
    # a text layer's split words joined; a misread label or stray ink before a colon read past
    ("Acting D irector", "Acting Director"), ("Chi e f of Pol ice", "Chief of Police"), ("Tille: Acting Director", "Acting Director"),
    ("Acting: Director", "Acting Director"), ("Attn: Public Information Officer", "Public Information Officer"),
    ("Sheriff st", "Sheriff"),  # a signature's stroke after the office
    ("Sheriff. ( 'alhoun Count", None),  # a lone bracket, a quote opening a word: a scan's noise
])
def test_job_title_gives_an_office_or_nothing(text, title):
    assert moa_fields.job_title(text) == title


@pytest.mark.parametrize("text,split", [
    ("Chief Deputy Chris Stewart", ("Chris Stewart", "Chief Deputy")),
    ("Sheriff Sites", ("Sites", "Sheriff")),  # a rank and a surname: the surname is the name
    ("SheriffBrian Heino", ("Brian Heino", "Sheriff")),
    ("Christine Weiss, Public Information Officer", ("Christine Weiss", "Public Information Officer")),
    ("Public Information Officer", (None, "Public Information Officer")),
    ("Sheriff Office", (None, "Sheriff Office")),
    ("Training Sergeant Marla R. Brown", ("Marla R. Brown", "Training Sergeant")),  # a word of the post before the rank
])
def test_split_rank(text, split):
    assert moa_fields.split_rank(text) == split


@pytest.mark.parametrize("text,iso", [
    ("Date: - -OCT - - 1 - 5 - 2019 - - - -", "2019-10-15"),  # a stamp: the month by name wins over '1 - 5 - 2019'
    ("March 25, 2025", "2025-03-25"), ("Date: 2/28/2025", "2025-02-28"), ("2020.06.10 14:08:49", "2020-06-10"),
    ("5 -/P7-RS_", None),
    ("Date: Signatures March = 10, 2025", "2025-03-10"),  # a rule a scan read as '=' between the date's parts
    ("Date: __ O_C_T_1_5_2_01_9 _ _", "2019-10-15"),  # a stamp's text layer with underscores between its characters
    ("Date:_ _ _ OCT _ _ 1 _ 5_ 2019 _ __", "2019-10-15"),  # the form's rule stuck to a part of the stamp
])
def test_parse_date(text, iso):
    assert moa_fields.parse_date(text) == iso


def test_a_digital_signatures_stamp_is_read_when_a_text_layer_took_its_digits_for_letters():
    block = moa_fields.read_block(segs(("Date:", 320, 200), ("CHRISTOPHER", 360, 200), ("M", 430, 200), ("Dlgltally", 440, 200),
                                       ("CRONEN", 320, 212), ("Date:", 370, 212), ("2020.D6.30", 400, 212), ("16:47:SO", 462, 212),
                                       ("C.M.", 320, 240), ("Cronen", 346, 240), ("Assistant", 320, 252), ("Director", 376, 252)))
    assert (block["name"], block["title"], block["signed_on"], block["date_handwritten"]) == ("C.M. Cronen", "Assistant Director", "2020-06-30", 0)


def test_the_signature_blocks_are_found_below_the_sentence_however_it_was_read():
    """The sentence above the blocks, as a scanner's text layer misreads it and as tesseract reads the justified lines
    of two columns as one, words out of order: the blocks below it are read either way."""
    below = [("For the LEA: For ICE:", 460), ("Name: Carmine Marceno", 540), ("Title: Sheriff", 567)]
    for sentence in ("By the signing terms, responsibilities, this MOA, cach obligations, party represents and limitations it is fully",
                     "B~ signing this !\\-ICM. C:,h.:h part~ reprc:sc:rus it is full~ authori.1c:d to t!ntc:r into this"):
        region, at = moa_fields._signature_region([page(7, ("civil or criminal.", 356), (sentence, 376), ("to the fullest extent allowed by law.", 402), *below)])
        assert at["page"] == 7 and [s[0] for s, _ in region] == [t for t, _ in below], sentence
    assert moa_fields._signature_region([page(7, ("upon signing, the LEA shall provide", 376), *below)]) == ([], None)


def test_shifted_font_with_digits_and_dots_is_decoded():
    shifted = lambda plain: "".join(chr(ord(c) - 29) for c in plain)  # noqa: E731
    assert moa_fields.decipher(shifted("Captain Felix Saenz")) == "Captain Felix Saenz"
    assert moa_fields.decipher(shifted("f.saenz@example-tx.gov")) == "f.saenz@example-tx.gov"
    assert moa_fields.decipher(shifted(" 668-0341")) == "668-0341"


def segs(*rows):
    """Made-up word segments: (text, left, top) on a letter page, 10 points high, 6 points a letter."""
    return [[t, x, y, x + 6 * len(t), y + 10, "text"] for t, x, y in rows]


def test_labelled_block_reads_values_and_flags_a_date_not_typed():
    block = moa_fields.read_block(segs(("For", 60, 450), ("the", 80, 450), ("LEA:", 100, 450),
                                       ("Date:____", 60, 480), ("Signature:____", 60, 510),
                                       ("Name:", 60, 540), ("Joseph", 100, 540), ("____", 140, 540), ("Baker", 170, 540),
                                       ("Title:", 60, 570), ("Sheriff", 100, 570)))
    assert (block["name"], block["title"], block["signed_on"], block["date_handwritten"]) == ("Joseph Baker", "Sheriff", None, 1)


def test_title_line_carrying_the_name_gives_both():
    assert moa_fields.title_and_name("Union County Sheriff Brad Whitehead") == ("Union County Sheriff", "Brad Whitehead")
    assert moa_fields.title_and_name("Chief of Police") == ("Chief of Police", None)


def test_contacts_a_name_starts_each_and_the_lines_after_it_belong_to_it():
    lines = moa_fields.lines_of(segs(("Eric", 60, 100), ("Klang", 90, 100), ("Sheriff", 60, 112), ("218-829-4749", 60, 124),
                                     ("eric.klang@example.gov", 60, 136), ("Craig", 60, 148), ("Katzenberger", 95, 148),
                                     ("Lieutenant", 60, 160)))
    found = moa_fields._contacts_of("agency", "appendix A", [(line, 10) for line in lines])
    assert [(c["name"], c["title"], c["phone"], c["email"]) for c in found] == [
        ("Eric Klang", "Sheriff", "218-829-4749", "eric.klang@example.gov"), ("Craig Katzenberger", "Lieutenant", None, None)]


def test_field_office_code():
    pages = [{"page": 6, "source": "ocr", "text": "VII. POINTS OF CONTACT\nFor DHS: NOL Field Office Director"}]
    assert moa_fields.field_office(pages) == {"value": "New Orleans", "page": 6, "method": "ocr"}


def test_ocr_line_cut_where_words_stand_apart():
    words = [["Name:", 60, 530, 90, 540, 90, "1.1.1"], ["Austin", 95, 530, 130, 540, 88, "1.1.1"],
             ["Name:", 310, 530, 340, 540, 90, "1.1.1"], ["Todd", 345, 530, 370, 540, 92, "1.1.1"]]
    assert [line[0] for line in pdfpages.ocr_lines(words)] == ["Name: Austin", "Name: Todd"]


def canned(name):
    return (Path(__file__).parent.parent / "canned_queries" / f"{name}.sql").read_text()


def test_the_three_document_queries_answer(sql):
    lyons = sql(canned("signatories_by_ice_official"), {"name": "Lyons"})
    assert any(r[0] == "Todd M. Lyons" and "Shannon Oliver" in r for r in lyons)
    assert not sql(canned("signatories_by_ice_official"), {"name": "Nobody Such"})
    tfm = sql(canned("documents_by_template"), {"template": "2025 TFM"})
    assert len(tfm) == sql("select count(*) from moa_documents where template = '2025 TFM'")[0][0] == 82
    missing = sql(canned("agreements_missing_document"))
    assert len(missing) > 100  # active agreements whose printed link is to a document not in the corpus


# --- the agency the document names (rule agency_named) ---------------------------------------------

PARTIES = "This MOA constitutes an agreement between ICE, a component of the Department of Homeland Security (DHS), and"


def page(number, *rows, source="text"):
    """A made-up letter page of word segments: rows of (text, top), each row one segment from the left margin."""
    segments = [[t, 72, y, 72 + 5 * len(t), y + 10, source] for t, y in rows]
    return {"page": number, "source": source, "text": "\n".join(t for t, _ in rows), "segments": segments,
            "width": 612.0, "height": 792.0}


def footer(name, number):
    return (f"{name} {number} Revised 03/07/2025", 740)


def test_split_words_of_an_agency_name_are_joined_again():
    assert moa_fields._join_split_words("Hamilton County Sher if f 's O f fic e, IN") == "Hamilton County Sheriff's Office, IN"
    assert moa_fields._join_split_words("Onslow Count y Sher if fs Of f ice, NC") == "Onslow County Sheriffs Office, NC"
    # words that are words already stay apart, and a stray quote is never part of a word
    assert moa_fields._join_split_words("Police Department of the State '") == "Police Department of the State '"


def test_section_one_stands_when_it_reads_and_a_garbled_one_gives_way_to_the_footers():
    name = "HighlandBeachPoliceDeptFL_TFM_MOA_04.10.2025.pdf"
    clean = [page(1, (PARTIES, 100), ("the Highland Beach Police Department, Florida (hereinafter the LEA).", 112)),
             *(page(n, footer("Highland Beach Police Department, Florida", n)) for n in (2, 3))]
    assert moa_fields.agency_named(clean, name) == ("Highland Beach Police Department, Florida", "text")
    # a 'the' run into the name and a split 'hereinaf ter' are read past
    run_in = [page(1, (PARTIES, 100), ("theHighland Beach Police Dept. hereinaf ter the law enf orcement agency", 112))]
    assert moa_fields.agency_named(run_in, name) == ("Highland Beach Police Dept", "text")
    garbled = [page(1, (PARTIES, 100), ("the Highland Bem:h Police Depar1menl. Flonda (hereinafter the LEA).", 112)),
               *(page(n, footer("Highland Beach Police Department, Florida", n)) for n in (2, 3)),
               page(4, footer("Highland Beach Po1ice Department, Florida", 4))]
    assert moa_fields.agency_named(garbled, name) == ("Highland Beach Police Department, Florida", "page footer")
    # one footer alone is no consensus: the garbled reading stands, better than nothing
    assert moa_fields.agency_named(garbled[:2], name)[1] == "text"


def test_no_agency_is_named_when_every_naming_reads_as_noise():
    """A 2019 text layer that lost the name ('and the a constitutional officer ... located at ...'): no footer, no block
    to read it from, so it is left empty rather than given as the agency; a split word's fragments do not count."""
    lost = [page(1, (PARTIES, 100), ("the a constitutional officer of the State of Florida, located at 76001 Bobby Moore Circle, "
                                     "Yulee, Florida 32097, (\"NCSO\"), pursuant to which ICE delegates", 112))]
    assert moa_fields.agency_named(lost, "287gWSO_NassauCoFl2019-10-15.pdf") == (None, None)
    split = [page(1, (PARTIES, 100), ("the Okeechobee County Sheri f r s Office (OCSO), pursuant to which", 112))]
    assert moa_fields.agency_named(split, "287gWSO_OkeechobeeCoFl2019-10-15.pdf") == ("Okeechobee County Sheri f r s Office", "text")


def test_the_signature_blocks_agency_line_names_the_agency_when_section_one_is_garbled():
    name = "LeeCoSheriffsOffice_JEM_MOA_02.20.2025.pdf"
    pages = [page(1, (PARTIES, 100), ("the Law Comaly Shuntts Ofn (hereinafter the LEA).", 112), source="ocr")]
    block = segs(("Agency:", 60, 600), ("Lee", 110, 600), ("County", 135, 600), ("Sheriffs", 180, 600), ("Office", 235, 600))
    assert moa_fields.agency_named(pages, name, block) == ("Lee County Sheriffs Office", "signature block (text)")


def test_a_template_filled_by_text_boxes_is_read_in_its_text_layers_order():
    """A 2019 template whose blank was filled by a text box: on the page the name's words sit among those of the line it
    was typed over, and a letter stands apart ('the ____ ay County'); the text layer, in the order it was written,
    keeps the name whole, and a split word that spells a word of ICE's file name joins again ('B ay')."""
    name = "287gWSO_SantaRosaCoFl2019-10-15.pdf"
    on_page = segs(("the", 72, 112), ("trained,", 90, 112), ("Santa", 140, 112), ("certified,", 175, 112), ("Rosa", 230, 112),
                   ("County", 260, 112), ("and", 300, 112), ("authorized", 325, 112), ("Sheriff's", 390, 112), ("Office", 450, 112),
                   ("SRSO(SRSO),", 490, 112), ("pursuant", 560, 112))
    first = {"page": 1, "source": "text", "width": 612.0, "height": 792.0,
             "segments": segs((PARTIES, 72, 100)) + on_page,
             "text": PARTIES + "\nthe Santa Rosa County Sheriff's Office (SRSO), pursuant to which ICE delegates to nominated,\n"
                               "trained, certified, and authorized SRSO personnel"}
    assert moa_fields.agency_named([first], name) == ("Santa Rosa County Sheriff's Office", "text")
    bay = page(1, (PARTIES, 100), ("the B ay County Sheriffs Office (BCSO) pursuant to which ICE delegates", 112))
    assert moa_fields.agency_named([bay], "287gWSO_BayCoFl2019-10-15.pdf") == ("Bay County Sheriffs Office", "text")


def test_section_one_is_found_however_a_scan_read_dhs_in_its_parentheses():
    """A 2019-2020 scan's text layer reads 'Security (DHS), and' as it can: the parentheses spaced, DHS split or its
    closing parenthesis read as a j; section I is found all the same."""
    for printed, file_name, name in (
            ("Security (DHSj and Matagorda County Sheriff's Office, hereinafter the law enforcement agency",
             "287gJEM_MatagordaCoTX_03-13-2020.pdf", "Matagorda County Sheriff's Office"),
            ("Security ( DHS ). and the Calhoun County Sheriffs Office (CCSO). pursuant to which",
             "287gWSO_CalhounCoFl2019-09-09.pdf", "Calhoun County Sheriffs Office"),
            ("Security (D HS), and the Columbia County Sheriffs Office (CCSO), pursuant to which",
             "287gWSO_ColumbiaCoFl2019-05-06.pdf", "Columbia County Sheriffs Office"),
            ("Security (DI-IS), and theBedford County Sheriff\u2019s Office, pursuant to which",
             "BedfordCountySheriffVA_TFM_MOA_030725.pdf", "Bedford County Sheriff\u2019s Office")):
        party = page(1, ("This MOA constitutes an agreement between ICE, a component of the Department of Homeland", 100),
                     (printed, 112))
        assert moa_fields.agency_named([party], file_name) == (name, "text"), printed


def test_a_naming_that_lost_the_place_the_file_name_names_is_no_naming():
    """Rule agency_named: a scan that lost the place ('rnge County' of OrangeCountySO) names no agency a reader could
    trust, however its other words read; a place read with a typo ('SouthWestem'), or held in a longer word of the
    file name ('Illsborough' of hIllsborough), still names it, and a file name that names no place checks nothing."""
    def named(text, file_name):
        return moa_fields.agency_named([page(1, (PARTIES, 100), (f"the {text} (hereinafter the LEA).", 112), source="ocr")], file_name)

    assert named("rnge County sherif's office", "OrangeCountySO_TFM_MOA.pdf") == (None, None)
    assert named("Orange County Sheriff's Office", "OrangeCountySO_TFM_MOA.pdf") == ("Orange County Sheriff's Office", "ocr")
    assert named("Florida SouthWestem State College Police Department", "Florida_Southwestern_State_College_PD_FL_TFM_04.15.25.pdf") == \
        ("Florida SouthWestem State College Police Department", "ocr")
    assert named("Hillsborough County Sheriff's Office", "hIllsboroughCountySherrifsOffice_WSO_MOA_03122025.pdf") == \
        ("Hillsborough County Sheriff's Office", "ocr")
    assert named("Florida Department of Corrections", "287gJEM_FL_DOC_FL_08-21-2020.pdf") == ("Florida Department of Corrections", "ocr")
    # nor does a signature block's line that lost it stand in
    block = segs(("Agency:", 60, 600), ("Office", 110, 600), ("of", 150, 600), ("th,)", 165, 600), ("Sheriff,", 190, 600),
                 ("Plor~o", 240, 600), ("Coum!y,", 285, 600))
    assert moa_fields.agency_named([page(1, (PARTIES, 100), ("the Law Comaly Shuntts Ofn (hereinafter the LEA).", 112))],
                                   "PierceCoGA_WSO_MOA_02.26.25.pdf", block) == (None, None)


def test_a_scan_block_keeps_what_its_text_layer_types_and_a_name_whose_label_was_lost():
    """A 2025 scan: tesseract read the labels and a stray mark at low confidence; ICE's date and name are typed in the
    text layer (exact). The date stands, and the name typed alone on its line is the name."""
    def ocr(text, x, y, conf):
        return [text, x, y, x + 6 * len(text), y + 10, "ocr", conf]

    block = moa_fields.read_block([ocr("For", 320, 190, 96), ocr("ICE:", 346, 190, 94),
                                   ocr("Date:", 322, 215, 97), *segs(("March", 368, 215), ("10,", 404, 215), ("2025", 424, 215)),
                                   ocr("2", 470, 215, 40),
                                   ocr("Signatures=", 322, 240, 30),
                                   *segs(("Todd", 365, 271), ("M.", 396, 271), ("Lyons", 413, 271)),
                                   ocr("Title:", 325, 296, 93), *segs(("Acting", 368, 296), ("Director", 405, 296))])
    assert (block["name"], block["title"], block["signed_on"], block["date_handwritten"]) == ("Todd M. Lyons", "Acting Director", "2025-03-10", 0)
    # the same date read by tesseract alone, at that confidence, is handwriting: never guessed
    scanned = moa_fields.read_block([ocr("Date:", 322, 215, 97), ocr("March", 368, 215, 60), ocr("10,", 404, 215, 55),
                                     ocr("2025", 424, 215, 50), ocr("Title:", 325, 296, 93), ocr("Sheriff", 368, 296, 95)])
    assert (scanned["signed_on"], scanned["date_handwritten"]) == (None, 1)


def test_a_contacts_office_is_told_from_its_organisation_once_split_words_are_joined():
    # the organisation, its split words joined, is no office; the office after it is
    assert moa_fields.contact_title("Hamilton County Sher if fs Of f ice, Sheriff") == "Sheriff"
    assert moa_fields.contact_title("Jackson County Sher iff") is None
