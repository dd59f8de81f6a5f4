"""Finishes the new database file: indexes, full-text search, views, and QA checks written as rows in qa_checks."""
import bisect
from pathlib import Path

from .files import swap_in
from .load import insert, open_new
from .materialise import materialise


VIEWS_DIR = Path(__file__).resolve().parent / "views"

INDEXES = {
    "agreements": [["state_code"], ["model"], ["status"], ["signed_on"], ["agency_id"], ["county"], ["first_seen"]],
    "agencies": [["state_code"], ["status"], ["level"], ["county_fips"]],
    "listings": [["list", "first_seq", "last_seq"], ["agreement_id"], ["agency_id"], ["first_publication_id"], ["last_publication_id"], ["pending_application_id"]],
    "changes": [["changed_at"], ["kind"], ["agreement_id"], ["agency_id"], ["publication_id"]],
    "publications": [["list", "seq"], ["published_at"], ["status"]],
    "pending_applications": [["state_code"], ["agency_id"], ["agreement_id"], ["outcome"]],
    "build_anomalies": [["publication_id"], ["kind"]],
    "steering_committee_meetings": [["agency_id"]],
    "historical_moa_2024": [["agency_id"]],
}


def _qa_checks(db, built):
    """Facts the build must hold; each is a row with what was expected and what was found."""
    checks = []

    def check(name, expected, found, detail="", gate=0):
        # gate = 1: the database is built and correct as far as it goes, but must not be published while this fails.
        checks.append({"check": name, "expected": str(expected), "found": str(found), "passed": int(expected == found), "detail": detail, "gate": gate})

    pubs = [p for p in built.publications if not p.error]
    # Every published row is carried by exactly one listing span per publication.
    traced = _traced(db)
    mismatched = [p.file for p in pubs if traced.get(p.id, 0) != p.row_count]
    check("listings traced to each publication equal its non-blank rows", 0, len(mismatched), ", ".join(mismatched[:5]))
    # A count, not a stop: a row count that differs from MANIFEST.csv is recorded (manifest_rows_differ) and built.
    manifest_off = [p.file for p in pubs if p.manifest_rows is not None and p.manifest_rows != p.row_count]
    recorded = sum(1 for p in pubs if p.has_anomaly(("manifest_rows_differ",)))
    check("row counts that differ from MANIFEST.csv data_rows, each recorded as manifest_rows_differ", len(manifest_off), recorded, ", ".join(manifest_off[:5]))
    orphans = db.execute("select count(*) from listings where list = 'participating' and agreement_id is null and model is not null").fetchone()[0]
    check("every participating listing with a known model links to an agreement", 0, orphans)
    no_agency = db.execute("select count(*) from agreements where agency_id not in (select id from agencies)").fetchone()[0]
    check("every agreement links to an agency", 0, no_agency)
    latest = built.latest
    if latest:
        active = db.execute("select count(*) from agreements where status = 'active'").fetchone()[0]
        # The agreements the latest list's rows are linked to (a row with a model and no agreement counts once, as the walk would).
        listed = db.execute(
            "select count(distinct coalesce(agreement_id, '')) from listings where list = 'participating' and model is not null "
            "and :seq between first_seq and last_seq", {"seq": latest.seq}).fetchone()[0]
        check("active agreements equal the distinct agreements of the latest participating list", listed, active, latest.file_name)
    held = [(p.file_name, d) for p in pubs if p.has_anomaly(("unconfirmed_mass_ending",))
            for k, _, d in p.anomalies if k == "unconfirmed_mass_ending"]
    check("no unconfirmed mass ending on the newest participating list", 0, len(held),
          "; ".join(f"{f}: {d}" for f, d in held), gate=1)
    # An agency whose STATE ICE misspelt has no place until data/corrections.csv names the state;
    # build_anomalies and a warning already say so (unknown_state).
    no_coords = db.execute("select count(*) from agencies where latitude is null and state_code is not null").fetchone()[0]
    check("every agency with a known state has coordinates", 0, no_coords)
    return checks


def _traced(db):
    """{publication id: the listings whose span covers it}: the count of
    `publications p left join listings l on l.list = p.list and p.seq between l.first_seq and l.last_seq`,
    counted from the spans' sorted ends (that join scans the listings once per publication)."""
    spans = db.execute("select list, first_seq, last_seq from listings").fetchall()
    pubs = db.execute("select id, list, seq from publications").fetchall()
    if not all(type(v) is int for _, first, last in spans for v in (first, last) if v is not None) or \
            not all(type(seq) is int for _, _, seq in pubs if seq is not None):
        return dict(db.execute(
            "select p.id, count(l.id) from publications p left join listings l "
            "on l.list = p.list and p.seq between l.first_seq and l.last_seq group by p.id").fetchall())
    firsts, lasts = {}, {}
    for name, first, last in spans:
        if name is not None and first is not None and last is not None and first <= last:
            firsts.setdefault(name, []).append(first)
            lasts.setdefault(name, []).append(last)
    for ends in (*firsts.values(), *lasts.values()):
        ends.sort()
    # spans with first <= seq, less those already over (last < seq): the spans with first <= seq <= last
    return {pid: bisect.bisect_right(firsts[name], seq) - bisect.bisect_left(lasts[name], seq)
            if seq is not None and name in firsts else 0 for pid, name, seq in pubs}


def _compact(db, path):
    """VACUUM, written as a new file that replaces path: one write of the database, where VACUUM in place
    writes a temporary copy, the journal and the file again. Synced before the rename (files.swap_in)."""
    compacted = Path(f"{path}.vacuum")
    compacted.unlink(missing_ok=True)  # left by a build killed here
    db.conn.execute("vacuum into ?", (str(compacted),))
    db.conn.close()
    swap_in(compacted, path)


def _close(db, path):
    """Close the finished file, written again without them (_compact) when pages are left free: a build only adds rows
    and tables, so there are none and the file is kept as written. It is synced once, when renamed into place."""
    if db.conn.execute("pragma freelist_count").fetchone()[0]:
        _compact(db, path)
    else:
        db.conn.close()


def finish(path, built, metadata=None):
    db = open_new(path)  # synced once, when the finished file is renamed into place
    for table, index_list in INDEXES.items():
        if table in db.table_names():
            for columns in index_list:
                db[table].create_index(columns, if_not_exists=True)
    db["agencies"].enable_fts(["name", "spellings", "county", "place_name"], create_triggers=False)
    db["agreements"].enable_fts(["agency", "spellings", "county"], create_triggers=False)
    for sql_file in sorted(VIEWS_DIR.glob("*.sql")):
        db.create_view(sql_file.stem, sql_file.read_text(), replace=True)
    materialise(db.conn, metadata=metadata)  # the build's assembled metadata: read once a build
    checks = _qa_checks(db, built)
    insert(db, "qa_checks", ({"id": i, **c} for i, c in enumerate(checks, start=1)), pk="id")
    anomaly_rows = db["build_anomalies"].count
    db.conn.execute("analyze")
    db.conn.commit()
    _close(db, path)
    return {
        "anomaly_rows": anomaly_rows,
        "passed": sum(c["passed"] for c in checks),
        "failed": sum(1 - c["passed"] for c in checks),
        "gated": [c for c in checks if c["gate"] and not c["passed"]],
        "broken": [c for c in checks if not c["gate"] and not c["passed"]],
        "checks": checks,
    }
