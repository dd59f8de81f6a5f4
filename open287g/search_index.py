"""Reads agencies, counties, places and states from the built database and writes search_entries with its SQLite FTS5 trigram index, and search_abbreviations (the build's side of search.py)."""
import functools
import json
from pathlib import Path

import sqlite_utils

from .fixes import data_rows
from .load import insert
from .words import words

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

def _text(*parts):
    return " ".join(spelt for spelt in map(_spelt, filter(None, parts)) if spelt)


@functools.lru_cache(maxsize=None)
def _spelt(part):
    """A name's words as one string; a county's name recurs on every place in it, so each is spelt once."""
    return " ".join(words(part))


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
    """search_entries, one row per agency, county, place and state with its words as words() spells
    them; search_entries_fts, their FTS5 trigram index; search_abbreviations."""
    db = sqlite_utils.Database(db_path)
    db["search_abbreviations"].insert_all(abbreviations, pk="abbreviation",
                                          foreign_keys=[("state_code", "states", "code")])
    rows = []
    for kind, ref, state, label, status, spellings, place, county in db.execute(INDEX_ROWS):
        names = [label] + (json.loads(spellings) if spellings else [])
        rows.append({"id": len(rows) + 1, "kind": kind, "ref": ref, "state_code": state, "label": label,
                     "status": status, "words": _text(*dict.fromkeys(names), place, county)})
    insert(db, "search_entries", rows, pk="id")
    # an external-content FTS5 table over words; its rowid is search_entries.id (the integer primary key)
    db["search_entries"].enable_fts(["words"], tokenize="trigram", create_triggers=False)
    db.conn.commit()
    return len(rows)
