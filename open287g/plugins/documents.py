"""Reads moa_pages_fts in the built database and serves /documents: a word, name or phrase found in the agreements' text, with agency, page and snippet."""
import re

from datasette import hookimpl
from datasette.utils.asgi import Response

from open287g.config import DATABASE as DB

SEARCH = """
select
  p.sha256,
  p.page,
  p.source,
  snippet(moa_pages_fts, 0, '[[', ']]', ' … ', 16) as snippet,
  d.file_name,
  d.url,
  d.model,
  d.agency_named
from moa_pages_fts
join moa_pages p
  on p.rowid = moa_pages_fts.rowid
join moa_documents d
  on d.sha256 = p.sha256
where moa_pages_fts match :expression
order by bm25(moa_pages_fts)
limit 200
"""

AGENCIES_OF = """
select distinct
  ad.sha256,
  g.agency_id,
  a.name as agency,
  a.state_code,
  g.model
from agreement_documents ad
join agreements g
  on g.id = ad.agreement_id
join agencies a
  on a.id = g.agency_id
where ad.sha256 in (select value from json_each(:shas))
"""

PER_PAGE = 25

TOTALS = """
select
  (select count(*) from moa_documents) as documents,
  (select count(*) from moa_pages) as pages
"""


def expression(q):
    """FTS5 query for typed words: a quoted phrase stays a phrase, other words must all appear."""
    phrases = re.findall(r'"([^"]+)"', q)
    rest = re.sub(r'"[^"]*"', " ", q)
    words = re.findall(r"[\w'’.@-]+", rest)
    parts = [" ".join(re.findall(r"\w+", p)) for p in phrases] + [" ".join(re.findall(r"\w+", w)) for w in words]
    return " ".join(f'"{p}"' for p in parts if p.strip())


def marked(snippet):
    """The snippet as text pieces, each flagged when it is a hit, for the template to mark up."""
    out = []
    for i, piece in enumerate(re.split(r"\[\[|\]\]", snippet or "")):
        if piece:
            out.append({"text": piece, "hit": i % 2 == 1})
    return out


async def find_documents(db, q):
    expr = expression(q)
    if not expr:
        return []
    hits = [dict(r) for r in (await db.execute(SEARCH, {"expression": expr})).rows]
    import json

    shas = json.dumps(sorted({h["sha256"] for h in hits}))
    agencies = {}
    for r in (await db.execute(AGENCIES_OF, {"shas": shas})).rows:
        agencies.setdefault(r["sha256"], []).append(dict(r))
    for h in hits:
        h["agencies"] = agencies.get(h["sha256"], [])
        h["pieces"] = marked(h["snippet"])
    return hits


async def documents_view(datasette, request):
    q = (request.args.get("q") or "").strip()[:200]
    db = datasette.get_database(DB)
    hits = await find_documents(db, q) if q else None
    totals = dict((await db.execute(TOTALS)).rows[0])
    # 25 pages of text a screen keeps a phone's page short; the rest are a click away
    pages = max(1, -(-len(hits or []) // PER_PAGE))
    try:
        page = min(max(1, int(request.args.get("page") or 1)), pages)
    except ValueError:
        page = 1
    html = await datasette.render_template("documents.html", {
        "q": q, "hits": hits, "totals": totals, "page": page, "pages": pages,
        "shown": (hits or [])[(page - 1) * PER_PAGE:page * PER_PAGE], "first": (page - 1) * PER_PAGE,
    }, request=request)
    return Response.html(html)


@hookimpl
def register_routes():
    return [(r"^/documents$", documents_view)]
