"""The fetcher's second step against the local ICE-shaped server: every MOA and addendum a held workbook links
(a safelinks-wrapped link, an https:/ link, a dead link) is downloaded once by sha256, with a manifest line."""
import csv
import hashlib
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from click.testing import CliRunner

from ice_server import Server
from open287g.fetch_documents import fetch_command
from open287g.fetch_documents import document_links, fetch_documents
from workbooks import write_workbook

FRANKLIN = Path(__file__).parent / "moa" / "FranklinCountyAL_WSO_MOA_030625.pdf"
HEADER = ["STATE", "LAW ENFORCEMENT AGENCY", "TYPE", "COUNTY", "SUPPORT TYPE", "SIGNED", "MOA", "ADDENDUM"]


@pytest.fixture(scope="module")
def server():
    s = Server()
    s.serve({})
    s.routes["/doclib/287gMOA/FranklinCountyAL_WSO_MOA_030625.pdf"] = ("bytes", FRANKLIN.read_bytes(), "application/pdf")
    s.routes["/doclib/287gMOA/copy/FranklinCountyAL_WSO_MOA_030625.pdf"] = ("bytes", FRANKLIN.read_bytes(), "application/pdf")
    yield s
    s.close()


def safelink(url):
    return f"https://nam02.safelinks.protection.outlook.com/?url={quote(url, safe='')}&data=05%7C02&sdata=abc&reserved=0"


@pytest.fixture
def data_dir(tmp_path, server):
    """data/ holding one participating workbook whose rows link documents on the local server."""
    folder = tmp_path / "data" / "ice" / "participating"
    folder.mkdir(parents=True)
    base = server.base + "/doclib/287gMOA/"
    rows = [HEADER,
            ["ALABAMA", "Franklin County Sheriff's Office", "County", "Franklin County", "Warrant Service Officer", "2025-03-26", "link", None],
            ["ALABAMA", "Franklin County Sheriff's Office", "County", "Franklin County", "Task Force Model", "2025-03-18", "link", "link"]]
    path = write_workbook(folder / "participatingAgencies03282025am.xlsx", rows)
    import openpyxl

    wb = openpyxl.load_workbook(path)
    ws = wb.active
    ws["G2"].hyperlink = safelink(base + "FranklinCountyAL_WSO_MOA_030625.pdf")
    ws["G3"].hyperlink = base.replace("http://", "http:/") + "copy/FranklinCountyAL_WSO_MOA_030625.pdf"  # same bytes
    ws["H3"].hyperlink = base + "Missing_Addendum.pdf"  # ICE's link answers 404
    wb.save(path)
    return tmp_path / "data"


def test_links_are_read_unwrapped_with_their_row(data_dir, server):
    links = document_links(data_dir)
    base = server.base + "/doclib/287gMOA/"
    assert links == {
        base + "FranklinCountyAL_WSO_MOA_030625.pdf": ("participatingAgencies03282025am.xlsx", 2),
        base + "copy/FranklinCountyAL_WSO_MOA_030625.pdf": ("participatingAgencies03282025am.xlsx", 3),
        base + "Missing_Addendum.pdf": ("participatingAgencies03282025am.xlsx", 3),
    }


def test_each_document_stored_once_by_sha256_with_manifest(data_dir, server, tmp_path):
    folder = tmp_path / "raw" / "moa"
    with httpx.Client(timeout=2) as client:
        new, refused = fetch_documents(client, data_dir, folder, retries=0, backoff=0.01)
    assert new == [f"new document FranklinCountyAL_WSO_MOA_030625.pdf ({FRANKLIN.stat().st_size:,} bytes)"]
    assert len(refused) == 1 and "Missing_Addendum.pdf: HTTP 404" in refused[0]
    assert sorted(p.name for p in folder.iterdir()) == ["FranklinCountyAL_WSO_MOA_030625.pdf", "MANIFEST.csv"]
    assert (folder / FRANKLIN.name).read_bytes() == FRANKLIN.read_bytes()
    with open(folder / "MANIFEST.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    sha = hashlib.sha256(FRANKLIN.read_bytes()).hexdigest()
    assert [(r["file"], r["sha256"], r["bytes"], r["sheet_row"]) for r in rows] == [
        (FRANKLIN.name, sha, str(FRANKLIN.stat().st_size), "2"), (FRANKLIN.name, sha, str(FRANKLIN.stat().st_size), "3")]
    assert rows[0]["url"] == server.base + "/doclib/287gMOA/FranklinCountyAL_WSO_MOA_030625.pdf"
    assert rows[0]["workbook"] == "participatingAgencies03282025am.xlsx" and rows[0]["fetched_at"].endswith("Z")
    # a second run downloads nothing it holds; the dead link is tried again
    server.hits = {}
    with httpx.Client(timeout=2) as client:
        new, refused = fetch_documents(client, data_dir, folder, retries=0, backoff=0.01)
    assert new == [] and len(refused) == 1
    assert "/doclib/287gMOA/FranklinCountyAL_WSO_MOA_030625.pdf" not in server.hits


def test_cli_fetches_documents_into_the_folder_given(data_dir, server, tmp_path):
    folder = tmp_path / "docs"
    page = server.base + "/identify-and-arrest/287g"
    result = CliRunner().invoke(fetch_command, ["--url", page, "--data", str(data_dir), "--documents", str(folder),
                                                "--timeout", "2", "--retries", "0", "--backoff", "0.01"])
    assert f"new document {FRANKLIN.name}" in result.output
    assert (folder / FRANKLIN.name).exists()
