"""Reads data/ (census, outlines, the MOA extraction) and the geography packages; writes the base files of the tables they alone fix and the start file a new database begins as (basedb), in a worker process while the build resolves."""
import os
import sqlite3
from pathlib import Path

from . import basedb, counties, documents, gazetteer, search_index
from .cachekey import prune
from .load import open_new


def parts(data_dir, cache_dir, census, census_names, with_documents):
    """([(Base, tables, FTS tables)] of the start file, the places' key): the outlines, the places (written with the
    census's counties, census_names = counties.names(census, ()): gazetteer.add_counties gives them the counties the
    build adds), the places' search entries and the documents'. The key is gazetteer.write's for the census's counties
    (None without a cache)."""
    places_part = gazetteer.start_part(census_names, cache_dir)
    places_key = places_part[0].key if places_part[0] else None
    return [counties.start_part(census), places_part, search_index.start_part(cache_dir, places_key),
            *([documents.start_part(data_dir, cache_dir)] if with_documents else [])], places_key


def make(data_dir, cache_dir, postal_by_fips, with_documents):
    """Every base file the start file needs that is missing, written in a scratch database in cache_dir, then the
    start file. What it makes is what the load stage would (the same writers, from the same files), so a build that
    finds them copies them; one that does not (this failed, or was never started) writes them itself."""
    census = counties.census(data_dir, postal_by_fips, cache_dir)
    census_names = counties.names(census, ())
    start = basedb.Start(cache_dir, parts(data_dir, cache_dir, census, census_names, with_documents)[0])
    if start.on_file():
        return
    prune(cache_dir, ".bases-*.sqlite")  # left by a process killed while making them
    scratch = Path(cache_dir) / f".bases-{os.getpid()}.sqlite"
    try:
        conn = sqlite3.connect(scratch)
        # The tables the base tables' foreign keys name (sqlite-utils checks they exist); the bases leave them out.
        conn.executescript("create table states (code text primary key); create table counties (fips text primary key);")
        conn.close()
        counties.write_shapes(scratch, data_dir, census)
        places_key = gazetteer.write(scratch, cache_dir, census_names)
        search_index.write_places(scratch, cache_dir, places_key)
        if with_documents:
            documents.write_base(scratch, data_dir, cache_dir)
        start.save()
    finally:
        scratch.unlink(missing_ok=True)


def _quietly(*args):
    """make() in the worker process: whatever goes wrong is left for the load stage to meet and name in one line
    (a missing census file, say), not printed here as a traceback."""
    try:
        make(*args)
    except BaseException:  # noqa: BLE001 (an interrupt reaches this process too: it ends quietly)
        pass


class Making:
    """make() in a process of its own (forked: it starts at once, with the modules loaded) when the cache holds no
    start file at all, as before a first build; wait() before the load stage looks for it. A rebuild after a change
    to what a base depends on finds the old start file and writes the new bases while loading, as it always has.
    A failure in the process is silent: the load stage then writes what is missing itself, and reports any error in
    the files as it always has."""

    def __init__(self, data_dir, cache_dir, postal_by_fips, with_documents):
        self.process = None
        if cache_dir is None or basedb.Start.any_on_file(cache_dir):
            return
        import multiprocessing  # only a first build starts the process

        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        self.process = multiprocessing.get_context("fork").Process(target=_quietly, args=(data_dir, cache_dir, postal_by_fips, with_documents), daemon=True)
        self.process.start()

    def wait(self):
        if self.process is not None:
            self.process.join()
            self.process = None
