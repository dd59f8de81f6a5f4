"""Reads ICE's 287(g) page text (May 2024) from data/seeds/ and writes its two tables as CSVs beside it.

Usage: python scripts/extract_seed_tables.py [page.txt]

Writes data/seeds/historical_moa_2024.csv (the "Participating Entities" table)
and data/seeds/steering_committee_meetings.csv (the FY2023-FY2025 steering
committee tables). Values are kept exactly as printed, only stripped of
surrounding whitespace; source_line is the 1-based line number in the .txt.
Any line inside a table that does not have the expected cells stops the run
with an error instead of being skipped.
"""
import csv
import pathlib
import re
import sys

SEEDS = pathlib.Path(__file__).resolve().parent.parent / "data" / "seeds"
PAGE = SEEDS / "ice_287g_page_2024-05.txt"
MOA_CSV = SEEDS / "historical_moa_2024.csv"
MEETINGS_CSV = SEEDS / "steering_committee_meetings.csv"

MOA_HEADER = ["STATE", "LAW ENFORCEMENT AGENCY", "SUPPORT TYPE", "SIGNED", "MOA"]
MEETING_HEADER = ["MOA Name", "Meeting Date", "Location", "Type"]
FY_RE = re.compile(r"^FY\s*(\d{4})$")
SEPARATOR_RE = re.compile(r"^-{3,}(\|-{3,})*\|?$")


def cells(line):
    """Split a pipe table line ("a | b | c |") into stripped cells."""
    text = line.strip()
    if text.endswith("|"):
        text = text[:-1]
    return [c.strip() for c in text.split("|")]


def is_table_line(line):
    return "|" in line


def parse(lines):
    """Return (moa_rows, meeting_rows) from the page's lines."""
    moa_rows, meeting_rows = [], []
    fiscal_year = None
    section = None  # "moa", "meetings" or None
    expect_separator = False
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r\n")
        stripped = line.strip()
        fy = FY_RE.match(stripped)
        if fy:
            fiscal_year = int(fy.group(1))
            section = None
            continue
        if not is_table_line(stripped):
            section = None
            continue
        row = cells(stripped)
        if expect_separator:
            if not SEPARATOR_RE.match(stripped):
                raise ValueError(f"line {number}: expected a table separator, got {stripped!r}")
            expect_separator = False
            continue
        if row == MOA_HEADER:
            section, expect_separator = "moa", True
            continue
        if row == MEETING_HEADER:
            if fiscal_year is None:
                raise ValueError(f"line {number}: meetings table without an FY heading")
            section, expect_separator = "meetings", True
            continue
        if section == "moa":
            # Three rows carry a sixth cell, "addendum", that the header does not name.
            if len(row) == 5:
                row.append("")
            if len(row) != 6 or row[5] not in ("", "addendum"):
                raise ValueError(f"line {number}: unexpected MOA row {stripped!r}")
            state, agency, support_type, signed, moa, addendum = row
            moa_rows.append({
                "source_line": number, "state": state, "agency": agency,
                "support_type": support_type, "signed": signed, "moa": moa,
                "addendum": addendum,
            })
        elif section == "meetings":
            if len(row) != 4:
                raise ValueError(f"line {number}: unexpected meeting row {stripped!r}")
            moa_name, meeting_date, location, model = row
            meeting_rows.append({
                "source_line": number, "fiscal_year": fiscal_year, "moa_name": moa_name,
                "meeting_date": meeting_date, "location": location, "model": model,
            })
        else:
            raise ValueError(f"line {number}: table row outside a known table: {stripped!r}")
    return moa_rows, meeting_rows


def write_csv(path, rows, fieldnames):
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fieldnames, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def main(argv):
    page = pathlib.Path(argv[1]) if len(argv) > 1 else PAGE
    # split on "\n" only, so line numbers agree with editors and sed
    lines = page.read_text(encoding="utf-8").split("\n")
    moa_rows, meeting_rows = parse(lines)
    write_csv(MOA_CSV, moa_rows,
              ["source_line", "state", "agency", "support_type", "signed", "moa", "addendum"])
    write_csv(MEETINGS_CSV, meeting_rows,
              ["source_line", "fiscal_year", "moa_name", "meeting_date", "location", "model"])
    print(f"{MOA_CSV.name}: {len(moa_rows)} rows; {MEETINGS_CSV.name}: {len(meeting_rows)} rows")


if __name__ == "__main__":
    main(sys.argv)
