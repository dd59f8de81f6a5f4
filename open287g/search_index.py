"""Reads agencies, counties, places and states from the built database and writes search_entries with its SQLite FTS5 trigram index, and search_abbreviations (the build's side of search.py)."""
import functools
import json

from . import basedb
from .cachekey import Answers, Kept, cache_key, with_imports
from .fixes import data_rows
from .load import open_new
from .words import words

# The entries in id order: agencies, counties and states (from the build, numbered from 1), then places (the
# gazetteer's, fixed by its base key, numbered from PLACE_IDS). The places' numbers never depend on how many entries
# the build has, so their rows and their part of the index are copied from a base file while the build's few
# thousand entries are added to them; hits come back in id order, agencies before places, as one index would give them.
PLACE_IDS = 1_000_000
OTHER_ROWS = """
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
"""
PLACE_ROWS = """
select
  'place' as kind,
  p.id as ref,
  p.state_code,
  p.name || ', ' || p.state_name as label,
  null as status,
  null as spellings,
  null as place_name,
  null as county_name
from places p
"""
FTS = "search_entries_fts"


def _text(*parts):
    return " ".join(spelt for spelt in map(_spelt, filter(None, parts)) if spelt)


@functools.lru_cache(maxsize=None)
def _spelt(part):
    """A name's words as one string; a county's name recurs on every place in it, so each is spelt once."""
    return " ".join(words(part))


def read_abbreviations(path):
    """data/abbreviations.csv: agency abbreviations people type ("FHP", "NYPD"), each with the words it
    stands for, the state it implies (blank: any state) and where it comes from."""
    rows = [r for _, r in data_rows(path, AbbreviationsError, ("abbreviation", "means"))]
    return [{"abbreviation": r["abbreviation"].strip().lower(), "state_code": (r.get("state") or "").strip() or None,
             "means": r["means"].strip(), "source": (r.get("source") or "").strip()} for r in rows]


class AbbreviationsError(ValueError):
    """data/abbreviations.csv cannot be read."""


# search_entries' columns and types, as load.insert would infer them from the rows
COLUMNS = {"id": int, "kind": str, "ref": str, "state_code": str, "label": str, "status": str, "words": str}


def _is_text(words):
    return type(words) is str


def _kept_words(cache_dir, family="search-words"):
    """Where each entry's words are kept between builds, {(label, spellings, place, county): words}: under a key of
    this module and words.py. Each value is checked where it is read. The places' words are kept apart
    ("search-place-words"): only a build that writes the places' entries anew reads them."""
    return Answers(Kept(cache_dir, family, cache_key(*with_imports(__name__))) if cache_dir else None)


def _base(cache_dir, places_key):
    """The base file of the places' entries and their part of the index: keyed by this code and the gazetteer's key
    (places_key: the places rows are fixed by it); None without both."""
    if not cache_dir or not places_key:
        return None
    return basedb.Base(cache_dir, "search", basedb.key(cache_key(*with_imports(__name__), packages=basedb.PACKAGES), extra=[places_key]))


def _entries(db, rows, first_id, answers):
    """Insert the entries rows gives into search_entries, numbered from first_id in the order given, each with its words:
    the answer kept in answers (cachekey.Answers, saved after), else spelt (a Python function SQLite calls per row)."""
    def spelt(label, spellings, place, county):
        def text():
            names = [label] + (json.loads(spellings) if spellings else [])
            return _text(*dict.fromkeys(names), place, county)
        return answers.get((label, spellings, place, county), text, _is_text)

    db.conn.create_function("spelt", 4, spelt, deterministic=True)
    db.conn.execute(f"insert into search_entries ({', '.join(COLUMNS)}) select {first_id - 1} + row_number() over (), kind, ref, "
                    f"state_code, label, status, spelt(label, spellings, place_name, county_name) from ({rows})")
    answers.save()


def start_part(cache_dir, places_key):
    """(base file, tables, FTS tables) of what a new database can start with (basedb.Start): the places' entries."""
    return _base(cache_dir, places_key), ("search_entries",), (FTS,)


def write_places(db_path, cache_dir=None, places_key=None):
    """search_entries with the places' entries and search_entries_fts with their index, copied from the base file of
    places_key (gazetteer.write's) when there is one, else written and kept in a new base file."""
    base = _base(cache_dir, places_key)
    # The places' entries and their index in one transaction: a base that fails half way leaves neither behind.
    if base and base.values() is not None and base.copy(db_path, ["search_entries"], fts=(FTS,)):
        return
    db = open_new(db_path)
    db["search_entries"].create(COLUMNS, pk="id")
    _entries(db, PLACE_ROWS, PLACE_IDS, _kept_words(cache_dir, "search-place-words"))
    # an external-content FTS5 table over words; its rowid is search_entries.id (the integer primary key)
    db["search_entries"].enable_fts(["words"], tokenize="trigram", create_triggers=False)
    db.conn.commit()
    db.conn.close()
    if base:
        base.save(db_path, ["search_entries"], fts=(FTS,))


def write_index(db_path, abbreviations=(), cache_dir=None, places_key=None, fixed=False):
    """search_entries, one row per agency, county, place and state with its words as words() spells
    them; search_entries_fts, their FTS5 trigram index; search_abbreviations. cache_dir keeps the entries'
    words: the ~40,000 places and counties are the same from build to build; with places_key (gazetteer.write's)
    the places' entries and their part of the index are copied from a base file there, and the agencies, counties
    and states added to both; fixed: those are in the database already (basedb.Start). Returns a key of every entry,
    which fixes every search's answer (None without both)."""
    db = open_new(db_path)
    db["search_abbreviations"].insert_all(abbreviations, pk="abbreviation",
                                          foreign_keys=[("state_code", "states", "code")])
    db.conn.commit()
    base = _base(cache_dir, places_key)
    if not fixed:
        write_places(db_path, cache_dir, places_key)
    # What the build's own entries are made of: with the places' base, it fixes the whole index, so a build whose
    # agencies, counties and states read as the last one's copies their entries and the index made then.
    search_key = basedb.key(base.key, extra=[db.conn.execute(OTHER_ROWS).fetchall()]) if base else None
    made = basedb.Base(cache_dir, "entries", search_key) if search_key else None
    # The build's own rows: of the entries, and of the index's sizes per entry (the towns' are the start's already).
    own = {"search_entries": f"id < {PLACE_IDS}", f"{FTS}_docsize": f"id < {PLACE_IDS}"}
    if made and made.values() is not None and made.copy(db_path, (), fts=(FTS,), add_to=("search_entries",), where=own):
        return search_key
    # The build's own entries, then their index rows: the same steps whether the places came from the base or not,
    # so a rebuild's index is the cold build's.
    _entries(db, OTHER_ROWS, 1, _kept_words(cache_dir))
    db.conn.execute(f"insert into {FTS} (rowid, words) select id, words from search_entries where id < ? order by id", (PLACE_IDS,))
    db.conn.commit()
    if made:
        made.save(db_path, ["search_entries"], fts=(FTS,), where=own, durable=False)
    return search_key
