"""Benchmark the build against a naive pandas baseline, all in one run on this machine; prints figures.

    python scripts/bench_build.py            # cold, no-change, from-cache, one-new-workbook, baseline
    python scripts/bench_build.py --scale 4  # also: 4x the publications (synthetic re-publications)

Every build is the real `open287g build` command in a subprocess, timed on the wall clock.
"""
import argparse
import csv
import datetime
import glob
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
NEWEST = "participatingAgencies03272026am.xlsx"


def build(data, out, cache, *extra):
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "open287g.cli", "build", "--data", str(data), "--out", str(out), "--cache", str(cache), *extra],
                            cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, CI="1"))
    elapsed = time.perf_counter() - started
    if result.returncode not in (0, 1):
        sys.exit(f"build failed ({result.returncode}): {result.stderr.strip().splitlines()[-1:]}")
    return elapsed, result.stdout


def linked_copy(target, skip=()):
    def link(src, dst):
        if Path(src).name not in skip:
            os.link(src, dst)
        return dst

    shutil.copytree(DATA, target, copy_function=link)
    return target


def baseline(files, out):
    """The naive way: pandas.read_excel on every workbook, every row loaded with sqlite-utils."""
    import pandas as pd
    import sqlite_utils

    started = time.perf_counter()
    db = sqlite_utils.Database(out)
    for f in files:
        frame = pd.read_excel(f, dtype=str, engine="openpyxl")  # pandas' default reader
        frame["source_file"] = os.path.basename(f)
        db["rows"].insert_all(frame.to_dict("records"), alter=True)
    elapsed = time.perf_counter() - started
    return elapsed, db["rows"].count


def scale(tmp, factor, cache):
    """factor x the publications: each real workbook re-published factor-1 more times, bytes differing
    (a zip comment) and content identical, dated a minute apart after the original."""
    ref_db = tmp / "ref.db"
    if not ref_db.exists():
        build(DATA, ref_db, cache)
    dates = dict(sqlite3.connect(ref_db).execute("select file, published_at from publications"))
    data = linked_copy(tmp / f"scale{factor}")
    copies = 0
    for rel, published in dates.items():
        folder = data / "ice" / rel.split("/")[0]
        stem = "pendingAgencies" if "pending" in rel.split("/")[0] else "participatingAgencies" if rel.startswith("participating") else "ParticipatingEntities"
        for k in range(1, factor):
            # k minutes later, named like the archives' captures
            when = (datetime.datetime.fromisoformat(published) + datetime.timedelta(minutes=k)).strftime("%Y%m%d%H%M%S")
            target = folder / f"{stem}-{when}.xlsx"
            if target.exists():
                continue
            shutil.copy(DATA / "ice" / rel, target)
            with zipfile.ZipFile(target, "a") as z:
                z.comment = f"synthetic re-publication {k} of {rel}".encode()
            copies += 1
    out = tmp / f"scale{factor}.db"
    elapsed, stdout = build(data, out, cache)
    conn = sqlite3.connect(out)
    pubs, listings = conn.execute("select count(*) from publications").fetchone()[0], conn.execute("select count(*) from listings").fetchone()[0]
    published = conn.execute("select sum(row_count) from publications").fetchone()[0]
    return {"factor": factor, "publications": pubs, "published_rows": published, "listings": listings, "seconds": elapsed, "mb": out.stat().st_size / 1e6}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=int, default=0, help="also build with this many times the publications")
    parser.add_argument("--no-baseline", action="store_true", help="skip the pandas baseline")
    args = parser.parse_args()
    files = sorted(glob.glob(str(DATA / "ice" / "*" / "*.xlsx")))
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}; {len(files)} workbooks, {sum(os.path.getsize(f) for f in files) / 1e6:.1f} MB")
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        cache = tmp / "cache"
        out = tmp / "287g.db"
        cold, _ = build(DATA, out, cache)
        nochange, stdout = build(DATA, out, cache)
        assert stdout.startswith("up to date"), stdout
        forced, _ = build(DATA, out, cache, "--force")
        data = linked_copy(tmp / "data", skip={NEWEST})
        out2 = tmp / "one.db"
        one_cache = tmp / "one-cache"
        shutil.copytree(cache, one_cache)
        newest_sha = next(r["sha256"] for r in csv.DictReader(open(DATA / "ice" / "MANIFEST.csv")) if r["file"].endswith(NEWEST))
        for f in one_cache.glob(f"{newest_sha}*"):
            f.unlink()
        build(data, out2, one_cache)
        os.link(DATA / "ice" / "participating" / NEWEST, data / "ice" / "participating" / NEWEST)
        one_new, stdout = build(data, out2, one_cache)
        assert "(1 workbook parsed" in stdout, stdout
        print(f"cold full build (empty cache):        {cold:6.2f} s")
        print(f"no-change rebuild:                    {nochange:6.2f} s")
        print(f"forced rebuild, every file cached:    {forced:6.2f} s")
        print(f"rebuild after adding one workbook:    {one_new:6.2f} s")
        if not args.no_baseline:
            base, rows = baseline(files, tmp / "baseline.db")
            print(f"naive baseline (pandas.read_excel + sqlite-utils, {rows} rows): {base:6.2f} s")
            print(f"cold build is {base / cold:.1f}x faster than the baseline; no-change rebuild {base / nochange:.0f}x")
        if args.scale > 1:
            print("scale: each workbook re-published again with different bytes and the same rows")
            print(f"{'factor':>6} {'publications':>12} {'published rows':>14} {'listings':>9} {'db MB':>7} {'build s':>8}")
            for factor in sorted({1, args.scale // 2, args.scale} - {0}):
                r = scale(tmp, factor, cache)
                print(f"{r['factor']:>6} {r['publications']:>12} {r['published_rows']:>14} {r['listings']:>9} {r['mb']:>7.1f} {r['seconds']:>8.2f}")


if __name__ == "__main__":
    main()
