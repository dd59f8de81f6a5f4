"""Serves the built database with Datasette: immutable, with inspect counts, the assembled metadata and the site's plugins.

Every Datasette instance of the project (open287g serve, the tests, the production layout of
open287g/prod.py here and in the Docker image) is made from the settings and arguments here, so
what is tested is what is served. The plugins are the package's `datasette` entry points
(pyproject.toml): Datasette loads them wherever the package is installed.
"""
import json
import subprocess
import sys
from pathlib import Path

from . import DATA, ROOT
from .config import sources as config_sources, write_config
from .files import atomic_write

TEMPLATES_DIR = ROOT / "templates"
# The source files as the build read them, served byte for byte so that a reader can check a figure
# against the file behind it: ICE's workbooks (data/ice/) at /files/<publications.file>, and the
# 2011-2017 roster and other history sources (data/history/) at /history/.
SOURCE_MOUNTS = {"files": "ice", "history": "history"}  # URL prefix -> folder of data/
FILES_DIR = DATA / "ice"


def file_url(file):
    """Where a publication's file (publications.file: "participating/x.xlsx", or "history/x.csv" for the roster) is served."""
    if not file:
        return None
    return f"/{file}" if file.startswith("history/") else f"/files/{file}"

# ICE's participating list is near 2,000 rows and growing: Datasette's default cut at 1,000 rows
# would silently truncate canned queries, the maps' JSON and CSV exports. 5,000 holds every table
# except listings, publications and changes, which page (and stream as CSV) instead.
SETTINGS = {
    "max_returned_rows": 5000,
    "sql_time_limit_ms": 3000,
    "facet_time_limit_ms": 500,
    "allow_download": True,
    "allow_csv_stream": True,
    "default_cache_ttl": 3600,
    "default_page_size": 100,
    "truncate_cells_html": 300,
    # Suggestions run one query per column on every table page and JSON; the useful facets are
    # named in metadata.yml instead.
    "suggest_facets": False,
}

# The production layout's second Datasette process answers typed SQL only (?sql=, _where):
# Datasette's default 1 s limit (15x the slowest canned query's 64 ms of SQL, docs/RELIABILITY.md)
# and one SQL thread of its own, so hostile SQL queues there, never for a page's thread, and
# takes at most one core (of two here; give it more threads on a bigger machine).
SQL_SETTINGS = {**SETTINGS, "sql_time_limit_ms": 1000, "num_sql_threads": 1}


def inspect_path(db_path):
    return Path(db_path).with_name(Path(db_path).stem + ".inspect.json")


def metadata_path(db_path):
    return Path(db_path).with_name("metadata.json")


def write_inspect(db_path):
    """`datasette inspect` counts for the database, written beside it (skipped when newer than the database)."""
    db_path = Path(db_path)
    out = inspect_path(db_path)
    if out.exists() and out.stat().st_mtime_ns >= db_path.stat().st_mtime_ns:
        return out
    result = subprocess.run([sys.executable, "-m", "datasette", "inspect", str(db_path)], capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"datasette inspect failed: {result.stderr.strip()}")
    atomic_write(out, result.stdout)
    return out


def _setting_value(value):
    if value is True:
        return "on"
    if value is False:
        return "off"
    return str(value)


def serve_options(db_file, inspect_file, metadata_file, template_dir, settings=SETTINGS, data_dir=None):
    """The options after `datasette serve` that every served instance shares (here and in the Docker image)."""
    cmd = [
        "-i", str(db_file),
        "--inspect-file", str(inspect_file),
        "--metadata", str(metadata_file),
        "--cors",
    ]
    if template_dir:
        cmd += ["--template-dir", str(template_dir)]
    if data_dir:
        for mount, folder in SOURCE_MOUNTS.items():
            cmd += ["--static", f"{mount}:{Path(data_dir) / folder}"]
    for name, value in settings.items():
        cmd += ["--setting", name, _setting_value(value)]
    return cmd


def datasette_command(db_path, host="127.0.0.1", port=8001, uds=None, settings=SETTINGS):
    """The `datasette serve` command line for the built database, on host:port or a Unix socket."""
    db_path = Path(db_path)
    template_dir = TEMPLATES_DIR if TEMPLATES_DIR.is_dir() else None
    listen = ["--uds", str(uds)] if uds else ["-h", host, "-p", str(port)]
    return [sys.executable, "-m", "datasette", "serve",
            *serve_options(db_path, inspect_path(db_path), metadata_path(db_path), template_dir, settings,
                           DATA if FILES_DIR.is_dir() else None),
            *listen]


def make_datasette(db_path):
    """The same configuration as an in-process Datasette object (used by the tests)."""
    from datasette.app import Datasette

    db_path = Path(db_path)
    return Datasette(
        immutables=[str(db_path)],
        inspect_data=json.loads(inspect_path(db_path).read_text()),
        metadata=json.loads(metadata_path(db_path).read_text()),
        template_dir=str(TEMPLATES_DIR) if TEMPLATES_DIR.is_dir() else None,
        static_mounts=[(mount, str(DATA / folder)) for mount, folder in SOURCE_MOUNTS.items()] if FILES_DIR.is_dir() else None,
        settings=SETTINGS,
        cors=True,
    )


def prepare_metadata(db_path):
    """Make sure the database exists and metadata.json beside it is fresh; returns metadata.json's path."""
    db_path = Path(db_path)
    if not db_path.exists():
        raise FileNotFoundError(f"{db_path} does not exist: run `open287g build` first")
    meta = metadata_path(db_path)
    if not meta.exists() or any(s.stat().st_mtime_ns > meta.stat().st_mtime_ns for s in config_sources() if s.exists()):
        write_config(db_path.parent)
    return meta


def prepare(db_path):
    """Make sure the served files exist: the database, metadata.json and the inspect counts."""
    prepare_metadata(db_path)
    write_inspect(db_path)


def serve(db_path, host="127.0.0.1", port=8001):
    """Run Datasette on the built database until interrupted; returns its exit code."""
    try:
        prepare(db_path)
    except (FileNotFoundError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    cmd = datasette_command(db_path, host, port)
    print(f"serving {db_path} at http://{host}:{port}/", file=sys.stderr, flush=True)
    try:
        return subprocess.call(cmd)
    except KeyboardInterrupt:
        return 0
