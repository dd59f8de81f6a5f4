"""Reads one MOA PDF with pypdfium2 (text layer, form fields, tesseract OCR where a page has no text) into positioned page segments; refuses bad PDFs."""
import ctypes
import functools
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

from .cachekey import cache_key, prune
from .files import atomic_write

MAX_BYTES = 60 * 1024 * 1024  # the largest MOA in the corpus is about 9 MB
MAX_PAGES = 150  # the longest MOA with its addendum runs to about 30 pages
MAX_INFLATED = 64 * 1024 * 1024  # one compressed stream may not inflate past this
MAX_PAGE_POINTS = 14400  # 200 inches: a larger page is a render bomb, not a letter-size form
MIN_TEXT_CHARS = 50  # a page whose text layer has fewer characters is read with OCR
# a scanned page (one image over most of it) whose text layer is thinner than this carries only what was typed
# on the scan (ICE's date and name, a phone number): it is read with OCR too
SCAN_TEXT_CHARS = 400
OCR_DPI = 300


class Refused(Exception):
    """A document the extractor will not read; the message is one line naming the reason."""


# --- refusals, before pdfium sees the bytes ------------------------------------------------

_STREAM = re.compile(rb"/FlateDecode.{0,200}?>>\s*stream\r?\n", re.S)


def check_bytes(data):
    """Refuse what is not a whole PDF, or would inflate into a bomb; cheap checks on the raw bytes."""
    if len(data) > MAX_BYTES:
        raise Refused(f"too large: {len(data):,} bytes is over the {MAX_BYTES:,}-byte limit")
    if b"%PDF-" not in data[:1024]:
        raise Refused(f"not a PDF (starts {data[:8]!r})")
    if b"%%EOF" not in data[-2048:]:
        raise Refused("truncated: no %%EOF trailer at the end of the file")
    for m in _STREAM.finditer(data):
        inflater = zlib.decompressobj()
        try:
            inflater.decompress(data[m.end():m.end() + MAX_INFLATED], MAX_INFLATED)
        except zlib.error:
            continue  # a damaged stream is pdfium's to judge; it is no bomb
        if inflater.unconsumed_tail:
            raise Refused(f"decompression bomb: a stream at byte {m.end():,} inflates past {MAX_INFLATED:,} bytes")


def open_pdf(path, data):
    """pdfium's document for checked bytes, or Refused: damaged, encrypted, too many or too large pages."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as e:
        reason = str(e).splitlines()[0] if str(e) else "pdfium could not open it"
        if "password" in reason.lower():
            raise Refused(f"encrypted: {reason}") from None
        raise Refused(f"damaged PDF: {reason}") from None
    # An /Encrypt dictionary with an empty user password (permissions only) opens like any PDF and is
    # read; one that needs a password never gets here (pdfium refuses it above).
    if len(pdf) > MAX_PAGES:
        n = len(pdf)
        pdf.close()
        raise Refused(f"page-count bomb: {n:,} pages is over the {MAX_PAGES}-page limit")
    if len(pdf) == 0:
        pdf.close()
        raise Refused("no pages")
    for i in range(len(pdf)):
        w, h = pdf.get_page_size(i)
        if w > MAX_PAGE_POINTS or h > MAX_PAGE_POINTS:
            pdf.close()
            raise Refused(f"page {i + 1} is {w:.0f} x {h:.0f} points, over the {MAX_PAGE_POINTS}-point limit")
    return pdf


# --- the text layer and form fields ---------------------------------------------------------

def _wide(fn, *args):
    import pypdfium2.raw as raw

    n = fn(*args, None, 0)
    if n <= 2:
        return ""
    buf = ctypes.create_string_buffer(n)
    fn(*args, ctypes.cast(buf, ctypes.POINTER(raw.FPDF_WCHAR)), n)
    return buf.raw[:n - 2].decode("utf-16-le", errors="replace")


def _segment(text, left, top, right, bottom, method):
    return [re.sub(r"\s+", " ", text).strip(), round(left, 1), round(top, 1), round(right, 1), round(bottom, 1), method]


def text_segments(page, height):
    """The text layer as words with their boxes (top-left origin, in points), and as plain text."""
    import pypdfium2.raw as raw

    tp = page.get_textpage()
    words, word = [], None
    box = raw.FS_RECTF()
    for i in range(raw.FPDFText_CountChars(tp.raw)):
        char = chr(raw.FPDFText_GetUnicode(tp.raw, i))
        if char.isspace() or raw.FPDFText_IsGenerated(tp.raw, i) == 1:
            word = None
            continue
        # the loose box spans the glyph's advance, so letters of a word touch
        raw.FPDFText_GetLooseCharBox(tp.raw, i, box)
        if word and -2 < box.left - word[3] < 1.0 and abs(box.top - word[4]) < 4:
            word[0] += char
            word[2], word[3], word[4] = min(word[2], box.bottom), max(word[3], box.right), max(word[4], box.top)
        else:
            word = [char, box.left, box.bottom, box.right, box.top]
            words.append(word)
    full = tp.get_text_range()
    tp.close()
    return [_segment(w, l, height - t, r, height - b, "text") for w, l, b, r, t in words], full


def form_segments(pdf, page, height):
    """Values typed into form fields, and text boxes stamped on the page (typed signers, dates)."""
    import pypdfium2.raw as raw

    out = []
    form = pdf.formenv.raw if pdf.formenv else None
    for i in range(raw.FPDFPage_GetAnnotCount(page.raw)):
        annot = raw.FPDFPage_GetAnnot(page.raw, i)
        try:
            kind = raw.FPDFAnnot_GetSubtype(annot)
            rect = raw.FS_RECTF()
            raw.FPDFAnnot_GetRect(annot, rect)
            if kind == raw.FPDF_ANNOT_WIDGET and form:
                value = _wide(raw.FPDFAnnot_GetFormFieldValue, form, annot)
            elif kind == raw.FPDF_ANNOT_FREETEXT:
                value = _wide(raw.FPDFAnnot_GetStringValue, annot, b"Contents")
            else:
                continue
            if value.strip() and value.strip().lower() not in ("off", "on", "yes", "no"):
                out.append(_segment(value, rect.left, height - rect.top, rect.right, height - rect.bottom, "form"))
        finally:
            raw.FPDFPage_CloseAnnot(annot)
    return out


# --- OCR ----------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _ocr_key():
    """What the OCR cache holds depends on: this module, pypdfium2's rendering and tesseract's version."""
    return cache_key(sys.modules[__name__], packages=("pypdfium2",), extra=(str(tesseract_version()),))


def tesseract_version():
    exe = shutil.which("tesseract")
    if not exe:
        return None
    out = subprocess.run([exe, "--version"], capture_output=True, text=True)
    return (out.stdout or out.stderr).split("\n", 1)[0].strip()


def _pgm(bitmap):
    """A grayscale bitmap as PGM bytes: tesseract reads it directly, so no imaging library is needed."""
    width, height, stride = bitmap.width, bitmap.height, bitmap.stride
    buf = bytes(bitmap.buffer)
    rows = buf if stride == width else b"".join(buf[r * stride:r * stride + width] for r in range(height))
    return b"P5\n%d %d\n255\n" % (width, height) + rows


def ocr_words(page, dpi=OCR_DPI):
    """tesseract's words on a rendered page: [text, left, top, right, bottom, confidence, line key], in points from the top left."""
    scale = dpi / 72
    bitmap = page.render(scale=scale, grayscale=True)
    with tempfile.TemporaryDirectory(prefix="open287g-ocr-") as tmp:
        image = Path(tmp) / "page.pgm"
        image.write_bytes(_pgm(bitmap))
        # one thread: the machine is shared, and pages are read one at a time anyway
        env = dict(os.environ, OMP_THREAD_LIMIT="1")
        out = subprocess.run(["tesseract", str(image), "stdout", "-l", "eng", "--psm", "3", "tsv"],
                             capture_output=True, text=True, env=env, timeout=300)
    if out.returncode != 0:
        raise RuntimeError(f"tesseract failed: {out.stderr.strip().splitlines()[-1:] or out.returncode}")
    return tsv_words(out.stdout, scale)


def tsv_words(tsv, scale):
    words = []
    for row in tsv.splitlines()[1:]:
        f = row.split("\t")
        if len(f) < 12 or f[0] != "5" or not f[11].strip():
            continue
        left, top, w, h = (int(v) / scale for v in f[6:10])
        words.append([f[11], round(left, 1), round(top, 1), round(left + w, 1), round(top + h, 1), round(float(f[10])),
                      f"{f[2]}.{f[3]}.{f[4]}"])
    return words


def ocr_lines(words):
    """tesseract's words -> one segment per line, words kept in order (the page's text). A line is cut where words stand apart by
    more than three times its height: tesseract often runs the two signature blocks of a page into one line."""
    lines, current, key = [], None, None
    for text, left, top, right, bottom, conf, line_key in words:
        gap = left - current[3] if current else 0
        if current and line_key == key and gap <= 3 * max(current[4] - current[2], bottom - top):
            current[0].append(text)
            current[5].append(conf)
            current[2], current[3], current[4] = min(current[2], top), max(current[3], right), max(current[4], bottom)
            continue
        current, key = [[text], left, top, right, bottom, [conf]], line_key
        lines.append(current)
    # the line's lowest word confidence goes with it: handwriting reads with low confidence
    return [_segment(" ".join(w), l, t, r, b, "ocr") + [round(min(conf))] for w, l, t, r, b, conf in lines]


def _overlaps(a, b):
    return a[1] < b[3] and b[1] < a[3] and a[2] < b[4] and b[2] < a[4]


def scanned(page):
    """Whether one image covers most of the page: a scan, whatever text layer it carries."""
    import pypdfium2.raw as raw

    width, height = page.get_size()
    for obj in page.get_objects(filter=[raw.FPDF_PAGEOBJ_IMAGE], max_depth=2):
        left, bottom, right, top = obj.get_bounds()
        if (right - left) * (top - bottom) > 0.5 * width * height:
            return True
    return False


# --- one document ---------------------------------------------------------------------------

def read_pages(path, ocr_cache=None, ocr=True):
    """Every page of a PDF: {'page', 'source', 'text', 'segments', 'width', 'height'}; Refused for bad documents.

    `ocr_cache` (a folder) keeps tesseract's lines per document and page: OCR is the one slow step."""
    data = Path(path).read_bytes()
    check_bytes(data)
    sha256 = hashlib.sha256(data).hexdigest()
    pdf = open_pdf(path, data)
    cache = Path(ocr_cache) / f"{sha256}.ocr.{_ocr_key()}.json" if ocr_cache else None
    ocred = json.loads(cache.read_text()) if cache and cache.exists() else {}
    fresh = False
    try:
        pdf.init_forms()
        pages = []
        for i in range(len(pdf)):
            page = pdf[i]
            width, height = page.get_size()
            segments, full = text_segments(page, height)
            source = "text"
            chars = len(full.strip())
            if ocr and (chars < MIN_TEXT_CHARS or (chars < SCAN_TEXT_CHARS and scanned(page))):
                if str(i + 1) not in ocred:
                    ocred[str(i + 1)], fresh = ocr_words(page), True
                lines = ocr_lines(ocred[str(i + 1)])
                # each word keeps its own confidence: a label misread beside a value costs the value nothing.
                # Words typed on the scan (ICE's date and name) are exact in the text layer: they stand, and
                # tesseract's reading of the same place gives way.
                words = [_segment(w[0], *w[1:5], "ocr") + [w[5]] for w in ocred[str(i + 1)]]
                segments = segments + [w for w in words if not any(_overlaps(w, t) for t in segments)]
                source = "ocr"
                full = "\n".join(s[0] for s in lines) + ("\n" + full.strip() if full.strip() else "")
            forms = form_segments(pdf, page, height)
            if forms:  # typed into fields: part of what the page says, and searchable
                full = full.rstrip() + "\n" + "\n".join(s[0] for s in forms)
            pages.append({"page": i + 1, "source": source, "text": full.replace("\r\n", "\n").replace("\r", "\n"),
                          "segments": segments + forms, "width": round(width, 1), "height": round(height, 1)})
            page.close()
    finally:
        pdf.close()
    if cache and fresh:
        atomic_write(cache, json.dumps(ocred))
        prune(cache.parent, f"{sha256}.ocr.*.json", cache.name)  # this document's OCR under an older key is never read again
    return pages
