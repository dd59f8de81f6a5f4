"""Scores the committed MOA extraction (data/moa/documents.jsonl.gz) against the hand check (data/moa/handcheck.csv), field by field; prints a Markdown table."""
import csv
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from open287g.moa import DOCUMENTS, read_jsonl_gz  # noqa: E402

SIGNER_FIELDS = [("agency_name", "agency", "name"), ("agency_title", "agency", "title"),
                 ("agency_signed_on", "agency", "signed_on"), ("agency_date_handwritten", "agency", "date_handwritten"),
                 ("ice_name", "ice", "name"), ("ice_title", "ice", "title"), ("ice_signed_on", "ice", "signed_on")]


def norm(value):
    """Compare as a reader would: case, spacing and stray punctuation aside."""
    return re.sub(r"[\s.,]+", " ", str(value or "")).strip().casefold()


def extracted(record):
    """The hand check's columns, read from one extracted record."""
    out = {"model": record.get("model"), "template": record.get("template"),
           "field_office": (record.get("field_office") or {}).get("value")}
    signers = {s["party"]: s for s in record.get("signatories", [])}
    for column, party, key in SIGNER_FIELDS:
        value = signers.get(party, {}).get(key)
        out[column] = str(value) if key == "date_handwritten" and value is not None else value
    agency = [c for c in record.get("contacts", []) if c["party"] == "agency"]
    for column, key in (("contact_names", "name"), ("contact_phones", "phone"), ("contact_emails", "email")):
        out[column] = {norm(c[key]) for c in agency if c.get(key)}
    return out


def score(rows, records):
    """{field: [right, checked, expected values, found and right]}: a value is right when it equals the hand
    check's, and an empty expectation (no typed name, a handwritten date) is right only when left empty."""
    tally = {}
    for row in rows:
        got = extracted(records[row["file"]])
        for field in ("model", "template", "field_office", *(c for c, _, _ in SIGNER_FIELDS)):
            expected = row[field] or None
            t = tally.setdefault(field, [0, 0, 0, 0])
            right = norm(got[field]) == norm(expected)
            t[0] += right
            t[1] += 1
            if expected:
                t[2] += 1
                t[3] += right
        for field in ("contact_names", "contact_phones", "contact_emails"):
            want = {norm(v) for v in row[field].split(";") if v.strip()}
            t = tally.setdefault(field, [0, 0, 0, 0])
            t[2] += len(want)
            t[3] += len(want & got[field])
            t[0] += len(want & got[field]) + (not want and not got[field])
            t[1] += len(want) or 1
    return tally


def table(rows, records, title):
    ocr = sum(1 for r in rows if records[r["file"]]["ocr_pages"])
    print(f"{title}: {len(rows)} documents checked by hand ({ocr} needed OCR)\n")
    print("| field | right (of all checks) | found and right (of values printed) |")
    print("|---|---|---|")
    for field, (right, checked, expected, found) in score(rows, records).items():
        share = f"{found}/{expected} ({100 * found / expected:.0f}%)" if expected else "–"
        print(f"| {field} | {right}/{checked} ({100 * right / checked:.0f}%) | {share} |")
    print()


def main():
    with open(ROOT / "data" / "moa" / "handcheck.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    records = {r["file_name"]: r for r in read_jsonl_gz(ROOT / "data" / "moa" / DOCUMENTS)}
    missing = [r["file"] for r in rows if r["file"] not in records]
    if missing:
        sys.exit(f"not in the extraction: {', '.join(missing)}")
    table(rows, records, "All")
    # the hold-out rows were checked by hand before the parsers were tuned again: they show how well the rules carry over
    table([r for r in rows if r["holdout"] == "1"], records, "Hold-out")


if __name__ == "__main__":
    main()
