"""Builds killed with SIGKILL at seeded random moments, at least 20 times: the previous database must
stay byte for byte as it was and servable, no partial database may take its place, and the next build
must succeed.

Kills alternate between first builds and warm builds. A first build runs on a cache that holds only the
readings of most workbooks: PARSE of them, a seeded sample, are left to parse, and nothing else a build
keeps is there (no snapshot of the readings, no lineage checkpoint, no base file), so it reads and parses
workbooks in its worker processes, walks the lineage from the start and makes its base files, as a cold
build does, in about two thirds of a cold build's time. A warm build has every workbook's reading kept. Durations
come first: one build of each kind is timed here, the warm one last, which also makes the database the
kills must not touch. Each kill comes at a seeded random delay spread from 0 to that kind of build's
duration (1.1x for a warm one), so they land while workbooks are read, while publications are dated and
resolved, while the new file is loaded and finished, and after it is done. Only warm kills reach past
the end: a first build left to finish checks what a warm one left to finish checks. A build runs in its
own session and is killed with its process group, so its worker processes die too.

What each kill interrupted is read from what the build left: the readings not yet kept in the cache (reading:
read.Snapshot writes them once every workbook is read and the workers are gone), kept but no new file yet
(dating and resolving, while a first build makes its base files in a process of its own), a new
.tmp file with the loaded tables only (loading) or with what only the finishing stage adds: the
agreements' indexes, the agencies' and agreements' full-text search, the QA checks (finishing; the
rollback journal is kept in memory, so no file shows it). Where the random kills missed a stage, a
targeted kill is added.

After every kill the next build must succeed: after the first kill of a first build a forced build on the
half-filled cache, otherwise the plain `open287g build` a user would run next. A last forced build on
the cache a killed first build left half-filled must equal the session's build. (This is the one test of
a build killed while it reads workbooks: the previous database byte for byte as it was, its 1,560 active
agreements served, the next build on the half-filled cache succeeding, no partial file left.)
"""
import asyncio
import hashlib
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from conftest import CLI, ROOT, SNAPSHOT, run_cli
from open287g.read import extract_cache_file, snapshot_file

SEED = 20260327
KILLS = 20
PARSE = 300  # workbooks a first build parses (a seeded sample; the others' readings are in its cache)
ACTIVE = 1560  # agreements on ICE's list of 27 March 2026, the snapshot's newest
STAGES = ("reading", "resolving", "loading", "finishing")


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def group_alive(pgid):
    """Processes of a process group that still run (zombies waiting to be reaped do not count)."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _ppid, pgrp = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue
        if int(pgrp) == pgid and state != "Z":
            alive.append(int(stat.parent.name))
    return alive


def cache_entries(cache):
    return sum(1 for _ in Path(cache).glob(extract_cache_file(cache, "*").name))


def read_done(cache):
    """The read stage's end: its snapshot of every workbook's reading is in the cache (read.snapshot_file)."""
    return Path(snapshot_file(cache)).exists()


def active_count(db_path):
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        assert conn.execute("pragma quick_check").fetchone()[0] == "ok"
        return conn.execute("select count(*) from agreements where status = 'active'").fetchone()[0]
    finally:
        conn.close()


def key_counts(db_path):
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        counts = {t: conn.execute(f"select count(*) from [{t}]").fetchone()[0]
                  for t in ("publications", "listings", "agreements", "agencies", "changes", "agreement_merges", "pending_applications", "build_anomalies", "qa_checks")}
        counts.update({f"agreements {s}": n for s, n in conn.execute("select status, count(*) from agreements group by status")})
        counts["qa passed"] = conn.execute("select sum(passed) from qa_checks").fetchone()[0]
        return counts
    finally:
        conn.close()


async def _served_active(db_path):
    from datasette.app import Datasette

    ds = Datasette(immutables=[str(db_path)])
    name = Path(db_path).stem
    r = await ds.client.get(f"/{name}.json?sql=select+count(*)+as+n+from+agreements+where+status+%3D+'active'&_shape=array")
    assert r.status_code == 200, r.text[:500]
    page = await ds.client.get(f"/{name}/agreements?status=active&_size=1")
    assert page.status_code == 200
    return r.json()[0]["n"]


class Builds:
    """Runs builds into one output file, kills them, and checks what each kill left behind."""

    def __init__(self, tmp_path, data, warm_cache, reference):
        self.data = data  # the snapshot: workbooks fetched later must not change what the kills are checked against
        self.out = tmp_path / "287g.db"
        self.tmp = self.out.with_name(self.out.name + ".tmp")
        self.warm = warm_cache  # the session's cache: a warm build only reads it
        self.cold = tmp_path / "cache-cold"
        self.rng = random.Random(SEED)
        self.reference = reference
        self.contents = sorted(set(SNAPSHOT.values()))  # the snapshot's workbooks, by sha256
        self.log = []

    def command(self, cache, force=True):
        return CLI + ["build", "--data", str(self.data), "--out", str(self.out), "--cache", str(cache)] + (["--force"] if force else [])

    def fresh_cold(self):
        """The cache of a first build: the readings of all but PARSE of the workbooks' distinct contents (hard
        links: a build replaces a cache file whole, never writes one in place), nothing else."""
        shutil.rmtree(self.cold, ignore_errors=True)
        self.cold.mkdir()
        for digest in sorted(set(self.contents) - set(self.rng.sample(self.contents, PARSE))):
            reading = extract_cache_file(self.warm, digest)
            os.link(reading, self.cold / reading.name)

    def run(self, cache, force=True):
        env = dict(os.environ, CI="1")
        started = time.perf_counter()
        r = subprocess.run(self.command(cache, force), capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stdout + r.stderr
        return r, time.perf_counter() - started

    @staticmethod
    def _stat(path):
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size

    def _stage_in_tmp(self, stale):
        """What the killed build wrote into the new file (a file left by an earlier kill, stale, does not count)."""
        if self._stat(self.tmp) == stale:
            return None
        try:
            conn = sqlite3.connect(f"file:{self.tmp}?immutable=1", uri=True)
            try:
                names = [r[0] for r in conn.execute("select name from sqlite_master")]
            finally:
                conn.close()
        except sqlite3.DatabaseError:
            return "loading"  # killed while the first pages were written
        # finish.finish indexes the agreements first; the load stage writes other tables' indexes and the search index
        finishing = any(n.startswith("idx_agreements_") or n in ("agencies_fts", "agreements_fts", "qa_checks") for n in names)
        return "finishing" if finishing else "loading"

    def kill(self, cold, delay=None, until=None):
        """Start a forced build, SIGKILL its process group after `delay` seconds or once until() holds;
        check the database left in place; return (killed, stage interrupted)."""
        cache = self.cold if cold else self.warm
        before = (sha256(self.out), self.out.stat().st_ino)
        stale = self._stat(self.tmp)  # left by an earlier kill; the build removes it when it loads
        proc = subprocess.Popen(self.command(cache), cwd=ROOT, env=dict(os.environ, CI="1"), stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, start_new_session=True)
        started = time.perf_counter()
        if until is None:
            time.sleep(delay)
        else:
            while proc.poll() is None and not until(proc) and time.perf_counter() - started < 120:
                time.sleep(0.002)
        killed = proc.poll() is None
        if killed:
            os.killpg(proc.pid, signal.SIGKILL)  # the build and its worker processes
        err = proc.communicate()[1].decode()
        at = time.perf_counter() - started
        if killed:
            deadline = time.time() + 10
            while group_alive(proc.pid):
                assert time.time() < deadline, f"worker processes survived the kill: {group_alive(proc.pid)}"
                time.sleep(0.01)
        else:
            assert proc.returncode == 0 and "Traceback" not in err, err
        after = (sha256(self.out), self.out.stat().st_ino)
        if after[1] != before[1]:
            # Replaced: only by a complete build (killed, if at all, after its atomic swap).
            stage = "swapped" if killed else "done"
            assert not self.tmp.exists()
            assert key_counts(self.out) == self.reference, "a database replaced the previous one but is not a complete build"
        else:
            assert after[0] == before[0], "the previous database changed in place"
            if not killed:
                stage = "done"
            elif self._stage_in_tmp(stale):
                stage = self._stage_in_tmp(stale)
            elif cold and not read_done(cache):
                stage = "reading"  # workbooks left to parse, or their readings not yet kept
            elif cold:
                stage = "resolving"  # read, workers gone, no new file yet: dating, fixing, resolving
            else:
                stage = "warm: reading cache, dating or resolving"
        assert active_count(self.out) == ACTIVE, "the database left in place is not servable"
        self.log.append((("cold" if cold else "warm"), round(at, 2), stage))
        return killed, stage


@pytest.fixture(scope="module")
def reference(db_path):
    return key_counts(db_path)


def test_sigkill_at_random_moments_never_costs_the_previous_database(tmp_path, reference, snapshot_data, cache_dir):
    began = time.perf_counter()
    b = Builds(tmp_path, snapshot_data, cache_dir, reference)

    # Durations: a first build, then the warm build (which makes the previous database); each timed whole,
    # start-up included.
    b.fresh_cold()
    first, cold_seconds = b.run(b.cold)
    parsed = re.search(r"\((\d+) workbooks parsed, ", first.stdout)
    assert parsed and int(parsed.group(1)) >= PARSE, first.stdout  # more when a sampled content was published twice
    _, warm_seconds = b.run(b.warm)
    assert key_counts(b.out) == reference
    assert asyncio.run(_served_active(b.out)) == ACTIVE

    rng = b.rng
    kills, hit, attempt, cold_kills = 0, set(), 0, 0
    while kills < KILLS:
        attempt += 1
        assert attempt <= KILLS * 2, f"too few builds were still running when killed: {b.log}"
        cold = attempt % 2 == 1
        if cold:
            b.fresh_cold()
        delay = rng.uniform(0, cold_seconds if cold else 1.1 * warm_seconds)
        killed, stage = b.kill(cold, delay=delay)
        hit.add(stage)
        kills += killed
        if not killed:
            # It finished within the delay: on this (shared) machine, now, that kind of build takes at
            # most that long, so later delays are drawn from the shorter span.
            at = b.log[-1][1]
            cold_seconds, warm_seconds = (min(cold_seconds, at), warm_seconds) if cold else (cold_seconds, min(warm_seconds, at))
        if killed and kills == 1:
            assert asyncio.run(_served_active(b.out)) == ACTIVE  # served through Datasette right after a kill
        # The next build succeeds.
        if cold and killed and cold_kills == 0:
            nxt, _ = b.run(b.cold)  # forced, on the cache the kill left half-filled
            assert re.search(r"\(\d+ workbooks? parsed, \d+ from cache\)", nxt.stdout), nxt.stdout
            assert not b.tmp.exists(), "a finished build leaves no partial file behind"
        else:
            nxt, _ = b.run(b.warm, force=False)  # what a user runs next: the database is current
            assert nxt.stdout.startswith(("up to date", "built ")), nxt.stdout
        cold_kills += cold and killed
        assert active_count(b.out) == ACTIVE

    # Targeted kills for any stage the random ones missed, so every stage is covered on any machine.
    if "reading" not in hit:
        b.fresh_cold()
        kept = cache_entries(b.cold)
        hit.add(b.kill(True, until=lambda proc: cache_entries(b.cold) >= kept + 50)[1])
    if "resolving" not in hit:
        b.fresh_cold()
        hit.add(b.kill(True, until=lambda proc: read_done(b.cold))[1])
    if "loading" not in hit:
        hit.add(b.kill(False, until=lambda proc: b.tmp.exists())[1])
    if "finishing" not in hit:
        b.tmp.unlink(missing_ok=True)  # an earlier kill's file, which the build would remove: never mistaken for this one's
        hit.add(b.kill(False, until=lambda proc: b._stage_in_tmp(None) == "finishing")[1])
    assert set(STAGES) <= hit, f"stages never interrupted: {set(STAGES) - hit}; {b.log}"

    # A last forced build, on the cache a cold kill left half-filled, equals the session's build.
    final = run_cli("build", "--data", snapshot_data, "--out", b.out, "--cache", b.cold, "--force")
    assert final.returncode == 0 and "Traceback" not in final.stderr, final.stderr
    assert not b.tmp.exists()
    assert key_counts(b.out) == reference
    assert f"({ACTIVE} active" in final.stdout
    print(f"\n{kills} kills in {time.perf_counter() - began:.0f}s (first build {cold_seconds:.1f}s, warm {warm_seconds:.1f}s): {b.log}")
