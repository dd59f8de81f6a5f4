"""Places real ICE agency names at a town, county or state with open287g.places."""
import collections
import pathlib
import time

import pytest

from open287g import places
from open287g.places import locate, state_postal, states
from open287g.xlsx import read_sheet

ROOT = pathlib.Path(__file__).resolve().parent.parent
NEWEST = ROOT / "data" / "ice" / "participating" / "participatingAgencies03272026am.xlsx"
# Measured on that workbook: 1,560 rows, 450 place + 1,034 county = 95.1 %, 74 state
# agencies at the state, 2 fallbacks.
MIN_PLACE_OR_COUNTY_PCT = 95


def newest_rows():
    rows, _ = read_sheet(NEWEST)
    header = [str(h).strip() for h in rows[0][1]]
    assert header[:4] == ["STATE", "LAW ENFORCEMENT AGENCY", "TYPE", "COUNTY"]
    return [r for _, r in rows[1:] if str(r[1]).strip()]


# ---- states ----

def test_states_table():
    rows = states()
    by_postal = {r["postal"]: r for r in rows}
    assert len(by_postal) == len(rows) >= 52
    assert {"FL", "DC", "PR", "GU", "MP", "VI", "AS"} <= set(by_postal)
    fl = by_postal["FL"]
    assert (fl["name"], fl["fips"]) == ("Florida", "12")
    assert 24.5 < fl["latitude"] < 31 and -87.7 < fl["longitude"] < -80
    gu = by_postal["GU"]
    assert 13 < gu["latitude"] < 14 and 144 < gu["longitude"] < 146  # not dragged to 0,0 by a bad ZIP
    for r in rows:
        assert set(r) == {"name", "postal", "fips", "latitude", "longitude"}
        assert len(r["fips"]) == 2 and r["latitude"] is not None and r["longitude"] is not None


@pytest.mark.parametrize("text,postal", [
    ("FLORIDA", "FL"), ("Florida", "FL"), ("  FL ", "FL"), ("fl", "FL"),
    ("CO", "CO"), ("MT", "MT"),  # not read as "county" / "mount"
    ("NORTHERN MARIANA ISLANDS", "MP"), ("GUAM", "GU"), ("District of Columbia", "DC"),
    ("WEST VIRGINIA", "WV"), ("VIRGINIA", "VA"),
    ("PENNSLYVANIA", "PA"), ("WEST VIRIGINIA", "WV"), ("UTAHJ", "UT"),  # typos in ICE's lists
    ("ATLANTIS", None), ("", None), (None, None),
    # written another way than a name or a code: a shortened direction, a title, the name and the code together
    ("N. CAROLINA", "NC"), ("S Carolina", "SC"), ("W. VIRGINIA", "WV"), ("W. VIRGINA", "WV"),  # never Virginia
    ("State of Florida", "FL"), ("Commonwealth of Virginia", "VA"), ("N", None),
])
def test_state_postal(text, postal):
    assert state_postal(text) == postal


def test_state_postal_strict_refuses_typos():
    assert state_postal("PENNSLYVANIA", fuzzy=False) is None
    assert state_postal("PENNSYLVANIA", fuzzy=False) == "PA"
    assert state_postal("W. VIRGINIA", fuzzy=False) == "WV"  # another way of writing it, not a typo
    assert state_postal("New York, NY", fuzzy=False) is None  # a town and its state: the search reads it as the town


# ---- locate ----

def test_a_county_column_that_only_echoes_the_towns_name_yields_to_the_town():
    # Rule county_echoes_town: ICE prints "Monroe County" for the Monroe Police Department; Monroe, Georgia is in
    # Walton County, and Monroe County has no town Monroe.
    monroe = locate("GA", "Monroe Police Department", "Municipality", "Monroe County")
    assert (monroe["precision"], monroe["place_name"], monroe["county_fips"]) == ("place", "Monroe", "13297")
    # any other county ICE prints is kept: the Susquehanna Regional Police Department is Lancaster County's
    susquehanna = locate("PA", "Susquehanna Regional Police Department", "Municipality", "Lancaster County")
    assert susquehanna["county_fips"] == "42071"
    # and a county that has the town keeps it
    assert locate("TX", "Tye Police Department", "Municipality", "Taylor County")["county_fips"] == "48441"


def test_a_town_that_is_its_own_county_equivalent_is_in_it():
    # Rule independent_city: ZIP data files Manassas Park's ZIP codes under Prince William County; the city is a county
    # equivalent of its own, as are Fairfax city and Baltimore. A county police that names its county stays there.
    for args, fips in ((("VA", "Manassas Park Police Department", "Municipality"), "51685"),
                       (("VA", "City of Fairfax Police Department", "Municipality"), "51600"),
                       (("MD", "Baltimore Police Department", "Municipality"), "24510"),
                       (("VA", "Fairfax County Police Department", "County"), "51059"),
                       (("VA", "Manassas Park Police Department", "Municipality", "Prince William County"), "51153")):  # ICE's county, where printed
        assert locate(*args)["county_fips"] == fips, args


def test_a_towns_police_printed_under_a_county_without_the_town_is_at_the_only_such_town():
    # Rule town_outside_county: ICE prints Galveston County for the Tye Police Department (its MOA:
    # TyePoliceDeptTX_TFM_MOA_02172026.pdf); Galveston County has no Tye, and Texas's only Tye is in Taylor County.
    tye = locate("TX", "Tye Police Department", "Municipality", "Galveston County")
    assert (tye["precision"], tye["place_name"], tye["county_fips"]) == ("place", "Tye", "48441")
    assert "the state's only Tye is in Taylor County" in tye["method"]
    # a town whose ZIPs lie in two counties (Mabank: Kaufman and Henderson) could be either: ICE's county stays
    assert locate("TX", "Mabank Police Department", "Municipality", "Galveston County")["county_fips"] == "48167"
    # a name with more than the town and police words stays in ICE's county
    assert locate("TX", "Tye Police Department Task Force", "Municipality", "Galveston County")["county_fips"] == "48167"


def check(result, precision, fips=None, place=None):
    assert result["precision"] == precision, result
    if fips is not None:
        assert result["county_fips"] == fips, result
    if place is not None:
        assert result["place_name"] == place, result
    assert result["latitude"] is not None and result["longitude"] is not None
    assert result["method"]
    return result


@pytest.mark.parametrize("args,precision,fips,place", [
    # county agencies
    (("AL", "Etowah County Sheriff's Office"), "county", "01055", None),
    (("AL", "Etowah County Sheriff’s Office ", "County ", "Etowah County"), "county", "01055", None),
    (("FL", "St. Johns County Sheriff's Office"), "county", "12109", None),
    (("FL", "Saint Johns County Sheriff’s Office", "County", None), "county", "12109", None),
    (("FL", "Miami-Dade Sheriff's Office", "County", None), "county", "12086", None),
    (("FL", "DeSoto County Sheriff's Office"), "county", "12027", None),
    (("AZ", "LaPaz County"), "county", "04012", None),
    (("TX", "DeWitt Co. Sheriff's Office"), "county", "48123", None),
    (("NM", "Doña Ana County Sheriff's Office"), "county", "35013", None),
    (("WI", "Mantiowoc County Sheriff's Office"), "county", "55071", None),  # misspelt on ICE's page
    (("FL", "Jacksonville Sheriff's Office", "County", "Duval County"), "county", "12031", None),
    (("FL", "Jacksonville Sheriff's Office"), "county", "12031", None),
    # Louisiana parishes
    (("LA", "Plaquemines Parish Sheriff's Office", "County", "Plaquemines Parish"), "county", "22075", None),
    (("LA", "East Baton Rouge Sheriff's Office"), "county", "22033", None),
    (("LA", "De Soto Parish Sheriff's Office"), "county", "22031", None),
    # Alaska boroughs
    (("AK", "Matanuska-Susitna Borough Police"), "county", "02170", None),
    # Virginia independent cities vs counties of the same name
    (("VA", "Richmond City Sheriff's Office", "County", None), "county", "51760", None),
    (("VA", "Richmond County Sheriff's Office", "County", None), "county", "51159", None),
    (("VA", "Virginia Beach Sheriff's Office"), "county", "51810", None),
    # ICE's COUNTY column, including its typos
    (("FL", "Franklin Sheriff", None, "Franklin County"), "county", "12037", None),
    (("MI", "Berrian County Sheriff's Office", "County", "Berrian County"), "county", "26021", None),
    # municipal agencies sit at their town, with the town's county
    (("FL", "City of Hialeah Police Department", "Municipality", None), "place", "12086", "Hialeah"),
    (("FL", "Town of Davie Police Department", "Municipality", None), "place", "12011", "Davie"),
    (("FL", "St. Augustine Police Department", "Municipality", None), "place", "12109", None),
    (("FL", "Florida City Police Department"), "place", "12086", "Florida City"),
    (("AK", "Kodiak Police Department"), "place", "02150", "Kodiak"),
    (("TX", "Clifton Police Department ", "Municipality", "Bosque County"), "place", "48035", "Clifton"),
    (("TX", "New Berlin Marshal's Office ", "Municipality", "Guadalupe Conty"), "place", "48187", None),
    (("TX", "Big Sandy Police Departement ", "Municipality", "Upshur County"), "place", "48459", "Big Sandy"),
    (("PA", "Manheim Borough Police Department", "Municipality", None), "place", "42071", "Manheim"),
    (("NH", "Pittsburgh Police Department", "Municipality", None), "place", "33007", "Pittsburg"),
    (("FL", "Sunny Isles Police Department", "Municipality", None), "place", "12086", None),
    (("TX", "Stamford Police Department", "County", "Jones County"), "place", "48253", "Stamford"),
    # a town's police printed County under the county of its town's name (Yoakum is in Lavaca County), not its sheriff
    (("TX", "Yoakum Police Department", "County", "Yoakum County"), "place", "48285", "Yoakum"),
    (("TX", "Yoakum County Sheriff's Office", "County", "Yoakum County"), "county", "48501", None),
    (("FL", "University of North Florida Police Department", "Municipality", None), "place", "12031",
     "Jacksonville"),
    # a college named after a river that is also a postal name near its county's edge: the hand-checked table's town
    (("FL", "Santa Fe College Police Department", "Municipality", "Alachua County"), "place", "12001", "Gainesville"),
    # a township is not the borough of the same name (Sewickley borough is in Allegheny County)
    (("PA", "Sewickley Township Constable's Office", "Municipality", None), "county", "42129", None),
    (("PA", "Raccoon Township Police Department", "Municipality", "Beaver County"), "county", "42007", None),
    # a precinct constable named after its county
    (("TX", "Bexar County Constable Precinct 3", "Municipality", "Bexar County"), "county", "48029", None),
    # printed "State" by ICE but named after a county, or after a town of ICE's county (rule state_type_contradicted)
    (("MD", "Wicomico County Corrections Center", "State", "Wicomico County"), "county", "24045", None),
    (("MI", "Center Line Division of Public Safety and Security", "State", "Macomb County"), "place", "26099", "Center Line"),
    (("MS", "Mississippi Office of the State Auditor", "State", "Hinds County"), "state", None, None),
    (("AR", "Arkansas State Police Department", "State", "Pulaski County"), "state", None, None),
    # state agencies
    (("FL", "Florida Department of Corrections"), "state", None, None),
    (("FL", "Florida Department of Corrections", "State Agency", None), "state", None, None),
    (("AK", "Department of Corrections"), "state", None, None),
    (("AZ", "Arizona Department of Public Safety"), "state", None, None),
    (("FL", "Florida Highway Patrol"), "state", None, None),
    (("MA", "Massachusetts Department of Correction"), "state", None, None),
    (("IN", "Indiana State Police Department", "Municipality", "#NA"), "state", None, None),
    (("NE", "Nebraska Department of Correctional Services ", "State Agency", "Lincoln County"), "state", None,
     None),
])
def test_locate(args, precision, fips, place):
    check(locate(*args), precision, fips, place)


def test_state_agency_sits_at_state_centre_without_county():
    centre = {r["postal"]: r for r in states()}["FL"]
    r = check(locate("FL", "Florida Department of Corrections"), "state")
    assert (r["latitude"], r["longitude"]) == (centre["latitude"], centre["longitude"])
    assert r["county_fips"] is None and r["place_name"] is None


def test_coordinates_are_where_they_should_be():
    hialeah = locate("FL", "City of Hialeah Police Department", "Municipality")
    assert 25.8 < hialeah["latitude"] < 25.95 and -80.4 < hialeah["longitude"] < -80.2
    etowah = locate("AL", "Etowah County Sheriff's Office")
    assert 33.8 < etowah["latitude"] < 34.3 and -86.4 < etowah["longitude"] < -85.7
    kodiak = locate("AK", "Kodiak Police Department")
    assert 57 < kodiak["latitude"] < 58.5 and -154 < kodiak["longitude"] < -152


def test_fallback_and_unknown_state():
    r = locate("VA", "Nowhere Valley Regional Jail Authority", "County", "")
    check(r, "state")
    assert r["method"].startswith("fallback") and r["county_fips"] is None
    # the hand-checked table places the regional jail at its seat
    assert locate("VA", "Southwest Virginia Regional Jail Authority", "County", "")["place_name"] == "Abingdon"
    # and the Prince William-Manassas regional jail, under both names the roster printed, in the city of Manassas
    for name in ("Prince William-Manassas Regional Jail", "Prince William-Manassas Regional Adult Detention Center"):
        assert (locate("VA", name)["place_name"], locate("VA", name)["county_fips"]) == ("Manassas", "51683")
    # a county from another state is flagged, not guessed
    r = locate("TX", "McKenzie County Sheriff's Office", "County", "McKenzie County")
    assert r["precision"] == "state" and r["method"].startswith("fallback") and "ND" in r["method"]
    r = locate("XX", "Nowhere Police Department")
    assert r["precision"] is None and r["latitude"] is None


def test_accepts_ice_state_text():
    assert locate("ALABAMA", "Etowah County Sheriff's Office") == locate("AL", "Etowah County Sheriff's Office")


def test_result_is_a_fresh_dict():
    a = locate("AL", "Etowah County Sheriff's Office")
    a["latitude"] = 0
    assert locate("AL", "Etowah County Sheriff's Office")["latitude"] != 0


# ---- the newest participating workbook ----

def test_newest_workbook_precision():
    rows = newest_rows()
    assert len(rows) > 1500
    counts = collections.Counter()
    for r in rows:
        st = state_postal(r[0])
        assert st, r
        res = locate(st, r[1], r[2], r[3])
        counts[res["precision"]] += 1
        if res["county_fips"]:
            assert len(res["county_fips"]) == 5 and res["county_fips"].isdigit()
            fips = {s["postal"]: s["fips"] for s in states()}
            assert res["county_fips"][:2] == fips[st], (r, res)
        if str(r[2]).strip() == "State Agency":
            # a state agency sits at its state, except a campus or a town's police ICE prints "State"
            campus_or_town = res["method"].startswith(("agency's town from the hand-checked table", "town named"))
            assert res["precision"] == "state" or campus_or_town, (r, res)
            counts["state_printed_placed"] += res["precision"] != "state"
    assert counts[None] == 0
    # printed "State Agency" on the newest list and placed at its campus:
    assert counts["state_printed_placed"] == 1, counts  # District Board of Trustees of Pensacola State College
    pct = 100 * (counts["place"] + counts["county"]) / len(rows)
    assert pct >= MIN_PLACE_OR_COUNTY_PCT, counts


def test_two_thousand_calls_are_fast():
    rows = newest_rows()
    calls = [(state_postal(r[0]), r[1], r[2], r[3]) for r in rows]
    calls = (calls * 2)[:2000]
    locate("AL", "Etowah County Sheriff's Office")  # build the indexes
    places._locate.cache_clear()  # time the lookups themselves, not the memo
    start = time.perf_counter()
    for c in calls:
        locate(*c)
    assert time.perf_counter() - start < 0.5
