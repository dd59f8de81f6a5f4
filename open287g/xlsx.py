"""Reads the first worksheet of an .xlsx file into cell values and hyperlink targets, straight from its XML parts."""
import html
import re
import zipfile
import zlib
import xml.etree.ElementTree as ET

from python_calamine import CalamineWorkbook

NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
PKG_REL_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
MAX_PART_BYTES = 64 * 1024 * 1024  # the largest real sheet part is under 1 MB
MAX_ROWS = 20000  # ICE's lists hold under 2,000 rows; a sheet claiming more is refused


class WorkbookError(Exception):
    """A workbook that cannot be read; the message is one line naming the reason."""


def _read_part(zf, name):
    try:
        info = zf.getinfo(name)
    except KeyError:
        return None
    if info.file_size > MAX_PART_BYTES:
        raise WorkbookError(f"part {name} is {info.file_size} bytes, over the {MAX_PART_BYTES} limit")
    data = zf.read(name)
    # Entity declarations are how XML bombs expand; no real workbook has a DTD.
    if b"<!DOCTYPE" in data[:4096] or b"<!ENTITY" in data:
        raise WorkbookError(f"part {name} declares a DTD or entities, refused")
    return data


def _parse(data, name):
    try:
        return ET.fromstring(data)
    except ET.ParseError as e:
        raise WorkbookError(f"part {name} is not well-formed XML ({e})") from None


def _first_sheet_part(zf):
    """The first sheet in workbook order, through the workbook's relationships."""
    wb = _read_part(zf, "xl/workbook.xml")
    rels = _read_part(zf, "xl/_rels/workbook.xml.rels")
    if wb is None:
        raise WorkbookError("no xl/workbook.xml: not a spreadsheet")
    sheets = _parse(wb, "xl/workbook.xml").find(f"{NS}sheets")
    if sheets is None or len(sheets) == 0:
        raise WorkbookError("workbook lists no sheets")
    rid = sheets[0].get(f"{REL_NS}id")
    if rels is not None and rid:
        for rel in _parse(rels, "xl/_rels/workbook.xml.rels"):
            if rel.get("Id") == rid:
                target = rel.get("Target").lstrip("/")
                return target if target.startswith("xl/") else "xl/" + target
    return "xl/worksheets/sheet1.xml"


# One pass over the tags, capturing the two attributes needed whatever their order.
_HYPERLINK = re.compile(rb'<(?:\w+:)?hyperlink\b(?=[^>]*\bref="([^"]*)")(?=[^>]*\br:id="([^"]*)")')
_RELATIONSHIP = re.compile(rb'<(?:\w+:)?Relationship\b(?=[^>]*\bId="([^"]*)")(?=[^>]*\bTarget="([^"]*)")')
# Excel writes attributes in this order; the general patterns above are the fallback.
_HYPERLINK_FAST = re.compile(rb'<hyperlink ref="([^"]*)" r:id="([^"]*)"')
_RELATIONSHIP_FAST = re.compile(rb'<Relationship Id="([^"]*)" Type="[^"]*" Target="([^"]*)"')
_LAST_ROW = re.compile(rb'<(?:\w+:)?row\b[^>]*\br="(\d+)"')


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


def _last_row_number(sheet_xml):
    tail = sheet_xml.rfind(b"<row ")
    if tail < 0:
        return 0
    m = _LAST_ROW.match(sheet_xml, tail)
    return int(m.group(1)) if m else 0


def read_sheet(path):
    """Return (rows, hyperlinks): rows as [(sheet_row_number, [values...])], hyperlinks as {'G12': url}.

    Values come from calamine (fast, typed: str, float, int, bool, date, datetime);
    the zip parts are checked first so a damaged file fails with a named reason.
    """
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        with open(path, "rb") as f:
            head = f.read(512).lstrip().lower()
        if head.startswith(b"<!doctype html") or head.startswith(b"<html"):
            raise WorkbookError("an HTML page, not a workbook") from None
        raise WorkbookError("not a zip archive, so not an .xlsx workbook") from None
    except OSError as e:
        raise WorkbookError(f"cannot open ({e.strerror or e})") from None
    with zf:
        try:
            sheet_part = _first_sheet_part(zf)
            _read_part(zf, "xl/sharedStrings.xml")  # refuses entity declarations before calamine sees them
            data = _read_part(zf, sheet_part)
            if data is None:
                raise WorkbookError(f"sheet part {sheet_part} is missing")
            if b"<!ENTITY" in data or b"<!DOCTYPE" in data[:4096]:
                raise WorkbookError(f"part {sheet_part} declares a DTD or entities, refused")
            last = _last_row_number(data)
            if last > MAX_ROWS:
                raise WorkbookError(f"sheet has a row numbered {last}, over the {MAX_ROWS}-row limit")
            links = _hyperlinks(zf, sheet_part, data)
        except (zipfile.BadZipFile, EOFError, ValueError, zlib.error) as e:
            raise WorkbookError(f"damaged zip archive ({e})") from None
        except KeyError as e:
            raise WorkbookError(f"damaged workbook, missing {e}") from None
    try:
        sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
        grid = sheet.to_python(skip_empty_area=False)
    except Exception as e:  # calamine raises its own error types for every malformed part
        raise WorkbookError(f"unreadable sheet ({type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else 'no detail'})") from None
    # calamine gives "" for an empty cell and date/datetime for date-formatted cells;
    # the read stage interprets values column by column.
    return list(enumerate(grid, start=1)), links
