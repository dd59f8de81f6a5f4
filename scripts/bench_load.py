"""Load-test the real Datasette server on the built database, then again under a hostile SQL client; prints figures.

    python scripts/bench_load.py                      # wrk when installed, else the Python load generator
    python scripts/bench_load.py --duration 5         # shorter runs
    python scripts/bench_load.py --loadgen python     # force the asyncio + httpx load generator

Starts `datasette serve` exactly as `open287g serve` does (open287g.serve.datasette_command) on
127.0.0.1 and a free port against build/287g.db (built first when missing), and always stops it.

Phase 1, normal load: each target in turn for --duration seconds with --connections keep-alive
connections; requests/s, p50/p95/p99 latency, non-2xx responses and socket errors (connect, read,
write, time-out), and each target's throughput as a ratio to Datasette's own /-/versions.json.
Phase 2, the same load while one hostile client sends expensive SQL through ?sql= back to back:
every hostile query must be stopped by sql_time_limit_ms (an error status naming the time limit).
Phase 3, flood: as many hostile clients as Datasette has SQL threads, on two targets.
Phase 4, single-value probes: one huge value computed in one SQLite step, which the time limit
(checked between steps) cannot stop. Finally the server must still answer /-/versions.json.

This is a benchmark, not a test; tests/test_hostile_sql.py holds the assertions.
"""
import argparse
import asyncio
import datetime
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from open287g import serve
from open287g.hostile_sql import HOSTILE

DB = "287g"
NUM_SQL_THREADS = 3  # Datasette's default; open287g.serve.SETTINGS leaves it unset

# One value built inside a single SQLite step: the progress handler behind the time limit only runs
# between steps, so these run to completion whatever sql_time_limit_ms says.
SINGLE_VALUE = {
    "randomblob(900 MB)": "select length(randomblob(900000000))",
    "printf 900 MB": "select length(printf('%.*c', 900000000, 'x'))",
}
STOPPED_RE = re.compile(r"took too long|interrupted", re.IGNORECASE)

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


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
           "-s", script_path, url]
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


async def _python_load(url, duration, connections):
    import httpx

    latencies, counts = [], {"non2xx": 0, "socket": 0, "bytes": 0}
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=15) as client:
        started = time.perf_counter()
        deadline = started + duration

        async def worker():
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                try:
                    r = await client.get(url)
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
    return asyncio.run(_python_load(url, duration, connections))


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
                    self.results.append((name, status, time.perf_counter() - t0, bool(STOPPED_RE.search(text))))

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


def probe(base, sql):
    import httpx

    t0 = time.perf_counter()
    try:
        r = httpx.get(f"{base}/{DB}.json", params={"sql": sql}, timeout=120)
        status, text = r.status_code, r.text
    except httpx.HTTPError as e:
        status, text = f"socket:{type(e).__name__}", ""
    return status, time.perf_counter() - t0, bool(STOPPED_RE.search(text)), text


# --- report ---------------------------------------------------------------------------------


def table(headers, rows):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    print(line(headers))
    print(line(["-" * w for w in widths]))
    for r in rows:
        print(line(r))


def load_rows(results, baseline_name):
    base_rps = results[baseline_name]["rps"] or 1
    ms = lambda r, k: f"{r[k]:.0f}" if r["requests"] else "none done"
    return [
        [name, f"{r['rps']:.1f}", ms(r, "p50"), ms(r, "p95"), ms(r, "p99"), r["non2xx"], r["socket"],
         r["requests"], f"{r['rps'] / base_rps:.3f}"]
        for name, r in results.items()
    ]


LOAD_HEADERS = ["target", "req/s", "p50 ms", "p95 ms", "p99 ms", "non-2xx", "sock err", "requests", "x versions"]


def hostile_rows(results, limit_s):
    rows = []
    for name in dict.fromkeys(n for n, *_ in results):
        mine = [r for r in results if r[0] == name]
        times = sorted(t for _, _, t, _ in mine)
        statuses = ",".join(f"{s}x{sum(1 for r in mine if r[1] == s)}" for s in sorted({r[1] for r in mine}, key=str))
        stopped = sum(1 for _, s, _, msg in mine if s != 200 and msg)
        in_time = sum(1 for *_, t, _ in mine if t <= 2 * limit_s)
        rows.append([name, len(mine), statuses, f"{times[0]:.2f}", f"{percentile(times, 50):.2f}", f"{times[-1]:.2f}",
                     f"{stopped}/{len(mine)}", f"{in_time}/{len(mine)}"])
    return rows


# "time-limit error": an error status whose body names the time limit ("SQL query took too long");
# "<= 2x limit": answered within twice sql_time_limit_ms, waiting for a free SQL thread included.
HOSTILE_HEADERS = ["hostile query", "sent", "status x n", "min s", "median s", "max s", "time-limit error", "<= 2x limit"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", type=Path, default=ROOT / "build" / "287g.db")
    ap.add_argument("--duration", type=int, default=12, help="seconds per target per phase")
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1, help="wrk threads (the server needs the other core)")
    ap.add_argument("--loadgen", choices=("auto", "wrk", "python"), default="auto")
    ap.add_argument("--flood-duration", type=int, default=12, help="seconds per target in phase 3 (0 to skip)")
    ap.add_argument("--no-single-value", action="store_true", help="skip phase 4 (allocates ~1 GB in the server)")
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
    agreement_id = conn.execute("select id from agreements order by seq limit 1").fetchone()[0]
    sizes = {t: conn.execute(f"select count(*) from {t}").fetchone()[0] for t in ("listings", "agreements", "agencies")}
    conn.close()

    targets = {
        "/-/versions.json (baseline)": "/-/versions.json",
        "agreements + 3 facets": f"/{DB}/agreements?_facet=state_code&_facet=model&_facet=status",
        "agreement row page": f"/{DB}/agreements/{agreement_id}",
        "canned as_of 2026-03-27": f"/{DB}/as_of?date=2026-03-27",
        "map JSON agreements_map": f"/{DB}/agreements_map.json?_size=max&_labels=on&_extra=count&_extra=next_url&_shape=objects",
        "map JSON agencies_map": f"/{DB}/agencies_map.json?_size=max&_labels=on&_extra=count&_extra=next_url&_shape=objects",
        "CSV agreements stream": f"/{DB}/agreements.csv?_stream=on&_size=max",
    }
    baseline = next(iter(targets))
    limit_ms = serve.SETTINGS["sql_time_limit_ms"]

    tmp = Path(tempfile.mkdtemp(prefix="bench_load_"))
    script_path = str(tmp / "summary.lua")
    Path(script_path).write_text(WRK_SCRIPT)
    server = Server(db_path, free_port(), tmp / "server.log")

    def on_term(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    try:
        import httpx

        server.start()
        t0 = time.perf_counter()
        server.wait_ready()
        ready_s = time.perf_counter() - t0
        settings = httpx.get(server.base + "/-/settings.json").json()
        versions = httpx.get(server.base + "/-/versions.json").json()
        lg = (subprocess.run(["wrk", "--version"], check=False, capture_output=True, text=True).stdout.split("\n")[0].strip()
              if use_wrk else f"Python asyncio + httpx {httpx.__version__} load generator (wrk not used)")
        print(f"# bench_load  {datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}")
        print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}; "
              f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(f"server: datasette {versions['datasette']['version']}, sqlite {versions['sqlite']['version']}, "
              f"python {versions['python']['version']} at {server.base} (ready in {ready_s:.1f} s)")
        print(f"settings: sql_time_limit_ms={settings['sql_time_limit_ms']} max_returned_rows={settings['max_returned_rows']} "
              f"facet_time_limit_ms={settings['facet_time_limit_ms']} num_sql_threads={settings['num_sql_threads']}")
        print(f"database: {db_path} ({db_path.stat().st_size / 1e6:.1f} MB; listings {sizes['listings']:,}, "
              f"agreements {sizes['agreements']:,}, agencies {sizes['agencies']:,})")
        print(f"load generator: {lg}; {args.connections} connections, {args.threads if use_wrk else 1} thread(s), "
              f"{args.duration} s per target")
        print()

        print("## preflight (one request each)")
        pre = []
        for name, path in targets.items():
            t = time.perf_counter()
            r = httpx.get(server.base + path, timeout=60)
            ms = (time.perf_counter() - t) * 1000
            if r.status_code != 200:
                raise RuntimeError(f"{name}: {path} answered {r.status_code}")
            pre.append([name, r.status_code, f"{len(r.content) / 1000:.0f} kB", f"{ms:.0f}", path])
        table(["target", "status", "size", "ms", "path"], pre)
        print()

        print("## phase 1: normal load, one target at a time")
        normal = {}
        for name, path in targets.items():
            normal[name] = loadgen(server.base + path, args.duration, args.connections, args.threads, script_path)
        table(LOAD_HEADERS, load_rows(normal, baseline))
        rss, peak = server.memory()
        print(f"server RSS {rss:.0f} MB, peak {peak:.0f} MB")
        print()

        print(f"## phase 2: the same load while 1 hostile client sends {len(HOSTILE)} queries through ?sql= back to back")
        hostile = Hostile(server.base, HOSTILE, clients=1)
        hostile.start()
        attacked = {}
        try:
            for name, path in targets.items():
                attacked[name] = loadgen(server.base + path, args.duration, args.connections, args.threads, script_path)
        finally:
            hostile.stop()
        table(LOAD_HEADERS, load_rows(attacked, baseline))
        print()
        table(["target", "p95 normal ms", "p95 attacked ms", "x", "req/s normal", "req/s attacked"],
              [[n, f"{normal[n]['p95']:.0f}", f"{attacked[n]['p95']:.0f}",
                f"{attacked[n]['p95'] / max(normal[n]['p95'], 0.001):.1f}",
                f"{normal[n]['rps']:.1f}", f"{attacked[n]['rps']:.1f}"] for n in targets])
        print()
        print(f"hostile queries (sql_time_limit_ms = {limit_ms}):")
        table(HOSTILE_HEADERS, hostile_rows(hostile.results, limit_ms / 1000))
        rss, peak = server.memory()
        print(f"server RSS {rss:.0f} MB, peak {peak:.0f} MB; alive: {server.alive()}")
        print()

        if args.flood_duration:
            n = settings.get("num_sql_threads", NUM_SQL_THREADS)
            print(f"## phase 3: flood, {n} hostile clients (one per SQL thread) back to back")
            flood_targets = {k: targets[k] for k in (baseline, "agreements + 3 facets", "agreement row page")}
            hostile3 = Hostile(server.base, HOSTILE, clients=n)
            hostile3.start()
            flooded = {}
            try:
                for name, path in flood_targets.items():
                    flooded[name] = loadgen(server.base + path, args.flood_duration, args.connections, args.threads,
                                            script_path)
            finally:
                hostile3.stop()
            table(LOAD_HEADERS, load_rows(flooded, baseline))
            print("(requests: responses completed within the run; \"none done\": not one in the whole run)")
            print()
            table(HOSTILE_HEADERS, hostile_rows(hostile3.results, limit_ms / 1000))
            print()

        if not args.no_single_value:
            print("## phase 4: single-value queries (one SQLite step), one at a time, no other load")
            rows = []
            for name, sql in SINGLE_VALUE.items():
                status, seconds, _, _ = probe(server.base, sql)
                stopped = status != 200 and seconds <= 2 * limit_ms / 1000
                rows.append([name, status, f"{seconds:.2f}", "stopped" if stopped else "NOT STOPPED by the time limit"])
            table(["query", "status", "seconds", "verdict"], rows)
            rss, peak = server.memory()
            print(f"server RSS {rss:.0f} MB, peak {peak:.0f} MB")
            print()

        print(f"## after (load average {' '.join(f'{x:.2f}' for x in os.getloadavg())})")
        r = httpx.get(server.base + "/-/versions.json", timeout=10)
        r2 = httpx.get(server.base + f"/{DB}.json", params={"sql": "select count(*) from agreements"}, timeout=10)
        print(f"/-/versions.json -> {r.status_code}; select count(*) from agreements -> {r2.status_code} "
              f"{r2.json().get('rows')}; server process alive: {server.alive()}")
        all_hostile = hostile.results + (hostile3.results if args.flood_duration else [])
        stopped = [x for x in all_hostile if x[1] != 200 and x[3]]
        in_time = [x for x in hostile.results if x[1] != 200 and x[3] and x[2] <= 2 * limit_ms / 1000]
        print(f"hostile queries in phases 2-3: {len(all_hostile)} sent, {len(stopped)} stopped with the time-limit "
              f"error; phase 2 (one hostile client): {len(in_time)}/{len(hostile.results)} within 2x {limit_ms} ms")
        return 0 if r.status_code == 200 and server.alive() else 1
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\ninterrupted: server stopped", file=sys.stderr)
        sys.exit(130)
