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
    report = []
    for c in corrections:
        field, derive = DERIVED[c["column"]]
        value = derive(c["right"])
        touched, files = 0, 0
        for p in pubs:
            hit = False
            for row in p.get("rows", ()):
                if row[c["column"]] == c["wrong"]:
                    row[field] = value
                    touched += 1
                    hit = True
            files += hit
        report.append({**c, "rows_touched": touched, "publications_touched": files})
    return report
