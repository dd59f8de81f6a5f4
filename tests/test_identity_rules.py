"""Each identity rule on a small made-up sequence of publications (docs/IDENTITY.md), through the real reader's row model."""
import datetime

import pytest

from open287g import dating, identity
from open287g.lineage import Lineage, walk_participating
from open287g.read import _interpret, fingerprint
from open287g.records import Publication

COLUMNS = ("state", "agency", "county", "support_type", "signed", "moa")
STATES = {"FL": "Florida", "KY": "Kentucky", "LA": "Louisiana", "MN": "Minnesota", "MT": "Montana", "TN": "Tennessee", "TX": "Texas"}


def row(state, agency, model, signed, moa_url=None, county=None):
    printed, _ = _interpret(COLUMNS, (state, agency, county, model, signed, "link" if moa_url else "link pending"), moa_url, None)
    return printed


def publications(*lists, start=datetime.date(2025, 3, 1)):
    """One publication per list of rows, a day apart."""
    pubs = []
    for n, rows in enumerate(lists, start=1):
        day = start + datetime.timedelta(days=n)
        name = f"participatingAgencies{day:%m%d%Y}pm.xlsx"
        pubs.append(Publication(
            path=None, file=name, file_name=name, original_name=name, folder="participating", source_kind="participating", bytes=0,
            id=f"pub{n:03d}", seq=n, published_at=f"{day.isoformat()}T17:00:00", rows=tuple(rows), sheet_rows=tuple(range(2, len(rows) + 2)),
            fingerprint=fingerprint(rows), sha256=f"{n:064x}",
        ))
    return pubs


def walk(*lists):
    return walk_participating(publications(*lists), STATES, set())


def statuses(lineage):
    return sorted((a.agency, a.model, a.status) for a in lineage.agreements.values())


def rules(lineage):
    return sorted(m.rule for m in lineage.merges)


OTHER = [row("TEXAS", "Harris County Sheriff's Office", "Jail Enforcement Model", "2020-01-01")]


def test_rename_with_an_abbreviation_is_one_agreement():
    lin = walk(
        OTHER + [row("FLORIDA", "Tampa PD", "Task Force Model", "2025-02-28")],
        OTHER + [row("FLORIDA", "Tampa Police Department", "Task Force Model", "2025-02-28")],
    )
    assert statuses(lin) == [("Harris County Sheriff's Office", "JEM", "active"), ("Tampa Police Department", "TFM", "active")]
    assert rules(lin) == ["renamed"]
    (tampa,) = [a for a in lin.agreements.values() if a.model == "TFM"]
    assert tampa.spellings == {"Tampa PD", "Tampa Police Department"}
    assert tampa.id == lin.agreements[tampa.id].id and tampa.first_key[1] == "tampa pd"  # id from the first printed row


def test_sheriffs_office_and_department_are_one_body():
    lin = walk(
        OTHER + [row("TEXAS", "Waukesha County Sheriff's Office", "Jail Enforcement Model", "2020-06-10")],
        OTHER + [row("TEXAS", "Waukesha County Sheriff's Department", "Jail Enforcement Model", "2020-06-10")],
    )
    assert [a.status for a in lin.agreements.values()] == ["active", "active"]
    assert rules(lin) == ["renamed"]


def test_state_correction_keeps_the_agreement():
    lin = walk(
        OTHER + [row("MONTANA", "Cass County Sheriff's Office", "Task Force Model", "2025-02-28")],
        OTHER + [row("MINNESOTA", "Cass County Sheriff's Office", "Task Force Model", "2025-02-28")],
    )
    assert rules(lin) == ["moved_state"]
    cass = next(a for a in lin.agreements.values() if a.agency.startswith("Cass"))
    assert (cass.state_code, cass.status) == ("MN", "active")


def test_relabel_to_the_body_that_signed():
    lin = walk(
        OTHER + [row("FLORIDA", "Escambia County Sheriff's Office", "Warrant Service Officer", "2025-02-26", county="Escambia County")],
        OTHER + [row("FLORIDA", "Escambia County Board of County Commissioners", "Warrant Service Officer", "2025-02-26", county="Escambia County")],
    )
    assert rules(lin) == ["relabelled"]
    assert [c.kind for c in lin.changes if c.kind != "added"] == ["relabelled"]
    wso = next(a for a in lin.agreements.values() if a.model == "WSO")
    assert wso.status == "active" and wso.agency_key == ("FL", "escambia county board of county commissioners")


def test_two_agencies_with_the_same_date_never_merge():
    lin = walk(
        OTHER + [row("FLORIDA", "Lake County Sheriff's Office", "Task Force Model", "2025-02-26")],
        OTHER + [row("FLORIDA", "Bay County Sheriff's Office", "Task Force Model", "2025-02-26")],
    )
    assert rules(lin) == []
    assert ("Lake County Sheriff's Office", "TFM", "ended") in statuses(lin)
    assert ("Bay County Sheriff's Office", "TFM", "active") in statuses(lin)


def test_date_correction_of_a_link_pending_row_is_re_dated():
    lin = walk(
        OTHER + [row("FLORIDA", "St. Lucie County Sheriff's Office", "Task Force Model", "2025-02-19")],
        OTHER + [row("FLORIDA", "St. Lucie County Sheriff's Office", "Task Force Model", "2025-04-26",
                     "https://www.ice.gov/doclib/287gMOA/StLucie_TFM_MOA_04262025.pdf")],
    )
    assert rules(lin) == ["re-dated"]
    tfm = next(a for a in lin.agreements.values() if a.model == "TFM")
    assert (tfm.signed_on, tfm.status) == ("2025-04-26", "active")


def test_a_date_printed_again_is_a_change_back_and_a_second_printing_is_none():
    """Rule printed_again: the date a list re-dated, printed again, is recorded as re-dated back, so the changes end with
    the agreement's date (COMET Drug Task Force, MO, in ICE's March 2026 lists); a name printed beside another in the
    same lists changes nothing until it is printed alone."""
    comet = [row("MISSOURI", "Comet Drug Task Force", "Task Force Model", d) for d in ("2026-03-13", "2026-03-02", "2026-03-13")]
    lin = walk(OTHER + comet[:1], OTHER + comet[1:2], OTHER + comet[1:2], OTHER + comet[2:])
    tfm = next(a for a in lin.agreements.values() if a.model == "TFM")
    dated = [(c.kind, c.before, c.after, c.publication_id) for c in lin.changes if c.agreement_id == tfm.id and c.kind != "added"]
    assert dated == [("re-dated", "2026-03-13", "2026-03-02", "pub002"), ("re-dated", "2026-03-02", "2026-03-13", "pub004")]
    assert tfm.signed_on == "2026-03-13"
    # printed under both names for two lists (ICE's duplicate row), then under the first alone: no change back
    old, new = (row("FLORIDA", name, "Task Force Model", "2025-04-15") for name in ("City of St. Cloud Police Department", "St. Cloud Police Department"))
    lin = walk(OTHER + [old], OTHER + [old, new], OTHER + [old, new], OTHER + [old])
    assert not [c for c in lin.changes if c.kind in ("renamed", "relabelled", "re-dated")]


def test_re_signing_after_a_gap_follows_the_old_agreement():
    moa = "https://www.ice.gov/doclib/287gMOA/FortWaltonBeachPoliceDeptFL_TFM_MOA_02.27.2025.pdf"
    lin = walk(
        OTHER + [row("FLORIDA", "Fort Walton Beach Police Department", "Task Force Model", "2025-02-28", moa)],
        OTHER,
        OTHER + [row("FLORIDA", "Fort Walton Beach Police Department", "Task Force Model", "2025-08-04")],
    )
    assert rules(lin) == ["re-signed"]
    old = next(a for a in lin.agreements.values() if a.signed_on == "2025-02-28")
    new = next(a for a in lin.agreements.values() if a.signed_on == "2025-08-04")
    assert (old.status, old.superseded_by, new.follows, new.status) == ("superseded", new.id, old.id, "active")
    assert not [c for c in lin.changes if c.kind == "ended"]


def test_one_file_gap_is_not_an_ending():
    tfm = row("FLORIDA", "Nixon Police Department", "Task Force Model", "2025-02-28")
    lin = walk(OTHER + [tfm], OTHER, OTHER + [tfm])
    assert statuses(lin)[1] == ("Nixon Police Department", "TFM", "active")
    gaps = [c for c in lin.changes if c.kind == "gap"]
    assert len(gaps) == 1 and "missing from 1 publication" in gaps[0].detail
    assert not [c for c in lin.changes if c.kind == "ended"]


def test_duplicate_row_is_folded_and_its_drop_ends_nothing():
    city = row("FLORIDA", "City of Zephyrhills Police Department", "Task Force Model", "2025-04-14")
    plain = row("FLORIDA", "Zephyrhills Police Department", "Task Force Model", "2025-04-14")
    lin = walk(OTHER + [city], OTHER + [city, plain], OTHER + [plain])
    assert rules(lin) == ["duplicate"]
    assert len(lin.agreements) == 2 and all(a.status == "active" for a in lin.agreements.values())


def test_an_agreement_that_really_ends_is_dated_at_the_first_list_without_it():
    gone = row("FLORIDA", "Wells Police Department", "Task Force Model", "2025-04-02")
    lin = walk(OTHER + [gone], OTHER + [gone], OTHER, OTHER)
    wells = next(a for a in lin.agreements.values() if a.agency.startswith("Wells"))
    assert (wells.status, wells.ended_publication_id, wells.last_publication_id) == ("ended", "pub003", "pub002")


def test_truncated_newest_list_is_held_and_ends_nothing():
    full = [row("TEXAS", f"Town {n} Police Department", "Task Force Model", "2025-05-01") for n in range(40)]
    pubs = publications(full, full, full[:4])
    lin = walk_participating(pubs, STATES, set())
    assert all(a.status == "active" for a in lin.agreements.values()) and len(lin.agreements) == 40
    assert pubs[2].id in lin.held and lin.notes[pubs[2].id][0][0] == "unconfirmed_mass_ending"
    # A maintainer's confirmation (its sha256 in data/confirmations.csv) lets it end what it dropped.
    confirmed = walk_participating(publications(full, full, full[:4]), STATES, {f"{3:064x}"})
    assert sum(a.status == "ended" for a in confirmed.agreements.values()) == 36


def test_truncated_list_in_the_middle_is_not_used_when_the_next_restores_the_rows():
    full = [row("TEXAS", f"Town {n} Police Department", "Task Force Model", "2025-05-01") for n in range(40)]
    pubs = publications(full, full[:4], full)
    lin = walk_participating(pubs, STATES, set())
    assert all(a.status == "active" for a in lin.agreements.values())
    assert not [c for c in lin.changes if c.kind in ("ended", "gap")]
    assert lin.notes[pubs[1].id][0][0] == "mass_ending_not_confirmed"


def test_results_do_not_depend_on_row_order():
    rows = OTHER + [row("FLORIDA", n, "Task Force Model", "2025-02-26") for n in ("Lake County SO", "Bay County SO", "Polk County SO")]
    renamed = OTHER + [row("FLORIDA", n, "Task Force Model", "2025-02-26") for n in ("Polk County Sheriff's Office", "Bay County Sheriff's Office", "Lake County Sheriff's Office")]
    a, b = walk(rows, renamed), walk(list(reversed(rows)), list(reversed(renamed)))
    assert sorted((m.agreement_id, m.merged_key) for m in a.merges) == sorted((m.agreement_id, m.merged_key) for m in b.merges)
    assert len(a.merges) == 3 and sorted(a.agreements) == sorted(b.agreements)


@pytest.mark.parametrize("a, b, relation", [
    ("Tampa PD", "Tampa Police Department", "reworded"),
    ("Wyoming Highway State Patrol", "Wyoming State Highway Patrol", "reworded"),
    ("Office of Aggricultural Law Enforcement", "Office of Agricultural Law Enforcement", "renamed"),
    ("Cattaraugus Counry Sheriff's Office", "Cattaraugus County Sheriff's Office", "renamed"),
    ("Pinal County Sheriff's Office", "Pinal County Attorney's Office", "relabelled"),
    ("Lake County Sheriff's Office", "Bay County Sheriff's Office", None),
    ("Jackson County Sheriff's Office", "Jefferson County Sheriff's Office", None),
    # Louisiana's parishes are its counties: "Parish" is boilerplate like "County"
    ("Lafourche County Sheriff's Office", "Lafourche Parish Sheriff's Office", "renamed"),
    ("Lafourche Parish Sheriff's Office", "Terrebonne Parish Sheriff's Office", None),
])
def test_name_comparison(a, b, relation):
    found = identity.compare_names(a, b)
    assert (found.relation if found else None) == relation


def test_moa_file_dates():
    assert identity.moa_file_date("https://www.ice.gov/doclib/287gMOA/OttawaCoSheriffsOfficeOK_TFM_MOA_02232026.pdf") == "2026-02-23"
    assert identity.moa_file_date("https://www.ice.gov/doclib/287gMOA/HardeeCountyFL_5.8.25.pdf") == "2025-05-08"
    assert identity.moa_file_date("https://www.ice.gov/doclib/287gMOA/stLucieCo_WSO_MOA_02.19.2025.pdf") == "2025-02-19"
    assert identity.moa_file_date("https://www.ice.gov/doclib/287gMOA/StLucie_TFM_MOA.pdf") is None


def test_a_file_long_after_its_neighbours_keeps_its_printed_date_with_a_warning():
    full = [row("TEXAS", f"Town {n} Police Department", "Task Force Model", "2025-05-01") for n in range(20)]
    pubs = []
    for n, name in enumerate(["participatingAgencies05012025pm.xlsx", "participatingAgencies05052025pm.xlsx", "participatingAgencies06232025pm.xlsx"]):
        pubs.append(_made_up(n, name, full))
    late = dating.date(pubs)[2]
    assert late.published_at == "2025-06-23T17:00:00"
    assert [k for k, _, _ in late.anomalies] == ["date_far_from_neighbours"]


def test_lineage_alone_needs_no_state_names():
    lin = Lineage()
    for p in publications(OTHER):
        lin.walk(p)
    lin.finish()
    assert [a.status for a in lin.agreements.values()] == ["active"]


def _dated(names, fetched=None, extra_from=None):
    """Made-up publications of 20 rows; from the file named extra_from on, each also lists a 21st agreement."""
    base = [row("TEXAS", f"Town {n} Police Department", "Task Force Model", "2025-05-01") for n in range(21)]
    pubs = []
    for n, name in enumerate(names):
        rows = base if extra_from is not None and n >= names.index(extra_from) else base[:20]
        pubs.append(_made_up(n, name, rows, fetched_utc=(fetched or {}).get(name)))
    return dating.date(pubs)


def _made_up(n, name, rows, **more):
    """A made-up participating workbook of these rows, as the reader returns it."""
    return Publication(path=None, file=name, file_name=name, original_name=name, folder="participating", source_kind="participating",
                       bytes=0, id=f"p{n}", header="STATE|LAW ENFORCEMENT AGENCY|SUPPORT TYPE|SIGNED", rows=tuple(rows),
                       keys=frozenset(r.body_key for r in rows), fingerprint=f"f{n}", row_count=len(rows), sha256=f"{n}", **more)


def test_the_newest_files_are_not_moved_a_month_ahead_beside_their_twins():
    # Found by the refresh replay: the three newest files (one agreement more than the files before) fitted
    # "a month later" better, because past the newest publication their only neighbours are each other.
    names = ["participatingAgencies11202025am.xlsx", "participatingAgencies11212025am.xlsx", "participatingAgencies11252025pm.xlsx",
             "participatingAgencies12022025pm.xlsx", "participatingAgencies12032025am.xlsx", "participatingAgencies12032025pm.xlsx"]
    pubs = _dated(names, extra_from="participatingAgencies12022025pm.xlsx")
    assert [p.published_at[:10] for p in pubs] == ["2025-11-20", "2025-11-21", "2025-11-25", "2025-12-02", "2025-12-03", "2025-12-03"]
    assert not [k for p in pubs for k, _, _ in p.anomalies]


def test_a_mistyped_year_is_corrected_by_the_fetch_time():
    name = "participatingAgencies01052025pm.xlsx"  # ICE's real typo, fetched on 5 January 2026
    pubs = _dated(["participatingAgencies12292025am.xlsx", "participatingAgencies12312025am.xlsx", name], {name: "2026-01-05T18:02:11Z"})
    assert pubs[2].published_at == "2026-01-05T17:00:00"
    assert [k for k, _, _ in pubs[2].anomalies] == ["typo_year"] and "fetched on 2026-01-05" in pubs[2].anomalies[0][2]


def test_edit_distance_with_a_limit_answers_every_comparison_with_it_as_without():
    # same_word asks only "at most limit edits?"; the limit lets edits() stop early on unlike words.
    assert identity.edits("counry", "county") == 1 and identity.edits("macro", "marco") == 1
    assert identity.edits("aggricultural", "agricultural", 2) == 1
    assert identity.edits("washington", "jefferson", 2) == 3  # stopped early: limit + 1, not the distance 8
    assert identity.edits("washington", "jefferson") == 8
    words = ["county", "counry", "conty", "sheriff", "sherrif", "sheriffs", "office", "offic", "marco", "macro",
             "berrien", "berrian", "aggricultural", "agricultural", "department", "departent", "constables", "constbales"]
    for a in words:
        for b in words:
            for limit in (0, 1, 2):
                assert (identity.edits(a, b, limit) <= limit) == (identity.edits(a, b) <= limit), (a, b, limit)


def test_the_typo_ratio_is_difflibs_with_its_bounds_first():
    import difflib

    words = ["somerville", "somervell", "county", "counties", "sheriff", "sheriffs", "berrien", "berrian", "macro", "marco",
             "department", "departent", "freedom", "freeborn", "walker", "waller", "aggricultural", "agricultural", "abc", "abcdefghij"]
    for a in words:
        for b in words:
            for ratio in (0.5, 0.84, 0.9):
                assert identity._ratio_at_least(a, b, ratio) == (difflib.SequenceMatcher(None, a, b).ratio() >= ratio), (a, b, ratio)


def test_an_edit_distance_is_at_least_the_letters_a_word_has_beyond_those_shared():
    # same_word skips the edit distance of words whose letters differ by more than the limit: the bound must hold.
    import difflib
    import itertools
    import random

    rng = random.Random(287)
    for _ in range(3000):
        a = "".join(rng.choice("abcdes") for _ in range(rng.randint(1, 9)))
        b = "".join(rng.choice("abcdes") for _ in range(rng.randint(1, 9)))
        assert identity.edits(a, b) >= max(len(a), len(b)) - identity._shared_letters(a, b), (a, b)
        # the letters shared, each as often as both have it: difflib's quick_ratio count
        assert identity._shared_letters(a, b) == round(difflib.SequenceMatcher(None, a, b).quick_ratio() * (len(a) + len(b)) / 2), (a, b)
    for a, b in itertools.product(["counry", "county", "conty", "marco", "macro", "berrian", "berrien"], repeat=2):
        assert identity.edits(a, b) >= max(len(a), len(b)) - identity._shared_letters(a, b)


def test_same_word_answers_as_the_rule_without_its_shortcuts():
    # The rule in full: equal, a plural s, or (5+ letters) at most one edit (two from 8 letters) or difflib's ratio
    # at least TYPO_RATIO. same_word's length, letter and limit shortcuts must never change an answer.
    import difflib
    import random

    def rule(a, b):
        if a == b or (len(a) >= 4 and len(b) >= 4 and a.rstrip("s") == b.rstrip("s")):
            return True
        if len(a) < 5 or len(b) < 5:
            return False
        limit = 2 if min(len(a), len(b)) >= 8 else 1
        return identity.edits(a, b) <= limit or difflib.SequenceMatcher(None, a, b).ratio() >= identity.TYPO_RATIO

    rng = random.Random(21)
    words = sorted(identity.BOILERPLATE) + ["couny", "departent", "offic", "constbales", "somervell", "berrian", "lyons"]
    words += ["".join(rng.choice("aeiourstln") for _ in range(rng.randint(3, 14))) for _ in range(150)]
    for a in words:
        for b in words:
            assert identity.same_word(a, b) == rule(a, b), (a, b)


def test_walk_keys_take_a_workbooks_rows_from_its_bytes_and_the_rows_key_but_hash_a_rosters_rows():
    """lineage.walk_keys with pipeline.rows_key: an ICE workbook's rows are fixed by its sha256 and the rows key, so a
    new rows key (code or corrections changed) moves every key; a roster capture's rows are still hashed."""
    from dataclasses import replace

    from open287g.lineage import walk_keys

    a, b = row("FL", "Bay County Sheriff's Office", "Jail Enforcement Model", "2025-01-01"), row("TX", "Ector County Sheriff's Office", "Task Force Model", "2025-02-01")
    pubs = publications([a], [a, b], [b])
    keys = walk_keys(pubs, {}, STATES, set(), "rows-1")
    assert len(keys) == 2 and keys == walk_keys(publications([a], [a, b], [b]), {}, STATES, set(), "rows-1")
    assert set(keys).isdisjoint(walk_keys(pubs, {}, STATES, set(), "rows-2"))
    assert walk_keys([replace(pubs[0], rows=(b,))] + pubs[1:], {}, STATES, set(), "rows-1") == keys  # the bytes say it all
    assert walk_keys([replace(pubs[0], rows=(b,))] + pubs[1:], {}, STATES, set(), None) != walk_keys(pubs, {}, STATES, set(), None)
    roster = [replace(p, source_kind="roster") for p in pubs]
    assert walk_keys([replace(roster[0], rows=(b,))] + roster[1:], {}, STATES, set(), "rows-1") != walk_keys(roster, {}, STATES, set(), "rows-1")


def test_listing_spans_resume_from_their_checkpoint_and_equal_a_whole_walk(tmp_path):
    """resolve.listing_spans with pipeline.Checkpoints: a build saves the state before its newest publication; the next
    build, one list longer, resumes there (span_keys) and makes the listings a walk from the start makes."""
    from open287g.pipeline import Checkpoints
    from open287g.resolve import listing_spans, span_keys

    a, b, c = (row("FL", "Bay County Sheriff's Office", "Jail Enforcement Model", "2025-01-01"),
               row("TX", "Ector County Sheriff's Office", "Task Force Model", "2025-02-01"),
               row("MN", "Rock County Sheriff's Office", "Warrant Service Officer", "2025-03-01"))
    lists = ([a], [a, b], [a, b], [b, c], [a, b, c])
    checkpoints = Checkpoints(tmp_path, "rows-1").of("spans-participating")
    first = listing_spans(publications(*lists[:4]), checkpoints)
    assert first == listing_spans(publications(*lists[:4]))
    (saved,) = tmp_path.glob("spans-participating-*.pickle")
    assert saved.name == f"spans-participating-{span_keys(publications(*lists[:4]), 'rows-1')[2]}.pickle"
    later = publications(*lists)
    assert checkpoints.load(span_keys(later, "rows-1"))[0] == 2  # resumes after the third list
    whole = listing_spans(later)
    assert listing_spans(later, checkpoints) == whole
    assert [(s["agency"], s["first_publication_id"], s["last_publication_id"], s["publications"]) for _, s in whole] == [
        ("Bay County Sheriff's Office", "pub001", "pub003", 3), ("Ector County Sheriff's Office", "pub002", "pub005", 4),
        ("Rock County Sheriff's Office", "pub004", "pub005", 2), ("Bay County Sheriff's Office", "pub005", "pub005", 1)]


def _pending_walk(pending_lists, participating_lists):
    from open287g import places, resolve

    lineage = walk(*participating_lists)
    town_of = lambda state, name: places.locate(state, name)["precision"] == "place"  # noqa: E731  (as PlaceCache.has_town)
    apps = resolve.pending_applications(publications(*pending_lists), lineage.agreements, places.county_fips, state_names=STATES, town_of=town_of)
    return sorted((a["state_code"], a["agency"], a["state_printed_first"], a["first_seen"][:10], a["outcome"]) for a in apps)


def test_a_pending_application_printed_under_a_state_without_its_county_is_the_right_states():
    # Rule pending_state_misprinted: Trousdale County is in Tennessee, not Texas; ICE moved the row on its third list.
    trousdale = lambda state: row(state, "Trousdale County Sheriff's Office", "Warrant Service Officer", None, county="Trousdale County")  # noqa: E731
    mcintosh = row("TEXAS", "McIntosh County Sheriff's Office", "Task Force Model", None, county="McIntosh County")
    signed = [row("TENNESSEE", "Trousdale County Sheriff's Office", "Warrant Service Officer", "2025-03-05", county="Trousdale County"),
              row("OKLAHOMA", "McIntosh County Sheriff's Office", "Task Force Model", "2025-03-02", county="McIntosh County")]
    apps = _pending_walk([[trousdale("TEXAS"), mcintosh], [trousdale("TEXAS")], [trousdale("TENNESSEE")], []],
                         [OTHER, OTHER, OTHER, OTHER + signed])
    assert apps == [("OK", "McIntosh County Sheriff's Office", "TX", "2025-03-02", "signed"),  # went straight to the list, in Oklahoma
                    ("TN", "Trousdale County Sheriff's Office", "TX", "2025-03-02", "signed")]  # one application from its first printing


def test_a_pending_application_in_a_state_that_has_its_county_stays_there():
    # Washington County is in Texas and in Arkansas: two bodies, however alike their rows.
    texas = row("TEXAS", "Washington County Sheriff's Office", "Task Force Model", None, county="Washington County")
    arkansas = row("ARKANSAS", "Washington County Sheriff's Office", "Task Force Model", "2025-03-03", county="Washington County")
    apps = _pending_walk([[texas], []], [OTHER, OTHER + [arkansas]])
    assert apps == [("TX", "Washington County Sheriff's Office", None, "2025-03-02", "removed without an agreement")]
    # With no COUNTY printed, the town the name names: Heritage Creek is a town of Kentucky, not of Florida (and Pembroke,
    # printed under Florida with no next printing elsewhere, stays).
    heritage = row("FLORIDA", "Heritage Creek Police Department", "Task Force Model", None)
    pembroke = row("FLORIDA", "Pembroke Police Department", "Task Force Model", None)
    listed = row("KENTUCKY", "Heritage Creek Police Department", "Task Force Model", "2025-03-03")
    apps = _pending_walk([[heritage, pembroke], []], [OTHER, OTHER + [listed]])
    assert apps == [("FL", "Pembroke Police Department", None, "2025-03-02", "removed without an agreement"),
                    ("KY", "Heritage Creek Police Department", "FL", "2025-03-02", "signed")]
    # Palmer County is a county of no state: nowhere to move it.
    palmer = row("TEXAS", "Palmer County Sheriff's Office", "Warrant Service Officer", None, county="Palmer County")
    apps = _pending_walk([[palmer], []], [OTHER, OTHER])
    assert apps == [("TX", "Palmer County Sheriff's Office", None, "2025-03-02", "removed without an agreement")]


def test_a_pending_application_printed_with_a_typo_joins_the_name_that_followed():
    # Rule pending_renamed, on the pending list (the next list's new row) and on the participating list.
    cartert = row("NORTH CAROLINA", "Cartert County Sheriff's Office", "Warrant Service Officer", None, county="Carteret County")
    carteret = row("NORTH CAROLINA", "Carteret County Sheriff's Office", "Warrant Service Officer", None, county="Carteret County")
    minehaha = row("SOUTH DAKOTA", "Minehaha County Sheriff's Office", "Warrant Service Officer", None)
    signed = [row("NORTH CAROLINA", "Carteret County Sheriff's Office", "Warrant Service Officer", "2025-03-04", county="Carteret County"),
              row("SOUTH DAKOTA", "Minnehaha County Sheriff's Office", "Warrant Service Officer", "2025-03-03")]
    apps = _pending_walk([[cartert, minehaha], [carteret], []], [OTHER, OTHER, OTHER + signed])
    assert apps == [("NC", "Carteret County Sheriff's Office", None, "2025-03-02", "signed"),  # from Cartert's first printing
                    ("SD", "Minehaha County Sheriff's Office", None, "2025-03-02", "signed")]


def test_a_pending_name_is_compared_without_its_states_name_and_with_its_county():
    # "Department of Public Safety" printed under Montana is the Montana Department of Public Safety; a constable
    # district printed with its COUNTY is that county's constable district of the same number, not another's.
    dps = row("MONTANA", "Department of Public Safety", "Task Force Model", None)
    constable = row("TENNESSEE", "Tennessee State Constable 4th District Polk County", "Task Force Model", None, county="Polk County")
    signed = [row("MONTANA", "Montana Department of Public Safety", "Task Force Model", "2025-03-03"),
              row("TENNESSEE", "Polk County Constable District 4", "Task Force Model", "2025-03-03", county="Polk County"),
              row("TENNESSEE", "Polk County Constable District 2", "Task Force Model", "2025-03-03", county="Polk County")]
    apps = _pending_walk([[dps, constable], []], [OTHER, OTHER + signed])
    assert apps == [("MT", "Department of Public Safety", None, "2025-03-02", "signed"),
                    ("TN", "Tennessee State Constable 4th District Polk County", None, "2025-03-02", "signed")]


def test_a_corrected_pending_name_joins_the_right_one_and_keeps_the_ids_it_was_printed_with():
    # Rule corrected_ids on the pending list: a line of data/corrections.csv names "St. Charles Place" as the parish
    # it is. The corrected printings join the run printed right and the agreement signed after; the runs as printed
    # (the ids earlier builds published) lead to the applications they are now part of.
    from open287g import places, resolve
    from open287g.agencies import CORRECTED, build_agencies
    from open287g.fixes import apply_corrections

    place = lambda model: row("LOUISIANA", "St. Charles Place Sheriff's Office", model, None)  # noqa: E731
    parish = row("LOUISIANA", "St. Charles Parish Sheriff's Office", "Task Force Model", None)
    signed = row("LOUISIANA", "St. Charles Parish Sheriff's Office", "Warrant Service Officer", "2025-03-04")
    line = {"column": "agency", "wrong": "St. Charles Place Sheriff's Office", "right": "St. Charles Parish Sheriff's Office",
            "agency": "", "signed_on": "", "reason": "made up", "source": "made up"}
    pending = publications([place("Task Force Model")], [place("Task Force Model"), place("Warrant Service Officer")], [parish], [parish])
    before = resolve.pending_applications(pending, {})
    (*corrected,), _, printed = apply_corrections(pending, [line])
    lineage = walk(OTHER, OTHER, OTHER, OTHER + [signed])
    apps = resolve.pending_applications(corrected, lineage.agreements, places.county_fips, state_names=STATES, printed=dict(printed))
    assert sorted((a["agency"], a["model"], a["first_seen"][:10], a["outcome"]) for a in apps) == [
        ("St. Charles Place Sheriff's Office", "TFM", "2025-03-02", "pending"),  # one application, printed right from 4 March
        ("St. Charles Place Sheriff's Office", "WSO", "2025-03-03", "signed")]
    agencies = build_agencies(lineage, apps)
    aliases = {x["alias"]: (x["table_name"], x["id"], x["reason"]) for x in agencies.aliases}
    tfm, wso = sorted(apps, key=lambda a: a["model"])
    was = {(a["model"], a["first_seen"][:10]): a["id"] for a in before}  # the three applications the rows made as printed
    assert aliases[was[("TFM", "2025-03-02")]] == aliases[was[("TFM", "2025-03-04")]] == ("pending_applications", tfm["id"], CORRECTED)
    assert aliases[was[("WSO", "2025-03-03")]] == ("pending_applications", wso["id"], CORRECTED)
    (agency,) = set(agencies.of_application.values())
    from open287g.ids import short_id
    assert aliases[short_id("LA", identity.norm_agency("St. Charles Place Sheriff's Office"))] == ("agencies", agency, CORRECTED)


def test_two_counties_a_typo_apart_are_two_bodies_on_the_pending_list():
    taylor = row("TEXAS", "Taylor County Sheriff's Office", "Task Force Model", None, county="Taylor County")
    baylor = row("TEXAS", "Baylor County Sheriff's Office", "Task Force Model", "2025-03-03", county="Baylor County")
    apps = _pending_walk([[taylor], []], [OTHER, OTHER + [baylor]])
    assert apps == [("TX", "Taylor County Sheriff's Office", None, "2025-03-02", "removed without an agreement")]


@pytest.mark.parametrize("line,reason", [
    ("MO,Missouri State Highway Patrol,,a reason,a source", "line 2: missing same_as"),
    ("Misery,Missouri State Highway Patrol,Missouri Highway Patrol,a reason,a source", "line 2: 'Misery' is not a US state or territory"),
])
def test_a_broken_same_agencies_line_is_one_line_naming_the_file_and_line(tmp_path, line, reason):
    from open287g.agencies import LinksError, load_links

    path = tmp_path / "same_agencies.csv"
    path.write_text("state,name,same_as,reason,source\n" + line + "\n", encoding="utf-8")
    with pytest.raises(LinksError) as e:
        load_links(path)
    assert str(e.value) == f"same_agencies.csv {reason}"


def test_a_pending_row_without_a_model_is_the_application_of_the_model_signed():
    # Rule pending_model_blank
    blank = row("KANSAS", "Sedgwick County Sheriff's Office", None, None, county="Sedgwick County")
    signed = row("KANSAS", "Sedgwick County Sheriff's Office", "Warrant Service Officer", "2025-03-03", county="Sedgwick County")
    assert _pending_walk([[blank], []], [OTHER, OTHER + [signed]]) == [("KS", "Sedgwick County Sheriff's Office", None, "2025-03-02", "signed")]
    assert _pending_walk([[blank], []], [OTHER, OTHER]) == [("KS", "Sedgwick County Sheriff's Office", None, "2025-03-02", "removed without an agreement")]


def test_the_pending_pairs_weighed_are_kept_and_give_the_same_answers(tmp_path):
    from open287g import places, resolve
    from open287g.cachekey import Kept

    cartert = row("NORTH CAROLINA", "Cartert County Sheriff's Office", "Warrant Service Officer", None, county="Carteret County")
    signed = row("NORTH CAROLINA", "Carteret County Sheriff's Office", "Warrant Service Officer", "2025-03-04", county="Carteret County")
    lineage = walk(OTHER, OTHER, OTHER + [signed])
    pending = publications([cartert], [], [])
    kept = Kept(tmp_path, "pending-pairs", "k")

    def build(pubs):
        answers = kept.answers()
        apps = resolve.pending_applications(pubs, lineage.agreements, places.county_fips, answers, STATES)
        answers.save()
        return apps, answers

    first, answers = build(pending)
    assert list(answers.used.values()) == ["pending_renamed"] and kept.load() == answers.used  # the one pair weighed: Cartert and Carteret
    again, answers = build(pending)
    assert again == first and answers.kept == answers.used  # answered from the cache
    # a pair no longer weighed is dropped
    build(publications([], [], []))
    assert kept.load() == {}


def test_an_addendum_read_as_an_agreement_of_its_own_is_still_its_agencys():
    # Rule addendum: no agreement of the agency is on the list beside its addendum, so the addendum is read as one;
    # the agency is the one it names, under that agency's name (San Bernardino County, roster of April 2014).
    from open287g.agencies import build_agencies

    lin = walk(OTHER + [row("FLORIDA", "Lake County Sheriff's Office", "Jail Enforcement Model", "2005-11-19")],
               OTHER,
               OTHER + [row("FLORIDA", "Lake County Sheriff's Office Addendum", "Jail Enforcement Model", "2013-10-11")])
    assert statuses(lin) == [("Harris County Sheriff's Office", "JEM", "active"), ("Lake County Sheriff's Office", "JEM", "ended"),
                             ("Lake County Sheriff's Office Addendum", "JEM", "active")]
    agencies = build_agencies(lin, [])
    lake = [a for a in agencies.rows.values() if a["state_code"] == "FL"]
    assert [(a["name"], a["agreements_total"]) for a in lake] == [("Lake County Sheriff's Office", 2)]


def test_an_agencys_county_is_the_one_printed_last_on_either_list():
    # Rule printed_last: the pending list printed the (made-up) department under one county, the participating list
    # under another on every list since: the agency's COUNTY is the later printing, whichever list it is on.
    from open287g import places, resolve
    from open287g.agencies import build_agencies

    pending = row("TEXAS", "Madeup Police Department", "Task Force Model", None, county="Lavaca County")
    signed = row("TEXAS", "Madeup Police Department", "Task Force Model", "2025-03-03", county="Jones County")
    lineage = walk(OTHER, OTHER, OTHER + [signed], OTHER + [signed])
    apps = resolve.pending_applications(publications([pending], [pending]), lineage.agreements, places.county_fips, state_names=STATES)
    assert [(a["county"], a["outcome"]) for a in apps] == [("Lavaca County", "signed")]
    (agency,) = [a for a in build_agencies(lineage, apps).rows.values() if a["name"] == "Madeup Police Department"]
    assert agency["county"] == "Jones County"
    # printed again on the pending list after its agreement's last printing: that printing is the newer
    later = publications([], [], [], [], [pending], start=datetime.date(2025, 3, 3))
    apps = resolve.pending_applications(later, lineage.agreements, places.county_fips, state_names=STATES)
    (agency,) = [a for a in build_agencies(lineage, apps).rows.values() if a["name"] == "Madeup Police Department"]
    assert agency["county"] == "Lavaca County"
    # printed on both lists the same day: the participating list's printing wins the tie
    same_day = publications([], [], [], [], [pending], start=datetime.date(2025, 2, 28))
    (madeup,) = [a for a in lineage.agreements.values() if a.agency == "Madeup Police Department"]
    assert same_day[-1].published_at == madeup.last_seen
    apps = resolve.pending_applications(same_day, lineage.agreements, places.county_fips, state_names=STATES)
    (agency,) = [a for a in build_agencies(lineage, apps).rows.values() if a["name"] == "Madeup Police Department"]
    assert agency["county"] == "Jones County"
    # within one run of the pending list too: a COUNTY left blank, then printed, is the application's
    blank = row("TEXAS", "Madeup Police Department", "Task Force Model", None, county=None)
    apps = resolve.pending_applications(publications([blank], [pending], [blank]), {}, places.county_fips, state_names=STATES)
    assert [a["county"] for a in apps] == ["Lavaca County"]
