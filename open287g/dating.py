"""Reads the corrected publications and returns them with each one's list, date and order: ICE's file names are checked against content, not trusted."""
import bisect
import datetime
import hashlib
import re

from .cachekey import Answers


# participatingAgencies03272026am.xlsx, pendingAgencies10292025pmB.xlsx, ...12042025pm2.xlsx; also
# separators ICE has not used yet (participating_agencies_04-15-2026_am.xlsx), so that a new habit
# of naming keeps its date instead of falling back to dating by content.
NAME_DATE = re.compile(r"(participating|pending)[ _-]?Agencies[ _-]?(\d{2})[-_.]?(\d{2})[-_.]?(\d{4})[ _-]?(am|pm|mid)?", re.I)
# participatingAgencies-2026-04-15.xlsx: an ISO date (year first, separated, so never a capture time)
NAME_ISO_DATE = re.compile(r"(participating|pending)[ _-]?Agencies[ _-]?(\d{4})-(\d{2})-(\d{2})[ _-]?(am|pm|mid)?", re.I)
# participatingAgencies-20250224183354.xlsx, ParticipatingEntities-20210113002027.xlsx: archive capture times
CAPTURE_NAME = re.compile(r"-(\d{14})(?:__[0-9a-f]{8})?\.xlsx$", re.I)
# am/mid/pm are half-days, not times; these nominal hours only order files of the same day.
SLOT_HOURS = {"am": 9, "mid": 12, "pm": 17, None: 12}
DATE_FIX_MARGIN = 0.3  # a corrected date must fit its neighbours this much better (Jaccard) than the printed one
RANGE_TOLERANCE = datetime.timedelta(days=30)
FIT_NEIGHBOURS = 3  # publications on each side compared when checking a date against content
MIN_FIT_GAIN = 0.05  # a near-perfect fit must also gain this much (0.99 -> 1.00 beside a twin file is no evidence)
FETCH_BEFORE = datetime.timedelta(days=45)  # the daily refresh fetches a file within days of its publication ...
FETCH_AFTER = datetime.timedelta(days=1)  # ... and never before it (am/mid/pm are US half-days; fetch times UTC)
# Excel's save time (docProps/core.xml) against the date in ICE's file name: 431 of 439 files were
# saved 0-7 days before that date; one am file was saved 1.4 days after it (time zones, a late save).
SAVED_SLACK = datetime.timedelta(days=2)  # a name date further before the save than this is impossible
SAVED_WINDOW = datetime.timedelta(days=14)  # ... and a corrected date falls this close after the save
FAR_FIT_MARGIN = 0.02  # an out-of-range name date is corrected only if another date fits the content better than this
TRUNCATED_RATIO = 0.5  # under half the rows of both neighbours is a truncated publication


def fingerprint(rows):
    """Content fingerprint of a publication: the sorted printed rows, independent of order and formatting."""
    h = hashlib.sha256()
    for t in sorted(r.content_repr for r in rows):
        h.update(t.encode())
    return h.hexdigest()[:16]


# What this stage works out; the rest of a publication it only reads.
DECIDED = ("list", "published_at", "date_source", "slot", "seq", "duplicate_of", "truncated")


def date(pubs, similarity=None):
    """Readable publications -> the same, each with its list, publication time, order on its list and marks.
    similarity: a Similarity holding the last build's comparisons (filled with this build's), or None.

    ICE's 2011-2017 roster captures are dated by capture time and come first on the participating list;
    ICE's files of 2021 on are dated by name, checked against content, and numbered after them.
    """
    # Scratch records this stage fills in; the publications it was given are never changed.
    work = [{**p.__dict__, "pub": p, "found": []} for p in pubs]
    for w in work:
        w["list"] = assign_list(w, w["header"])
        w["duplicate_of"], w["truncated"] = None, False
    roster = [w for w in work if w["pub"].is_roster]
    date_publications([w for w in work if not w["pub"].is_roster], similarity or Similarity())
    _order_roster(roster)
    # The roster's captures first on the participating list, then the files of 2021 on, numbered anew.
    files = sorted((w for w in work if w["list"] == "participating" and not w["pub"].is_roster), key=lambda w: w["seq"])
    for seq, w in enumerate(roster + files, start=1):
        w["seq"] = seq
    for w in work:
        w["published_at"] = w["published_at"].isoformat(timespec="seconds")
    return [w["pub"].updated(**{name: w[name] for name in DECIDED}, anomalies=w["pub"].anomalies + tuple(w["found"])) for w in work]


def unreadable_spans(dated):
    """Rule list_gaps: when ICE's participating list cannot be read, as rows of list_gaps. Before the first capture
    of ICE's 2011-2017 roster, and from the last capture to ICE's first file of 2021 on, no list survives.
    Written once here; the as_of query, its page and the agreements' ended_in_gap read the table."""
    participating = sorted((p for p in dated if p.list == "participating"), key=lambda p: p.seq)
    roster = [p for p in participating if p.is_roster]
    files = [p for p in participating if not p.is_roster]
    if not roster or not files:
        return []
    return [{"list": "participating", "after_publication_id": None, "starts": None,
             "before_publication_id": roster[0].id, "ends": roster[0].published_at},
            {"list": "participating", "after_publication_id": roster[-1].id, "starts": roster[-1].published_at,
             "before_publication_id": files[0].id, "ends": files[0].published_at}]


def _order_roster(roster):
    """Roster captures in capture order; a capture that repeats an earlier one's rows is marked as its duplicate."""
    for w in roster:
        w["published_at"] = datetime.datetime.fromisoformat(w["published_at"])
    roster.sort(key=lambda w: w["published_at"])
    _mark_duplicates(roster)
    for w in roster:
        w["list"] = "participating"


def jaccard(a, b):
    if a is b or (not a and not b):  # republished files share one key set (read.Snapshot)
        return 1.0
    common = len(a & b)
    return common / (len(a) + len(b) - common)  # the union's size, without building the union


def assign_list(pub, header):
    """The list a publication belongs to, from its columns: only participating lists have SIGNED.

    ICE has published each list under the other's name (pendingAgencies09222025pm.xlsx holds
    the participating list and participatingAgencies09222025pm.xlsx the pending one).
    """
    named = "pending" if pub["folder"] == "pending" else "participating"
    actual = "participating" if "SIGNED" in header.split("|") else "pending"
    if actual != named:
        pub["found"].append(("swapped_list", None, f"named as the {named} list but its columns ({header}) are the {actual} list's; filed under {actual}"))
    return actual


def name_date(file_name):
    """(datetime, source, slot) from a file name, or (None, None, None)."""
    m = CAPTURE_NAME.search(file_name)
    if m:
        digits = m.group(1)
        try:
            # the 14 digits cut in their places, as strptime reads a real time (a thousand names a build, at a tenth of
            # strptime's cost); strptime decides what is not one
            when = datetime.datetime(*(int(digits[i:j]) for i, j in ((0, 4), (4, 6), (6, 8), (8, 10), (10, 12), (12, 14))))
        except ValueError:
            try:
                when = datetime.datetime.strptime(digits, "%Y%m%d%H%M%S")
            except ValueError:
                when = None  # not a real time: fall through to the other patterns, then to dating by content
        if when is not None:
            return when, "archive capture time in file name", None
    m = NAME_DATE.search(file_name)
    iso = None if m else NAME_ISO_DATE.search(file_name)
    if m or iso:
        if m:
            _, mm, dd, yyyy, slot = m.groups()
        else:
            _, yyyy, mm, dd, slot = iso.groups()
        slot = slot.lower() if slot else None
        try:
            day = datetime.date(int(yyyy), int(mm), int(dd))
        except ValueError:
            return None, None, None
        return datetime.datetime.combine(day, datetime.time(SLOT_HOURS[slot])), "ICE file name", slot
    return None, None, None


def _neighbours(others, when, k=FIT_NEIGHBOURS, dates=None):
    """others sorted by published_at (dates: their published_at, when known) -> up to k publications strictly
    before and k strictly after `when`."""
    dates = dates if dates is not None else [o["published_at"] for o in others]
    i = bisect.bisect_left(dates, when)
    j = bisect.bisect_right(dates, when)
    return others[max(0, i - k):i] + others[j:j + k]


class Similarity:
    """jaccard() of two scratch records' key sets, answered by the pair of their fingerprints: _fix_typed_dates compares
    each pair of neighbours from both sides (3,013 pairs in 5,219 comparisons), and the next build compares the same
    pairs again. answers (cachekey.Answers) holds the last build's (pipeline.kept_similarities: valid while the code
    and the corrections, which make key sets from rows, are unchanged) and records what this build compared."""

    def __init__(self, answers=None):
        self.answers = Answers() if answers is None else answers

    def __call__(self, p, o):
        a, b = p["fingerprint"], o["fingerprint"]
        if a is None or b is None:
            return jaccard(p["keys"], o["keys"])
        return self.answers.get((a, b) if a < b else (b, a), lambda: jaccard(p["keys"], o["keys"]))


def _fit(pub, others, when, dates, similarity):
    """How well content fits at a date: the median similarity to the nearest publications on each side.

    A median, so that one odd neighbour (a truncated or misdated file) cannot move a good file, while
    a misdated file, unlike everything around its printed date, still scores low.
    """
    sims = sorted(similarity(pub, o) for o in _neighbours(others, when, dates=dates))
    if not sims:
        return 0.0
    mid = len(sims) // 2
    return sims[mid] if len(sims) % 2 else (sims[mid - 1] + sims[mid]) / 2


def date_publications(pubs, similarity):
    """Set published_at, date_source, seq and anomalies on the scratch records of ICE's files (see date)."""
    for p in pubs:
        p["published_at"], p["date_source"], p["slot"] = name_date(p["file_name"])
        if p.get("capture_utc") and not p["published_at"]:
            try:
                p["published_at"] = datetime.datetime.strptime(p["capture_utc"], "%Y-%m-%dT%H:%M:%SZ")
                p["date_source"] = "archive capture time in manifest"
            except ValueError:
                p["found"].append(("bad_capture_time", None, f"MANIFEST.csv capture_utc {p['capture_utc']!r} is not a time; ignored"))
    lists = {}
    for p in pubs:
        lists.setdefault(p["list"], []).append(p)
    for members in lists.values():
        _fix_typed_dates(members, similarity)
        _place_undated(members)
    for name, members in lists.items():
        _order(members)
        _mark_name_reuse(members)
        _mark_duplicates(members)
        if name == "participating":  # the pending list really does empty out and refill
            _mark_truncated(members)


def _shift(when, years=0, months=0):
    month = when.month - 1 + months
    year = when.year + years + month // 12
    try:
        return when.replace(year=year, month=month % 12 + 1)
    except ValueError:  # 29 February, 31st of a shorter month
        return None


def _fix_typed_dates(members, similarity):
    """ICE mistyped the year or month in some names: participatingAgencies01052025pm is January 2026,
    participatingAgencies08022025pm holds early September's list.

    A printed date is replaced by the year or month next to it only on evidence:
    - the fetch time (MANIFEST.csv) rules it out: a file cannot be published after it was fetched, and
      the daily refresh fetches each file within days of its publication;
    - the save time rules it out (rule saved_time): a file cannot be published days before Excel last
      saved it, and ICE publishes within days of saving;
    - or the content fits the other date far better than the printed one.
    A shift later than every other publication is never chosen on content alone: there its only
    neighbours are the newest files, so any file looks like it belongs there.
    """
    dated = None  # the members with a date, sorted by it (stably): sorted again only after a date changes
    for p in members:
        if p["date_source"] != "ICE file name":
            continue
        if dated is None:
            dated = sorted((o for o in members if o["published_at"]), key=lambda o: o["published_at"])
            all_dates = [o["published_at"] for o in dated]
            place = {id(o): i for i, o in enumerate(dated)}
            # Archive capture times are trusted; other names may themselves be mistyped (p's own is a name).
            captured = [o["published_at"] for o in dated if "capture" in o["date_source"]]
        i = place.get(id(p))
        others, dates = (dated, all_dates) if i is None else (dated[:i] + dated[i + 1:], all_dates[:i] + all_dates[i + 1:])
        if not others:
            continue
        low = min(captured or dates) - RANGE_TOLERANCE
        newest = dates[-1]
        high = newest + RANGE_TOLERANCE
        printed = p["published_at"]
        fetched = _fetch_bound(p)
        shifts = [w for w in (_shift(printed, y, m) for y, m in ((-1, 0), (1, 0), (0, -1), (0, 1))) if w is not None]
        saved = _saved_time(p)
        ruled_out = _ruled_out_by_own_time(printed, fetched, saved)
        if ruled_out:
            verb, when, fits, source = ruled_out
            near = [w for w in shifts if fits(w)]
            if len(near) == 1:
                _correct(p, printed, near[0], f"file name says {printed:%Y-%m-%d}, but the file was {verb} on {when:%Y-%m-%d}", source)
                dated = None
            else:
                p["found"].append(("date_far_from_neighbours", None, f"file name says {printed:%Y-%m-%d}, but the file was {verb} on {when:%Y-%m-%d} and no one-year or one-month slip explains it; dated as printed"))
            continue
        current = _fit(p, others, printed, dates, similarity)
        out_of_range = not (low <= printed <= high)
        best, best_fit = None, -1.0
        for when in shifts:
            if not (low <= when <= high) or (fetched and not _near_fetch(when, fetched)):
                continue
            if saved and when < saved - SAVED_SLACK:
                continue
            if when > newest and not out_of_range:
                continue
            fit = _fit(p, others, when, dates, similarity)
            if fit > best_fit:
                best, best_fit = when, fit
        if out_of_range and (best is None or best_fit <= current + FAR_FIT_MARGIN):
            # Far from its neighbours, but nothing says another date is right: a correctly named file
            # after a long pause looks just like this. Keep the printed date and say so loudly.
            p["found"].append(("date_far_from_neighbours", None, f"file name says {printed:%Y-%m-%d}, outside the {low:%Y-%m-%d}..{high:%Y-%m-%d} range of this list's other publications; no other date fits its content better{f' and it was fetched {fetched:%Y-%m-%d %H:%M}' if fetched else ''}; dated as printed"))
            continue
        if best is None:
            continue
        gain = best_fit - current
        if out_of_range:
            reason = f"file name says {printed:%Y-%m-%d}, outside the {low:%Y-%m-%d}..{high:%Y-%m-%d} range of this list's other publications"
        elif gain >= DATE_FIX_MARGIN or (best_fit >= 0.95 and gain >= MIN_FIT_GAIN and (1 - best_fit) * 4 < (1 - current)):
            reason = f"file name says {printed:%Y-%m-%d} but the content fits {best:%Y-%m-%d} far better"
        else:
            continue
        _correct(p, printed, best, f"{reason} (similarity to neighbours {current:.2f} -> {best_fit:.2f})")
        dated = None


def _ruled_out_by_own_time(printed, fetched, saved):
    """(verb, time, fits(date), date_source) when the file's fetch or save time rules the printed date out, else None."""
    if fetched and not _near_fetch(printed, fetched):
        return "fetched", fetched, lambda w: _near_fetch(w, fetched), "ICE file name, date corrected from content"
    if saved and printed < saved - SAVED_SLACK:
        return "saved", saved, lambda w: saved - SAVED_SLACK <= w <= saved + SAVED_WINDOW, "ICE file name, date corrected from its save time"
    return None


def _near_fetch(when, fetched):
    return fetched - FETCH_BEFORE <= when <= fetched + FETCH_AFTER


def _correct(p, printed, best, reason, source="ICE file name, date corrected from content"):
    kind = "typo_year" if best.year != printed.year and best.month == printed.month else "typo_month"
    p["found"].append((kind, None, f"{reason}; date corrected to {best:%Y-%m-%d}"))
    p["published_at"], p["date_source"] = best, source


def _timestamp(value):
    """An ISO date-time from MANIFEST.csv or a workbook ("2026-01-05T20:22:43", maybe with a Z), or None."""
    try:
        return datetime.datetime.strptime(value[:19], "%Y-%m-%dT%H:%M:%S") if value else None
    except ValueError:
        return None


def _saved_time(p):
    """When Excel last saved the file (read.extract, from docProps/core.xml), or None."""
    return _timestamp(p.get("saved_at"))


def _fetch_bound(p):
    """The latest a file can have been published: when it was fetched or captured (MANIFEST.csv)."""
    return next((t for t in (_timestamp(p.get(field)) for field in ("fetched_utc", "capture_utc")) if t), None)


def _place_undated(members):
    """A file with no date in its name (pendingAgencies.xlsx) is placed just after its most similar publication."""
    dated = [o for o in members if o["published_at"]]
    for p in members:
        if p["published_at"]:
            continue
        if not dated:
            p["published_at"] = datetime.datetime(1970, 1, 1)
            p["date_source"] = "unknown"
            p["found"].append(("undated", None, "no date in the file name and no dated publication to compare with; dated 1970-01-01"))
            continue
        twin = max(dated, key=lambda o: (jaccard(p["keys"], o["keys"]), o["published_at"]))
        p["published_at"] = twin["published_at"] + datetime.timedelta(minutes=1)
        p["date_source"] = f"inferred from content (most similar: {twin['file_name']})"
        p["found"].append(("undated", None, f"no date in the file name; placed after {twin['file_name']} (similarity {jaccard(p['keys'], twin['keys']):.2f})"))


def _order(members):
    members.sort(key=lambda p: (p["published_at"], p["file_name"]))
    # Files claiming the same half-day are ordered by similarity to what came before.
    i = 0
    while i < len(members):
        j = i
        while j + 1 < len(members) and members[j + 1]["published_at"] == members[i]["published_at"]:
            j += 1
        if j > i and i > 0:
            prev = members[i - 1]
            members[i:j + 1] = sorted(members[i:j + 1], key=lambda p: -jaccard(p["keys"], prev["keys"]))
        i = j + 1
    for seq, p in enumerate(members, start=1):
        p["seq"] = seq


def _base_name(file_name):
    return re.sub(r"(__[0-9a-f]{8}|_b|B|2)?\.xlsx$", "", file_name)


def _mark_name_reuse(members):
    by_claim = {}
    for p in members:
        if p["date_source"] and p["date_source"].startswith("ICE file name"):
            by_claim.setdefault(_base_name(p["original_name"]).lower(), []).append(p)
    for group in by_claim.values():
        if len({p["sha256"] for p in group}) > 1:
            for p in group:
                others = ", ".join(o["file_name"] for o in group if o is not p)
                p["found"].append(("name_reused", None, f"ICE published different content under the same name; also {others}"))


def _mark_duplicates(members):
    seen = {}
    for p in members:
        first = seen.setdefault(p["fingerprint"], p)
        if first is not p:
            p["duplicate_of"] = first["id"]
            p["found"].append(("republished_duplicate", None, f"same content as {first['file_name']} (fingerprint {p['fingerprint']})"))


def _mark_truncated(members):
    for i, p in enumerate(members):
        prev = members[i - 1] if i > 0 else None
        nxt = members[i + 1] if i + 1 < len(members) else None
        sizes = [o["row_count"] for o in (prev, nxt) if o is not None]
        if len(sizes) == 2 and p["row_count"] < TRUNCATED_RATIO * min(sizes):
            p["truncated"] = True
            p["found"].append(("truncated", None, f"{p['row_count']} rows against {sizes[0]} before and {sizes[1]} after; kept as published, not used to infer endings"))
