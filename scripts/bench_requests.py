"""Datasette's own work per request, before and after materialising views and turning off facet suggestions; prints figures.

    python scripts/bench_requests.py              # 15 requests per target per configuration
    python scripts/bench_requests.py --runs 30

Two in-process Datasette instances (no HTTP, no proxy, one request at a time) on the same build:
"before" is a copy of build/287g.db with the materialised tables put back as the views in
open287g/views/ and facet suggestions on, as the project served them before issue 11; "after" is
the database and settings as built and served now. The figure is the median CPU time a request
costs the server process (all its threads, SQL included: time.process_time), which other load on
a shared machine disturbs far less than wall time. Ratios within one run are what to compare;
earlier runs' output is in the git history of docs/RELIABILITY.md.
"""
import argparse
import asyncio
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from open287g import serve  # noqa: E402
from open287g.finish import VIEWS_DIR  # noqa: E402
from open287g.materialise import MATERIALISED  # noqa: E402

DB = "287g"


def targets(db_path):
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    agreement_id = conn.execute("select id from agreements order by seq limit 1").fetchone()[0]
    agency_id = conn.execute("select agency_id from agreements order by seq limit 1").fetchone()[0]
    state = conn.execute("select state_code from agreements group by state_code order by count(*) desc limit 1").fetchone()[0]
    conn.close()
    map_json = "?_size=max&_labels=on&_extra=count&_extra=next_url&_shape=objects"
    return {
        "home page": "/",
        "agreements + 3 facets": f"/{DB}/agreements?_facet=state_code&_facet=model&_facet=status",
        "agreement row page": f"/{DB}/agreements/{agreement_id}",
        "agency row page": f"/{DB}/agencies/{agency_id}",
        f"agreements in {state} (table filter)": f"/{DB}/agreements?state_code={state}",
        "canned as_of 2026-03-27": f"/{DB}/as_of?date=2026-03-27",
        "canned as_of JSON": f"/{DB}/as_of.json?date=2026-03-27",
        "map page agencies_map": f"/{DB}/agencies_map",
        "map JSON agreements_map": f"/{DB}/agreements_map.json{map_json}",
        "map JSON agencies_map": f"/{DB}/agencies_map.json{map_json}",
        "CSV agreements stream": f"/{DB}/agreements.csv?_stream=on&_size=max",
        "CSV agreements_with_agencies": f"/{DB}/agreements_with_agencies.csv?_stream=on&_size=max",
    }


def before_copy(db_path, tmp):
    """The database as served before: the materialised tables back as views."""
    out = tmp / db_path.name
    shutil.copyfile(db_path, out)
    shutil.copyfile(serve.metadata_path(db_path), serve.metadata_path(out))
    conn = sqlite3.connect(out)
    for name in MATERIALISED:
        conn.execute(f'drop table if exists "{name}"')
        conn.execute(f'create view "{name}" as {(VIEWS_DIR / f"{name}.sql").read_text()}')
    conn.commit()
    conn.close()
    serve.write_inspect(out)
    return out


async def measure(instances, paths, runs):
    """{instance name: {target: (median ms, bytes)}}; the instances take turns request by request,
    so background load on a shared machine falls on both alike."""
    out = {key: {} for key in instances}
    for name, path in paths.items():
        times = {key: [] for key in instances}
        for key, ds in instances.items():
            r = await ds.client.get(path)  # warm: templates compiled, pages of the file cached
            if r.status_code != 200:
                raise RuntimeError(f"{name}: {path} answered {r.status_code} ({key})")
            out[key][name] = len(r.content)
        for _ in range(runs):
            for key, ds in instances.items():
                t = time.process_time()  # CPU of every thread of this process: SQL threads included
                await ds.client.get(path)
                times[key].append((time.process_time() - t) * 1000)
        for key in instances:
            out[key][name] = (statistics.median(times[key]), out[key][name])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", type=Path, default=ROOT / "build" / "287g.db")
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    db_path = args.db.resolve()
    serve.prepare(db_path)
    from datasette.app import Datasette
    import json

    tmp = Path(tempfile.mkdtemp(prefix="bench_requests_"))
    try:
        old_db = before_copy(db_path, tmp)
        paths = targets(db_path)

        def instance(path, settings):
            return Datasette(immutables=[str(path)], inspect_data=json.loads(serve.inspect_path(path).read_text()),
                             metadata=json.loads(serve.metadata_path(path).read_text()),
                             template_dir=str(serve.TEMPLATES_DIR) if serve.TEMPLATES_DIR.is_dir() else None,
                             settings=settings, cors=True)

        instances = {"before": instance(old_db, {**serve.SETTINGS, "suggest_facets": True}),
                     "after": instance(db_path, serve.SETTINGS)}
        measured = asyncio.run(measure(instances, paths, args.runs))
        before, after = measured["before"], measured["after"]
        print(f"# bench_requests: {db_path}, {args.runs} requests per target, in-process, one at a time, CPU ms; "
              f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print("before: views computed per request, facet suggestions on; after: materialised tables, suggestions off")
        rows = [[name, f"{before[name][0]:.1f}", f"{after[name][0]:.1f}", f"{before[name][0] / after[name][0]:.1f}x",
                 f"{after[name][1] / 1000:.0f} kB"] for name in paths]
        headers = ["target", "before CPU ms", "after CPU ms", "less work", "size"]
        widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
        for row in [headers, ["-" * w for w in widths], *rows]:
            print("  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
