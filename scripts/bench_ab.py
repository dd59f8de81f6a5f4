"""One page served direct by two checkouts of the project on the same database, wrk runs interleaved; prints figures.

    python scripts/bench_ab.py --before 932aaa7                     # the faceted agreements page
    python scripts/bench_ab.py --before 932aaa7 --path /287g/as_of?date=2026-03-27 --rounds 5

"before" is `git worktree add` of the given commit in a temporary folder; "after" is this checkout.
Both serve build/287g.db (built first when missing) exactly as their own `open287g serve` would,
with their own metadata, templates and plugins, through this checkout's virtualenv. The two servers
take turns, one wrk run each per round (4 connections, 1 thread), so the machine's other load falls
on both alike. Needs wrk (apt-get install -y wrk) and git.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from open287g.prod import free_port  # noqa: E402

FACETED = "/287g/agreements?_facet=state_code&_facet=model&_facet=status"


def start(checkout, db_path, port):
    """`datasette serve` as that checkout's open287g.serve builds the command; waits until it answers."""
    import httpx

    env = dict(os.environ, PYTHONPATH=str(checkout))
    served = Path(checkout) / "build" / "287g.db"
    if served.resolve() != db_path.resolve():
        served.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(db_path, served)
    code = (f"import json; from open287g import serve; serve.prepare({str(served)!r}); "
            f"print(json.dumps(serve.datasette_command({str(served)!r}, port={port})))")
    cmd = json.loads(subprocess.run([sys.executable, "-c", code], cwd=checkout, env=env, capture_output=True,
                                    text=True, check=True).stdout)
    proc = subprocess.Popen(cmd, cwd=checkout, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/-/versions.json", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGTERM)
    raise SystemExit(f"{checkout}: the server did not start")


def wrk(url, seconds, connections):
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    latency = {p: v for p, v in re.findall(r"^\s+(\d+)%\s+(\S+)", out, re.MULTILINE)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), latency, int(errors.group(1)) if errors else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--before", required=True, help="a commit of this repository")
    ap.add_argument("--path", default=FACETED)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--db", type=Path, default=ROOT / "build" / "287g.db")
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install -y wrk)")
    if not args.db.exists():
        subprocess.run([sys.executable, "-m", "open287g.cli", "build", "--out", str(args.db)], cwd=ROOT, check=False)
    tmp = Path(tempfile.mkdtemp(prefix="bench_ab_"))
    before = tmp / "before"
    subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(before), args.before], cwd=ROOT, check=True)
    procs = []
    try:
        ports = {f"before {args.before}": free_port(), "after (this checkout)": free_port()}
        procs.append(start(before, args.db, ports[f"before {args.before}"]))
        procs.append(start(ROOT, args.db, ports["after (this checkout)"]))
        print(f"# bench_ab {time.strftime('%Y-%m-%d %H:%M %Z')}: {args.path}, {args.rounds} rounds of "
              f"{args.seconds} s, {args.connections} connections; load average {os.getloadavg()[0]:.2f}")
        runs = {name: [] for name in ports}
        for _ in range(args.rounds):
            for name, port in ports.items():
                rps, latency, errors = wrk(f"http://127.0.0.1:{port}{args.path}", args.seconds, args.connections)
                runs[name].append(rps)
                print(f"{name:<24} {rps:7.1f} req/s  p50 {latency.get('50')}  p90 {latency.get('90')}  "
                      f"p99 {latency.get('99')}  non-2xx {errors}", flush=True)
        b, a = (sum(v) / len(v) for v in runs.values())
        print(f"mean throughput: before {b:.1f} req/s, after {a:.1f} req/s: {a / b:.2f}x")
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGTERM)
        subprocess.run(["git", "worktree", "remove", "--force", str(before)], cwd=ROOT, check=False)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
