"""Reads the agreements, pending applications and data/same_agencies.csv and writes agencies: one per body, joined through renames and the hand-kept links, with an id from its first printed row, a place and the aliases of ids that moved."""
import re
from dataclasses import dataclass
from pathlib import Path

from . import places
from .fixes import data_rows
from .identity import addendum_of, compare_names, norm_agency, same_body
from .ids import short_id, sortable
from .lineage import agreement_id_of


def _one_body(before, after, lineage):
    """A re-signed MOA (not one printed beside the old) under the same body's name, no typo allowed."""
    if before.state_code != after.state_code or not after.re_signed:
        return False
    state = lineage._state(after.state_code)
    name = compare_names(before.agency, after.agency, state)
    return name is not None and name.relation != "relabelled" and same_body(before.agency, after.agency, state)


CORRECTED = "an id made from a row as ICE printed it, before a line of data/corrections.csv corrected it"
# id_aliases' reason for an id made from a pending printing that resolve._continued joined to another, by its rule
MISPRINTED = {"pending_state_misprinted": "an id made from a state ICE misprinted on the pending list",
              "pending_renamed": "an id made from a name ICE misspelt on the pending list"}


class LinksError(ValueError):
    """data/same_agencies.csv cannot be read."""


@dataclass(frozen=True)
class Link:
    """One line of data/same_agencies.csv: two names ICE printed for one body that no rule joins (the roster of
    2011-2017 and the lists of 2025 name a state's highway patrol differently), with why and where it is shown."""
    state: str  # postal code
    name: str
    same_as: str
    reason: str
    source: str

    @property
    def keys(self):
        return (self.state, norm_agency(self.name)), (self.state, norm_agency(self.same_as))


def load_links(path):
    out = []
    for n, r in data_rows(path, LinksError, ("state", "name", "same_as", "reason", "source")):
        state = places.state_postal(r["state"].strip())
        if state is None:
            raise LinksError(f"{Path(path).name} line {n}: {r['state']!r} is not a US state or territory")
        out.append(Link(state, r["name"].strip(), r["same_as"].strip(), r["reason"].strip(), r["source"].strip()))
    return out


@dataclass(frozen=True)
class Agencies:
    rows: dict  # agency id -> its row
    aliases: list  # ids that moved (id_aliases rows)
    of_agreement: dict  # agreement id -> agency id
    of_application: dict  # pending application id -> agency id
    links: tuple = ()  # data/same_agencies.csv's lines, each with applied: whether ICE printed both names


def build_agencies(lineage, apps, locate=places.locate, links=(), moved=()):
    """Group agreements and applications into agencies: same state and name, joined through renames
    (not relabels, which move an agreement to another body) and the links of data/same_agencies.csv. An
    agency's id comes from the first row printed for it, so it does not move when a spelling changes; ids
    that differ from the earlier scheme go into the aliases, with those of the keys data/corrections.csv moved
    (moved: fixes.apply_corrections'). Returns Agencies; the agreements and applications are left as they are."""
    parent = {}

    def find(k):
        while parent.setdefault(k, k) != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    def union(a, b):
        ra, rb = sorted((find(a), find(b)), key=sortable)
        if ra != rb:
            parent[rb] = ra

    agreements_sorted = sorted(lineage.agreements.values(), key=lambda a: (a.first_seen, a.id))
    for a in agreements_sorted:
        for k in sorted({(k[0], k[1]) for k in a.keys}, key=sortable):
            find(k)  # every name ever printed is a group, even one an agreement was relabelled away from
        keys = sorted(a.name_keys | {a.agency_key}, key=sortable)
        for k in keys[1:]:
            union(keys[0], k)
        before = lineage.agreements.get(a.follows) if a.follows else None
        if before and _one_body(before, a, lineage):
            # A re-signed MOA of the same body under a corrected name (City of Mesa PD -> Mesa PD): one agency.
            union(before.agency_key, a.agency_key)
    for a in agreements_sorted:
        # Rule addendum: "<agency> (Addendum)" read as an agreement of its own (no agreement of that agency was on the
        # list with it: San Bernardino County's of October 2013, on the roster of April 2014) is still that agency's.
        base = addendum_of(a.agency)
        if base and (a.state_code, norm_agency(base)) in parent:
            union((a.state_code, norm_agency(base)), a.agency_key)
    for app in apps:
        for k in sorted(app["printed_keys"], key=sortable):  # the states ICE misprinted (rule pending_state_misprinted)
            union(app["agency_key"], k)
        for k in app["corrected_keys"]:  # the names data/corrections.csv corrected (rule corrected_ids)
            union(app["agency_key"], k)
        find(app["agency_key"])
    report, linked = [], set()
    for link in links:
        a, b = link.keys
        applied = a in parent and b in parent  # both names printed (a key is in parent once printed)
        if applied:
            union(a, b)
            linked |= {a, b}
        report.append({"state_code": link.state, "name": link.name, "same_as": link.same_as, "reason": link.reason,
                       "source": link.source, "applied": int(applied)})
    members_of, apps_of = {}, {}
    for a in agreements_sorted:
        members_of.setdefault(find(a.agency_key), []).append(a)
    for app in sorted(apps, key=lambda x: (x["first_seen"], x["id"])):
        apps_of.setdefault(find(app["agency_key"]), []).append(app)
    groups = {}
    for k in sorted(parent, key=sortable):
        groups.setdefault(find(k), []).append(k)
    agencies, aliases, empty = {}, [], []
    of_agreement, of_application = {}, {}  # agreement id -> agency id; pending application id -> agency id
    for root in sorted(groups, key=sortable):
        keys = groups[root]
        agreements = members_of.get(root, [])
        applications = apps_of.get(root, [])
        if not agreements and not applications:
            empty.append(keys)  # a name an agreement was relabelled away from, held by nothing now
            continue
        # The first row ICE printed for this body names it for good.
        # The first name of this body ICE printed (not a name an agreement carried before it was relabelled here).
        group = set(keys)
        # A name ICE's files of 2021 on printed comes before one only the 2011-2017 roster printed (rule history_ids).
        roster_only = lambda seen: bool(lineage.files_from) and seen < lineage.files_from  # noqa: E731
        firsts = [(roster_only(seen), seen, sortable(k)) for a in agreements for k, seen in a.names_first_seen.items() if k in group]
        # A printing a rule joined as a misprint (joined_by) names no body: it carries the key of what it joined, dated
        # by its own first printing (Tennessee State Constable 4th District Polk County, then an agreement renamed since).
        firsts += [(False, x["first_seen"], sortable(x["agency_key"])) for x in applications if not x.get("joined_by")]
        firsts = firsts or [(False, x["first_seen"], sortable(x["agency_key"])) for x in applications]
        first_key = min(firsts)[2]
        agency_id = short_id(*first_key)
        n = 0
        while agency_id in agencies:  # cannot happen while every name belongs to one group; kept unique regardless
            n += 1
            agency_id = short_id(*first_key, n)
        misprinted = {k for x in applications for k in x["printed_keys"] if k[0] != x["state_code"]}
        corrected = {k for x in applications for k in x["corrected_keys"]}
        for legacy, k in sorted({short_id(*k): k for k in keys}.items()):
            if legacy != agency_id:
                reason = (CORRECTED if k in corrected else MISPRINTED["pending_state_misprinted"] if k in misprinted else
                          "an id made from a name data/same_agencies.csv joins to this agency" if k in linked else
                          "an id made from another spelling of this agency")
                aliases.append({"alias": legacy, "table_name": "agencies", "id": agency_id, "reason": reason})
        by_last = sorted(agreements, key=lambda a: (a.last_seen, a.id))
        apps_by_last = sorted(applications, key=lambda x: (x["last_seen"], x["id"]))
        # The name printed last, an addendum's aside (its agency's name is the one it names: rule addendum).
        named = [a for a in by_last if not addendum_of(a.agency)] or by_last
        newest_name = named[-1].agency if named else apps_by_last[-1]["agency"]
        spellings = sorted({s for a in agreements for s in a.spellings if (a.state_code, norm_agency(s)) in keys} | {a.agency for a in agreements}
                           | {n for x in applications for n in (x["agency"], x.get("agency_printed_first")) if n})  # a misspelt pending printing too
        # TYPE and COUNTY as printed last on either list: a pending printing is older than the agreement it became
        # (City of Miami PD: "State" on the pending list in August 2025, "Municipality" on every participating list
        # since); the participating list's wins a tie.
        # The state likewise: a row printed under a wrong state first (Wichita County OK -> TX) is corrected.
        printings = sorted([(a.last_seen, 1, a.id, a.level, a.county, a.state_code) for a in agreements]
                           + [(x["last_seen"], 0, x["id"], x["level"], x["county"], x["state_code"]) for x in applications])
        level, county, state_code = (next((p[i] for p in reversed(printings) if p[i]), None) for i in (3, 4, 5))
        active = [a for a in agreements if a.status == "active"]
        spot = locate(state_code, newest_name, level, county)
        agencies[agency_id] = {
            "id": agency_id,
            "name": newest_name,
            "state_code": state_code,
            "level": level,
            "county": county,
            "spellings": spellings,
            "models_active": ", ".join(sorted({a.model for a in active if a.model})),
            "models_ever": ", ".join(sorted({a.model for a in agreements if a.model})),
            "agreements_active": len(active),
            "agreements_total": len(agreements),
            "status": "active" if active else ("ended" if agreements else "pending only"),
            "first_seen": min([a.first_seen for a in agreements] + [x["first_seen"] for x in applications]),
            "last_seen": max([a.last_seen for a in agreements] + [x["last_seen"] for x in applications]),
            **spot,
        }
        for a in agreements:
            of_agreement[a.id] = agency_id
        for x in applications:
            of_application[x["id"]] = agency_id
    # A name no body holds any more (Gulf County BOCC, relabelled to the Sheriff's Office; Cass County MT,
    # moved to MN) leads to the agency that now holds the agreement printed under it.
    holder = {}
    for a in agreements_sorted:
        for k in sorted({(k[0], k[1]) for k in a.keys}, key=sortable):
            holder.setdefault(k, of_agreement[a.id])
    taken = set(agencies) | {x["alias"] for x in aliases}
    for keys in empty:
        for k in keys:
            legacy = short_id(*k)
            if k in holder and legacy not in taken:
                taken.add(legacy)
                aliases.append({"alias": legacy, "table_name": "agencies", "id": holder[k], "reason": "an id made from a name ICE later corrected (moved to another state or body)"})
    app_ids = {app["id"] for app in apps}
    for app in apps:
        for legacy in app["merged_ids"]:
            aliases.append({"alias": legacy, "table_name": "pending_applications", "id": app["id"], "reason": MISPRINTED[app["joined_by"]]})
    for app in sorted(apps, key=lambda x: x["id"]):  # rule corrected_ids: the ids of the runs as printed
        for legacy in app["corrected_ids"]:
            if legacy not in app_ids and legacy not in app["merged_ids"]:
                app_ids.add(legacy)
                aliases.append({"alias": legacy, "table_name": "pending_applications", "id": app["id"], "reason": CORRECTED})
    ids = set(lineage.agreements)
    for a in agreements_sorted:
        keys = set(a.keys)
        # A signing date fixed through data/corrections.csv: the id the printed date gave it.
        if a.signed_printed and re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(a.signed_printed)[:10]):
            keys |= {(k[0], k[1], k[2], str(a.signed_printed)[:10]) for k in a.keys}
        for legacy in sorted({agreement_id_of(k) for k in keys} - ids):
            aliases.append({"alias": legacy, "table_name": "agreements", "id": a.id, "reason": "an id made from a later printing of this agreement (renamed, re-dated, moved)"})
    # Rule corrected_ids: a row data/corrections.csv moves to another key (Moore County Sheriff's Office, printed
    # for two days under Tennessee beside Texas's) leaves the ids its printed key gave, which earlier builds
    # published, leading to the agreement and agency the correction put it in.
    taken = set(agencies) | ids | {x["alias"] for x in aliases}
    for printed, fixed in moved:
        agreement = lineage.by_key.get(fixed)
        if agreement is None:
            continue
        for table, legacy, now in (("agreements", agreement_id_of(printed), agreement), ("agencies", short_id(*printed[:2]), of_agreement[agreement])):
            if legacy not in taken:
                taken.add(legacy)
                aliases.append({"alias": legacy, "table_name": table, "id": now, "reason": CORRECTED})
    return Agencies(agencies, aliases, of_agreement, of_application, tuple(report))

