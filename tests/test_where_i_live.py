"""Where I live: the places and ZIP codes the search knows, each agency's reach, and the answer for a town,
checked on the real build (and the rules on small made-up cases)."""
import dataclasses
import json
import sqlite3

import pytest

from open287g import gazetteer, reach, search
from test_find import ds, text_of  # noqa: F401  (the in-process Datasette of the real build)


def test_every_postal_town_and_civilian_zip_is_a_place(sql):
    [(places,)], [(zips,)], [(unlinked,)] = sql("select count(*) from places"), sql("select count(*) from zip_codes"), \
        sql("select count(*) from zip_codes where place_id is null")
    assert places > 39_000 and zips > 41_000 and unlinked == 0
    # rule zip_outside_states: USPS's ZIP codes of Micronesia, the Marshall Islands and Palau name no state the states table holds
    assert sql("select count(*) from zip_codes where state_code in ('FM', 'MH', 'PW') or state_code not in (select code from states)") == [(0,)]
    assert sql("select count(*) from places where state_code not in (select code from states)") == [(0,)]
    # Kansas City, Missouri: ZIP codes in Jackson, Clay and Platte counties
    counties = {c["name"] for c in json.loads(sql("select counties from places where id = 'mo/kansas-city'")[0][0])}
    assert {"Jackson County", "Clay County", "Platte County"} <= counties
    assert sql("select place_id, county_fips from zip_codes where zip = '31401'") == [("ga/savannah", "13051")]
    # rule independent_city: a town that is its own county equivalent is in it first, whatever its ZIPs' county
    for town, own in (("va/manassas-park", "Manassas Park city"), ("va/covington", "Covington city"), ("va/manassas", "Manassas city")):
        assert json.loads(sql("select counties from places where id = ?", [town])[0][0])[0]["name"] == own, town


async def test_an_independent_citys_own_police_is_its_own(ds):
    page = text_of((await ds.client.get("/places/va/manassas-park")).text)
    assert "Manassas Park is in Manassas Park city, Prince William County and Manassas city." in page
    assert "Manassas Park has no police department" not in page
    assert "Manassas Park Police Department" in page[page.index("Manassas Park's own police"):page.index("sheriff, jail, corrections")]


def test_town_names_are_matched_however_typed():
    assert gazetteer.slug("St. Louis") == "st-louis"
    assert gazetteer.lookup_key("St. Louis") == gazetteer.lookup_key("saint louis") == "saintlouis"
    assert gazetteer.lookup_key("Ft Myers") == gazetteer.lookup_key("Fort Myers")


def agency(name, level=None, precision="place", method="town named in agency name", state="FL", fips="12057"):
    return {"id": "x", "name": name, "state_code": state, "level": level, "county_fips": fips,
            "precision": precision, "location_method": method}


@pytest.mark.parametrize("row, expected", [
    (agency("Springfield Police Department", "Municipality"), "town"),
    (agency("Lake County Sheriff's Office", "County", "county"), "county"),
    (agency("Florida Highway Patrol", "State", "state", "state agency (ICE type)", fips=None), "statewide"),
    (agency("North Central University Police Department", "State"), "campus"),
    (agency("Tri-County Regional Jail Authority", "County", "county"), "regional"),
    (agency("Walker County Constable Precinct 9", "Municipality", "county"), "county"),
    (agency("Pending Nowhere Police Department", None, "state", "fallback to state centre: ...", fips=None), "unplaced"),
])
def test_reach_rules_on_made_up_agencies(row, expected):
    assert reach.classify(row)["reach"] == expected


def test_a_printed_level_contradicted_by_the_reach_is_a_correction():
    city = agency("City of Springfield Police Department", "State")
    got = reach.classify(city)
    assert got["reach"] == "town"
    assert reach.contradiction(city, got)["level_printed"] == "State"
    sheriff = agency("Lake County Sheriff's Office", "County", "county")
    assert reach.contradiction(sheriff, reach.classify(sheriff)) is None


def test_agency_areas_lines_are_checked(tmp_path):
    bad = tmp_path / "agency_areas.csv"
    bad.write_text("state,agency,reach,counties,reason,source\nFL,Some Jail,everywhere,Lee County,why,where\n")
    with pytest.raises(reach.AreasError, match="line 2: reach 'everywhere'"):
        reach.load_areas(bad)


def test_a_consolidated_city_countys_police_names_its_towns(tmp_path):
    good = tmp_path / "agency_areas.csv"
    good.write_text("state,agency,reach,counties,police_of,reason,source\n"
                    "FL,Springfield Sheriff's Office,county,Lee County,Springfield; Shelbyville,one government,its charter\n"
                    "FL,Some Jail,regional,Lee County,,why,where\n")
    [sheriff, jail] = reach.load_areas(good)
    assert sheriff.police_of == ("Springfield", "Shelbyville") and jail.police_of == ()
    # A town the gazetteer lacks stops the build, naming the line's agency: its page would say it has no police.
    db = tmp_path / "made-up.db"
    with sqlite3.connect(db) as conn:
        conn.executescript("create table agencies (id text primary key, name text, state_code text, level text, county_fips text,"
                           " precision text, location_method text); create table counties (fips text primary key);"
                           " create table places (state_code text, key text); insert into places values ('FL', 'springfield');")
    with pytest.raises(reach.AreasError, match="police_of 'Shelbyville' is not a town of FL \\(Springfield Sheriff's Office\\)"):
        reach.write(db, [sheriff])
    reach.write(db, [dataclasses.replace(sheriff, police_of=("Springfield",))])  # a known town passes


def test_abbreviations_expand_into_words_and_a_state():
    table = {"fhp": {"abbreviation": "fhp", "state_code": "FL", "means": "highway patrol", "source": "Florida Highway Patrol"}}
    parsed = search.parse("FHP", table)
    assert parsed["terms"] == ["highway", "patrol"] and parsed["state"] == "FL" and parsed["implied_state"] == "FL"
    assert search.parse("fhp ga", table)["state"] == "GA"


def test_level_corrections_on_the_real_build(sql):
    # Rule printed_last: ICE printed the City of Miami's police "State" on the pending list and on its first
    # participating lists (August-September 2025), "Municipality" on every list since 8 September 2025
    miami = "select level, reach, place_name, county_name from agencies where name = 'City of Miami Police Department'"
    assert sql(miami) == [("Municipality", "town", "Miami", "Miami-Dade County")]
    assert sql("select distinct level from listings where agency = 'City of Miami Police Department' order by 1") == [
        ("Municipality",), ("State",), ("State Agency",)]
    assert sql("select reach from agencies where name = 'Florida Gulf Coast University Police Department'") == [("campus",)]
    # printed County under Yoakum County on every participating list; Yoakum is in Lavaca County
    assert sql("select level_printed, reach from level_corrections where name = 'Yoakum Police Department'") == [("County", "town")]
    assert sql("select place_name, county_name from agencies where name = 'Yoakum Police Department'") == [("Yoakum", "Lavaca County")]
    # "Lancaster County" on three pending lists of October 2025, "Armstrong County" on every list since
    assert sql("select county, county_name from agencies where name = 'Manor Township Police Department'") == [("Armstrong County", "Armstrong County")]
    assert sql("select reach from agencies where name = 'Indiana State Police Department'") == [("statewide",)]
    # printed "State" on ICE's lists of January and February 2026: Salisbury's county jail, not a state agency
    assert sql("select reach, county_name from agencies where name = 'Wicomico County Corrections Center'") == [("county", "Wicomico County")]
    assert sql("select reach from level_corrections where name = 'Wicomico County Corrections Center'") == [("county",)]


async def test_a_county_jail_printed_state_is_listed_in_its_county_not_statewide(ds):
    baltimore = text_of((await ds.client.get("/places/md/baltimore")).text)
    assert "Wicomico" not in baltimore[baltimore.index("Statewide agencies of Maryland"):]
    salisbury = text_of((await ds.client.get("/places/md/salisbury")).text)
    assert "Salisbury is in Wicomico County." in salisbury
    assert "Wicomico County Corrections Center ended" in salisbury


async def test_savannah_has_no_agency_of_its_own_and_georgias_statewide_ones(ds):
    page = text_of((await ds.client.get("/places/ga/savannah")).text)
    assert "Savannah is in Chatham County." in page
    assert "No police or sheriff's office of Savannah or Chatham County has a 287(g) agreement." in page
    statewide = page[page.index("Statewide agencies of Georgia"):]
    assert "Georgia Department of Public Safety active: Task Force Model (TFM) since 10 Mar 2025" in statewide
    assert "Georgia Department of Corrections active: Jail Enforcement Model (JEM) since 9 Jun 2020" in statewide


async def test_a_zip_code_opens_its_town(ds):
    response = await ds.client.get("/search?q=31401")
    assert response.status_code == 302 and response.headers["location"] == "/places/ga/savannah?zip=31401"
    page = text_of((await ds.client.get("/places/ga/savannah?zip=31401")).text)
    assert "ZIP code 31401 is in Savannah, Chatham County." in page
    assert "No ZIP code 00000 is known here" in text_of((await ds.client.get("/search?q=00000")).text)
    # rule zip_outside_states: Koror, Palau's ZIP code opens no town whose state has no page
    assert "No ZIP code 96940 is known here (the Postal Service's civilian ZIP codes of the states and territories are)." \
        in text_of((await ds.client.get("/search?q=96940")).text)


async def test_raleigh_answers_for_north_carolinas_capital_before_any_namesake(ds):
    page = text_of((await ds.client.get("/search?q=raleigh")).text)
    assert page.index("Raleigh, North Carolina") < page.index("Raleigh County, West Virginia")
    assert "No agency in Raleigh County" not in page  # no banner about another state's county
    assert "Raleigh is in Wake County." in page


async def test_a_colorado_town_written_as_an_address_is_that_town(ds):
    # rule co_after_comma: "Aurora, CO" is Aurora, Colorado (Arapahoe County), not Aurora County, South Dakota;
    # "harris co" stays Harris County
    page = text_of((await ds.client.get("/search?q=Aurora%2C+CO")).text)
    assert "Aurora, Colorado" in page and "Arapahoe County" in page
    # a town in two counties: one list, "A, B or C"
    assert "No police or sheriff's office of Aurora, Arapahoe County or Adams County has a 287(g) agreement." in page
    assert "Aurora County, South Dakota" not in page
    assert "Canon City is in Fremont County" in text_of((await ds.client.get("/search?q=Ca%C3%B1on+City%2C+CO")).text)
    assert "Harris County, Texas" in text_of((await ds.client.get("/search?q=harris+co")).text)


async def test_a_town_name_that_reads_as_a_postal_towns_is_that_town(ds, sql):
    # rule alternate_same_town: "Ft Worth", a name USPS accepts for 60 ZIP codes, is Fort Worth, not a second town
    # that outnumbered it and answered "Fort Worth, TX"; its old address leads to Fort Worth
    assert sql("select id from places where state_code = 'TX' and key = 'fortworth'") == [("tx/fort-worth",)]
    assert "Fort Worth is in Tarrant County" in text_of((await ds.client.get("/search?q=Fort+Worth%2C+TX")).text)
    moved = await ds.client.get("/places/tx/ft-worth")
    assert (moved.status_code, moved.headers["location"]) == (301, "/places/tx/fort-worth")
    assert (await ds.client.get("/places/tx/ft-nowhere")).status_code == 404


async def test_an_unknown_place_page_is_a_404(ds):
    response = await ds.client.get("/places/zz/nowhere")
    assert response.status_code == 404 and "No such place" in response.text


@pytest.mark.parametrize("place, town, police, county", [
    ("nv/las-vegas", "Las Vegas", "Las Vegas Metropolitan Police Department", "Clark County"),
    ("fl/jacksonville", "Jacksonville", "Jacksonville Sheriff's Office", "Duval County"),
    ("ga/macon", "Macon", "Bibb County Sheriff's Office", "Bibb County"),
])
async def test_a_towns_police_that_is_its_countys_too_is_named_in_the_towns_section(ds, place, town, police, county):
    page = text_of((await ds.client.get(f"/places/{place}")).text)
    assert f"{town}'s police, {police}, is its county's too: it is listed with the county below." in page
    assert f"{town} has no police department" not in page
    assert police in page[page.index(f"{county}: sheriff, jail, corrections"):]


def test_a_regional_jail_covers_the_county_and_cities_that_run_it(sql):
    # agency_areas.csv; data/same_agencies.csv joins the roster's two names of the jail (Regional Jail, then Adult Detention Center)
    [(name, counties, spellings)] = sql("select name, reach_counties, spellings from agencies where name like 'Prince William-Manassas%'")
    assert name == "Prince William-Manassas Regional Adult Detention Center" and json.loads(counties) == ["51153", "51683", "51685"]
    assert "Prince William-Manassas Regional Jail" in json.loads(spellings)
    # and it sits in the city of Manassas (places.py's hand-checked table), not at the state's centre
    assert sql("select precision, place_name, county_fips from agencies where name = ?", [name]) == [("place", "Manassas", "51683")]


async def test_a_towns_police_printed_under_a_far_county_is_answered_where_the_town_is(ds):
    # Rule town_outside_county: ICE prints Galveston County for the Tye Police Department; Tye is in Taylor County,
    # so Abilene's county answers with it and Galveston's does not.
    taylor = text_of((await ds.client.get("/places/tx/tye")).text)
    assert "Tye Police Department" in taylor and "Taylor County" in taylor
    galveston = text_of((await ds.client.get("/places/tx/galveston")).text)
    assert "Tye Police Department" not in galveston


async def test_a_sheriff_that_is_not_the_towns_police_is_not_named_as_it(ds):
    # Orlando has a police of its own: the Orange County Sheriff's Office is listed with the county only.
    page = text_of((await ds.client.get("/places/fl/orlando")).text)
    assert "Orlando's police, Orange County Sheriff's Office" not in page


async def test_a_town_outside_the_census_county_list_says_why_for_its_state(ds):
    san_juan = text_of((await ds.client.get("/places/pr/san-juan")).text)
    assert "Puerto Rico's municipalities and districts are not in the Census county list this site uses" in san_juan
    assert "Connecticut" not in san_juan
    hartford = text_of((await ds.client.get("/places/ct/hartford")).text)
    assert "Connecticut's towns have no county government" in hartford


async def test_a_town_in_no_census_county_says_so_in_a_sentence_in_both_languages(ds):
    assert "San Juan is in no county of the Census list." in text_of((await ds.client.get("/search?q=San+Juan%2C+PR")).text)
    assert "San Juan no está en ningún condado de la lista del Censo." in text_of((await ds.client.get("/es/search?q=San+Juan%2C+PR")).text)


@pytest.mark.parametrize("place, town, police", [
    ("al/littleville", "Littleville", "Littleville Police Department"),  # ICE's Colbert County; ZIP data's Franklin County
    ("ga/alto", "Alto", "Alto Police Department"),  # ICE's Banks County; ZIP data's Habersham County
])
async def test_a_towns_own_police_placed_in_ices_county_is_still_the_towns(ds, place, town, police):
    # The town is placed at its ZIP codes' county, its police at ICE's, within 30 km (places.py): ICE's county is the
    # town's too, so the answer names the town's own police and that county's sheriff, and says why.
    page = text_of((await ds.client.get(f"/places/{place}")).text)
    assert f"{town} has no police department" not in page
    assert police in page[page.index(f"{town}'s own police"):page.index("sheriff, jail, corrections")]
    county = {"al/littleville": "Colbert County", "ga/alto": "Banks County"}[place]
    assert f"ICE's list places {town}'s police, {police}, in {county}." in page
    heading = page[page.index(f"{town}'s own police"):page.index(": sheriff, jail, corrections")]
    assert heading.endswith(county)  # "Franklin County, Colbert County: sheriff, jail, corrections"
    if place == "al/littleville":
        assert "Colbert County Sheriff's Office" in page[page.index("sheriff, jail, corrections"):page.index("Statewide agencies")]
    spanish = text_of((await ds.client.get(f"/es/places/{place}")).text)
    assert f"La lista de ICE sitúa a la policía de {town}, {police}, en {county}." in spanish
    # the search's answer for the typed town is the same
    found = text_of((await ds.client.get(f"/search?q={town}, {place[:2].upper()}")).text)
    assert f"{town} has no police department" not in found and police in found[:found.index("sheriff, jail, corrections")]


async def test_an_agency_page_says_when_its_reach_is_not_the_type_ice_prints(ds, sql):
    ((yoakum,),) = sql("select id from agencies where name = 'Yoakum Police Department'")
    page = text_of((await ds.client.get(f"/287g/agencies/{yoakum}")).text)
    assert "ICE's list gives its type as County; by its name it is listed here as: Town or city agency." in page
    spanish = text_of((await ds.client.get(f"/es/287g/agencies/{yoakum}")).text)
    assert "La lista de ICE da como tipo" in spanish and "Agencia de una ciudad o pueblo" in spanish
    ((miami,),) = sql("select id from agencies where name = 'City of Miami Police Department'")
    assert "gives its type as" not in text_of((await ds.client.get(f"/287g/agencies/{miami}")).text)  # printed as it is now
