"""The build's cost figures, measured in one run on this machine; prints them and writes them into docs/BENCHMARK.md.

    python scripts/bench_build.py            # what `make bench` runs
    python scripts/bench_build.py --runs 1   # quicker and noisier

1. cold: the real data/ built with an empty cache, the baseline for the ratios below;
2. one new workbook: after that cold build (its database and cache kept), a copy of the newest participating
   list under the next day's name, as if ICE published again, and the rebuild `make build` would run;
3. twice: every workbook in data/ice re-published once more with the same rows, built cold;
4. a naive pandas baseline: pandas.read_excel (openpyxl) on every workbook in data/ice, concat, drop_duplicates.

Each build is the real `open287g build` in a subprocess, timed on the wall clock from a synced disk. Builds 1-3 run back to
back in a round, --runs rounds, and the pandas baseline after them in the first --baseline-runs rounds (it takes
about 80 s); each figure and each ratio is the median over the rounds that have it, a ratio's two figures taken
from one round, so load that drifts during the run falls on a ratio's two sides alike. Everything is written in a
temporary folder; data/ is only read.
"""
import argparse
import csv
import datetime
import hashlib
import json
import os
import platform
import re
import resource
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
    """Run `open287g build` into out with cache; (seconds, stdout, the stages line of OPEN287G_TIMINGS, CPU seconds).
    Exit 1 (a file refused) still built."""
    args = ["build", "--data", str(data), "--out", str(out), "--cache", str(cache), *(["--force"] if force else []), *extra]
    # Each build starts with nothing waiting to be written back: the copy of the last build's folder made just
    # before (one new workbook) would otherwise be flushed to disk during the build timed, as no real rebuild is.
    os.sync()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "open287g.cli", *args], cwd=ROOT, capture_output=True, text=True,
                            env=dict(os.environ, CI="1", OPEN287G_TIMINGS="1"))
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the build and its worker processes, all waited for
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if result.returncode not in (0, 1):
        sys.exit(f"build failed ({result.returncode}): {result.stderr.strip().splitlines()[-1:]}")
    stages = next((line for line in result.stderr.splitlines() if line.startswith("stages: ")), "stages: ?")
    return elapsed, result.stdout, stages[len("stages: "):], cpu


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
    if target.exists():  # maybe a hard link to a real workbook: never write through it
        raise FileExistsError(target)
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


def one_new_data(state, tmp):
    """data/ plus the newest participating list again under the next day's name, as ICE publishing again."""
    file, published_at = sqlite3.connect(state / "287g.db").execute(
        "select file, published_at from publications where file like 'participating/%' order by published_at desc limit 1").fetchone()
    data = data_copy(tmp / "one-new-data")
    day = datetime.date.fromisoformat(published_at[:10])
    name = Path(file).name
    while (data / "ice" / "participating" / name).exists():
        day += datetime.timedelta(days=1)
        name = f"participatingAgencies{day:%m%d%Y}am.xlsx"
    add_to_manifest(data, [republish(data, file, name, f"benchmark: {file} again as {name}")])
    return data, name


def twice_data(state, tmp):
    """data/ with every workbook published twice: each copy named like an archive capture one minute after
    the original's publication time, so that it sorts right after it."""
    published = dict(sqlite3.connect(state / "287g.db").execute("select file, published_at from publications"))
    data = data_copy(tmp / "twice-data")
    new = []
    for path in workbooks():
        rel = f"{path.parent.name}/{path.name}"
        when, name = datetime.datetime.fromisoformat(published[rel]), path.name
        while (path.parent / name).exists() or (data / "ice" / path.parent.name / name).exists():  # two files of one minute
            when += datetime.timedelta(minutes=1)
            name = f"{LIST_FOLDERS[path.parent.name]}-{when:%Y%m%d%H%M%S}.xlsx"
        new.append(republish(data, rel, name, f"benchmark: {rel} again"))
    add_to_manifest(data, new)
    return data, len(new)


def one_round(tmp, inputs, baseline=None):
    """A cold build, the rebuild after one new workbook from that build's database and cache (without --force:
    the rebuild a refresh runs), a cold build of every workbook twice and, given baseline (files, packages), the pandas
    baseline, back to back, so that the machine's other load falls on all of them alike. inputs are made on the first
    round."""
    cold = tmp / "cold"
    seconds, _, stages, cpu = build(cold / "287g.db", cold / "cache")
    if not inputs:
        inputs.update(zip(("one_data", "name"), one_new_data(cold, tmp)))
        inputs.update(zip(("twice_data", "copies"), twice_data(cold, tmp)))
    one = tmp / "one-new"
    shutil.copytree(cold, one)
    one_seconds, said, one_stages, one_cpu = build(one / "287g.db", one / "cache", data=inputs["one_data"], force=False)
    assert not said.startswith("up to date"), said
    twice = tmp / "twice"
    twice_seconds = build(twice / "287g.db", twice / "cache", data=inputs["twice_data"])[0]
    inputs["publications"] = sqlite3.connect(twice / "287g.db").execute("select count(*) from publications").fetchone()[0]
    for folder in (cold, one, twice):
        shutil.rmtree(folder)
    parsed = re.search(r"\(\d+ workbooks? parsed, \d+ from cache\)", said)
    found = {"cold": seconds, "one": one_seconds, "twice": twice_seconds, "one_share": one_seconds / seconds,
             "twice_ratio": twice_seconds / seconds, "cold_stages": stages, "one_stages": one_stages, "cold_cpu": cpu, "one_cpu": one_cpu,
             "one_said": parsed.group() if parsed else ""}
    if baseline:
        pandas_s, inputs["rows"], inputs["distinct"] = pandas_baseline(*baseline)
        found.update(pandas=pandas_s, speedup=pandas_s / seconds)
    return found


def median(rounds, key):
    return statistics.median(r[key] for r in rounds if key in r)


BASELINE = """
import json, sys, time
import pandas as pd
files = sys.argv[1:]
started = time.perf_counter()
frames = [pd.read_excel(f, dtype=str, engine="openpyxl") for f in files]
rows = pd.concat(frames, ignore_index=True)
distinct = rows.drop_duplicates()
print(json.dumps([time.perf_counter() - started, len(rows), len(distinct)]))
"""


def pandas_baseline(files, packages):
    """The naive builder: every workbook through pandas.read_excel, all rows concatenated, duplicates dropped.
    Run in its own process with pandas from packages (a folder outside .venv: `make bench` installs it there)."""
    result = subprocess.run([sys.executable, "-c", BASELINE, *map(str, files)], capture_output=True, text=True,
                            env=dict(os.environ, PYTHONPATH=str(Path(packages).resolve())))
    if result.returncode:
        sys.exit(f"pandas baseline failed: {result.stderr.strip().splitlines()[-1:]}")
    return json.loads(result.stdout)


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
    parser.add_argument("--runs", type=int, default=5, help="rounds of the three builds, odd; medians are kept (default 5)")
    parser.add_argument("--baseline-runs", type=int, default=None,
                        help="rounds that also run the pandas baseline (the first ones), odd; it takes about 80 s a run (default: 3, or --runs if fewer)")
    parser.add_argument("--baseline-packages", default="build/bench-packages",
                        help="folder holding pandas and openpyxl for the baseline, kept out of .venv (default: build/bench-packages)")
    parser.add_argument("--no-doc", action="store_true", help=f"print only; leave {DOC.relative_to(ROOT)} alone")
    args = parser.parse_args()
    if args.runs < 1 or args.runs % 2 == 0:
        parser.error("--runs must be odd, so that each median is one round's figure")
    args.baseline_runs = args.baseline_runs or min(3, args.runs)
    if not 1 <= args.baseline_runs <= args.runs or args.baseline_runs % 2 == 0:
        parser.error("--baseline-runs must be odd and at most --runs")
    files = workbooks()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="bench-build-") as tmpdir:
        load_before = os.getloadavg()[0]
        inputs = {}
        rounds = [one_round(Path(tmpdir), inputs, (files, args.baseline_packages) if n < args.baseline_runs else None)
                  for n in range(args.runs)]
    cold_s, one_s, twice_s, pandas_s = median(rounds, "cold"), median(rounds, "one"), median(rounds, "twice"), median(rounds, "pandas")
    one_share, twice_ratio, speedup = median(rounds, "one_share"), median(rounds, "twice_ratio"), median(rounds, "speedup")
    middle = sorted(rounds, key=lambda r: r["cold"])[len(rounds) // 2]
    lines = [
        f"Run of {datetime.date.today()} at commit {commit}: {os.cpu_count()} cores (load average {load_before:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end), Python {platform.python_version()}, {len(files)} workbooks "
        f"({sum(f.stat().st_size for f in files) / 1e6:.1f} MB); {args.runs} round{'s' if args.runs > 1 else ''} of the three builds, "
        f"each figure and ratio the median over the rounds; the pandas baseline in the first {args.baseline_runs} of them, its ratio to "
        "the same round's cold build.",
        "",
        "```",
        f"{'figure':<34} {'seconds':>8}  {'ratio':<18} {'target':<9} result",
        f"{'cold build (empty cache)':<34} {cold_s:>8.2f}  the baseline",
        f"{'one new workbook':<34} {one_s:>8.2f}  {f'{100 * one_share:.1f}% of cold':<18} {f'<= {100 * ONE_NEW_MAX:.0f}%':<9} {verdict(one_share <= ONE_NEW_MAX)}",
        f"{'every workbook twice, cold':<34} {twice_s:>8.2f}  {f'{twice_ratio:.2f}x cold':<18} {f'<= {SCALE_MAX}x':<9} {verdict(twice_ratio <= SCALE_MAX)}",
        f"{'naive pandas baseline':<34} {pandas_s:>8.2f}  {f'cold {speedup:.1f}x faster':<18} {f'>= {PANDAS_MIN:.0f}x':<9} {verdict(speedup >= PANDAS_MIN)}",
        "```",
        "",
        f"The new workbook was {inputs['name']}; twice is {inputs['copies']} copies, {inputs['publications']} publications; "
        f"pandas read {inputs['rows']} rows, {inputs['distinct']} distinct. Seconds per stage (`OPEN287G_TIMINGS`) in the round of the median cold build:",
        "",
        f"- cold build: {middle['cold_stages']}",
        f"- one new workbook: {middle['one_stages']} {middle['one_said']}".rstrip(),
        "",
        f"CPU time (user and system, the build's own process and its workers) in that round: the cold build {middle['cold_cpu']:.2f}s, "
        f"so no schedule on {os.cpu_count()} cores finishes it in under {middle['cold_cpu'] / (os.cpu_count() or 1):.2f}s; "
        f"the rebuild with one new workbook {middle['one_cpu']:.2f}s.",
    ]
    print("\n".join(lines))
    if not args.no_doc:
        write_doc(lines)
        print(f"written into {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
