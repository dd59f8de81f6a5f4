"""Reads one ICE workbook (data/ice/**.xlsx) into Row records, with the anomalies seen in it; caches the raw cells
per file and every workbook's reading in one snapshot (build/cache/read-<key>.pickle), both by content hash."""
import datetime
import functools
import io
import operator
import os
import pickle
import platform
import re
import sys
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from . import xlsx
from .cachekey import cache_key, with_imports
from .dating import fingerprint
from .files import atomic_write, paused_gc, read_cache
from .identity import norm_agency
from .places import state_postal
from .records import Row
from .rules import LEVELS, MODEL_NAMES, MODEL_SPELLINGS as MODELS
from .xlsx import Workbook, WorkbookError

# ICE's header text -> our column name. Seven layouts have been seen; all use these names.
COLUMNS = {
    "STATE": "state",
    "LAW ENFORCEMENT AGENCY": "agency",
    "TYPE": "level",
    "COUNTY": "county",
    "SUPPORT TYPE": "support_type",
    "SIGNED": "signed",
    "MOA": "moa",
    "ADDENDUM": "addendum",
}
REQUIRED = ("STATE", "LAW ENFORCEMENT AGENCY", "SUPPORT TYPE")
# The columns each list has printed (rule unknown_column). The pending list has never printed SIGNED or ADDENDUM; a
# header with either is the participating list's, which has printed all eight.
PENDING_COLUMNS = ("STATE", "LAW ENFORCEMENT AGENCY", "TYPE", "COUNTY", "SUPPORT TYPE", "MOA")
PARTICIPATING_ONLY = ("signed", "addendum")

EXCEL_EPOCH = datetime.date(1899, 12, 30)
MAX_CELL_CHARS = 32767  # Excel's own limit: a longer cell was not written by Excel


class PublicationError(Exception):
    """A publication that cannot be used at all; str() is the one-line reason."""


class EmptySheet(PublicationError):
    """A sheet with no non-blank row at all."""


class NoHeader(PublicationError):
    """A sheet whose first rows name no header."""


def clean_text(value):
    """Cell value -> printed text: non-breaking spaces and runs of whitespace collapsed, ends stripped."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).replace("\xa0", " ")
    return " ".join(text.split())


def parse_date(value):
    """SIGNED cell -> (iso date or None, repaired: bool). Raises ValueError when it cannot be read."""
    if value is None or value == "":
        return None, False
    if isinstance(value, datetime.datetime):
        return value.date().isoformat(), False
    if isinstance(value, datetime.date):
        return value.isoformat(), False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if 20000 < value < 80000:  # an Excel serial day number not formatted as a date
            return (EXCEL_EPOCH + datetime.timedelta(days=int(value))).isoformat(), True
        raise ValueError(f"number {value!r} is not a date")
    text = clean_text(value)
    if not text:
        return None, False
    m = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]00:00(?::00)?)?", text)
    if m:
        y, mo, d = map(int, m.groups())
        return datetime.date(y, mo, d).isoformat(), False
    m = re.fullmatch(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})", text)
    if m:
        mo, d, y = map(int, m.groups())
        y = y + 2000 if y < 100 else y
        return datetime.date(y, mo, d).isoformat(), False
    # "7/72025", "05/082025", "8/282025": the second slash was never typed.
    m = re.fullmatch(r"(\d{1,2})/(\d{1,2})(\d{4})", text)
    if m:
        mo, d, y = map(int, m.groups())
        return datetime.date(y, mo, d).isoformat(), True
    # Month names, not yet printed by ICE but common in hand-kept sheets: "March 27, 2026", "27-Mar-2026".
    for form in MONTH_NAME_FORMS:
        try:
            return datetime.datetime.strptime(text.replace("Sept ", "Sep "), form).date().isoformat(), False
        except ValueError:
            continue
    raise ValueError(f"{text!r} is not a date")


MONTH_NAME_FORMS = ("%B %d, %Y", "%b %d, %Y", "%B %d %Y", "%b %d %Y", "%d-%b-%Y", "%d-%b-%y", "%d %B %Y", "%d %b %Y",
                    "%b. %d, %Y")


_SAFELINK = re.compile(r"^https?://[\w.-]*safelinks\.protection\.outlook\.com/.*?[?&]url=([^&]+)", re.I)
_ARCHIVE = re.compile(r"^https?://web\.archive\.org/web/[^/]*/(.+)", re.I)
# Adobe Acrobat's browser extension: chrome-extension://<id>/https:/www.ice.gov/...
_EXTENSION = re.compile(r"^chrome-extension://[a-z]+/(https?):/+(.+)", re.I)
_WEB_URL = re.compile(r"^https?://", re.I)
_SCHEME_SLASHES = re.compile(r"^(https?):/+", re.I)


@functools.lru_cache(maxsize=None)
def unwrap_url(url):
    """Strip Outlook safelinks and Internet Archive wrappers, leaving ICE's own URL, its scheme followed by two slashes."""
    if not url:
        return None
    url = url.strip()
    if url.startswith("https://www.ice.gov/"):
        return url  # ICE's own link, as most rows print it: nothing wraps it (most URLs are new to the cache: an
        # archive's or a safelink's differs from capture to capture)
    for _ in range(3):  # a safelink can wrap an archive link and the other way round
        m = _SAFELINK.match(url)
        if m:
            url = urllib.parse.unquote(m.group(1))
            continue
        m = _ARCHIVE.match(url)
        if m:
            url = m.group(1)
            if not url.startswith(("http://", "https://")):
                url = "https://" + url.lstrip("/")
            continue
        m = _EXTENSION.match(url)
        if m:
            url = f"{m.group(1)}://{m.group(2)}"
            continue
        break
    # ICE's workbooks print some links as "https:/www.ice.gov/...", a wrapper can leave "https:///": a browser reads
    # either as two slashes, so do we
    return _SCHEME_SLASHES.sub(r"\1://", url)


_MODEL_WORDS = re.compile(r"[^a-z]+")
MODEL_BY_CODE = {code.lower(): name for code, name in MODEL_NAMES.items()}


_MODEL_PLURALS = {"officers": "officer", "models": "model"}


def model_of(text):
    """ICE's SUPPORT TYPE -> the canonical model name, or None.

    Rule model_spelling: the spellings seen in the files (MODELS), then the same text without
    punctuation, a "287(g)" prefix or a code in brackets ("Task Force Model (TFM)"), then a code
    alone ("JEM"), then text holding exactly one model's name; "program" and plurals are read past.
    Every reading that is not the canonical name is recorded as a model_spelling anomaly.
    """
    key = clean_text(text).lower()
    if key in MODELS:
        return MODELS[key]
    # "WSO Program", "Warrant Service Officers": the program's name and a plural say nothing more
    words = [_MODEL_PLURALS.get(w, w) for w in _MODEL_WORDS.sub(" ", key.replace("287(g)", " ")).split()
             if w not in ("program", "programme")]
    code = None
    if len(words) > 1 and words[-1] in MODEL_BY_CODE:
        code = MODEL_BY_CODE[words.pop()]  # "Task Force Model (TFM)": the code after the name
    plain = " ".join(words)
    named = {model for spelling, model in MODELS.items() if f" {spelling} " in f" {plain} "}
    model = MODELS.get(plain) or MODEL_BY_CODE.get(plain) or (named.pop() if len(named) == 1 else None)
    return model if code in (None, model) else None


def level_of(text):
    return LEVELS.get(clean_text(text).lower())


def _column_letter(index):
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


# A title or a note ICE might print above the header: rows searched for the header before giving up.
HEADER_SEARCH_ROWS = 10


def _header(rows):
    """Find the header row and map our column names to indexes.

    The header is the first of the first HEADER_SEARCH_ROWS non-blank rows that carries the required
    columns; anything above it is counted and reported (`rows_above_header`). Rule `unknown_column`:
    a header cell the reader does not know is left unread, and reported, when the header carries
    every column its list has printed (all eight for the participating list, PENDING_COLUMNS for a
    header with neither SIGNED nor ADDENDUM), so it cannot be one of them renamed (ICE has added
    columns five times); with one of those absent the file is refused, since the new name may be the
    absent column's.
    Returns (position, header sheet row, {column: index}, header texts, header as printed, unknown texts, rows above).
    """
    first, seen = None, 0
    for position, (number, values) in enumerate(rows):
        texts = [clean_text(v).upper() for v in values]
        if not any(texts):
            continue
        columns, unknown = {}, []
        for i, t in enumerate(texts):
            if not t:
                continue
            if t in COLUMNS:
                columns[COLUMNS[t]] = i
            else:
                unknown.append(t)
        missing = [c for c in REQUIRED if COLUMNS[c] not in columns]
        if first is None:
            first = (number, texts, missing)
        if missing:
            seen += 1
            if seen >= HEADER_SEARCH_ROWS:
                break
            continue
        expected = COLUMNS if any(name in columns for name in PARTICIPATING_ONLY) else PENDING_COLUMNS
        absent = [text for text in expected if COLUMNS[text] not in columns]
        if unknown and absent:
            raise PublicationError(f"unknown column {', '.join(repr(u) for u in unknown)} in header row {number}, "
                                   f"with {', '.join(absent)} absent: it may be {'one of them' if len(absent) > 1 else 'that column'} renamed")
        header = [t for t in texts if t]
        printed = "|".join(t for t in map(clean_text, values) if t)
        return position, number, columns, header, printed, unknown, seen
    if first is None:
        raise EmptySheet("empty sheet: no header row")
    number, texts, missing = first
    raise NoHeader(f"missing required column {', '.join(missing)} (header row {number}: {' | '.join(t for t in texts if t)})")


def _blank(value):
    """A cell that prints nothing (clean_text gives ""): empty, or only whitespace."""
    return value is None or (value.__class__ is str and not value.strip())


@dataclass(frozen=True)
class Sheet:
    """A worksheet as the reader sees it: where its header is and which rows are data.

    The one reading of a sheet's layout: the build's rows and MANIFEST.csv's data_rows
    (fetch.summarise) both come from read_layout, so the two always agree.
    """
    header_row: int  # the header's sheet row number
    columns: dict  # our column name -> cell index, in header order
    header: tuple  # the header's cells, upper-cased
    printed: str  # the header's cells as printed, joined by |
    unknown: tuple  # header cells the reader does not know
    above: int  # non-blank rows above the header
    rows: list  # [(sheet row, cells in columns' order)]: the data rows
    blank: int  # rows below the header with nothing in a column the reader reads
    notes: list  # [(sheet row, text)]: rule footnote


def read_layout(sheet_rows):
    """[(sheet row, values)] -> Sheet; raises PublicationError (EmptySheet when nothing is printed).

    Rule footnote: rows below the last row that names an agency or a support type, naming
    neither themselves, are a note ICE printed under the list ("Source: ...", "* as of ..."),
    not an agency: left unread and recorded as a footnote anomaly.
    """
    position, header_row, columns, header, printed, unknown, above = _header(sheet_rows)
    indexes = tuple(columns.values())
    width = max(indexes) + 1
    pick = operator.itemgetter(*indexes) if len(indexes) > 1 else (lambda v: (v[indexes[0]],))
    names = tuple(columns)
    named = (names.index("agency"), names.index("support_type"))
    rows, blank, last = [], 0, 0
    for number, values in sheet_rows[position + 1:]:
        if len(values) < width:
            values = list(values) + [None] * (width - len(values))
        raw = pick(values)
        if all(_blank(v) for v in raw):
            blank += 1  # trailing blank and blank-but-formatted rows
            continue
        for value in raw:
            if value.__class__ is str and len(value) > MAX_CELL_CHARS:
                raise PublicationError(f"row {number}: a cell of {len(value):,} characters, over Excel's {MAX_CELL_CHARS:,}-character limit")
        rows.append((number, raw))
        if not all(_blank(raw[i]) for i in named):
            last = len(rows)
    notes = [(number, " | ".join(clean_text(v) for v in raw if not _blank(v))) for number, raw in rows[last:]]
    if unknown and "signed" not in columns:
        _no_signing_dates(sheet_rows[position], {number for number, _ in rows[:last]}, sheet_rows[position + 1:])
    return Sheet(header_row, columns, tuple(header), printed, tuple(unknown), above, rows[:last], blank, notes)


def _is_date(value):
    try:
        return parse_date(value)[0] is not None
    except (ValueError, OverflowError):
        return False


def _no_signing_dates(header, data_rows, sheet_rows):
    """Rule unknown_column, for a list without SIGNED (the pending list's columns): a column the reader does not know
    that holds a date in most of the rows it fills may be SIGNED renamed, and the list the participating one, which
    would be filed as the pending list: refused, as a column renamed is."""
    number, values = header
    for i, text in enumerate(clean_text(v).upper() for v in values):
        if not text or text in COLUMNS:
            continue
        filled = [v[i] for n, v in sheet_rows if n in data_rows and i < len(v) and not _blank(v[i])]
        if filled and sum(map(_is_date, filled)) * 2 > len(filled):
            raise PublicationError(f"unknown column {text!r} in header row {number} holds dates, with SIGNED absent: "
                                   f"it may be SIGNED renamed")


@functools.lru_cache(maxsize=None)
def _interpret(columns, raw, moa_link, addendum_link):
    """One data row's raw cells (read_layout's) -> (row dict without sheet_row, [(anomaly kind, detail)]).

    Cached: most rows recur unchanged in hundreds of publications, so each distinct row is
    interpreted once per process.
    """
    cells = dict(zip(columns, raw))
    printed = {name: clean_text(value) for name, value in cells.items()}
    anomalies = []
    row = {
        "state": printed.get("state", ""),
        "agency": printed.get("agency", ""),
        "level": printed.get("level") or None,
        "county": printed.get("county") or None,
        "support_type": printed.get("support_type", ""),
        "signed": printed.get("signed") or None,
        "moa": printed.get("moa") or None,
        "addendum": printed.get("addendum") or None,
    }
    raw_agency = cells.get("agency")
    if isinstance(raw_agency, str) and raw_agency != row["agency"]:
        anomalies.append(("whitespace", f"agency {raw_agency!r} printed with stray whitespace"))
    try:
        row["signed_on"], repaired = parse_date(cells.get("signed"))
        if repaired:
            anomalies.append(("date_repaired", f"SIGNED {row['signed']!r} read as {row['signed_on']}"))
        if isinstance(cells.get("signed"), (datetime.date, datetime.datetime)):
            row["signed"] = row["signed_on"]
    except ValueError as e:
        row["signed_on"] = None
        anomalies.append(("unparseable_date", f"SIGNED {e}; kept as printed, signed_on left empty"))
    for name, link in (("moa", moa_link), ("addendum", addendum_link)):
        text = row[name] or ""
        row[f"{name}_url"] = link or (unwrap_url(text) if re.match(r"https?://", text) else None)
    if "addendum" not in columns and row["moa"] and "addendum" in row["moa"].lower():
        anomalies.append(("addendum_in_moa", f"MOA cell {row['moa']!r} mentions an addendum"))
    row["model"] = model_of(row["support_type"])
    if row["support_type"] and row["model"] and row["support_type"] != row["model"]:
        anomalies.append(("model_spelling", f"SUPPORT TYPE {row['support_type']!r} read as {row['model']}"))
    if not row["model"]:
        anomalies.append(("unknown_model", f"SUPPORT TYPE {row['support_type']!r} is not a known model"))
    row["level_clean"] = level_of(row["level"]) if row["level"] else None
    # Identity parts, computed once per distinct row: see identity.norm_agency and places.state_postal.
    row["state_code"] = state_postal(row["state"], fuzzy=False)
    if row["state_code"] is None and row["state"]:
        # Rule state_misspelt: a STATE that is a typo of exactly one state's name ("PENNSLYVANIA") is that state, so
        # that ICE's next typo does not end and re-add every agreement it touches; recorded, and a line of
        # data/corrections.csv still decides where one says otherwise.
        row["state_code"] = state_postal(row["state"])
        if row["state_code"]:
            anomalies.append(("state_misspelt", f"STATE {row['state']!r} read as {row['state_code']}"))
    row["agency_norm"] = norm_agency(row["agency"])
    if row["level"] and not row["level_clean"]:
        anomalies.append(("unknown_level", f"TYPE {row['level']!r} is not County, Municipality or State"))
    return Row(**row), tuple(anomalies)


def _links_by_row(links, column):
    """{'G12': url} -> {12: (ICE's url, was it an Outlook safelink)} for one column.

    Unwrapped here, once per file: every Outlook safelink is unique, ICE's URL inside is not.
    """
    if column is None or not links:
        return {}
    letters = _column_letter(column)
    out = {}
    for ref, url in links.items():
        if ref.startswith(letters) and ref[len(letters):].isdigit():
            target = unwrap_url(url)
            if target and _WEB_URL.match(target):  # never javascript:, data: or file: links: pages link these URLs
                out[int(ref[len(letters):])] = (target, "safelinks.protection.outlook.com" in url)
    return out


# Sheets tried for the list (rule list_sheet): ICE's workbooks hold one sheet, once two (a sheet of totals after the list).
MAX_SHEETS = 16


def read_list(path):
    """Workbook -> (Sheet, hyperlinks, saved_at, sheet names, the list's index among them); the one reading of which
    sheet is the list, for the build and for fetch.summarise.

    Rule list_sheet: the list is the first sheet, in workbook order, whose first rows name the header (read_layout),
    so a sheet of totals or notes put before it costs nothing; the other sheets are left unread and recorded
    (`other_sheets`). When no sheet does, the first sheet's reason stands. Raises PublicationError, or
    xlsx.WorkbookError for a damaged file.
    """
    first = None
    with Workbook(path) as book:
        for index in range(min(len(book.names), MAX_SHEETS)):
            sheet_rows, links = book.sheet(index)
            try:
                return read_layout(sheet_rows), links, book.saved_at, book.names, index
            except (NoHeader, EmptySheet) as e:
                first = first or e
    raise first


def extract(path):
    """Workbook -> its header and raw cells, the costly part, done in worker processes and cached.

    Returns {'header', 'header_row', 'names', 'cells': [(sheet_row, raw values, moa url, addendum url, safelinked)]};
    raises PublicationError with a one-line reason.
    """
    try:
        sheet, links, saved, sheet_names, index = read_list(path)
    except WorkbookError as e:
        raise PublicationError(str(e)) from None
    columns = sheet.columns
    names = tuple(columns)
    moa_links = _links_by_row(links, columns.get("moa"))
    add_links = _links_by_row(links, columns.get("addendum"))
    moa = names.index("moa") if "moa" in names else None
    none = (None, False)
    cells = []
    for number, raw in sheet.rows:
        if moa is not None and isinstance(raw[moa], str) and "web.archive.org/web/" in raw[moa]:
            # Page tables print the MOA as an Internet Archive URL that differs per capture;
            # ICE's own URL is what was printed, so rows recur across captures.
            raw = raw[:moa] + (unwrap_url(raw[moa]),) + raw[moa + 1:]
        moa_url, moa_safe = moa_links.get(number, none)
        add_url, add_safe = add_links.get(number, none)
        cells.append((number, raw, moa_url, add_url, moa_safe or add_safe))
    return {"header": "|".join(sheet.header), "header_row": sheet.header_row, "names": names, "cells": cells,
            "blank_rows": sheet.blank, "notes": sheet.notes, "unknown_columns": sheet.unknown,
            "rows_above_header": sheet.above, "saved_at": saved, "sheet_index": index, "sheets": sheet_names}


_MEMO = {}  # (column names, raw cells, links) -> (row, its body key, anomalies); rows recur across hundreds of files
# Row -> (the one Row object kept for it, its body key): equal rows from different cells, or read from the
# snapshot, become one object, so the snapshot's pickle stores each row once and its files' key sets share tuples.
_ROWS = {}
_LISTS = {}  # the row ids of a list -> (its rows, key set, fingerprint)
_SHEET_ROWS = {}  # a sheet_rows tuple -> the one kept


def _canonical(row):
    hit = _ROWS.get(row)
    if hit is None:
        hit = _ROWS[row] = (row, row.body_key)
    return hit


def _interpret_cells(names, raw, moa_url, add_url, safelinked):
    found = [("safelink_unwrapped", "MOA/ADDENDUM hyperlink was an Outlook safelinks redirect")] if safelinked else []
    row, more = _interpret(names, raw, moa_url, add_url)
    return row, tuple(found) + more


def interpret(extracted):
    """Raw cells -> the read fields of a Publication: header, sheet, rows, sheet_rows, blank_rows, row_count, anomalies,
    fingerprint, keys, saved_at.

    rows are frozen Row objects, one per distinct row, shared by every publication printing it; sheet_rows
    runs beside them. anomalies are (kind, sheet_row, detail) tuples.
    """
    names = extracted["names"]
    anomalies, rows, sheet_rows, body_keys = [], [], [], []
    header_row = extracted["header_row"]
    for column in extracted.get("unknown_columns", ()):
        anomalies.append(("unknown_column", header_row, f"column {column!r} is not one the reader knows: left unread"))
    if extracted.get("rows_above_header"):
        anomalies.append(("rows_above_header", header_row, f"{extracted['rows_above_header']} non-blank row(s) above the header row {header_row} left unread"))
    memo = _MEMO
    for number, *cells in extracted["cells"]:
        key = (names, *cells)
        hit = memo.get(key)
        if hit is None:
            row, found = _interpret_cells(names, *cells)
            hit = memo[key] = (*_canonical(row), found)
        row, body_key, found = hit
        rows.append(row)
        body_keys.append(body_key)
        sheet_rows.append(number)
        for kind, detail in found:
            anomalies.append((kind, number, detail))
    sheets, at = extracted.get("sheets", ()), extracted.get("sheet_index", 0)
    sheet = one_line(sheets[at], 100) if sheets else None
    if len(sheets) > 1:
        before, after = sheets[:at], sheets[at + 1:]
        left = [f"{_sheet_names(before)} before it, naming no header" if before else "", f"{_sheet_names(after)} after it" if after else ""]
        anomalies.append(("other_sheets", None, f"the list is sheet {one_line(sheets[at], 40)!r} ({at + 1} of {len(sheets)}); "
                                                 f"{'; '.join(t for t in left if t)}: left unread"))
    for number, text in extracted.get("notes", ()):
        anomalies.append(("footnote", number, f"{text!r} below the list, naming no agency or support type: left unread"))
    # Files that print the same rows share one tuple of them, its key set and fingerprint (made once): later stages
    # compare and cache row lists by identity. The rows are _canonical's, alive while the pool holds them.
    rows = tuple(rows)
    shape = tuple(map(id, rows))
    shared = _LISTS.get(shape)
    if shared is None:
        shared = _LISTS[shape] = (rows, frozenset(body_keys), fingerprint(rows))
    rows, keys, printed = shared
    sheet_rows = tuple(sheet_rows)
    sheet_rows = _SHEET_ROWS.setdefault(sheet_rows, sheet_rows)
    return {
        "header": extracted["header"],
        "sheet": sheet,
        "saved_at": extracted.get("saved_at"),
        "rows": rows,
        "sheet_rows": sheet_rows,
        "blank_rows": extracted.get("blank_rows", 0),
        "row_count": len(rows),
        "anomalies": tuple(anomalies),
        "fingerprint": printed,
        "keys": keys,
    }


def remember(extracted, result):
    """interpret()'s memo filled from a file read before: its extraction and its interpret() result (the snapshot's),
    row for row. A new list that reprints most of the last one's rows then interprets only the rows that differ; the
    memo's answers are the ones interpret() gives, so what a file reads as does not depend on it."""
    names = extracted["names"]
    found = {}
    for kind, number, detail in result["anomalies"]:
        found.setdefault(number, []).append((kind, detail))  # a data row's own, in order (other numbers are never a data row's)
    memo = _MEMO
    for (number, *cells), row in zip(extracted["cells"], result["rows"]):
        key = (names, *cells)
        if key not in memo:
            memo[key] = (*_canonical(row), tuple(found.get(number, ())))


def _sheet_names(names, shown=5):
    """'Sheet2', or 'A', 'B' and 3 more: sheet names as a note prints them (a hostile workbook may hold thousands)."""
    listed = ", ".join(repr(one_line(n, 40)) for n in names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")
    return ("sheet " if len(names) == 1 else "sheets ") + listed


def read_workbook(path):
    """extract + interpret, for one workbook outside the build; with the header's sheet row."""
    extracted = extract(path)
    return {**interpret(extracted), "header_row": extracted["header_row"]}


def extract_cache_file(cache_dir, sha256):
    """Where extract()'s result for these bytes is cached: keyed by the file's sha256 and by what
    extract() depends on (this module, xlsx.py, the calamine package)."""
    key = cache_key(sys.modules[__name__], xlsx, packages=("python-calamine",))
    return Path(cache_dir) / f"{sha256}.{key}.pickle"


def extract_cached(path, sha256, cache_dir):
    """extract() through the cache (extract_cache_file): a file is parsed once per version of the reader.

    Returns {'ok': extracted} or {'error': one-line reason}; errors are cached too.
    """
    cache_file = extract_cache_file(cache_dir, sha256) if cache_dir else None
    if cache_file and cache_file.exists():
        found = read_cache(cache_file)
        if found is not None:
            return found  # else damaged: parsed again below
    result = _extracted(path)
    if cache_file:
        _stored(cache_file, result)
    return result


def _extracted(path):
    try:
        return {"ok": extract(path)}
    except PublicationError as e:
        return {"error": one_line(str(e))}


def _stored(cache_file, result):
    """result pickled into cache_file; returns the pickle."""
    data = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
    # Not fsynced: one per workbook, 59 MB in all, where the fsyncs cost a cold build more than its parsing.
    atomic_write(cache_file, data, durable=False)
    return data


def one_line(text, limit=300):
    """A reason fit for one terminal line: control and invisible characters escaped, length capped."""
    text = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)
    return text if len(text) <= limit else text[:limit] + f"… ({len(text):,} characters)"


def _extract_job(args):
    """A worker's parse of a file the cache lacks, answered with the pickle it wrote there (files.unpickle gives
    extract_cached's answer): the result is pickled once, where returning it would pickle it a second time for
    the way back."""
    path, sha256, cache_dir = args
    return _stored(extract_cache_file(cache_dir, sha256), _extracted(path))


# The packages whose versions a reading depends on: calamine reads the cells, `us` names the states (words.state_postal).
SNAPSHOT_PACKAGES = ("python-calamine", "us")


@functools.cache
def _snapshot_key():
    """What interpret()'s results depend on: this module and every module of the package it imports (the rules,
    the row records, the text normaliser), those packages and Python's version (its Unicode tables, pickle).
    Once per process: reading the imports' sources takes tens of milliseconds."""
    return cache_key(*with_imports(__name__), packages=SNAPSHOT_PACKAGES, extra=(platform.python_version(),))


def snapshot_file(cache_dir):
    return Path(cache_dir) / f"read-{_snapshot_key()}.pickle"


def _shared(results):
    """interpret() results with equal parts made one object (republished files repeat each other's rows, keys and
    anomalies), so the snapshot's pickle stores each once and loads it once. Rows are already one object per
    distinct row (_canonical), so a tuple of rows is compared by the rows' ids."""
    pool = {}

    def one(kind, value, key=None):
        return pool.setdefault((kind, value if key is None else key), value)

    return {sha: {**r, "rows": one("rows", r["rows"], tuple(map(id, r["rows"]))), "sheet_rows": one("sheet_rows", r["sheet_rows"]),
                  "keys": one("keys", r["keys"]), "anomalies": one("anomalies", r["anomalies"]), "header": one("header", r["header"])}
            for sha, r in results.items()}


def _row_pairs(results, known=()):
    """(row, body key) for each distinct row of these results not among known's, in order of first appearance."""
    seen, pairs, tuples = {id(row) for row, _ in known}, [], set()
    for r in results.values():
        if id(r["rows"]) in tuples:
            continue
        tuples.add(id(r["rows"]))
        for row in r["rows"]:
            if id(row) not in seen:
                seen.add(id(row))
                pairs.append(_canonical(row))
    return tuple(pairs)


def _load(path, unpickler=pickle.Unpickler):
    """A snapshot or delta file's dict, or None when it is missing, damaged (unpickling damaged bytes can raise
    almost anything) or of another format."""
    try:
        with open(path, "rb") as f, paused_gc():
            saved = unpickler(f).load()
        if (isinstance(saved, dict) and saved.get("format") == Snapshot.FORMAT and isinstance(saved.get("results"), dict)
                and isinstance(saved.get("hashes"), dict) and isinstance(saved.get("rows"), tuple)):
            return saved
        return None
    except FileNotFoundError:
        return None
    except Exception:  # noqa: BLE001
        return None


class _DeltaPickler(pickle.Pickler):
    """Pickles the delta with the snapshot's rows and body keys as their place in its row list."""

    def __init__(self, file, rows):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.places = {id(x): (part, i) for i, pair in enumerate(rows) for part, x in enumerate(pair)}

    def persistent_id(self, obj):
        return self.places.get(id(obj))


class _DeltaUnpickler(pickle.Unpickler):
    def __init__(self, file, rows):
        super().__init__(file)
        self.rows = rows

    def persistent_load(self, pid):
        part, i = pid
        return self.rows[i][part]


class Snapshot:
    """The last build's reading of every good workbook (sha256 -> interpret()'s result) and each file's sha256 by
    its (device, inode, size, mtime), so that a rebuild loads them at once, then hashes and reads only what they lack.

    Two files: the snapshot (snapshot_file), and a delta beside it holding the few files read since, which
    refers to the snapshot's rows by place: adding a file rewrites the small delta, not the whole. Missing,
    damaged or written by other code, either is ignored and its files are read again. Refused files are not
    kept here; their reason stays in the per-file extract cache.
    """

    FORMAT = 2
    DELTA_FILES = 16  # files the delta holds before the snapshot is written whole again

    def __init__(self, cache_dir):
        self.path = snapshot_file(cache_dir)
        self.delta_path = self.path.with_name(f"{self.path.stem}-new.pickle")
        self.tag, self.base, self.base_hashes, self.rows = None, {}, {}, ()
        self.delta, self.delta_rows = {}, ()
        base = _load(self.path)
        if base and isinstance(base.get("tag"), str):
            self.tag, self.base, self.base_hashes, self.rows = base["tag"], base["results"], base["hashes"], base["rows"]
        self.hashes = self.base_hashes
        delta = _load(self.delta_path, functools.partial(_DeltaUnpickler, rows=self.rows)) if self.tag else None
        if delta and delta.get("base") == self.tag:
            self.delta, self.delta_rows, self.hashes = delta["results"], delta["rows"], delta["hashes"]
        self.results = {**self.base, **self.delta}
        self._seeded = False

    def seed(self):
        """Before interpreting new files: their rows equal to kept ones become the kept objects (_canonical)."""
        if not self._seeded:
            self._seeded = True
            for row, body_key in self.rows + self.delta_rows:
                _ROWS.setdefault(row, (row, body_key))

    def save(self, results, hashes):
        """Keep exactly these results (sha256 -> interpret()'s result, this build's good files) and file hashes;
        written only when they differ from what was loaded."""
        if results.keys() == self.results.keys() and hashes == self.hashes:
            return
        extra = {sha: r for sha, r in results.items() if sha not in self.base}
        if self.tag and len(extra) <= self.DELTA_FILES and all(sha in results for sha in self.base):
            if not extra and hashes == self.base_hashes:
                self.delta_path.unlink(missing_ok=True)
                return
            new = _shared({sha: r for sha, r in extra.items() if sha not in self.delta})
            delta = {sha: self.delta.get(sha) or new[sha] for sha in extra}
            f = io.BytesIO()
            _DeltaPickler(f, self.rows).dump({"format": self.FORMAT, "base": self.tag, "results": delta, "hashes": hashes,
                                              "rows": _row_pairs(delta, known=self.rows)})
            atomic_write(self.delta_path, f.getvalue())
            return
        # The first snapshot, a file gone (its rows may go with it) or a full delta: everything written afresh.
        new = _shared({sha: r for sha, r in results.items() if sha not in self.base})
        kept = {sha: self.base.get(sha) or new[sha] for sha in results}
        gone = any(sha not in results for sha in self.base)
        rows = _row_pairs(kept) if gone else self.rows + _row_pairs(new, known=self.rows)
        data = {"format": self.FORMAT, "tag": os.urandom(8).hex(), "results": kept, "hashes": hashes, "rows": rows}
        atomic_write(self.path, pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL))
        self.delta_path.unlink(missing_ok=True)
