"""Load-test the publication: Datasette direct, then the production layout (nginx cache in front) cold and warm, then hostile SQL floods; prints figures.

    python scripts/bench_load.py                      # wrk when installed, else the Python load generator
    python scripts/bench_load.py --duration 5         # shorter runs
    python scripts/bench_load.py --target "county map data=/287g/county_map.json?_size=max"

Starts, on 127.0.0.1 against build/287g.db (built first when missing), and always stops:
  - "direct": one `datasette serve` exactly as `open287g serve` runs it (serve.datasette_command);
  - "proxied": the production layout exactly as `open287g serve --prod` runs it (open287g.prod.Layout):
    nginx caching in front of the pages Datasette, typed SQL in its own rate-limited Datasette.

Phase 1, each target with --connections keep-alive connections for --duration seconds:
direct; proxied cold (every request carries a unique `_bust` parameter, so each is a cache miss
and reaches Datasette through nginx); proxied warm (the same URL, answered from the cache, with
--warm-connections). Requests/s, p50/p95/p99, non-2xx responses and socket errors, and each
target's throughput as a ratio to the direct faceted agreements page.
Phase 2, floods: 3 and then 10 hostile clients send expensive SQL through the proxy's ?sql= back
to back while normal readers load the flood targets, cold and warm; each target is run calm and
then flooded back to back, and the p95s compared. Every hostile query must be stopped, by the SQL
process's time limit (an error naming it) or by the rate limit (429).
Phase 3, single-value probes through the proxy: one huge value computed in one SQLite step.

This is a benchmark, not a test; tests/test_prod.py and tests/test_hostile_sql.py hold the assertions.
"""
import argparse
import asyncio
import datetime
import itertools
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from open287g import prod, serve
from open287g.hostile_sql import HOSTILE
from open287g.prod import free_port  # also imported from here by other benchmark scripts

DB = "287g"

# One value built inside a single SQLite step: the progress handler behind the time limit only runs
# between steps, so these run to completion whatever sql_time_limit_ms says.
SINGLE_VALUE = {
    "randomblob(900 MB)": "select length(randomblob(900000000))",
    "printf 900 MB": "select length(printf('%.*c', 900000000, 'x'))",
}
# What the load generators ask for: wrk sends no Accept-Encoding, and the proxy caches each encoding
# apart, so the preflight and the Python load generator ask for the same uncompressed answers.
READER = {"Accept-Encoding": "identity"}
STOPPED_RE = re.compile(r"took too long|interrupted", re.IGNORECASE)

# Cache-busting requests for the cold runs: a unique, ignored `_bust` parameter on each request.
WRK_BUST = r"""
-- wrk's Lua random numbers are not seeded: the same _bust values every run, so a second cold run
-- of a target (calm, then flooded) was answered from the first's cache. A per-run prefix (the
-- clock) and a per-thread id make every request of every run a miss.
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
counter = 0
run = string.format("%d%06d", os.time(), math.floor((os.clock() * 1e6) % 1e6))
request = function()
  counter = counter + 1
  local sep = string.find(wrk.path, "?", 1, true) and "&" or "?"
  return wrk.format(nil, wrk.path .. sep .. "_bust=" .. run .. "-" .. tostring(tid) .. "-" .. counter)
end
"""

WRK_SCRIPT = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {\"requests\":%d,\"duration_us\":%d,\"bytes\":%d,\"connect\":%d,\"read\":%d,\"write\":%d," ..
    "\"status\":%d,\"timeout\":%d,\"p50\":%d,\"p95\":%d,\"p99\":%d,\"max\":%d}\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
"""


# --- the server -----------------------------------------------------------------------------


class Server:
    """`datasette serve` in its own process group on 127.0.0.1; stop() kills the group, idempotent."""

    def __init__(self, db_path, port, log_path):
        self.cmd = serve.datasette_command(db_path, host="127.0.0.1", port=port)
        self.base = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self.proc = None

    def start(self):
        with open(self.log_path, "wb") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(self.cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)

    def wait_ready(self, timeout=60):
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                if httpx.get(self.base + "/-/versions.json", timeout=2).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        tail = Path(self.log_path).read_text(errors="replace")[-2000:]
        raise RuntimeError(f"server did not become ready (exit code {self.proc.poll()}):\n{tail}")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def memory(self):
        """(current RSS, peak RSS) of the server process in MB, from /proc (None elsewhere)."""
        try:
            status = Path(f"/proc/{self.proc.pid}/status").read_text()
        except OSError:
            return None, None
        kb = {k: int(v.split()[0]) for k, v in re.findall(r"^(VmRSS|VmHWM):\s+(.*)$", status, re.MULTILINE)}
        return kb.get("VmRSS", 0) / 1024, kb.get("VmHWM", 0) / 1024

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue


# --- load generators ------------------------------------------------------------------------


def run_wrk(url, duration, connections, threads, script_path):
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--timeout", "15s",
           "-s", script_path, url]  # the script adds _bust to each request when it is the cold one
    out = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=duration + 60)
    m = re.search(r"^WRKJSON (\{.*\})$", out.stdout, re.MULTILINE)
    if not m:
        raise RuntimeError(f"wrk gave no summary (exit {out.returncode}): {out.stdout[-500:]} {out.stderr[-500:]}")
    s = json.loads(m.group(1))
    seconds = s["duration_us"] / 1e6
    return {
        "requests": s["requests"], "rps": s["requests"] / seconds if seconds else 0.0,
        "p50": s["p50"] / 1000, "p95": s["p95"] / 1000, "p99": s["p99"] / 1000, "max": s["max"] / 1000,
        # wrk counts a response as a status error when its status is over 399; the preflight checks
        # every target answers 200 without a redirect, so this is the non-2xx count.
        "non2xx": s["status"], "socket": s["connect"] + s["read"] + s["write"] + s["timeout"],
        "mb": s["bytes"] / 1e6,
    }


def percentile(sorted_values, p):
    if not sorted_values:
        return 0.0
    k = max(0, min(len(sorted_values) - 1, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


# One counter for the whole process: every cold request of every run is a new URL (see WRK_BUST).
BUST_SERIAL = itertools.count()


async def _python_load(url, duration, connections, bust=False):
    import httpx

    sep = "&" if "?" in url else "?"

    latencies, counts = [], {"non2xx": 0, "socket": 0, "bytes": 0}
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=15, headers=READER) as client:
        started = time.perf_counter()
        deadline = started + duration

        async def worker():
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                try:
                    r = await client.get(f"{url}{sep}_bust={os.getpid()}-{next(BUST_SERIAL)}" if bust else url)
                except httpx.HTTPError:
                    counts["socket"] += 1
                    continue
                latencies.append((time.perf_counter() - t0) * 1000)
                counts["bytes"] += len(r.content)
                if not 200 <= r.status_code < 300:
                    counts["non2xx"] += 1

        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    n = len(latencies) + counts["socket"]
    return {
        "requests": n, "rps": len(latencies) / elapsed, "p50": percentile(latencies, 50),
        "p95": percentile(latencies, 95), "p99": percentile(latencies, 99),
        "max": latencies[-1] if latencies else 0.0, "non2xx": counts["non2xx"], "socket": counts["socket"],
        "mb": counts["bytes"] / 1e6,
    }


def run_python(url, duration, connections, threads, script_path):
    return asyncio.run(_python_load(url, duration, connections, bust=script_path.endswith("bust.lua")))


# --- the hostile client ---------------------------------------------------------------------


class Hostile:
    """`clients` threads sending the hostile queries back to back through /287g.json?sql= until stopped."""

    def __init__(self, base, queries, clients=1):
        self.base, self.queries, self.clients = base, queries, clients
        self.results = []  # (name, status, seconds, stopped_message)
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.threads = []

    def _run(self, offset):
        import httpx

        # The hostile clients stand for other machines: their own Python CPU (building requests,
        # reading 429s) runs at the lowest priority, so it is not charged to the server's pages.
        # What the server does for them (nginx's 429s, the SQL process) runs as in production.
        # Linux applies setpriority with a thread id to that thread alone.
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        names = list(self.queries)
        i = offset
        with httpx.Client(timeout=120) as client:
            while not self.stop_event.is_set():
                name = names[i % len(names)]
                i += 1
                t0 = time.perf_counter()
                try:
                    r = client.get(f"{self.base}/{DB}.json", params={"sql": self.queries[name]})
                    status, text = r.status_code, r.text
                except httpx.HTTPError as e:
                    status, text = f"socket:{type(e).__name__}", ""
                with self.lock:
                    self.results.append((name, status, time.perf_counter() - t0, stopped(status, text)))
                if status == 429:
                    time.sleep(0.1)  # an eager script: retries ten times a second while refused

    def start(self):
        for k in range(self.clients):
            t = threading.Thread(target=self._run, args=(k,), daemon=True)
            t.start()
            self.threads.append(t)
        time.sleep(0.3)  # let the first hostile queries reach the SQL threads

    def stop(self):
        self.stop_event.set()
        for t in self.threads:
            t.join(150)


def stopped(status, text):
    """Refused by the rate limit (429), or an error naming the time limit."""
    return status == 429 or (status != 200 and bool(STOPPED_RE.search(text)))


def probe(base, sql):
    import httpx

    t0 = time.perf_counter()
    try:
        r = httpx.get(f"{base}/{DB}.json", params={"sql": sql}, timeout=120)
        status, text = r.status_code, r.text
    except httpx.HTTPError as e:
        status, text = f"socket:{type(e).__name__}", ""
    return status, time.perf_counter() - t0, stopped(status, text), text


# --- report ---------------------------------------------------------------------------------


def table(headers, rows):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    print(line(headers))
    print(line(["-" * w for w in widths]))
    for r in rows:
        print(line(r))


def load_rows(results, base_rps):
    base_rps = base_rps or 1
    ms = lambda r, k: f"{r[k]:.0f}" if r["requests"] else "none done"
    return [
        [name, f"{r['rps']:.1f}", ms(r, "p50"), ms(r, "p95"), ms(r, "p99"), r["non2xx"], r["socket"],
         r["requests"], f"{r['rps'] / base_rps:.3f}"]
        for name, r in results.items()
    ]


LOAD_HEADERS = ["target", "req/s", "p50 ms", "p95 ms", "p99 ms", "non-2xx", "sock err", "requests", "x direct facets"]


def hostile_rows(results, limit_s):
    rows = []
    for name in dict.fromkeys(n for n, *_ in results):
        mine = [r for r in results if r[0] == name]
        times = sorted(t for _, _, t, _ in mine)
        statuses = ",".join(f"{s}x{sum(1 for r in mine if r[1] == s)}" for s in sorted({r[1] for r in mine}, key=str))
        limited = sum(1 for _, s, _, _ in mine if s == 429)
        timed_out = sum(1 for _, s, _, ok in mine if ok and s != 429)
        in_time = sum(1 for *_, t, _ in mine if t <= 2 * limit_s)
        rows.append([name, len(mine), statuses, f"{times[0]:.2f}", f"{percentile(times, 50):.2f}", f"{times[-1]:.2f}",
                     limited, timed_out, f"{limited + timed_out}/{len(mine)}", f"{in_time}/{len(mine)}"])
    return rows


# "rate limit": answered 429 by nginx; "time limit": an error status whose body names the time
# limit ("SQL query took too long"); "<= 2x limit": answered within twice the time limit,
# waiting for a free SQL thread included.
HOSTILE_HEADERS = ["hostile query", "sent", "status x n", "min s", "median s", "max s", "rate limit", "time limit",
                   "stopped", "<= 2x limit"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", type=Path, default=ROOT / "build" / "287g.db")
    ap.add_argument("--duration", type=int, default=8, help="seconds per target per run")
    ap.add_argument("--connections", type=int, default=4, help="direct and cold runs")
    ap.add_argument("--warm-connections", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1, help="wrk threads (the servers need the other core)")
    ap.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    ap.add_argument("--floods", default="3,10", help="hostile client counts for phase 2 ('' to skip)")
    ap.add_argument("--target", action="append", default=[], metavar="NAME=PATH",
                    help="add or replace a target (e.g. a page another branch adds)")
    ap.add_argument("--no-single-value", action="store_true", help="skip phase 3")
    args = ap.parse_args()

    wrk = shutil.which("wrk")
    if args.loadgen == "wrk" and not wrk:
        sys.exit("wrk is not installed (apt-get install -y wrk), or use --loadgen python")
    use_wrk = args.loadgen == "wrk" or (args.loadgen == "auto" and wrk)
    loadgen = run_wrk if use_wrk else run_python

    db_path = args.db.resolve()
    if not db_path.exists():
        print(f"{db_path} is missing: building it", flush=True)
        subprocess.run([sys.executable, "-m", "open287g.cli", "build", "--out", str(db_path)], cwd=ROOT, check=True)
    serve.prepare(db_path)

    import sqlite3

    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    agreement_id, agency_id = conn.execute("select id, agency_id from agreements order by seq limit 1").fetchone()
    sizes = {t: conn.execute(f"select count(*) from {t}").fetchone()[0] for t in ("listings", "agreements", "agencies")}
    conn.close()

    map_json = "?_size=max&_labels=on&_extra=count&_extra=next_url&_shape=objects"
    facets = "agreements + 3 facets"
    targets = {
        "/-/versions.json (no SQL)": "/-/versions.json",
        "home page": "/",
        facets: f"/{DB}/agreements?_facet=state_code&_facet=model&_facet=status",
        "agreement row page": f"/{DB}/agreements/{agreement_id}",
        "agency page": f"/{DB}/agencies/{agency_id}",
        "state page TX": f"/{DB}/states/TX",
        "county map": "/county-map",  # issue 9's: the county map drawn server-side, its data inside
        "canned as_of 2026-03-27": f"/{DB}/as_of?date=2026-03-27",
        "map JSON agreements_map": f"/{DB}/agreements_map.json{map_json}",
        "map JSON agencies_map": f"/{DB}/agencies_map.json{map_json}",
        "CSV agreements stream": f"/{DB}/agreements.csv?_stream=on&_size=max",
    }
    for spec in args.target:
        name, _, path = spec.partition("=")
        targets[name.strip()] = path.strip() or None
    missing = [name for name, path in targets.items() if not path]
    targets = {name: path for name, path in targets.items() if path}
    flood_names = ["/-/versions.json (no SQL)", facets, "agreement row page", "map JSON agencies_map"]

    tmp = Path(tempfile.mkdtemp(prefix="bench_load_"))
    plain, bust = str(tmp / "summary.lua"), str(tmp / "bust.lua")
    Path(plain).write_text(WRK_SCRIPT)
    Path(bust).write_text(WRK_BUST + WRK_SCRIPT)
    direct = Server(db_path, free_port(), tmp / "server.log")
    layout = prod.Layout(db_path, tmp / "prod", port=free_port())

    def on_term(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    try:
        import httpx

        direct.start()
        t0 = time.perf_counter()
        direct.wait_ready()
        ready_s = time.perf_counter() - t0
        layout.start()
        settings = httpx.get(direct.base + "/-/settings.json").json()
        versions = httpx.get(direct.base + "/-/versions.json").json()
        nginx_version = subprocess.run([prod.find_nginx(), "-v"], capture_output=True, text=True).stderr.strip()
        lg = (subprocess.run(["wrk", "--version"], check=False, capture_output=True, text=True).stdout.split("\n")[0].strip()
              if use_wrk else f"Python asyncio + httpx {httpx.__version__} load generator (wrk not used)")
        sql_limit_ms = serve.SQL_SETTINGS["sql_time_limit_ms"]
        print(f"# bench_load  {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
        print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}; "
              f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(f"direct: datasette {versions['datasette']['version']}, sqlite {versions['sqlite']['version']}, "
              f"python {versions['python']['version']} at {direct.base} (ready in {ready_s:.1f} s); "
              f"sql_time_limit_ms={settings['sql_time_limit_ms']} num_sql_threads={settings['num_sql_threads']} "
              f"suggest_facets={settings['suggest_facets']}")
        print(f"proxied: {nginx_version} at {layout.base}, cache keyed on the database sha256; typed SQL in its own "
              f"Datasette (sql_time_limit_ms={sql_limit_ms}, num_sql_threads={serve.SQL_SETTINGS['num_sql_threads']}, "
              f"started as {' '.join(prod.SQL_PRIORITY)}); nginx limits {prod.SQL_LIMITS}")
        print(f"database: {db_path} ({db_path.stat().st_size / 1e6:.1f} MB; listings {sizes['listings']:,}, "
              f"agreements {sizes['agreements']:,}, agencies {sizes['agencies']:,})")
        print(f"load generator: {lg}; {args.threads if use_wrk else 1} thread(s), {args.duration} s per target; "
              f"direct and cold {args.connections} connections, warm {args.warm_connections}")
        if missing:
            print(f"targets not on this branch (slots left for them): {', '.join(missing)}")
        print()

        print("## preflight (one request each, direct and through the proxy twice: MISS then HIT)")
        pre = []
        for name, path in targets.items():
            t = time.perf_counter()
            r = httpx.get(direct.base + path, timeout=60, headers=READER)
            ms = (time.perf_counter() - t) * 1000
            cache = [httpx.get(layout.base + path, timeout=60, headers=READER) for _ in range(2)]
            if r.status_code != 200 or any(c.status_code != 200 for c in cache):
                raise RuntimeError(f"{name}: {path} answered {r.status_code} direct, {[c.status_code for c in cache]} proxied")
            pre.append([name, r.status_code, f"{len(r.content) / 1000:.0f} kB", f"{ms:.0f}",
                        "/".join(c.headers.get("x-cache-status", "-") for c in cache), path])
        table(["target", "status", "size", "direct ms", "proxy cache", "path"], pre)
        print()

        def run_all(base, connections, script, names=targets):
            return {name: loadgen(base + targets[name], args.duration, connections, args.threads, script) for name in names}

        print("## phase 1: normal load, one target at a time")
        runs = {
            "direct": run_all(direct.base, args.connections, plain),
            "proxied cold": run_all(layout.base, args.connections, bust),
            "proxied warm": run_all(layout.base, args.warm_connections, plain),
        }
        base_rps = runs["direct"][facets]["rps"]
        for mode, results in runs.items():
            conns = args.warm_connections if mode == "proxied warm" else args.connections
            print(f"### {mode} ({conns} connections)")
            table(LOAD_HEADERS, load_rows(results, base_rps))
            print()
        rss, peak = direct.memory()
        print(f"direct server RSS {rss:.0f} MB, peak {peak:.0f} MB")
        print()
        warm = runs["proxied warm"]
        pages = [n for n in targets if not n.startswith("/-/")]
        print(f"warm cache vs direct faceted agreements page ({base_rps:.1f} req/s, p95 "
              f"{runs['direct'][facets]['p95']:.0f} ms at {args.connections} connections):")
        table(["target", "warm req/s", "x direct facets", "warm p95 ms", "p95 < 50 ms", ">= 50x"],
              [[n, f"{warm[n]['rps']:.0f}", f"{warm[n]['rps'] / (base_rps or 1):.0f}", f"{warm[n]['p95']:.1f}",
                "yes" if warm[n]["p95"] < 50 else "NO", "yes" if warm[n]["rps"] >= 50 * base_rps else "NO"] for n in pages])
        print()

        all_hostile = []
        floods = [int(x) for x in args.floods.split(",") if x.strip()]
        modes = (("proxied cold", args.connections, bust), ("proxied warm", args.warm_connections, plain))
        for clients in floods:
            print(f"## phase 2: flood, {clients} hostile clients through the proxy's ?sql= back to back, "
                  f"while readers load {len(flood_names)} targets")
            print("(each target is run calm and then under the flood, back to back, so the machine's other load "
                  "falls on both alike)")
            calm, flooded, results = {m: {} for m, *_ in modes}, {m: {} for m, *_ in modes}, []
            for mode, conns, script in modes:
                for n in flood_names:
                    url = layout.base + targets[n]
                    calm[mode][n] = loadgen(url, args.duration, conns, args.threads, script)
                    hostile = Hostile(layout.base, HOSTILE, clients=clients)
                    hostile.start()
                    try:
                        flooded[mode][n] = loadgen(url, args.duration, conns, args.threads, script)
                    finally:
                        hostile.stop()
                    results += hostile.results
            for mode, *_ in modes:
                print(f"### {mode} under the flood")
                table(LOAD_HEADERS, load_rows(flooded[mode], base_rps))
                print()
            rows = []
            for mode, *_ in modes:
                for n in flood_names:
                    c, hit = calm[mode][n], flooded[mode][n]
                    ratio = hit["p95"] / max(c["p95"], 0.001)
                    errors = hit["non2xx"] + hit["socket"]
                    rows.append([f"{mode}: {n}", f"{c['rps']:.1f}", f"{hit['rps']:.1f}", f"{c['p95']:.1f}",
                                 f"{hit['p95']:.1f}", f"{ratio:.2f}", errors, "yes" if ratio <= 2 and not errors else "NO"])
            table(["target", "req/s calm", "req/s flood", "p95 calm ms", "p95 flood ms", "x", "errors",
                   "within 2x, 0 errors"], rows)
            print()
            print(f"hostile queries (SQL process sql_time_limit_ms = {sql_limit_ms}):")
            table(HOSTILE_HEADERS, hostile_rows(results, sql_limit_ms / 1000))
            print(f"all processes alive: {not layout.dead()}")
            print()
            all_hostile += results

        if not args.no_single_value:
            print("## phase 3: single-value queries (one SQLite step) through the proxy, one at a time, no other load")
            time.sleep(3)  # a full rate-limit bucket
            rows = []
            for name, sql in SINGLE_VALUE.items():
                status, seconds, _, text = probe(layout.base, sql)
                verdict = "refused" if status != 200 and seconds <= 2 * sql_limit_ms / 1000 else "NOT STOPPED"
                error = ""
                if text.startswith("{"):
                    error = json.loads(text).get("error") or ""
                rows.append([name, status, f"{seconds:.2f}", verdict, error[:60]])
                time.sleep(1)
            table(["query", "status", "seconds", "verdict", "error"], rows)
            print()

        print(f"## after (load average {' '.join(f'{x:.2f}' for x in os.getloadavg())})")
        r = httpx.get(layout.base + "/-/versions.json", timeout=10)
        time.sleep(2)
        r2 = httpx.get(layout.base + f"/{DB}.json", params={"sql": "select count(*) from agreements"}, timeout=10)
        print(f"/-/versions.json -> {r.status_code}; select count(*) from agreements -> {r2.status_code} "
              f"{r2.json().get('rows') if r2.status_code == 200 else r2.text[:80]}; processes exited: {layout.dead() or 'none'}")
        stopped_n = sum(1 for x in all_hostile if x[3])
        print(f"hostile queries in phase 2: {len(all_hostile)} sent, {stopped_n} stopped (rate limit or time limit), "
              f"{sum(1 for x in all_hostile if x[1] == 200)} answered 200")
        return 0 if r.status_code == 200 and not layout.dead() else 1
    finally:
        layout.stop()
        direct.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted: servers stopped", file=sys.stderr)
        sys.exit(130)
