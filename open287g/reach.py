"""Reads an agency's name, ICE's printed level, its placement and data/agency_areas.csv; says whose residents it can act on (its town, its county, a region of counties, a campus, or the whole state) and where that contradicts ICE's level."""
import functools
import json
from dataclasses import dataclass
from pathlib import Path

from . import basedb, places
from .fixes import data_rows
from .load import insert, open_new
from .rules import POLICE_OF_SEPARATOR
from .words import lookup_key

REACHES = ("town", "county", "regional", "campus", "statewide", "unplaced")
# ICE's TYPE column read as a reach: a campus or a region is no contradiction of "County" or "Municipality".
PRINTED = {"state": {"statewide"}, "county": {"county", "regional", "campus"},
           "municipal": {"town", "regional", "campus"}}

CAMPUS_WORDS = {"university", "college", "school", "schools", "isd", "campus"}
# A body serving several jurisdictions or one facility: "regional jail authority", "airport police".
REGIONAL_PHRASES = [tuple(p.split()) for p in (
    "regional", "authority", "task force", "judicial", "circuit", "airport", "district jail", "metro police authority",
)]
COUNTY_WORDS = {"sheriff", "sheriffs", "county", "parish"}


class AreasError(ValueError):
    """data/agency_areas.csv cannot be read."""


@dataclass(frozen=True)
class Area:
    """One line of data/agency_areas.csv: a body's reach and the counties it covers, with why."""
    state: str
    agency: str
    reach: str
    counties: tuple
    reason: str
    source: str
    police_of: tuple = ()  # towns whose own police the body is: a consolidated city-county's (column police_of)

    @functools.cached_property  # asked once per agency of the state
    def key(self):
        return tuple(places.words(self.agency))


def load_areas(path):
    out = []
    for n, r in data_rows(path, AreasError, ("state", "agency", "reach", "counties", "reason", "source")):
        if r["reach"] not in REACHES:
            raise AreasError(f"{Path(path).name} line {n}: reach {r['reach']!r} is not one of {', '.join(REACHES)}")
        out.append(Area(r["state"].strip(), r["agency"].strip(), r["reach"],
                        _listed(r["counties"]), r["reason"], r["source"], _listed(r.get("police_of"))))
    return out


def _listed(text):
    """A cell listing names separated by ";" -> the names."""
    return tuple(c.strip() for c in (text or "").split(";") if c.strip())


def _has_phrase(tokens, phrases):
    """Some phrase's words, in order and side by side, among tokens (words have no spaces: the joined texts say it)."""
    text = f" {' '.join(tokens)} "
    return any(f" {' '.join(p)} " in text for p in phrases)


def classify(agency, areas=(), county_of=None):
    """{'reach', 'reach_counties': [fips], 'reach_rule'} for one agency row (name, state_code, level,
    county_fips, precision, location_method), with 'police_of' (town names) where an agency_areas.csv line names
    the towns it is the police of. county_of(state, COUNTY text, fuzzy) -> FIPS finds an area's counties
    (places.county_fips when not given)."""
    tokens = places.words(agency["name"])
    here = [agency["county_fips"]] if agency.get("county_fips") else []
    for area in areas:
        if area.state == agency["state_code"] and tuple(tokens[:len(area.key)]) == area.key:
            fips = [(county_of or places.county_fips)(area.state, name, False) for name in area.counties]
            for name, found in zip(area.counties, fips):
                if found is None:
                    raise AreasError(f"agency_areas.csv: {name!r} is not a county of {area.state} ({area.agency})")
            return {"reach": area.reach, "reach_counties": fips, "police_of": list(area.police_of),
                    "reach_rule": f"agency_areas: {area.reason} ({area.source})"}
    if CAMPUS_WORDS & set(tokens):
        return {"reach": "campus", "reach_counties": here, "reach_rule": "campus: a university, college or school police"}
    if _has_phrase(tokens, REGIONAL_PHRASES) and not {"sheriff", "sheriffs"} & set(tokens):
        return {"reach": "regional", "reach_counties": here,
                "reach_rule": "regional: a jail authority, task force, judicial district or airport"}
    if agency.get("precision") == "state":
        if (agency.get("location_method") or "").startswith("state agency"):
            return {"reach": "statewide", "reach_counties": [], "reach_rule": "statewide: a state agency"}
        return {"reach": "unplaced", "reach_counties": [], "reach_rule": "unplaced: neither town nor county found"}
    if COUNTY_WORDS & set(tokens) and agency.get("precision") == "county":
        return {"reach": "county", "reach_counties": here, "reach_rule": "county: a sheriff or county body"}
    if agency.get("precision") == "county" and places.level_kind(agency.get("level")) != "municipal":
        return {"reach": "county", "reach_counties": here, "reach_rule": "county: placed at its county"}
    return {"reach": "town", "reach_counties": here, "reach_rule": "town: a town's own police, marshal or constable"}


def contradiction(agency, reach):
    """A level_corrections row when ICE's printed level says otherwise than the reach, else None."""
    printed = places.level_kind(agency.get("level"))
    if printed is None or reach["reach"] in PRINTED[printed] or reach["reach"] == "unplaced":
        return None
    return {"agency_id": agency["id"], "name": agency["name"], "state_code": agency["state_code"],
            "level_printed": agency["level"], "reach": reach["reach"], "rule": reach["reach_rule"],
            "evidence": agency.get("location_method")}


def _answers(agencies, areas, county_of, known):
    """{'updates': agencies' reach columns, 'covers': agency_reach rows, 'corrections': level_corrections rows}."""
    updates, covers, corrections = [], [], []
    for a in agencies:
        r = classify(a, areas, county_of)
        updates.append((r["reach"], json.dumps(r["reach_counties"]), r["reach_rule"], POLICE_OF_SEPARATOR.join(r.get("police_of", ())) or None, a["id"]))
        covers += [{"agency_id": a["id"], "county_fips": f, "reach": r["reach"]} for f in r["reach_counties"] if f in known]
        c = contradiction(a, r)
        if c:
            corrections.append(c)
    return {"updates": updates, "covers": covers, "corrections": corrections}


def write(db_path, areas, county_of=None, cache_dir=None):
    """agencies.reach, reach_counties, reach_rule and police_of, the table agency_reach (agency, county) and
    level_corrections, in the database the build is finishing; county_of (pipeline.PlaceCache.county, which keeps its
    answers between builds) finds the counties areas name; cache_dir keeps the answers for a build that reads the same."""
    db = open_new(db_path)
    agencies = [dict(r) for r in db.query(
        "select id, name, state_code, level, county_fips, precision, location_method from agencies order by id")]
    known = {f for (f,) in db.execute("select fips from counties")}
    # kept under this code (with places.py, words.py and the packages the places index reads) and all it reads
    found = basedb.kept_value(cache_dir, "reach", [__name__], lambda: _answers(agencies, areas, county_of, known),
                              extra=[agencies, areas, sorted(known)], packages=places.PACKAGES)
    updates, covers, corrections = found["updates"], found["covers"], found["corrections"]
    for area in areas:  # a misspelt town would leave the town's page saying it has no police
        for town in area.police_of:
            if not db.execute("select 1 from places where state_code = ? and key = ?", (area.state, lookup_key(town))).fetchone():
                raise AreasError(f"agency_areas.csv: police_of {town!r} is not a town of {area.state} ({area.agency})")
    for column in ("reach", "reach_counties", "reach_rule", "police_of"):
        db["agencies"].add_column(column, str)
    db.conn.executemany("update agencies set reach = ?, reach_counties = ?, reach_rule = ?, police_of = ? where id = ?", updates)
    insert(db, "agency_reach", covers,
           pk=("agency_id", "county_fips"),
           foreign_keys=[("agency_id", "agencies", "id"), ("county_fips", "counties", "fips")],
           columns={"agency_id": str, "county_fips": str, "reach": str})
    insert(db, "level_corrections", corrections, pk="agency_id", foreign_keys=[("agency_id", "agencies", "id")],
           columns={"agency_id": str, "name": str, "state_code": str, "level_printed": str, "reach": str,
                    "rule": str, "evidence": str})
    db["agency_reach"].create_index(["county_fips"])
    db.conn.commit()
    return {"level_corrections": len(corrections)}
