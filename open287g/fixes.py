"""Reads data/corrections.csv (hand fixes keyed on the wrong value) and applies them to parsed rows' identity fields, counting what each touched."""
import csv
from pathlib import Path

from . import places
from .dating import norm_agency

# Which derived identity field a corrected printed column feeds; printed values stay as ICE printed them.
DERIVED = {
    "state": ("state_code", places.state_postal),
    "agency": ("agency_norm", norm_agency),
}


class CorrectionsError(Exception):
    pass


def load_corrections(path):
    path = Path(path)
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for n, r in enumerate(rows, start=2):
        if r.get("column") not in DERIVED or not r.get("wrong") or not r.get("right") or not r.get("reason"):
            raise CorrectionsError(f"{path}: line {n}: needs column (one of {', '.join(DERIVED)}), wrong, right and reason")
    return rows


def apply_corrections(pubs, corrections):
    """Rewrite the identity fields of matching rows in place; returns one report row per correction."""
    by_column = {}
    for c in corrections:
        field, derive = DERIVED[c["column"]]
        by_column.setdefault(c["column"], {})[c["wrong"]] = (field, derive(c["right"]), c)
    touched = {id(c): 0 for c in corrections}
    files = {id(c): set() for c in corrections}
    for p in pubs:
        for row in p.get("rows", ()):
            for column, fixes in by_column.items():
                hit = fixes.get(row[column])
                if hit:
                    field, value, c = hit
                    row[field] = value
                    touched[id(c)] += 1
                    files[id(c)].add(p["file"])
    return [{**c, "rows_touched": touched[id(c)], "publications_touched": len(files[id(c)])} for c in corrections]
