"""Reads data/corrections.csv (hand fixes keyed on the wrong value) and publications; returns the publications with corrected copies of the rows they touch, and what each line touched."""
import csv
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

from . import places
from .identity import norm_agency


# Which printed column a line corrects: (the field keyed on its wrong value, the identity field it sets, how that
# field is derived from the right value). Printed values, and so the row's content, stay as ICE printed them.
DERIVED = {
    "state": ("state", "state_code", places.state_postal),
    "agency": ("agency", "agency_norm", norm_agency),
    "signed": ("signed_on", "signed_on", str),  # keyed on the ISO date read from SIGNED, narrowed by the agency column
}


class CorrectionsError(Exception):
    pass


def data_rows(path, error=ValueError, required=()):
    """[(line number, row)] of a hand-kept CSV in data/ (corrections, agency areas, abbreviations, same agencies); []
    when absent. A line with more cells than the header, or without a required column, raises error naming the
    file and the line."""
    path = Path(path)
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        numbered = list(enumerate(csv.DictReader(f), start=2))
    for n, r in numbered:
        if None in r:  # csv.DictReader keeps the cells beyond the header's under None
            raise error(f"{path.name} line {n}: {len(r[None])} cell(s) more than the header has columns (a comma in a cell that is not quoted?)")
        missing = [c for c in required if not (r.get(c) or "").strip()]
        if missing:
            raise error(f"{path.name} line {n}: missing {', '.join(missing)}")
    return numbered


def load_corrections(path):
    numbered = data_rows(path, CorrectionsError, ("column", "wrong", "right", "reason"))
    for n, r in numbered:
        where = f"{Path(path).name} line {n}"
        if r["column"] not in DERIVED:
            raise CorrectionsError(f"{where}: column {r['column']!r} is not one of {', '.join(DERIVED)}")
        if r["column"] == "state" and places.state_postal(r["right"]) is None:
            raise CorrectionsError(f"{where}: {r['right']!r} is not a US state or territory")
        if r["column"] == "signed" and not _ISO_DATE.fullmatch(r["right"].strip()):
            raise CorrectionsError(f"{where}: a signed correction's right value must be an ISO date (YYYY-MM-DD), not {r['right']!r}")
        if r["column"] == "signed" and not (r.get("agency") or "").strip():
            raise CorrectionsError(f"{where}: a signed correction needs the agency it applies to (a date alone is shared by many rows)")
        if (r.get("signed_on") or "").strip() and not _ISO_DATE.fullmatch(r["signed_on"].strip()):
            raise CorrectionsError(f"{where}: signed_on narrows a line to rows signed that day: an ISO date (YYYY-MM-DD), not {r['signed_on']!r}")
    return [r for _, r in numbered]


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def apply_corrections(pubs, corrections, clean=frozenset()):
    """Publications with the identity fields of matching rows corrected: each distinct row is checked once and
    replaced by a corrected copy (rows are shared by every publication printing them); returns
    (publications, one report row per correction, printed: (corrected row, row key as printed) for each row whose key
    a correction moved; the ids the printed keys gave lead to the corrected ones: rule corrected_ids, moved_keys).
    clean: fingerprints of lists an earlier build found no line touches, under the same lines and code (a fingerprint
    is the rows' printed content, which is all a line is matched on): those publications are left as they are unread."""
    wrong = {}  # the field a line is keyed on -> the wrong values lines name
    for c in corrections:
        wrong.setdefault(DERIVED[c["column"]][0], set()).add(c["wrong"])
    # The read shares one tuple among the publications printing the same rows, and one object among equal rows:
    # 1,155 publications print 465 lists of 6,522 distinct rows. Each distinct row is checked once, by id (the
    # publications keep every row alive).
    lists = {id(p.rows): p.rows for p in pubs if p.fingerprint is None or p.fingerprint not in clean}
    distinct = {}
    for rows in lists.values():
        distinct.update(zip(map(id, rows), rows))
    hit = {}  # id(row) -> (corrected row, the corrections that hit it), for the rows some correction hits
    for row_id, row in distinct.items():
        if not any(getattr(row, keyed) in values for keyed, values in wrong.items()):
            continue  # no line's wrong value is printed in it, so none can apply
        fixed, hits = {}, []
        for c in corrections:
            keyed, field, derive = DERIVED[c["column"]]
            scope, day = (c.get("agency") or "").strip(), (c.get("signed_on") or "").strip()
            if fixed.get(keyed, getattr(row, keyed)) == c["wrong"] and (not scope or row.agency == scope) and (not day or row.signed_on == day):
                fixed[field] = derive(c["right"])
                hits.append(c)
        if fixed:
            hit[row_id] = (replace(row, **fixed), hits)
    replacement = {row_id: fixed for row_id, (fixed, _) in hit.items()}
    corrected = {}  # id(rows) -> (corrected rows and their keys, rows touched per correction), for the lists some correction hits
    for list_id, rows in lists.items():
        if hit.keys().isdisjoint(map(id, rows)):
            continue
        counts, printed = {}, Counter(map(id, rows))
        for row_id in hit.keys() & printed.keys():
            for c in hit[row_id][1]:
                counts[id(c)] = counts.get(id(c), 0) + printed[row_id]
        fixed_rows = tuple(map(replacement.get, map(id, rows), rows))  # the row's corrected copy, else the row
        corrected[list_id] = ((fixed_rows, frozenset(r.body_key for r in fixed_rows)), counts)
    touched = {id(c): 0 for c in corrections}
    files = {id(c): set() for c in corrections}
    out = []
    for p in pubs:
        found = corrected.get(id(p.rows))
        if found is None:
            out.append(p)
            continue
        (fixed_rows, keys), counts = found
        for c, n in counts.items():
            touched[c] += n
            files[c].add(p.file)
        out.append(p.updated(rows=fixed_rows, keys=keys))
    printed = tuple((fixed, distinct[row_id].key) for row_id, fixed in sorted(replacement.items(), key=lambda kv: repr(kv[1].key))
                    if distinct[row_id].key != fixed.key)
    return out, [{**c, "rows_touched": touched[id(c)], "publications_touched": len(files[id(c)])} for c in corrections], printed


def moved_keys(printed):
    """apply_corrections' printed -> the sorted (row key as printed, row key corrected) pairs. A key whose state could not
    be read was never an id (the row is flagged unknown_state instead)."""
    return sorted({(was, row.key) for row, was in printed if was[0]}, key=repr)
