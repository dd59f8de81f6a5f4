"""Reads the ZIP codes of the `zipcodes` package (postal town, county, centroid) and the counties table; writes places (every town a resident might type, with its county or counties) and zip_codes."""
import collections
import json
from importlib.metadata import version


from . import basedb, places
from .cachekey import cache_key, prune, with_imports
from .words import lookup_key, slug  # gazetteer.slug and lookup_key: the keys places are written with
from .load import insert, open_new

SOURCE = "zipcodes {v} (PyPI): USPS ZIP codes with postal town, county and centroid"


def _collect(idx, known_fips):
    """{(state, key): place} from every civilian ZIP: its postal town, and the other town names USPS accepts
    for it (a name becomes a place of its own only where no postal town of that name exists in the state)."""
    towns, alternates, zips = {}, {}, []
    county_of = {}  # (state, county as printed) -> FIPS: 42,000 ZIPs print about 3,300 counties
    for z in places.zip_records():
        st = z["state"]
        where = (st, z["county"])
        if where not in county_of:
            found = idx.find_county(st, z["county"], fuzzy=False) if z["county"] else None
            county_of[where] = found["fips"] if found and found["fips"] in known_fips else None
        fips = county_of[where]
        lat, lon = z["latitude"], z["longitude"]
        zips.append({"zip": z["zip_code"], "town": z["city"], "state_code": st, "county_fips": fips,
                     "county_name_printed": z["county"], "type": z["zip_code_type"].lower(),
                     "latitude": lat, "longitude": lon})
        for name, table in [(z["city"], towns)] + [(alt, alternates) for alt in z["acceptable_cities"]]:
            key = (st, slug(name))
            if not key[1]:
                continue
            t = table.setdefault(key, {"names": collections.Counter(), "zips": [], "points": [],
                                       "counties": collections.Counter()})
            t["names"][name] += 1
            t["zips"].append(z["zip_code"])
            if lat is not None:
                t["points"].append((lat, lon))
            if fips:
                t["counties"][fips] += 1
    for key, t in alternates.items():
        if key not in towns:
            t["alternate"] = True
            towns[key] = t
    return towns, zips


def rows(idx, counties):
    """(places rows, zip_codes rows), sorted, from the ZIP data and the counties table."""
    towns, zips = _collect(idx, set(counties))
    state_names = {s["postal"]: s["name"] for s in places.states()}
    out = []
    for (st, key), t in sorted(towns.items()):
        name = t["names"].most_common(1)[0][0]
        # most ZIPs first; ties in FIPS order, so builds are deterministic
        fips = [f for f, _ in sorted(t["counties"].items(), key=lambda kv: (-kv[1], kv[0]))]
        lat, lon = places.mean_point(t["points"]) if t["points"] else (None, None)
        out.append({
            "id": f"{st.lower()}/{key}",
            "name": name,
            "key": lookup_key(name),
            "state_code": st,
            "state_name": state_names.get(st),
            "county_fips": fips[0] if fips else None,
            "counties": json.dumps([{"fips": f, "name": counties[f]} for f in fips]),
            "county_count": len(fips),
            "zip_codes": ", ".join(sorted(set(t["zips"]))),
            "zip_count": len(set(t["zips"])),
            "latitude": None if lat is None else round(lat, 4),
            "longitude": None if lon is None else round(lon, 4),
            "source": "other town name USPS accepts for its ZIP codes" if t.get("alternate") else "USPS postal town",
        })
    ids = {(r["state_code"], r["id"].split("/", 1)[1]) for r in out}
    for z in zips:
        key = (z["state_code"], slug(z["town"]))
        z["place_id"] = f"{key[0].lower()}/{key[1]}" if key in ids else None
    return out, sorted(zips, key=lambda z: z["zip"])


TABLES = ("places", "zip_codes")


def _base(counties, cache_dir):
    """The base file of places and zip_codes: they change only with this code, the packages the places come from,
    and the counties; None without a cache."""
    if not cache_dir:
        return None
    prune(cache_dir, "gazetteer-*.pickle", "-")  # the row pickles the base file replaced
    return basedb.Base(cache_dir, "gazetteer", basedb.key(cache_key(*with_imports(__name__), packages=places.PACKAGES + basedb.PACKAGES),
                                                          extra=[sorted(counties.items())]))


def write(db_path, cache_dir=None):
    """places and zip_codes, linked to counties and states; with a cache_dir they are copied from a base file there
    (basedb), made the first time."""
    db = open_new(db_path)
    counties = {r["fips"]: r["name"] for r in db.query("select fips, name from counties")}
    base = _base(counties, cache_dir)
    saved = base.values() if base else None
    if saved and base.copy(db_path, TABLES):  # with their indexes, made in the order below
        return saved["counts"]
    place_rows, zip_rows = rows(places.index(), counties)
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
    counts = {"places": len(place_rows), "zip_codes": len(zip_rows)}
    if base:
        base.save(db_path, TABLES, values={"counts": counts})
    return counts
