"""Reads and writes build/cache/base-<family>-<key>.sqlite: tables that depend only on data/ files and code (outlines, places, MOA pages), copied into each new database instead of made again; and build/cache/start-<key>-<crc>.sqlite, all of them in one file a new database starts as."""
import hashlib
import os
import pickle
import sqlite3
import zlib
from pathlib import Path

from .cachekey import Kept, cache_key, prune, with_imports
from .files import atomic_write, file_sha256, swap_in, write_behind

VALUES = "base_values"  # name -> pickled value a writer keeps beside its tables; never copied out
PACKAGES = ("sqlite-utils",)  # writes the tables' schema text


def key(code_key, files=(), extra=()):
    """A 16-hex-digit key from the code's key (cachekey.cache_key), the bytes of each input file and any other inputs
    (compared by repr); None when an input file is missing, so the writer computes and reports it as it always has."""
    h = hashlib.sha256(f"{code_key}\0sqlite {sqlite3.sqlite_version}".encode())
    for path in files:
        try:
            h.update(f"\0{Path(path).name}\0{file_sha256(path)}".encode())
        except OSError:
            return None
    for value in extra:
        h.update(f"\0{value!r}".encode())
    return h.hexdigest()[:16]


def kept_value(cache_dir, family, modules, compute, kind=dict, extra=(), files=(), packages=()):
    """compute()'s value, kept between builds in the cache as <family>-<key>.pickle (cachekey.Kept) under a key of all it
    is made of: the modules' code and what of this package they import, the packages' versions, the files' bytes and
    the other inputs (extra, compared by repr). So a value kept (of type kind) is the one compute() would give, and is
    returned as it is; without a cache, or with a file missing, it is computed."""
    found = key(cache_key(*with_imports(*modules), packages=packages), files, extra) if cache_dir else None
    entry = Kept(cache_dir, family, found) if found else None
    value = entry.load(lambda value: isinstance(value, kind)) if entry else None
    if value is None:
        value = compute()
        if entry:
            entry.save(value)
    return value


class Base:
    """One base file: values() before using it, copy() to fill the new database, save() after computing."""

    def __init__(self, cache_dir, family, key):
        self.family, self.key = family, key
        self.path = Path(cache_dir) / f"base-{family}-{key}.sqlite"

    def values(self):
        """The values saved with the tables, or None when the file is missing, cut short or not this key's."""
        try:
            size = self.path.stat().st_size
            conn = sqlite3.connect(self.path.resolve().as_uri() + "?mode=ro", uri=True)
        except (OSError, sqlite3.Error):
            return None
        try:
            # A file cut short is caught here; sqlite errors while copying are caught by copy().
            if size != conn.execute("pragma page_size").fetchone()[0] * conn.execute("pragma page_count").fetchone()[0]:
                return None
            found = {name: pickle.loads(value) for name, value in conn.execute(f"select name, value from {VALUES}")}
        except (sqlite3.Error, pickle.UnpicklingError, EOFError, AttributeError, ValueError, TypeError, ImportError):
            return None
        finally:
            conn.close()
        return found if found.get("key") == self.key else None

    def copy(self, db_path, tables, indexes=True, fts=(), add_to=(), where=None):
        """Create the tables (and, with indexes, their indexes) in db_path as the base has them and copy their rows
        (same rowids), then the FTS5 tables fts (made by sqlite-utils' enable_fts on the same rows, rowid for rowid:
        their shadow tables are copied, not the text indexed again), in one transaction; True when done, False with
        nothing changed when the base cannot be read. add_to: tables db_path has already, the base's rows added;
        where: {shadow table: an SQL condition}, the rows of it replaced (as save kept them), the others left."""
        return self._into(db_path, lambda conn: ([_copy_table(conn, "base", t, indexes) for t in tables],
                                                 [_copy_table(conn, "base", t, indexes=False, create=False) for t in add_to],
                                                 [_copy_fts(conn, "base", name, where) for name in fts]))

    def _into(self, db_path, work):
        # The caller has committed its own connection; this one writes the file and closes, so no connection keeps
        # a stale view of an FTS index.
        conn = sqlite3.connect(db_path, isolation_level=None, uri=True)
        try:
            conn.execute("pragma synchronous = off")  # the new file is renamed into place only once complete
            conn.execute("pragma journal_mode = memory")  # enough to roll a failed copy back
            conn.execute("attach database ? as base", (self.path.resolve().as_uri() + "?mode=ro",))  # never creates it
            conn.execute("begin")
            try:
                work(conn)
                conn.execute("commit")
            except sqlite3.Error:
                conn.execute("rollback")
                return False
            return True
        except sqlite3.Error:
            return False
        finally:
            conn.close()

    def save(self, db_path, tables, fts=(), values=None, where=None, durable=True):
        """Copy the tables (with their indexes) and FTS tables from db_path into a new base file, with values;
        other keys' files of this family are removed (no code can read them again). where: {table or FTS shadow table:
        an SQL condition} on the rows of it kept; durable=False: not synced, for a base a build may make again at any time."""
        mem = sqlite3.connect(":memory:", isolation_level=None)
        try:
            mem.execute("attach database ? as source", (str(db_path),))
            mem.execute("begin")
            for table in tables:
                _copy_table(mem, "source", table, indexes=True, where=(where or {}).get(table))
            for name in fts:
                _copy_fts(mem, "source", name, where)
            mem.execute(f"create table {VALUES} (name text primary key, value blob)")
            mem.executemany(f"insert into {VALUES} values (?, ?)", [(name, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
                                                                   for name, value in sorted({**(values or {}), "key": self.key}.items())])
            mem.execute("commit")
            mem.execute("detach database source")
            data = mem.serialize()
        finally:
            mem.close()
        atomic_write(self.path, data, durable=durable)
        prune(self.path.parent, f"base-{self.family}-*.sqlite", self.path.name)


class Start:
    """build/cache/start-<key>-<crc>.sqlite: the tables of several base files together, as a new database begins when
    every one of those bases has the key it had when the file was made: one file copy, where copying each base's
    tables (their rows and index entries one by one) took a sixth of a rebuild's load stage. The
    file's CRC-32 is in its name and checked as it is copied: a damaged file is removed and reads as a missing one.

    parts: [(Base, tables, fts)], each base with the tables and FTS tables the build copies from it. A part without a
    base (no cache, a missing input file) means no start file: the writers work as they do without one."""

    def __init__(self, cache_dir, parts):
        self.parts = parts
        self.dir = self.prefix = None
        if cache_dir and parts and all(base for base, _, _ in parts):
            found = hashlib.sha256(repr([(base.family, base.key, tables, fts) for base, tables, fts in parts]).encode())
            self.dir, self.prefix = Path(cache_dir), f"start-{found.hexdigest()[:16]}-"

    def _on_file(self):
        try:
            return sorted(self.dir / name for name in os.listdir(self.dir) if name.startswith(self.prefix) and name.endswith(".sqlite"))
        except OSError:
            return []

    def on_file(self):
        """Is there a start file of these parts' keys?"""
        return self.prefix is not None and bool(self._on_file())

    @staticmethod
    def any_on_file(cache_dir):
        """Is there a start file of any keys in cache_dir?"""
        return any(Path(cache_dir).glob("start-*.sqlite"))

    def copy(self, db_path):
        """db_path (not there yet) made a copy of the start file; False, with nothing written, when there is none or it
        is damaged (then removed)."""
        if self.prefix is None:
            return False
        for path in self._on_file():
            crc = 0
            try:
                with open(path, "rb") as source, open(db_path, "wb") as target:
                    while chunk := source.read(1 << 20):
                        crc = zlib.crc32(chunk, crc)
                        target.write(chunk)
            except OSError:  # unreadable, or the copy not written: nothing is copied, and the file is left
                Path(db_path).unlink(missing_ok=True)
                return False
            if path.name == f"{self.prefix}{crc:08x}.sqlite":
                write_behind(db_path)
                return True
            Path(db_path).unlink(missing_ok=True)
            path.unlink(missing_ok=True)  # damaged: the next build that makes one replaces it
        return False

    def save(self):
        """Make the start file from the base files, once each is on file (a writer saves its base the first time);
        other start files are removed. Nothing is made when a base is missing or unreadable."""
        if self.prefix is None or self._on_file() or not all(base.path.exists() for base, _, _ in self.parts):
            return
        part = self.dir / f".{self.prefix}{os.getpid()}.part"  # renamed into place once whole
        part.unlink(missing_ok=True)
        conn = sqlite3.connect(part, isolation_level=None)
        try:
            conn.execute("pragma journal_mode = off")  # a file cut short is never renamed into place
            conn.execute("pragma synchronous = off")
            for i, (base, _, _) in enumerate(self.parts):
                conn.execute(f"attach database ? as base{i}", (base.path.resolve().as_uri() + "?mode=ro",))
            conn.execute("begin")
            for i, (_, tables, fts) in enumerate(self.parts):
                for table in tables:
                    _copy_table(conn, f"base{i}", table, indexes=True)
                for name in fts:
                    _copy_fts(conn, f"base{i}", name)
            conn.execute("commit")
            conn.close()
            path = self.dir / f"{self.prefix}{zlib.crc32(part.read_bytes()):08x}.sqlite"
            swap_in(part, path, durable=False)  # copy() checks the file against its name
        except (sqlite3.Error, OSError):
            conn.close()
            part.unlink(missing_ok=True)
            return
        prune(self.dir, "start-*.sqlite", path.name)
        prune(self.dir, ".start-*.part")  # left by a build killed while making one


def _schema(conn, db, type_, name):
    row = conn.execute(f"select sql from {db}.sqlite_master where type = ? and name = ?", (type_, name)).fetchone()
    if not row or not row[0]:
        raise sqlite3.DatabaseError(f"{db}: no {type_} {name}")
    return row[0]


def _copy_table(conn, source, table, indexes, where=None, create=True):
    """Into main: the table as `source` declares it (create=False: main has it already), its indexes in the order made,
    its rows (same rowids), or those the SQL condition where holds for."""
    if create:
        conn.execute(_schema(conn, source, "table", table))  # unqualified names are created in main
    if indexes:
        for (sql,) in conn.execute(f"select sql from {source}.sqlite_master where type = 'index' and tbl_name = ? "
                                   "and sql is not null order by rowid", (table,)).fetchall():
            conn.execute(sql)
    # Same schema and indexes on both sides: SQLite copies the records as they are (its transfer optimisation).
    conn.execute(f"insert into main.[{table}] select * from {source}.[{table}]" + (f" where {where}" if where else ""))


def _copy_fts(conn, source, name, where=None):
    """Into main: the FTS5 table as `source` declares it (unless main has it: a start file's), its shadow tables'
    rows replaced by source's, or those where ({shadow table: an SQL condition}) names for a shadow table."""
    if not conn.execute("select 1 from main.sqlite_master where type = 'table' and name = ?", (name,)).fetchone():
        conn.execute(_schema(conn, source, "table", name))  # CREATE VIRTUAL TABLE: makes empty shadow tables
    query = "select name from {}.sqlite_master where type = 'table' and name in (?, ?, ?, ?, ?) order by rowid"
    candidates = tuple(f"{name}_{s}" for s in ("data", "idx", "content", "docsize", "config"))
    shadows = [n for (n,) in conn.execute(query.format("main"), candidates)]
    kept = {n for (n,) in conn.execute(query.format(source), candidates)}
    if not shadows or not kept.issuperset(shadows):  # an index missing a part would answer nothing, or wrongly
        raise sqlite3.DatabaseError(f"{source}: shadow tables of {name} missing: {', '.join(sorted(set(shadows) - kept)) or 'all'}")
    for shadow in shadows:
        rows = f" where {(where or {})[shadow]}" if shadow in (where or {}) else ""
        conn.execute(f"delete from main.[{shadow}]{rows}")
        conn.execute(f"insert into main.[{shadow}] select * from {source}.[{shadow}]{rows}")
