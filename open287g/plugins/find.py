"""Reads the built database and feeds the pages that answer "does my agency, county or state work with ICE?": the home page, /search, agency, state and county pages, /states and /county-map."""
import datetime
import difflib
import json
import re
from pathlib import Path

from datasette import hookimpl
from datasette.utils.asgi import Response

from open287g import palette, search
from open287g.i18n import _, model_names, ngettext, number
from open287g.wording import day, plural
from open287g.config import DATABASE as DB
from open287g.rules import CODES, MODEL_NAMES, POLICE_OF_SEPARATOR  # noqa: F401 (MODEL_NAMES: the one table, read by tests)
from open287g.words import lookup_key, words

MODELS = CODES

# The newest publication of each list: one row per list, not every publication sorted per request
NEWEST_LIST = """
select
  id,
  list,
  file,
  file_name,
  published_at
from (
  select
    *,
    row_number() over (partition by list order by published_at desc, seq desc) as n
  from publications
  where status = 'used'
    and list in ('participating', 'pending')
)
where n = 1
"""

PLACES_BY_KEY = """
select
  *
from places
where key = :key
  and (:state = '' or state_code = :state)
order by zip_count desc, id
limit 40
"""

PLACE = """
select
  *
from places
where id = :id
"""

# A town's own police that ICE places in a county the town's ZIP codes are not filed under (Littleville, Alabama:
# ICE's Colbert County, ZIP data's Franklin County): that county is the town's too.
POLICE_ELSEWHERE = """
select distinct
  a.name as agency,
  c.fips,
  c.name
from agencies a
join counties c
  on c.fips = a.county_fips
where a.state_code = :state
  and a.reach = 'town'
  and a.place_name = :town
  and a.county_fips not in (select value from json_each(:counties))
order by c.fips, a.name
"""

PLACES_BY_ID = """
select
  *
from places
where id in (select value from json_each(:ids))
"""

ZIP_CODE = """
select
  z.zip,
  z.town,
  z.state_code,
  z.county_fips,
  z.place_id,
  c.name as county_name
from zip_codes z
left join counties c
  on c.fips = z.county_fips
where z.zip = :zip
"""

ABBREVIATIONS = """
select
  abbreviation,
  state_code,
  means,
  source
from search_abbreviations
"""

# Every agency that can act in the given counties (its town's, the county's, a region's or a campus's),
# and every statewide agency of the state.
REACHING = """
with reaching as (
  select
    agency_id as id,
    county_fips as covers
  from agency_reach
  where county_fips in (select value from json_each(:counties))
  union all
  select
    id,
    null
  from agencies
  where state_code = :state
    and reach = 'statewide'
)
select
  a.id,
  a.name,
  a.state_code,
  a.level,
  a.reach,
  a.place_name,
  a.county_name,
  a.county_fips,
  a.police_of,
  a.models_active,
  a.models_ever,
  a.status,
  a.agreements_active,
  r.covers
from reaching r
join agencies a
  on a.id = r.id
"""

ACTIVE_SINCE = """
select
  agency_id,
  model,
  min(signed_on) as since
from agreements
where status = 'active'
  and agency_id in (select value from json_each(:ids))
group by agency_id, model
order by agency_id, model
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
  st.name as state_name,
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
  s.name as state_name,
  c.level_printed as level_contradicted
from agencies a
join states s
  on s.code = a.state_code
left join level_corrections c
  on c.agency_id = a.id
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
  ended_in_gap,
  moa_url,
  addendum_url
from agreements
where agency_id = :id
order by status = 'active' desc, signed_on
"""

AGENCY_CHANGES = """
select
  changes.changed_at,
  changes.kind,
  changes.model,
  changes.agreement_id,
  changes.before,
  changes.after,
  changes.detail,
  changes.publication_id,
  agreements.last_seen,
  agreements.ended_in_gap
from changes
join agreements on agreements.id = changes.agreement_id
where changes.agency_id = :id
order by changes.changed_at, changes.seq
"""

AGENCY_EVIDENCE = """
select
  file,
  line,
  source,
  as_of,
  agency,
  model_printed,
  model,
  signed_on,
  date_kind,
  note,
  finding
from history_evidence
where agency_id = :id
order by coalesce(as_of, signed_on), source, line
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

# rule another_agencys_document (documents.py): ICE's link from this agency's row leads to another agency's MOA
MISDIRECTED_DOCUMENTS = """
select
  ad.agreement_id,
  ad.role,
  ad.url,
  ad.file_name,
  d.agency_named
from agreement_documents ad
join moa_documents d
  on d.sha256 = ad.other_agency_sha256
where ad.agreement_id in (select id from agreements where agency_id = :id)
order by ad.agreement_id, ad.role desc, ad.file_name
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
    legend = {"ended": _("ended agreements only"), "pending": _("on the pending list, never signed"), "none": _("no agreement")}
    for s in shapes:
        s["colour"] = _fill_colour(s["map_fill"])
        s["highlight"] = s["fips"] in highlight if isinstance(highlight, (set, frozenset)) else s["fips"] == highlight
        s["title"] = f"{s['name']}, {s['state_code']}: " + (
            f"{plural(s['agreements_active'], 'active agreement', 'active agreements')} ({s['models_active']})"
            if s["agreements_active"] else legend[s["map_fill"]] if s["map_fill"] in legend else legend["none"])
    return {
        "shapes": shapes,
        "borders": [b["path"] for b in borders],
        "viewbox": f"{x0:.0f} {y0:.0f} {x1 - x0:.0f} {y1 - y0:.0f}",
        "patterns": [{"id": "fill-" + p.replace("+", "-"), "colours": [palette.COLOURS[m] for m in p.split("+")]}
                     for p in patterns],
        "legend": [{"label": model_names()[m] + f" ({m})", "colour": palette.COLOURS[m]} for m in MODELS]
        + [{"label": _("more than one model (stripes)"), "colour": "url(#fill-JEM-WSO-TFM)", "stripes": True},
           {"label": legend["ended"], "colour": palette.ENDED_COLOUR},
           {"label": legend["pending"], "colour": palette.PENDING_COLOUR},
           {"label": legend["none"], "colour": palette.NONE_COLOUR}],
        "all_patterns": [{"id": "fill-JEM-WSO-TFM", "colours": [palette.COLOURS[m] for m in MODELS]}],
    }


async def newest_lists(db):
    """{list: its newest used publication}, for the home page's "data as of" and a state's research links."""
    return {r["list"]: r for r in await _rows(db, NEWEST_LIST)}


async def home(db):
    newest = await newest_lists(db)
    by_model = {r["model"]: r for r in await _rows(db, HEADLINE)}
    return {
        "newest": newest.get("participating"),
        "newest_pending": newest.get("pending"),
        "as_of_day": day((newest.get("participating") or {}).get("published_at")),
        "headline": [{"model": m, "name": model_names()[m], "colour": palette.COLOURS[m],
                      **by_model.get(m, {"agreements": 0, "agencies": 0})} for m in MODELS],
        "totals": await _one(db, TOTALS),
        "day": day,
    }


GROUPS = ("town", "county", "regional", "statewide")
# Words after a town's name in its police's name ("Savannah Police Department", "Lake Park Marshal's Office").
_OWN_WORDS = {"police", "marshal", "marshals", "department", "public", "safety", "constable", "constables", "town", "city",
              "village", "borough", "township", "metropolitan"}


def _own_police(agency, town_words):
    """Whether a town-reach agency is this town's own: placed at it, or named for it ("Cadiz Police Department")."""
    if agency["place_name"]:
        return words(agency["place_name"]) == town_words
    name_words = words(agency["name"])
    for prefix in (["city", "of"], ["town", "of"], ["village", "of"], ["borough", "of"]):
        if name_words[:2] == prefix:
            name_words = name_words[2:]
    n = len(town_words)
    return name_words[:n] == town_words and len(name_words) > n and name_words[n] in _OWN_WORDS


async def answer(db, state_code, counties, town=None):
    """Who can act as ICE in a town (or a county): {'groups': {town, county, regional, statewide: [agency]},
    'others': other towns' police in the same counties, 'active': {group: count}}. Each agency carries
    'since' ([(model, first signing date)]) for its active agreements."""
    fips = [c["fips"] for c in counties]
    rows = await _rows(db, REACHING, {"counties": json.dumps(fips), "state": state_code})
    seen, agencies = set(), []
    for r in rows:
        if r["id"] not in seen:
            seen.add(r["id"])
            agencies.append(r)
    since = {}
    for r in await _rows(db, ACTIVE_SINCE, {"ids": json.dumps([a["id"] for a in agencies])}):
        since.setdefault(r["agency_id"], []).append({"model": r["model"], "since": r["since"]})
    town_words = words(town) if town else None
    groups = {g: [] for g in GROUPS}
    others = []
    for a in agencies:
        a["since"] = since.get(a["id"], [])
        if a["reach"] == "town":
            (groups["town"] if town_words and _own_police(a, town_words) else others).append(a)
        elif a["reach"] in ("regional", "campus"):
            groups["regional"].append(a)
        elif a["reach"] in groups:
            groups[a["reach"]].append(a)
    order = lambda a: (a["status"] != "active", a["status"] != "ended", a["name"])
    for g in groups.values():
        g.sort(key=order)
    others.sort(key=order)
    active = {g: sum(a["status"] == "active" for a in groups[g]) for g in GROUPS}
    # A town's police that is its county's too (a consolidated city-county's: Las Vegas Metropolitan Police
    # Department, Jacksonville Sheriff's Office; column police_of, from agency_areas.csv) is listed with the county;
    # the town's own section names it rather than saying there is none.
    shared = [a for a in groups["county"] if town_words and any(words(t) == town_words for t in (a["police_of"] or "").split(POLICE_OF_SEPARATOR))]
    return {"town": town, "state_code": state_code, "counties": counties, "groups": groups, "others": others, "active": active,
            "others_active": sum(a["status"] == "active" for a in others), "town_shared": shared}


def place_counties(place):
    return json.loads(place["counties"] or "[]")


async def town_answer(db, place):
    """answer() for a place: its ZIP codes' counties, and any county ICE's list places its own police in
    (POLICE_ELSEWHERE) -> (answer, those police)."""
    counties = place_counties(place)
    elsewhere = await _rows(db, POLICE_ELSEWHERE, {"state": place["state_code"], "town": place["name"],
                                                   "counties": json.dumps([c["fips"] for c in counties])})
    # the query leaves out the town's own counties; two of its police may name one other county
    counties += list({e["fips"]: {"fips": e["fips"], "name": e["name"]} for e in elsewhere}.values())
    return await answer(db, place["state_code"], counties, place["name"]), elsewhere


async def place_page(db, place_id, zip_code=None):
    place = await _one(db, PLACE, {"id": place_id})
    if place is None:
        return {}
    town, elsewhere = await town_answer(db, place)
    counties = town["counties"]
    shapes = await _rows(db, SHAPES, {"state": place["state_code"]})
    return {
        "place": place,
        "zip": zip_code,
        "answer": town,
        "police_elsewhere": elsewhere,
        "map": county_map(shapes, {c["fips"] for c in counties}),
    }


_ABBREVIATIONS = {}
ZIP_TYPED = re.compile(r"\d{5}(-\d{4})?")


async def abbreviations(db):
    """search_abbreviations, read once per process (the database is immutable)."""
    if db.name not in _ABBREVIATIONS:
        _ABBREVIATIONS[db.name] = {r["abbreviation"]: r for r in await _rows(db, ABBREVIATIONS)}
    return _ABBREVIATIONS[db.name]


async def find_places(db, parsed, hits):
    """The places a query names: exact names (the named state's, else every state's, most ZIP codes first);
    failing that, the closest spelling among the forgiving search's place hits, labelled as such."""
    key = "".join(parsed["terms"])
    if not key or parsed["county"]:
        return [], False
    state = parsed["state"] or parsed["state_only"] or ""
    exact = await _rows(db, PLACES_BY_KEY, {"key": key, "state": state})
    if exact:
        return exact, False
    ids = [h["ref"] for h in hits if h["kind"] == "place"]
    candidates = await _rows(db, PLACES_BY_ID, {"ids": json.dumps(ids)}) if ids else []
    scored = sorted(((difflib.SequenceMatcher(None, key, c["key"]).ratio(), c["zip_count"], c["id"], c)
                     for c in candidates), key=lambda t: (-t[0], -t[1], t[2]))
    close = [c for ratio, _, _, c in scored if ratio >= 0.8]
    return close[:8], bool(close)


async def find(db, q):
    """Everything /search shows for a typed query."""
    parsed = search.parse(q, await abbreviations(db))
    terms, state = parsed["terms"], parsed["state"] or ""
    out = {"q": q, "parsed": parsed, "forgiving": False, "counties": [], "agencies": [], "states": [],
           "verdict": None, "elsewhere": None, "place": None, "places": [], "lookalike": False}
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
    if not parsed["state_only"] or parsed["town_in_state"]:
        # "knoxvile": nothing contains it, so the forgiving search ran; its closest town answers, labelled.
        # "Washington, DC": the District, and its town of that name (search.parse), which answers when it exists.
        found, lookalike = await find_places(db, parsed, hits if out["forgiving"] else [])
        if found:
            out["place"], out["places"], out["lookalike"] = found[0], found[1:], lookalike
            out["place"]["answer"] = (await town_answer(db, found[0]))[0]
            for p in out["places"]:
                p["county_list"] = place_counties(p)
    state_codes = [s for s in (parsed["state_only"], parsed["state"]) if s and s != parsed["implied_state"]]
    if state_codes:
        out["states"] = await state_figures(db, state_codes[0])
    county_refs = [h["ref"] for h in ranked if h["kind"] == "county"][:8]
    counties = {c["fips"]: c for c in await _rows(db, COUNTIES_BY_FIPS, {"ids": json.dumps(county_refs)})}
    out["counties"] = [counties[f] for f in county_refs if f in counties]
    named = search.named_counties(out["counties"], terms) if not out["forgiving"] else []
    if out["place"] and not parsed["county"]:
        # "Raleigh": the town answers; Raleigh County, West Virginia is listed below it, not announced above it.
        # A county of the name in the town's own state ("Maricopa", Arizona) still answers beside the town.
        named = [c for c in named if c["state_code"] == out["place"]["state_code"]]
    out["named"] = named
    out["verdict"] = search.verdict(named)
    for c in named[:4]:
        c["agency_list"] = await _rows(db, COUNTY_AGENCIES, {"fips": c["fips"]})
    shown = {p["id"] for p in ([out["place"]] if out["place"] else []) + out["places"]}
    place_refs = [h["ref"] for h in ranked if h["kind"] == "place" and h["ref"] not in shown][:10]
    by_id = {p["id"]: p for p in await _rows(db, PLACES_BY_ID, {"ids": json.dumps(place_refs)})} if place_refs else {}
    out["place_hits"] = [by_id[i] for i in place_refs if i in by_id]
    for p in out["place_hits"]:
        p["county_list"] = place_counties(p)
    agency_refs = [h["ref"] for h in ranked if h["kind"] == "agency"][:40]
    agencies = {a["id"]: a for a in await _rows(db, AGENCIES_BY_ID, {"ids": json.dumps(agency_refs)})}
    out["agencies"] = [agencies[i] for i in agency_refs if i in agencies]
    return out


def headline(agency, agreements):
    """ "Polk County Sheriff's Office, Florida: 2 active agreements, Task Force Model since 26 Feb 2025, ..." """
    active = sorted((a for a in agreements if a["status"] == "active"), key=lambda a: a["signed_on"] or "", reverse=True)
    where = f"{agency['name']}, {agency['state_name']}"
    if active:
        since = ", ".join(_("%(model)s since %(day)s") % {"model": model_names().get(a["model"], a["model"]), "day": day(a["signed_on"])}
                          for a in active)
        return f"{where}: {plural(len(active), 'active agreement', 'active agreements')}, {since}"
    ended = [a for a in agreements if a["status"] in ("ended", "superseded")]
    if ended:
        last = max(a["ended_seen"] or a["last_seen"] or "" for a in ended)
        return f"{where}: " + ngettext(
            "no active agreement; %(n)s agreement ended, gone from ICE's list on %(day)s",
            "no active agreement; %(n)s agreements ended, the last one gone from ICE's list on %(day)s",
            len(ended)) % {"n": number(len(ended)), "day": day(last)}
    return f"{where}: " + _("no agreement; on ICE's pending list only")


def timeline(changes, pending):
    events = [{"on": c["changed_at"], "kind": c["kind"],
               "model": c["model"], "before": c["before"], "after": c["after"], "detail": c["detail"],
               "agreement_id": c["agreement_id"], "last_seen": c["last_seen"], "in_gap": c["ended_in_gap"]} for c in changes]
    events += [{"on": p["first_seen"], "kind": "pending", "model": p["model"], "before": None, "after": None,
                "detail": None, "until": p["removed_at"], "outcome": p["outcome"], "agreement_id": None} for p in pending]
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
    misdirected = await _rows(db, MISDIRECTED_DOCUMENTS, {"id": agency_id})
    for a in agreements:
        a["documents"] = [d for d in docs if d["agreement_id"] == a["id"]]
        a["misdirected"] = [d for d in misdirected if d["agreement_id"] == a["id"]]


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
        "evidence": await _rows(db, AGENCY_EVIDENCE, {"id": agency_id}),
        "before_2021": any((e["on"] or "") < "2021" for e in timeline(changes, [])),
        "spellings": json.loads(agency["spellings"] or "[]"),
        "map": county_map(shapes, agency["county_fips"]),
    }


async def state_page(db, code):
    figures = await state_figures(db, code)
    if not figures:
        return {}
    newest = ((await newest_lists(db)).get("participating") or {}).get("published_at") or ""
    since = str(datetime.date.fromisoformat(newest[:10]) - datetime.timedelta(days=365)) if newest else ""
    return {
        "state": figures[0],
        # the state's research links: its changes over the year to ICE's newest list
        "changes_from": since,
        "changes_to": newest[:10],
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
        "answer": await answer(db, county["state_code"], [{"fips": county["fips"], "name": county["name"]}]),
        "agency_list": await _rows(db, COUNTY_AGENCIES, {"fips": fips}),
        "map": county_map(shapes, fips),
    }


PAGES = {"agencies": agency_page, "states": state_page, "counties": county_page}


def _common():
    # day and plural are template globals (plugins/templating.py)
    return {"model_names": model_names(), "colours": palette.COLOURS}


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
    if ZIP_TYPED.fullmatch(q):
        # A ZIP code answers with its town's page, the ZIP's county named there.
        z = await _one(db, ZIP_CODE, {"zip": q[:5]})
        if z and z["place_id"]:
            return Response.redirect(f"/places/{z['place_id']}?zip={z['zip']}")
        return await _render(datasette, request, "search.html", {"result": None, "q": q, "unknown_zip": q[:5]})
    return await _render(datasette, request, "search.html", {"result": await find(db, q) if q else None, "q": q})


async def place_view(datasette, request):
    db = datasette.get_database(DB)
    place_id = f"{request.url_vars['state']}/{request.url_vars['town']}"
    zip_code = request.args.get("zip") or ""
    z = await _one(db, ZIP_CODE, {"zip": zip_code}) if ZIP_TYPED.fullmatch(zip_code) else None
    page = await place_page(db, place_id, z if z and z["place_id"] == place_id else None)
    if not page:
        # A town name that became one with another (rule alternate_same_town: /places/tx/ft-worth is Fort Worth's)
        # keeps its address: it leads to the town it names.
        same = await _one(db, SAME_TOWN, {"state": request.url_vars["state"].upper(), "key": lookup_key(request.url_vars["town"].replace("-", " "))})
        if same:
            return Response.redirect(f"/places/{same['id']}" + (f"?zip={zip_code}" if z else ""), status=301)
    response = await _render(datasette, request, "place.html", {"page": page})
    if not page:
        response.status = 404
    return response


SAME_TOWN = """
select
  id
from places
where state_code = :state
  and key = :key
order by zip_count desc, id
limit 1
"""


COUNTY_PATHS = """
select
  s.fips,
  coalesce(c.name, s.name) as name,
  s.path,
  s.x0,
  s.y0,
  s.x1,
  s.y1
from county_shapes s
left join counties c
  on c.fips = s.fips
order by s.fips
"""
LOCATE_JS = Path(__file__).resolve().parent / "static" / "locate.js"
_ONCE = {}


async def county_shapes_view(datasette, request):
    """Every county outline with its box, for "use my location" (matched in the browser)."""
    if "shapes" not in _ONCE:
        rows = await _rows(datasette.get_database(DB), COUNTY_PATHS)
        _ONCE["shapes"] = json.dumps([{"fips": r["fips"], "name": r["name"], "path": r["path"],
                                       "b": [r["x0"], r["y0"], r["x1"], r["y1"]]} for r in rows], separators=(",", ":"))
    return Response(_ONCE["shapes"], content_type="application/json; charset=utf-8",
                    headers={"Cache-Control": "public, max-age=86400"})


async def locate_js_view(datasette, request):
    if "js" not in _ONCE:
        # the projection is shared with the map script (markers.py)
        _ONCE["js"] = (LOCATE_JS.with_name("albers-usa.js").read_text(encoding="utf-8") + "\n"
                       + LOCATE_JS.read_text(encoding="utf-8"))
    return Response(_ONCE["js"], content_type="text/javascript; charset=utf-8",
                    headers={"Cache-Control": "public, max-age=3600"})


async def states_view(datasette, request):
    db = datasette.get_database(DB)
    return await _render(datasette, request, "states.html", {"states": await state_figures(db)})


def counties_by_state(shapes):
    """The county map's counties as lists, one a state: states and counties by name."""
    states = {}
    for s in sorted(shapes, key=lambda s: (s["state_name"], s["name"], s["fips"])):
        states.setdefault(s["state_name"], []).append(s)
    return [{"name": name, "counties": counties, "active": sum(1 for c in counties if c["agreements_active"])}
            for name, counties in states.items()]


async def county_map_view(datasette, request):
    db = datasette.get_database(DB)
    shapes = await _rows(db, SHAPES, {"state": ""})
    return await _render(datasette, request, "county_map.html", {
        "map": county_map(shapes, borders=await _rows(db, STATE_OUTLINES)),
        "states": counties_by_state(shapes),
        "totals": await _one(db, TOTALS),
    })


@hookimpl
def register_routes():
    return [
        (r"^/search$", search_view),
        (r"^/places/(?P<state>[a-z]{2})/(?P<town>[a-z0-9-]+)$", place_view),
        (r"^/states$", states_view),
        (r"^/county-shapes\.json$", county_shapes_view),
        (r"^/locate\.js$", locate_js_view),
        (r"^/county-map$", county_map_view),
    ]
