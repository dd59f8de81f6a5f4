"""Reads publications and listings in the built database and feeds the publication and agreement row pages: ICE's file to download with its sha256 and archive, and every printed row behind an agreement with the files that printed it."""
import re

from datasette import hookimpl
from markupsafe import Markup, escape

from open287g.config import DATABASE as DB
from open287g.serve import file_url

PUBLICATION = """
select
  id,
  list,
  source_kind,
  file,
  file_name,
  original_name,
  published_at,
  date_source,
  status,
  row_count,
  sha256,
  bytes,
  capture_utc,
  archived_by
from publications
where id = :id
"""

# One line per distinct printed row: the first and the last file that printed it, with the sheet
# row in each, and how many publications carried it in between.
AGREEMENT_LISTINGS = """
select
  l.id,
  l.agency,
  l.state,
  l.level,
  l.county,
  l.support_type,
  l.signed,
  l.publications,
  l.first_seen,
  l.first_sheet_row,
  l.last_seen,
  l.last_sheet_row,
  f.id as first_id,
  f.file as first_file,
  f.file_name as first_file_name,
  f.sha256 as first_sha256,
  t.id as last_id,
  t.file as last_file,
  t.file_name as last_file_name,
  t.sha256 as last_sha256
from listings l
join publications f on f.id = l.first_publication_id
join publications t on t.id = l.last_publication_id
where l.agreement_id = :id
order by l.first_seq, l.id
"""

# Rule archive_link: an archive is named "owner/repository folder" for a public GitHub repository
# (MANIFEST.csv's archived_by); the Internet Archive's captures of ICE's page are dated by capture_utc.
_GITHUB = re.compile(r"^(?P<repo>[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)(?:\s+(?P<folder>.+))?$")
ICE_PAGE = "https://www.ice.gov/identify-and-arrest/287g"


def archives(archived_by):
    """[{name, folder, url}] for each archive that held a file, in the order MANIFEST.csv names them."""
    out = []
    for part in (archived_by or "").split(";"):
        part = part.strip()
        match = _GITHUB.match(part)
        if match:
            out.append({"name": match["repo"], "folder": match["folder"] or "",
                        "url": f"https://github.com/{match['repo']}"})
        elif part:
            out.append({"name": part, "folder": "", "url": None})
    return out


def wayback_url(capture_utc):
    """The Internet Archive's capture of ICE's 287(g) page at capture_utc ("2021-01-13T00:20:27Z")."""
    digits = re.sub(r"\D", "", capture_utc or "")
    return f"https://web.archive.org/web/{digits}/{ICE_PAGE}" if len(digits) == 14 else None


async def _rows(db, sql, params):
    return [dict(r) for r in (await db.execute(sql, params)).rows]


async def publication_vars(db, pk):
    rows = await _rows(db, PUBLICATION, {"id": pk})
    if not rows:
        return {}
    p = rows[0]
    return {"source": {**p, "archives": archives(p["archived_by"]),
                       "wayback": wayback_url(p["capture_utc"]) if p["source_kind"] == "page_table" else None}}


async def agreement_vars(db, pk):
    return {"printed": await _rows(db, AGREEMENT_LISTINGS, {"id": pk})}


ROW_VARS = {"publications": publication_vars, "agreements": agreement_vars}


@hookimpl
def extra_template_vars(view_name, table, database, request, datasette):
    if view_name != "row" or database != DB or table not in ROW_VARS or request is None:
        return {}

    async def row_vars():
        return await ROW_VARS[table](datasette.get_database(database), request.url_vars.get("pks", ""))
    return row_vars


@hookimpl
def render_cell(value, column, table, database):
    # publications.file on the table page and in JSON's HTML rendering: the file itself, downloadable
    if database == DB and table == "publications" and column == "file" and isinstance(value, str) and value:
        return Markup(f'<a href="{escape(file_url(value))}" download>{escape(value)}</a>')
    return None
