"""Shared fixtures: one real build of the snapshot of data/, made once per test session through the CLI;
and the guard that fails any test reading a workbook of the live data/ the snapshot does not hold."""
import fcntl
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
CLI = [sys.executable, "-m", "open287g.cli"]
SNAPSHOT = dict(line.split() for line in (Path(__file__).parent / "snapshot_files.txt").read_text().splitlines() if line and not line.startswith("#"))


LIVE_DATA = str(DATA) + os.sep
LIVE_ICE = str(DATA / "ice") + os.sep
_SNAPSHOT_PATHS = {LIVE_ICE + rel.replace("/", os.sep) for rel in SNAPSHOT}
_OPEN287G_DATA_COMMANDS = {"build", "fetch", "gates", "publish"}  # commands that read data/ unless given --data

# --- the snapshot guard --------------------------------------------------------------------
# Tests must not depend on what ICE publishes next: a test that opens a workbook of the live
# data/ outside tests/snapshot_files.txt, or starts an open287g build/fetch on the live data/,
# fails. (Workbooks are opened by path in this process, so an audit hook sees every open; a
# build runs in a subprocess, so its command line is checked instead.)
live_reads = []


def live_read(path, mode="r", flags=0):
    """The reason an open is off limits to tests, or None: a workbook under the live data/ice not in
    the snapshot, or any file under the live data/ opened for writing."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        return None  # a file descriptor
    text = os.fsdecode(path)
    if "data" not in text:
        return None  # the common case, decided without touching the file system
    full = os.path.abspath(text)
    writing = any(c in (mode or "") for c in "wax+") or flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
    if writing and full.startswith(LIVE_DATA):
        return f"opened {os.path.relpath(full, ROOT)} for writing: tests never change the live data/"
    if full.startswith(LIVE_ICE) and full.endswith(".xlsx") and full not in _SNAPSHOT_PATHS:
        return f"opened {os.path.relpath(full, ROOT)}, a workbook of the live data/ outside tests/snapshot_files.txt"
    return None


def live_command(args):
    """The reason a command line is off limits to tests, or None: open287g build/fetch on the live data/."""
    args = [os.fsdecode(a) for a in (args if isinstance(args, (list, tuple)) else [args])]
    if not any(a.endswith("open287g") or a == "open287g.cli" for a in args):
        return None
    command = next((a for a in args if a in _OPEN287G_DATA_COMMANDS), None)
    if command is None:
        return None
    live = {str(DATA), str(DATA / "ice"), os.path.relpath(DATA, ROOT)}
    if "--data" not in args:
        return f"ran `open287g {command}` without --data, so on the live data/ (use the snapshot_data fixture)"
    value = args[args.index("--data") + 1] if args.index("--data") + 1 < len(args) else ""
    if os.path.abspath(value).rstrip(os.sep) in live or value.rstrip(os.sep) in live:
        return f"ran `open287g {command} --data {value}`: the live data/ (use the snapshot_data fixture)"
    return None


def _audit(event, args):
    if event == "open":
        reason = live_read(*args)
    elif event == "subprocess.Popen":
        reason = live_command(args[1])
    else:
        return
    if reason:
        live_reads.append(reason)


sys.addaudithook(_audit)


def _fail_on_live_reads(item):
    found, live_reads[:] = list(dict.fromkeys(live_reads)), []
    if found and not item.get_closest_marker("live_data"):
        pytest.fail("reads the live data/ outside the snapshot: " + "; ".join(found[:3]), pytrace=False)


@pytest.hookimpl(wrapper=True)
def _guarded_phase(item):
    """Around a test's set-up (session fixtures build there) and its call."""
    live_reads.clear()
    result = yield
    _fail_on_live_reads(item)
    return result


pytest_runtest_setup = pytest_runtest_call = _guarded_phase


def pytest_collection_finish(session):
    if live_reads:
        raise pytest.UsageError("a test module reads the live data/ outside the snapshot at import: " + "; ".join(dict.fromkeys(live_reads)))


# The files in order of their time on a worker, longest first (measured with a timeline of `make test`), down to
# about 5 s: pytest-xdist starts the longest on the workers at once and the short ones fill in at the end, so the
# workers finish together. The other files keep their order.
LONGEST_FIRST = ("test_interrupted_builds.py", "test_replay.py", "test_build_failures.py", "test_prod.py", "test_datasette.py",
                 "test_identity_real.py", "test_browser_maps.py", "test_reader_pages.py", "test_browser_sources.py",
                 "test_publish.py", "test_browser.py", "test_hostile_workbooks.py", "test_browser_spanish.py",
                 "test_hostile_sql.py", "test_browser_find.py", "test_gates.py", "test_reader_site.py", "test_moa.py",
                 "test_browser_where.py", "test_find.py")


def pytest_collection_modifyitems(items):
    def rank(item):
        name = item.path.name
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)


# Tables a test wants shown after the run (the replay's day-by-day outcome), whatever the -q/-s flags.
# A test appends to `summaries`; they ride on its report, so they reach the terminal from an xdist worker too.
summaries = []
SUMMARY = "terminal summary"
shown = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    while summaries:
        report.user_properties.append((SUMMARY, summaries.pop(0)))
    return report


def pytest_runtest_logreport(report):
    shown.extend(value for key, value in report.user_properties if key == SUMMARY)


def pytest_terminal_summary(terminalreporter):
    for title, text in shown:
        terminalreporter.section(title)
        terminalreporter.write_line(text)


def pytest_configure(config):
    config.addinivalue_line("markers", "live_data: the test reads the live data/ on purpose and asserts only properties")


# --- fixtures ------------------------------------------------------------------------------


def run_cli(*args, timeout=600, env=None):
    """Run the open287g command in a subprocess, as a user would."""
    return subprocess.run(CLI + [str(a) for a in args], capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)


def shared(tmp_path_factory, name, make):
    """tmp/<name>, made by make(path) once per test run. Under pytest-xdist the workers share the
    run's temporary directory: the first to ask makes it under a lock, the others wait and reuse it
    (one cold build per run, not one per worker)."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent
    path, done = root / name, root / f"{name}.done"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(path, ignore_errors=True)  # left by a worker whose make() failed
            make(path)
            done.touch()
    return path


@pytest.fixture(scope="session")
def build_dir(tmp_path_factory):
    return shared(tmp_path_factory, "build", lambda path: path.mkdir())


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory, build_dir, build_result):
    """The parse cache the session's build filled. Each xdist worker gets its own copy (hard links: the
    build replaces cache files whole, never writes one in place), so the builds of one worker never
    evict the other's lineage checkpoints or remove a file the other is listing."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return build_dir / "cache"
    copy = tmp_path_factory.getbasetemp() / "cache"
    shutil.copytree(build_dir / "cache", copy, copy_function=os.link)
    return copy


@pytest.fixture(scope="session")
def snapshot_data(tmp_path_factory):
    """data/ limited to the snapshot's workbooks (tests/snapshot_files.txt)."""
    return shared(tmp_path_factory, "snapshot", lambda path: copy_data(path / "data")) / "data"


@pytest.fixture(scope="session")
def build_result(tmp_path_factory, build_dir, snapshot_data):
    """The cold build of the shipped data, with its exit code and output."""
    def build(path):
        env = dict(os.environ, CI="1")
        result = run_cli("build", "--data", snapshot_data, "--out", build_dir / "287g.db", "--cache", build_dir / "cache", env=env)
        path.write_text(json.dumps([result.args, result.returncode, result.stdout, result.stderr]))

    result = subprocess.CompletedProcess(*json.loads(shared(tmp_path_factory, "build_result.json", build).read_text()))
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="session")
def db_path(build_result, build_dir):
    return build_dir / "287g.db"


@pytest.fixture(scope="session")
def site_db(tmp_path_factory, db_path):
    """The built database ready to serve: metadata.json (written by the build) and datasette inspect counts."""
    from open287g import serve

    assert (db_path.parent / "metadata.json").exists(), "the build must write metadata.json beside the database"
    shared(tmp_path_factory, "site_db_prepared", lambda path: (serve.prepare(db_path), path.touch()))
    return db_path


@pytest.fixture(scope="session")
def server(site_db, tmp_path_factory):
    """`datasette serve` of the built database on a free port, as `open287g serve` runs it: one per
    test process, shared by the browser tests (it only reads). Its log goes to a file: a pipe nobody
    reads would fill with the access log and stall the server."""
    from open287g import prod, serve

    port = prod.free_port()
    log_path = tmp_path_factory.mktemp("server") / "datasette.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(serve.datasette_command(site_db, "127.0.0.1", port), stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(base + "/-/versions.json", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("datasette did not start: " + log_path.read_text(errors="replace"))
            time.sleep(0.2)
    yield base
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def sql(site_db):
    """Run SQL on the served database: sql("select ...", params) -> rows."""
    conn = sqlite3.connect(f"file:{site_db}?mode=ro", uri=True)
    yield lambda query, params=(): conn.execute(query, params).fetchall()
    conn.close()


@pytest.fixture()
def db(db_path):
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    yield conn
    conn.close()


def snapshot_manifest(skip=()):
    """data/ice/MANIFEST.csv as of the snapshot, byte for byte: the rows of workbooks fetched later,
    and of the names in `skip`, left out."""
    lines = (DATA / "ice" / "MANIFEST.csv").read_bytes().split(b"\r\n")

    def keep(line):
        rel = line.split(b",", 1)[0].decode()
        return rel in SNAPSHOT and rel.rsplit("/", 1)[-1] not in skip

    return b"\r\n".join([lines[0]] + [line for line in lines[1:] if not line or keep(line)])


def copy_data(target, skip=()):
    """A private copy of data/ as of the snapshot; workbooks fetched after the snapshot, and their
    manifest rows, are left out.

    Workbooks are hard links where possible (nothing writes a workbook in place); every other file
    (the manifest, corrections, confirmations) is a real copy, so a test may rewrite it."""
    def link(src, dst):
        rel = Path(src).relative_to(DATA / "ice").as_posix() if Path(src).is_relative_to(DATA / "ice") else None
        if Path(src).name in skip or (rel and rel.endswith(".xlsx") and rel not in SNAPSHOT):
            return dst
        if rel == "MANIFEST.csv":
            Path(dst).write_bytes(snapshot_manifest(skip))
            return dst
        if not str(src).endswith(".xlsx"):
            return shutil.copy2(src, dst)
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)
        return dst

    shutil.copytree(DATA, target, copy_function=link)
    return Path(target)
