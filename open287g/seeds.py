"""Reads data/seeds/ (ICE's May 2024 page: historical MOA table, steering-committee meetings) into rows linked to agencies where the name is sure; then, in the built database, links the meetings a name leaves open where the evidence singles out one agency."""
import csv
import datetime
import json
from pathlib import Path

from . import places
from .cachekey import Answers, Kept, cache_key, with_imports
from .identity import norm_agency
from .load import open_new
from .read import model_of, parse_date
from .rules import MODEL_CODES

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



# --- linking the meetings the names alone could not link --------------------------------------

# Agencies among :ids holding an agreement of :model that was on ICE's list on :day.
HELD_ON = """
select
  a.id,
  a.name,
  a.state_code
from agencies a
join agreements g
  on g.agency_id = a.id
where a.id in (select value from json_each(:ids))
  and g.model = :model
  and substr(g.first_seen, 1, 10) <= :day
  and :day <= substr(coalesce(g.ended_seen, g.last_seen), 1, 10)
group by a.id
order by a.state_code, a.name
"""

FIND_AGENCIES = """
select
  e.ref,
  bm25(search_entries_fts) as score
from search_entries_fts
join search_entries e
  on e.id = search_entries_fts.rowid
where search_entries_fts match :expression
  and e.kind = 'agency'
  and (:state = '' or e.state_code = :state)
order by score
limit 50
"""

UNLINKED = """
select
  source_line,
  moa_name,
  model,
  meeting_on
from steering_committee_meetings
where agency_id is null
"""


def _abbreviated_state_agency(words):
    """ "AKDOC" -> (["department", "correction"], "AK"): a state's department of corrections."""
    if len(words) == 1 and len(words[0]) == 5 and words[0].endswith("doc"):
        state = places.state_postal(words[0][:2], fuzzy=False)
        if state:
            return ["department", "correction"], state
    return None, ""


def _candidates(db, name):
    """Agencies whose names hold every word of name (SQLite FTS5 trigram), else those spelt closest; and how."""
    from . import search  # with its translations: only a build that looks a meeting name up needs it

    words = places.words(name)
    terms, state = _abbreviated_state_agency(words)
    how = f"read as {state}'s department of corrections" if terms else "every word of the name in the agency's name"
    terms = terms or words
    strict = search.expression(terms)
    found = [r[0] for r in db.execute(FIND_AGENCIES, {"expression": strict, "state": state})] if strict else []
    if found:
        return found, how
    loose = search.forgiving_expression(terms)
    hits = [{"ref": r[0], "score": r[1]} for r in db.execute(FIND_AGENCIES, {"expression": loose, "state": state})] if loose else []
    return [h["ref"] for h in search.closest(hits)], "closest spelling of the name in ICE's lists"


def _kept_candidates(cache_dir, search_key):
    """Where each meeting name's candidates are kept between builds: under the search index's key (search_index.write_index:
    the same entries answer every search alike) and this code's; None without both."""
    if not cache_dir or not search_key:
        return None
    return Kept(cache_dir, "meetings", cache_key(*with_imports(__name__), extra=(search_key,)))


def link_meetings(db_path, cache_dir=None, search_key=None):
    """Link the meetings whose name fits several agencies or none: an agency is linked only when it is the one
    candidate that held an agreement of the meeting's model on ICE's list on the meeting's date."""
    db = open_new(db_path)
    if "match_detail" not in db["steering_committee_meetings"].columns_dict:
        db["steering_committee_meetings"].add_column("match_detail", str)
    kept = Answers(_kept_candidates(cache_dir, search_key))
    linked = 0
    for line, name, model, day in db.execute(UNLINKED).fetchall():
        ids, how = kept.get(name, lambda: _candidates(db, name))
        held = db.execute(HELD_ON, {"ids": json.dumps(ids), "model": model, "day": day}).fetchall() if day else []
        names = "; ".join(f"{n} ({st})" for _, n, st in held)
        if len(held) == 1:
            update = {"agency_id": held[0][0], "match": "the only candidate holding the model on the meeting date",
                      "match_detail": f"{how}; of {len(ids)} candidate(s) only {names} held a {model} agreement on ICE's list on {day}"}
            linked += 1
        else:
            update = {"match": "unlinked: " + ("several candidates hold the model" if held else "no candidate holds the model"),
                      "match_detail": f"{how}: {len(ids)} candidate(s); "
                      + (f"{len(held)} held a {model} agreement on {day}: {names}" if held else f"none held a {model} agreement on ICE's list on {day}")}
        db["steering_committee_meetings"].update(line, update)
    db.conn.commit()
    kept.save()
    return linked
