"""Reads the built database and feeds the pages that answer "does my agency, county or state work with ICE?": the home page, /search, agency, state and county pages, /states and /county-map."""
import datetime
import json

from datasette import hookimpl
from datasette.utils.asgi import Response

from open287g import palette, search
from open287g.config import DATABASE as DB

# read.MODEL_NAMES, written out: importing open287g.read would load the workbook reader into every server
MODEL_NAMES = {"JEM": "Jail Enforcement Model", "WSO": "Warrant Service Officer", "TFM": "Task Force Model"}
MODELS = tuple(MODEL_NAMES)

NEWEST_LIST = """
select
  id,
  list,
  file_name,
  published_at
from publications
where status = 'used'
  and list in ('participating', 'pending')
order by published_at desc
"""

HEADLINE = """
select
  model,
  count(*) as agreements,
  count(distinct agency_id) as agencies
from agreements
where status = 'active'
group by model
"""

TOTALS = """
select
  (select count(*) from agreements where status = 'active') as agreements,
  (select count(*) from agencies where status = 'active') as agencies,
  (select count(*) from agreements where status = 'ended') as ended,
  (select count(*) from pending_applications where removed_at is null) as pending,
  (select count(*) from counties where agencies_active > 0) as counties_active,
  (select count(*) from counties) as counties
"""

SEARCH_REFS = """
select
  e.kind,
  e.ref,
  e.state_code,
  e.label,
  e.status,
  bm25(search_entries_fts) as score
from search_entries_fts
join search_entries e
  on e.id = search_entries_fts.rowid
where search_entries_fts match :expression
  and (:state = '' or e.state_code = :state)
order by score
limit 400
"""

AGENCIES_BY_ID = """
select
  a.id,
  a.name,
  a.state_code,
  s.name as state_name,
  a.level,
  a.place_name,
  a.county_name,
  a.county_fips,
  a.models_active,
  a.models_ever,
  a.status,
  a.agreements_active
from agencies a
join states s
  on s.code = a.state_code
where a.id in (select value from json_each(:ids))
"""

COUNTIES_BY_FIPS = """
select
  *
from counties
where fips in (select value from json_each(:ids))
"""

COUNTY_AGENCIES = """
select
  a.id,
  a.name,
  a.level,
  a.place_name,
  a.precision,
  a.models_active,
  a.models_ever,
  a.status,
  a.agreements_active,
  a.agreements_total,
  coalesce(a.level = 'County', a.precision = 'county') as county_level
from agencies a
where a.county_fips = :fips
order by a.status = 'active' desc, county_level desc, a.name
"""

STATE_AGREEMENTS = """
select
  state_code,
  model,
  status,
  count(*) as agreements,
  count(distinct agency_id) as agencies
from agreements
where (:state = '' or state_code = :state)
group by state_code, model, status
"""

STATE_AGENCIES = """
select
  state_code,
  sum(status = 'active') as agencies_active,
  sum(status = 'ended') as agencies_ended,
  count(*) as agencies
from agencies
where (:state = '' or state_code = :state)
group by state_code
"""

STATE_PENDING = """
select
  state_code,
  count(*) as pending
from pending_applications
where removed_at is null
  and (:state = '' or state_code = :state)
group by state_code
"""

STATE_COUNTIES = """
select
  state_code,
  count(*) as counties,
  sum(agencies_active > 0) as counties_active,
  sum(agencies_active = 0 and agreements_ended > 0) as counties_ended_only
from counties
where (:state = '' or state_code = :state)
group by state_code
"""

STATES = """
select
  code,
  name,
  population,
  population_year,
  population_vintage,
  population_source
from states
where (:state = '' or code = :state)
order by name
"""

# Every outline is drawn; the few of 2017 that are no county today (Connecticut's old counties) stay blank.
SHAPES = """
select
  s.fips,
  s.path,
  s.x0,
  s.y0,
  s.x1,
  s.y1,
  coalesce(c.name, s.name) as name,
  st.code as state_code,
  coalesce(c.map_fill, 'none') as map_fill,
  coalesce(c.agencies_active, 0) as agencies_active,
  coalesce(c.agreements_active, 0) as agreements_active,
  coalesce(c.agreements_ended, 0) as agreements_ended,
  c.models_active
from county_shapes s
join states st
  on st.fips = substr(s.fips, 1, 2)
left join counties c
  on c.fips = s.fips
where (:state = '' or st.code = :state)
"""

STATE_OUTLINES = """
select
  path
from state_shapes
"""

STATE_COUNTY_LIST = """
select
  fips,
  name,
  population,
  agencies,
  agencies_active,
  agreements_active,
  agreements_ended,
  models_active,
  agreements_per_100k
from counties
where state_code = :state
  and agencies > 0
order by agencies_active desc, agreements_active desc, name
"""

STATE_AGENCY_LIST = """
select
  a.id,
  a.name,
  a.county_name,
  a.county_fips,
  a.place_name,
  a.models_active,
  a.models_ever,
  a.status
from agencies a
where a.state_code = :state
order by a.status = 'active' desc, a.name
"""

AGENCY = """
select
  a.*,
  s.name as state_name
from agencies a
join states s
  on s.code = a.state_code
where a.id = :id
"""

AGENCY_AGREEMENTS = """
select
  id,
  model,
  support_type,
  signed_on,
  signed_printed,
  status,
  first_seen,
  last_seen,
  ended_seen,
  moa_url,
  addendum_url
from agreements
where agency_id = :id
order by status = 'active' desc, signed_on
"""

AGENCY_CHANGES = """
select
  changed_at,
  kind,
  model,
  agreement_id,
  before,
  after,
  detail,
  publication_id
from changes
where agency_id = :id
order by changed_at, seq
"""

AGENCY_PENDING = """
select
  id,
  model,
  first_seen,
  last_seen,
  removed_at,
  outcome,
  signed_on,
  days_to_listed
from pending_applications
where agency_id = :id
order by first_seen
"""

AGENCY_MEETINGS = """
select
  source_line,
  fiscal_year,
  moa_name,
  meeting_on,
  location,
  model,
  match
from steering_committee_meetings
where agency_id = :id
order by meeting_on
"""


AGENCY_DOCUMENTS = """
select
  ad.agreement_id,
  ad.role,
  ad.url,
  d.sha256,
  d.file_name,
  d.pages,
  d.ocr_pages,
  d.template,
  d.field_office,
  d.field_office_page,
  d.agency_named,
  d.addendum_embedded
from agreement_documents ad
join moa_documents d
  on d.sha256 = ad.sha256
where ad.agreement_id in (select id from agreements where agency_id = :id)
order by ad.agreement_id, ad.role desc, d.file_name
"""

DOCUMENT_SIGNATORIES = """
select
  sha256,
  party,
  name,
  title,
  signed_on,
  date_handwritten,
  page,
  method
from moa_signatories
where sha256 in (select value from json_each(:shas))
order by sha256, party = 'agency' desc
"""

DOCUMENT_CONTACTS = """
select
  sha256,
  party,
  section,
  name,
  title,
  phone,
  email,
  page,
  method
from moa_contacts
where sha256 in (select value from json_each(:shas))
order by sha256, party = 'agency' desc, id
"""


def day(value):
    """ "2025-02-26..." -> "26 Feb 2025"."""
    if not value:
        return ""
    try:
        d = datetime.date.fromisoformat(str(value)[:10])
    except ValueError:
        return str(value)
    return f"{d.day} {d:%b %Y}"


def plural(n, word, words=None):
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


async def _rows(db, sql, params=None):
    return [dict(r) for r in (await db.execute(sql, params or {})).rows]


async def _one(db, sql, params=None):
    rows = await _rows(db, sql, params)
    return rows[0] if rows else None


def _by_state(rows):
    out = {}
    for r in rows:
        out.setdefault(r["state_code"], []).append(r)
    return out


async def state_figures(db, state=""):
    """Per state: agreements and distinct agencies by model, ended, pending, counties taking part, per capita."""
    params = {"state": state}
    agreements = _by_state(await _rows(db, STATE_AGREEMENTS, params))
    agencies = {r["state_code"]: r for r in await _rows(db, STATE_AGENCIES, params)}
    pending = {r["state_code"]: r["pending"] for r in await _rows(db, STATE_PENDING, params)}
    counties = {r["state_code"]: r for r in await _rows(db, STATE_COUNTIES, params)}
    out = []
    for s in await _rows(db, STATES, params):
        rows = agreements.get(s["code"], [])
        active = [r for r in rows if r["status"] == "active"]
        f = dict(s)
        f["by_model"] = {m: {"agreements": sum(r["agreements"] for r in active if r["model"] == m),
                             "agencies": sum(r["agencies"] for r in active if r["model"] == m)} for m in MODELS}
        f["agreements_active"] = sum(r["agreements"] for r in active)
        f["agreements_ended"] = sum(r["agreements"] for r in rows if r["status"] == "ended")
        f["agencies_active"] = (agencies.get(s["code"]) or {}).get("agencies_active") or 0
        f["agencies_ended"] = (agencies.get(s["code"]) or {}).get("agencies_ended") or 0
        f["pending"] = pending.get(s["code"], 0)
        c = counties.get(s["code"]) or {}
        f["counties"] = c.get("counties") or 0
        f["counties_active"] = c.get("counties_active") or 0
        f["counties_ended_only"] = c.get("counties_ended_only") or 0
        f["per_100k"] = round(f["agreements_active"] * 100000 / s["population"], 2) if s["population"] else None
        out.append(f)
    return out


def _fill_colour(fill):
    if "+" in fill:
        return f"url(#fill-{fill.replace('+', '-')})"
    return palette.COLOURS.get(fill, palette.NONE_COLOUR)


def county_map(shapes, highlight=None, pad=4, borders=()):
    """Context for the county_map macro (templates/_find.html): paths with fills, the viewBox around them, the patterns used."""
    if not shapes:
        return None
    x0, y0 = min(s["x0"] for s in shapes) - pad, min(s["y0"] for s in shapes) - pad
    x1, y1 = max(s["x1"] for s in shapes) + pad, max(s["y1"] for s in shapes) + pad
    # the three-model stripes are always drawn for the legend (all_patterns): an id may appear once a page
    patterns = sorted({s["map_fill"] for s in shapes if "+" in s["map_fill"]} - {"+".join(MODELS)})
    for s in shapes:
        s["colour"] = _fill_colour(s["map_fill"])
        s["highlight"] = s["fips"] == highlight
        s["title"] = f"{s['name']}, {s['state_code']}: " + (
            f"{plural(s['agreements_active'], 'active agreement')} ({s['models_active']})" if s["agreements_active"]
            else "ended agreements only" if s["map_fill"] == "ended" else "on the pending list, never signed"
            if s["map_fill"] == "pending" else "no agreement")
    return {
        "shapes": shapes,
        "borders": [b["path"] for b in borders],
        "viewbox": f"{x0:.0f} {y0:.0f} {x1 - x0:.0f} {y1 - y0:.0f}",
        "patterns": [{"id": "fill-" + p.replace("+", "-"), "colours": [palette.COLOURS[m] for m in p.split("+")]}
                     for p in patterns],
        "legend": [{"label": MODEL_NAMES[m] + f" ({m})", "colour": palette.COLOURS[m]} for m in MODELS]
        + [{"label": "more than one model (stripes)", "colour": "url(#fill-JEM-WSO-TFM)", "stripes": True},
           {"label": "ended agreements only", "colour": palette.ENDED_COLOUR},
           {"label": "on the pending list, never signed", "colour": palette.PENDING_COLOUR},
           {"label": "no agreement", "colour": palette.NONE_COLOUR}],
        "all_patterns": [{"id": "fill-JEM-WSO-TFM", "colours": [palette.COLOURS[m] for m in MODELS]}],
    }


async def home(db):
    newest = {}
    for r in await _rows(db, NEWEST_LIST):
        newest.setdefault(r["list"], r)
    by_model = {r["model"]: r for r in await _rows(db, HEADLINE)}
    return {
        "newest": newest.get("participating"),
        "newest_pending": newest.get("pending"),
        "as_of_day": day((newest.get("participating") or {}).get("published_at")),
        "headline": [{"model": m, "name": MODEL_NAMES[m], "colour": palette.COLOURS[m],
                      **by_model.get(m, {"agreements": 0, "agencies": 0})} for m in MODELS],
        "totals": await _one(db, TOTALS),
        "day": day,
    }


async def find(db, q):
    """Everything /search shows for a typed query."""
    parsed = search.parse(q)
    terms, state = parsed["terms"], parsed["state"] or ""
    out = {"q": q, "parsed": parsed, "forgiving": False, "counties": [], "agencies": [], "states": [],
           "verdict": None, "elsewhere": None}
    hits = []
    strict = search.expression(terms)
    if strict:
        hits = await _rows(db, SEARCH_REFS, {"expression": strict, "state": state})
    if strict and state and not hits:
        # "harris county florida": no such county in the state; say where counties of that name are.
        anywhere = [h["ref"] for h in await _rows(db, SEARCH_REFS, {"expression": strict, "state": ""}) if h["kind"] == "county"]
        elsewhere = search.named_counties(await _rows(db, COUNTIES_BY_FIPS, {"ids": json.dumps(anywhere)}), terms)
        out["elsewhere"] = sorted(elsewhere, key=lambda c: c["state_name"]) or None
    if terms and not hits and not out["elsewhere"]:
        loose = search.forgiving_expression(terms)
        if loose:
            hits = search.closest(await _rows(db, SEARCH_REFS, {"expression": loose, "state": state}))
            out["forgiving"] = bool(hits)
    ranked = search.rank(hits, terms)
    state_codes = [s for s in (parsed["state_only"], parsed["state"]) if s]
    if state_codes:
        out["states"] = await state_figures(db, state_codes[0])
    county_refs = [h["ref"] for h in ranked if h["kind"] == "county"][:8]
    counties = {c["fips"]: c for c in await _rows(db, COUNTIES_BY_FIPS, {"ids": json.dumps(county_refs)})}
    out["counties"] = [counties[f] for f in county_refs if f in counties]
    named = search.named_counties(out["counties"], terms) if not out["forgiving"] else []
    out["named"] = named
    out["verdict"] = search.verdict(named)
    for c in named[:4]:
        c["agency_list"] = await _rows(db, COUNTY_AGENCIES, {"fips": c["fips"]})
    agency_refs = [h["ref"] for h in ranked if h["kind"] == "agency"][:40]
    agencies = {a["id"]: a for a in await _rows(db, AGENCIES_BY_ID, {"ids": json.dumps(agency_refs)})}
    out["agencies"] = [agencies[i] for i in agency_refs if i in agencies]
    return out


def headline(agency, agreements):
    """ "Polk County Sheriff's Office, Florida: 2 active agreements, Task Force Model since 26 Feb 2025, ..." """
    active = sorted((a for a in agreements if a["status"] == "active"), key=lambda a: a["signed_on"] or "", reverse=True)
    where = f"{agency['name']}, {agency['state_name']}"
    if active:
        since = ", ".join(f"{MODEL_NAMES.get(a['model'], a['model'])} since {day(a['signed_on'])}" for a in active)
        return f"{where}: {plural(len(active), 'active agreement')}, {since}"
    ended = [a for a in agreements if a["status"] in ("ended", "superseded")]
    if ended:
        last = max(a["ended_seen"] or a["last_seen"] or "" for a in ended)
        return f"{where}: no active agreement; {plural(len(ended), 'agreement')} ended, the last one gone from ICE's list on {day(last)}"
    return f"{where}: no agreement; on ICE's pending list only"


TIMELINE_WORDS = {
    "added": "listed", "ended": "ended (no longer on ICE's list)", "re-dated": "re-dated by ICE",
    "renamed": "renamed", "relisted": "back on the list after a gap", "superseded": "superseded",
    "pending->signed": "pending → signed",
}


def timeline(changes, pending):
    events = [{"on": c["changed_at"], "what": TIMELINE_WORDS.get(c["kind"], c["kind"]), "kind": c["kind"],
               "model": c["model"], "before": c["before"], "after": c["after"], "detail": c["detail"],
               "agreement_id": c["agreement_id"]} for c in changes]
    events += [{"on": p["first_seen"], "what": "on ICE's pending list", "kind": "pending", "model": p["model"],
                "before": None, "after": None, "detail": f"until {day(p['removed_at'])}: {p['outcome']}" if p["removed_at"]
                else "still on the newest pending list", "agreement_id": None} for p in pending]
    return sorted(events, key=lambda e: e["on"] or "")


async def attach_documents(db, agency_id, agreements):
    """Each agreement's documents on file (MOA, addendum), with who signed and the points of contact."""
    docs = await _rows(db, AGENCY_DOCUMENTS, {"id": agency_id})
    shas = json.dumps(sorted({d["sha256"] for d in docs}))
    signatories = await _rows(db, DOCUMENT_SIGNATORIES, {"shas": shas})
    contacts = await _rows(db, DOCUMENT_CONTACTS, {"shas": shas})
    for d in docs:
        d["signatories"] = [s for s in signatories if s["sha256"] == d["sha256"]]
        d["contacts"] = [c for c in contacts if c["sha256"] == d["sha256"]]
    for a in agreements:
        a["documents"] = [d for d in docs if d["agreement_id"] == a["id"]]


async def agency_page(db, agency_id):
    agency = await _one(db, AGENCY, {"id": agency_id})
    if agency is None:
        return {}
    agreements = await _rows(db, AGENCY_AGREEMENTS, {"id": agency_id})
    pending = await _rows(db, AGENCY_PENDING, {"id": agency_id})
    changes = await _rows(db, AGENCY_CHANGES, {"id": agency_id})
    shapes = await _rows(db, SHAPES, {"state": agency["state_code"]})
    for a in agreements:  # "since when" is plain only when ICE's re-datings are shown beside the date
        a["redated"] = [c for c in changes if c["agreement_id"] == a["id"] and c["kind"] == "re-dated"]
    await attach_documents(db, agency_id, agreements)
    return {
        "agency": agency,
        "headline": headline(agency, agreements),
        "agreements": agreements,
        "timeline": timeline(changes, pending),
        "documents_on_file": sum(1 for a in agreements if a["documents"]),
        "meetings": await _rows(db, AGENCY_MEETINGS, {"id": agency_id}),
        "spellings": json.loads(agency["spellings"] or "[]"),
        "map": county_map(shapes, agency["county_fips"]),
    }


async def state_page(db, code):
    figures = await state_figures(db, code)
    if not figures:
        return {}
    return {
        "state": figures[0],
        "county_list": await _rows(db, STATE_COUNTY_LIST, {"state": code}),
        "agency_list": await _rows(db, STATE_AGENCY_LIST, {"state": code}),
        "map": county_map(await _rows(db, SHAPES, {"state": code})),
    }


async def county_page(db, fips):
    county = await _one(db, COUNTIES_BY_FIPS, {"ids": json.dumps([fips])})
    if county is None:
        return {}
    shapes = await _rows(db, SHAPES, {"state": county["state_code"]})
    return {
        "county": county,
        "agency_list": await _rows(db, COUNTY_AGENCIES, {"fips": fips}),
        "map": county_map(shapes, fips),
    }


PAGES = {"agencies": agency_page, "states": state_page, "counties": county_page}


def _common():
    return {"day": day, "plural": plural, "model_names": MODEL_NAMES, "colours": palette.COLOURS}


@hookimpl
def extra_template_vars(view_name, table, database, request, datasette):
    if view_name == "index":
        async def index_vars():
            return {**_common(), **await home(datasette.get_database(DB))}
        return index_vars
    if view_name != "row" or database != DB or table not in PAGES or request is None:
        return {}

    async def row_vars():
        pk = request.url_vars.get("pks", "")
        return {**_common(), "page": await PAGES[table](datasette.get_database(database), pk)}
    return row_vars


async def _render(datasette, request, template, context):
    return Response.html(await datasette.render_template(template, {**_common(), **context}, request=request))


async def search_view(datasette, request):
    q = (request.args.get("q") or "").strip()[:200]
    db = datasette.get_database(DB)
    return await _render(datasette, request, "search.html", {"result": await find(db, q) if q else None, "q": q})


async def states_view(datasette, request):
    db = datasette.get_database(DB)
    return await _render(datasette, request, "states.html", {"states": await state_figures(db)})


async def county_map_view(datasette, request):
    db = datasette.get_database(DB)
    return await _render(datasette, request, "county_map.html", {
        "map": county_map(await _rows(db, SHAPES, {"state": ""}), borders=await _rows(db, STATE_OUTLINES)),
        "totals": await _one(db, TOTALS),
    })


@hookimpl
def register_routes():
    return [
        (r"^/search$", search_view),
        (r"^/states$", states_view),
        (r"^/county-map$", county_map_view),
    ]
