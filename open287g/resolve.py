"""Reads dated publications and writes listings (each distinct printed row with its span of publications) and pending applications."""
import datetime
import hashlib
from itertools import count
from operator import attrgetter

from .cachekey import Answers, cache_key, with_imports
from .identity import compare_names, county_words, known, norm_agency, same_place
from .ids import short_id, sortable
from .lineage import publication_digest
from .rules import CODES


_content = attrgetter("content_repr")  # a str: its hash is kept, where a tuple's is computed on each lookup


def listing_spans(members, checkpoints=None):
    """Each distinct printed row of one list stored once per unbroken run of publications that carried it:
    [(the row key, the listing)], the key for link_listings.

    A span's end (its last publication, sheet row and count) is written when it closes, not on every
    publication it runs through: most publications re-publish the one before unchanged.

    checkpoints (optional, pipeline.Checkpoints) keeps the state before the newest publication between builds:
    when every publication up to one is what an earlier build went through (span_keys), this resumes there."""
    listings, open_spans, keys, opened, order, created = [], {}, {}, {}, {}, count()
    previous = previous_rows = last = None
    previous_i = last_i = -1
    steps = span_keys(members, checkpoints.rows_key) if checkpoints else []
    found = checkpoints.load(steps) if checkpoints else None
    start = 0
    if found:
        start, (listings, open_spans, keys, opened, order, next_order, previous_i, last_i) = found[0] + 1, found[1]
        created = count(next_order)
        if previous_i >= 0:
            previous, previous_rows, last = members[previous_i], _printed(members[previous_i]), members[last_i]

    def close(key):
        span = open_spans.pop(key)
        span.update(last_publication_id=last.id, last_seq=last.seq, last_sheet_row=previous.sheet_rows[previous_rows[key]], last_seen=last.published_at)
        span["publications"] = last_i - opened.pop(key) + 1  # a run of consecutive publications
        del order[key]
        return keys.pop(key), span

    for i in range(start, len(members)):
        p = members[i]
        if previous is not None and p.rows == previous.rows and p.sheet_rows == previous.sheet_rows:
            # Re-published unchanged (rows are shared objects, so this compare is cheap): every span goes on.
            last, last_i = p, i
        else:
            current = _printed(p)
            gone = open_spans.keys() - current.keys()
            listings.extend(close(key) for key in sorted(gone, key=order.__getitem__))  # in the order they opened
            for key in sorted(current.keys() - open_spans.keys(), key=current.__getitem__):  # in the order printed
                at = current[key]
                row = p.rows[at]
                content, n = row.content, key[1] if type(key) is tuple else 1
                keys[key], opened[key], order[key] = row.key, i, next(created)
                open_spans[key] = {
                    "id": short_id(p.list, *content, n, p.id),  # the first publication's id, not its sequence number
                    "list": p.list,
                    **{k: getattr(row, k) for k in ("state", "agency", "level", "county", "support_type", "signed", "signed_on", "moa", "moa_url", "addendum", "addendum_url")},
                    "state_code": row.state_code,
                    "model": row.model_code,
                    "occurrence": n,
                    "first_publication_id": p.id,
                    "first_seq": p.seq,
                    "first_sheet_row": p.sheet_rows[at],
                    "first_seen": p.published_at,
                    "publications": 0,
                }
            previous, previous_rows, previous_i, last, last_i = p, current, i, p, i
        if checkpoints and i == len(members) - 2:
            # The state before the newest publication: the next build, with ICE's next list after it, resumes here.
            next_order = next(created)
            created = count(next_order)
            checkpoints.save(steps[i], (listings, open_spans, keys, opened, order, next_order, previous_i, last_i))
    listings.extend(close(key) for key in list(open_spans))
    return listings


def span_keys(members, rows_key):
    """One key per publication of a list: what listing_spans' state after members[i] depends on, every publication
    up to it in order (lineage.publication_digest, with its number and list) and this code."""
    h = hashlib.sha256(cache_key(*with_imports(__name__, "open287g.records")).encode())
    h.update(repr(rows_key).encode())
    row_digests, keys = {}, []
    for p in members:
        h.update(publication_digest(p, rows_key, row_digests, p.seq, p.list))
        keys.append(h.hexdigest()[:24])
    return keys


def _printed(p):
    """{key: the row's place in p.rows} of a publication, in the order printed. The key is the row's content (its
    repr) for its first printing, (content, n) for the n-th printing of an exact duplicate row (n from 2): one
    str a row, no tuple, in nearly every list."""
    contents = list(map(_content, p.rows))
    if len(set(contents)) == len(contents):  # no duplicate row, as in nearly every list: built without a Python loop
        return dict(zip(contents, count()))
    seen, current = {}, {}
    for at, content in enumerate(contents):
        n = seen[content] = seen.get(content, 0) + 1
        current[content if n == 1 else (content, n)] = at
    return current


def link_listings(spans, lineage, apps, agencies):
    """Listings with the agreement, pending application and agency each printed row belongs to: a participating
    row by its key (after hand corrections, the key the lineage walked), a pending one by its agency and model
    and the dates its application was listed."""
    app_index = {}
    for app in apps:
        for state, agency in sorted({app["agency_key"], *app["printed_keys"]}):  # and the states ICE misprinted
            app_index.setdefault((state, agency, app["model"]), []).append(app)
    out = []
    for key, listing in spans:
        if listing["list"] == "participating":
            agreement_id = lineage.by_key.get(key)
            agency = agencies.of_agreement[agreement_id] if agreement_id else None
            out.append(dict(listing, agreement_id=agreement_id, pending_application_id=None, agency_id=agency))
            continue
        app = next((a for a in app_index.get(key[:3], []) if a["first_seen"] <= listing["first_seen"] <= a["last_seen"]), None)
        out.append(dict(listing, agreement_id=None, pending_application_id=app["id"] if app else None,
                        agency_id=agencies.of_application[app["id"]] if app else None))
    return out


def pending_applications(members, agreements, county_of=None, answers=None, state_names=None, town_of=None, printed=None):
    """One row per (agency, model) run on the pending list, linked to the agreement it became (or the one listed already
    when it was printed), if any. With county_of ((state, COUNTY text, fuzzy) -> FIPS or None), an application printed
    under the wrong state or a misspelt name is joined to what ICE printed next (_continued, which keeps the pairs it
    weighed in answers, a cachekey.Answers; state_names, {postal code: name}, lets names be compared without the
    state's own name, as lineage compares them; town_of(state, name) says whether a name names a town of the state).

    Rule corrected_ids: printed, {corrected row: its row key as printed}, gives each application the names and ids
    its rows had as printed, where data/corrections.csv moved them (corrected_keys, corrected_ids): the runs ICE
    printed under the wrong name were applications of their own in earlier builds, whose ids now lead here."""
    apps, open_apps = [], {}
    printed, printed_open = printed or {}, set()  # the body keys as printed in a run now
    signed_index = {}
    for a in sorted(agreements.values(), key=lambda a: (a.first_seen, a.id)):
        # Any name the agreement was printed under can be the name it had on the pending list.
        for name_key in sorted(a.name_keys | {a.agency_key}, key=sortable):
            signed_index.setdefault((*name_key, a.model), []).append(a)
    for p in members:
        current = {}
        for row in p.rows:
            key = row.body_key
            current.setdefault(key, row)
        for key in list(open_apps):
            if key not in current:
                app = open_apps.pop(key)
                app["removed_publication_id"] = p.id
                app["removed_at"] = p.published_at
                apps.append(app)
        for key, row in current.items():
            app = open_apps.get(key)
            if app is None:
                open_apps[key] = app = {
                    "id": short_id("pending", *key, p.id),
                    "state_code": key[0],
                    "agency": row.agency,
                    "agency_key": key[:2],
                    "model": key[2],
                    "support_type": row.model or row.support_type,
                    "level": row.level_clean,
                    "county": row.county,
                    "first_publication_id": p.id,
                    "first_seen": p.published_at,
                    "state_printed_first": None,
                    "agency_printed_first": None,
                    "joined_by": None,
                    "printed_keys": (key[:2],),
                    "merged_ids": (),
                    "corrected_keys": (),
                    "corrected_ids": (),
                }
            app.update(last_publication_id=p.id, last_seen=p.published_at)
            # Rule printed_last: TYPE and COUNTY as this run printed them last (ICE corrects them on later lists)
            if row.level_clean:
                app["level"] = row.level_clean
            if row.county:
                app["county"] = row.county
        if printed:  # the runs as printed, of every row: a corrected run can join a run printed right
            shown = {}
            for row in p.rows:
                shown.setdefault(printed.get(row, row.key)[:3], row.body_key)
            printed_open &= shown.keys()
            for was, key in sorted(shown.items(), key=lambda kv: repr(kv[0])):
                if was not in printed_open:  # a run as printed starts: earlier builds gave it this id
                    printed_open.add(was)
                    app = open_apps[key]
                    if was != key:
                        app["corrected_keys"] = tuple(sorted({*app["corrected_keys"], was[:2]}, key=sortable))
                    app["corrected_ids"] = tuple(sorted({*app["corrected_ids"], short_id("pending", *was, p.id)} - {app["id"]}))
    for app in open_apps.values():
        app["removed_publication_id"] = app["removed_at"] = None
        apps.append(app)
    if county_of:
        apps = _continued(apps, agreements, signed_index, county_of, Answers() if answers is None else answers, state_names or {},
                          town_of or (lambda state, name: False))
    for app in apps:
        # Rule pending_model_blank: a row with no SUPPORT TYPE is an application of whichever model the agency signs
        # (Sedgwick County Sheriff's Office, Kansas, pending on 28 October 2025, WSO listed 4 November).
        models = CODES if app["model"] is None else (app["model"],)
        held = [a for m in models for a in signed_index.get((app["state_code"], app["agency_key"][1], m), [])]
        later = [a for a in held if a.first_seen >= app["first_seen"]]
        match = min(later, key=lambda a: (a.first_seen, a.id)) if later else None
        # Rule pending_already_listed: ICE's pending list has printed agencies whose agreement of the model was on
        # the participating list already (24 of the 53 on 16 March 2025): no application that came to nothing.
        listed = [a for a in held if a.first_seen < app["first_seen"] <= a.last_seen]
        before = max(listed, key=lambda a: (a.first_seen, a.id)) if listed and not match else None
        linked = match or before
        app["agreement_id"] = linked.id if linked else None
        app["signed_on"] = linked.signed_on if linked else None
        app["days_to_listed"] = _days(app["first_seen"], match.first_seen) if match else None
        if match:
            app["outcome"] = "signed"
        elif before:
            app["outcome"] = "already listed"
        else:
            app["outcome"] = "pending" if app["removed_at"] is None else "removed without an agreement"
    return apps


def _continued(apps, agreements, signed_index, county_of, answers, state_names, town_of):
    """Applications ICE printed under a wrong state or a misspelt name, joined to what it printed next.

    Two rules, each applied only to a sole pair (the one candidate of an application that is the candidate of no
    other) and only to an application with no agreement of its exact state, name and model listed at or after its
    first printing:
    - pending_state_misprinted: the state printed has no county of the application's COUNTY (with no COUNTY printed,
      no town its name names), and the same name and model, with that county, is printed under a state that has it
      (Kershaw County Sheriff's Office: FLORIDA on 3-6 April 2025, then SOUTH CAROLINA; Heritage Creek Police
      Department: FLORIDA on 28-29 April 2025, then listed in Kentucky);
    - pending_renamed: the same state and model, names that identity.compare_names reads as one body reworded or
      with a typo (Cartert / Carteret County Sheriff's Office; Palmer / Parmer County Sheriff's Office), and no two
      counties printed (Taylor / Baylor County Sheriff's Office are two).
    The printing that follows is an application on the pending list from the publication that dropped this one,
    which then starts at this one's first printing and keeps its own id (this id goes to merged_ids); or else an
    agreement on the participating list at or after this one's first printing, whose agency the application then
    belongs to (signed, or already listed). signed_index is pending_applications': (state, name, model) -> agreements.

    answers (cachekey.Answers: pair of printings -> rule or None) keeps each pair's answer between builds: weighing
    names and counties is most of the cost, and a rebuild weighs the same pairs.
    """
    # On the participating list at or after the application's first printing: signed after it, or listed already.
    signed = {app["id"] for app in apps
              if any(a.last_seen >= app["first_seen"] for a in signed_index.get((*app["agency_key"], app["model"]), ()))}
    open_ = [app for app in sorted(apps, key=lambda x: (x["first_seen"], x["id"])) if app["id"] not in signed]
    by_start = {}
    for app in apps:
        by_start.setdefault(app["first_publication_id"], []).append(app)

    def rule(app, state, spellings, own, county):
        """The rule that makes a printing under state, names and county this application's, or None: spellings are
        the names printed, own the (state, normalised name) keys of this body among them."""
        pair = (app["state_code"], app["agency"], app["county"], state, spellings, own, county)
        return answers.get(pair, lambda: weigh(app, state, {norm_agency(n): n for n in spellings if (state, norm_agency(n)) in own}, county))

    def misplaced(app, state, county):
        """The application's place is in state, not in the state printed: its COUNTY, or with none printed (on
        either side), the town its name names."""
        if known(app["county"]):
            return (same_place(county, app["county"]) and not county_of(app["state_code"], app["county"], True)
                    and bool(county_of(state, app["county"], False)))
        return not known(county) and not town_of(app["state_code"], app["agency"]) and town_of(state, app["agency"])

    def weigh(app, state, names, county):
        if state != app["state_code"]:
            return "pending_state_misprinted" if app["agency_key"][1] in names and misplaced(app, state, county) else None
        if known(app["county"]) and known(county):
            if not same_place(app["county"], county):
                return None
            ours, theirs = county_of(state, app["county"], False), county_of(state, county, False)
            if ours and theirs and ours != theirs:
                return None  # Taylor and Baylor County, Texas: a typo's distance apart, two counties
        # The state's own name says nothing within the state: "Department of Public Safety" (MS), then "Mississippi ...".
        st = (state_names.get(state, ""), state)
        # As lineage: the words of a COUNTY both print count as the place where one name omits it ("Tennessee State
        # Constable 4th District Polk County", then "Polk County Constable District 4").
        shared = county_words(app["county"], st) if same_place(app["county"], county, st) else frozenset()
        found = [compare_names(app["agency"], name, st, shared) for name in names.values()]
        return "pending_renamed" if any(m and m.relation in ("reworded", "renamed") for m in found) else None

    def sole_pairs(candidates):
        """{application id: (target, rule)} for the applications whose one candidate has no other claimant."""
        claims = {}
        for app_id, found in candidates.items():
            for target, _ in found:
                claims.setdefault(id(target), set()).add(app_id)
        return {app_id: found[0] for app_id, found in candidates.items() if len(found) == 1 and len(claims[id(found[0][0])]) == 1}

    # The pending list's next printing: an application first printed where this one was dropped.
    candidates = {}
    for app in open_:
        found = [(b, r) for b in by_start.get(app["removed_publication_id"], ()) if b["model"] == app["model"]
                 and b is not app and (r := rule(app, b["state_code"], (b["agency"],), (b["agency_key"],), b["county"]))]
        if found:
            candidates[app["id"]] = found
    into = sole_pairs(candidates)
    out, joined = [], {}
    for app in apps:
        if app["id"] in into:
            joined.setdefault(id(into[app["id"]][0]), []).append((app, into[app["id"]][1]))
    for app in apps:
        if app["id"] in into:
            continue
        for earlier, how in joined.get(id(app), ()):
            app = dict(app, first_publication_id=earlier["first_publication_id"], first_seen=earlier["first_seen"],
                       state_printed_first=earlier["state_code"] if earlier["state_code"] != app["state_code"] else app["state_printed_first"],
                       agency_printed_first=earlier["agency"] if earlier["agency"] != app["agency"] else app["agency_printed_first"],
                       joined_by=how, merged_ids=tuple(sorted({*app["merged_ids"], earlier["id"], *earlier["merged_ids"]})),
                       printed_keys=tuple(sorted({*app["printed_keys"], *earlier["printed_keys"]})),
                       corrected_keys=tuple(sorted({*app["corrected_keys"], *earlier["corrected_keys"]}, key=sortable)),
                       corrected_ids=tuple(sorted({*app["corrected_ids"], *earlier["corrected_ids"]})))
        out.append(app)
    # An agreement listed from the application's first printing on: of its state (pending_renamed) or of its name
    # (pending_state_misprinted), each agreement's names worked out once.
    same_state, same_name, printed = {}, {}, {}
    for a in sorted(agreements.values(), key=lambda a: (a.first_seen, a.id)):
        own = tuple(sorted(a.name_keys | {a.agency_key}))  # its names, not those of a body it was relabelled from
        printed[a.id] = (tuple(sorted(a.spellings | {a.agency})), own)
        same_state.setdefault((a.state_code, a.model), []).append(a)
        for _, name in own:
            same_name.setdefault((name, a.model), []).append(a)
    candidates = {}
    for app in out:
        if app["id"] in signed:
            continue
        near = same_state.get((app["state_code"], app["model"]), []) + same_name.get((app["agency_key"][1], app["model"]), [])
        found = []
        for a in sorted({a.id: a for a in near}.values(), key=lambda a: (a.first_seen, a.id)):
            if a.last_seen >= app["first_seen"] and (r := rule(app, a.state_code, *printed[a.id], a.county)):
                found.append((a, r))
        if found:
            candidates[app["id"]] = found
    to = sole_pairs(candidates)
    result = []
    for app in out:
        if app["id"] in to:
            a, how = to[app["id"]]
            key = a.agency_key if how == "pending_renamed" else (a.state_code, app["agency_key"][1])
            app = dict(app, state_code=a.state_code, agency_key=key, joined_by=how,
                       state_printed_first=app["state_printed_first"] or (app["state_code"] if app["state_code"] != a.state_code else None))
        result.append(app)
    return result


def _days(a, b):
    return (datetime.date.fromisoformat(b[:10]) - datetime.date.fromisoformat(a[:10])).days
