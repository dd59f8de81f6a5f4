"""The fetcher against a local HTTP server serving an ICE-shaped page, real workbooks and bad responses."""
import csv
import hashlib
import io
import os
import re
import shutil
import zipfile

import pytest
from click.testing import CliRunner

from conftest import snapshot_manifest
from ice_server import DOCLIB, Server, ice_page
from open287g import DATA
from open287g.fetch import fetch, find_links
from open287g.fetch_documents import fetch_command

ICE = DATA / "ice"
NEWEST_PARTICIPATING = "participatingAgencies03272026am.xlsx"
NEWEST_PENDING = "pendingAgencies02272026am.xlsx"
FAST = dict(timeout=2.0, retries=2, backoff=0.01)


def real_manifest():
    with open(ICE / "MANIFEST.csv", newline="", encoding="utf-8") as f:
        return {row["file"]: row for row in csv.DictReader(f)}


MANIFEST = real_manifest()


def real_bytes(rel):
    return (ICE / rel).read_bytes()


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    s.close()


@pytest.fixture
def data_dir(tmp_path):
    """A temp data/ with the real manifest as of the snapshot and empty list folders."""
    ice = tmp_path / "data" / "ice"
    for folder in ("participating", "pending"):
        (ice / folder).mkdir(parents=True)
    (ice / "MANIFEST.csv").write_bytes(snapshot_manifest())
    return tmp_path / "data"


def drop_rows(data_dir, *files):
    path = data_dir / "ice" / "MANIFEST.csv"
    lines = path.read_bytes().split(b"\r\n")
    kept = [line for line in lines if line.split(b",", 1)[0].decode() not in files]
    assert len(kept) == len(lines) - len(files)
    path.write_bytes(b"\r\n".join(kept))


def listing(data_dir):
    """Every file under data/ice, hidden temp files included."""
    ice = data_dir / "ice"
    return sorted(str(p.relative_to(ice)) for p in ice.rglob("*") if p.is_file())


def read_rows(data_dir):
    with open(data_dir / "ice" / "MANIFEST.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def sha(data):
    return hashlib.sha256(data).hexdigest()


# --- link finding -------------------------------------------------------------------------


def test_find_links_resolves_and_classifies():
    page = """<p>Lists: <a href="/doclib/about/287g/participatingAgencies03272026am.xlsx">participating</a>,
    <a href='pendingAgencies02272026am.XLSX?v=3#top'>pending</a>,
    <a href="https://www.ice.gov/doclib/about/287g/participatingAgencies03272026am.xlsx">again</a>
    <a href="/doclib/about/287g/287gFactSheet.pdf">pdf</a> <a href="/doclib/steeringCommittee.xlsx">other</a>
    <a>no href</a></p>"""
    links, ignored = find_links(page, "https://www.ice.gov/identify-and-arrest/287g")
    assert [(l.list, l.name, l.url) for l in links] == [
        ("participating", "participatingAgencies03272026am.xlsx",
         "https://www.ice.gov/doclib/about/287g/participatingAgencies03272026am.xlsx"),
        ("pending", "pendingAgencies02272026am.XLSX", "https://www.ice.gov/identify-and-arrest/pendingAgencies02272026am.XLSX?v=3"),
    ]
    assert [u for u, _ in ignored] == ["https://www.ice.gov/doclib/steeringCommittee.xlsx"]


# --- (a) unchanged, (b) new, (c) re-run ---------------------------------------------------


def test_known_workbooks_are_unchanged_and_nothing_is_written(server, data_dir):
    url = server.serve({
        NEWEST_PARTICIPATING: ("bytes", real_bytes(f"participating/{NEWEST_PARTICIPATING}")),
        NEWEST_PENDING: ("bytes", real_bytes(f"pending/{NEWEST_PENDING}")),
    })
    before = (data_dir / "ice" / "MANIFEST.csv").read_bytes()
    result = fetch(url, data_dir, **FAST)
    assert result.ok and result.new == [] and result.refused == []
    assert [(u.file, u.sha256) for u in result.unchanged] == [
        (f"participating/{NEWEST_PARTICIPATING}", MANIFEST[f"participating/{NEWEST_PARTICIPATING}"]["sha256"]),
        (f"pending/{NEWEST_PENDING}", MANIFEST[f"pending/{NEWEST_PENDING}"]["sha256"]),
    ]
    assert listing(data_dir) == ["MANIFEST.csv"]
    assert (data_dir / "ice" / "MANIFEST.csv").read_bytes() == before


def test_republished_bytes_under_a_new_name_are_unchanged(server, data_dir):
    url = server.serve({"participatingAgencies04012026am.xlsx": ("bytes", real_bytes(f"participating/{NEWEST_PARTICIPATING}"))})
    result = fetch(url, data_dir, **FAST)
    assert result.ok and [u.file for u in result.unchanged] == [f"participating/{NEWEST_PARTICIPATING}"]
    assert listing(data_dir) == ["MANIFEST.csv"]


def test_new_workbooks_are_stored_with_manifest_rows_and_rerun_is_a_no_op(server, data_dir):
    part, pend = f"participating/{NEWEST_PARTICIPATING}", f"pending/{NEWEST_PENDING}"
    drop_rows(data_dir, part, pend)
    old_rows = read_rows(data_dir)
    old_bytes = (data_dir / "ice" / "MANIFEST.csv").read_bytes()
    url = server.serve({NEWEST_PARTICIPATING: ("bytes", real_bytes(part)), NEWEST_PENDING: ("bytes", real_bytes(pend))})
    lines = []
    result = fetch(url, data_dir, echo=lines.append, **FAST)
    assert result.ok, result.refused
    assert lines == ["new participating/participatingAgencies03272026am.xlsx (1,560 rows)",
                     "new pending/pendingAgencies02272026am.xlsx (2 rows)"]
    assert listing(data_dir) == ["MANIFEST.csv", part, pend]
    for rel in (part, pend):
        assert (data_dir / "ice" / rel).read_bytes() == real_bytes(rel)

    rows = read_rows(data_dir)
    assert len(rows) == len(old_rows) + 2
    # every old row keeps every old value; the two new columns are blank for them
    for old, now in zip(old_rows, rows):
        assert {k: now[k] for k in old} == old
        assert now["source_url"] == now["fetched_utc"] == ""
    for rel, new in zip((part, pend), rows[-2:]):
        real = MANIFEST[rel]
        assert new["file"] == rel and new["original_name"] == real["original_name"]
        assert new["sha256"] == real["sha256"] == sha(real_bytes(rel))
        assert new["bytes"] == real["bytes"]
        assert new["data_rows"] == real["data_rows"]
        assert new["header"] == real["header"]
        assert new["source_url"] == server.base + DOCLIB + rel.split("/")[1]
        assert new["archived_by"] == f"fetched from {url}"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", new["capture_utc"])
        assert new["fetched_utc"] == new["capture_utc"]
    assert rows[-2]["data_rows"] == "1560" and rows[-1]["data_rows"] == "2"
    assert rows[-1]["header"] == "STATE|LAW ENFORCEMENT AGENCY|TYPE|COUNTY|SUPPORT TYPE|MOA"
    # byte for byte: the old header and rows, each with two empty columns added, then the new rows
    old_lines = old_bytes.split(b"\r\n")[:-1]
    new_lines = (data_dir / "ice" / "MANIFEST.csv").read_bytes().split(b"\r\n")
    assert new_lines[0] == b"file,original_name,sha256,bytes,data_rows,header,capture_utc,archived_by,source_url,fetched_utc"
    assert new_lines[1:len(old_lines)] == [line + b",," for line in old_lines[1:]]
    assert len(new_lines) == len(old_lines) + 3 and new_lines[-1] == b""

    # (c) again: nothing new, nothing rewritten
    after = (data_dir / "ice" / "MANIFEST.csv").read_bytes()
    again = fetch(url, data_dir, **FAST)
    assert again.ok and again.new == [] and [u.file for u in again.unchanged] == [part, pend]
    assert (data_dir / "ice" / "MANIFEST.csv").read_bytes() == after
    assert listing(data_dir) == ["MANIFEST.csv", part, pend]


# --- (e) ICE reuses a name for other bytes -----------------------------------------------------


def test_reused_name_gets_sha_suffix(server, data_dir):
    # ICE published two different files as participatingAgencies07032025pm.xlsx; the first is on disk.
    first = "participating/participatingAgencies07032025pm.xlsx"
    second = "participating/participatingAgencies07032025pm__dfbd5b3a.xlsx"
    shutil.copyfile(ICE / first, data_dir / "ice" / first)
    drop_rows(data_dir, second)
    url = server.serve({"participatingAgencies07032025pm.xlsx": ("bytes", real_bytes(second))})
    result = fetch(url, data_dir, **FAST)
    assert result.ok
    assert [(s.file, s.original_name, s.data_rows) for s in result.new] == [
        (second, "participatingAgencies07032025pm.xlsx", 777)]
    assert (data_dir / "ice" / first).read_bytes() == real_bytes(first)  # untouched
    assert (data_dir / "ice" / second).read_bytes() == real_bytes(second)
    row = read_rows(data_dir)[-1]
    assert (row["file"], row["sha256"], row["bytes"]) == (second, MANIFEST[second]["sha256"], "104263")


def test_file_left_by_an_interrupted_fetch_is_adopted(server, data_dir):
    # Stored on disk, but the run died before the manifest was rewritten.
    rel = f"pending/{NEWEST_PENDING}"
    drop_rows(data_dir, rel)
    shutil.copyfile(ICE / rel, data_dir / "ice" / rel)
    url = server.serve({NEWEST_PENDING: ("bytes", real_bytes(rel))})
    result = fetch(url, data_dir, **FAST)
    assert [s.file for s in result.new] == [rel]
    assert listing(data_dir) == ["MANIFEST.csv", rel]
    assert read_rows(data_dir)[-1]["sha256"] == MANIFEST[rel]["sha256"]


# --- (d) bad responses ------------------------------------------------------------------------


def zip_bytes(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


WORKBOOK = real_bytes(f"participating/{NEWEST_PARTICIPATING}")
HTML_ERROR = (b"<!DOCTYPE html>\n<html><head><title>Access Denied</title></head><body><h1>Access Denied</h1>"
              b"<p>You don't have permission to access this resource.</p></body></html>")

BAD = {
    "html_error_page": (("bytes", HTML_ERROR, "text/html"), {}, r"an HTML page, not a workbook", 1),
    "truncated_download": (("truncate", WORKBOOK[:50_000]), {}, r"truncated download.*\(after 3 attempts\)", 3),
    "truncated_zip": (("bytes", WORKBOOK[: len(WORKBOOK) // 2]), {}, r"truncated or damaged zip archive", 1),
    "zip_not_xlsx": (("bytes", zip_bytes({"README.txt": "hello", "data.csv": "a,b\n1,2\n"})), {},
                     r"a zip archive but not an \.xlsx workbook \(no \[Content_Types\]\.xml, xl/workbook\.xml\)", 1),
    "zip_broken_workbook": (("bytes", zip_bytes({"[Content_Types].xml": "<Types/>", "xl/workbook.xml": "<workbook"})), {},
                            r"unreadable workbook: .*xl/workbook\.xml", 1),
    "oversized_declared": (("bytes", WORKBOOK), {"max_bytes": 100_000},
                           r"too large: Content-Length 207,774 bytes is over the 100,000-byte limit", 1),
    "oversized_streamed": (("unsized", WORKBOOK), {"max_bytes": 100_000}, r"too large: over the 100,000-byte limit", 1),
    "http_404": (("status", 404), {}, r"^HTTP 404 Not Found$", 1),
    "http_500_for_good": (("status", 500), {}, r"^HTTP 500 Internal Server Error \(after 3 attempts\)$", 3),
    "timeout": (("sleep", 1.5, WORKBOOK), {"timeout": 0.25, "retries": 1}, r"timed out .*\(after 2 attempts\)", 2),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_response_is_refused_and_leaves_nothing(server, data_dir, case):
    spec, options, reason, requests = BAD[case]
    name = "participatingAgencies04012026am.xlsx"  # not in the manifest: would be new if it were good
    before = (data_dir / "ice" / "MANIFEST.csv").read_bytes()
    url = server.serve({name: spec})
    result = fetch(url, data_dir, **{**FAST, **options})
    assert not result.ok and result.new == [] and result.unchanged == []
    [refusal] = result.refused
    assert refusal.url == server.base + DOCLIB + name
    assert re.search(reason, refusal.reason), refusal.reason
    assert "\n" not in refusal.reason
    assert server.hits[DOCLIB + name] == requests
    assert listing(data_dir) == ["MANIFEST.csv"]
    assert (data_dir / "ice" / "MANIFEST.csv").read_bytes() == before


def test_http_500_that_recovers_is_retried(server, data_dir):
    rel = f"pending/{NEWEST_PENDING}"
    drop_rows(data_dir, rel)
    url = server.serve({NEWEST_PENDING: ("fail_first", 2, 500, real_bytes(rel))})
    result = fetch(url, data_dir, **FAST)
    assert result.ok and [s.file for s in result.new] == [rel]
    assert server.hits[DOCLIB + NEWEST_PENDING] == 3
    assert (data_dir / "ice" / rel).read_bytes() == real_bytes(rel)


def test_page_without_workbook_links_is_an_error(server, data_dir):
    url = server.serve({})
    before = (data_dir / "ice" / "MANIFEST.csv").read_bytes()
    result = fetch(url, data_dir, **FAST)
    assert [(r.url, r.reason) for r in result.refused] == [
        (url, "no links to participating or pending .xlsx workbooks on the page")]
    assert server.hits == {"/identify-and-arrest/287g": 1}
    assert listing(data_dir) == ["MANIFEST.csv"]
    assert (data_dir / "ice" / "MANIFEST.csv").read_bytes() == before


def test_missing_page_is_an_error(server, data_dir):
    server.serve({})
    result = fetch(server.base + "/no-such-page", data_dir, **FAST)
    assert [r.reason for r in result.refused] == ["HTTP 404 Not Found"]


def test_good_workbooks_are_kept_when_another_fails(server, data_dir):
    rel = f"pending/{NEWEST_PENDING}"
    drop_rows(data_dir, rel)
    url = server.serve({"participatingAgencies04012026am.xlsx": ("status", 404), NEWEST_PENDING: ("bytes", real_bytes(rel))})
    result = fetch(url, data_dir, **FAST)
    assert not result.ok
    assert [r.reason for r in result.refused] == ["HTTP 404 Not Found"]
    assert [s.file for s in result.new] == [rel]
    assert listing(data_dir) == ["MANIFEST.csv", rel]
    assert read_rows(data_dir)[-1]["file"] == rel


# --- (f) the command ---------------------------------------------------------------------------


def run_cli(url, data_dir, *extra):
    return CliRunner().invoke(fetch_command, ["--url", url, "--data", str(data_dir), "--timeout", "2",
                                              "--retries", "1", "--backoff", "0.01", *extra])


def test_cli_reports_one_line_per_file_and_exits_1_on_refusal(server, data_dir):
    rel = f"pending/{NEWEST_PENDING}"
    drop_rows(data_dir, rel)
    url = server.serve({
        NEWEST_PARTICIPATING: ("bytes", real_bytes(f"participating/{NEWEST_PARTICIPATING}")),
        NEWEST_PENDING: ("bytes", real_bytes(rel)),
        "participatingAgencies04012026am.xlsx": ("bytes", HTML_ERROR, "text/html"),
    })
    result = run_cli(url, data_dir)
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.output.splitlines() == [
        f"unchanged participating/{NEWEST_PARTICIPATING}",
        f"new {rel} (2 rows)",
        f"refused {server.base}{DOCLIB}participatingAgencies04012026am.xlsx: an HTML page, not a workbook "
        "(Content-Type text/html)",
    ]
    assert result.stderr.splitlines() == result.output.splitlines()[2:]


def test_cli_exits_0_when_all_fine_and_reads_env(server, data_dir, monkeypatch):
    url = server.serve({NEWEST_PENDING: ("bytes", real_bytes(f"pending/{NEWEST_PENDING}"))})
    monkeypatch.setenv("OPEN287G_PAGE_URL", url)
    result = CliRunner().invoke(fetch_command, ["--data", str(data_dir)])
    assert (result.exit_code, result.output) == (0, f"unchanged pending/{NEWEST_PENDING}\n")


def test_cli_page_error_is_one_line(server, data_dir):
    url = server.serve({})
    result = run_cli(url, data_dir)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output == f"refused {url}: no links to participating or pending .xlsx workbooks on the page\n"


def test_user_agent_is_sent(server, data_dir):
    seen = []
    url = server.serve({NEWEST_PENDING: ("bytes", real_bytes(f"pending/{NEWEST_PENDING}"))})
    original = server.httpd.RequestHandlerClass.do_GET

    def spy(handler):
        seen.append(handler.headers.get("User-Agent"))
        original(handler)

    server.httpd.RequestHandlerClass.do_GET = spy
    try:
        fetch(url, data_dir, user_agent="open287g-test/1.0", **FAST)
    finally:
        server.httpd.RequestHandlerClass.do_GET = original
    assert seen == ["open287g-test/1.0", "open287g-test/1.0"]
    assert os.listdir(data_dir / "ice" / "pending") == []
