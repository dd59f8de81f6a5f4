"""Shared fixtures: one real build of everything in data/, made once per test session through the CLI."""
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
CLI = [sys.executable, "-m", "open287g.cli"]
SNAPSHOT = dict(line.split() for line in (Path(__file__).parent / "snapshot_files.txt").read_text().splitlines() if line and not line.startswith("#"))


def run_cli(*args, timeout=600, env=None):
    """Run the open287g command in a subprocess, as a user would."""
    return subprocess.run(CLI + [str(a) for a in args], capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)


@pytest.fixture(scope="session")
def build_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("build")


@pytest.fixture(scope="session")
def cache_dir(build_dir):
    return build_dir / "cache"


@pytest.fixture(scope="session")
def snapshot_data(tmp_path_factory):
    """data/ limited to the snapshot's workbooks (tests/snapshot_files.txt)."""
    return copy_data(tmp_path_factory.mktemp("snapshot") / "data")


@pytest.fixture(scope="session")
def build_result(build_dir, cache_dir, snapshot_data):
    """The cold build of the shipped data, with its exit code and output."""
    env = dict(os.environ, CI="1")
    result = run_cli("build", "--data", snapshot_data, "--out", build_dir / "287g.db", "--cache", cache_dir, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.fixture(scope="session")
def db_path(build_result, build_dir):
    return build_dir / "287g.db"


@pytest.fixture(scope="session")
def site_db(db_path):
    """The built database ready to serve: metadata.json (written by the build) and datasette inspect counts."""
    from open287g import serve

    assert (db_path.parent / "metadata.json").exists(), "the build must write metadata.json beside the database"
    serve.prepare(db_path)
    return db_path


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


def copy_data(target, skip=()):
    """A private copy of data/ as of the snapshot (hard links where possible: the files are never
    modified in place); workbooks fetched after the snapshot are left out."""
    def link(src, dst):
        rel = Path(src).relative_to(DATA / "ice").as_posix() if Path(src).is_relative_to(DATA / "ice") else None
        if Path(src).name in skip or (rel and rel.endswith(".xlsx") and rel not in SNAPSHOT):
            return dst
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)
        return dst

    shutil.copytree(DATA, target, copy_function=link)
    return Path(target)
