"""Runs the production layout on one machine: reads the built database, writes nginx's config, sockets, cache and logs under a run directory.

nginx (Debian's) listens on host:port and caches every page, JSON and CSV under a key that starts
with the database's sha256. Behind it, two Datasette processes open the same immutable file on
Unix sockets: `pages` (serve.SETTINGS) answers everything except typed SQL, and `sql`
(serve.SQL_SETTINGS: 1 s limit, its own SQL thread, idle CPU priority) answers ?sql= and _where,
behind nginx's per-client rate limit and connection caps. `open287g serve --prod`, the tests and
scripts/bench_load.py run it from here; `open287g publish` renders the same nginx.conf for the
Docker image.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import BUILD, serve
from .files import atomic_write, file_sha256

NGINX_TEMPLATE = Path(__file__).resolve().parent / "nginx.conf"
DEFAULT_RUN_DIR = BUILD / "prod"
NGINX_CANDIDATES = ("/usr/sbin/nginx", "/usr/bin/nginx")
# Typed SQL per client address: a person typing queries never comes near these; a script does.
SQL_LIMITS = {"SQL_RATE": 2, "SQL_BURST": 4, "SQL_CONN_PER_CLIENT": 2, "SQL_CONN_ALL": 4}
# The SQL process runs only on CPU time nothing else wants (SCHED_IDLE, and the lowest nice for
# systems without it): a flood of typed SQL cannot slow pages, and a query starved of CPU simply
# meets its time limit. The same prefix runs it in the Docker image (util-linux's chrt).
SQL_PRIORITY = ["chrt", "--idle", "0", "nice", "-n", "19"]


class LayoutError(RuntimeError):
    """The layout cannot start; the message is one line."""


def nginx_path():
    """Debian's nginx (sbin is not on every user's PATH), or None."""
    return shutil.which("nginx") or next((p for p in NGINX_CANDIDATES if os.access(p, os.X_OK)), None)


def find_nginx():
    found = nginx_path()
    if not found:
        raise LayoutError("nginx is not installed: apt-get install nginx-light (see .ci/run)")
    return found


def render_nginx_conf(run_dir, listen, db_hash, as_root=False):
    """nginx.conf from the one template: the run directory, the listen address and the database hash."""
    # Started as root, nginx's workers would become `nobody` and lose the private run directory;
    # started as anyone else (the image runs as nobody) they stay that user.
    values = {"RUN": str(run_dir), "LISTEN": listen, "DB_HASH": db_hash, "DB_HASH_SHORT": db_hash[:12],
              "USER": "user root;" if as_root else "",
              **{k: str(v) for k, v in SQL_LIMITS.items()}}
    text = NGINX_TEMPLATE.read_text(encoding="utf-8")
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    return text


def make_run_dir(run_dir):
    for sub in ("tmp", "cache"):
        (Path(run_dir) / sub).mkdir(parents=True, exist_ok=True)


@dataclass
class Layout:
    """nginx in front of the pages and SQL Datasette processes; start() waits until all answer, stop() ends all."""

    db_path: Path
    run_dir: Path = DEFAULT_RUN_DIR
    host: str = "127.0.0.1"
    port: int = 8001
    procs: dict = field(default_factory=dict)

    @property
    def base(self):
        return f"http://{self.host}:{self.port}"

    def sock(self, name):
        return Path(self.run_dir) / f"{name}.sock"

    def start(self, timeout=60):
        self.db_path, self.run_dir = Path(self.db_path).resolve(), Path(self.run_dir).resolve()
        nginx = find_nginx()
        _check_port_free(self.host, self.port)
        serve.prepare(self.db_path)
        make_run_dir(self.run_dir)
        conf = self.run_dir / "nginx.conf"
        conf.write_text(render_nginx_conf(self.run_dir, f"{self.host}:{self.port}", file_sha256(self.db_path),
                                         as_root=os.geteuid() == 0))
        for name, settings in (("pages", serve.SETTINGS), ("sql", serve.SQL_SETTINGS)):
            self.sock(name).unlink(missing_ok=True)
            cmd = serve.datasette_command(self.db_path, uds=self.sock(name), settings=settings)
            if name == "sql":
                cmd = SQL_PRIORITY + cmd
            self._spawn(name, cmd, env=dict(os.environ, OPEN287G_ROLE=name))
        try:
            for name in ("pages", "sql"):
                self._wait(name, timeout, lambda n=name: _get_uds(self.sock(n), "/-/versions.json"))
            self._spawn("nginx", [nginx, "-p", str(self.run_dir), "-c", str(conf), "-e", str(self.run_dir / "nginx-error.log")])
            self._wait("nginx", timeout, lambda: _get_tcp(self.base + "/-/versions.json"))
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, name, cmd, env=None):
        log = open(self.run_dir / f"{name}.log", "wb")
        with log:  # the child keeps its own copy of the descriptor
            self.procs[name] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                                env=env, start_new_session=True)

    def _wait(self, name, timeout, ready):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.procs[name].poll() is not None:
                break
            if ready():
                return
            time.sleep(0.1)
        tail = (self.run_dir / f"{name}.log").read_text(errors="replace").strip().splitlines()[-3:]
        raise LayoutError(f"{name} did not start (exit code {self.procs[name].poll()}): {' | '.join(tail)}")

    def dead(self):
        """Names of processes that have exited."""
        return [name for name, p in self.procs.items() if p.poll() is not None]

    def stop(self):
        for name in ("nginx", "sql", "pages"):
            proc = self.procs.pop(name, None)
            if proc is None or proc.poll() is not None:
                continue
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    proc.wait(10)
                    break
                except subprocess.TimeoutExpired:
                    continue

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def free_port(host="127.0.0.1"):
    """A TCP port nothing listens on now (for tests and benchmarks)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _check_port_free(host, port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError as e:
            raise LayoutError(f"{host}:{port} is in use ({e.strerror}): stop what runs there or pass another --port") from None


def _get_uds(sock, path):
    import httpx

    try:
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(sock)), timeout=2) as client:
            return client.get("http://localhost" + path).status_code == 200
    except httpx.HTTPError:
        return False


def _get_tcp(url):
    import httpx

    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def serve_prod(db_path, host="127.0.0.1", port=8001, run_dir=DEFAULT_RUN_DIR):
    """Run the layout until interrupted or until one of its processes exits; returns an exit code."""
    layout = Layout(Path(db_path), Path(run_dir), host, port)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # so `finally` stops the children
    try:
        layout.start()
    except (LayoutError, FileNotFoundError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"serving {layout.db_path} at {layout.base}/ (nginx cache in front of the pages and SQL Datasette processes; "
          f"logs in {layout.run_dir})", file=sys.stderr, flush=True)
    try:
        while not layout.dead():
            time.sleep(0.5)
        print(f"error: {', '.join(layout.dead())} exited; stopping the layout (logs in {layout.run_dir})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        layout.stop()
