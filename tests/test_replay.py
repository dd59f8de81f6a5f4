"""The refresh replayed on ICE's real publications, one "day" at a time, with bad days mixed in.

Start: the snapshot's workbooks published up to 21 November 2025, committed in a scratch git
repository and published once. Then each day a local server on 127.0.0.1 serves a page shaped like
ICE's with that day's real workbooks (ICE's own files, in the order ICE published them), and the
day runs the refresh's steps as .github/workflows/refresh.yml does, through the same open287g
commands: fetch, commit the raw files (raw job), then build, the build's checks, gates, changes and
publish (publish job). Bad days: an HTML page saved as .xlsx, a workbook with a new column, a
truncated list, ICE's own wrong year in a file name, the same bytes under a new name, a server
answering 503 (all day, then a short burst it recovers from) and a day with no new file.

After every day: every good file served so far is committed; the bundle is published or left as
it was exactly as `open287g gates` said; no publication of the last published database is lost; and
the change summary names agreements as ICE's files print them. The day-by-day table is printed.
Builds share the session's parse cache, so only each day's new workbooks are parsed.
"""
import csv
import hashlib
import re
import shutil
import sqlite3
import subprocess
import time
from dataclasses import dataclass, field

import pytest

import conftest
from conftest import copy_data, run_cli
from ice_server import DOCLIB, Server
from open287g.fetch import read_manifest, write_manifest
from open287g.gates import WITHHELD
from workbooks import real_rows, write_workbook

START = "2025-11-21"  # the replay starts from the snapshot as of ICE's lists of this date
ICE_DATES = 32  # ICE publication dates replayed after START (24 November 2025 to 28 January 2026)
DATES_PER_DAY = 2  # ICE dates a replayed day offers at once: half the builds, every file still fetched
LISTS = ("participating", "pending")


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Day:
    label: str
    served: dict  # file name -> server response spec (see ice_server.Server)
    good: list  # "list/name" of real workbooks served today that must end up committed
    expect: str  # published, withheld or unchanged (nothing new: the publish job does not run)
    note: str = ""  # what is special about the day
    date: str = ""  # the replayed calendar day: what fetch records as the capture date of today's files
    outcome: dict = field(default_factory=dict)


def publication_dates(db_path):
    """{date: [list/file, ...]} of the snapshot's participating and pending workbooks, by ICE publication date."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    rows = conn.execute("select file, substr(published_at, 1, 10) from publications "
                        "where source_kind in ('participating', 'pending') order by published_at, seq").fetchall()
    conn.close()
    by_date = {}
    for file, date in rows:
        by_date.setdefault(date, []).append(file)
    return by_date


def plan(by_date, ice, known):
    """The replayed days: ICE_DATES of ICE's dates after START, DATES_PER_DAY a day, with the bad days mixed in.

    `known` holds the sha256 of every workbook already committed; a day whose real files are all
    known (ICE re-served bytes it had published before) is expected to change nothing."""
    dates = [d for d in sorted(by_date) if d > START][:ICE_DATES]
    chunks = [dates[i:i + DATES_PER_DAY] for i in range(0, len(dates), DATES_PER_DAY)]
    real = lambda rel: ("bytes", (ice / rel).read_bytes())  # noqa: E731
    days, carried = [], []  # carried: files a bad day kept from being fetched, served again the next day

    def add(day, extra_new=False):
        new = {sha256(ice / rel) for rel in day.good} - known
        if day.expect == "published" and not (new or extra_new):
            day.expect = "unchanged"
        known.update(new)
        days.append(day)

    def made(name, rows):
        """A workbook the test writes (from real rows), as a served response."""
        return ("bytes", write_workbook(ice.parent.parent / name, rows).read_bytes())

    for i, chunk in enumerate(chunks):
        date = chunk[-1]
        files, carried = carried + [rel for d in chunk for rel in by_date[d]], []
        served = {rel.split("/", 1)[1]: real(rel) for rel in files}
        day = Day(" ".join(chunk), served, list(files), "published", date=date)
        participating = [rel for rel in files if rel.startswith("participating/")]
        stamp = date[5:7] + date[8:10] + date[:4]
        extra_new = False
        if i == 1:
            served[f"participatingAgencies{stamp}pm9.xlsx"] = ("bytes", b"<!DOCTYPE html><html><body><h1>Access Denied</h1></body></html>")
            day.note = "HTML page saved as .xlsx: refused by fetch"
        if i == 3:
            add(Day(f"{chunks[i - 1][-1]}+1", dict(days[-1].served), [], "unchanged", "no new file", date=chunks[i - 1][-1]))
        if i == 4:
            add(Day(date, {}, [], "unchanged", "server 503 all day: fetch refused the page", date=date))
            carried = files
            continue
        if i == 5:
            day.served = served = {name: ("fail_first", 1, 503, spec[1]) for name, spec in served.items()}
            day.note = "503 on each file's first try, then served (with yesterday's files)"
        if i == 6 and participating:
            # the first 300 rows of the day's list, published after it the same day
            served[f"participatingAgencies{stamp}pm6.xlsx"] = made(f"truncated-{stamp}.xlsx", real_rows(ice / participating[-1])[:301])
            day.note, extra_new, day.expect = "truncated list (first 300 rows of the day's list)", True, "withheld"
        if i == 7:
            previous = [rel for d in reversed(days) for rel in d.good if rel.startswith("participating/")][0]
            add(Day(f"{chunks[i - 1][-1]}+1", {f"participatingAgencies{stamp}am7.xlsx": real(previous)}, [], "unchanged",
                    "yesterday's bytes under a new name", date=chunks[i - 1][-1]))
            rows = real_rows(ice / (participating or files)[0])
            # SIGNED renamed: a column the reader does not know, with a known one absent (rule unknown_column)
            renamed = [("DATE SIGNED" if c == "SIGNED" else c) for c in rows[0]]
            assert renamed != rows[0], "the day's list prints SIGNED"
            served[f"participatingAgencies{stamp}pm8.xlsx"] = made(f"renamedcolumn-{stamp}.xlsx", [renamed] + rows[1:])
            day.note, extra_new = "workbook with a column renamed: rejected by the build, recorded", True
        if any(re.search(r"Agencies0\d{3}2025", rel) and date >= "2026" for rel in files):
            day.note = (day.note + "; " if day.note else "") + "ICE's own wrong year in the name (2025 for 2026)"
        add(day, extra_new)
    return days


def git(repo, *args):
    r = subprocess.run(["git", "-c", "user.name=replay", "-c", "user.email=replay@127.0.0.1", *args], cwd=repo,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def manifest_shas(text):
    return {row["sha256"]: row["file"] for row in csv.DictReader(text.splitlines())}


def publications(db):
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return set(conn.execute("select file, sha256 from publications"))
    finally:
        conn.close()


def printed_agencies(paths):
    """Every cell of the given workbooks, whitespace collapsed and case folded: what ICE printed."""
    cells = set()
    for path in paths:
        for row in real_rows(path):
            cells.update(" ".join(str(v).split()).casefold() for v in row if v is not None)
    return cells


@pytest.fixture(scope="module")
def replay(tmp_path_factory, snapshot_data, db_path, cache_dir):
    root = tmp_path_factory.mktemp("replay")
    repo = root / "repo"
    by_date = publication_dates(db_path)
    later = {rel.split("/", 1)[1] for d, files in by_date.items() if d > START for rel in files}
    data = copy_data(repo / "data", skip=later)
    ice = data / "ice"
    # The web-page era (2021 to February 2025) never changes and would be a third of every build: left out.
    shutil.rmtree(ice / "page-tables")
    manifest = ice / "MANIFEST.csv"
    manifest.write_bytes(b"\r\n".join(line for line in manifest.read_bytes().split(b"\r\n") if not line.startswith(b"page-tables/")))
    days = plan(by_date, snapshot_data / "ice", {row["sha256"] for row in csv.DictReader(manifest.read_text(encoding="utf-8").splitlines())})
    git(repo, "init", "-q")
    git(repo, "add", "data")
    git(repo, "commit", "-q", "-m", f"snapshot as of {START}")

    work, live = root / "work", root / "deploy"  # the refresh's build/ and the live site's bundle
    db = work / "287g.db"
    timings = {"fetch": 0.0, "build": 0.0, "gates+publish": 0.0, "changes": 0.0}

    def step(name, *args):
        started = time.perf_counter()
        r = run_cli(*args)
        timings[name] += time.perf_counter() - started
        assert "Traceback" not in r.stderr, r.stderr
        return r

    first = step("build", "build", "--data", data, "--out", db, "--cache", cache_dir)
    assert first.returncode == 0, first.stderr
    assert step("gates+publish", "publish", "--db", db, "--data", data, "--out", live).returncode == 0

    server = Server()
    began = time.perf_counter()
    try:
        for day in days:
            run_day(day, server, repo, data, db, work, live, cache_dir, step, snapshot_data / "ice")
    finally:
        server.close()
    elapsed = time.perf_counter() - began
    table = render(days, elapsed, timings)
    conftest.summaries.append(("replay: day by day", table))
    return days, table


def run_day(day, server, repo, data, db, work, live, cache_dir, step, source):
    # The page: that day's files, or (a day with nothing served) a 503 for every path.
    url = server.serve(day.served, down=None if day.served else 503)
    before_commit = git(repo, "rev-parse", "HEAD").strip()
    published_before = sha256(live / "287g.db")
    previous_pubs = publications(live / "287g.db")

    # raw job: fetch, then commit whatever is new before anything can fail
    # the lists only: the documents they link are on ice.gov, out of reach here (tests/test_fetch.py fetches them locally)
    fetched = step("fetch", "fetch", "--url", url, "--data", data, "--retries", "2", "--backoff", "0.01", "--timeout", "5",
                   "--no-documents")
    day.outcome["fetch"] = fetched.returncode
    day.outcome["refused"] = [line for line in fetched.stderr.splitlines() if line.startswith("refused ")]
    new = git(repo, "status", "--porcelain", "--", "data/ice")
    day.outcome["files"] = [line[3:].split("data/ice/", 1)[-1] for line in new.splitlines() if line.endswith(".xlsx")]
    if new:
        redate_fetch(data, day.outcome["files"], day.date)
        git(repo, "add", "--", "data/ice")
        git(repo, "commit", "-q", "-m", f"ICE files fetched ({day.label})")
    committed = manifest_shas(git(repo, "show", "HEAD:data/ice/MANIFEST.csv"))
    tracked = set(git(repo, "ls-files", "data/ice").split())
    for rel in day.good:
        # every good file served today is committed with its manifest line, whatever happens next
        digest = sha256(source / rel)
        assert digest in committed and f"data/ice/{committed[digest]}" in tracked, (day.label, rel)
    assert not git(repo, "status", "--porcelain", "--", "data/ice")

    if not new:
        day.outcome.update(gate="-", result="unchanged", why="no new file: nothing built, the site as it was")
        if day.outcome["refused"]:
            day.outcome["why"] = day.outcome["refused"][0].split(": ", 1)[-1]
        assert git(repo, "rev-parse", "HEAD").strip() == before_commit
    else:
        # publish job: build (exit 1 = built, a file rejected), the build's checks, gates, changes, publish
        built = step("build", "build", "--data", data, "--out", db, "--cache", cache_dir)
        assert built.returncode in (0, 1), built.stderr
        today = tuple(f.split("/", 1)[1] for f in day.outcome["files"])
        day.outcome["rejected"] = [line for line in built.stderr.splitlines() if line.startswith("error: ") and any(name in line for name in today)]
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        gate_column = "gate" in {r[1] for r in conn.execute("pragma table_info(qa_checks)")}
        failed = conn.execute("select \"check\" from qa_checks where not passed" + (" and not gate" if gate_column else "")).fetchall()
        day.outcome["active"] = conn.execute("select count(*) from agreements where status = 'active'").fetchone()[0]
        conn.close()
        conn = sqlite3.connect(f"file:{live / '287g.db'}?mode=ro", uri=True)
        day.outcome["published_active"] = conn.execute("select count(*) from agreements where status = 'active'").fetchone()[0]
        conn.close()
        assert not failed, (day.label, failed)  # the test subset: the build's own facts hold
        shutil.copyfile(live / "287g.db", work / "published-before.db")
        gates = step("gates+publish", "gates", "--db", db, "--data", data, "--previous", live / "287g.db")
        publish = step("gates+publish", "publish", "--db", db, "--data", data, "--out", live)
        day.outcome["gate"] = "pass" if gates.returncode == 0 else f"exit {gates.returncode}"
        if gates.returncode == 0:
            assert publish.returncode == 0, publish.stderr
            assert sha256(live / "287g.db") == sha256(db)
            day.outcome["result"] = "published"
            changes = step("changes", "changes", "--names", work / "published-before.db", db)
            day.outcome["why"] = changes.stdout.splitlines()[0]
            check_named_changes(changes.stdout, work / "published-before.db", db, data)
            if day.outcome["rejected"]:
                day.outcome["why"] += "; build rejected " + day.outcome["rejected"][0].split(": ", 1)[-1].split(" (recorded")[0]
        else:
            assert gates.returncode == WITHHELD and publish.returncode == WITHHELD, gates.stderr + publish.stderr
            assert gates.stderr.startswith("withheld: ") and len(gates.stderr.splitlines()) == 1
            assert publish.stderr == gates.stderr
            assert sha256(live / "287g.db") == published_before  # the live site as it was
            day.outcome["result"] = "withheld"
            day.outcome["why"] = gates.stderr.strip()[len("withheld: "):]
            dated_ahead = re.match(r"^(\S+) is dated (\S+) but was fetched on (\S+)", day.outcome["why"])
            if dated_ahead and day.expect == "published":
                # The date gate: check its claim against the database, then record the day as withheld for it.
                file, published, fetched_on = dated_ahead.groups()
                conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
                assert conn.execute("select substr(published_at, 1, 10) from publications where file = ?", (file,)).fetchone()[0] == published
                conn.close()
                assert fetched_on <= day.date and (published > day.date or published < fetched_on), day.outcome["why"]
                day.expect = "withheld"
                day.outcome["dated_ahead"] = file
    # no publication of the last published database is ever lost
    assert previous_pubs <= publications(live / "287g.db"), day.label
    assert day.outcome["result"] == day.expect, (day.label, day.note, day.outcome)


def redate_fetch(data, files, date):
    """The replay's calendar: today's fetched files were captured on the replayed day, not today."""
    header, rows, terminator = read_manifest(data / "ice" / "MANIFEST.csv")
    col = {name: i for i, name in enumerate(header)}
    for row in rows:
        if row[col["file"]] in files:
            row[col["capture_utc"]] = row[col["fetched_utc"]] = f"{date}T23:00:00Z"
    write_manifest(data / "ice" / "MANIFEST.csv", header, rows, terminator)


def check_named_changes(text, old_db, new_db, data):
    """The summary names exactly the changes the new database adds, and each added or ended
    agreement's agency is printed by ICE where the change says: an addition on the list that
    carries it, an ending on one of the lists just before it (an ending that waited for a
    confirming list is dated at that list, one publication after the agency's last)."""
    lines = text.splitlines()
    named = sorted(tuple("" if v == "-" else v for v in re.match(r"^([^:]+): (.*) \(([^,]+), ([^)]+)\)$", line).groups())
                   for line in lines[2:] if line and not line.startswith("... and "))
    old_ids = {r[0] for r in sqlite3.connect(f"file:{old_db}?mode=ro", uri=True).execute("select id from changes")}
    conn = sqlite3.connect(f"file:{new_db}?mode=ro", uri=True)
    rows = [r for r in conn.execute(
        "select c.id, c.kind, coalesce(c.agency, ''), coalesce(c.state_code, ''), coalesce(c.model, ''), p.file, "
        "(select group_concat(file, '|') from (select q.file from publications q where q.list = p.list and q.seq < p.seq "
        "and q.status in ('used', 'held') order by q.seq desc limit 3)) "
        "from changes c join publications p on p.id = c.publication_id") if r[0] not in old_ids]
    conn.close()
    labels = {"pending->signed": "signed after pending"}
    expected = sorted((labels.get(kind, kind), agency, state, model) for _id, kind, agency, state, model, _f, _p in rows)
    if lines[-1].startswith("... and "):
        assert set(named) <= set(expected)
    else:
        assert named == expected, text
    printed = {}
    for _id, kind, agency, _state, _model, file, before in rows:
        where = [file] if kind == "added" else (before or "").split("|") if kind == "ended" else []
        for w in where:
            if w not in printed:
                printed[w] = printed_agencies([data / "ice" / w])
        if where:
            assert any(" ".join(agency.split()).casefold() in printed[w] for w in where), (kind, agency, where)


def render(days, elapsed, timings):
    rows = [("day (ICE dates)", "new files", "gate", "outcome", "why")]
    for day in days:
        files = str(len(day.outcome.get("files", [])))
        why = day.outcome.get("why", "")
        if day.outcome.get("refused") and day.outcome.get("result") != "unchanged":
            why += "; fetch refused: " + day.outcome["refused"][0].split(": ", 1)[-1]
        note = f" [{day.note}]" if day.note else ""
        rows.append((day.label, files, day.outcome.get("gate", "-"), day.outcome.get("result", "?"), why + note))
    out = ["| " + " | ".join(r) + " |" for r in rows]
    out.insert(1, "|---|---|---|---|---|")
    spent = ", ".join(f"{k} {v:.1f}s" for k, v in timings.items())
    out.append(f"\n{len(days)} days replayed in {elapsed:.0f}s ({spent})")
    return "\n".join(out)


def test_replay_every_good_file_committed_and_published_or_withheld_as_the_gates_say(replay):
    days, table = replay
    results = [d.outcome["result"] for d in days]
    ice_dates = {date for d in days for date in d.label.split() if "+" not in date}
    assert len(ice_dates) >= 30 and len(days) >= 18 and results.count("published") >= 2
    assert results.count("unchanged") == 3  # no new file, the 503 day, the same bytes under a new name
    # withheld: the truncated list, and any day whose newest files the build dated after they were fetched
    withheld = [d for d in days if d.outcome["result"] == "withheld"]
    assert all(d.note.startswith("truncated") or d.outcome.get("dated_ahead") for d in withheld)


def published_or_dated_ahead(day):
    """Published, or withheld only because the build dated a newest file after it was fetched (see the table)."""
    return day.outcome["result"] == "published" or bool(day.outcome.get("dated_ahead"))


def test_replay_bad_days_say_why(replay):
    days, _ = replay
    by_note = lambda prefix: next(d for d in days if d.note.startswith(prefix))  # noqa: E731
    html = by_note("HTML")
    assert html.outcome["fetch"] == 1 and "an HTML page, not a workbook" in html.outcome["refused"][0]
    assert published_or_dated_ahead(html) and len(html.outcome["files"]) == len(html.good)
    newcol = by_note("workbook with a column renamed")
    (line,) = newcol.outcome["rejected"]
    assert line.startswith("error: participating/participatingAgencies") and "unknown column 'DATE SIGNED'" in line
    assert "with SIGNED absent: it may be that column renamed" in line
    assert published_or_dated_ahead(newcol)
    later = [d for d in days[days.index(newcol) + 1:] if d.outcome["files"]]
    assert later and all(not d.outcome["rejected"] for d in later)  # rejected once, never blocking again
    down = by_note("server 503")
    assert down.outcome["fetch"] == 1 and "HTTP 503" in down.outcome["why"] and not down.outcome["files"]
    recovered = days[days.index(down) + 1]
    assert recovered.outcome["fetch"] == 0 and len(recovered.outcome["files"]) == len(recovered.good) >= 8
    same = by_note("yesterday's bytes under a new name")
    assert same.outcome["fetch"] == 0 and same.outcome["result"] == "unchanged" and not same.outcome["files"]
    truncated = by_note("truncated")
    assert truncated.outcome["result"] == "withheld"
    reason = truncated.outcome["why"]
    assert reason.startswith("build gate failed: ") or re.search(r"active agreements would fall from 1,2\d\d to 300 ", reason), reason
    # the next full list ends the drop: its build has as many active agreements as the last published one
    after = next(d for d in days[days.index(truncated) + 1:] if d.outcome["files"])
    assert after.outcome["active"] >= truncated.outcome["published_active"] and published_or_dated_ahead(after)
