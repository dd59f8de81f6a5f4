"""Runs the build: data/ -> read (cached, in parallel) -> date -> resolve -> load -> finish -> build/287g.db, swapped in atomically."""
import csv
import functools
import hashlib
import json
import operator
import os
import pickle
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import ROOT, basedb, bases, config, counties, dating, documents, finish, fixes, gazetteer, history, identity, load, places, reach, resolve, search_index
from .agencies import LinksError, build_agencies, load_links
from .lineage import date_flags, load_confirmations, walk_participating
from .cachekey import KEY_GLOB, Kept, cache_key, prune_families, with_imports
from .files import atomic_write, file_sha256, paused_gc, read_cache, swap_in, unpickle, write_behind
from .read import SNAPSHOT_PACKAGES, Snapshot, _extract_job, extract_cache_file, extract_cached, interpret, remember
from .records import Publication
from .seeds import link_meetings, read_seeds

# The build's exit codes (README.md, `open287g build --help`): a "not built" never reads as "built".
BUILT, BUILT_WITH_REFUSALS, NOT_BUILT = 0, 1, 2

LIST_FOLDERS = {"participating": "participating", "pending": "pending", "page-tables": "page_table"}


def _log(message):
    print(message, file=sys.stderr, flush=True)


def inventory(data_dir):
    """Every workbook under data/ice with its manifest provenance; files missing from the manifest are noted."""
    ice = Path(data_dir) / "ice"
    manifest = {}
    manifest_path = ice / "MANIFEST.csv"
    if manifest_path.exists():
        with open(manifest_path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                manifest[row["file"]] = row
    sources = []
    for folder, kind in LIST_FOLDERS.items():
        for path in sorted((ice / folder).glob("*.xlsx"), key=lambda path: path.name):  # one folder: Path's order, by name in C
            rel = f"{folder}/{path.name}"
            m = manifest.get(rel, {})
            sources.append(Publication(
                path=path, file=rel, file_name=path.name, original_name=m.get("original_name") or path.name, folder=folder,
                source_kind=kind, bytes=path.stat().st_size, capture_utc=m.get("capture_utc") or None,
                fetched_utc=m.get("fetched_utc") or None, archived_by=m.get("archived_by") or None,
                manifest_sha256=m.get("sha256") or None,
                manifest_rows=int(m["data_rows"]) if m.get("data_rows", "").isdigit() else None,
                anomalies=() if m else (("not_in_manifest", None, "file is not listed in MANIFEST.csv; provenance unknown"),),
            ))
    return sources


# A file modified this close to its hashing is hashed again next time: a rewrite within the same tick of the
# file system's clock would leave size and mtime as they were (git's "racy" entries).
RACY_NS = 2_000_000_000


def _identified(sources, known=None):
    """Each source with its sha256 and id: the hash's first 12 digits; the same bytes under another name are a publication of their own.

    known: {(device, inode, size, mtime_ns): sha256} from the last build (read.Snapshot); a file with the same
    stat is not hashed again. Returns (publications, that mapping for these files).
    """
    ids, out, hashes = set(), [], {}
    known = known or {}
    now = time.time_ns()
    for p in sources:
        st = os.stat(p.path)
        stamp = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        sha256 = known.get(stamp) or file_sha256(p.path)
        if now - st.st_mtime_ns > RACY_NS:
            hashes[stamp] = sha256
        pub_id = sha256[:12]
        if pub_id in ids:
            pub_id = hashlib.sha256(f"{sha256}\0{p.file}".encode()).hexdigest()[:12]
        ids.add(pub_id)
        found = (("sha256_mismatch", None, f"bytes differ from MANIFEST.csv (manifest {p.manifest_sha256[:12]}…)"),) if p.manifest_sha256 and p.manifest_sha256 != sha256 else ()
        out.append(p.updated(sha256=sha256, id=pub_id).noting(*found))
    return out, hashes


def _interpreted(result):
    """extract_cached's answer -> interpret()'s result, or the refusal as it is."""
    return result if "error" in result else interpret(result["ok"])


def _absorbed(p, r):
    """A publication with what its workbook holds (interpret()'s result), or the one-line reason it cannot be read."""
    if "error" in r:
        return p.updated(error=r["error"]).noting(("rejected", None, r["error"]))
    pub = p.updated(**{**r, "anomalies": p.anomalies + r["anomalies"]})
    # Rule manifest_rows_differ: the rows read are what is built; the fetcher's count (read.read_layout
    # when fetched) differing means the file or the reader changed since: recorded, not a failed build.
    if pub.manifest_rows is not None and pub.manifest_rows != pub.row_count:
        pub = pub.noting(("manifest_rows_differ", None, f"{pub.row_count} data rows read; MANIFEST.csv records {pub.manifest_rows}"))
    return pub


def read_all(sources, cache_dir, jobs, progress):
    """Hash every file and read it through the caches; uncached files go to worker processes -> (publications, files parsed).

    The snapshot (read.Snapshot) answers for every file read by the last build, in one load; a file it lacks is
    interpreted from its extract cache, or parsed. The main process interprets rows as results arrive, and one
    worker builds the geography index and the gazetteer's towns when they are not cached, so a cold build keeps
    both cores busy.
    """
    cache_dir = Path(cache_dir)
    snapshot = Snapshot(cache_dir)
    pubs, hashes = _identified(sources, snapshot.hashes)
    kept = snapshot.results
    lacking = [p for p in pubs if p.sha256 not in kept]
    cached = {p.id for p in lacking if extract_cache_file(cache_dir, p.sha256).exists()}
    todo = [p for p in lacking if p.id not in cached]
    places_key = _places_key()
    places.INDEX_CACHE = str(cache_dir / f"places-index-{places_key}.pickle")
    prune_families(cache_dir, [(f"{'[0-9a-f]' * 64}.*.pickle", extract_cache_file(cache_dir, "*").name), (f"read-{KEY_GLOB}.pickle", snapshot.path.name),
                               (f"read-{KEY_GLOB}-new.pickle", snapshot.delta_path.name),  # the snapshot's delta: kept with it
                               ("places-index-*.pickle", Path(places.INDEX_CACHE).name), ("places-*.json", None),  # places' answers as JSON, before PlaceCache kept them as Answers
                               ("towns-*.pickle", gazetteer.towns_file(cache_dir).name),
                               ("gazetteer-*.pickle", None),  # places rows as pickles, before the gazetteer's base file
                               ("reach-counties-*.pickle", None)])  # reach's county answers, kept by PlaceCache since
    if lacking:
        snapshot.seed()
        _remember_last(pubs, lacking, kept, cache_dir)
    workers = jobs or os.cpu_count() or 1
    bar = _bar(len(todo), progress)
    done, good = {}, {}

    def absorb(p, r):
        done[p.id] = _absorbed(p, r)
        if "error" not in r:
            good[p.sha256] = r

    if len(todo) > 4 and workers > 1:
        # Imported here: a rebuild that parses a file or two never starts a pool (13 ms of imports).
        from concurrent.futures import ProcessPoolExecutor

        cache_dir.mkdir(parents=True, exist_ok=True)
        with ProcessPoolExecutor(workers) as pool:
            if not os.path.exists(places.INDEX_CACHE) or not gazetteer.towns_file(cache_dir).exists():
                pool.submit(_warm_geography, places.INDEX_CACHE, cache_dir)
            results = pool.map(_extract_job, [(str(p.path), p.sha256, cache_dir) for p in todo], chunksize=4)
            for p in pubs:
                if p.sha256 in kept:
                    absorb(p, kept[p.sha256])
                elif p.id in cached:
                    absorb(p, _interpreted(extract_cached(p.path, p.sha256, cache_dir)))
            for p, result in zip(todo, results):
                absorb(p, _interpreted(unpickle(result)))
                bar.update(1)
    else:
        for p in pubs:
            r = kept.get(p.sha256)
            absorb(p, r if r is not None else _interpreted(extract_cached(p.path, p.sha256, cache_dir)))
            if r is None and p.id not in cached:
                bar.update(1)
    bar.close()
    # Refused files stay out of the snapshot: their reason is read from the extract cache each time.
    snapshot.save({p.sha256: good[p.sha256] for p in pubs if p.sha256 in good}, hashes)
    return [done[p.id] for p in pubs], len(todo)


def _remember_last(pubs, lacking, kept, cache_dir):
    """Before new files are interpreted: the rows of the last saved kept file of each of their folders (by the time
    Excel saved it, the one most like the next) go into interpret()'s memo (read.remember), from its extraction when
    the extract cache still holds it. Only the time changes: a rebuild after ICE's daily list interprets what is new."""
    folders = {p.folder for p in lacking}
    newest = {}
    for p in pubs:
        if p.folder in folders and p.sha256 in kept:
            when = (str(kept[p.sha256].get("saved_at") or ""), p.file)
            if p.folder not in newest or when > newest[p.folder][0]:
                newest[p.folder] = (when, p)
    for folder in sorted(newest):
        p = newest[folder][1]
        if extract_cache_file(cache_dir, p.sha256).exists():
            extracted = extract_cached(p.path, p.sha256, cache_dir)
            if "ok" in extracted:
                remember(extracted["ok"], kept[p.sha256])


def _warm_geography(index_cache, cache_dir):
    """In a worker while workbooks are read: the geography index, then the gazetteer's towns from it (the load
    stage's longest step in a cold build), each into the cache when missing."""
    places.warm_index(index_cache)
    return gazetteer.warm(cache_dir)


@functools.cache
def _places_key():
    """What the geography index and places' answers depend on: places.py, the modules it uses (words.py) and the packages it reads."""
    return cache_key(*with_imports(places), packages=places.PACKAGES)


class PlaceCache:
    """places.locate() and county_fips() answers kept between builds (cachekey.Answers, under the key of the geography
    code and packages), so a rebuild needs no geography index unless an agency is new."""

    def __init__(self, cache_dir):
        self.kept = Kept(cache_dir, "places", _places_key())
        self.path = self.kept.path
        self.answers = None

    def __enter__(self):
        self.answers = self.kept.answers()
        return self

    def __call__(self, state, agency, level, county):
        return self.answers.get(("locate", state, agency, level, county), lambda: places.locate(state, agency, level, county))

    def county(self, state, county, fuzzy=True):
        """places.county_fips, kept likewise."""
        return self.answers.get(("county", state, county, fuzzy), lambda: places.county_fips(state, county, fuzzy))

    def has_town(self, state, agency):
        """Whether an agency's name names a town of the state (places.locate places it at a town)."""
        return self(state, agency, None, None)["precision"] == "place"

    def states(self):
        return self.answers.get("states", places.states)

    def __exit__(self, *exc):
        if exc[0] is None:
            self.answers.save()


class WordCache:
    """identity.is_boilerplate's answers kept between builds (under the key of identity.py and what it imports): a
    rebuild compares only the words new since with the boilerplate words."""

    def __init__(self, cache_dir):
        self.kept = Kept(cache_dir, "boilerplate", cache_key(*with_imports(identity)))
        self.answers = {}

    def __enter__(self):
        self.answers = self.kept.load() or {}
        identity.remember_boilerplate(self.answers)
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            now = identity.boilerplate_answers()
            if now != self.answers:
                self.kept.save(now)


class Checkpoints:
    """A walk's state before the newest publication, kept in the cache by the key of everything it depends on
    (lineage.walk_keys for the lineage, resolve.span_keys for a list's listings, given rows_key): a build whose
    publications up to there are unchanged resumes from it. One family of files per walk."""

    KEEP = 3  # the newest few, so that a build of an older snapshot of data/ does not evict the current one
    KEY = "[0-9a-f]" * 24  # a step's key (walk_keys, span_keys): "spans-pending-*" would also match a family "spans"

    def __init__(self, cache_dir, rows_key=None, family="lineage"):
        self.dir, self.rows_key, self.family = Path(cache_dir), rows_key, family

    def of(self, family):
        """The checkpoints of another walk, in the same cache and by the same rows_key."""
        return Checkpoints(self.dir, self.rows_key, family)

    def _path(self, key):
        return self.dir / f"{self.family}-{key}.pickle"

    def load(self, keys):
        """(index of the last step saved, state) for the latest step of keys on file, or None. The family's files are
        listed once: a cold build has a thousand step keys and no file for any."""
        try:
            on_file = {name for name in os.listdir(self.dir) if name.startswith(f"{self.family}-")}
        except FileNotFoundError:
            return None
        for i in range(len(keys) - 1, -1, -1):
            path = self._path(keys[i])
            if path.name in on_file:
                state = read_cache(path)
                return None if state is None else (i, state)  # a damaged checkpoint: walk from the start
        return None

    def save(self, key, state):
        atomic_write(self._path(key), pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL), durable=False)  # read_cache: a damaged one is a missing one
        for old in sorted(self.dir.glob(f"{self.family}-{self.KEY}.pickle"), key=_mtime, reverse=True)[self.KEEP:]:
            old.unlink(missing_ok=True)


def rows_key(corrections):
    """What fixes an ICE workbook's rows once its bytes are known: the code that reads and corrects them and the hand
    corrections, and the packages a reading depends on. The caches of what is computed from rows (kept_similarities,
    Checkpoints) are keyed by it."""
    lines = repr(sorted(sorted(c.items()) for c in corrections))
    return cache_key(*with_imports("open287g.read", "open287g.fixes"), packages=SNAPSHOT_PACKAGES, extra=(lines,))


def kept_clean_lists(cache_dir, rows_key):
    """Where the fingerprints of the lists no hand correction touches are kept, under the key of the corrections and
    the code that reads and corrects rows (rows_key): a rebuild checks only the lists new since."""
    return Kept(cache_dir, "clean-lists", rows_key)


def kept_similarities(cache_dir, rows_key):
    """dating.Similarity's answers, kept in the cache by the key of what they depend on: the rows (rows_key) and the
    code that compares them. A build with one new publication then compares only the pairs it is part of."""
    return Kept(cache_dir, "similarity", cache_key(*with_imports("open287g.dating"), extra=(rows_key,))).answers()


def kept_pending_pairs(cache_dir):
    """resolve's answers on pairs of pending printings (is one a misprint of the other?), kept in the cache by the key
    of the code that gives them and of the geography it reads: a rebuild weighs no pair it weighed before."""
    return Kept(cache_dir, "pending-pairs", cache_key(*with_imports("open287g.resolve"), extra=(_places_key(),))).answers()


def _mtime(path):
    """A file's modification time; 0 for one another build has just removed (builds may share a cache)."""
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0


class _NoBar:
    def update(self, n):
        pass

    def close(self):
        pass


def _bar(total, progress):
    if progress is None:
        progress = sys.stderr.isatty() and not os.environ.get("CI")
    if not progress or total == 0:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc="reading workbooks", unit="file", file=sys.stderr)


class NotBuilt(Exception):
    """The build cannot go on; str() is the one-line reason. The old database, if any, stays."""


@dataclass(frozen=True)
class Inputs:
    """inventory: the workbooks under data/ice and the hand-kept files beside them."""
    data_dir: Path
    sources: tuple  # Publication, one per workbook, with its MANIFEST.csv line
    metadata: dict  # metadata.yml and the canned queries, assembled
    corrections: tuple
    areas: tuple
    abbreviations: tuple
    confirmed: frozenset  # sha256 of publications confirmed in data/confirmations.csv
    links: tuple = ()  # data/same_agencies.csv (agencies.Link)


@dataclass(frozen=True)
class Read:
    """read: every publication with its rows, or the reason it cannot be read."""
    publications: tuple
    parsed: int  # workbooks parsed now, not taken from the cache


@dataclass(frozen=True)
class Corrected:
    """correct: the publications with data/corrections.csv applied, and what each line touched."""
    publications: tuple
    report: tuple
    printed: tuple = ()  # (corrected row, row key as printed) for each row whose key a correction moved: fixes.apply_corrections

    @property
    def moved(self):
        """(row key as printed, row key corrected) pairs: the ids the printed keys gave lead to the corrected ones."""
        return fixes.moved_keys(self.printed)


@dataclass(frozen=True)
class Walked:
    """lineage: the agreements, the listings, the pending applications, the list's unreadable spans."""
    publications: tuple  # dated, with what the walk found about each
    lineage: object
    spans: list  # (row key, listing), see resolve.listing_spans
    applications: list
    list_gaps: list


@dataclass(frozen=True)
class Placed:
    """agencies and places: the agencies and where they are, and the listings linked to them."""
    publications: tuple  # with the signing dates to check by hand
    agencies: object  # agencies.Agencies
    listings: list
    states: list


@dataclass(frozen=True)
class Tables:
    """What load and finish write, from the stages before them."""
    publications: tuple  # every publication, rejected ones included
    listings: list
    list_gaps: list
    lineage: object  # lineage.Lineage: agreements, changes, merges
    pending: list  # pending applications
    agencies: object  # agencies.Agencies: rows, aliases, of_agreement, of_application
    latest: object  # the newest participating publication walked, or None
    states: list
    corrections: tuple  # what each line of data/corrections.csv touched


@dataclass(frozen=True)
class Loaded:
    """load: what went into the database besides the tables, for the summary and the exit code."""
    seeds: dict  # seeds.read_seeds: historical, meetings, problems
    documents: dict  # documents.write's counts, or None when documents were left out
    evidence: int  # history_evidence rows


def kept_metadata(cache_dir):
    """config.assemble()'s dict, kept in the cache under the key of what it reads (metadata.yml, canned_queries/*.sql)
    and the code and packages that read it: a rebuild whose site text did not change reads no YAML. Raises
    config.ConfigError as assemble does; a broken file is never kept."""
    key = basedb.key(cache_key(*with_imports(config), packages=("PyYAML",)), config.sources())
    if key is None:
        return config.assemble()  # a file gone: assemble names it
    kept = Kept(cache_dir, "metadata", key)
    found = kept.load()
    if found is None:
        found = config.assemble()
        kept.save(found)
    return found


def gather(data_dir, cache_dir=None):
    """inventory: data/ -> Inputs; NotBuilt when there is nothing to build or a hand-kept file is broken."""
    data_dir = Path(data_dir)
    try:
        metadata = kept_metadata(cache_dir) if cache_dir else config.assemble()  # a broken canned query or metadata.yml stops the build before it starts
        sources = inventory(data_dir)
        if not sources:
            raise NotBuilt(f"{data_dir / 'ice'}: no workbooks found")
        return Inputs(data_dir, tuple(sources), metadata,
                      tuple(fixes.load_corrections(data_dir / "corrections.csv")),
                      tuple(reach.load_areas(data_dir / "agency_areas.csv")),
                      tuple(search_index.read_abbreviations(data_dir / "abbreviations.csv")),
                      frozenset(load_confirmations(data_dir / "confirmations.csv")),
                      tuple(load_links(data_dir / "same_agencies.csv")))
    except (config.ConfigError, fixes.CorrectionsError, reach.AreasError, search_index.AbbreviationsError, LinksError) as e:
        raise NotBuilt(str(e)) from None


def read(inputs, cache_dir, jobs=None, progress=None):
    """read: Inputs -> Read, ICE's workbooks through the cache and the 2011-2017 roster's captures."""
    pubs, parsed = read_all(inputs.sources, cache_dir, jobs, progress)
    pubs += history.roster_publications(inputs.data_dir, cache_dir)
    for p in pubs:
        if p.error:
            _log(f"error: {p.file}: {p.error} (recorded in build_anomalies; file left out)")
    return Read(tuple(pubs), parsed)


def correct(read, inputs, kept=None):
    """correct: Read -> Corrected, the hand corrections applied and rows whose state is still unknown noted. kept
    (kept_clean_lists): the fingerprints of the lists no line touches, read and written back."""
    clean = (kept.load(lambda value: isinstance(value, frozenset)) if kept else None) or frozenset()
    pubs, report, printed = fixes.apply_corrections(read.publications, inputs.corrections, clean)
    if kept:
        now = frozenset(p.fingerprint for p, fixed in zip(read.publications, pubs) if fixed.rows is p.rows and p.fingerprint)
        if now != clean:
            kept.save(now)
    for c in report:
        if not c["rows_touched"]:
            _log(f"warning: correction {c['column']} {c['wrong']!r} -> {c['right']!r} matched no row")
    pubs = _flag_unknown_states(pubs)
    _warn(pubs)
    return Corrected(tuple(pubs), tuple(report), printed)


def date(corrected, similarities):
    """date: the readable publications, each with its list, date and order (dating.date, comparing contents through
    the answers similarities keeps); the unreadable ones as they are."""
    dated = {p.id: p for p in dating.date([p for p in corrected.publications if not p.error], dating.Similarity(similarities))}
    similarities.save()
    return tuple(dated.get(p.id, p) for p in corrected.publications)


def walk(pubs, states, confirmed, checkpoints=None, county_of=None, pending_answers=None, town_of=None, printed=()):
    """lineage: dated publications -> Walked: the lineage of agreements, the listings and the pending
    applications, and the publications with what the walk found (held, mass endings). county_of (PlaceCache.county)
    and town_of (PlaceCache.has_town) tell a pending application printed under the wrong state; pending_answers
    (cachekey.Answers) keeps the pairs weighed; printed (Corrected.printed) gives the pending rows a correction moved
    the keys they were printed with."""
    dated = [p for p in pubs if p.list]
    participating = sorted((p for p in dated if p.list == "participating"), key=lambda p: p.seq)
    pending = sorted((p for p in dated if p.list == "pending"), key=lambda p: p.seq)
    spans = [span for name, members in (("participating", participating), ("pending", pending))
             for span in resolve.listing_spans(members, checkpoints.of(f"spans-{name}") if checkpoints else None)]
    state_names = {s["postal"]: s["name"] for s in states}
    lineage = walk_participating(participating, state_names, confirmed, checkpoints)
    apps = resolve.pending_applications(pending, lineage.agreements, county_of, pending_answers, state_names, town_of, dict(printed))
    if pending_answers:
        pending_answers.save()
    lineage.record_pending_signed(apps)
    resumed, distinct = lineage.resumed
    if resumed:
        _log(f"lineage: resumed from its checkpoint after {resumed} of {distinct} distinct lists")
    pubs = tuple(p.updated(held=p.id in lineage.held).noting(*lineage.notes.get(p.id, ())) for p in pubs)
    return Walked(pubs, lineage, spans, apps, dating.unreadable_spans(dated))


def place(walked, locate, states, links=(), moved=()):
    """agencies and places: Walked -> Placed, the agencies (with where they are, joined by data/same_agencies.csv's
    links; moved, the keys data/corrections.csv moved, leave their ids as aliases) and the listings linked to them;
    signing dates to check by hand noted on the publications that printed them first."""
    lineage = walked.lineage
    agencies = build_agencies(lineage, walked.applications, locate, links, moved)
    for link in agencies.links:
        if not link["applied"]:
            _log(f"warning: same_agencies.csv: {link['state_code']} {link['name']!r} / {link['same_as']!r}: ICE printed no agency under both names; the line joins nothing")
    listings = resolve.link_listings(walked.spans, lineage, walked.applications, agencies)
    participating = sorted((p for p in walked.publications if p.list == "participating"), key=lambda p: p.seq)
    # The first list of each era starts the record: its old signing dates are no news.
    firsts = {next((p.id for p in participating if p.is_roster == roster), None) for roster in (True, False)}
    flags = {}
    for publication_id, kind, detail in date_flags(lineage, firsts, agencies.of_agreement):
        flags.setdefault(publication_id, []).append((kind, None, detail))
    pubs = tuple(p.noting(*flags.get(p.id, ())) for p in walked.publications)
    _warn_files(pubs)
    return Placed(pubs, agencies, listings, states)


def tables(corrected, walked, placed):
    """What load and finish write: the stages' records, gathered as Tables."""
    latest = next((p for p in placed.publications if p.id == walked.lineage.last_walked), None)
    return Tables(placed.publications, placed.listings, walked.list_gaps, walked.lineage, walked.applications,
                  placed.agencies, latest, placed.states, corrected.report)


def load_all(tmp, built, inputs, cache_dir, with_documents, county_of=None):
    """load: the tables into a new database file, then counties, places, reach (the counties data/agency_areas.csv
    names found by county_of, PlaceCache.county), the search index, meetings, documents and the history's evidence
    -> Loaded."""
    seeds = read_seeds(inputs.data_dir / "seeds", built.agencies.rows)
    for problem in seeds["problems"]:
        _log(f"error: {problem}")
    try:
        # The tables fixed by data/ files and code (outlines, places, the places' search entries, the MOA documents'
        # pages) come from base files in the cache; when the build before left them together in a start file under
        # the same keys, the new database begins as a copy of it and the writers leave those tables alone.
        census = counties.census(inputs.data_dir, {s["fips"]: s["postal"] for s in built.states}, cache_dir)
        census_names = counties.names(census, ())
        parts, places_key = bases.parts(inputs.data_dir, cache_dir, census, census_names, with_documents)
        start = basedb.Start(cache_dir, parts)
        fixed = start.copy(tmp)
        load.write(tmp, built, seeds)
        counties.write(tmp, inputs.data_dir, cache_dir, census, fixed)
        if not fixed:  # else its tables came with the start
            gazetteer.write(tmp, cache_dir, census_names)
        gazetteer.add_counties(tmp, cache_dir, census_names, counties.names(census, built.agencies.rows.values()))
        reach.write(tmp, list(inputs.areas), county_of, cache_dir)
        search_key = search_index.write_index(tmp, list(inputs.abbreviations), cache_dir, places_key, fixed)
        link_meetings(tmp, cache_dir, search_key)
        documents_written = documents.write(tmp, inputs.data_dir, cache_dir, fixed) if with_documents else None  # the MOA documents' committed extraction
        evidence = history.write(tmp, inputs.data_dir, {s["postal"]: s["name"] for s in built.states}, places.state_postal, cache_dir)
        if not fixed:
            start.save()  # from the base files the writers copied or made
    except (counties.CensusError, reach.AreasError) as e:
        raise NotBuilt(str(e)) from None
    return Loaded(seeds, documents_written, evidence)


def finish_all(tmp, built, metadata):
    """finish: indexes, search, views and QA checks; NotBuilt when a QA check that guards the data fails."""
    write_behind(tmp)  # what load wrote goes to disk while finish adds its indexes and views
    qa = finish.finish(tmp, built, metadata)
    if qa["broken"]:
        # A QA check that fails (for example after a hand correction) fails the build: the old database stays.
        failed = [f"QA check failed: {c['check']}: expected {c['expected']}, found {c['found']} {c['detail']}".rstrip() for c in qa["broken"]]
        for line in failed[:-1]:
            _log(f"error: {line}")
        raise NotBuilt(failed[-1])
    return qa


LOUD = ("unparseable_date", "unknown_state")  # row-level problems a maintainer should see at once
LOUD_FILES = ("unknown_column", "rows_above_header", "footnote", "manifest_rows_differ", "date_far_from_neighbours", "unconfirmed_mass_ending", "mass_ending_not_confirmed")  # the same, for whole files


def _warn_files(pubs):
    for p in pubs:
        if not p.has_anomaly(LOUD_FILES):
            continue  # nearly every publication
        for kind, _, detail in p.anomalies:
            if kind in LOUD_FILES:
                _log(f"warning: {p.file}: {kind}: {detail}")


def _warn(pubs):
    for p in pubs:
        if not p.has_anomaly(LOUD):
            continue
        found = {}
        for k, row, detail in p.anomalies:
            if k in LOUD:
                found.setdefault(k, []).append((row, detail))
        for kind in LOUD:
            hits = found.get(kind)
            if hits:
                where = ", ".join(str(r) for r, _ in hits[:10]) + (" …" if len(hits) > 10 else "")
                _log(f"warning: {p.file}: row{'s' if len(hits) > 1 else ''} {where}: {hits[0][1]}")


_STATE_CODE = operator.attrgetter("state_code")


def _flag_unknown_states(pubs):
    """Rule unknown_state: a row whose STATE names no state after the corrections is recorded, row by row."""
    unknown = {}  # id(rows) -> the places of the rows with no state: publications share row lists (read.interpret)
    for p in pubs:
        if id(p.rows) not in unknown:
            unknown[id(p.rows)] = ([at for at, code in enumerate(map(_STATE_CODE, p.rows)) if code is None]
                                   if None in map(_STATE_CODE, p.rows) else [])
    return [p.noting(*(("unknown_state", p.sheet_rows[at], f"STATE {p.rows[at].state!r} is not a US state or territory; add a line to data/corrections.csv")
                       for at in unknown[id(p.rows)])) for p in pubs]


def input_signature(data_dir):
    """What the database is made from: every data file's path, size and mtime, and the code and config files."""
    h = hashlib.sha256()
    for root in (Path(data_dir), ROOT / "open287g", ROOT / "canned_queries"):
        for path, st in _files_under(root):
            h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    for f in (ROOT / "metadata.yml", ROOT / "pyproject.toml"):
        if f.exists():
            st = f.stat()
            h.update(f"{f}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _files_under(root):
    """(path, stat) of every file under root but __pycache__, sorted by path: one stat a file, from os.scandir
    (the 1,150 files of data/ took rglob, is_file and stat 15 ms)."""
    found, todo = [], [str(root)]
    while todo:
        try:
            entries = list(os.scandir(todo.pop()))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for e in entries:
            if e.is_dir(follow_symlinks=False):  # as rglob: a linked folder is not entered
                if e.name != "__pycache__":
                    todo.append(e.path)
            elif e.is_file(follow_symlinks=True):
                found.append((e.path, e.stat()))
    return sorted(found, key=lambda f: f[0].split(os.sep))


def _up_to_date(db_path, signature):
    stamp = db_path.with_name(db_path.name + ".inputs.json")
    if not db_path.exists() or not stamp.exists():
        return None
    try:
        saved = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return None
    return saved if saved.get("signature") == signature else None


class _Stages:
    """Wall time per stage, printed to stderr when OPEN287G_TIMINGS is set (used by the benchmark)."""

    def __init__(self):
        self.last = time.perf_counter()
        self.times = []

    def __call__(self, name):
        now = time.perf_counter()
        self.times.append((name, now - self.last))
        self.last = now

    def report(self):
        if os.environ.get("OPEN287G_TIMINGS"):
            _log("stages: " + ", ".join(f"{n} {t:.2f}s" for n, t in self.times))


def run_build(data_dir, db_path, cache_dir=None, jobs=None, progress=None, force=False, with_documents=True):
    """The whole build; returns the process exit code: BUILT, BUILT_WITH_REFUSALS (the database built
    without the files named on stderr) or NOT_BUILT (the old database, if any, stays)."""
    started = time.perf_counter()
    db_path = Path(db_path)
    signature = input_signature(data_dir) + ("" if with_documents else "-no-documents")
    saved = None if force else _up_to_date(db_path, signature)
    if saved:
        # Nothing in data/ or the code changed since the last build: the database is current.
        # A build killed while loading or finishing leaves its unfinished file behind: clear it.
        for leftover in (db_path.with_name(db_path.name + ".tmp"), db_path.with_name(db_path.name + ".tmp-journal"),
                         db_path.with_name(db_path.name + ".tmp.vacuum")):
            leftover.unlink(missing_ok=True)
        print(f"up to date: {db_path} (inputs unchanged; checked in {time.perf_counter() - started:.2f}s; --force rebuilds)")
        print(saved["summary"])
        return saved["exit_code"]
    cache_dir = Path(cache_dir) if cache_dir else db_path.parent / "cache"
    tmp = db_path.with_name(db_path.name + ".tmp")
    stage = _Stages()
    # The build makes millions of records that live until it ends, in no reference cycle: the cyclic collector
    # would walk them again and again (0.5 s of a cold build) and free next to nothing (measured: 10 objects in
    # a rebuild; the peak memory is the same without it). Paused for the build; worker processes forked
    # meanwhile inherit the pause. Frozen after: they live until the process ends.
    with paused_gc(freeze=True), WordCache(cache_dir):
        try:
            inputs = gather(data_dir, cache_dir)
            was_read = read(inputs, cache_dir, jobs, progress)
            stage("read")
            rows = rows_key(inputs.corrections)
            corrected = correct(was_read, inputs, kept_clean_lists(cache_dir, rows))
            stage("fix")
            with PlaceCache(cache_dir) as locate:
                states = locate.states()
                # The tables fixed by data/ files alone are made meanwhile on the other core (bases.make), when the
                # cache holds none yet.
                making = bases.Making(inputs.data_dir, cache_dir, {s["fips"]: s["postal"] for s in states}, with_documents)
                walked = walk(date(corrected, kept_similarities(cache_dir, rows)), states, inputs.confirmed, Checkpoints(cache_dir, rows), locate.county,
                              kept_pending_pairs(cache_dir), locate.has_town, corrected.printed)
                placed = place(walked, locate, states, inputs.links, corrected.moved)
                stage("resolve")
                built = tables(corrected, walked, placed)
                db_path.parent.mkdir(parents=True, exist_ok=True)
                tmp.unlink(missing_ok=True)
                making.wait()
                loaded = load_all(tmp, built, inputs, cache_dir, with_documents, locate.county)
            stage("load")
            qa = finish_all(tmp, built, inputs.metadata)
            stage("finish")
        except NotBuilt as e:
            _log(f"error: {e}")
            tmp.unlink(missing_ok=True)
            return NOT_BUILT
    # The new database replaces the old one only once complete: an interrupted build leaves the old one.
    swap_in(tmp, db_path)
    config.write_config(db_path.parent, inputs.metadata)
    stage("config")
    stage.report()
    text = summary(built, loaded, qa, was_read.parsed, time.perf_counter() - started, db_path)
    print(text, flush=True)
    refused = any(p.error for p in built.publications) or loaded.seeds["problems"]
    exit_code = BUILT_WITH_REFUSALS if refused else BUILT
    stamp = db_path.with_name(db_path.name + ".inputs.json")
    stamp.write_text(json.dumps({"signature": signature, "summary": text, "exit_code": exit_code}))
    return exit_code


def _documents_line(d):
    if not d or not (d["documents"] or d["refused"]):
        return "MOA documents: none on file (data/moa/documents.jsonl.gz)"
    return (f"MOA documents: {d['documents']} on file ({d['ocr_documents']} needed OCR, {d['refused']} refused); "
            f"agreements linked to a document: {d['agreements_linked']}, not linked: {d['agreements_not_linked']}")


def summary(built, loaded, qa, parsed, elapsed, db_path):
    pubs = built.publications
    agreements = built.lineage.agreements.values()
    status = {}
    for a in agreements:
        status[a.status] = status.get(a.status, 0) + 1
    by_list = {}
    for p in pubs:
        by_list[p.list or "rejected"] = by_list.get(p.list or "rejected", 0) + 1
    anomalies = qa["anomaly_rows"]
    latest = built.latest
    roster = sum(1 for p in pubs if p.is_roster)
    lines = [
        f"built {db_path} in {elapsed:.1f}s ({parsed} workbook{'s' if parsed != 1 else ''} parsed, {len(pubs) - roster - parsed} from cache)",
        f"publications: {len(pubs)} ({', '.join(f'{v} {k}' for k, v in sorted(by_list.items()))}; {roster} of them captures of ICE's 2011-2017 roster)",
        f"latest participating list: {latest.file_name} ({latest.published_at[:10]}, {latest.row_count} rows)" if latest else "no participating list",
        f"agreements: {sum(status.values())} ({', '.join(f'{v} {k}' for k, v in sorted(status.items()))})",
        f"agencies: {len(built.agencies.rows)} ({sum(1 for a in built.agencies.rows.values() if a['status'] == 'active')} with an active agreement)",
        f"listings: {len(built.listings)} distinct rows from {sum(p.row_count for p in pubs)} published rows",
        f"changes: {len(built.lineage.changes)}; merges: {len(built.lineage.merges)}",
        _documents_line(loaded.documents),
        f"anomalies: {anomalies} rows in build_anomalies, one per file and kind; QA checks: {qa['passed']} passed, {qa['failed']} failed",
    ]
    for p in pubs:
        for kind, _, detail in p.anomalies:
            if kind in ("unconfirmed_mass_ending", "mass_ending_not_confirmed", "date_far_from_neighbours"):
                lines.append(f"WARNING {kind}: {p.file_name}: {detail}")
    for c in qa["gated"]:
        lines.append(f"WITHHOLD: {c['check']}: {c['detail']} (open287g publish refuses this database)")
    return "\n".join(lines)
