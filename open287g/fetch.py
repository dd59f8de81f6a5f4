"""Reads ICE's 287(g) page, downloads its workbooks, writes new ones under data/ice/ and the manifest."""
import csv
import datetime
import hashlib
import io
import re
import tempfile
import time
import zipfile
import zlib
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from . import DATA
from .files import atomic_write, file_sha256

DEFAULT_PAGE_URL = "https://www.ice.gov/identify-and-arrest/287g"


def _version():
    try:
        from importlib.metadata import version

        return version("open287g")
    except Exception:  # not installed as a distribution: the name alone is enough
        return "dev"


DEFAULT_USER_AGENT = f"open287g/{_version()} (287(g) Open Data fetcher; archives ICE's public 287(g) spreadsheets)"
DEFAULT_TIMEOUT = 30.0  # seconds, per connect / read / write
DEFAULT_RETRIES = 3  # extra attempts after the first, on transient failures only
DEFAULT_BACKOFF = 2.0  # seconds before the first retry; doubles each time
DEFAULT_MAX_BYTES = 20 * 1024 * 1024  # the largest real workbook is about 200 KB
MAX_PAGE_BYTES = 5 * 1024 * 1024
MAX_RETRY_AFTER = 60.0  # never wait longer than this on a server's Retry-After

LISTS = ("participating", "pending")
MANIFEST_NAME = "MANIFEST.csv"
NEW_COLUMNS = ("source_url", "fetched_utc")
MANIFEST_HEADER = (
    "file", "original_name", "sha256", "bytes", "data_rows", "header", "capture_utc", "archived_by", *NEW_COLUMNS,
)
XLSX_MEMBERS = ("[Content_Types].xml", "xl/workbook.xml")


class FetchError(Exception):
    """A download or a file refused; the message is one line naming the reason."""


class _Transient(FetchError):
    """A failure worth another attempt: connection trouble, timeouts, HTTP 429 and 5xx."""

    def __init__(self, message, retry_after=None):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class Link:
    url: str
    name: str  # the file name as ICE published it (URL-decoded)
    list: str  # participating or pending


@dataclass
class Stored:
    file: str  # relative to data/ice, e.g. participating/x.xlsx
    original_name: str
    url: str
    sha256: str
    bytes: int
    data_rows: int  # None when the build will refuse the file
    header: str
    unreadable: str = None  # why the build will refuse it


@dataclass
class Unchanged:
    url: str
    file: str  # the manifest entry that already holds these bytes
    sha256: str


@dataclass
class Refused:
    url: str
    reason: str


@dataclass
class FetchResult:
    new: list = field(default_factory=list)
    unchanged: list = field(default_factory=list)
    refused: list = field(default_factory=list)
    ignored: list = field(default_factory=list)  # .xlsx links that are neither list, as Refused(url, why)

    @property
    def ok(self):
        return not self.refused


# --- the page -------------------------------------------------------------------------


class _LinkParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.hrefs = []
        self.base = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.hrefs.append(attrs["href"].strip())
        elif tag == "base" and attrs.get("href") and self.base is None:
            self.base = attrs["href"].strip()


def classify(name):
    """'participating' or 'pending' from a workbook's file name, or None when it says neither (or both)."""
    low = name.lower()
    found = [kind for kind in LISTS if kind in low]
    return found[0] if len(found) == 1 else None


def find_links(html_text, page_url):
    """(links, ignored): workbook links on the page in page order, and other .xlsx links as (url, reason)."""
    parser = _LinkParser()
    parser.feed(html_text)
    parser.close()
    base = urljoin(page_url, parser.base) if parser.base else page_url
    links, ignored, seen = [], [], set()
    for href in parser.hrefs:
        url = urljoin(base, href)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.path.lower().endswith(".xlsx"):
            continue
        url = parts._replace(fragment="").geturl()
        if url in seen:
            continue
        seen.add(url)
        name = unquote(parts.path.rsplit("/", 1)[-1])
        kind = classify(name)
        if kind is None:
            ignored.append((url, f"file name {name!r} names neither the participating nor the pending list"))
        else:
            links.append(Link(url, name, kind))
    return links, ignored


# --- downloads ------------------------------------------------------------------------


def _retry_after(response):
    value = response.headers.get("retry-after", "").strip()
    return min(float(value), MAX_RETRY_AFTER) if value.isdigit() else None


def _download_once(client, url, max_bytes, deadline):
    try:
        with client.stream("GET", url) as response:
            status = response.status_code
            if status == 429 or status >= 500:
                raise _Transient(f"HTTP {status} {response.reason_phrase}".strip(), _retry_after(response))
            if status != 200:
                raise FetchError(f"HTTP {status} {response.reason_phrase}".strip())
            declared = response.headers.get("content-length")
            declared = int(declared) if declared and declared.strip().isdigit() else None
            if declared is not None and declared > max_bytes:
                raise FetchError(f"too large: Content-Length {declared:,} bytes is over the {max_bytes:,}-byte limit")
            chunks, size, started = [], 0, time.monotonic()
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes or response.num_bytes_downloaded > max_bytes:
                    raise FetchError(f"too large: over the {max_bytes:,}-byte limit after {size:,} bytes")
                if time.monotonic() - started > deadline:
                    raise _Transient(f"timed out: download took longer than {deadline:g}s")
                chunks.append(chunk)
            if declared is not None and response.num_bytes_downloaded != declared:
                raise _Transient(
                    f"truncated download: received {response.num_bytes_downloaded:,} of {declared:,} bytes (Content-Length)"
                )
            return b"".join(chunks), str(response.url), response.headers.get("content-type", "")
    except httpx.TimeoutException as e:
        raise _Transient(f"timed out ({type(e).__name__}, timeout {client.timeout.read}s)") from None
    except httpx.RemoteProtocolError as e:
        detail = str(e).splitlines()[0] if str(e) else type(e).__name__
        if "complete message body" in detail:
            raise _Transient(f"truncated download: {detail}") from None
        raise _Transient(f"protocol error: {detail}") from None
    except httpx.TransportError as e:
        detail = str(e).splitlines()[0] if str(e) else "no detail"
        raise _Transient(f"connection failed ({type(e).__name__}: {detail})") from None
    except httpx.InvalidURL as e:
        raise FetchError(f"invalid URL ({e})") from None
    except httpx.HTTPError as e:  # anything else httpx raises, still as one line
        raise FetchError(f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else 'no detail'}") from None


def download(client, url, max_bytes, retries, backoff, sleep=time.sleep):
    """GET url with retries and exponential backoff on transient failures -> (body, final url, content type).

    Raises FetchError with a one-line reason; the last transient reason when retries run out.
    """
    deadline = max(client.timeout.read or DEFAULT_TIMEOUT, 1.0) * 20
    for attempt in range(retries + 1):
        try:
            return _download_once(client, url, max_bytes, deadline)
        except _Transient as e:
            if attempt == retries:
                tries = f" (after {attempt + 1} attempts)" if attempt else ""
                raise FetchError(f"{e}{tries}") from None
            delay = backoff * (2**attempt)
            if e.retry_after is not None:
                delay = max(delay, e.retry_after)
            sleep(delay)


# --- validation -----------------------------------------------------------------------


def _looks_like_html(data):
    head = data[:4096].lstrip().lower()
    return head.startswith(b"<") and (b"<html" in head or b"<!doctype html" in head)


def check_package(data, content_type=""):
    """Refuse bytes that are not an .xlsx package: HTML pages, damaged or truncated zips, other zips."""
    if not data:
        raise FetchError("empty response, not a workbook")
    if _looks_like_html(data) or (not data.startswith(b"PK") and "html" in content_type.lower()):
        raise FetchError(f"an HTML page, not a workbook (Content-Type {content_type or 'not given'})")
    if not data.startswith(b"PK\x03\x04"):
        raise FetchError(f"not a zip archive, so not an .xlsx workbook (starts {data[:8]!r})")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist())
            missing = [m for m in XLSX_MEMBERS if m not in names]
            if missing:
                raise FetchError(f"a zip archive but not an .xlsx workbook (no {', '.join(missing)})")
            bad = zf.testzip()
            if bad is not None:
                raise FetchError(f"damaged zip archive (bad CRC in {bad})")
    except (zipfile.BadZipFile, EOFError, zlib.error, ValueError, NotImplementedError) as e:
        raise FetchError(f"truncated or damaged zip archive ({e})") from None


def summarise(path):
    """(data_rows, header) as MANIFEST.csv records them, read as the build reads the file (read.read_list: the
    same sheet, the same header and rows).

    A workbook the build will refuse (a required column missing or renamed) is still a real
    workbook, kept: its data_rows and header are left empty, and the reason is returned third.
    """
    from .read import EmptySheet, PublicationError, read_list
    from .xlsx import WorkbookError

    try:
        sheet = read_list(path)[0]
    except (WorkbookError, EmptySheet) as e:
        raise FetchError(f"unreadable workbook: {e}") from None
    except PublicationError as e:
        return None, "", str(e)
    return len(sheet.rows), sheet.printed, None


def validate(data, content_type=""):
    """Check the bytes are a readable .xlsx workbook -> (data_rows, header, why the build will refuse it); FetchError otherwise."""
    check_package(data, content_type)
    with tempfile.TemporaryDirectory(prefix="open287g-fetch-") as tmp:
        path = Path(tmp) / "workbook.xlsx"
        path.write_bytes(data)
        return summarise(path)


# --- storage --------------------------------------------------------------------------


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def safe_name(name):
    """A file name safe to write: ICE's own names pass unchanged; anything else is reduced to [A-Za-z0-9._-]."""
    stem = name[: -len(".xlsx")] if name.lower().endswith(".xlsx") else name
    stem = _UNSAFE.sub("_", stem).lstrip(".") or "workbook"
    return f"{stem}.xlsx"


def choose_name(folder, name, sha256, taken):
    """(file name, already on disk): the original name, or <stem>__<sha8>.xlsx when ICE reused it for other bytes.

    `taken` is the set of manifest entries (relative paths); a name the manifest holds is taken even if
    its file is missing. A file already on disk with the same bytes (stored by a fetch interrupted
    before its manifest update) is adopted rather than written again.
    """
    stem = name[: -len(".xlsx")]
    for candidate in (name, f"{stem}__{sha256[:8]}.xlsx", f"{stem}__{sha256}.xlsx"):
        path = folder / candidate
        rel = f"{folder.name}/{candidate}"
        if path.exists():
            if file_sha256(path) == sha256:
                return candidate, True
            continue
        if rel in taken:
            continue
        return candidate, False
    raise FetchError(f"no free file name for {name} in {folder}")


# --- the manifest ---------------------------------------------------------------------


def read_manifest(path):
    """(header, rows as lists of strings, line terminator); an absent manifest is empty."""
    path = Path(path)
    if not path.exists():
        return list(MANIFEST_HEADER), [], "\r\n"
    raw = path.read_bytes()
    first = raw.split(b"\n", 1)[0]
    terminator = "\r\n" if first.endswith(b"\r") or b"\n" not in raw else "\n"
    reader = csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline=""))
    rows = list(reader)
    if not rows:
        return list(MANIFEST_HEADER), [], terminator
    return rows[0], rows[1:], terminator


def write_manifest(path, header, rows, terminator="\r\n"):
    """Rewrite the manifest atomically, adding source_url and fetched_utc columns if missing."""
    header = list(header)
    for column in NEW_COLUMNS:
        if column not in header:
            header.append(column)
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator=terminator)
    writer.writerow(header)
    for row in rows:
        if isinstance(row, dict):
            row = [row.get(column, "") for column in header]
        else:
            row = list(row) + [""] * (len(header) - len(row))
        writer.writerow(row)
    atomic_write(path, out.getvalue().encode("utf-8"))


def _utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the whole fetch ------------------------------------------------------------------


def fetch(
    page_url=DEFAULT_PAGE_URL,
    data_dir=DATA,
    user_agent=DEFAULT_USER_AGENT,
    timeout=DEFAULT_TIMEOUT,
    retries=DEFAULT_RETRIES,
    max_bytes=DEFAULT_MAX_BYTES,
    backoff=DEFAULT_BACKOFF,
    echo=None,
):
    """Fetch ICE's page and its workbooks; store new bytes under data_dir/ice and append them to the manifest.

    Returns a FetchResult; a refused page is one entry in `refused` with the page URL. `echo`, if
    given, is called with each report line as it happens (see report_line).
    """
    result = FetchResult()
    say = echo or (lambda line: None)
    ice = Path(data_dir) / "ice"
    manifest_path = ice / MANIFEST_NAME
    header, rows, terminator = read_manifest(manifest_path)
    column = {name: i for i, name in enumerate(header)}
    for needed in ("file", "sha256"):
        if needed not in column:
            refusal = Refused(str(manifest_path), f"manifest has no {needed!r} column")
            result.refused.append(refusal)
            say(report_line(refusal))
            return result
    known = {}
    for row in rows:
        if len(row) > column["sha256"]:
            known.setdefault(row[column["sha256"]], row[column["file"]])
    taken = {row[column["file"]] for row in rows if row}
    new_rows = []

    client = httpx.Client(
        headers={"User-Agent": user_agent},
        timeout=httpx.Timeout(timeout),
        follow_redirects=True,
    )
    with client:
        try:
            body, final_url, content_type = download(client, page_url, MAX_PAGE_BYTES, retries, backoff)
            charset = re.search(r"charset=([\w-]+)", content_type or "")
            try:
                text = body.decode(charset.group(1) if charset else "utf-8", errors="replace")
            except LookupError:
                text = body.decode("utf-8", errors="replace")
            links, ignored = find_links(text, final_url)
            if not links:
                raise FetchError("no links to participating or pending .xlsx workbooks on the page")
        except FetchError as e:
            refusal = Refused(page_url, str(e))
            result.refused.append(refusal)
            say(report_line(refusal))
            return result
        for url, why in ignored:
            entry = Refused(url, why)
            result.ignored.append(entry)
            say(report_line(entry, ignored=True))

        for link in links:
            try:
                data, _final, content_type = download(client, link.url, max_bytes, retries, backoff)
                sha256 = hashlib.sha256(data).hexdigest()
                if sha256 in known:
                    entry = Unchanged(link.url, known[sha256], sha256)
                    result.unchanged.append(entry)
                    say(report_line(entry, served_as=link.name))
                    continue
                data_rows, sheet_header, unreadable = validate(data, content_type)
                folder = ice / link.list
                folder.mkdir(parents=True, exist_ok=True)
                name, on_disk = choose_name(folder, safe_name(link.name), sha256, taken)
                if not on_disk:
                    atomic_write(folder / name, data)
                now = _utc_now()
                stored = Stored(f"{link.list}/{name}", link.name, link.url, sha256, len(data), data_rows, sheet_header, unreadable)
                new_rows.append({
                    "file": stored.file,
                    "original_name": stored.original_name,
                    "sha256": sha256,
                    "bytes": str(stored.bytes),
                    "data_rows": "" if data_rows is None else str(data_rows),
                    "header": sheet_header,
                    "capture_utc": now,
                    "archived_by": f"fetched from {page_url}",
                    "source_url": link.url,
                    "fetched_utc": now,
                })
                known[sha256] = stored.file
                taken.add(stored.file)
                result.new.append(stored)
                say(report_line(stored))
            except (FetchError, OSError) as e:
                reason = str(e) if isinstance(e, FetchError) else f"cannot store ({e.strerror or e})"
                refusal = Refused(link.url, reason)
                result.refused.append(refusal)
                say(report_line(refusal))

    if new_rows:
        try:
            write_manifest(manifest_path, header, rows + new_rows, terminator)
        except OSError as e:
            refusal = Refused(str(manifest_path), f"cannot update the manifest ({e.strerror or e})")
            result.refused.append(refusal)
            say(report_line(refusal))
    return result


def report_line(entry, served_as=None, ignored=False):
    """One line for one workbook: new / unchanged / refused / ignored."""
    if isinstance(entry, Stored):
        if entry.unreadable:
            return f"new {entry.file} (the build will refuse it: {entry.unreadable})"
        return f"new {entry.file} ({entry.data_rows:,} rows)"
    if isinstance(entry, Unchanged):
        also = f" (served as {served_as})" if served_as and entry.file.rsplit("/", 1)[-1] != served_as else ""
        return f"unchanged {entry.file}{also}"
    return f"{'ignored' if ignored else 'refused'} {entry.url}: {entry.reason}"
