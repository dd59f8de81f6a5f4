"""The extract-moa command: reads MOA PDFs from a folder, writes data/moa/documents.jsonl.gz (text and fields by sha256) and the corpus manifest."""
import gzip
import io
import json
import shutil
import sqlite3
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import click

from . import BUILD, DATA
from .files import atomic_write, file_sha256
from .read import unwrap_url

DOCUMENTS = "documents.jsonl.gz"
RECORD_VERSION = 1


def file_name_of(url):
    """The document's file name at the end of its link: the key between a workbook row and a document."""
    return name_in(unwrap_url(url))


def name_in(url):
    """The file name at the end of a document's URL (read.unwrap_url's answer), or None."""
    if not url:
        return None
    name = unquote(urlsplit(url).path.rsplit("/", 1)[-1]).strip()
    return name or None


def known_urls(db_path):
    """{file name: url} from a built database's listings, when there is one (the extractor never needs it)."""
    if not db_path or not Path(db_path).exists():
        return {}
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        rows = conn.execute("select moa_url from listings where moa_url is not null "
                            "union select addendum_url from listings where addendum_url is not null").fetchall()
    except sqlite3.Error:
        return {}
    finally:
        conn.close()
    out = {}
    for (url,) in rows:
        url = unwrap_url(url)
        name = name_in(url)
        if name:
            out.setdefault(name, url)
    return out


def versions():
    from importlib.metadata import version

    from .pdfpages import tesseract_version

    return {"pypdfium2": version("pypdfium2"), "tesseract": tesseract_version()}


def extract_one(path, ocr_cache):
    """One document -> (its record, or a refused record naming the reason; seconds taken); never raises for a bad file."""
    from . import moa_fields, pdfpages

    started = time.perf_counter()
    sha256 = file_sha256(path)
    base = {"sha256": sha256, "file_name": path.name, "bytes": path.stat().st_size}
    try:
        pages = pdfpages.read_pages(path, ocr_cache)
    except pdfpages.Refused as e:
        return dict(base, refused=str(e)), 0.0
    except Exception as e:  # pdfium or tesseract failing on one file costs that file only
        return dict(base, refused=f"unreadable: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}".rstrip(": ")), 0.0
    fields = moa_fields.extract(pages, path.name)
    ocr = [p["page"] for p in pages if p["source"] == "ocr"]
    return dict(
        base,
        pages=len(pages),
        text_pages=len(pages) - len(ocr),
        ocr_pages=ocr,
        **fields,
        page_text=[{"page": p["page"], "source": p["source"], "text": p["text"]} for p in pages],
    ), time.perf_counter() - started


def write_jsonl_gz(path, records):
    """Sorted by sha256, gzip without a timestamp: the same documents give the same bytes."""
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=9) as gz:
        for record in sorted(records, key=lambda r: r["sha256"]):
            gz.write((json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8"))
    atomic_write(path, buf.getvalue())


def read_jsonl_gz(path):
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def extract_folder(source, out_dir, ocr_cache=None, db_path=None, echo=print):
    """Every PDF in `source` -> records, one per distinct sha256; same bytes under another name noted."""
    source, out_dir = Path(source), Path(out_dir)
    urls = known_urls(db_path)
    by_sha = {}
    files = sorted(p for p in source.iterdir() if p.is_file() and p.suffix.lower() == ".pdf")
    for path in files:
        record, seconds = extract_one(path, ocr_cache)
        if record["sha256"] in by_sha:
            by_sha[record["sha256"]].setdefault("also_named", []).append(path.name)
            continue
        record["url"] = urls.get(path.name)
        record["record_version"] = RECORD_VERSION
        by_sha[record["sha256"]] = record
        if "refused" in record:
            echo(f"refused {path.name}: {record['refused']}")
        else:
            echo(f"read {path.name}: {record['pages']} pages, {len(record['ocr_pages'])} by OCR, {seconds:.2f}s")
    out_dir.mkdir(parents=True, exist_ok=True)
    write_jsonl_gz(out_dir / DOCUMENTS, by_sha.values())
    if (source / "MANIFEST.csv").exists():
        shutil.copyfile(source / "MANIFEST.csv", out_dir / "MANIFEST.csv")
    (out_dir / "extracted_with.json").write_text(json.dumps(versions(), indent=1, sort_keys=True) + "\n")
    return list(by_sha.values())


@click.command("extract-moa")
@click.option("--source", type=click.Path(file_okay=False, exists=True), required=True,
              help="Folder of MOA PDFs (with its MANIFEST.csv, copied beside the output).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=str(DATA / "moa"), show_default=True)
@click.option("--ocr-cache", type=click.Path(file_okay=False), default=str(BUILD / "cache" / "moa-ocr"), show_default=True,
              help="tesseract's results per document and page, kept between runs.")
@click.option("--db", "db_path", type=click.Path(dir_okay=False), default=str(BUILD / "287g.db"), show_default=True,
              help="A built database, for each document's URL as ICE's workbooks print it (optional).")
def extract_command(source, out_dir, ocr_cache, db_path):
    """Read MOA PDFs (text layer, form fields, OCR) into data/moa/documents.jsonl.gz."""
    records = extract_folder(source, out_dir, ocr_cache, db_path, echo=lambda line: click.echo(line, err=line.startswith("refused")))
    refused = [r for r in records if "refused" in r]
    click.echo(f"{len(records) - len(refused)} documents read, {len(refused)} refused -> {Path(out_dir) / DOCUMENTS}")
    sys.exit(0)
