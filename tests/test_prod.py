"""The production layout on 127.0.0.1, as `open287g serve --prod` runs it: Debian's nginx caching in
front of the pages Datasette and the typed-SQL Datasette, on the real built database.

Counts and statuses only: scripts/bench_load.py measures speed. Skips, saying why, without nginx
(.ci/run installs nginx-light)."""
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from open287g import config, prod, serve
from open287g.hostile_sql import ALWAYS_STOPPED

DB = config.DATABASE
QUERIES = config.read_queries()

pytestmark = pytest.mark.skipif(
    not prod.nginx_path(),
    reason="nginx is not installed (apt-get install nginx-light; .ci/run does)",
)


@pytest.fixture(scope="module")
def layout(site_db, tmp_path_factory):
    with prod.Layout(site_db, tmp_path_factory.mktemp("prod"), port=prod.free_port()) as running:
        yield running


@pytest.fixture(scope="module")
def client(layout):
    with httpx.Client(base_url=layout.base, timeout=60) as c:
        yield c


def served_tables(db_path):
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    names = [n for (n,) in conn.execute("select name from sqlite_master where type in ('table', 'view') order by name")]
    counts = {n: conn.execute(f'select count(*) from "{n}"').fetchone()[0] for n in names
              if not (n.startswith("sqlite_") or "_fts" in n)}
    conn.close()
    return counts


def rows_text(db_path, table):
    """The "N rows" a table page prints, from the database (the identity work changes the counts)."""
    return f"{served_tables(db_path)[table]:,} rows"


def test_a_repeated_page_is_answered_from_the_cache(client, site_db):
    path = f"/{DB}/agreements?_facet=state_code&_facet=model&_facet=status&_t={uuid.uuid4().hex}"
    first, second = client.get(path), client.get(path)
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.headers["x-cache-status"] == "MISS" and second.headers["x-cache-status"] == "HIT"
    assert first.text == second.text and rows_text(site_db, "agreements") in second.text
    # the cached copy is the same for every reader: cookies neither split nor personalise it
    third = client.get(path, headers={"cookie": "ds_actor=someone; other=1"})
    assert third.headers["x-cache-status"] == "HIT" and third.text == first.text


def test_each_encoding_is_cached_apart(layout, site_db):
    """A browser (gzip) fills the cache first; a script that asked for no gzip still gets plain CSV."""
    path = f"/{DB}/agreements.csv?_stream=on&_size=max&_t={uuid.uuid4().hex}"
    with httpx.Client(base_url=layout.base, timeout=60) as browser:
        gz = browser.get(path, headers={"accept-encoding": "gzip"})
        gz_again = browser.get(path, headers={"accept-encoding": "gzip, deflate, br"})
    assert gz.headers["content-encoding"] == "gzip" and gz.headers["x-cache-status"] == "MISS"
    assert gz_again.headers["x-cache-status"] == "HIT" and gz_again.headers["content-encoding"] == "gzip"
    # urllib asks for no encoding and does not undo one: it must get the CSV itself
    import urllib.request
    for attempt in ("MISS", "HIT"):
        with urllib.request.urlopen(layout.base + path, timeout=60) as r:
            body = r.read()
            assert r.headers["x-cache-status"] == attempt and r.headers.get("content-encoding") is None
    lines = body.decode("utf-8").splitlines()
    assert lines[0].startswith("id,seq,agency_id") and len(lines) == 1 + served_tables(site_db)["agreements"]
    assert body.decode("utf-8") == gz.text


def test_a_new_database_is_never_answered_from_the_old_cache(site_db, tmp_path):
    """Two builds served in turn from one run directory (one cache): the second's pages are fresh."""
    served = tmp_path / "site"
    served.mkdir()
    for f in (site_db, serve.metadata_path(site_db)):
        shutil.copy2(f, served / f.name)
    db = served / site_db.name
    conn = sqlite3.connect(db)
    agreement_id, agency = conn.execute("select id, agency from agreements order by id limit 1").fetchone()
    conn.close()
    rebuilt = tmp_path / "rebuilt.db"
    shutil.copy2(db, rebuilt)
    conn = sqlite3.connect(rebuilt)
    conn.execute("update agreements set agency = agency || ' (rebuilt)' where id = ?", (agreement_id,))
    conn.commit()
    conn.close()

    run_dir, port, path = tmp_path / "run", prod.free_port(), f"/{DB}/agreements/{agreement_id}.json?_shape=objects"
    with prod.Layout(db, run_dir, port=port) as old, httpx.Client(base_url=old.base) as c:
        answers = [c.get(path) for _ in range(2)]
        assert [r.headers["x-cache-status"] for r in answers] == ["MISS", "HIT"]
        assert answers[1].json()["rows"][0]["agency"] == agency
        old_hash = answers[1].headers["x-database-hash"]
    time.sleep(0.01)
    shutil.move(rebuilt, db)  # the next build replaces the file, as the build's os.replace does
    with prod.Layout(db, run_dir, port=port) as new, httpx.Client(base_url=new.base) as c:
        answers = [c.get(path) for _ in range(2)]
        assert [r.headers["x-cache-status"] for r in answers] == ["MISS", "HIT"]
        assert answers[0].json()["rows"][0]["agency"] == agency + " (rebuilt)"
        assert answers[0].headers["x-database-hash"] != old_hash


def test_typed_sql_over_the_rate_limit_gets_429(client, site_db):
    rate, burst = prod.SQL_LIMITS["SQL_RATE"], prod.SQL_LIMITS["SQL_BURST"]
    time.sleep(burst / rate + 0.5)  # a full bucket
    started = time.monotonic()
    answers = [client.get(f"/{DB}.json", params={"sql": f"select {i} as n"}) for i in range(20)]
    # the bucket refills at `rate` a second while the requests are sent (slowly, on a busy machine)
    refilled = int((time.monotonic() - started) * rate) + 1
    statuses = [r.status_code for r in answers]
    assert statuses[:1 + burst] == [200] * (1 + burst)
    assert set(statuses) == {200, 429} and statuses.count(200) <= 1 + burst + refilled, statuses
    refused = next(r for r in answers if r.status_code == 429)
    assert "typed SQL" in refused.text and refused.headers["retry-after"] == "1"
    assert [r.json()["rows"] for r in answers[:2]] == [[[0]], [[1]]]
    # the same address still gets pages, uncached ones included
    page = client.get(f"/{DB}/agencies?_t={uuid.uuid4().hex}")
    assert page.status_code == 200 and rows_text(site_db, "agencies") in page.text


def test_typed_sql_never_runs_in_the_pages_process(client, layout):
    """nginx routes sql and _where to the SQL process; an escaped name that slips past is refused."""
    assert client.get(f"/{DB}.json?%73ql=select+1").status_code == 403
    with httpx.Client(transport=httpx.HTTPTransport(uds=str(layout.sock("pages")))) as pages:
        assert pages.get(f"http://localhost/{DB}.json?sql=select+1").status_code == 403
        assert pages.get(f"http://localhost/{DB}/agreements.json?_where=1").status_code == 403
        assert pages.get(f"http://localhost/{DB}/agreements.json?_size=1").status_code == 200
    with httpx.Client(transport=httpx.HTTPTransport(uds=str(layout.sock("sql")))) as sql:
        settings = sql.get("http://localhost/-/settings.json").json()
        assert settings["sql_time_limit_ms"] == serve.SQL_SETTINGS["sql_time_limit_ms"] == 1000


def test_printf_with_a_huge_precision_is_refused_on_the_sql_upstream(client):
    time.sleep(prod.SQL_LIMITS["SQL_BURST"] / prod.SQL_LIMITS["SQL_RATE"] + 0.5)
    r = client.get(f"/{DB}.json", params={"sql": "select length(printf('%.*c', 900000000, 'x')) as n"})
    assert r.status_code == 400 and r.json()["error"] == "user-defined function raised exception"
    ok = client.get(f"/{DB}.json", params={"sql": "select printf('%05.1f|%.3c|%s', 2.5, 'x', state_code) as s "
                                                  "from agreements where state_code = 'TX' limit 1", "_shape": "array"})
    assert ok.status_code == 200 and ok.json() == [{"s": "002.5|xxx|TX"}]


def test_a_hostile_sql_burst_does_not_stop_the_agreements_page(client, layout, site_db):
    time.sleep(prod.SQL_LIMITS["SQL_BURST"] / prod.SQL_LIMITS["SQL_RATE"] + 0.5)
    stop, hostile = threading.Event(), []
    queries = list(ALWAYS_STOPPED.values())

    def attacker(k):
        with httpx.Client(base_url=layout.base, timeout=60) as c:
            i = k
            while not stop.is_set():
                hostile.append(c.get(f"/{DB}.json", params={"sql": queries[i % len(queries)]}))
                i += 1

    threads = [threading.Thread(target=attacker, args=(k,)) for k in range(10)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        # cache-busting, so every request reaches the pages process while the SQL process is busy
        pages = [client.get(f"/{DB}/agreements?_facet=state_code&_facet=model&_t={uuid.uuid4().hex}") for _ in range(8)]
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert [p.status_code for p in pages] == [200] * 8
    assert all(rows_text(site_db, "agreements") in p.text and p.headers["x-cache-status"] == "MISS" for p in pages)
    statuses = {r.status_code for r in hostile}
    assert hostile and statuses <= {400, 429}, statuses  # stopped by the time limit or the rate limit
    assert 429 in statuses
    stopped = [r for r in hostile if r.status_code == 400]
    assert all("took too long" in r.json()["error"] for r in stopped)


def test_every_table_view_and_canned_query_is_served(client, site_db):
    counts = served_tables(site_db)
    assert {"agreements", "agencies", "listings", "changes", "publications"} <= set(counts)
    for table, count in counts.items():
        html = client.get(f"/{DB}/{table}")
        assert html.status_code == 200 and f"{count:,} row" in html.text, table
        data = client.get(f"/{DB}/{table}.json?_size=max&_shape=objects").json()
        assert data["filtered_table_rows_count"] == count, table
        assert len(data["rows"]) == min(count, serve.SETTINGS["max_returned_rows"]), table
        csv = client.get(f"/{DB}/{table}.csv?_stream=on&_size=max")
        assert csv.status_code == 200 and csv.text.count("\n") >= count, table
    for name, query in QUERIES.items():
        for fmt in ("", ".json", ".csv"):
            r = client.get(config.example_path(query, fmt=fmt))
            assert r.status_code == 200, (name, fmt, r.text[:200])
        data = client.get(config.example_path(query, fmt=".json")).json()
        assert data["ok"] and data["rows"], name
    assert len(client.get(f"/{DB}/as_of.json?date=2026-03-27&_shape=array").json()) == 1560


def test_row_pages_are_served(client, site_db):
    conn = sqlite3.connect(f"file:{site_db}?mode=ro", uri=True)
    agreement_id, agency_id = conn.execute(
        "select id, agency_id from agreements where status = 'active' order by id limit 1").fetchone()
    conn.close()
    agreement = client.get(f"/{DB}/agreements/{agreement_id}")
    assert agreement.status_code == 200 and f'href="/287g/agencies/{agency_id}"' in agreement.text
    agency = client.get(f"/{DB}/agencies/{agency_id}")
    assert agency.status_code == 200 and f'/287g/agreements/{agreement_id}"' in agency.text
    for path in ("/", "/about", f"/{DB}", f"/{DB}/recent_changes.atom", "/-/versions.json"):
        assert client.get(path).status_code == 200, path


def test_serve_prod_runs_until_sigterm_and_stops_every_process(site_db, tmp_path):
    """`open287g serve --prod` as a user runs it: it serves, and SIGTERM leaves nothing behind."""
    port, run_dir = prod.free_port(), tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "open287g.cli", "serve", "--prod", "--db", str(site_db),
                             "--port", str(port), "--run-dir", str(run_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # it says "serving" once every process answers (or exits 2 within its 60 s start limit)
        said = proc.stderr.readline()
        assert said.startswith("serving"), said + proc.stderr.read()
        r = httpx.get(f"http://127.0.0.1:{port}/{DB}/agreements.json?_size=1", timeout=10)
        assert r.status_code == 200 and r.headers["x-cache-status"] in ("MISS", "HIT")
        pids = [int((run_dir / f"{name}.pid").read_text()) for name in ("nginx", "supervisord")]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://127.0.0.1:{port}/-/versions.json", timeout=2)
    for sock in ("pages", "sql"):
        with pytest.raises(httpx.HTTPError):
            with httpx.Client(transport=httpx.HTTPTransport(uds=str(run_dir / f"{sock}.sock")), timeout=2) as c:
                c.get("http://localhost/-/versions.json")
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids)


def test_serve_prod_on_a_busy_port_says_so_in_one_line(site_db, tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "open287g.cli", "serve", "--prod", "--db", str(site_db),
                               "--port", str(port), "--run-dir", str(tmp_path / "run")],
                              capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: 127.0.0.1:{port} is in use (Address already in use): stop what runs there or pass another --port"
