"""Print the raw evidence for a random sample of endings and merges, for a person to check by hand.

Reads build/287g.db and, independently of the build's reader, the raw workbooks with openpyxl. For each
sampled ending: the row ICE printed last, then every row of the same state and model in the files after it
whose name shares a distinctive word or whose COUNTY agrees. For each sampled merge: the rows of that
agency in the file before the merge and in the merge's file. The verdicts go in docs/IDENTITY.md.

    .venv/bin/python scripts/check_sample.py [--seed 287] [--n 30] [--since 2025-01-01]
"""
import argparse
import random
import sqlite3
from pathlib import Path

import openpyxl

from open287g import identity

ROOT = Path(__file__).resolve().parent.parent
MODELS = {"Jail Enforcement Model": "JEM", "Warrant Service Officer": "WSO", "Task Force Model": "TFM"}


def raw_rows(path, cache={}):
    """(state, agency, model code, signed, county) of every row of a workbook, read with openpyxl."""
    if path not in cache:
        sheet = openpyxl.load_workbook(path, read_only=True).worksheets[0]
        rows = list(sheet.iter_rows(values_only=True))
        header = [str(c or "").strip().upper() for c in rows[0]]
        col = {name: header.index(name) for name in header if name}
        out = []
        for r in rows[1:]:
            get = lambda name: (str(r[col[name]]).strip() if name in col and r[col[name]] is not None else "")
            model = next((code for name, code in MODELS.items() if name.lower() in get("SUPPORT TYPE").lower()), get("SUPPORT TYPE"))
            out.append((get("STATE"), get("LAW ENFORCEMENT AGENCY"), model, get("SIGNED")[:10], get("COUNTY")))
        cache[path] = out
    return cache[path]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", default=ROOT / "build" / "287g.db")
    parser.add_argument("--seed", type=int, default=287)
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--since", default="2025-01-01")
    args = parser.parse_args()
    db = sqlite3.connect(args.db)
    db.row_factory = sqlite3.Row
    files = {r["id"]: r for r in db.execute("select * from publications")}
    later_files = [r for r in db.execute("select * from publications where list = 'participating' and status in ('used', 'held') order by seq")]
    states = {r["code"]: r["name"] for r in db.execute("select code, name from states")}
    rng = random.Random(args.seed)

    endings = db.execute("select * from agreements where status != 'active' and ended_seen >= ? order by id", (args.since,)).fetchall()
    print(f"== {min(args.n, len(endings))} of {len(endings)} endings since {args.since}")
    for n, a in enumerate(sorted(rng.sample(endings, min(args.n, len(endings))), key=lambda a: a["ended_seen"]), 1):
        last = files[a["last_publication_id"]]
        print(f"\n[E{n}] {a['state_code']} {a['model']} {a['agency']!r} signed {a['signed_on']} | {a['status']} "
              f"| last in {last['file_name']} | first without: {files[a['ended_publication_id']]['file_name']}")
        mine = identity.distinctive(identity.words(a["agency"], (states.get(a["state_code"], ""), a["state_code"])))
        found = {}
        for p in later_files:
            if p["seq"] <= last["seq"]:
                continue
            for state, agency, model, signed, county in raw_rows(ROOT / "data" / "ice" / p["file"]):
                if model != a["model"] or states.get(a["state_code"], "").upper() != state.upper():
                    continue
                theirs = identity.distinctive(identity.words(agency, (states.get(a["state_code"], ""), a["state_code"])))
                if (mine & theirs) or (a["county"] and county and identity.same_place(a["county"], county)):
                    found.setdefault((agency, signed, county), p["file_name"])
        for (agency, signed, county), f in list(found.items())[:6]:
            print(f"      later: {agency!r} signed {signed} county {county!r} (first in {f})")
        if not found:
            print("      later: nothing of that state and model with a shared name word or county")

    merges = db.execute("select m.*, p.seq, p.file, p.file_name from agreement_merges m join publications p on p.id = m.publication_id order by m.id").fetchall()
    print(f"\n== {min(args.n, len(merges))} of {len(merges)} merges")
    for n, m in enumerate(sorted(rng.sample(merges, min(args.n, len(merges))), key=lambda m: m["seq"]), 1):
        a = db.execute("select * from agreements where id = ?", (m["agreement_id"],)).fetchone()
        before = next((p for p in reversed(later_files) if p["seq"] < m["seq"]), None)
        print(f"\n[M{n}] {m['rule']} ({m['score']}) {m['detail']} | {m['evidence']} | in {m['file_name']}")
        names = set(identity.words(a["agency"])) - identity.BOILERPLATE
        for label, p in (("before", before), ("after", files[m["publication_id"]])):
            if p is None:
                continue
            rows = [r for r in raw_rows(ROOT / "data" / "ice" / p["file"]) if r[2] == a["model"] and names & (set(identity.words(r[1])) - identity.BOILERPLATE)]
            for r in rows[:4]:
                print(f"      {label:6} {p['file_name']}: {r}")


if __name__ == "__main__":
    main()
