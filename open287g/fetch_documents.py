"""Reads the MOA and ADDENDUM links of the participating workbooks under data/ice, downloads each linked PDF once (by sha256) into a folder outside git, and appends its MANIFEST.csv."""
import collections
import csv
import datetime
import hashlib
import io
import re
import sys
import urllib.parse
from pathlib import Path

import click
import httpx

from . import BUILD, DATA, ROOT, fetch
from .fetch import FetchError, download
from .files import atomic_write, file_sha256
from .moa import name_in
from .pdfpages import MAX_BYTES, Refused, check_bytes
from .read import extract_cached, interpret, unwrap_url

MANIFEST = "MANIFEST.csv"
HEADER = ("file", "url", "sha256", "bytes", "fetched_at", "workbook", "sheet_row")
_UNSAFE = re.compile(r"[^A-Za-z0-9._ ()'-]")


def document_links(data_dir, cache_dir=None):
    """{ICE's URL: (workbook, sheet row)} for every MOA/ADDENDUM link the participating workbooks print, first seen first."""
    links = {}
    for path in sorted((Path(data_dir) / "ice" / "participating").glob("*.xlsx")):
        result = extract_cached(path, file_sha256(path), cache_dir)
        if "ok" not in result:
            continue  # the build reports a workbook it cannot read; its links wait for a readable one
        read = interpret(result["ok"])
        for row, sheet_row in zip(read["rows"], read["sheet_rows"]):
            for column in ("moa_url", "addendum_url"):
                url = unwrap_url(getattr(row, column))
                if url and name_in(url) and url.lower().startswith("http"):
                    links.setdefault(url, (path.name, sheet_row))
    return links


def read_manifest(folder):
    path = Path(folder) / MANIFEST
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def write_manifest(folder, rows):
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=HEADER, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(Path(folder) / MANIFEST, out.getvalue().encode("utf-8"))


def store_name(folder, name, sha256, taken):
    """ICE's file name, made safe; <stem>__<sha8>.pdf when another document already holds that name."""
    name = _UNSAFE.sub("_", name).lstrip(".") or "document.pdf"
    stem, dot, ext = name.rpartition(".")
    for candidate in (name, f"{stem}__{sha256[:8]}.{ext}" if dot else f"{name}__{sha256[:8]}"):
        if candidate not in taken and not (Path(folder) / candidate).exists():
            return candidate
    raise FetchError(f"no free file name for {name}")


def fetch_documents(client, data_dir, folder, cache_dir=None, retries=3, backoff=2.0, say=lambda line: None):
    """Download every linked document not yet in the folder's manifest; returns (new, refused) lines."""
    folder = Path(folder)
    rows = read_manifest(folder)
    known_urls = {r["url"] for r in rows}
    by_sha = {r["sha256"]: r["file"] for r in rows}
    taken = {r["file"] for r in rows}
    new, refused = [], []
    unreachable, skipped = set(), collections.Counter()
    for url, (workbook, sheet_row) in document_links(data_dir, cache_dir).items():
        if url in known_urls:
            continue  # fetched once already: ICE's documents do not change under the same link
        host = urllib.parse.urlsplit(url).hostname
        if host in unreachable:
            skipped[host] += 1
            continue
        try:
            data, _final, _type = download(client, url, MAX_BYTES, retries, backoff)
            check_bytes(data)
        except (FetchError, Refused) as e:
            refused.append(f"refused document {url}: {e}")
            say(refused[-1])
            if str(e).startswith("connection failed"):
                # a host that cannot be reached after the retries is not tried again this run
                unreachable.add(host)
            continue
        sha256 = hashlib.sha256(data).hexdigest()
        if sha256 in by_sha:
            stored = by_sha[sha256]  # the same bytes under another link: one file, one more manifest line
        else:
            stored = store_name(folder, name_in(url), sha256, taken)
            folder.mkdir(parents=True, exist_ok=True)
            atomic_write(folder / stored, data)
            by_sha[sha256] = stored
            taken.add(stored)
            new.append(f"new document {stored} ({len(data):,} bytes)")
            say(new[-1])
        rows.append({"file": stored, "url": url, "sha256": sha256, "bytes": len(data),
                     "fetched_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                     "workbook": workbook, "sheet_row": sheet_row})
        known_urls.add(url)
        write_manifest(folder, rows)  # after each document: an interrupted fetch keeps what it stored
    for host, n in sorted(skipped.items()):
        refused.append(f"refused documents: {host} could not be reached; {n:,} more of its links left for the next fetch")
        say(refused[-1])
    return new, refused


@click.command("fetch")
@click.option("--url", "page_url", envvar="OPEN287G_PAGE_URL", default=fetch.DEFAULT_PAGE_URL, show_default=True,
              help="ICE's 287(g) page (env OPEN287G_PAGE_URL).")
@click.option("--data", "data_dir", type=click.Path(file_okay=False), default=str(DATA), show_default=True,
              help="Data folder; workbooks go to <data>/ice/participating and <data>/ice/pending.")
@click.option("--user-agent", envvar="OPEN287G_USER_AGENT", default=fetch.DEFAULT_USER_AGENT, show_default=True,
              help="User-Agent header (env OPEN287G_USER_AGENT).")
@click.option("--timeout", type=float, default=fetch.DEFAULT_TIMEOUT, show_default=True, help="Seconds per connect/read.")
@click.option("--retries", type=click.IntRange(0, 10), default=fetch.DEFAULT_RETRIES, show_default=True,
              help="Extra attempts on connection errors, timeouts, HTTP 429 and 5xx.")
@click.option("--backoff", type=float, default=fetch.DEFAULT_BACKOFF, show_default=True,
              help="Seconds before the first retry; doubles each time.")
@click.option("--max-bytes", type=click.IntRange(1), default=fetch.DEFAULT_MAX_BYTES, show_default=True,
              help="Largest workbook accepted.")
@click.option("--documents", "documents_dir", envvar="OPEN287G_DOCUMENTS", type=click.Path(file_okay=False),
              default=str(ROOT / "raw" / "moa"), show_default=True,
              help="Where the MOA PDFs the workbooks link are kept, outside git (env OPEN287G_DOCUMENTS; docs/OPERATIONS.md).")
@click.option("--no-documents", is_flag=True, help="Fetch the workbooks only.")
def fetch_command(page_url, data_dir, user_agent, timeout, retries, backoff, max_bytes, documents_dir, no_documents):
    """Download ICE's current workbooks and store the ones whose bytes are new; then every MOA and addendum they link."""

    def echo(line):
        click.echo(line, err=line.startswith("refused "))

    result = fetch.fetch(page_url, data_dir, user_agent=user_agent, timeout=timeout, retries=retries,
                   max_bytes=max_bytes, backoff=backoff, echo=echo)
    if not no_documents:
        # a document ICE no longer serves is reported, but does not fail the refresh of the lists
        with httpx.Client(headers={"User-Agent": user_agent}, timeout=httpx.Timeout(timeout), follow_redirects=True) as client:
            fetch_documents(client, data_dir, documents_dir, BUILD / "cache", retries, backoff, say=echo)
    sys.exit(0 if result.ok else 1)
