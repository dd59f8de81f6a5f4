"""Page weight of every page type of the site, as a browser transfers it; prints a Markdown table.

    python scripts/bench_weight.py                          # serve build/287g.db from this tree and measure
    python scripts/bench_weight.py --save build/weight.json # also keep the figures
    python scripts/bench_weight.py --compare build/weight-before.json   # add a "before" column and ratios

Starts `datasette serve` exactly as `open287g serve` does (open287g.serve.datasette_command) on
127.0.0.1 and a free port, opens each page in Debian's chromium (/usr/bin/chromium, driven by
Playwright) with an empty cache, waits until the network is idle, and adds up the bytes that
crossed the wire for the page and everything it loaded (documents, scripts, styles, the maps'
JSON), as Chrome's DevTools protocol counts them (encodedDataLength: compressed size plus
headers). Map tiles from the internet are refused, as on an offline machine.

This is a benchmark, not a test: the budget (600 KB a page) is printed beside each figure.
"""
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_load import Server, free_port  # noqa: E402  (the same server start and stop)
from bench_pages import ARGS, CHROMIUM  # noqa: E402  (the same browser and flags)
from open287g import serve  # noqa: E402

BUDGET = 600_000

# One page of each type a reader meets; {agency} is filled with a real agency id from the database.
PAGES = {
    "home": "/",
    "database (queries, charts)": "/287g",
    "table: agreements": "/287g/agreements",
    "table: agencies": "/287g/agencies",
    "table: changes": "/287g/changes",
    "row: an agency": "/287g/agencies/{agency}",
    "query: ICE's list as of 2026-01-08": "/287g/as_of?date=2026-01-08",
    "query: agreements in a state (FL)": "/287g/agreements_in_state?state=FL",
    "query: latest changes": "/287g/recent_changes",
    "chart: growth by model": "/287g/growth_by_model",
    "map: agencies": "/287g/agencies_map",
    "map: agreements": "/287g/agreements_map",
    "search: polk": "/search?q=polk",
    "state page: Florida": "/287g/states/FL",
    "county map": "/county-map",
    "about": "/about",
    "error: missing row (404)": "/287g/agencies/no-such-agency",
    "custom SQL": "/287g?sql=select+state_code%2C+count(*)+from+agreements+group+by+state_code",
}


def measure(base, pages):
    """{label: (status, bytes transferred, requests)} for each page, each opened with an empty cache."""
    from playwright.sync_api import sync_playwright

    out = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        for label, path in pages.items():
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.route("**/*tile.openstreetmap.org/**", lambda route: route.abort())
            page = context.new_page()
            cdp = context.new_cdp_session(page)
            cdp.send("Network.enable")
            cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
            sizes = {}
            cdp.on("Network.loadingFinished", lambda e: sizes.__setitem__(e["requestId"], e["encodedDataLength"]))
            response = page.goto(base + path, wait_until="networkidle", timeout=60000)
            page.wait_for_timeout(500)
            out[label] = (response.status if response else 0, sum(sizes.values()), len(sizes))
            context.close()
        browser.close()
    return out


def kb(n):
    return f"{n / 1000:,.0f} KB"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=str(ROOT / "build" / "287g.db"))
    parser.add_argument("--base-url", help="measure a server already running here instead of starting one")
    parser.add_argument("--save", help="write the figures as JSON to this file")
    parser.add_argument("--compare", help="figures saved by an earlier run (--save), shown as 'before'")
    args = parser.parse_args()

    server = None
    if args.base_url:
        base = args.base_url.rstrip("/")
    else:
        if not Path(args.db).exists():
            subprocess.run([sys.executable, "-m", "open287g.cli", "build"], cwd=ROOT, check=True)
        serve.prepare(Path(args.db))
        server = Server(Path(args.db), free_port(), Path(tempfile.gettempdir()) / "bench_weight_datasette.log")
        server.start()
        server.wait_ready()
        base = server.base
    try:
        import sqlite3

        conn = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)
        agency = conn.execute("select id from agencies where status = 'active' order by agreements_active desc, id limit 1").fetchone()[0]
        conn.close()
        pages = {label: path.format(agency=agency) for label, path in PAGES.items()}
        figures = measure(base, pages)
    finally:
        if server:
            server.stop()

    before = json.loads(Path(args.compare).read_text()) if args.compare else {}
    head = "| page | status | requests | transferred |" + (" before | after/before |" if before else "") + " under 600 KB |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for label, (status, size, requests) in figures.items():
        row = f"| {label} | {status} | {requests} | {kb(size)} |"
        if before:
            old = before.get(label)
            row += f" {kb(old[1])} | {size / old[1]:.2f} |" if old else " – | – |"
        row += " yes |" if size <= BUDGET else " **no** |"
        print(row)
    if args.save:
        Path(args.save).write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
