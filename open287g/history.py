"""ICE's list before 2021 (data/history/): the roster table of ICE's web page as the Internet Archive captured it,
2011-2017, read as publications of the participating list; the other sources are evidence about agreements, never
ICE's list on a date. Provenance and faults of each file: data/history/README.md; the rules: docs/IDENTITY.md."""
import csv
import datetime
import hashlib
import json
from pathlib import Path

from dataclasses import replace

from . import basedb, identity, records
from .cachekey import Kept, cache_key, with_imports
from .load import open_new
from .read import interpret
from .records import Publication
from .rules import ROSTER_MODEL_SPELLINGS

ROSTER = "history/pre2018-roster-long.csv"
ROSTER_COLUMNS = ("state", "agency", "support_type", "signed", "moa")
ROSTER_HEADER = "STATE|LAW ENFORCEMENT AGENCY|SUPPORT TYPE|SIGNED|MOA"


def _numbered(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(enumerate(csv.DictReader(f), start=2))


def roster_publications(data_dir, cache_dir=None):
    """One participating publication per Internet Archive capture of ICE's roster table, each row keeping its CSV line.

    Dated by the capture: ICE's page was live with these rows at that moment. The caption's "as of" date is kept as
    printed (caption_date); it is not the publication date, because ICE changed the rows without changing it
    (the captures of 20 October 2011 and 20 January 2012 print 69 and 68 rows under one caption).

    With cache_dir they are kept there under the key of the file's bytes and this code: a rebuild loads them.
    """
    path = Path(data_dir) / ROSTER
    if not path.exists():
        return []
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    kept = Kept(cache_dir, "roster", cache_key(*with_imports(__name__), extra=(digest,))) if cache_dir else None
    found = kept.load(lambda v: isinstance(v, list) and all(isinstance(p, Publication) for p in v)) if kept else None
    if found is not None:
        return [p.updated(path=path) for p in found]  # the same bytes in another data/ folder
    pubs = _roster_publications(path, raw, digest)
    if kept:
        kept.save(pubs)
    return pubs


def _roster_publications(path, raw, digest):
    captures = {}
    for line, r in _numbered(path):
        captures.setdefault(r["snapshot_ts"], []).append((line, r))
    pubs = []
    for ts in sorted(captures):
        lines = captures[ts]
        first = lines[0][1]
        extracted = {
            "header": ROSTER_HEADER, "header_row": 1, "names": ROSTER_COLUMNS, "saved_at": None,
            "cells": [(line, tuple(r[c] for c in ("state", "agency", "support_type", "date_signed", "moa_file")), None, None, False) for line, r in lines],
        }
        r = _read_roster_models(interpret(extracted))
        captured = datetime.datetime.strptime(ts, "%Y%m%d%H%M%S")
        caption = first["caption"] or None
        anomalies = r.pop("anomalies")
        if first["caption_n"] and int(first["caption_n"]) != len(lines):
            anomalies += (("caption_count_differs", None, f"caption says {first['caption_n']} agreements; the table has {len(lines)} rows"),)
        pubs.append(Publication(
            path=path, file=ROSTER, file_name=f"ICE 287(g) roster, Internet Archive capture {ts}",
            original_name=caption or "(no caption)", folder="history", source_kind=records.ROSTER,
            bytes=len(raw), capture_utc=captured.strftime("%Y-%m-%dT%H:%M:%SZ"),
            archived_by="Internet Archive (Wayback Machine)", sha256=digest, id=hashlib.sha256(f"{digest}\0{ts}".encode()).hexdigest()[:12],
            caption=caption, caption_date=_caption_date(caption), **{**r, "blank_rows": 0}, anomalies=anomalies,
            published_at=captured.isoformat(timespec="seconds"), date_source="Internet Archive capture time of ICE's page",
        ))
    return pubs


def _read_roster_models(r):
    """The roster's model names (rule roster_models), read into new rows; these rows come from the roster's columns only."""
    rows = tuple(replace(row, model=ROSTER_MODEL_SPELLINGS[row.support_type]) if row.model is None and row.support_type in ROSTER_MODEL_SPELLINGS
                 else row for row in r["rows"])
    read = {f"SUPPORT TYPE {t!r} is not a known model" for t in ROSTER_MODEL_SPELLINGS}
    return {**r, "rows": rows, "keys": frozenset(row.body_key for row in rows),
            "anomalies": tuple(a for a in r["anomalies"] if not (a[0] == "unknown_model" and a[2] in read))}


def _caption_date(caption):
    words = (caption or "").split()
    if words and "/" in words[-1]:
        return datetime.datetime.strptime(words[-1], "%m/%d/%Y").date().isoformat()
    return None


# Evidence: the other files of data/history/ (rule evidence_not_list: they go into history_evidence, never onto ICE's
# list). Each row keeps its file and line; a "Hybrid" is two agreements, one evidence row per model (rule hybrid_two).
EVIDENCE_MODELS = {"jail enforcement": ("JEM",), "jeo": ("JEM",), "task force": ("TFM",), "tfo": ("TFM",),
                   "hybrid": ("JEM", "TFM"), "jeo/tfo": ("JEM", "TFM")}
EVIDENCE_FILE_MODEL = (("JEM", "JEM"), ("WSO", "WSO"), ("TFM", "TFM"), ("TFO", "TFM"))


def _us_date(text):
    try:
        return datetime.datetime.strptime(text.strip(), "%m/%d/%Y").date().isoformat()
    except ValueError:
        return None


def _models(printed):
    return EVIDENCE_MODELS.get((printed or "").strip().lower(), (None,))


def evidence_rows(data_dir):
    """Every row of the evidence files as {file, line, source, as_of, state, agency, model_printed, model, signed_on, date_kind, note}."""
    d = Path(data_dir) / "history"
    out = []

    def add(file, line, source, as_of, state, agency, model_printed, signed_on, date_kind, note=None, models=None):
        for model in models or _models(model_printed):
            out.append({"file": f"history/{file}", "line": line, "source": source, "as_of": as_of or None, "state": state,
                        "agency": agency.strip(), "model_printed": model_printed or None, "model": model,
                        "signed_on": signed_on or None, "date_kind": date_kind if signed_on else None, "note": note})

    if (d / "historical-oig-2009.csv").exists():
        for line, r in _numbered(d / "historical-oig-2009.csv"):
            add("historical-oig-2009.csv", line, r["source"], r["as_of"], r["state"], r["agency"], r["model"],
                r["date_signed_original"], "original signing", None if r["status"] == "signed" else r["status"])
    if (d / "historical-ice-lists.csv").exists():
        for line, r in _numbered(d / "historical-ice-lists.csv"):
            add("historical-ice-lists.csv", line, r["source"], r["as_of"], r["state"], r["agency"], None, None, None)
    if (d / "pre2018-secondary-rosters-long.csv").exists():
        for line, r in _numbered(d / "pre2018-secondary-rosters-long.csv"):
            note = "the parser flagged this row for review" if r["needs_review"] == "TRUE" else None
            add("pre2018-secondary-rosters-long.csv", line, r["source"], r["as_of"], r["state"], r["agency"], r["model"],
                r["date_signed"], "as printed", note)
    if (d / "primary_source_chart_2010-05-08.csv").exists():
        for line, r in _numbered(d / "primary_source_chart_2010-05-08.csv"):
            new = r["signed_new_moa"].strip()
            add("primary_source_chart_2010-05-08.csv", line, "Third-party chart of 8 May 2010", "2010-05-08", r["state"], r["agency"],
                r["type"], _us_date(r["signed_former_moa"]), "original signing",
                f"standard MOA of 2009: {new}" if new else None)
    if (d / "historical-ice-archive-index.csv").exists():
        for line, r in _numbered(d / "historical-ice-archive-index.csv"):
            name = r["moa_file"]
            models = tuple(m for code, m in EVIDENCE_FILE_MODEL if f"287g{code}" in name or f"_{code}" in name)[:1] or (None,)
            add("historical-ice-archive-index.csv", line, r["source"], None, r["state"], r["agency"], None, r["date_signed"],
                "as printed", f"document {name}", models)
    if (d / "MyAttorneyUSA_roster_2017-08-01.tsv").exists():
        with open(d / "MyAttorneyUSA_roster_2017-08-01.tsv", encoding="utf-8") as f:
            for line, text in enumerate(f, start=1):
                parts = text.rstrip("\n").split("\t")
                if len(parts) == 3:
                    add("MyAttorneyUSA_roster_2017-08-01.tsv", line, "MyAttorneyUSA copy of ICE's table (1 Aug 2017)", "2017-08-01",
                        parts[0], parts[1], None, parts[2], "as printed")
    return out


def _kept_matches(cache_dir):
    """Where the names each evidence agency matches are kept: under a key of identity.py and the modules it uses."""
    return Kept(cache_dir, "evidence-matches", cache_key(*with_imports(identity)))


def _matches(found):
    """{state: (spellings, {evidence agency: the spellings it matches})}: what _kept_matches holds."""
    return isinstance(found, dict) and all(
        isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], frozenset) and isinstance(v[1], dict)
        and all(isinstance(m, frozenset) for m in v[1].values()) for v in found.values())


def match_evidence(rows, agreements, state_names, state_postal, cache_dir=None):
    """Each evidence row with the agreement it speaks of (same state, a name the agreement was printed under or
    close to it, the model when the row has one) and its finding. Sorted before picking: the agreement with the
    same signing date, else the earliest listed.

    compare_names' answer for a (spelling, evidence agency, state) is fixed by the code, so with cache_dir the
    spellings each evidence agency matches are kept between builds and only spellings new to the state are
    compared (a rebuild with one new workbook compares a handful instead of ~40,000 pairs)."""
    by_state = {}
    for a in agreements:
        by_state.setdefault(a["state_code"], []).append(a)
    for v in by_state.values():
        v.sort(key=lambda a: (a["first_seen"], a["id"]))
    cache = _kept_matches(cache_dir) if cache_dir else None
    kept = (cache.load(_matches) if cache else None) or {}
    fresh = {}  # what this build compared: written back when it differs from what was kept
    spelt_by = {}
    for r in rows:
        code = state_postal(r["state"])
        r["state_code"] = code
        state = (state_names.get(code, ""), code or "")
        here = by_state.get(code, ())
        if state not in fresh:
            at = spelt_by[state] = {}  # spelling -> the places in `here` of the agreements printed under it
            for i, a in enumerate(here):
                for s in a["spellings"]:
                    at.setdefault(s, []).append(i)
            fresh[state] = (frozenset(at), {})  # the state's spellings
        pool, matched_by = fresh[state]
        matched = matched_by.get(r["agency"])
        if matched is None:
            old_pool, old = kept.get(state, (frozenset(), {}))
            known = old.get(r["agency"])
            todo, matched = (pool, frozenset()) if known is None else (pool - old_pool, known & pool)
            matched = matched | {s for s in sorted(todo) if identity.compare_names(s, r["agency"], state)}
            matched_by[r["agency"]] = matched
        named = [here[i] for i in sorted({i for s in matched for i in spelt_by[state].get(s, ())})]  # in here's order
        same_model = [a for a in named if r["model"] in (None, a["model"])]
        pick = next((a for a in same_model if r["signed_on"] and a["signed_on"] == r["signed_on"]), None) or (same_model[0] if same_model else None)
        r["agreement_id"] = pick["id"] if pick else None
        r["agency_id"] = pick["agency_id"] if pick else (named[0]["agency_id"] if named else None)
        if pick is None:
            r["finding"] = ("another model of a listed agency: ICE's roster never printed it" if named
                            else "no agreement on a readable ICE list")
        elif not r["signed_on"]:
            r["finding"] = "names the agency"
        elif r["signed_on"] == pick["signed_on"]:
            r["finding"] = "confirms the signing date"
        elif not pick["signed_on"]:  # ICE printed a date the reader could not read (unparseable_date): nothing to compare
            r["finding"] = "gives a signing date where ICE's list printed none readable"
        elif r["signed_on"] < pick["signed_on"]:
            r["finding"] = "an earlier signing than ICE's list printed"
        else:
            r["finding"] = "a later signing than ICE's list printed"
    if cache and fresh != kept:
        cache.save(fresh)
    return rows


def write(path, data_dir, state_names, state_postal, cache_dir=None):
    """history_evidence, and each agency's earliest signing with its source; cache_dir keeps match_evidence's name matches."""
    import sqlite3

    db = open_new(path).conn
    db.row_factory = sqlite3.Row
    read = db.execute("select id, agency_id, state_code, model, signed_on, first_seen, spellings from agreements order by id").fetchall()
    # The matched rows kept under this code (with places.py, whose state_postal reads their states), the bytes of every
    # file in data/history, and the agreements' rows and the states' names they are matched to.
    files = sorted(p for p in (Path(data_dir) / "history").glob("*") if p.is_file() and p.name != "README.md")
    rows = basedb.kept_value(cache_dir, "evidence-rows", [__name__, "open287g.places"],
                             lambda: match_evidence(evidence_rows(data_dir), [dict(a, spellings=json.loads(a["spellings"])) for a in read],
                                                    state_names, state_postal, cache_dir),
                             kind=list, files=files, extra=[[p.name for p in files], [tuple(a) for a in read], sorted(state_names.items())])
    db.execute("""create table history_evidence (id integer primary key, file text, line integer, source text, as_of text,
        state text, state_code text references states(code), agency text, model_printed text, model text, signed_on text, date_kind text,
        note text, agreement_id text references agreements(id), agency_id text references agencies(id), finding text)""")
    columns = ("file", "line", "source", "as_of", "state", "state_code", "agency", "model_printed", "model", "signed_on",
               "date_kind", "note", "agreement_id", "agency_id", "finding")
    db.executemany(f"insert into history_evidence ({', '.join(columns)}) values ({', '.join('?' * len(columns))})",
                   [tuple(r[c] for c in columns) for r in rows])
    db.execute("alter table agencies add column earliest_signed_on text")
    db.execute("alter table agencies add column earliest_signed_source text")
    # The earliest date ICE printed for any of the agency's agreements, or an earlier one the evidence gives.
    db.execute("""with dates as (
        select agency_id, signed_on, 'ICE''s list' as source from agreements where signed_on is not null
        union all
        select agency_id, signed_on, source from history_evidence where agency_id is not null and signed_on is not null
      ), ranked as (
        select agency_id, signed_on, source, row_number() over (partition by agency_id order by signed_on, source != 'ICE''s list', source) as n from dates
      )
      update agencies set earliest_signed_on = ranked.signed_on, earliest_signed_source = ranked.source
      from ranked where ranked.agency_id = agencies.id and ranked.n = 1""")
    # Rule ending_range: an ending whose last printing comes before a span of list_gaps and first absence after it.
    db.execute("alter table agreements add column ended_in_gap integer")
    db.execute("""update agreements set ended_in_gap = exists (
        select 1 from list_gaps g
        where g.after_publication_id is not null and agreements.last_seen <= g.starts and agreements.ended_seen >= g.ends)
      where ended_publication_id is not null""")
    db.execute("create index history_evidence_agency on history_evidence(agency_id)")
    db.execute("create index history_evidence_agreement on history_evidence(agreement_id)")
    db.commit()
    db.close()
    return len(rows)
