"""Reads the worksheets of an .xlsx file, one at a time, into cell values and hyperlink targets, straight from its XML parts."""
import contextlib
import html
import re
import zipfile
import zlib
import xml.etree.ElementTree as ET

from python_calamine import CalamineWorkbook

NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
MAX_PART_BYTES = 64 * 1024 * 1024  # the largest real sheet part is under 1 MB
MAX_ROWS = 20000  # ICE's lists hold under 2,000 rows; a sheet claiming more is refused
MAX_COLUMNS = 64  # ICE's lists use under 15 columns; calamine allocates rows x columns cells
# Parts calamine or this module parse; each is checked for XML bombs before calamine sees it.
CHECKED_PARTS = ("xl/sharedStrings.xml", "xl/styles.xml")


class WorkbookError(Exception):
    """A workbook that cannot be read; the message is one line naming the reason."""


def _read_part(zf, name):
    try:
        info = zf.getinfo(name)
    except KeyError:
        return None
    if info.file_size > MAX_PART_BYTES:
        raise WorkbookError(f"part {name} is {info.file_size} bytes, over the {MAX_PART_BYTES} limit")
    # Read no more than the declared size: zf.read() inflates a part whose header understates
    # its size in full (gigabytes from a small zip) before the CRC check fails.
    with zf.open(info) as f:
        data = f.read(info.file_size) if info.file_size else b""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in data[:4]:
        # The checks below read bytes as UTF-8; Excel writes every part in UTF-8.
        raise WorkbookError(f"part {name} is not UTF-8 encoded, refused")
    # Entity declarations are how XML bombs expand; no real workbook has a DTD.
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise WorkbookError(f"part {name} declares a DTD or entities, refused")
    return data


def _parse(data, name):
    try:
        return ET.fromstring(data)
    except (ET.ParseError, LookupError, ValueError) as e:  # LookupError: an unknown encoding="..."
        raise WorkbookError(f"part {name} is not well-formed XML ({e})") from None


def _sheets(zf):
    """(the names of the workbook's sheets in workbook order, their relationship ids, the relationships part or None)."""
    wb = _read_part(zf, "xl/workbook.xml")
    rels = _read_part(zf, "xl/_rels/workbook.xml.rels")
    if wb is None:
        raise WorkbookError("no xl/workbook.xml: not a spreadsheet")
    sheets = _parse(wb, "xl/workbook.xml").find(f"{NS}sheets")
    if sheets is None or len(sheets) == 0:
        raise WorkbookError("workbook lists no sheets")
    names = tuple(sheet.get("name") or f"Sheet{n}" for n, sheet in enumerate(sheets, start=1))
    return names, tuple(sheet.get(f"{REL_NS}id") for sheet in sheets), rels


def _sheet_part(rid, rels, index):
    """The part of the sheet at index, through the workbook's relationships."""
    if rels is not None and rid:
        for rel in _parse(rels, "xl/_rels/workbook.xml.rels"):
            if rel.get("Id") == rid:
                target = (rel.get("Target") or "").lstrip("/")
                if not target:
                    which = "the first sheet" if index == 0 else f"sheet {index + 1}"
                    raise WorkbookError(f"{which}'s relationship {rid!r} has no target")
                return target if target.startswith("xl/") else "xl/" + target
    return f"xl/worksheets/sheet{index + 1}.xml"


# One pass over the tags, capturing the two attributes needed whatever their order.
_HYPERLINK = re.compile(rb'<(?:\w+:)?hyperlink\b(?=[^>]*\bref="([^"]*)")(?=[^>]*\br:id="([^"]*)")')
_RELATIONSHIP = re.compile(rb'<(?:\w+:)?Relationship\b(?=[^>]*\bId="([^"]*)")(?=[^>]*\bTarget="([^"]*)")')
# Excel writes attributes in this order; the general patterns above are the fallback.
_HYPERLINK_FAST = re.compile(rb'<hyperlink ref="([^"]*)" r:id="([^"]*)"')
_RELATIONSHIP_FAST = re.compile(rb'<Relationship Id="([^"]*)" Type="[^"]*" Target="([^"]*)"')
# A cell or row tag whose position is not a plain r="A123" / r="123" as Excel writes it; any
# such tag (or a namespace-prefixed one) sends the sheet through the exact extent count below.
_ODD_CELL = re.compile(rb'<c(?! r="[A-Z]\d{1,4}")[\s/>]')
_ODD_ROW = re.compile(rb'<row(?! r="\d{1,4}")[\s/>]')
_PREFIXED = re.compile(rb':(?:c|row)[\s/>]')
_TAG = re.compile(rb'<(?:[\w.-]+:)?(row|c)(?=[\s/>])([^>]*)>')
_POSITION = re.compile(rb'(?:^|\s)r\s*=\s*["\']([A-Za-z]*)(\d*)["\']')


def _findall(fast, general, data, start, marker):
    found = fast.findall(data, start)
    if len(found) != data.count(marker, start):
        found = general.findall(data, start)
    return found


def _hyperlinks(zf, sheet_part, sheet_xml):
    """Map 'G12' -> target URL, from the sheet's <hyperlink> elements and its relationships part.

    Scanned with regular expressions: ElementTree over the 400 KB relationship parts of
    the 2025-26 participating lists cost more than reading the cell values.
    """
    start = sheet_xml.find(b"hyperlinks>", sheet_xml.rfind(b"</sheetData>"))
    if start < 0:
        return {}
    found = _findall(_HYPERLINK_FAST, _HYPERLINK, sheet_xml, start, b"hyperlink ")
    if not found:
        return {}
    folder, _, base = sheet_part.rpartition("/")
    rels_data = _read_part(zf, f"{folder}/_rels/{base}.rels") or b""
    targets = dict(_findall(_RELATIONSHIP_FAST, _RELATIONSHIP, rels_data, 0, b"<Relationship "))
    out = {}
    for ref, rid in found:
        target = targets.get(rid)
        if target:
            out[ref.decode()] = html.unescape(target.decode("utf-8", "replace"))
    return out


def _extent(sheet_xml):
    """(rows, columns) of the cell grid calamine will allocate: the furthest row and column holding a value.

    Rows out of order, a cell whose r= points far from its row, and rows or cells without r=
    (calamine counts on from the previous one) all count. Excel's plain sheets, every position
    within Z9999, are cleared by three scans; anything else is counted tag by tag.
    """
    if not (_ODD_CELL.search(sheet_xml) or _ODD_ROW.search(sheet_xml) or _PREFIXED.search(sheet_xml)):
        return 0, 0  # every position is a plain r="A1".."Z9999"
    rows = columns = row = column = 0
    for m in _TAG.finditer(sheet_xml):
        kind, attrs = m.groups()
        pos = _POSITION.search(attrs)
        if kind == b"row":
            row = int(pos.group(2)) if pos and pos.group(2) else row + 1
            column = 0
            continue
        letters, digits = (pos.group(1), pos.group(2)) if pos else (b"", b"")
        if letters:
            column = 0
            for ch in letters.upper():
                column = column * 26 + ch - 64
        else:
            column += 1
        if not attrs.endswith(b"/"):  # <c .../> holds no value and adds nothing to the grid
            rows = max(rows, int(digits) if digits else row)
            columns = max(columns, column)
    return rows, columns


def read_sheet(path):
    """Return (rows, hyperlinks) of the first sheet: rows as [(sheet_row_number, [values...])], hyperlinks as {'G12': url}."""
    with Workbook(path) as book:
        return book.sheet(0)


def _open(path):
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        with open(path, "rb") as f:
            head = f.read(512).lstrip().lower()
        if head.startswith(b"<!doctype html") or head.startswith(b"<html"):
            raise WorkbookError("an HTML page, not a workbook") from None
        if head.startswith(b"pk\x03\x04"):
            raise WorkbookError("damaged zip archive (no central directory: truncated?)") from None
        raise WorkbookError("not a zip archive, so not an .xlsx workbook") from None
    except OSError as e:
        raise WorkbookError(f"cannot open ({e.strerror or e})") from None
    except (ValueError, EOFError, RuntimeError, NotImplementedError, zipfile.LargeZipFile) as e:
        # e.g. a member name flagged UTF-8 that is not
        raise WorkbookError(f"damaged zip archive ({e})") from None


@contextlib.contextmanager
def _reading():
    """Errors of the zip's parts as WorkbookError."""
    try:
        yield
    except (zipfile.BadZipFile, EOFError, ValueError, zlib.error, RuntimeError, NotImplementedError, OSError) as e:
        # RuntimeError: an encrypted part; NotImplementedError: an unknown compression method;
        # OSError: a part offset outside the file
        raise WorkbookError(f"damaged zip archive ({e})") from None
    except KeyError as e:
        raise WorkbookError(f"damaged workbook, missing {e}") from None


class Workbook:
    """An .xlsx opened once, its sheets read one at a time (read.read_list tries them in order): names, saved_at and
    sheet(index). The workbook-wide checks run once, each sheet's own before calamine reads it; WorkbookError names
    the reason. Values come from calamine (fast, typed: str, float, int, bool, date, datetime); the zip parts are
    checked first so a damaged file fails with a named reason."""

    def __init__(self, path):
        self.path, self.zf, self._book, self._checked = path, _open(path), None, False
        try:
            with _reading():
                for info in self.zf.infolist():  # calamine inflates the parts it reads without a limit: zip bombs stop here
                    if info.file_size > MAX_PART_BYTES:
                        raise WorkbookError(f"part {info.filename!r} is {info.file_size} bytes, over the {MAX_PART_BYTES} limit")
                self.names, self._rids, self._rels = _sheets(self.zf)
        except BaseException:
            self.zf.close()
            raise
        self.saved_at = _saved_at(self.zf)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.zf.close()

    def sheet(self, index):
        """(rows, hyperlinks) of the sheet at index in workbook order."""
        with _reading():
            part = _sheet_part(self._rids[index], self._rels, index)
            if not self._checked:
                for name in CHECKED_PARTS:
                    _read_part(self.zf, name)  # refuses entity declarations before calamine sees them
                self._checked = True
            data = _read_part(self.zf, part)
            if data is None:
                raise WorkbookError(f"sheet part {part} is missing")
            rows, columns = _extent(data)
            if rows > MAX_ROWS:
                raise WorkbookError(f"sheet has a row numbered {rows}, over the {MAX_ROWS}-row limit")
            if columns > MAX_COLUMNS:
                raise WorkbookError(f"sheet has a cell in column {columns}, over the {MAX_COLUMNS}-column limit")
            links = _hyperlinks(self.zf, part, data)
        try:
            if self._book is None:
                self._book = CalamineWorkbook.from_path(str(self.path))
            grid = self._book.get_sheet_by_index(index).to_python(skip_empty_area=False)  # calamine too lists them in workbook order
        except Exception as e:  # calamine raises its own error types for every malformed part
            raise WorkbookError(f"unreadable sheet ({type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else 'no detail'})") from None
        # calamine gives "" for an empty cell and date/datetime for date-formatted cells;
        # the read stage interprets values column by column.
        return list(enumerate(grid, start=1)), links


_MODIFIED = re.compile(rb"<dcterms:modified[^>]*>\s*(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})")


def saved_at(path):
    """When the workbook was last saved ("2026-01-05T20:22:43", UTC), from docProps/core.xml; None when absent or unreadable.

    Excel writes it on every save. ICE's files were saved 0-7 days before the date in their names
    (431 of 439), except where the name's date is mistyped: participatingAgencies01052025pm.xlsx
    was saved on 2026-01-05.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            return _saved_at(zf)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError, NotImplementedError):
        return None


def _saved_at(zf):
    """saved_at from an open workbook; a damaged or odd core.xml is no save time, never a refused workbook."""
    try:
        data = _read_part(zf, "docProps/core.xml")
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, RuntimeError, NotImplementedError, zlib.error, WorkbookError):
        return None
    m = _MODIFIED.search(data or b"")
    return m.group(1).decode() if m else None
