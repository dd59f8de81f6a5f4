"""Reads agencies, counties and states from the built database and writes search_entries with its SQLite FTS5 trigram index; reads a typed query into an FTS5 search and ranks its hits.

Matching is SQLite's: a trigram index finds every entry containing each typed word (so "meck" and
"polk" match anywhere in a name). When that finds nothing, the same index is asked for entries
sharing any three-letter piece of the typed words, ranked by FTS5's bm25, which is how a misspelt
"mecklenberg" still finds Mecklenburg. Python only reads the query (a trailing state, "co" for
county) and orders the hits: exact and whole-word matches, then active agencies, first.
"""
import json
from pathlib import Path

import sqlite_utils

from . import places
from .i18n import _, join_words, ngettext
from .fixes import data_rows

INDEX_ROWS = """
select
  'agency' as kind,
  a.id as ref,
  a.state_code,
  a.name as label,
  a.status,
  a.spellings,
  a.place_name,
  a.county_name
from agencies a
union all
select
  'county',
  c.fips,
  c.state_code,
  c.name || ', ' || c.state_name,
  case when c.agencies_active > 0 then 'active' else 'none' end,
  null,
  null,
  c.name
from counties c
union all
select
  'state',
  s.code,
  s.code,
  s.name,
  null,
  null,
  null,
  null
from states s
union all
select
  'place',
  p.id,
  p.state_code,
  p.name || ', ' || p.state_name,
  null,
  null,
  null,
  null
from places p
"""

KIND_ORDER = {"state": 0, "county": 1, "place": 2, "agency": 3}
# A trailing "co" is "county" ("harris co"), never Colorado; type "colorado" for the state.
NOT_A_STATE = {"co"}


def _text(*parts):
    return " ".join(w for part in parts if part for w in places.words(part))


def read_abbreviations(path):
    """data/abbreviations.csv: agency abbreviations people type ("FHP", "NYPD"), each with the words it
    stands for, the state it implies (blank: any state) and where it comes from."""
    numbered = data_rows(path)
    rows = [r for _, r in numbered]
    for n, r in numbered:
        if not (r.get("abbreviation") or "").strip() or not (r.get("means") or "").strip():
            raise AbbreviationsError(f"{Path(path).name} line {n}: an abbreviation and what it means are both needed")
    return [{"abbreviation": r["abbreviation"].strip().lower(), "state_code": (r.get("state") or "").strip() or None,
             "means": r["means"].strip(), "source": (r.get("source") or "").strip()} for r in rows]


class AbbreviationsError(ValueError):
    """data/abbreviations.csv cannot be read."""


def write_index(db_path, abbreviations=()):
    """search_entries, one row per agency, county, place and state with its words as places.words() spells
    them; search_entries_fts, their FTS5 trigram index; search_abbreviations."""
    db = sqlite_utils.Database(db_path)
    db["search_abbreviations"].insert_all(abbreviations, pk="abbreviation",
                                          foreign_keys=[("state_code", "states", "code")])
    rows = []
    for kind, ref, state, label, status, spellings, place, county in db.execute(INDEX_ROWS):
        names = [label] + (json.loads(spellings) if spellings else [])
        rows.append({"id": len(rows) + 1, "kind": kind, "ref": ref, "state_code": state, "label": label,
                     "status": status, "words": _text(*dict.fromkeys(names), place, county)})
    db["search_entries"].insert_all(rows, pk="id")
    # an external-content FTS5 table over words; its rowid is search_entries.id (the integer primary key)
    db["search_entries"].enable_fts(["words"], tokenize="trigram", create_triggers=False)
    db.conn.commit()
    return len(rows)


def parse(query, abbreviations=None):
    """A typed query as {'terms': words to find, 'state': postal code it ends with, 'state_only': postal code it is,
    'expanded': the abbreviations read, 'county': whether it ends with "county", "co" or "parish"}."""
    raw = places.words(query or "", aliases=False)
    expanded, implied = [], None
    if abbreviations:
        out = []
        for w in raw:
            a = abbreviations.get(w)
            if a:
                out += places.words(a["means"], aliases=False)
                expanded.append(a)
                implied = implied or a["state_code"]
            else:
                out.append(w)
        raw = out
    state = state_only = None
    if raw and places.state_postal(" ".join(raw), fuzzy=False) and " ".join(raw) not in NOT_A_STATE:
        state_only = places.state_postal(" ".join(raw), fuzzy=False)
    else:
        for n in (3, 2, 1):
            tail = raw[-n:]
            if len(raw) > n and " ".join(tail) not in NOT_A_STATE:
                found = places.state_postal(" ".join(tail), fuzzy=False)
                if found:
                    state, raw = found, raw[:-n]
                    break
    terms = list(dict.fromkeys(places.words(" ".join(raw))))
    implied_state = None
    if implied and not state and not state_only:
        state = implied_state = implied
    county = bool(raw) and raw[-1] in ("county", "co", "parish", "cnty")
    return {"terms": terms, "state": state, "state_only": state_only, "expanded": expanded, "county": county,
            "implied_state": implied_state}


def expression(terms):
    """Every term as a substring (FTS5 trigram needs three letters; shorter terms are left to ranking)."""
    usable = [t for t in terms if len(t) >= 3]
    return " AND ".join(f'"{t}"' for t in usable) or None


def forgiving_expression(terms):
    """Any three-letter piece of the terms: FTS5 ranks entries sharing more pieces first."""
    pieces = {t[i:i + 3] for t in terms if len(t) >= 3 for i in range(len(t) - 2)}
    return " OR ".join(f'"{p}"' for p in sorted(pieces)) or None


def closest(hits, share=0.75):
    """Of a forgiving search's hits (bm25, lower is better), those scoring within share of the best."""
    if not hits:
        return hits
    best = min(h["score"] for h in hits)
    return [h for h in hits if h["score"] <= best * share]


def rank(hits, terms):
    """Order hits: whole label equal to the query, whole words, word starts, active agencies, then bm25."""
    phrase = " ".join(terms)

    def key(hit):
        words = places.words(hit["label"])
        label = " ".join(words)
        whole = sum(t in words for t in terms)
        starts = sum(any(w.startswith(t) for w in words) for t in terms)
        exact = label == phrase or label.split(" ")[:len(terms)] == terms
        return (KIND_ORDER[hit["kind"]], -int(exact), -whole, -starts, hit["status"] != "active", hit["score"])

    return sorted(hits, key=key)


def county_base(words):
    """ "harris county" -> "harris": the name without its kind word."""
    return " ".join(w for w in words if w not in ("county", "parish", "borough", "city", "census", "area", "municipality"))


def named_counties(counties, terms):
    """The counties whose name is the query's name ("harris co" -> every Harris County)."""
    wanted = county_base(terms)
    return [c for c in counties if wanted and county_base(places.words(c["name"])) == wanted]


def verdict(named):
    """One plain sentence about the named counties: which have an agency with an agreement and which do not."""
    if not named:
        return None
    def where(c):
        return f"{c['name']}, {c['state_name']}"
    without = [where(c) for c in named if not c["agencies_active"]]
    with_ = [where(c) for c in named if c["agencies_active"]]
    if without and with_:
        return ngettext("No agency in %(without)s has an agreement; %(with)s does.",
                        "No agency in %(without)s has an agreement; %(with)s do.",
                        len(with_)) % {"without": join_words(without, "or"), "with": join_words(with_, "and")}
    if without:
        return _("No agency in %(without)s has an agreement.") % {"without": join_words(without, "or")}
    return None
