"""open287g publish (the deployable bundle, offline) and the changes summary, on real builds of data/."""
import configparser
import hashlib
import json
import os
import re
import shlex
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
import time
import tomllib
import zipfile
from importlib.metadata import version
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from conftest import DATA, SNAPSHOT, copy_data, run_cli
from open287g import prod, publish, serve
from open287g.hostile_sql import ALWAYS_STOPPED
from open287g.config import read_queries
from open287g.publish import KIND_LABELS, commit_message, compare, diff_command

PACKAGE = Path(prod.__file__).resolve().parent

NEWEST = "participatingAgencies03272026am.xlsx"


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def tree(root):
    """{relative path: sha256} of the files under root, caches left out."""
    root = Path(root)
    return {str(p.relative_to(root)): sha256(p) for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def bundle(site_db, snapshot_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("publish") / "deploy"
    result = run_cli("publish", "--data", snapshot_data, "--db", site_db, "--out", out, "--app", "open287g-test", "--region", "fra")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "bundle" in result.stdout and "flyctl deploy" in result.stdout
    return out


@pytest.fixture(scope="module")
def dockerfile(bundle):
    return (bundle / "Dockerfile").read_text(encoding="utf-8")


def instructions(dockerfile_text, name):
    """The arguments of every NAME instruction, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", dockerfile_text)
    return [line[len(name) + 1:].strip() for line in joined.splitlines() if line.startswith(name + " ")]


def supervised(bundle):
    """{program: (command words, environment)} from the bundle's supervisord.conf, which the image's CMD runs."""
    conf = configparser.ConfigParser(interpolation=None)
    conf.read(bundle / "supervisord.conf")
    programs = {}
    for section in conf.sections():
        if section.startswith("program:"):
            env = dict(re.findall(r'(\w+)="([^"]*)"', conf[section].get("environment", "")))
            programs[section.split(":", 1)[1]] = (shlex.split(conf[section]["command"].replace("%%", "%")), env)
    return programs


# --- the bundle ----------------------------------------------------------------------------


def test_bundle_holds_the_built_database_unchanged(bundle, site_db):
    assert sha256(bundle / "287g.db") == sha256(site_db)
    manifest = json.loads((bundle / "bundle.json").read_text())
    assert manifest["database"]["sha256"] == sha256(site_db)
    newest = manifest["newest_publications"]["participating"]
    conn = sqlite3.connect(f"file:{site_db}?mode=ro", uri=True)
    assert conn.execute("select file_name, published_at from publications where id = ?", (newest["id"],)).fetchone() == (newest["file_name"], newest["published_at"])
    assert not conn.execute("select count(*) from publications where list = 'participating' and published_at > ?", (newest["published_at"],)).fetchone()[0]
    conn.close()
    assert newest["published_at"] >= "2026-03-27"
    # ICE's files travel with the database, byte for byte, to be served at /files/
    (file, sha) = sqlite3.connect(f"file:{site_db}?mode=ro", uri=True).execute(
        "select file, sha256 from publications where id = ?", (newest["id"],)).fetchone()
    assert sha256(bundle / "data" / "ice" / file) == sha
    # exactly the files the database was built from (the pinned snapshot), whatever else data/ holds
    assert set(tree(bundle / "data" / "ice")) - {"MANIFEST.csv"} == set(SNAPSHOT) and len(SNAPSHOT) == 1122
    assert (bundle / "data" / "history" / "pre2018-roster-long.csv").exists()
    assert manifest["files"] == {k: v for k, v in tree(bundle).items() if k != "bundle.json"}


def test_bundle_metadata_is_the_served_config_with_canned_queries(bundle, site_db):
    metadata = json.loads((bundle / "metadata.json").read_text(encoding="utf-8"))
    assert metadata == json.loads(serve.metadata_path(site_db).read_text(encoding="utf-8"))
    queries = metadata["databases"]["287g"]["queries"]
    assert set(queries) == set(read_queries()) and "as_of" in queries
    assert all(q["sql"].strip() and q["title"] for q in queries.values())
    assert metadata["title"] and metadata["license"]


def test_bundle_holds_the_package_as_a_wheel_and_the_templates(bundle):
    manifest = json.loads((bundle / "bundle.json").read_text())
    wheel = bundle / manifest["wheel"]
    assert re.fullmatch(r"open287g-[\d.]+-py3-none-any\.whl", wheel.name)
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        entry_points = z.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    # every plugin module, its static files, and the package modules the plugins import
    plugins = sorted(p.stem for p in (PACKAGE / "plugins").glob("*.py") if p.stem != "__init__")
    assert {f"open287g/plugins/{p}.py" for p in plugins} | {"open287g/plugins/static/markers.js", "open287g/search.py",
                                                            "open287g/locale/es/LC_MESSAGES/messages.po"} <= names
    assert [line for line in entry_points.split("[datasette]")[1].split("\n") if line.strip()] == \
        [f"{p} = open287g.plugins.{p}" for p in plugins]
    # no copy of the package by path: the image imports the installed wheel
    assert not (bundle / "open287g").exists() and not (bundle / "plugins").exists()
    assert tree(bundle / "templates") == tree(serve.TEMPLATES_DIR)


def test_dockerfile_installs_the_wheel_with_every_dependency_pinned(bundle, dockerfile):
    assert version("datasette").startswith("0.65.")
    assert instructions(dockerfile, "FROM") == [f"python:{sys.version_info.major}.{sys.version_info.minor}-slim"]
    wheel = json.loads((bundle / "bundle.json").read_text())["wheel"]
    (install,) = [r for r in instructions(dockerfile, "RUN") if r.startswith("pip install")]
    assert install == f"pip install --no-cache-dir -c constraints.txt ./{wheel}"
    assert f"COPY constraints.txt {wheel} ./" in dockerfile and "PYTHONPATH" not in dockerfile
    constraints = (bundle / "constraints.txt").read_text().splitlines()
    for name in ("datasette", "datasette-cluster-map", "datasette-leaflet", "datasette-atom", "datasette-gzip",
                 "sqlite-utils", "babel", "supervisor", "jinja2"):  # jinja2: dependencies of dependencies too
        assert f"{name}=={version(name)}" in constraints, name
    assert not [c for c in constraints if c.startswith(("open287g==", "pip=="))]


def test_dockerfile_runs_the_production_layout_with_the_serve_settings(bundle, dockerfile):
    runs = instructions(dockerfile, "RUN")
    assert [r for r in runs if "datasette inspect" in r] == ["python -m datasette inspect 287g.db --inspect-file inspect-data.json"]
    assert any("apt-get install" in r and "nginx-light" in r.split() for r in runs)
    assert instructions(dockerfile, "CMD") == ['["python", "-m", "supervisor.supervisord", "-c", "/app/supervisord.conf"]']
    assert instructions(dockerfile, "USER") == ["nobody"]
    copied = " ".join(instructions(dockerfile, "COPY"))
    assert "nginx.conf" in copied and "supervisord.conf" in copied and "data/ data/" in copied
    programs = supervised(bundle)
    assert list(programs) == list(prod.PROGRAMS) == ["pages", "sql", "nginx"]
    # the image's programs are the layout `open287g serve --prod` runs here, with the image's paths
    here = prod.Site(db="/srv/287g.db", inspect="/srv/i.json", metadata="/srv/m.json", templates="/srv/t", data="/srv/data",
                     run_dir="/run/x", workdir="/run/x", python="/venv/python", nginx="/sbin/nginx", nginx_conf="/run/x/n.conf")
    for name, settings in (("pages", serve.SETTINGS), ("sql", serve.SQL_SETTINGS)):
        args, env = programs[name]
        local_args, local_env = prod.programs(here)[name]
        assert env == local_env == {"OPEN287G_ROLE": name}
        args = args[args.index("python"):]
        assert args[:4] == ["python", "-m", "datasette", "serve"]
        assert args[args.index("-i") + 1] == "287g.db"
        assert args[args.index("--inspect-file") + 1] == "inspect-data.json"
        assert args[args.index("--metadata") + 1] == "metadata.json"
        assert "--plugins-dir" not in args  # the plugins are the installed package's entry points
        assert args[args.index("--uds") + 1] == f"/tmp/open287g/{name}.sock"
        served = {args[i + 1]: args[i + 2] for i, a in enumerate(args) if a == "--setting"}
        assert served == {k: serve._setting_value(v) for k, v in settings.items()}
        local_args = local_args[local_args.index("/venv/python"):]
        assert [a for a in args if a.startswith("--") and a != "--version-note"] == [a for a in local_args if a.startswith("--")]
    assert programs["sql"][0][:len(prod.SQL_PRIORITY)] == prod.SQL_PRIORITY
    assert serve.SQL_SETTINGS["sql_time_limit_ms"] == 1000
    # the image's nginx.conf is the one template, rendered for the image's paths, port and this database
    nginx_args = programs["nginx"][0]
    assert nginx_args[nginx_args.index("-c") + 1] == "/app/nginx.conf"
    assert (bundle / "nginx.conf").read_text() == prod.render_nginx_conf("/tmp/open287g", "0.0.0.0:8080", sha256(bundle / "287g.db"))


def _mounts(value):
    if isinstance(value, dict):
        return any(k in ("mounts", "mount") or _mounts(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_mounts(v) for v in value)
    return False


def test_fly_toml_scales_one_immutable_image_without_volumes(bundle, dockerfile):
    text = (bundle / "fly.toml").read_text(encoding="utf-8")
    fly = tomllib.loads(text)
    assert fly["app"] == "open287g-test" and fly["primary_region"] == "fra"
    assert not _mounts(fly)
    assert not [line for line in text.splitlines() if "volume" in line.lower() and not line.lstrip().startswith("#")]
    port = re.search(r"PORT=(\d+)", dockerfile).group(1)
    assert fly["http_service"]["internal_port"] == int(port) == int(fly["env"]["PORT"])
    assert fly["build"]["dockerfile"] == "Dockerfile"
    assert fly["http_service"]["min_machines_running"] >= 1 and fly["http_service"]["auto_start_machines"] is True


def test_bundle_serves_as_its_dockerfile_says(bundle, dockerfile, tmp_path, site_db):
    """Install the wheel in a fresh virtualenv as the Dockerfile does, run its datasette step, then its CMD (supervisord).

    Only what a container differs in is changed: pip runs offline (--no-index --no-deps; the
    dependencies it would download are this environment's, by a .pth line added after the
    install), the app (/app) and run directory (/tmp/open287g) move under tmp_path, and nginx
    listens on 127.0.0.1 and a free port instead of 0.0.0.0:8080."""
    nginx = prod.nginx_path()
    if not nginx:
        pytest.skip("nginx is not installed (apt-get install nginx-light; .ci/run does)")
    app, run, venv = tmp_path / "app", tmp_path / "run", tmp_path / "venv"
    shutil.copytree(bundle, app)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (install,) = [r for r in instructions(dockerfile, "RUN") if r.startswith("pip install")]
    done = subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), *shlex.split(install)[1:],
                           "--no-index", "--no-deps", "--quiet"], cwd=app, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    (site_packages,) = venv.glob("lib/python*/site-packages")
    (site_packages / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = dict(os.environ, PATH=f"{venv / 'bin'}{os.pathsep}{Path(nginx).parent}{os.pathsep}{os.environ['PATH']}")
    env.pop("PYTHONPATH", None)
    # the server imports the package from the wheel, not from this checkout
    where = subprocess.run(["python", "-c", "import open287g; print(open287g.__file__)"], cwd=app, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where).is_relative_to(site_packages), where
    for step in instructions(dockerfile, "RUN"):
        if step.startswith("python -m datasette "):
            done = subprocess.run(step, shell=True, cwd=app, env=env, capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stderr
    (run / "tmp").mkdir(parents=True)
    (run / "cache").mkdir()
    port = prod.free_port()
    conf = (app / "nginx.conf").read_text().replace("/tmp/open287g", str(run)).replace("0.0.0.0:8080", f"127.0.0.1:{port}")
    if os.geteuid() == 0:
        conf = "user root;\n" + conf  # as root nginx's workers would become nobody, shut out of tmp_path
    (app / "nginx.conf").write_text(conf)
    supervisord_conf = (app / "supervisord.conf").read_text().replace("/tmp/open287g", str(run))
    (app / "supervisord.conf").write_text(supervisord_conf.replace("/app/", f"{app}/").replace("directory=/app\n", f"directory={app}\n"))
    (cmd,) = instructions(dockerfile, "CMD")
    cmd = [str(app / "supervisord.conf") if a == "/app/supervisord.conf" else a for a in json.loads(cmd)]
    procs = [subprocess.Popen(cmd, cwd=app, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)]
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/287g.json?sql=select+1", timeout=2).status_code == 200 \
                        and httpx.get(base + "/-/versions.json", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the bundle's layout did not answer within 60 s"
            time.sleep(0.2)
        (database,) = httpx.get(base + "/-/databases.json").json()
        assert database["name"] == "287g" and database["is_mutable"] is False and database["hash"] == sha256(site_db)
        settings = httpx.get(base + "/-/settings.json").json()
        assert {k: settings[k] for k in serve.SETTINGS} == serve.SETTINGS
        plugins = httpx.get(base + "/-/plugins.json").json()
        assert {"datasette-cluster-map", "datasette-atom", "datasette-gzip"} <= {p["name"] for p in plugins}
        ours = [p for p in plugins if p["name"] == "open287g"]
        assert len(ours) == len([p for p in (PACKAGE / "plugins").glob("*.py") if p.stem != "__init__"])
        answers = [httpx.get(base + "/287g/as_of.json?date=2026-03-27&_shape=array&_size=max", timeout=60) for _ in range(2)]
        assert [len(a.json()) for a in answers] == [1560, 1560]
        assert [a.headers["x-cache-status"] for a in answers] == ["MISS", "HIT"]
        assert answers[0].headers["x-database-hash"] == sha256(site_db)[:12]
        # ICE's files are served byte for byte through the cache
        (file, sha) = sqlite3.connect(f"file:{site_db}?mode=ro", uri=True).execute(
            "select file, sha256 from publications where list = 'participating' order by published_at desc limit 1").fetchone()
        downloads = [httpx.get(f"{base}/files/{file}", timeout=60) for _ in range(2)]
        assert [hashlib.sha256(d.content).hexdigest() for d in downloads] == [sha, sha]
        assert downloads[1].headers["x-cache-status"] == "HIT"
        # typed SQL reaches the SQL process and its 1 s limit
        slow = httpx.get(base + "/287g.json", params={"sql": ALWAYS_STOPPED["recursive CTE"]}, timeout=60)
        assert slow.status_code == 400 and "took too long" in slow.json()["error"]
    finally:
        for proc in procs:
            proc.terminate()  # supervisord stops its programs
        for proc in procs:
            proc.wait(30)


def test_publish_replaces_its_own_bundle_but_nothing_else(site_db, snapshot_data, tmp_path):
    out = tmp_path / "deploy"
    assert run_cli("publish", "--data", snapshot_data, "--db", site_db, "--out", out).returncode == 0
    (out / "stale.txt").write_text("from an earlier bundle")
    # ICE's files the last bundle holds with the sha256 the build read are linked from it, not copied again; one
    # whose manifest line says other bytes is copied from data/
    first = json.loads((out / "bundle.json").read_text())
    kept, recopied = "data/ice/participating/participatingAgencies03272026am.xlsx", "data/ice/pending/pendingAgencies02272026am.xlsx"
    inodes = {rel: (out / rel).stat().st_ino for rel in (kept, recopied)}
    (out / "bundle.json").write_text(json.dumps({**first, "files": {**first["files"], recopied: "0" * 64}}))
    again = run_cli("publish", "--data", snapshot_data, "--db", site_db, "--out", out)
    assert again.returncode == 0, again.stderr
    assert not (out / "stale.txt").exists() and sha256(out / "287g.db") == sha256(site_db)
    second = json.loads((out / "bundle.json").read_text())
    assert second["app"] == "open287g"
    assert (out / kept).stat().st_ino == inodes[kept] and (out / recopied).stat().st_ino != inodes[recopied]
    assert sha256(out / recopied) == sha256(snapshot_data / "ice" / recopied[len("data/ice/"):]) == second["files"][recopied]
    ice = lambda manifest: {rel: digest for rel, digest in manifest["files"].items() if rel.startswith("data/ice/")}  # noqa: E731
    assert ice(second) == ice(first) and len(ice(first)) > 1000

    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    refused = run_cli("publish", "--data", snapshot_data, "--db", site_db, "--out", other)
    assert refused.returncode != 0 and "not a bundle" in refused.stderr
    assert [p.name for p in other.iterdir()] == ["keep.txt"]

    bad = run_cli("publish", "--data", snapshot_data, "--db", site_db, "--out", tmp_path / "x", "--app", "Not A Name")
    assert bad.returncode != 0 and "app name" in bad.stderr and not (tmp_path / "x").exists()


def test_publish_refuses_a_database_that_failed_its_qa_checks(site_db, snapshot_data, tmp_path):
    db = tmp_path / "287g.db"
    shutil.copyfile(site_db, db)
    shutil.copyfile(serve.metadata_path(site_db), tmp_path / "metadata.json")
    conn = sqlite3.connect(db)
    conn.execute("update qa_checks set passed = 0, found = '1559' where id = (select min(id) from qa_checks)")
    conn.commit()
    conn.close()
    refused = run_cli("publish", "--data", snapshot_data, "--db", db, "--out", tmp_path / "deploy")
    assert refused.returncode != 0 and "QA check" in refused.stderr, refused.stderr
    assert not (tmp_path / "deploy").exists()
    forced = run_cli("publish", "--data", snapshot_data, "--db", db, "--out", tmp_path / "deploy", "--allow-failed-checks")
    assert forced.returncode == 0, forced.stderr
    assert sha256(tmp_path / "deploy" / "287g.db") == sha256(db)


# --- the changes summary (the refresh's commit message) ---------------------------------------


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory, cache_dir, db_path):
    """(OLD, NEW): data/ up to ICE's list of 27 March 2026 without that workbook, and with it.

    Workbooks published after it (once the refresh has fetched some) are left out of both builds,
    so NEW adds exactly that publication's changes. Parsed workbooks come from the session cache.
    """
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    later = {Path(f).name for (f,) in conn.execute(
        "select file from publications where published_at > (select published_at from publications where file_name = ?)", (NEWEST,))}
    conn.close()
    root = tmp_path_factory.mktemp("snapshots")

    def build(name, skip):
        data = copy_data(root / name / "data", skip=skip)
        out = root / name / "287g.db"
        result = run_cli("build", "--data", data, "--out", out, "--cache", cache_dir)
        assert result.returncode == 0, result.stdout + result.stderr
        return out

    old = build("old", later | {NEWEST})
    assert (DATA / "ice" / "participating" / NEWEST).exists() and not (root / "old" / "data" / "ice" / "participating" / NEWEST).exists()
    return old, (build("new", later) if later else db_path)


@pytest.fixture(scope="module")
def old_db(snapshots):
    return snapshots[0]


@pytest.fixture(scope="module")
def new_db(snapshots):
    return snapshots[1]


_LINE = re.compile(r"^ICE 287\(g\) update (\d{4}-\d\d-\d\d): (.+)$")


def parse_message(message):
    """{kind: count} from a commit message, labels mapped back to change kinds."""
    kinds = {label: kind for kind, label in KIND_LABELS.items()}
    m = _LINE.match(message)
    assert m, message
    counts = {}
    for i, part in enumerate(m.group(2).split(", ")):
        pm = re.match(r"^(\d+) agreements? (.+)$" if i == 0 else r"^(\d+) (.+)$", part)
        assert pm, (part, message)
        counts[kinds.get(pm.group(2), pm.group(2))] = int(pm.group(1))
    return m.group(1), counts


def test_changes_message_counts_the_new_publications_changes(old_db, new_db):
    result = CliRunner().invoke(diff_command, [str(old_db), str(new_db)])
    assert result.exit_code == 0, result.output
    message = result.output.rstrip("\n")
    assert "\n" not in message
    date, counts = parse_message(message)

    conn = sqlite3.connect(f"file:{new_db}?mode=ro", uri=True)
    pub_id, published_at = conn.execute("select id, published_at from publications where file_name = ?", (NEWEST,)).fetchone()
    expected = dict(conn.execute("select kind, count(*) from changes where publication_id = ? group by kind", (pub_id,)))
    conn.close()
    assert counts == expected
    assert counts["added"] >= 8
    assert date == published_at[:10] == "2026-03-27"
    assert message.startswith(f"ICE 287(g) update 2026-03-27: {counts['added']} agreements added")


def test_changes_message_when_nothing_or_less_changed(old_db, new_db):
    assert commit_message(compare(new_db, new_db)) == "ICE 287(g) update: no new publications, no changes"
    backwards = compare(new_db, old_db)
    assert backwards["counts"] == {} and backwards["withdrawn"] >= 8
    assert commit_message(backwards).endswith("earlier changes withdrawn")
    missing = CliRunner().invoke(diff_command, [str(old_db.parent / "nope.db"), str(new_db)])
    assert missing.exit_code != 0


def test_commit_message_wording():
    one = {"counts": {"ended": 1, "pending->signed": 2, "re-dated": 1}, "dates": ["2026-04-01"], "new_publications": 1, "withdrawn": 0}
    assert commit_message(one) == "ICE 287(g) update 2026-04-01: 1 agreement ended, 2 signed after pending, 1 re-dated"
    two = {"counts": {"added": 3}, "dates": ["2026-04-01", "2026-04-03"], "new_publications": 2, "withdrawn": 1}
    assert commit_message(two) == "ICE 287(g) update 2026-04-01 to 2026-04-03: 3 agreements added, 1 earlier change withdrawn"
    none = {"counts": {}, "dates": ["2026-04-02"], "new_publications": 1, "withdrawn": 0}
    assert commit_message(none) == "ICE 287(g) update 2026-04-02: no agreement changes (1 new publication)"


def test_the_wheel_is_built_once_for_the_same_sources(tmp_path, monkeypatch):
    """pip builds the package's wheel once; a second bundle of the same sources copies it from the cache."""
    cache, first, second = tmp_path / "wheels", tmp_path / "a", tmp_path / "b"
    first.mkdir(), second.mkdir()
    name = publish.build_wheel(first, cache)
    assert name.startswith("open287g-") and [p.name.split("--")[1] for p in cache.iterdir()] == [name]
    monkeypatch.setattr(publish.subprocess, "run", lambda *a, **k: pytest.fail("pip ran again for the same sources"))
    assert publish.build_wheel(second, cache) == name
    assert (second / name).read_bytes() == (first / name).read_bytes()
