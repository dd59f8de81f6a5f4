"""The build's cost figures, measured in one run on this machine; prints them and writes them into docs/BENCHMARK.md.

    python scripts/bench_build.py            # what `make bench` runs
    python scripts/bench_build.py --runs 1   # quicker and noisier

1. cold: the real data/ built with an empty cache, the baseline for the ratios below;
2. one new workbook: after a cold build (its database and cache kept), a copy of the newest participating
   list under a later date, as if ICE published again, and the rebuild `make build` would run;
3. scale: every workbook in data/ice re-published once more with the same rows, built cold;
4. a naive pandas baseline: pandas.read_excel (openpyxl) on every workbook in data/ice, concat, drop_duplicates.

Each build is the real `open287g build` in a subprocess, timed on the wall clock; each build figure is
the median of --runs runs, the pandas baseline is run once. Ratios use only figures from this run.
Everything is written in a temporary folder; data/ is only read.
"""
import argparse
import csv
import datetime
import hashlib
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
DOC = ROOT / "docs" / "BENCHMARK.md"
FIGURES = "## Figures"  # the section of DOC this script rewrites, up to the next "## " heading
LIST_FOLDERS = {"participating": "participatingAgencies", "pending": "pendingAgencies", "page-tables": "ParticipatingEntities"}
# Issue 21's targets: (share or multiple, "max" or "min")
ONE_NEW_MAX = 0.15
SCALE_MAX = 1.5
PANDAS_MIN = 5.0


def build(out, cache, *extra, data=DATA, force=True):
    """Run `open287g build` into out with cache; (seconds, stdout). Exit 1 (a file refused) still built."""
    args = ["build", "--data", str(data), "--out", str(out), "--cache", str(cache), *(["--force"] if force else []), *extra]
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "open287g.cli", *args], cwd=ROOT, capture_output=True, text=True,
                            env=dict(os.environ, CI="1"))
    elapsed = time.perf_counter() - started
    if result.returncode not in (0, 1):
        sys.exit(f"build failed ({result.returncode}): {result.stderr.strip().splitlines()[-1:]}")
    return elapsed, result.stdout


def workbooks(data=DATA):
    return sorted(p for folder in LIST_FOLDERS for p in (data / "ice" / folder).glob("*.xlsx"))


def data_copy(target):
    """A copy of data/ made of hard links (copies across file systems): cheap, and safe because files are
    only ever added or replaced in it."""
    def link(source, destination):
        try:
            os.link(source, destination)
        except OSError:
            shutil.copy2(source, destination)

    shutil.copytree(DATA, target, copy_function=link)
    return target


def republish(data, rel, name, note):
    """Copy data/ice/rel beside itself as name, with the same rows and new bytes (a zip comment), as ICE
    re-publishing it would; the manifest row fetch would write for it."""
    source, target = data / "ice" / rel, data / "ice" / rel.split("/")[0] / name
    shutil.copyfile(source, target)
    with zipfile.ZipFile(target, "a") as z:
        z.comment = note.encode()
    content = target.read_bytes()
    return {"file": f"{rel.split('/')[0]}/{name}", "original_name": name, "sha256": hashlib.sha256(content).hexdigest(),
            "bytes": str(len(content)), "copy_of": rel}


def add_to_manifest(data, new):
    """Append rows for the new files to data/ice/MANIFEST.csv, the other fields as the copied file's."""
    path = data / "ice" / "MANIFEST.csv"
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        fields, rows = reader.fieldnames, list(reader)
    by_file = {r["file"]: r for r in rows}
    for n in new:
        rows.append({**by_file.get(n["copy_of"], {}), **{k: v for k, v in n.items() if k in fields}})
    path.unlink()  # a hard link to the real manifest: replace it, never write through it
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fields, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)


def cold(data, tmp, label, runs):
    """Median seconds of `runs` builds of data, each with an empty cache; the last run's folder is kept."""
    times = []
    for i in range(runs):
        folder = tmp / f"{label}-{i}"
        if i:
            shutil.rmtree(tmp / f"{label}-{i - 1}")
        times.append(build(folder / "287g.db", folder / "cache", data=data)[0])
    return statistics.median(times), folder


def one_new(state, tmp, runs):
    """Median seconds of the rebuild after one new participating list, each run from a copy of state (a cold
    build's database and cache), without --force: the rebuild a refresh runs."""
    newest = sqlite3.connect(state / "287g.db").execute(
        "select file, published_at from publications where file like 'participating/%' order by published_at desc limit 1").fetchone()
    day = datetime.date.fromisoformat(newest[1][:10]) + datetime.timedelta(days=1)
    name = f"participatingAgencies{day:%m%d%Y}am.xlsx"
    data = data_copy(tmp / "one-new-data")
    add_to_manifest(data, [republish(data, newest[0], name, f"benchmark: {newest[0]} again as {name}")])
    times = []
    for i in range(runs):
        run = tmp / f"one-new-{i}"
        shutil.copytree(state, run)
        elapsed, stdout = build(run / "287g.db", run / "cache", data=data, force=False)
        assert not stdout.startswith("up to date"), stdout
        times.append(elapsed)
        shutil.rmtree(run)
    return statistics.median(times), name


def scale(state, tmp, runs):
    """Median seconds of a cold build with every workbook published twice: each copy named like an archive
    capture one minute after the original's publication time, so it sorts right after it."""
    published = dict(sqlite3.connect(state / "287g.db").execute("select file, published_at from publications"))
    data = data_copy(tmp / "scale-data")
    new = []
    for path in workbooks():
        rel = f"{path.parent.name}/{path.name}"
        when = datetime.datetime.fromisoformat(published[rel]) + datetime.timedelta(minutes=1)
        new.append(republish(data, rel, f"{LIST_FOLDERS[path.parent.name]}-{when:%Y%m%d%H%M%S}.xlsx", f"benchmark: {rel} again"))
    add_to_manifest(data, new)
    seconds, folder = cold(data, tmp, "scale", runs)
    publications = sqlite3.connect(folder / "287g.db").execute("select count(*) from publications").fetchone()[0]
    return seconds, len(new), publications


def pandas_baseline(files):
    """The naive builder: every workbook through pandas.read_excel, all rows concatenated, duplicates dropped."""
    import pandas as pd

    started = time.perf_counter()
    frames = [pd.read_excel(f, dtype=str, engine="openpyxl") for f in files]
    rows = pd.concat(frames, ignore_index=True)
    distinct = rows.drop_duplicates()
    return time.perf_counter() - started, len(rows), len(distinct)


def verdict(ok):
    return "PASS" if ok else "MISS"


def write_doc(lines):
    text = DOC.read_text(encoding="utf-8")
    start = text.index(FIGURES)
    end = text.find("\n## ", start + len(FIGURES))
    section = FIGURES + "\n\n" + "\n".join(lines) + "\n"
    DOC.write_text(text[:start] + section + (text[end:] if end >= 0 else ""), encoding="utf-8")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="builds per figure; the median is kept (default 3)")
    parser.add_argument("--no-doc", action="store_true", help=f"print only; leave {DOC.relative_to(ROOT)} alone")
    args = parser.parse_args()
    files = workbooks()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="bench-build-") as tmpdir:
        tmp = Path(tmpdir)
        cold_s, state = cold(DATA, tmp, "cold", args.runs)
        one_s, name = one_new(state, tmp, args.runs)
        scale_s, copies, pubs = scale(state, tmp, args.runs)
        pandas_s, rows, distinct = pandas_baseline(files)
    one_share, scale_ratio, speedup = one_s / cold_s, scale_s / cold_s, pandas_s / cold_s
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        f"Run of {datetime.date.today()} at commit {commit}: {os.cpu_count()} cores (load average {load} at the start), "
        f"Python {platform.python_version()}, {len(files)} workbooks ({sum(f.stat().st_size for f in files) / 1e6:.1f} MB); "
        f"each build figure the median of {args.runs} run{'s' if args.runs > 1 else ''}, the pandas baseline run once.",
        "",
        "```",
        f"{'figure':<34} {'seconds':>8}  {'ratio':<18} {'target':<9} result",
        f"{'cold build (empty cache)':<34} {cold_s:>8.2f}  {'the baseline':<18}",
        f"{'one new workbook':<34} {one_s:>8.2f}  {f'{100 * one_share:.1f}% of cold':<18} {f'<= {100 * ONE_NEW_MAX:.0f}%':<9} {verdict(one_share <= ONE_NEW_MAX)}",
        f"{'every workbook twice, cold':<34} {scale_s:>8.2f}  {f'{scale_ratio:.2f}x cold':<18} {f'<= {SCALE_MAX}x':<9} {verdict(scale_ratio <= SCALE_MAX)}",
        f"{'naive pandas baseline':<34} {pandas_s:>8.2f}  {f'cold {speedup:.1f}x faster':<18} {f'>= {PANDAS_MIN:.0f}x':<9} {verdict(speedup >= PANDAS_MIN)}",
        "```",
        "",
        f"The new workbook was {name}; twice is {copies} copies, {pubs} publications; pandas read {rows} rows, {distinct} distinct.",
    ]
    print("\n".join(lines))
    if not args.no_doc:
        write_doc(lines)
        print(f"written into {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
