"""Reads data/moa/documents.jsonl.gz into the new database: moa_documents, moa_pages (+ FTS), moa_signatories, moa_contacts, moa_refused, agreement_documents."""
import json
from pathlib import Path


from . import basedb
from .cachekey import cache_key, with_imports
from .identity import compare_names
from .load import insert, open_new
from .moa import DOCUMENTS, name_in, read_jsonl_gz
from .read import unwrap_url

# every printed link of a participating row, with the agreement it belongs to
LINKS = """
select distinct
  agreement_id,
  'moa' as role,
  moa_url as url
from listings
where agreement_id is not null
  and moa_url is not null
union
select distinct
  agreement_id,
  'addendum' as role,
  addendum_url as url
from listings
where agreement_id is not null
  and addendum_url is not null
"""

# each agreement's agency id, the name it was printed under and its state (rule another_agencys_document)
AGREEMENT_AGENCIES = """
select
  agreements.id,
  agreements.agency_id,
  agreements.agency,
  states.name,
  agreements.state_code
from agreements
join states
  on states.code = agreements.state_code
"""


def load_records(data_dir):
    path = Path(data_dir) / "moa" / DOCUMENTS
    return read_jsonl_gz(path) if path.exists() else []


def _document_row(r):
    fo = r.get("field_office") or {}
    return {
        "sha256": r["sha256"],
        "file_name": r["file_name"],
        "also_named": json.dumps(r["also_named"]) if r.get("also_named") else None,
        "url": r.get("url"),
        "bytes": r.get("bytes"),
        "pages": r["pages"],
        "text_pages": r["text_pages"],
        "ocr_pages": len(r["ocr_pages"]),
        "ocr_page_list": ", ".join(map(str, r["ocr_pages"])) or None,
        "model": r.get("model"),
        "model_method": r.get("model_method"),
        "template": r.get("template"),
        "revision": r.get("revision"),
        "revision_page": r.get("revision_page"),
        "agency_named": r.get("agency_named"),
        "agency_method": r.get("agency_method"),
        "field_office": fo.get("value"),
        "field_office_page": fo.get("page"),
        "field_office_method": fo.get("method"),
        "addendum_embedded": int(bool(r.get("addendum_page"))),
        "addendum_page": r.get("addendum_page"),
        "agreements": 0,
    }


def _by_name(records):
    """{file name, and the name in lower case: sha256} of the documents on file; the first document of a name wins."""
    by_name = {}
    for r in records:
        for name in [r["file_name"], *(r.get("also_named") or [])]:
            by_name.setdefault(name, r["sha256"])
            by_name.setdefault(name.lower(), r["sha256"])
    return by_name


def link(printed_links, agreements, by_name, named):
    """agreement_documents rows: each printed MOA/ADDENDUM link whose file name is a document on file.

    printed_links: LINKS' rows; agreements: AGREEMENT_AGENCIES' rows; by_name: _by_name's {file name: sha256}; named:
    {sha256: the agency the document names} (the extraction's agency_named), for rule another_agencys_document."""
    rows, seen = [], set()
    for agreement_id, role, printed in printed_links:
        url = unwrap_url(printed)
        name = name_in(url)
        sha, how = by_name.get(name), "file name"
        if sha is None and name:
            sha, how = by_name.get(name.lower()), "file name, ignoring case"
        key = (agreement_id, role, sha or printed)
        if key in seen:
            continue
        seen.add(key)
        rows.append({"agreement_id": agreement_id, "sha256": sha, "role": role, "url": printed,
                     "url_unwrapped": url, "file_name": name, "match": how if sha else "no document on file",
                     "other_agency_sha256": None})
    return _another_agencys(rows, named, {r[0]: r[1:] for r in agreements})


def _another_agencys(rows, named, agreements):
    """Rule another_agencys_document: ICE sometimes links one agency's signed MOA from another agency's row (the
    Georgia Department of Public Safety's from the Gilmer County Sheriff's Office's; the Melbourne Police
    Department's from the Melbourne Beach Police Department's). A document linked from the agreements of more than
    one agency, which names one of them (its agency_named, compared as identity compares names), is that agency's
    only: the other agencies' links keep the URL and file name, without the document, say why and name the document
    they lead to (other_agency_sha256).

    agreements: {agreement id: (agency id, agency, state name, state code)}."""
    linked = {}  # sha256 -> {agency id: {(name printed, state)}} of the agreements linking it
    for r in rows:
        if r["sha256"]:
            agency_id, agency, *state = agreements[r["agreement_id"]]
            linked.setdefault(r["sha256"], {}).setdefault(agency_id, set()).add((agency, tuple(state)))
    owners = {}
    for sha, agencies in linked.items():
        printed = named.get(sha)
        if printed and len(agencies) > 1:
            owners[sha] = {a for a, names in agencies.items() if any(compare_names(n, printed, st) for n, st in names)}
    out = []
    for r in rows:
        if owners.get(r["sha256"]) and agreements[r["agreement_id"]][0] not in owners[r["sha256"]]:
            r = {**r, "sha256": None, "other_agency_sha256": r["sha256"], "match": f"another agency's document: it names {named[r['sha256']]}"}
        out.append(r)
    return out


STATIC = ("moa_pages", "moa_signatories", "moa_contacts", "moa_refused")  # rows from the extraction alone
FTS = "moa_pages_fts"


def _base(data_dir, cache_dir):
    """The base file of the extraction's own tables: keyed by documents.jsonl.gz and this code; None without a cache."""
    if not cache_dir:
        return None
    # moa.py gives the rows kept only read_jsonl_gz (gzip and json): its imports (the PDF extraction, read.py for
    # links) make nothing the base keeps, and parsing them would cost more than the copy
    code = cache_key(*with_imports(__name__, leaves=("open287g.moa",)), packages=basedb.PACKAGES)
    found = basedb.key(code, [Path(data_dir) / "moa" / DOCUMENTS])
    return basedb.Base(cache_dir, "documents", found) if found else None  # no file: no documents, nothing to keep


def _static(records):
    """What the base keeps besides its tables: each document's row before the build's links, the names, the counts."""
    good = [r for r in records if "refused" not in r]
    return {"documents": [_document_row(r) for r in good], "by_name": _by_name(good), "refused": len(records) - len(good),
            "ocr_documents": sum(1 for r in good if r["ocr_pages"])}


def _insert_static(db, records):
    good = [r for r in records if "refused" not in r]
    refused = [r for r in records if "refused" in r]
    insert(db, "moa_pages", ({"sha256": r["sha256"], "page": p["page"], "text": p["text"], "source": p["source"]}
                             for r in good for p in r["page_text"]),
           pk=("sha256", "page"), foreign_keys=[("sha256", "moa_documents", "sha256")],
           columns={"sha256": str, "page": int, "text": str, "source": str})
    insert(db, "moa_signatories", ({"id": i, "sha256": sha, **s} for i, (sha, s) in
                                   enumerate(((r["sha256"], s) for r in good for s in r["signatories"]), start=1)),
           pk="id", foreign_keys=[("sha256", "moa_documents", "sha256")],
           columns={"id": int, "sha256": str, "party": str, "name": str, "title": str, "signed_on": str,
                    "date_handwritten": int, "page": int, "method": str})
    insert(db, "moa_contacts", ({"id": i, "sha256": sha, **c} for i, (sha, c) in
                                enumerate(((r["sha256"], c) for r in good for c in r["contacts"]), start=1)),
           pk="id", foreign_keys=[("sha256", "moa_documents", "sha256")],
           columns={"id": int, "sha256": str, "party": str, "section": str, "name": str, "title": str, "phone": str,
                    "email": str, "page": int, "method": str})
    insert(db, "moa_refused", ({"sha256": r["sha256"], "file_name": r["file_name"], "bytes": r.get("bytes"), "reason": r["refused"]}
                               for r in refused), pk="sha256", columns={"sha256": str, "file_name": str, "bytes": int, "reason": str})


def start_part(data_dir, cache_dir):
    """(base file, tables, FTS tables) of what a new database can start with (basedb.Start): the extraction's own."""
    return _base(data_dir, cache_dir), STATIC, (FTS,)


# The indexes of the extraction's own tables, made with them (base file or not) in this order
STATIC_INDEXES = (("moa_signatories", "sha256"), ("moa_contacts", "sha256"), ("moa_signatories", "name"))


def _write_static(db, records):
    """STATIC from the extraction's records, their indexes and the pages' full-text index: what the base file keeps,
    written into db by the bases process (write_base) and by a build that has no base file (write)."""
    _insert_static(db, records)
    for table, column in STATIC_INDEXES:
        db[table].create_index([column], if_not_exists=True)
    db["moa_pages"].enable_fts(["text"], create_triggers=False, tokenize="porter")
    db.conn.commit()


def write_base(path, data_dir, cache_dir):
    """The base file of the extraction's own tables, made in path, a scratch database, when it is missing; what
    write() copies."""
    base = _base(data_dir, cache_dir)
    if base is None or base.values() is not None:
        return
    records = load_records(data_dir)
    db = open_new(path)
    db["moa_documents"].create({"sha256": str}, pk="sha256")  # the table the pages' rows name; the base leaves it out
    _write_static(db, records)
    db.conn.close()
    base.save(path, STATIC, fts=(FTS,), values=_static(records))


def write(path, data_dir, cache_dir=None, fixed=False):
    """Load the committed extraction; returns counts for the build summary. With a cache_dir the tables that depend on
    the extraction alone (STATIC and the pages' full-text index) are copied from a base file there (basedb); fixed:
    they are in the database already (basedb.Start)."""
    base = _base(data_dir, cache_dir)
    saved = base.values() if base else None
    records = None if saved else load_records(data_dir)
    static = saved or _static(records)
    db = open_new(path)
    printed_links, agreements = db.conn.execute(LINKS).fetchall(), db.conn.execute(AGREEMENT_AGENCIES).fetchall()
    # kept under this code, the documents' base (which fixes the documents and the agencies they name; no base, no
    # cache) and the rows link reads
    links = basedb.kept_value(cache_dir if base else None, "document-links", [__name__],
                              lambda: link(printed_links, agreements, static["by_name"], {d["sha256"]: d["agency_named"] for d in static["documents"]}),
                              kind=list, extra=[base and base.key, printed_links, agreements])
    linked = {l["sha256"] for l in links if l["sha256"]}
    of_document = {}  # sha256 -> its links, in links' order
    for l in links:
        of_document.setdefault(l["sha256"], []).append(l)
    docs = [dict(d) for d in static["documents"]]
    for d in docs:
        found = of_document.get(d["sha256"], [])
        d["agreements"] = len({l["agreement_id"] for l in found})
        if not d["url"]:
            d["url"] = found[0]["url_unwrapped"] if found else None
    insert(db, "moa_documents", docs, pk="sha256", columns={"sha256": str, "file_name": str, "url": str, "model": str, "template": str,
                                                          "field_office": str, "agency_named": str})
    db.conn.commit()
    if fixed or (saved and base.copy(path, STATIC, indexes=False, fts=(FTS,))):
        for table, column in STATIC_INDEXES:  # in the order _write_static makes them (a copy makes each table's with it)
            db[table].create_index([column], if_not_exists=True)
    else:
        _write_static(db, records if records is not None else load_records(data_dir))
        if base:
            base.save(path, STATIC, fts=(FTS,), values=static)
    insert(db, "agreement_documents", ({"id": i, **l} for i, l in enumerate(links, start=1)), pk="id",
           foreign_keys=[("agreement_id", "agreements", "id"), ("sha256", "moa_documents", "sha256"),
                         ("other_agency_sha256", "moa_documents", "sha256")],
           columns={"id": int, "agreement_id": str, "sha256": str, "role": str, "url": str, "url_unwrapped": str,
                    "file_name": str, "match": str, "other_agency_sha256": str})
    for column in ("agreement_id", "sha256"):
        db["agreement_documents"].create_index([column], if_not_exists=True)
    db.conn.commit()
    agreements_with_link = {l["agreement_id"] for l in links}
    agreements_linked = {l["agreement_id"] for l in links if l["sha256"]}
    return {
        "documents": len(docs),
        "refused": static["refused"],
        "ocr_documents": static["ocr_documents"],
        "documents_linked": len(linked),
        "agreements_linked": len(agreements_linked),
        "agreements_not_linked": len(agreements_with_link - agreements_linked),
    }
