"""Reads the dated participating publications in order and writes agreements, merges and changes: who continued, who was renamed, re-dated, re-signed, and who ended."""
import bisect
import csv
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from . import identity
from .cachekey import cache_key, with_imports
from .identity import compare_names, county_words, days_between, moa_file_date, moa_file_words
from .ids import short_id, sortable
from .records import pickled_as_tuples
from .rules import MODEL_NAMES

MASS_ENDING_SHARE = 0.10  # a publication dropping more of the list than this is held until confirmed (real maximum: 4.4%)
MASS_ENDING_MIN = 10  # ... and at least this many agreements: on a short list a few endings are a large share
WEAK_SCORE = 0.6  # candidates scoring below this rest on a weak name match: accepted only as a sole pair
DATE_AGREES = 0.15  # an unchanged signing date outweighs a perfect name with a moved date
MISREAD_PRINTINGS = 2  # a name printed in this few publications, in a listed agreement's place, is a misreading of it
DUPLICATE_DAYS = 3  # two rows of one agency and model in one file this close in date are one agreement printed twice


@pickled_as_tuples
@dataclass(slots=True)
class Agreement:
    id: str
    state_code: str
    agency: str
    model: str
    support_type: str
    signed_on: str | None
    signed_printed: str | None
    level: str | None
    county: str | None
    moa_url: str | None
    addendum_url: str | None
    first_publication_id: str
    first_seen: str
    last_publication_id: str
    last_seen: str
    agency_key: tuple  # (state, normalised name) of its newest printed row
    first_key: tuple  # the identity key of the first printed row: the id is made from it
    keys: set = field(default_factory=set)  # every identity key printed for it
    spellings: set = field(default_factory=set)
    name_keys: set = field(default_factory=set)  # (state, name) pairs that are one body (renames, not relabels)
    names_first_seen: dict = field(default_factory=dict)  # (state, name) -> when this agreement was first printed under it
    status: str = "active"
    ended_publication_id: str | None = None
    ended_seen: str | None = None
    superseded_by: str | None = None
    follows: str | None = None
    missing_since: "Seen | None" = None  # the first publication of the current absence  # first publication of the current absence
    missing_count: int = 0
    ever_linked: bool = False  # an MOA link was printed at some point: the date is no longer provisional
    row: dict | None = None
    file_key: tuple | None = None  # the first key printed in ICE's files of 2021 on (not the 2011-2017 roster)
    file_first_seen: str | None = None  # ... when, and whether those files ever printed an MOA link for it
    file_linked: bool = False
    printings: int = 0  # publications walked that printed it (repeats included)
    re_signed: bool = False  # matched as the new MOA of an agreement that left the list (rule re-signed)
    alone: tuple | None = None  # (key, name printed) the last list that printed it once gave it (rule printed_again)


@pickled_as_tuples
@dataclass(frozen=True, slots=True)
class Seen:
    """Where a publication stands in the walk: what an agreement's absence and ending are dated by."""
    id: str
    published_at: str
    file_name: str


@pickled_as_tuples
@dataclass(slots=True)
class Merge:
    agreement_id: str
    merged_key: str
    publication_id: str
    rule: str
    score: float
    evidence: str
    detail: str


@pickled_as_tuples
@dataclass(slots=True)
class Change:
    publication_id: str
    changed_at: str
    kind: str
    agreement_id: str
    state_code: str
    agency: str
    model: str
    before: str | None = None
    after: str | None = None
    detail: str | None = None
    application_id: str | None = None  # a pending->signed change: the pending application it came from

    @property
    def id(self):
        """Made from what the change is, so it follows the agreement's id (rule history_ids renames some after the walk)."""
        if self.kind == "pending->signed":
            return short_id("pending_signed", self.application_id)
        if self.kind == "superseded":
            return short_id(self.publication_id, "superseded", self.agreement_id)
        return short_id(self.publication_id, self.kind, self.agreement_id, self.before, self.after)


def agreement_id_of(key):
    """An agreement's id: the hash of its first printed row's key, with the model as ICE spells it
    (the scheme every earlier build used, so ids of unchanged agreements never moved)."""
    return short_id(key[0], key[1], MODEL_NAMES.get(key[2], key[2]), key[3])


def key_text(key):
    return " | ".join("" if x is None else str(x) for x in key)


def publication_keys(pub):
    return {r.key for r in pub.rows if r.model}


@dataclass
class Candidate:
    score: float
    rule: str
    evidence: str
    detail: str


class Lineage:
    """Walks the participating list in order and keeps agreement identities across ICE's edits."""

    def __init__(self, state_names=None):
        self.agreements = {}  # id -> Agreement
        self.by_key = {}  # identity key -> agreement id, for good: a key printed again is the same agreement
        self.merges = []
        self.changes = []
        self.present = set()  # agreement ids in the last publication walked
        self.last_walked = None  # id of the last publication walked
        self.state_names = state_names or {}
        self.files_from = None  # when the first of ICE's files of 2021 on was published (after the 2011-2017 roster)
        self.held = set()  # ids of publications held back from endings (walk_participating)
        self.resumed = (0, 0)  # (lists taken from a checkpoint, distinct lists) of the last walk
        self.notes = {}  # publication id -> anomalies the walk found about it
        self._printed, self._changed = {}, set()  # the publication being walked's (walk)

    def note(self, pub, *anomalies):
        self.notes.setdefault(pub.id, []).extend(anomalies)

    # -- records
    def change(self, pub, kind, agreement_id, before=None, after=None, detail=None):
        a = self.agreements[agreement_id]
        self.changes.append(Change(
            publication_id=pub.id, changed_at=pub.published_at, kind=kind, agreement_id=agreement_id,
            state_code=a.state_code, agency=a.agency, model=a.model, before=before, after=after, detail=detail,
        ))

    def merge(self, pub, agreement_id, key, cand):
        self.merges.append(Merge(agreement_id, key_text(key), pub.id, cand.rule, round(cand.score, 3), cand.evidence, cand.detail))

    def _new(self, key, row, pub):
        agreement_id = agreement_id_of(key)
        if agreement_id in self.agreements:  # cannot happen while by_key is permanent; kept unique regardless
            agreement_id = short_id(*key, pub.id)
        self.agreements[agreement_id] = Agreement(
            id=agreement_id, state_code=key[0], agency=row.agency, model=key[2], support_type=row.model,
            signed_on=key[3], signed_printed=row.signed, level=row.level_clean, county=row.county,
            moa_url=row.moa_url, addendum_url=row.addendum_url, first_publication_id=pub.id,
            first_seen=pub.published_at, last_publication_id=pub.id, last_seen=pub.published_at,
            agency_key=(key[0], key[1]), first_key=key, name_keys={(key[0], key[1])},
        )
        return agreement_id

    def _take(self, agreement_id, key, row, pub):
        """The agreement is printed in this publication as `row`."""
        a = self.agreements[agreement_id]
        self.by_key[key] = agreement_id
        self._printed.setdefault(agreement_id, []).append(key)
        a.last_publication_id, a.last_seen = pub.id, pub.published_at
        a.printings += 1
        if a.missing_since is not None:
            since = a.missing_since
            self.change(pub, "gap", agreement_id, before=since.published_at[:10], after=pub.published_at[:10],
                        detail=f"missing from {a.missing_count} publication{'s' if a.missing_count != 1 else ''} from {since.file_name}, then listed again")
            a.missing_since, a.missing_count = None, 0
        if a.row is row or a.row == row:  # the row as printed last time (most often the very same object): nothing changed
            return
        a.row = row
        name_key = (key[0], key[1])
        if name_key not in a.name_keys and key in a.keys:
            # Printed again under a name it had before a relabel (FWC -> FDEP -> FWC): that body holds it again.
            a.name_keys = {name_key}
        a.names_first_seen.setdefault(name_key, pub.published_at)
        a.keys.add(key)
        a.spellings.add(row.agency)
        a.agency, a.signed_on, a.signed_printed = row.agency, key[3], row.signed
        a.state_code, a.agency_key = key[0], (key[0], key[1])
        if pub.source_kind != "roster":
            if a.file_key is None:
                a.file_key, a.file_first_seen = key, pub.published_at
            a.file_linked = a.file_linked or bool(row.moa_url)
        if row.moa_url or (pub.source_kind == "roster" and row.moa):  # the roster names the signed MOA's file
            a.ever_linked = True
        for name, value in (("level", row.level_clean), ("county", row.county), ("moa_url", row.moa_url), ("addendum_url", row.addendum_url)):
            if value:
                setattr(a, name, value)

    def _printed_again(self, pub, agreement_id, last, last_agency):
        """Rule printed_again: an agreement a list prints once, under a key it had before but not the key the last list
        to print it once gave it, and no other rule matched to it (COMET Drug Task Force, MO: 2026-03-13, then
        2026-03-02, re-dated, then 2026-03-13 again), is recorded as changing back, with the kinds of change that key
        differs by (moved_state; renamed or relabelled, as its name last changed; re-dated):
        its changes end with what it is now. last: that earlier key; last_agency: the name printed with it."""
        a = self.agreements[agreement_id]
        detail = "printed again as an earlier list printed it"
        if a.state_code != last[0]:
            self.change(pub, "moved_state", agreement_id, before=last[0], after=a.state_code, detail=detail)
        elif a.agency_key[1] != last[1]:
            # the kind the name changed by last time (Green Forks -> Greens Fork -> Green Forks), else what identity reads
            forward = next((c.kind for c in reversed(self.changes) if c.agreement_id == agreement_id and c.kind in ("renamed", "relabelled")), None)
            same = compare_names(last_agency, a.agency, self._state(a.state_code))
            kind = forward or ("relabelled" if same is None or same.relation == "relabelled" else "renamed")
            self.change(pub, kind, agreement_id, before=last_agency, after=a.agency, detail=detail)
        if a.signed_on != last[3]:
            self.change(pub, "re-dated", agreement_id, before=last[3], after=a.signed_on, detail=detail)

    # -- evidence
    def _state(self, code):
        return (self.state_names.get(code, ""), code or "")

    def evidence(self, a, key, row, pub, gap_days=0):
        """Score the claim that appeared row `row` (key) continues agreement `a`, or None."""
        if a.model != key[2]:
            return None
        old = a.row
        state = self._state(key[0])
        same_county = identity.same_place(old.county, row.county, state)
        shared_county = county_words(row.county, state) if same_county else frozenset()
        name = compare_names(old.agency, row.agency, state, shared_county)
        via = "name"
        if name is None and old.moa_url and old.moa_url == row.moa_url:
            if not identity.names_conflict(old.agency, row.agency, state):
                name, via = identity.NameMatch("renamed", 0.9), "the same MOA file"
            elif a.signed_on == key[3]:
                # Different bodies by name, one MOA file and one date: ICE re-attributed the row (FWC -> FDEP).
                name, via = identity.NameMatch("relabelled", 0.7), "the same MOA file and date, another body's name"
        if name is None:
            # The new row's MOA file may still carry the old name (TennesseeStateConstable4thDistrictPolkCoTN_TFM_MOA…).
            moa = set(moa_file_words(row.moa_url))
            old_words = identity.distinctive(identity.words(old.agency, state))
            if old_words and old_words <= moa:
                name, via = identity.NameMatch("relabelled", 0.75), "MOA file name carries the old name"
            else:
                weak = a.state_code == key[0] and a.signed_on == key[3] and identity.weak_name_match(old.agency, row.agency, state)
                if not weak:
                    return None
                name, via = weak, "sole candidates, names alike"
        evidence = [f"{name.relation} ({via})"]
        score = name.score
        if identity.known(old.county) and identity.known(row.county) and not same_county:
            # Two counties printed: two bodies, unless both names and counties are a sole, alike pair (Freedom/Freeborn).
            if not (name.score < WEAK_SCORE and identity.weak_name_match(old.county, row.county, state)):
                return None
        if same_county:
            score += 0.05
            evidence.append("same county")
        moved = a.state_code != key[0]
        redated = a.signed_on != key[3]
        if moved:
            # A state correction: the same name, model and date printed under another state, the old row gone.
            if redated or name.relation not in ("same", "reworded", "renamed"):
                return None
            evidence.append(f"state {a.state_code} -> {key[0]}")
            return Candidate(score, "moved_state", "; ".join(evidence), f"{a.state_code} -> {key[0]}")
        if not redated:
            score += DATE_AGREES
            evidence.append("same signing date")
            if name.relation == "same":
                return None  # identical keys never reach here
            rule = "relabelled" if name.relation == "relabelled" else "renamed"
            return Candidate(score, rule, "; ".join(evidence), f"{a.agency!r} -> {row.agency!r}")
        if key[3] is None:
            return None
        if name.relation == "relabelled":
            # Another body of the same place, with a later date, in the same transition: the body that signed a
            # new MOA (University of Central Florida Board of Trustees -> its Police Department). Weak: sole pairs only.
            if gap_days == 0 and a.signed_on and key[3] > a.signed_on:
                evidence.append(f"new MOA {key[3]} after {a.signed_on}, signed by another body of the same place")
                return Candidate(WEAK_SCORE - 0.15, "re-signed", "; ".join(evidence), f"new MOA signed {key[3]} by {row.agency!r}; follows the one signed {a.signed_on} by {a.agency!r}")
            return None
        if a.signed_on is None:  # no date printed before: the first date printed is a correction
            evidence.append(f"date printed as {key[3]}")
            return Candidate(score, "re-dated", "; ".join(evidence), f"signing date (none) -> {key[3]}")
        moa_date = moa_file_date(row.moa_url)
        if moa_date == key[3]:
            score += 0.05
            evidence.append(f"MOA file dated {moa_date}")
        shift = days_between(a.signed_on, key[3])
        # Rule history_files_decide: once ICE's files of 2021 on print an agreement, only they date and link it,
        # so the roster never changes a decision those files alone made.
        first_listed, linked = (a.file_first_seen, a.file_linked) if a.file_key else (a.first_seen, a.ever_linked)
        first_listed = first_listed[:10]
        if gap_days == 0 and (shift <= identity.REDATE_DAYS or key[3] <= first_listed or not linked):
            why = "small shift" if shift <= identity.REDATE_DAYS else "new date on or before the first listing" if key[3] <= first_listed else "old row never had an MOA link"
            evidence.append(f"date {a.signed_on} -> {key[3]} ({why})")
            return Candidate(score, "re-dated", "; ".join(evidence), f"signing date {a.signed_on} -> {key[3]}")
        if key[3] > a.signed_on and gap_days <= identity.RESIGN_GAP_DAYS:
            evidence.append(f"new MOA {key[3]} after {a.signed_on}" + (f", {gap_days} days after it left the list" if gap_days else ""))
            return Candidate(score - 0.1, "re-signed", "; ".join(evidence), f"new MOA signed {key[3]}; follows the one signed {a.signed_on}")
        return None

    # -- the walk
    def walk(self, pub):
        if self.files_from is None and pub.source_kind != "roster":
            self.files_from = pub.published_at
        rows = {}
        for row in pub.rows:
            if row.model_code:
                k = row.key
                if k in rows:
                    continue  # the same row printed twice is one agreement (listings keep both copies)
                rows[k] = row
        addenda, taken, appeared = {}, {}, {}
        for k in sorted(rows, key=sortable):  # taken and appeared are filled in this order
            if identity.addendum_of(rows[k].agency):
                addenda[k] = rows.pop(k)
                continue
            agreement_id = self.by_key.get(k)
            if agreement_id is None:
                appeared[k] = rows[k]
            else:
                taken[k] = agreement_id
        self._printed, self._changed = {}, set()  # this publication's: each agreement's keys (_take), those a rule changed
        for k, agreement_id in taken.items():
            self._take(agreement_id, k, rows[k], pub)
        now = set(taken.values())
        for k, row in addenda.items():
            self._addendum(pub, k, row, now, appeared)
        vanished = sorted(self.present - now)
        # every agreement was listed once, so one not on the last list walked is missing since some list
        missing = sorted(set(self.agreements) - self.present - now)
        self._assign(pub, appeared, vanished, missing, now)
        self._fold_and_add(pub, appeared, now)
        for agreement_id in sorted(self.present - now):
            a = self.agreements[agreement_id]
            if a.missing_since is None:
                a.missing_since = Seen(pub.id, pub.published_at, pub.file_name)
        for agreement_id in set(self.agreements) - now:
            self.agreements[agreement_id].missing_count += 1
        for agreement_id, keys in self._printed.items():
            if len(set(keys)) == 1:  # printed once: what the agreement is now, as far as this list says
                a = self.agreements[agreement_id]
                if a.alone is not None and a.alone[0] != keys[0] and agreement_id not in self._changed:
                    self._printed_again(pub, agreement_id, *a.alone)
                a.alone = (keys[0], a.agency)
        self.present = now
        self.last_walked = pub.id

    def _addendum(self, pub, k, row, now, appeared):
        """Rule addendum: a row named "<agency> (Addendum)" prints an addendum of that agency's agreement of the same
        model, listed now or on the list before; it is not an agreement. With no such agreement it is read as one."""
        agreement_id = self.by_key.get(k)
        if agreement_id is None:
            base = identity.norm_agency(identity.addendum_of(row.agency))
            agreement_id = next((i for i in sorted(now | self.present) if self.agreements[i].state_code == k[0]
                                 and self.agreements[i].model == k[2] and identity.norm_agency(self.agreements[i].agency) == base), None)
            if agreement_id is None:
                appeared[k] = row
                return
            a = self.agreements[agreement_id]
            self.by_key[k] = agreement_id
            a.keys.add(k)  # the id this row had when it was read as an agreement leads to this one
            self.merge(pub, agreement_id, k, Candidate(1.0, "addendum", f"{row.agency!r} names {a.agency!r}, same state and model",
                                                       f"an addendum signed {k[3]} of the agreement signed {a.signed_on}"))
        if agreement_id not in now:
            a = self.agreements[agreement_id]
            self._take(agreement_id, a.row.key, a.row, pub)  # listed through its addendum: nothing about it changes
            now.add(agreement_id)

    def _assign(self, pub, appeared, vanished, missing, now):
        """One-to-one matching of appeared rows to agreements that left the list: best evidence first, ties by id."""
        cands = []
        for pool, recent in ((vanished, True), (missing, False)):
            for agreement_id in pool:
                a = self.agreements[agreement_id]
                gap_days = 0 if recent else days_between(a.missing_since.published_at[:10], pub.published_at[:10])
                if gap_days > identity.RESIGN_GAP_DAYS:
                    continue
                for k in appeared:
                    c = self.evidence(a, k, appeared[k], pub, gap_days)
                    if c is not None:
                        cands.append((-c.score, agreement_id, sortable(k), k, c))
        # A weak name match (score below 0.6) counts only when it is the one candidate of both its rows.
        per_agreement, per_key = {}, {}
        for _, agreement_id, sk, _, _ in cands:
            per_agreement[agreement_id] = per_agreement.get(agreement_id, 0) + 1
            per_key[sk] = per_key.get(sk, 0) + 1
        cands = [t for t in cands if -t[0] >= WEAK_SCORE or (per_agreement[t[1]] == 1 and per_key[t[2]] == 1)]
        cands.sort(key=lambda t: t[:3])
        used = set()
        for _, agreement_id, _, k, c in cands:
            if agreement_id in used or k not in appeared:
                continue
            used.add(agreement_id)
            row = appeared.pop(k)
            a = self.agreements[agreement_id]
            if c.rule == "re-signed":
                new_id = self._new(k, row, pub)
                self._take(new_id, k, row, pub)
                self.agreements[new_id].follows = agreement_id
                self.agreements[new_id].re_signed = True
                a.superseded_by = new_id
                self.merge(pub, agreement_id, k, c)
                self.change(pub, "added", new_id, after=k[3], detail=f"re-signed: follows agreement {agreement_id} signed {a.signed_on}")
                now.add(new_id)
                continue
            before = {"moved_state": a.state_code, "re-dated": a.signed_on}.get(c.rule, a.agency)
            after = {"moved_state": k[0], "re-dated": k[3]}.get(c.rule, row.agency)
            if c.rule in ("relabelled", "moved_state"):
                # Now held by another body, or the same name in another state (where another agency may
                # really carry the old name: Ellis County Sheriff's Office, TX and KS): the old name no longer names it.
                a.name_keys = {(k[0], k[1])}
            else:
                a.name_keys.add((k[0], k[1]))
            self.merge(pub, agreement_id, k, c)
            self._take(agreement_id, k, row, pub)
            self.change(pub, c.rule, agreement_id, before=before, after=after, detail=c.evidence)
            self._changed.add(agreement_id)
            now.add(agreement_id)

    def _fold_and_add(self, pub, appeared, now):
        """What is left is new, unless it is a second printing of an agreement in this same file."""
        # A row is compared with the listed agreements of its state and model, in id order: grouped once, each group
        # kept sorted as agreements are added below (a first list's thousand new rows each scanned every agreement).
        groups = {}
        for agreement_id in sorted(now):
            a = self.agreements[agreement_id]
            groups.setdefault((a.state_code, a.model), []).append(agreement_id)
        for k in sorted(appeared, key=sortable):
            row = appeared[k]
            twin, follows = None, None
            state = self._state(k[0])
            for agreement_id in groups.get((k[0], k[2]), ()):
                a = self.agreements[agreement_id]
                if a.row is None:
                    continue
                name = compare_names(a.row.agency, row.agency, state)
                if name is None and row.moa_url and a.row.moa_url == row.moa_url and not identity.names_conflict(a.row.agency, row.agency, state):
                    name = identity.NameMatch("renamed", 0.9)  # one MOA file printed under two names
                if name is None:
                    continue
                if name.relation != "relabelled" and a.signed_on and k[3] and days_between(a.signed_on, k[3]) <= DUPLICATE_DAYS:
                    twin = (agreement_id, name)
                    break
                # Rule follows_same_body: a row printed beside an earlier MOA follows it under the same name, or as another
                # body of the same institution (UCF's Board of Trustees, then its Police Department). A town's police beside
                # its county's sheriff, or a name a letter away (Walker and Waller County, TX; Florida State University and
                # University of Florida), printed at the same time, is another body with an agreement of its own.
                beside = name.relation in ("same", "reworded") or (name.relation == "relabelled" and identity.same_level(a.row.agency, row.agency))
                if beside and a.signed_on and k[3] and k[3] > a.signed_on and follows is None:
                    follows = agreement_id
            if twin:
                agreement_id, name = twin
                a = self.agreements[agreement_id]
                cand = Candidate(name.score, "duplicate", f"{name.relation}; printed beside {a.agency!r} ({a.signed_on}) in {pub.file_name}", f"{row.agency!r} ({k[3]}) is a second printing")
                self.merge(pub, agreement_id, k, cand)
                self.change(pub, "duplicate", agreement_id, before=a.agency, after=row.agency, detail=cand.evidence)
                self.by_key[k] = agreement_id
                self.agreements[agreement_id].keys.add(k)
                self.agreements[agreement_id].spellings.add(row.agency)
                self.agreements[agreement_id].name_keys.add((k[0], k[1]))
                continue
            agreement_id = self._new(k, row, pub)
            self._take(agreement_id, k, row, pub)
            if follows:
                # A new MOA printed beside the old one: if the old row later goes, it was superseded, not ended.
                self.agreements[agreement_id].follows = follows
            self.change(pub, "added", agreement_id, after=k[3], detail=f"listed beside agreement {follows}, signed earlier" if follows else None)
            if agreement_id not in now:
                now.add(agreement_id)
                bisect.insort(groups.setdefault((k[0], k[2]), []), agreement_id)

    def seen_again(self, pub):
        """An identical re-publication of the last list walked: everything on it was listed again."""
        for agreement_id in sorted(self.present):
            a = self.agreements[agreement_id]
            a.last_publication_id, a.last_seen = pub.id, pub.published_at
            a.printings += 1

    def fold_misreadings(self):
        """Rule misread: an ended agreement printed in at most MISREAD_PRINTINGS publications, exactly while a listed
        agreement of the same state, model and signing date was missing, is that agreement's row misread (the
        archived web page garbled "Walton" as "Waria-labelon" in two captures of December 2024): folded into it,
        the gap and the ending undone, the merge kept with its evidence."""
        gaps = sorted((c for c in self.changes if c.kind == "gap"), key=lambda c: c.id)
        for aid in sorted(self.agreements):
            a = self.agreements[aid]
            if a.status != "ended" or a.printings > MISREAD_PRINTINGS:
                continue
            hit = next((g for g in gaps if g.agreement_id != aid and g.publication_id == a.ended_publication_id
                        and g.before == a.first_seen[:10] and g.agreement_id in self.agreements
                        and (lambda b: (b.state_code, b.model, b.signed_on) == (a.state_code, a.model, a.signed_on))(self.agreements[g.agreement_id])), None)
            if hit is None:
                continue
            b = self.agreements[hit.agreement_id]
            self.merges.append(Merge(b.id, key_text(a.first_key), a.first_publication_id, "misread", 0.5,
                                     f"{a.agency!r} printed in {a.printings} publications ({a.first_seen[:10]} to {a.last_seen[:10]}) "
                                     f"exactly while {b.agency!r} was missing; same state, model and signing date {a.signed_on}",
                                     f"{a.agency!r} is {b.agency!r} misread"))
            self.changes = [c for c in self.changes if c is not hit and c.agreement_id != aid]
            for k in a.keys:
                self.by_key[k] = b.id
            b.keys |= a.keys
            del self.agreements[aid]

    def record_pending_signed(self, apps):
        """A pending application that became an agreement is a change of that agreement, dated when it was first listed."""
        for app in apps:
            if app["outcome"] != "signed":
                continue
            a = self.agreements[app["agreement_id"]]
            self.changes.append(Change(
                application_id=app["id"], publication_id=a.first_publication_id, changed_at=a.first_seen,
                kind="pending->signed", agreement_id=a.id, state_code=a.state_code, agency=a.agency, model=a.model,
                before=app["first_seen"][:10], after=a.signed_on,
                detail=f"on the pending list from {app['first_seen'][:10]}; listed as participating {app['days_to_listed']} days later",
            ))

    def finish(self):
        """Statuses after the last publication walked: absent agreements ended at the first publication without them."""
        followers = {}
        for i in sorted(self.agreements):
            if self.agreements[i].follows:
                followers.setdefault(self.agreements[i].follows, []).append(i)
        for agreement_id in sorted(self.agreements):
            a = self.agreements[agreement_id]
            if agreement_id in self.present:
                a.status = "active"
                continue
            since = a.missing_since
            a.ended_publication_id, a.ended_seen = since.id, since.published_at
            # Re-signed: matched to a new MOA when it left, or a new MOA printed beside it before it left.
            successor = a.superseded_by or next(
                (i for i in followers.get(agreement_id, ()) if self.agreements[i].first_seen <= since.published_at), None)
            if successor:
                a.status, a.superseded_by = "superseded", successor
                s = self.agreements[successor]
                self.changes.append(Change(
                    publication_id=since.id, changed_at=since.published_at,
                    kind="superseded", agreement_id=agreement_id, state_code=a.state_code, agency=a.agency, model=a.model,
                    before=a.signed_on, after=s.signed_on, detail=f"no longer listed; the MOA signed {s.signed_on} (agreement {successor}) follows it"))
            else:
                a.status, a.superseded_by = "ended", None
                self.change(since, "ended", agreement_id, before=a.signed_on, detail=f"no longer on ICE's participating list; last listed {a.last_seen[:10]}")

    def rekey(self):
        """An agreement ICE's 2011-2017 roster printed first and its files of 2021 on still print takes its id from
        the first of those files' rows, the id every build before the roster gave it (rule history_ids)."""
        renamed = {}
        for old in sorted(self.agreements):
            a = self.agreements[old]
            if a.file_key is not None and a.file_key != a.first_key:
                new = agreement_id_of(a.file_key)
                if new != old and new not in self.agreements:
                    renamed[old] = new
        if not renamed:
            return
        swap = lambda x: renamed.get(x, x)  # noqa: E731
        self.agreements = {swap(i): a for i, a in self.agreements.items()}
        for i, a in self.agreements.items():
            a.id, a.follows, a.superseded_by = i, swap(a.follows), swap(a.superseded_by)
        self.by_key = {k: swap(v) for k, v in self.by_key.items()}
        self.present = {swap(i) for i in self.present}
        for m in self.merges:
            m.agreement_id = swap(m.agreement_id)
        for c in self.changes:
            c.agreement_id = swap(c.agreement_id)  # its id follows (Change.id)


def date_flags(lineage, first_publication_ids, agency_of):
    """Signing dates to check by hand: (publication id, kind, detail) for each agreement whose MOA file name
    carries another date, or whose date lies years before it was first listed while its agency is new."""
    flags = []
    first_seen_of_agency = {}
    for a in lineage.agreements.values():
        agency = agency_of[a.id]
        first_seen_of_agency[agency] = min(first_seen_of_agency.get(agency, a.first_seen), a.first_seen)
    for a in sorted(lineage.agreements.values(), key=lambda a: (a.first_seen, a.id)):
        moa_date = moa_file_date(a.moa_url)
        if a.signed_on and moa_date and days_between(moa_date, a.signed_on) > identity.REDATE_DAYS:
            flags.append((a.first_publication_id, "signed_date_contradicted",
                          f"{a.agency} ({a.state_code}, {a.model}) SIGNED {a.signed_on}, but its MOA file name says {moa_date}: {a.moa_url}"))
        new_agency = a.first_publication_id not in first_publication_ids and first_seen_of_agency.get(agency_of[a.id]) == a.first_seen
        if a.signed_on and new_agency and days_between(a.signed_on, a.first_seen[:10]) > 365 and a.signed_on < a.first_seen[:10]:
            flags.append((a.first_publication_id, "signed_long_before_listed",
                          f"{a.agency} ({a.state_code}, {a.model}) SIGNED {a.signed_on}, years before it was first listed on {a.first_seen[:10]} as a new agency"))
    return flags


def load_confirmations(path):
    """sha256 of publications a maintainer confirmed in data/confirmations.csv as really ending what they drop:
    lines whose gate is "build" (the build's own gates), or any line of a file without a gate column."""
    if not Path(path).exists():
        return set()
    with open(path, newline="", encoding="utf-8") as f:
        return {r["sha256"].strip() for r in csv.DictReader(f)
                if (r.get("sha256") or "").strip() and (r.get("gate") or "build").strip() == "build"}


def walk_participating(participating, states, confirmed, checkpoints=None):
    """Walk the participating list through lineage, holding back publications that would end too much at once.

    A publication that drops more than lineage.MASS_ENDING_SHARE of the list (a truncated file) is walked
    only when the next distinct publication confirms the drop. The newest such publication has no
    confirmation yet: it is held (status "held") and ends nothing, unless a maintainer confirmed its
    sha256 in data/confirmations.csv.

    checkpoints (optional) keeps the walk's state between builds: when every publication up to one is
    what an earlier build walked (walk_keys), the walk resumes there, so ICE's next list costs one step.
    """
    distinct, previous, repeats = [], None, {}
    for p in participating:
        # A truncated file, or one identical to the one before, says nothing about endings.
        if p.truncated:
            continue
        if previous and p.fingerprint == previous.fingerprint:
            repeats.setdefault(previous.id, []).append(p)  # ... but it still lists what it prints: last_seen moves on
            continue
        distinct.append(p)
        previous = p
    lineage, walked_keys, start = Lineage(states), None, 0
    steps = walk_keys(distinct, repeats, states, confirmed, checkpoints.rows_key) if checkpoints else []
    if checkpoints:
        found = checkpoints.load(steps)
        if found:
            done, (lineage, walked_keys) = found
            start = done + 1
    lineage.resumed = (start, len(distinct))  # distinct lists taken from a checkpoint, of all
    for i in range(start, len(distinct)):
        p = distinct[i]
        keys = publication_keys(p)
        gone = walked_keys - keys if walked_keys else set()
        share = len(gone) / len(walked_keys) if walked_keys else 0.0
        if share > MASS_ENDING_SHARE and len(gone) >= MASS_ENDING_MIN and p.sha256 not in confirmed:
            nxt = distinct[i + 1] if i + 1 < len(distinct) else None
            if nxt is None:
                lineage.held.add(p.id)
                lineage.note(p, ("unconfirmed_mass_ending", None, f"would end {len(gone)} of {len(walked_keys)} agreements ({share:.0%}); held: ends nothing until a later publication confirms it (or data/confirmations.csv does)"))
                continue
            back = len(gone & publication_keys(nxt)) / len(gone)
            if back > 0.5:
                lineage.held.add(p.id)
                lineage.note(p, ("mass_ending_not_confirmed", None, f"would end {len(gone)} of {len(walked_keys)} agreements ({share:.0%}); {back:.0%} of them are listed again in {nxt.file_name}: not used for endings"))
                continue
            lineage.note(p, ("mass_ending_confirmed", None, f"ends {len(gone)} of {len(walked_keys)} agreements ({share:.0%}); confirmed by {nxt.file_name}"))
        lineage.walk(p)
        for again in repeats.get(p.id, ()):
            lineage.seen_again(again)
        walked_keys = keys
        if checkpoints and i == len(distinct) - 2:
            # The state before the newest list: the next build, with ICE's next list after it, resumes here.
            checkpoints.save(steps[i], (lineage, walked_keys))
    lineage.finish()
    lineage.fold_misreadings()
    lineage.rekey()
    return lineage


def publication_digest(p, rows_key, row_digests, *more):
    """16 bytes for what a walk over publications reads of one: who and when it is, more (what else the walk reads of
    it), and its rows. An ICE workbook's rows (and sheet rows) are fixed by its bytes when rows_key is given
    (pipeline.rows_key: the reading and correcting code, the corrections); others are hashed, each distinct row once
    (row_digests: id(row) -> digest, kept across one walk's calls)."""
    d = hashlib.sha256(repr((p.id, p.sha256, p.file_name, p.source_kind, p.published_at, *more)).encode())
    if rows_key and not p.is_roster:
        return d.digest()  # its rows: p.sha256 and rows_key
    # each distinct row hashed once, to 16 bytes: a list is then hashed as 16 bytes a row, not its whole text
    ids = list(map(id, p.rows))
    digests = list(map(row_digests.get, ids))
    if None in digests:  # rows that no earlier list printed
        for i, row in zip(ids, p.rows):
            if i not in row_digests:
                row_digests[i] = hashlib.blake2b(f"{row.content_repr}{row.key!r}".encode(), digest_size=16).digest()
        digests = list(map(row_digests.__getitem__, ids))
    d.update(b"".join(digests))  # the list in one update
    d.update(repr(p.sheet_rows).encode())
    return d.digest()


def walk_keys(distinct, repeats, states, confirmed, rows_key=None):
    """One key per step of the walk: what the state after walking distinct[i] depends on. That is every
    publication walked so far (the rows as the walk reads them, with their repeats and dates), the next
    one (a mass ending is confirmed by it), the state names, the confirmations and this code (rows_key: see
    publication_digest)."""
    h = hashlib.sha256(cache_key(*with_imports(__name__, "open287g.records")).encode())  # records: the rows' own code
    h.update(repr((sorted(states.items()), rows_key)).encode())
    signature = {}

    def described(p):
        return publication_digest(p, rows_key, signature, p.sha256 in confirmed)

    def repeated(p):
        return repr([(r.id, r.published_at) for r in repeats.get(p.id, ())]).encode()

    # The next list counts without its repeats: ICE's next file is most often the newest list again.
    parts = [described(p) for p in distinct]
    keys = []
    for i in range(len(distinct) - 1):
        h.update(parts[i])
        h.update(repeated(distinct[i]))
        step = h.copy()
        step.update(parts[i + 1])
        keys.append(step.hexdigest()[:24])
    return keys

