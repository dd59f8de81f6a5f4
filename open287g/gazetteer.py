"""Reads the ZIP codes of the `zipcodes` package (postal town, county, centroid) and the counties table; writes places (every town a resident might type, with its county or counties) and zip_codes."""
import json
import pickle
from importlib.metadata import version
from operator import itemgetter
from pathlib import Path


from . import basedb, places
from .cachekey import cache_key, with_imports
from .files import atomic_write, read_cache
from .words import lookup_key, slug, squash, words  # gazetteer.slug and lookup_key: the keys places are written with
from .load import insert, open_new

SOURCE = "zipcodes {v} (PyPI): USPS ZIP codes with postal town, county and centroid"


def _collect(idx, covered):
    """({(state, key): place}, ZIP rows, {name: slug}) from every civilian ZIP: its postal town, and the other town names USPS accepts
    for it (a name becomes a place of its own only where no postal town of that name exists in the state).
    A ZIP's county is the one the geography index finds, whether or not the counties table has it."""
    towns, alternates, zips = {}, {}, []
    county_of = {}  # (state, county as printed) -> FIPS: 42,000 ZIPs print about 3,300 counties
    slugs = {}  # name -> slug: 57,000 names, 26,000 distinct
    # Rule zip_outside_states: USPS also serves the Federated States of Micronesia, the Marshall Islands and Palau
    # (FM, MH, PW), which the states table does not hold (covered: its postal codes): their ZIP codes are left out,
    # so that no town's state links to a state page that does not exist.
    for z in places.zip_records():
        st = z["state"]
        if st not in covered:
            continue
        where = (st, z["county"])
        if where not in county_of:
            found = idx.find_county(st, z["county"], fuzzy=False) if z["county"] else None
            county_of[where] = found["fips"] if found else None
        fips = county_of[where]
        lat, lon = z["latitude"], z["longitude"]
        zips.append((z["zip_code"], z["city"], st, fips, z["county"], z["zip_code_type"].lower(), lat, lon))
        for name, table in [(z["city"], towns)] + [(alt, alternates) for alt in z["acceptable_cities"]]:
            town = slugs.get(name)
            if town is None:
                town = slugs[name] = slug(name)
            if not town:
                continue
            key = (st, town)
            t = table.get(key)
            if t is None:  # counts in plain dicts: a Counter costs more to make than all its counting here
                t = table[key] = {"names": {}, "zips": [], "points": [], "counties": {}}
            counts = t["names"]
            counts[name] = counts.get(name, 0) + 1
            t["zips"].append(z["zip_code"])
            if lat is not None:
                t["points"].append((lat, lon))
            if fips:
                counts = t["counties"]
                counts[fips] = counts.get(fips, 0) + 1
    # Rule alternate_same_town: an accepted name that reads as a postal town's ("Ft Worth" for Fort Worth) is that
    # town, not a second one (it outnumbered Fort Worth's own ZIPs and answered "Fort Worth, TX" as "Ft Worth").
    postal = {(st, lookup_key(name)) for (st, _), t in towns.items() for name in t["names"]}
    for key, t in alternates.items():
        if key not in towns and not any((key[0], lookup_key(name)) in postal for name in t["names"]):
            t["alternate"] = True
            towns[key] = t
    return towns, zips, slugs


def towns(idx):
    """What places and zip_codes are before the counties table is known: (towns, zips), plain tuples sorted as the
    tables are. A town's counties are every county its ZIPs lie in, most ZIPs first (ties in FIPS order, so builds
    are deterministic), with their counts; rows() keeps those the counties table has."""
    state_names = {s["postal"]: s["name"] for s in places.states()}
    collected, zips, slugs = _collect(idx, state_names.keys())
    out = []
    for (st, key), t in sorted(collected.items()):
        name = max(t["names"].items(), key=itemgetter(1))[0]  # the most printed; a tie, the first seen (as Counter.most_common)
        lat, lon = places.mean_point(t["points"]) if t["points"] else (None, None)
        found = tuple(f for f, _ in sorted(t["counties"].items(), key=lambda kv: (-kv[1], kv[0])))
        own = idx.independent_city(st, squash(words(name)))
        if own:  # rule independent_city (places.py): the town is its own county equivalent, whatever its ZIPs say
            found = (own, *(f for f in found if f != own))
        out.append((st, key, name, lookup_key(name), state_names.get(st), found,
                    ", ".join(sorted(set(t["zips"]))), len(set(t["zips"])),
                    None if lat is None else round(lat, 4), None if lon is None else round(lon, 4),
                    "other town name USPS accepts for its ZIP codes" if t.get("alternate") else "USPS postal town"))
    ids = {(town[0], town[1]) for town in out}
    placed = []
    for z in sorted(zips, key=lambda z: z[0]):
        key = (z[2], slugs[z[1]])
        placed.append((*z, f"{key[0].lower()}/{key[1]}" if key in ids else None))
    return out, placed


def rows(partial, counties):
    """(places rows, zip_codes rows), sorted, from towns()' result and the counties table ({fips: name}): a
    county the table lacks is no town's county and no ZIP's."""
    out = []
    for st, key, name, lookup, state_name, found, zip_codes, zip_count, lat, lon, source in partial[0]:
        fips = [f for f in found if f in counties]
        out.append({
            "id": f"{st.lower()}/{key}",
            "name": name,
            "key": lookup,
            "state_code": st,
            "state_name": state_name,
            "county_fips": fips[0] if fips else None,
            "counties": json.dumps([{"fips": f, "name": counties[f]} for f in fips]),
            "county_count": len(fips),
            "zip_codes": zip_codes,
            "zip_count": zip_count,
            "latitude": lat,
            "longitude": lon,
            "source": source,
        })
    zips = [{"zip": z, "town": town, "state_code": st, "county_fips": fips if fips in counties else None,
             "county_name_printed": printed, "type": kind, "latitude": lat, "longitude": lon, "place_id": place}
            for z, town, st, fips, printed, kind, lat, lon, place in partial[1]]
    return out, zips


def _code_key(*packages):
    """What this module's results depend on: its code, the modules it imports, the packages the places come from and
    any packages named (those the base file is written with)."""
    return cache_key(*with_imports(__name__), packages=places.PACKAGES + packages)


def towns_file(cache_dir):
    """Where towns() is kept for the build that needs it: under a key of this module and the packages the places
    come from. A cold build's worker writes it while workbooks are read (warm)."""
    return Path(cache_dir) / f"towns-{_code_key()}.pickle"


def _towns(cache_dir):
    """towns() as a read worker left it in the cache, or made here (no cache, a serial build, a damaged file)."""
    found = read_cache(towns_file(cache_dir)) if cache_dir else None
    return found if isinstance(found, tuple) and len(found) == 2 else towns(places.index())


def warm(cache_dir):
    """towns() into towns_file (in a worker process of a cold build, after the geography index)."""
    path = towns_file(cache_dir)
    if not path.exists():
        atomic_write(path, pickle.dumps(towns(places.index()), protocol=pickle.HIGHEST_PROTOCOL), durable=False)
    return True


TABLES = ("places", "zip_codes")


def _base(counties, cache_dir):
    """The base file of places and zip_codes: they change only with this code, the packages the places come from,
    and the census's counties; None without a cache."""
    if not cache_dir:
        return None
    return basedb.Base(cache_dir, "gazetteer", basedb.key(_code_key(*basedb.PACKAGES), extra=[sorted(counties.items())]))


def start_part(census_counties, cache_dir):
    """(base file, tables, FTS tables) of what a new database can start with (basedb.Start), for the census's counties
    ({fips: name}): the places are written with those, and add_counties() gives them the counties added after."""
    return _base(census_counties, cache_dir), TABLES, ()


def write(db_path, cache_dir=None, counties=None):
    """places and zip_codes, linked to counties and states, for the census's counties ({fips: name}; the counties
    table's when not given); with a cache_dir they are copied from a base file there (basedb), made the first time.
    Returns the base file's key, which fixes every places row (None without a cache)."""
    db = open_new(db_path)
    if counties is None:
        counties = {r["fips"]: r["name"] for r in db.query("select fips, name from counties")}
    base = _base(counties, cache_dir)
    saved = base.values() if base else None
    if saved and base.copy(db_path, TABLES):  # with their indexes, made in the order below
        return base.key
    partial = _towns(cache_dir)
    place_rows, zip_rows = rows(partial, counties)
    source = SOURCE.format(v=version("zipcodes"))
    for r in place_rows:
        r["source"] = f"{r['source']}: {source}"
    insert(db, "places", place_rows, pk="id",
           foreign_keys=[("state_code", "states", "code"), ("county_fips", "counties", "fips")])
    insert(db, "zip_codes", zip_rows, pk="zip",
           foreign_keys=[("place_id", "places", "id"), ("state_code", "states", "code"),
                         ("county_fips", "counties", "fips")])
    db["places"].create_index(["state_code"])
    db["places"].create_index(["key"])
    db["zip_codes"].create_index(["place_id"])
    db.conn.commit()
    if base:
        base.save(db_path, TABLES, values={OUTSIDE: _outside(partial, counties)})
    return base.key if base else None


OUTSIDE = "outside"  # the base file's value: the towns and ZIP codes in a county the census lacks


def _outside(partial, counties):
    """towns()' towns and ZIP codes in a county not among counties: the only rows a county added later changes."""
    return ([t for t in partial[0] if any(f not in counties for f in t[5])],
            [z for z in partial[1] if z[3] is not None and z[3] not in counties])


def add_counties(db_path, cache_dir, census_counties, counties):
    """places and zip_codes as rows() gives them for counties ({fips: name}, the counties table's) where write() used
    the census's (census_counties): a county equivalent added for an agency (counties.added) is the county of the towns
    and ZIP codes in it. Only those rows change; they come from the base file's value (towns() again without one).
    Returns how many places changed."""
    added = set(counties) - set(census_counties)
    if not added:
        return 0
    base = _base(census_counties, cache_dir)
    saved = base.values() if base else None
    towns_out, zips_out = saved[OUTSIDE] if saved else _outside(_towns(cache_dir), census_counties)
    place_rows, zip_rows = rows(([t for t in towns_out if added.intersection(t[5])], [z for z in zips_out if z[3] in added]), counties)
    db = open_new(db_path)
    db.conn.executemany("update places set county_fips = ?, counties = ?, county_count = ? where id = ?",
                        [(r["county_fips"], r["counties"], r["county_count"], r["id"]) for r in place_rows])
    db.conn.executemany("update zip_codes set county_fips = ? where zip = ?", [(z["county_fips"], z["zip"]) for z in zip_rows])
    db.conn.commit()
    db.conn.close()
    return len(place_rows)
