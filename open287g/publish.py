"""Writes a deployable bundle of the built database, offline, and summarises what a rebuild changed.

`open287g publish` copies into one directory (default build/deploy/) everything a container needs
to serve the publication as `open287g serve --prod` does: the database, the assembled
metadata.json, the templates, the package built as a wheel (its plugins are its datasette entry
points), nginx.conf and supervisord.conf from open287g/prod.py's one description of the layout, a
Dockerfile that installs the wheel with every dependency pinned to this environment's versions
and runs `datasette inspect` at image build time, and a fly.toml for Fly.io. Nothing here touches the network: `flyctl deploy` (or any container
host) takes the directory from there.

`open287g changes OLD.db NEW.db` prints a one-line summary of the changes NEW has and OLD has not
(by changes.id, which is derived from the publication, kind and agreement and so stable across
builds), e.g. "ICE 287(g) update 2026-03-27: 8 agreements added, 2 ended, 1 re-dated". The
scheduled refresh uses it as its commit message.
"""
import datetime
import hashlib
import json
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import click

from . import BUILD, DATA, ROOT, prod
from .cachekey import prune
from .config import DATABASE
from .files import atomic_write, copy_hashed, file_sha256

DEFAULT_OUT = BUILD / "deploy"
DEFAULT_APP = "open287g"
DEFAULT_REGION = "iad"
PORT = 8080  # nginx listens here in the container; fly.toml and Cloud Run (its default $PORT) route to it
# The image runs the Python minor version the bundle was made (and tested) with, so the pins hold.
BASE_IMAGE = f"python:{sys.version_info.major}.{sys.version_info.minor}-slim"
BUNDLE_MANIFEST = "bundle.json"
GENERATOR = "open287g publish"

# What the container installs: the package's wheel, with everything it needs pinned in
# constraints.txt at the versions installed here (the versions the tests ran against). Datasette
# is held to 0.65.x (see docs/PUBLICATION.md).
PACKAGE = "open287g"
DATASETTE_SERIES = "0.65."
# the image's own pip and setuptools stay (pinning them would make pip replace itself); the package is the wheel
_NOT_PINNED = {"pip", "setuptools", PACKAGE}

_APP_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")


class PublishError(click.ClickException):
    """A bundle that cannot be written as asked; the message is one line."""


def _connect_ro(path):
    return sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True)


def _canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_version(name):
    try:
        return distribution(name).version
    except PackageNotFoundError:
        raise PublishError(f"{name} is not installed here, so its version cannot be pinned: install the project (make build)") from None


def dependency_pins(roots=(PACKAGE,)):
    """{canonical name: version} of the served packages and everything they need, as installed here."""
    from packaging.markers import default_environment
    from packaging.requirements import InvalidRequirement, Requirement

    env = default_environment()
    env["extra"] = ""
    pins, todo = {}, list(roots)
    while todo:
        name = _canonical(todo.pop())
        if name in pins:
            continue
        pins[name] = installed_version(name)
        for spec in distribution(name).requires or ():
            try:
                req = Requirement(spec)
            except InvalidRequirement:
                continue
            if req.marker is not None and not req.marker.evaluate(env):
                continue
            todo.append(req.name)
    return {name: version for name, version in sorted(pins.items()) if name not in _NOT_PINNED}


# --- what the bundle holds -----------------------------------------------------------------


def database_facts(db_path):
    """The newest publication of each list and the build's QA results, read from the database."""
    conn = _connect_ro(db_path)
    try:
        newest = {}
        for pub_id, file_name, published_at, list_name in conn.execute(
            "select id, file_name, published_at, list from publications p "
            "where published_at = (select max(published_at) from publications q where q.list = p.list) order by list, id"
        ):
            newest.setdefault(list_name, {"id": pub_id, "file_name": file_name, "published_at": published_at})
        failed = [row[0] for row in conn.execute('select "check" from qa_checks where not passed')]
        counts = {table: conn.execute(f"select count(*) from {table}").fetchone()[0] for table in ("publications", "agreements", "agencies", "changes")}
    except sqlite3.DatabaseError as e:
        raise PublishError(f"{db_path}: not a built 287(g) database ({e})") from None
    finally:
        conn.close()
    return {"newest": newest, "qa_failed": failed, "counts": counts}


RUN_DIR = "/tmp/open287g"  # in the image: sockets, cache and pid files (written as nobody)
APP_DIR = "/app"
BUILT_FROM = ("pyproject.toml", "README.md", "open287g")  # what the package's wheel is built from


def image_site(db_file, template_dir, version_note):
    """The production layout's files in the image (prod.Site), as `open287g serve --prod` has them here."""
    return prod.Site(db=db_file, inspect="inspect-data.json", metadata="metadata.json",
                     templates="templates" if template_dir else None, data="data", run_dir=RUN_DIR, workdir=APP_DIR,
                     python="python", nginx="nginx", nginx_conf=f"{APP_DIR}/nginx.conf", version_note=version_note)


WHEELS = BUILD / "cache" / "wheels"  # built wheels, by the hash of what they are built from


def _sources_key():
    """The sha256 of every file the wheel is built from (BUILT_FROM), by path: the same sources give the same wheel."""
    h = hashlib.sha256()
    for name in BUILT_FROM:
        source = ROOT / name
        files = sorted(f for f in source.rglob("*") if f.is_file() and "__pycache__" not in f.parts
                       and f.suffix != ".pyc" and not f.name.startswith(".")) if source.is_dir() else [source]
        for f in files:
            h.update(f"{f.relative_to(ROOT).as_posix()}\0{file_sha256(f)}\n".encode())
    return h.hexdigest()[:16]


def build_wheel(out_dir, cache_dir=WHEELS):
    """The package as a wheel in out_dir, built offline from a copy of its sources; returns the wheel's name.
    A wheel built before from the same sources is copied from cache_dir (pip takes about a second)."""
    key = _sources_key()
    kept = sorted(Path(cache_dir).glob(f"{key}--open287g-*.whl"))
    if len(kept) == 1:
        name = kept[0].name.split("--", 1)[1]
        shutil.copyfile(kept[0], Path(out_dir) / name)
        return name
    with tempfile.TemporaryDirectory(prefix="open287g-wheel-") as src:
        for name in BUILT_FROM:
            source = ROOT / name
            if source.is_dir():
                _copy_tree(source, Path(src) / name)
            else:
                shutil.copyfile(source, Path(src) / name)
        done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-index",
                               "--no-build-isolation", "--wheel-dir", str(out_dir), src],
                              capture_output=True, text=True)
    wheels = sorted(Path(out_dir).glob("open287g-*.whl"))
    if done.returncode or len(wheels) != 1:
        raise PublishError(f"building the package's wheel failed: {(done.stderr.strip().splitlines() or ['no wheel'])[-1]}")
    atomic_write(Path(cache_dir) / f"{key}--{wheels[0].name}", wheels[0].read_bytes())
    prune(cache_dir, "*--open287g-*.whl", f"{key}--*")  # wheels of older sources are never used again
    return wheels[0].name


def dockerfile(db_file, wheel, template_dir, note):
    copies = f"COPY {db_file} metadata.json nginx.conf {prod.SUPERVISORD_CONF} ./\nCOPY data/ data/\n"
    if template_dir:
        copies += "COPY templates/ templates/\n"
    return f"""# Generated by `open287g publish`; regenerate rather than edit.
# {note}
# The production layout (docs/OPERATIONS.md): nginx caching on port {PORT} in front of two Datasette
# processes on the same immutable database, pages and typed SQL, run by supervisord (open287g/prod.py).
FROM {BASE_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 \\
    PYTHONUNBUFFERED=1 \\
    PIP_DISABLE_PIP_VERSION_CHECK=1 \\
    PORT={PORT}
RUN apt-get update \\
    && apt-get install -y --no-install-recommends nginx-light \\
    && rm -rf /var/lib/apt/lists/*
WORKDIR {APP_DIR}
# The package (its plugins are its datasette entry points) and what it needs, at the versions the tests ran against
COPY constraints.txt {wheel} ./
RUN pip install --no-cache-dir -c constraints.txt ./{wheel}
{copies}RUN python -m datasette inspect {shlex.quote(db_file)} --inspect-file inspect-data.json
RUN mkdir -p {RUN_DIR}/tmp {RUN_DIR}/cache && chown -R nobody {RUN_DIR}
USER nobody
EXPOSE {PORT}
CMD {json.dumps(prod.supervisord_command(image_site(db_file, template_dir, None)))}
"""


def fly_toml(app, region, note):
    return f"""# Generated by `open287g publish`; regenerate rather than edit.
# {note}
#
# One immutable image: the database is inside it, opened read-only (-i), so there is no volume,
# no [mounts] and nothing is written at run time. Fly scales the app by running more Machines of
# this same image: `flyctl scale count 3` (or `--region iad,fra,syd` to spread them); Fly's proxy
# starts stopped Machines when the running ones pass soft_limit and stops idle ones again.
app = "{app}"
primary_region = "{region}"

[build]
  dockerfile = "Dockerfile"

[env]
  PORT = "{PORT}"

[deploy]
  strategy = "rolling"

[http_service]
  internal_port = {PORT}
  force_https = true
  auto_stop_machines = "stop"
  auto_start_machines = true
  min_machines_running = 1

  [http_service.concurrency]
    type = "requests"
    soft_limit = 40
    hard_limit = 80

  [[http_service.checks]]
    grace_period = "20s"
    interval = "30s"
    timeout = "5s"
    method = "GET"
    path = "/-/versions.json"

[[vm]]
  cpu_kind = "shared"
  cpus = 1
  memory = "512mb"
"""


def _copy_tree(src, dst):
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*"))


def _check_out_dir(out):
    """Refuse to replace a directory that is not an earlier bundle (a mistyped --out must not delete anything)."""
    if not out.exists():
        return
    if not out.is_dir():
        raise PublishError(f"{out} exists and is not a directory")
    if not any(out.iterdir()):
        return
    try:
        ours = json.loads((out / BUNDLE_MANIFEST).read_text(encoding="utf-8")).get("generator") == GENERATOR
    except (OSError, ValueError, AttributeError):
        ours = False
    if not ours:
        raise PublishError(f"{out} is not empty and is not a bundle written by open287g publish: choose another --out")


def ice_files(db_path):
    """{file: sha256} of the files under data/ice/ behind the database's publications (the roster's rows come from
    data/history/), the sha256 the build read."""
    conn = _connect_ro(db_path)
    try:
        return dict(conn.execute("select file, sha256 from publications where source_kind != 'roster' order by file"))
    finally:
        conn.close()


def _bundled(out):
    """{path in the bundle: sha256} of the bundle already in out, from its manifest; {} when there is none."""
    try:
        files = json.loads((out / BUNDLE_MANIFEST).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return files if isinstance(files, dict) else {}


def _copy_source(source, rel, tmp, sha256, previous, bundled):
    """A source file into the new bundle in tmp at rel; returns the sha256 of its bytes there. A file the last bundle
    (in previous) holds with the sha256 the build read is hard-linked from it: bundles are never written in place, and
    a daily refresh would otherwise copy and hash all of ICE's files again for one new one."""
    target = tmp / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    if sha256 and bundled.get(rel) == sha256:
        try:
            os.link(previous / rel, target)
            return sha256
        except OSError:
            pass  # another file system, or gone: copied below
    return copy_hashed(source, target)


def _stamp(path):
    st = os.stat(path)
    return st.st_ino, st.st_size, st.st_mtime_ns


def write_bundle(db_path, out=DEFAULT_OUT, app=DEFAULT_APP, region=DEFAULT_REGION, allow_failed_checks=False, data_dir=DATA):
    """Write the deployable bundle into `out` (replacing an earlier bundle there); returns its manifest."""
    from . import serve

    db_path, out = Path(db_path), Path(out)
    if not _APP_NAME.match(app):
        raise PublishError(f"{app!r} is not a valid Fly app name (lowercase letters, digits and hyphens, 3 to 63 characters)")
    if not re.fullmatch(r"[a-z]{3}", region):
        raise PublishError(f"{region!r} is not a Fly region code (three letters, e.g. iad)")
    try:
        # metadata.json beside the database, fresh, as `open287g serve` has it; no inspect counts: the image makes its own
        # (the Dockerfile's `datasette inspect`), and a subprocess importing Datasette is most of a publish's time.
        metadata_file = serve.prepare_metadata(db_path)
    except (FileNotFoundError, RuntimeError) as e:
        raise PublishError(str(e)) from None
    read_as = _stamp(db_path)  # the file the facts come from: the bundle gets a copy of this same file
    facts = database_facts(db_path)
    if facts["qa_failed"] and not allow_failed_checks:
        raise PublishError(f"{db_path}: {len(facts['qa_failed'])} QA check(s) failed ({'; '.join(facts['qa_failed'])}): not publishing")
    metadata = json.loads(metadata_file.read_text(encoding="utf-8"))
    if not metadata.get("databases", {}).get(DATABASE, {}).get("queries"):
        raise PublishError(f"{metadata_file}: no canned queries for database {DATABASE!r}")

    pins = dependency_pins()
    datasette_version = pins["datasette"]
    if not datasette_version.startswith(DATASETTE_SERIES):
        raise PublishError(f"datasette {datasette_version} is installed; the publication is pinned to {DATASETTE_SERIES}x")
    template_dir = serve.TEMPLATES_DIR if serve.TEMPLATES_DIR.is_dir() else None

    db_file = f"{DATABASE}.db"  # the file's stem is the database name metadata.json describes
    newest = facts["newest"].get("participating")
    version_note = f"ICE list of {newest['published_at'][:10]} (publication {newest['id']})" if newest else None

    _check_out_dir(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        # Hashed as copied: the sha256 is of the bytes written. A build replaces the database by renaming a new file
        # over it, so a database replaced or written since the facts were read has another inode, size or time.
        db_sha = copy_hashed(db_path, tmp / db_file)
        if _stamp(db_path) != read_as:
            raise PublishError(f"{db_path} changed while it was being copied: run publish again")
        copied = {tmp / db_file: db_sha}
        note = f"database sha256 {db_sha}" + (f"; newest participating list {newest['file_name']}" if newest else "")
        shutil.copyfile(metadata_file, tmp / "metadata.json")
        wheel = build_wheel(tmp)  # the package, plugins and all, installed in the image by pip
        if template_dir:
            _copy_tree(template_dir, tmp / "templates")
        # the source files served at /files/ and /history/: exactly the ICE files the database was
        # built from (about 44 MB), not whatever else data/ holds today, and the history sources
        bundled = _bundled(out)
        for file, sha256 in [*ice_files(db_path).items(), ("MANIFEST.csv", None)]:
            rel = f"data/ice/{file}"
            copied[tmp / rel] = _copy_source(Path(data_dir) / "ice" / file, rel, tmp, sha256, out, bundled)
        if (Path(data_dir) / "history").is_dir():
            _copy_tree(Path(data_dir) / "history", tmp / "data" / "history")
        (tmp / "constraints.txt").write_text(
            "# Versions the tests ran against (pip constraints for the Dockerfile).\n"
            + "".join(f"{name}=={version}\n" for name, version in pins.items()),
            encoding="utf-8",
        )
        (tmp / "Dockerfile").write_text(dockerfile(db_file, wheel, template_dir, note), encoding="utf-8")
        site = image_site(db_file, template_dir, version_note)
        (tmp / prod.SUPERVISORD_CONF).write_text(prod.supervisord_conf(site, note), encoding="utf-8")
        (tmp / "nginx.conf").write_text(prod.render_nginx_conf(RUN_DIR, f"0.0.0.0:{PORT}", db_sha), encoding="utf-8")
        (tmp / "fly.toml").write_text(fly_toml(app, region, note), encoding="utf-8")
        (tmp / ".dockerignore").write_text(f"{BUNDLE_MANIFEST}\n", encoding="utf-8")
        files = {
            str(p.relative_to(tmp)): copied.get(p) or file_sha256(p)
            for p in sorted(tmp.rglob("*")) if p.is_file()
        }
        manifest = {
            "generator": GENERATOR,
            "generated_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "database": {"file": db_file, "source": str(db_path), "sha256": db_sha, **facts["counts"]},
            "newest_publications": facts["newest"],
            "datasette": datasette_version,
            "wheel": wheel,
            "packages": pins,
            "settings": serve.SETTINGS,
            "sql_settings": serve.SQL_SETTINGS,
            "app": app,
            "region": region,
            "files": files,
        }
        (tmp / BUNDLE_MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        os.chmod(tmp, 0o755)
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


@click.command("publish")
@click.option("--db", "db_path", type=click.Path(dir_okay=False), default=str(BUILD / f"{DATABASE}.db"), show_default=True)
@click.option("--out", type=click.Path(file_okay=False), default=str(DEFAULT_OUT), show_default=True,
              help="Bundle directory (an earlier bundle there is replaced).")
@click.option("--app", envvar="OPEN287G_FLY_APP", default=DEFAULT_APP, show_default=True, help="Fly app name written to fly.toml.")
@click.option("--region", envvar="OPEN287G_FLY_REGION", default=DEFAULT_REGION, show_default=True, help="Fly primary region.")
@click.option("--allow-failed-checks", is_flag=True, help="Write the bundle even if the build's QA checks failed.")
@click.option("--data", "data_dir", type=click.Path(file_okay=False), default=str(DATA), show_default=True,
              help="The data the database was built from (the gates check every file in it was placed).")
@click.option("--previous", type=click.Path(dir_okay=False), default=None,
              help="The last published database (default: the bundle in --out, which this one replaces).")
def publish_command(db_path, out, app, region, allow_failed_checks, data_dir, previous):
    """Write a deployable bundle (database, metadata, plugins, Dockerfile, fly.toml) into build/deploy/, offline.

    The gates run first (open287g gates): when one holds, nothing is written, the bundle already
    in --out (the live site's) stays, and the command exits 3 with one line naming the reason.
    Deploy it with `flyctl deploy build/deploy --remote-only` (see docs/OPERATIONS.md).
    """
    from . import gates

    gates.enforce(db_path, data_dir, previous or Path(out) / f"{DATABASE}.db")
    manifest = write_bundle(db_path, out, app=app, region=region, allow_failed_checks=allow_failed_checks, data_dir=data_dir)
    newest = manifest["newest_publications"].get("participating")
    click.echo(
        f"bundle {out}: {manifest['database']['file']} (sha256 {manifest['database']['sha256'][:12]}), "
        f"datasette {manifest['datasette']}, app {manifest['app']}"
        + (f"; newest participating list {newest['file_name']} ({newest['published_at'][:10]})" if newest else "")
    )
    click.echo(f"deploy: flyctl deploy {shlex.quote(str(out))} --remote-only")


# --- what a rebuild changed ----------------------------------------------------------------

KIND_ORDER = ("added", "ended", "re-dated", "renamed", "relabelled", "moved_state", "duplicate", "gap", "superseded", "pending->signed")
KIND_LABELS = {"pending->signed": "signed after pending"}


def _read_changes(db_path):
    conn = _connect_ro(db_path)
    try:
        changes = {row[0]: row[1:] for row in conn.execute(
            "select id, kind, substr(changed_at, 1, 10), coalesce(agency, ''), coalesce(state_code, ''), coalesce(model, '') from changes")}
        publications = {row[0]: row[1] for row in conn.execute("select id, substr(published_at, 1, 10) from publications")}
    except sqlite3.DatabaseError as e:
        raise click.ClickException(f"{db_path}: not a built 287(g) database ({e})") from None
    finally:
        conn.close()
    return changes, publications


def compare(old_db, new_db):
    """What NEW adds to OLD: {'counts': {kind: n}, 'dates': [...], 'new_publications': n, 'withdrawn': n,
    'named': [(kind, agency, state, model), ...]}."""
    old_changes, old_pubs = _read_changes(old_db)
    new_changes, new_pubs = _read_changes(new_db)
    added = [new_changes[i] for i in new_changes.keys() - old_changes.keys()]
    counts = {}
    for kind, *_ in added:
        counts[kind] = counts.get(kind, 0) + 1
    fresh_pubs = [date for pub_id, date in new_pubs.items() if pub_id not in old_pubs]
    dates = sorted({date for _kind, date, *_ in added if date} or {date for date in fresh_pubs if date})
    ordered = {kind: counts[kind] for kind in KIND_ORDER if kind in counts}
    ordered.update({kind: n for kind, n in sorted(counts.items()) if kind not in ordered})
    return {
        "counts": ordered,
        "dates": dates,
        "new_publications": len(fresh_pubs),
        "withdrawn": len(old_changes.keys() - new_changes.keys()),
        "named": sorted((kind, agency, state, model) for kind, _date, agency, state, model in added),
    }


def _plural(n, word):
    return f"{n} {word}{'' if n == 1 else 's'}"


def commit_message(summary):
    """One line, e.g. 'ICE 287(g) update 2026-03-27: 8 agreements added, 2 ended, 1 re-dated'."""
    dates = summary["dates"]
    when = "" if not dates else f" {dates[0]}" if len(dates) == 1 else f" {dates[0]} to {dates[-1]}"
    parts = []
    for kind, n in summary["counts"].items():
        label = KIND_LABELS.get(kind, kind)
        parts.append(f"{_plural(n, 'agreement')} {label}" if not parts else f"{n} {label}")
    if summary["withdrawn"]:
        parts.append(f"{_plural(summary['withdrawn'], 'earlier change')} withdrawn")
    if not parts:
        if not summary["new_publications"]:
            return "ICE 287(g) update: no new publications, no changes"
        parts.append(f"no agreement changes ({_plural(summary['new_publications'], 'new publication')})")
    return f"ICE 287(g) update{when}: " + ", ".join(parts)


NAMED_LINES = 60  # a commit body names at most this many changes; the rest are counted


def named_lines(summary, limit=NAMED_LINES):
    """One line per change, e.g. "added: Polk County Sheriff's Office (AR, JEM)" ("-" for a missing value), the rest counted."""
    named = summary["named"]
    lines = [f"{KIND_LABELS.get(kind, kind)}: {agency} ({state or '-'}, {model or '-'})" for kind, agency, state, model in named[:limit]]
    if len(named) > limit:
        lines.append(f"... and {len(named) - limit} more")
    return lines


@click.command("changes")
@click.argument("old_db", type=click.Path(exists=True, dir_okay=False))
@click.argument("new_db", type=click.Path(exists=True, dir_okay=False))
@click.option("--names", is_flag=True, help="After the summary line, name each agreement that changed (a commit body).")
def diff_command(old_db, new_db, names):
    """One line summarising the changes NEW_DB has that OLD_DB has not (the refresh's commit message)."""
    summary = compare(old_db, new_db)
    click.echo(commit_message(summary))
    if names and summary["named"]:
        click.echo("")
        for line in named_lines(summary):
            click.echo(line)
