"""The rules for ICE's list before 2021 (docs/IDENTITY.md, "History before 2021") on small made-up cases."""
import datetime

from open287g import history
from open287g.lineage import agreement_id_of, walk_participating
from open287g.read import _interpret, fingerprint
from open287g.records import Publication

ROSTER_COLUMNS = history.ROSTER_COLUMNS
FILE_COLUMNS = ("state", "agency", "county", "support_type", "signed", "moa")
STATES = {"AZ": "Arizona", "MD": "Maryland", "NC": "North Carolina", "NJ": "New Jersey", "TX": "Texas"}


def roster_row(state, agency, support_type, signed, moa="r_287gmoa.pdf"):
    printed, _ = _interpret(ROSTER_COLUMNS, (state, agency, support_type, signed, moa), None, None)
    return history._read_roster_models({"rows": [printed], "anomalies": ()})["rows"][0]


def file_row(state, agency, model, signed, moa_url=None):
    printed, _ = _interpret(FILE_COLUMNS, (state, agency, None, model, signed, "link" if moa_url else "link pending"), moa_url, None)
    return printed


def pubs(*dated):
    """(date, source_kind, rows) -> publications in that order."""
    out = []
    for n, (day, kind, rows) in enumerate(dated, start=1):
        out.append(Publication(
            path=None, file=f"made-up {day}", file_name=f"made-up {day}", original_name=f"made-up {day}", folder=kind, source_kind=kind,
            bytes=0, id=f"pub{n:03d}", seq=n, published_at=f"{day}T12:00:00", rows=tuple(rows), sheet_rows=tuple(range(2, len(rows) + 2)),
            fingerprint=fingerprint(rows), sha256=f"{n:064x}",
        ))
    return out


def walk(*dated):
    return walk_participating(pubs(*dated), STATES, set())


OTHER = roster_row("TEXAS", "Harris County Sheriff's Office", "Jail Enforcement", "2008-07-08")
OTHER_2021 = file_row("TEXAS", "Harris County Sheriff's Office", "Jail Enforcement Model", "2008-07-08")


def by_agency(lin, name):
    return sorted((a for a in lin.agreements.values() if a.agency == name), key=lambda a: a.first_seen)


def test_roster_models_map_onto_todays_on_the_roster_only():
    from open287g.read import model_of

    assert model_of("Task Force") is None and model_of("Jail Enforcement") is None  # ICE's files of 2021 on
    assert roster_row("TEXAS", "X Police Department", "Jail Enforcement", "2010-01-01").model == "Jail Enforcement Model"
    assert roster_row("TEXAS", "X Police Department", "Task Force", "2010-01-01").model == "Task Force Model"


def test_a_hybrid_is_two_agreements():
    assert history._models("Hybrid") == ("JEM", "TFM") and history._models("JEO/TFO") == ("JEM", "TFM")
    agreements = [{"id": "a1", "agency_id": "x", "state_code": "AR", "model": "JEM", "signed_on": "2007-09-26",
                   "first_seen": "2011-02-20", "spellings": ["Benton County Sheriff's Office"]}]
    rows = [dict(file="f", line=2, source="OIG", as_of="2009-10-28", state="Arkansas", agency="Benton County Sheriff's Office",
                 model_printed="Hybrid", model=m, signed_on="2007-09-26", date_kind="original signing", note=None) for m in history._models("Hybrid")]
    found = history.match_evidence(rows, agreements, {"AR": "Arkansas"}, lambda s: "AR")
    assert [(r["model"], r["agreement_id"], r["finding"]) for r in found] == [
        ("JEM", "a1", "confirms the signing date"),
        ("TFM", None, "another model of a listed agency: ICE's roster never printed it")]
    # ICE's date unreadable (unparseable_date leaves signed_on empty): the evidence's date is given, not compared
    undated = [dict(agreements[0], signed_on=None)]
    assert [r["finding"] for r in history.match_evidence(rows[:1], undated, {"AR": "Arkansas"}, lambda s: "AR")] == [
        "gives a signing date where ICE's list printed none readable"]


def test_a_re_signing_at_a_standard_moa_date_is_a_linked_successor():
    lin = walk(
        ("2011-02-20", "roster", [OTHER, roster_row("NORTH CAROLINA", "Gaston County Sheriff's Office", "Jail Enforcement", "2007-02-22")]),
        ("2013-09-04", "roster", [OTHER, roster_row("NORTH CAROLINA", "Gaston County Sheriff's Office", "Jail Enforcement", "2013-06-28")]),
    )
    old, new = by_agency(lin, "Gaston County Sheriff's Office")
    assert (old.signed_on, old.status, old.superseded_by) == ("2007-02-22", "superseded", new.id)
    assert (new.signed_on, new.status, new.follows) == ("2013-06-28", "active", old.id)
    assert [m.rule for m in lin.merges] == ["re-signed"]


def test_spellings_city_of_hartford_and_curly_apostrophes():
    lin = walk(
        ("2016-11-21", "roster", [OTHER, roster_row("ARIZONA", "City of Mesa Police Department", "Jail Enforcement", "2016-06-23"),
                                  roster_row("MARYLAND", "Harford County Sheriff's Office", "Jail Enforcement", "2016-06-08"),
                                  roster_row("NEW JERSEY", "Salem County Sheriff's Office", "Jail Enforcement", "2016-12-08")]),
        ("2016-12-11", "roster", [OTHER, roster_row("ARIZONA", "Mesa Police Department", "Jail Enforcement", "2016-06-23"),
                                  roster_row("MARYLAND", "Hartford County Sheriff's Office", "Jail Enforcement", "2016-06-08"),
                                  roster_row("NEW JERSEY", "Salem County Sheriff\u2019s Office", "Jail Enforcement", "2016-12-08")]),
        ("2017-03-05", "roster", [OTHER, roster_row("ARIZONA", "Mesa Police Department", "Jail Enforcement", "2016-06-23"),
                                  roster_row("MARYLAND", "Harford County Sheriff's Office", "Jail Enforcement", "2016-06-08"),
                                  roster_row("NEW JERSEY", "Salem County Sheriff\u2019s Office", "Jail Enforcement", "2016-12-08")]),
    )
    assert len(lin.agreements) == 4 and {a.status for a in lin.agreements.values()} == {"active"}
    assert sorted(m.rule for m in lin.merges) == ["renamed", "renamed"]  # Mesa, Hartford; Harford again is a name it had
    assert not lin.changes or {c.kind for c in lin.changes} == {"added", "renamed"}


def test_present_in_2017_and_2021_continued_through_the_gap_absent_ended_within_it():
    lin = walk(
        ("2017-08-01", "roster", [OTHER, roster_row("NORTH CAROLINA", "Wake County Sheriff's Office", "Jail Enforcement", "2016-06-08"),
                                  roster_row("NORTH CAROLINA", "Gaston County Sheriff's Office", "Jail Enforcement", "2016-06-08")]),
        ("2021-01-13", "page_table", [OTHER_2021, file_row("NORTH CAROLINA", "Gaston County Sheriff's Office", "Jail Enforcement Model", "2016-06-08")]),
        ("2021-02-13", "page_table", [OTHER_2021, file_row("NORTH CAROLINA", "Gaston County Sheriff's Office", "Jail Enforcement Model", "2016-06-08")]),
    )
    (gaston,) = by_agency(lin, "Gaston County Sheriff's Office")
    assert gaston.status == "active" and gaston.first_seen.startswith("2017-08-01")
    (wake,) = by_agency(lin, "Wake County Sheriff's Office")
    # The range of the ending: last printed by the 2017 capture, first not printed by ICE's list of 2021.
    assert (wake.status, wake.last_seen[:10], wake.ended_seen[:10]) == ("ended", "2017-08-01", "2021-01-13")


def test_ids_of_agreements_ice_files_print_come_from_those_files():
    lin = walk(
        ("2017-08-01", "roster", [OTHER, roster_row("ARIZONA", "City of Mesa Police Department", "Jail Enforcement", "2016-06-23")]),
        ("2021-01-13", "page_table", [OTHER_2021, file_row("ARIZONA", "Mesa Police Department", "Jail Enforcement Model", "2016-06-23")]),
    )
    (mesa,) = by_agency(lin, "Mesa Police Department")
    assert mesa.first_seen.startswith("2017-08-01") and mesa.first_key[1] == "city of mesa police department"
    assert mesa.id == agreement_id_of(("AZ", "mesa police department", "JEM", "2016-06-23"))
    assert lin.by_key[mesa.first_key] == mesa.id and {c.agreement_id for c in lin.changes if c.agency.endswith("Mesa Police Department")} <= {mesa.id}


def test_the_roster_never_changes_what_ice_files_decide():
    # ICE's 2021 file prints the 2016 date without an MOA link, then a 2020 date: a provisional date corrected
    # (re-dated), as it is without the roster, although the roster named the 2016 MOA's file.
    lin = walk(
        ("2017-08-01", "roster", [OTHER, roster_row("TEXAS", "Montgomery County Sheriff's Office", "Jail Enforcement", "2016-06-28")]),
        ("2021-01-13", "page_table", [OTHER_2021, file_row("TEXAS", "Montgomery County Sheriff's Office", "Jail Enforcement Model", "2016-06-28")]),
        ("2022-03-05", "page_table", [OTHER_2021, file_row("TEXAS", "Montgomery County Sheriff's Office", "Jail Enforcement Model", "2020-06-09", "https://x/287gJEM.pdf")]),
    )
    (montgomery,) = by_agency(lin, "Montgomery County Sheriff's Office")
    assert (montgomery.status, montgomery.signed_on) == ("active", "2020-06-09")
    assert [m.rule for m in lin.merges] == ["re-dated"]


def test_caption_date_is_read_and_not_the_publication_date():
    assert history._caption_date("Mutually Signed Agreements (69) as of 09/02/2011") == "2011-09-02"
    assert history._caption_date("Mutually Signed Agreements (39) signed as of 12/31/2012") == "2012-12-31"
    assert history._caption_date(None) is None
    assert [Publication(path=None, file="f", file_name="f", original_name="f", folder=k, source_kind=k, bytes=0).era for k in ("page_table", "participating", "roster")] == ["page table", "workbook", "roster"]
