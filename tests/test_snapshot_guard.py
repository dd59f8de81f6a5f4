"""The snapshot guard: a test that reads a workbook of the live data/ outside tests/snapshot_files.txt,
or builds the live data/, fails; the snapshot copy the tests build holds exactly the listed files."""
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import conftest
from conftest import CLI, DATA, SNAPSHOT, live_command, live_read

LATER = DATA / "ice" / "participating" / "participatingAgencies12312099am.xlsx"  # a workbook ICE may publish later
IN_SNAPSHOT = DATA / "ice" / "participating" / "participatingAgencies03272026am.xlsx"


def test_a_workbook_outside_the_snapshot_is_refused_and_snapshot_files_pass(tmp_path):
    assert "outside tests/snapshot_files.txt" in live_read(LATER)
    assert "participatingAgencies12312099am.xlsx" in live_read(str(LATER))
    assert live_read(IN_SNAPSHOT) is None
    assert live_read(DATA / "ice" / "MANIFEST.csv") is None  # read whole, then filtered to the snapshot
    assert live_read(tmp_path / "data" / "ice" / "participating" / LATER.name) is None  # a test's own copy
    assert live_read(3) is None  # a file descriptor
    assert "for writing" in live_read(DATA / "ice" / "MANIFEST.csv", "wb")
    assert "for writing" in live_read(str(DATA / "confirmations.csv"), None, os.O_WRONLY | os.O_CREAT)
    assert live_read(tmp_path / "data" / "ice" / "MANIFEST.csv", "wb") is None


def test_the_audit_hook_sees_an_open_of_a_later_workbook():
    before = len(conftest.live_reads)
    try:
        open(LATER, "rb").close()
    except FileNotFoundError:
        pass  # a clean clone has no such file; the hook runs before the open is tried
    seen = conftest.live_reads[before:]
    del conftest.live_reads[before:]  # so this test itself is not failed by the guard
    assert seen and "participatingAgencies12312099am.xlsx" in seen[0]


def test_builds_and_fetches_of_the_live_data_are_refused(tmp_path):
    assert "without --data" in live_command(CLI + ["build", "--out", "x.db"])
    assert "the live data/" in live_command(CLI + ["build", "--data", str(DATA), "--out", "x.db"])
    assert "the live data/" in live_command([".venv/bin/open287g", "fetch", "--data", "data"])
    assert live_command(CLI + ["build", "--data", str(tmp_path / "data"), "--out", "x.db"]) is None
    assert live_command(CLI + ["changes", "a.db", "b.db"]) is None
    assert live_command(["git", "status"]) is None

    before = len(conftest.live_reads)
    subprocess.run([sys.executable, "-c", "pass", "open287g.cli", "build"], timeout=60)  # the hook sees Popen
    seen = conftest.live_reads[before:]
    del conftest.live_reads[before:]
    assert seen and "without --data" in seen[0]


def test_snapshot_copy_holds_exactly_the_listed_workbooks(snapshot_data):
    files = {p.relative_to(snapshot_data / "ice").as_posix(): p for p in (snapshot_data / "ice").glob("*/*.xlsx")}
    assert set(files) == set(SNAPSHOT) and len(files) == 1122
    for rel in ("participating/participatingAgencies03272026am.xlsx", "pending/pendingAgencies02272026am.xlsx"):
        assert hashlib.sha256(files[rel].read_bytes()).hexdigest() == SNAPSHOT[rel]


def test_a_test_reading_a_later_workbook_fails_in_a_real_pytest_run(tmp_path):
    """The guard end to end: pytest with this conftest as a plugin runs two tests; the one that opens a
    workbook outside the snapshot fails with the guard's reason, the one that reads a snapshot file passes."""
    (tmp_path / "test_reads.py").write_text(
        "from conftest import DATA\n"
        "def test_later():\n"
        "    try:\n"
        f"        open(DATA / 'ice' / 'participating' / {LATER.name!r}, 'rb')\n"
        "    except FileNotFoundError:\n"
        "        pass\n"
        "def test_snapshot():\n"
        f"    open(DATA / 'ice' / 'participating' / {IN_SNAPSHOT.name!r}, 'rb').close()\n"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(conftest.__file__).parent))
    r = subprocess.run([sys.executable, "-m", "pytest", "-p", "conftest", "-q", "-p", "no:cacheprovider", str(tmp_path / "test_reads.py")],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stdout
    assert "1 failed, 1 passed" in r.stdout and "FAILED test_reads.py::test_later" in r.stdout
    assert "a workbook of the live data/ outside tests/snapshot_files.txt" in r.stdout
