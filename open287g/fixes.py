"""Reads data/corrections.csv (hand fixes keyed on the wrong value) and applies them to the identity fields of each distinct parsed row once, counting what each touched."""
import csv
import re
from pathlib import Path

from . import places
from .identity import norm_agency


def _derive_state(row, right):
    row["state_code"] = places.state_postal(right)


def _derive_agency(row, right):
    row["agency_norm"] = norm_agency(right)


def _derive_signed(row, right):
    row["signed_on"] = right


# Which printed column a line corrects, how the row's identity follows; printed values stay as ICE printed them.
DERIVED = {
    "state": ("state", _derive_state),
    "agency": ("agency", _derive_agency),
    "signed": ("signed_on", _derive_signed),  # keyed on the ISO date read from SIGNED, narrowed by the agency column
}


class CorrectionsError(Exception):
    pass


def data_rows(path):
    """[(line number, row)] of a hand-kept CSV in data/ (corrections, agency areas, abbreviations); [] when absent."""
    path = Path(path)
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return list(enumerate(csv.DictReader(f), start=2))


def load_corrections(path):
    numbered = data_rows(path)
    rows = [r for _, r in numbered]
    for n, r in numbered:
        if r.get("column") not in DERIVED or not r.get("wrong") or not r.get("right") or not r.get("reason"):
            raise CorrectionsError(f"{path}: line {n}: needs column (one of {', '.join(DERIVED)}), wrong, right and reason")
        if r["column"] == "state" and places.state_postal(r["right"]) is None:
            raise CorrectionsError(f"{path}: line {n}: {r['right']!r} is not a US state or territory")
        if r["column"] == "signed" and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", r["right"].strip()):
            raise CorrectionsError(f"{path}: line {n}: a signed correction's right value must be an ISO date (YYYY-MM-DD), not {r['right']!r}")
        if r["column"] == "signed" and not (r.get("agency") or "").strip():
            raise CorrectionsError(f"{path}: line {n}: a signed correction needs the agency it applies to (a date alone is shared by many rows)")
    return rows


def apply_corrections(pubs, corrections):
    """Rewrite the identity fields of matching rows in place, once per distinct row object (rows are shared
    across publications), then refresh each publication's identity keys; returns one report row per correction."""
    touched = {id(c): 0 for c in corrections}
    files = {id(c): set() for c in corrections}
    done = {}
    for p in pubs:
        for row in p.get("rows", ()):
            hits = done.get(id(row))
            if hits is None:
                hits = done[id(row)] = []
                for c in corrections:
                    field, derive = DERIVED[c["column"]]
                    scope = (c.get("agency") or "").strip()
                    if row.get(field) == c["wrong"] and (not scope or row["agency"] == scope):
                        derive(row, c["right"])
                        hits.append(c)
                if hits:
                    row["key3"] = (row["state_code"], row["agency_norm"], row["model"])
            for c in hits:
                touched[id(c)] += 1
                files[id(c)].add(p["file"])
        if any(done.get(id(r)) for r in p.get("rows", ())):
            p["keys"] = {r["key3"] for r in p["rows"]}
    return [{**c, "rows_touched": touched[id(c)], "publications_touched": len(files[id(c)])} for c in corrections]
