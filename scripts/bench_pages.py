"""Page weight and load time of the pages a resident uses, in Debian's chromium; prints figures.

    python scripts/bench_pages.py              # 5 loads per page
    python scripts/bench_pages.py --runs 9

Starts `datasette serve` exactly as `open287g serve` does on 127.0.0.1 and a free port against
build/287g.db (run `make build` first), loads each page --runs times in a fresh tab, and prints per
page: the bytes of the HTML and of everything it loaded (as served: Datasette itself does not
compress), the number of requests, and the median time to the load event, with each page's time as
a ratio to Datasette's own table page of agencies measured in the same run. Map tiles from the
internet are refused, as in the tests. This is a benchmark, not a test.
"""
import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_load import Server, free_port  # noqa: E402  (the same server start and stop)
from open287g import serve  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-quic"]
BASELINE = ("agencies table (Datasette's own page)", "/287g/agencies")


def pages(db_path):
    import sqlite3

    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    (polk,) = conn.execute("select id from agencies where name = 'Polk County Sheriff''s Office' and state_code = 'FL'").fetchone()
    conn.close()
    return [
        BASELINE,
        ("home page", "/"),
        ("search: polk fl", "/search?q=polk+fl"),
        ("agency page: Polk County Sheriff's Office", f"/287g/agencies/{polk}"),
        ("state page: Florida", "/287g/states/FL"),
        ("county page: Polk County FL", "/287g/counties/12105"),
        ("county map", "/county-map"),
    ]


def measure(context, url):
    """(html bytes, all bytes, requests, ms to the load event) for one load in a fresh tab."""
    tab = context.new_page()
    tab.goto(url, wait_until="load")
    tab.wait_for_timeout(100)  # loadEventEnd is set once the load handlers return
    html, total, requests, ms = tab.evaluate(
        "(() => { const n = performance.getEntriesByType('navigation')[0];"
        " const r = performance.getEntriesByType('resource');"
        " return [n.decodedBodySize, n.decodedBodySize + r.reduce((s, e) => s + e.decodedBodySize, 0),"
        " 1 + r.length, n.loadEventEnd - n.startTime]; })()")
    tab.close()
    return html, total, requests, ms


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--db", default=str(ROOT / "build" / "287g.db"))
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    db_path = Path(args.db)
    serve.prepare(db_path)
    server = Server(db_path, free_port(), Path(tempfile.gettempdir()) / "bench_pages_datasette.log")
    server.start()
    try:
        server.wait_ready()
        results = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.route("**/*tile.openstreetmap.org/**", lambda route: route.abort())
            for name, path in pages(db_path):
                measure(context, server.base + path)  # warm: templates compiled, database pages cached
                runs = [measure(context, server.base + path) for _ in range(args.runs)]
                results.append((name, path, runs[-1][0], runs[-1][1], runs[-1][2], statistics.median(r[3] for r in runs)))
            browser.close()
    finally:
        server.stop()
    baseline_ms = results[0][5]
    print(f"{'page':45} {'HTML KB':>8} {'all KB':>8} {'requests':>8} {'load ms':>8} {'x baseline':>10}")
    for name, path, html, total, requests, ms in results:
        print(f"{name:45} {html / 1024:8.1f} {total / 1024:8.1f} {requests:8d} {ms:8.0f} {ms / baseline_ms:10.2f}")
    print(f"median of {args.runs} loads each after one warm-up; chromium {CHROMIUM}; baseline {BASELINE[1]}")


if __name__ == "__main__":
    main()
