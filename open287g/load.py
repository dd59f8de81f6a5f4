"""Writes the resolved rows into a new SQLite file with sqlite-utils: tables, primary and foreign keys."""
import json
import operator
from dataclasses import fields

import sqlite_utils


# A pending application's fields the stages use and the table does not hold (resolve.pending_applications).
INTERNAL_APP_FIELDS = ("agency_key", "printed_keys", "merged_ids", "corrected_keys", "corrected_ids")

# What the build did about each kind of anomaly, stored beside it.
ACTIONS = {
    "rejected": "file left out of the database; other publications unaffected",
    "not_in_manifest": "built, provenance unknown",
    "sha256_mismatch": "built from the bytes on disk",
    "manifest_rows_differ": "built from the rows read; the manifest's count is kept in publications.manifest_rows",
    "swapped_list": "filed under the list its columns belong to",
    "typo_year": "publication date corrected",
    "undated": "date inferred from content",
    "name_reused": "both files kept as separate publications",
    "republished_duplicate": "kept; identical content, no changes inferred",
    "truncated": "kept as published; skipped when inferring added/ended",
    "unconfirmed_mass_ending": "kept as published; ends nothing until a later publication confirms; publishing withheld",
    "mass_ending_not_confirmed": "kept as published; the next publication lists the agreements again, so it ends nothing",
    "mass_ending_confirmed": "endings dated at this publication, confirmed by the next",
    "date_far_from_neighbours": "dated as its file name says, within the bound of its fetch or capture time; check it",
    "signed_date_contradicted": "flagged; fix with a 'signed' line in data/corrections.csv",
    "signed_long_before_listed": "flagged; fix with a 'signed' line in data/corrections.csv",
    "whitespace": "stray whitespace removed",
    "date_repaired": "date read with the missing separator restored",
    "unparseable_date": "row kept; signed_on left empty",
    "unknown_column": "file read without that column; teach open287g/read.py the column to read it",
    "rows_above_header": "rows above the header left unread; check they hold no agencies",
    "other_sheets": "sheets other than the list's left unread; check they hold no agencies",
    "footnote": "note below the list left unread; not an agency",
    "safelink_unwrapped": "Outlook safelinks redirect unwrapped to ICE's URL",
    "addendum_in_moa": "kept as printed",
    "model_spelling": "read as the canonical model name",
    "unknown_model": "row kept as printed; not part of any agreement",
    "unknown_level": "level left empty",
    "unknown_state": "state left empty; needs a line in data/corrections.csv",
    "state_misspelt": "read as the one state whose name it misspells; a line in data/corrections.csv overrides",
}


def _anomaly_rows(pubs):
    """One row per publication and kind: how many rows, the first 50 sheet rows, the first detail. 73,000 anomalies in
    all, most of them row by row: each publication's read in one pass, kinds in the order first met."""
    out = []
    for p in pubs:
        kinds = {}  # kind -> [count, sheet rows (up to 50), first detail]
        for kind, row, detail in p.anomalies:
            seen = kinds.get(kind)
            if seen is None:
                seen = kinds[kind] = [0, [], detail]
            seen[0] += 1
            if row is not None and len(seen[1]) < 50:
                seen[1].append(row)
        for kind, (count, rows, detail) in kinds.items():
            out.append({
                "publication_id": p.id,
                "file": p.file,
                "kind": kind,
                "rows_affected": count if rows else None,
                "sheet_rows": ", ".join(map(str, rows)) or None,
                "detail": detail,
                "action": ACTIONS.get(kind, ""),
            })
    return out


def _publication_row(p):
    status = ("rejected" if p.error else "duplicate" if p.duplicate_of else "truncated" if p.truncated
              else "held" if p.held else "used")
    columns = ("id", "list", "source_kind", "era", "caption", "caption_date", "file", "file_name", "original_name", "published_at",
               "date_source", "seq", "status", "row_count", "blank_rows", "manifest_rows", "header", "sheet", "sha256", "bytes", "fingerprint",
               "duplicate_of", "capture_utc", "saved_at", "archived_by", "error")
    row = {name: getattr(p, name, None) for name in columns}
    # A file that could not be read has no rows to count.
    row.update(status=status, anomalies=len(p.anomalies), **({"row_count": None, "blank_rows": None} if p.error else {}))
    return row


def _flat(records, leave=()):
    """Flat dataclass records as dicts of their fields in declaration order, less those in leave: asdict without its
    deep copy, each record's values read in one call."""
    if not records:
        return []
    names = tuple(f.name for f in fields(records[0]) if f.name not in leave)
    values = operator.attrgetter(*names) if len(names) > 1 else (lambda r: (getattr(r, names[0]),))
    return [dict(zip(names, values(r))) for r in records]


def _changes(changes, of_agreement):
    """The changes table's rows: each change's id, its fields but application_id, seq (a unique chronological number, so
    "newest first" pages through every row exactly once) and its agency; each id made once, for the sort and the row."""
    ordered = sorted((((c.changed_at, c.kind, c.id), c) for c in changes), key=operator.itemgetter(0))
    flat = _flat([c for _, c in ordered], leave=("application_id",))
    return ({"id": key[2], **row, "seq": n, "agency_id": of_agreement[c.agreement_id]}
            for n, ((key, c), row) in enumerate(zip(ordered, flat), start=1))


def _type(values):
    kinds = set(map(type, values)) - {type(None)}
    if kinds <= {int, bool} and kinds:
        return int
    if kinds <= {int, float, bool} and kinds:
        return float
    return str


def insert(db, table, rows, pk, foreign_keys=(), columns=None):
    """Create `table` with sqlite-utils (types, primary and foreign keys) and fill it with one executemany.

    sqlite-utils' insert_all checks and converts every value; these rows are plain values
    already, and the direct insert is several times faster.
    """
    rows = list(rows)
    names = list(columns or {})
    seen = set(names)
    for row in rows:
        if not seen.issuperset(row):  # the columns in the order first met
            for k in row:
                if k not in seen:
                    names.append(k)
                    seen.add(k)
    if len(names) > 1 and all(len(r) == len(names) for r in rows):  # every row has every column: read them in C
        values = list(map(operator.itemgetter(*names), rows))
    else:
        values = [tuple(r.get(n) for n in names) for r in rows]
    # Each column's values once, from the rows' tuples, for its type.
    by_column = zip(*values) if values else ((),) * len(names)
    types = {n: (columns or {}).get(n) or _type(column) for n, column in zip(names, by_column)}
    db[table].create(types, pk=pk, foreign_keys=list(foreign_keys))
    placeholders = ", ".join("?" for _ in names)
    quoted = ", ".join(f"[{n}]" for n in names)
    db.conn.executemany(f"insert into [{table}] ({quoted}) values ({placeholders})", values)


def open_new(path):
    """The build's new database file, opened by each stage that fills it: it is renamed into place only once
    complete (a crash leaves it for the next build to discard), so nothing is synced to disk on each commit
    and the rollback journal stays in memory."""
    db = sqlite_utils.Database(path)
    db.conn.execute("pragma journal_mode = memory")
    db.conn.execute("pragma synchronous = off")
    return db


def write(path, built, seeds):
    """The build's own tables (pipeline.Tables, and the seeds' rows) into a new database at path."""
    db = open_new(path)
    lineage = built.lineage
    agencies = built.agencies.rows
    of_agreement, of_application = built.agencies.of_agreement, built.agencies.of_application
    state_rows = built.states
    insert(db, "states", 
        ({"code": s["postal"], "name": s["name"], "fips": s["fips"], "latitude": s["latitude"], "longitude": s["longitude"]} for s in state_rows),
        pk="code",
    )
    insert(db, "publications", (_publication_row(p) for p in built.publications), pk="id", foreign_keys=[("duplicate_of", "publications", "id")])
    insert(db, "agencies", 
        (
            {
                "id": a["id"],
                "name": a["name"],
                "state_code": a["state_code"],
                "level": a["level"],
                "county": a["county"],
                "county_name": a.get("county_name"),
                "county_fips": a.get("county_fips"),
                "place_name": a.get("place_name"),
                "models_active": a["models_active"] or None,
                "models_ever": a["models_ever"] or None,
                "agreements_active": a["agreements_active"],
                "agreements_total": a["agreements_total"],
                "status": a["status"],
                "first_seen": a["first_seen"],
                "last_seen": a["last_seen"],
                "spellings": json.dumps(a["spellings"], ensure_ascii=False),
                "spelling_count": len(a["spellings"]),
                "latitude": a.get("latitude"),
                "longitude": a.get("longitude"),
                "precision": a.get("precision"),
                "location_method": a.get("method"),
            }
            for a in agencies.values()
        ),
        pk="id",
        foreign_keys=[("state_code", "states", "code")],
    )
    insert(db, "agreements", 
        (
            {
                "id": a.id,
                "seq": n,
                "agency_id": of_agreement[a.id],
                "state_code": a.state_code,
                "agency": a.agency,
                "model": a.model,
                "support_type": a.support_type,
                "signed_on": a.signed_on,
                "signed_printed": a.signed_printed,
                "status": a.status,
                "level": a.level,
                "county": a.county,
                "first_seen": a.first_seen,
                "last_seen": a.last_seen,
                "ended_seen": a.ended_seen,
                "first_publication_id": a.first_publication_id,
                "last_publication_id": a.last_publication_id,
                "ended_publication_id": a.ended_publication_id,
                "superseded_by": a.superseded_by,
                "follows": a.follows,
                "moa_url": a.moa_url,
                "addendum_url": a.addendum_url,
                "spellings": json.dumps(sorted(a.spellings), ensure_ascii=False),
                "latitude": agencies[of_agreement[a.id]].get("latitude"),
                "longitude": agencies[of_agreement[a.id]].get("longitude"),
            }
            for n, a in enumerate(sorted(lineage.agreements.values(), key=lambda a: (a.first_seen, a.id)), start=1)
        ),
        pk="id",
        foreign_keys=[
            ("agency_id", "agencies", "id"),
            ("state_code", "states", "code"),
            ("first_publication_id", "publications", "id"),
            ("last_publication_id", "publications", "id"),
            ("ended_publication_id", "publications", "id"),
            ("superseded_by", "agreements", "id"),
            ("follows", "agreements", "id"),
        ],
    )
    insert(db, "pending_applications", 
        ({**{k: v for k, v in app.items() if k not in INTERNAL_APP_FIELDS}, "agency_id": of_application[app["id"]]} for app in built.pending),
        pk="id",
        foreign_keys=[
            ("agency_id", "agencies", "id"),
            ("state_code", "states", "code"),
            ("agreement_id", "agreements", "id"),
            ("first_publication_id", "publications", "id"),
            ("last_publication_id", "publications", "id"),
            ("removed_publication_id", "publications", "id"),
        ],
    )
    insert(db, "listings", 
        built.listings,
        pk="id",
        foreign_keys=[
            ("agreement_id", "agreements", "id"),
            ("pending_application_id", "pending_applications", "id"),
            ("agency_id", "agencies", "id"),
            ("state_code", "states", "code"),
            ("first_publication_id", "publications", "id"),
            ("last_publication_id", "publications", "id"),
        ],
    )
    insert(db, "changes", 
        _changes(lineage.changes, of_agreement),
        pk="id",
        foreign_keys=[("publication_id", "publications", "id"), ("agreement_id", "agreements", "id"), ("agency_id", "agencies", "id"), ("state_code", "states", "code")],
    )
    insert(db, "agreement_merges", 
        ({"id": i, **m} for i, m in enumerate(_flat(lineage.merges), start=1)),
        pk="id",
        foreign_keys=[("agreement_id", "agreements", "id"), ("publication_id", "publications", "id")],
    )
    insert(db, "list_gaps", ({"id": i, **g} for i, g in enumerate(built.list_gaps, start=1)), pk="id",
           columns={"id": int, "list": str, "after_publication_id": str, "starts": str, "before_publication_id": str, "ends": str},
           foreign_keys=[("after_publication_id", "publications", "id"), ("before_publication_id", "publications", "id")])
    insert(db, "build_anomalies", 
        ({"id": i, **r} for i, r in enumerate(_anomaly_rows(built.publications), start=1)),
        pk="id",
        foreign_keys=[("publication_id", "publications", "id")],
    )
    insert(db, "id_aliases", built.agencies.aliases, pk="alias", columns={"alias": str, "table_name": str, "id": str, "reason": str})
    insert(db, "agency_links", built.agencies.links, pk=("state_code", "name", "same_as"),
           columns={"state_code": str, "name": str, "same_as": str, "reason": str, "source": str, "applied": int})
    insert(db, "corrections", ({"id": i, **c} for i, c in enumerate(built.corrections, start=1)), pk="id")
    insert(db, "historical_moa_2024", seeds["historical"], pk="source_line", foreign_keys=[("agency_id", "agencies", "id"), ("state_code", "states", "code")])
    insert(db, "steering_committee_meetings", seeds["meetings"], pk="source_line", foreign_keys=[("agency_id", "agencies", "id")])
    db.conn.commit()
    db.conn.close()

