"""Reads data/seeds/ (ICE's May 2024 page: historical MOA table, steering-committee meetings) into rows linked to agencies where the match is sure."""
import csv
import datetime
from pathlib import Path

from . import places
from .dating import norm_agency
from .read import MODEL_CODES, model_of, parse_date

SOURCE = "ICE 287(g) page as of May 2024 (data/seeds/ice_287g_page_2024-05.txt)"


def _rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _name_variants(name):
    """Ways ICE shortens an agency in the meeting lists: 'Nash County' for Nash County Sheriff's Office."""
    n = norm_agency(name)
    variants = {n}
    if not any(w in n for w in ("sheriff", "police", "department", "corrections", "jail", "office")):
        variants |= {n + " sheriffs office", n + " sheriffs department"}
    return variants


def _agency_index(agencies):
    index = {}
    for a in agencies.values():
        for spelling in a["spellings"]:
            index.setdefault(norm_agency(spelling), set()).add(a["id"])
    return index


def read_seeds(seed_dir, agencies):
    """Returns {'historical': rows, 'meetings': rows, 'problems': [one-line errors]}."""
    seed_dir = Path(seed_dir)
    index = _agency_index(agencies)
    out = {"historical": [], "meetings": [], "problems": []}
    hist_path = seed_dir / "historical_moa_2024.csv"
    meet_path = seed_dir / "steering_committee_meetings.csv"
    for path in (hist_path, meet_path):
        if not path.exists():
            out["problems"].append(f"{path}: missing seed table")
    if hist_path.exists():
        for r in _rows(hist_path):
            state = places.state_postal(r["state"])
            try:
                signed_on, _ = parse_date(r["signed"])
            except ValueError:
                signed_on = None
                out["problems"].append(f"{hist_path}: line {r['source_line']}: unparseable SIGNED {r['signed']!r}")
            ids = {i for i in index.get(norm_agency(r["agency"]), set()) if agencies[i]["state_code"] == state}
            out["historical"].append({
                "source_line": int(r["source_line"]),
                "state": r["state"],
                "state_code": state,
                "agency": r["agency"],
                "support_type": r["support_type"],
                "model": MODEL_CODES.get(model_of(r["support_type"])),
                "signed": r["signed"],
                "signed_on": signed_on,
                "moa": r["moa"],
                "agency_id": ids.pop() if len(ids) == 1 else None,
                "source": SOURCE,
            })
    if meet_path.exists():
        for r in _rows(meet_path):
            try:
                meeting_on = datetime.datetime.strptime(r["meeting_date"], "%m/%d/%Y").date().isoformat()
            except ValueError:
                meeting_on = None
                out["problems"].append(f"{meet_path}: line {r['source_line']}: unparseable meeting date {r['meeting_date']!r}")
            candidates = set()
            for variant in _name_variants(r["moa_name"]):
                candidates |= index.get(variant, set())
            model = r["model"].strip().upper()
            held = {i for i in candidates if model in (agencies[i]["models_ever"] or "")}
            sure = held if held else candidates
            out["meetings"].append({
                "source_line": int(r["source_line"]),
                "fiscal_year": int(r["fiscal_year"]),
                "moa_name": r["moa_name"],
                "meeting_date": r["meeting_date"],
                "meeting_on": meeting_on,
                "location": r["location"],
                "model": model,
                "agency_id": next(iter(sure)) if len(sure) == 1 else None,
                "match": "one agency with this name" + (" and model" if held else "") if len(sure) == 1
                else (f"ambiguous: {len(sure)} agencies share this name" if sure else "no agency with this name in ICE's lists"),
                "source": SOURCE,
            })
    return out
