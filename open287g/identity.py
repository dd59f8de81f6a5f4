"""Reads printed agency names, states, dates and MOA links and scores whether two printed rows are one agreement (see docs/IDENTITY.md)."""
import datetime
import difflib
import functools
import re
from dataclasses import dataclass

from .words import words as words_of

# Abbreviations folded in the exact key (norm_agency). Changing them changes agreement ids.
KEY_ABBREVIATIONS = {"co": "county", "cnty": "county", "dept": "department", "sheriff": "sheriffs", "st": "saint", "ofc": "office"}
# ICE's abbreviations, expanded only when comparing names, so "Tampa PD" and "Tampa Police Department" read alike.
EXPANSIONS = {
    **KEY_ABBREVIATIONS, "pd": "police department", "so": "sheriffs office", "dps": "department of public safety",
    "bocc": "board of county commissioners", "twp": "township", "doc": "department of corrections",
    "hwy": "highway", "univ": "university", "mt": "mount", "ft": "fort",
}
# Words every second agency carries: two names must differ on something else to be different bodies.
BOILERPLATE = frozenset(
    "county parish sheriffs office department police city of the town township village borough and state law "
    "enforcement agency public safety board commissioners corrections correctional center jail detention "
    "facility prison district division services constable constables attorney attorneys unit bureau "
    "authority commission trustees".split()
)
# The kind of body a name describes; a change of kind with the same place is a relabel, not a rename.
BODY_KINDS = (
    ("attorney", "attorney"), ("attorneys", "attorney"), ("constable", "constable"), ("constables", "constable"),
    ("commissioners", "county board"), ("trustees", "board of trustees"), ("corrections", "corrections"), ("correctional", "corrections"),
    ("jail", "corrections"), ("prison", "corrections"), ("detention", "corrections"), ("sheriffs", "sheriff"),
    ("police", "police"), ("marshal", "marshal"), ("patrol", "patrol"),
)
WEAK_RATIO = 0.6  # distinctive words this alike may match only when they are the sole candidates of a transition
TYPO_RATIO = 0.84  # difflib ratio at which two long words (5+ letters) are one word misspelt (Somerville/Somervell)
RESIGN_GAP_DAYS = 60  # a new MOA this soon after the old one left the list follows it
REDATE_DAYS = 14  # a signing date moved by at most this many days is a correction


@functools.lru_cache(maxsize=None)
def norm_agency(name):
    """Agency name -> identity text: case, apostrophes, punctuation, whitespace and common abbreviations folded.

    This is the exact key of an agreement; the looser comparisons below only run when a row vanished.
    """
    return " ".join(KEY_ABBREVIATIONS.get(w, w) for w in words_of(name, aliases=False))


@functools.lru_cache(maxsize=None)
def words(name, state=("", "")):
    """Normalised words of a name: abbreviations expanded, ordinals as numbers, the state's own name dropped,
    and a sheriff's "Department" read as "Office" (ICE prints both for one body)."""
    out = []
    # The state's own name and postal code say nothing within one state ("MT Dept of Justice").
    state_name, state_code = state
    dropped = set(state_name.lower().split()) | {state_code.lower()}
    for w in norm_agency(name).split():
        if w in dropped:
            continue
        w = re.sub(r"^(\d+)(st|nd|rd|th)$", r"\1", w)
        out.extend(EXPANSIONS.get(w, w).split())
    out = [w for w in out if w not in dropped]
    return tuple("office" if w == "department" and i and out[i - 1] == "sheriffs" else w for i, w in enumerate(out))


_BOILERPLATE_ANSWERS = {}  # word -> is_boilerplate's answer: this process's, and those an earlier build kept (remember_boilerplate)


def is_boilerplate(word):
    """A boilerplate word, or a typo of one ("Couny", "Departent", "Offic", "Constbales")."""
    found = _BOILERPLATE_ANSWERS.get(word)
    if found is None:
        found = _BOILERPLATE_ANSWERS[word] = _is_boilerplate(word)
    return found


def boilerplate_answers():
    """is_boilerplate's answers so far, {word: answer}: what a build keeps for the next (pipeline.WordCache)."""
    return dict(_BOILERPLATE_ANSWERS)


def remember_boilerplate(answers):
    """Answers an earlier build of this code kept: is_boilerplate gives them without comparing the word again (each
    new word is compared with every boilerplate word its length allows: 45 ms a rebuild, for some 260 words)."""
    _BOILERPLATE_ANSWERS.update((w, a) for w, a in answers.items() if isinstance(w, str) and type(a) is bool)


def _is_boilerplate(word):
    if word in BOILERPLATE or len(word) < 5:
        return word in BOILERPLATE
    # Only the words whose length same_word's first bound lets through, or a plural of: the same answer, without
    # a comparison (and a cache entry) for each of the boilerplate words per new word.
    stem = word.rstrip("s")
    return any(same_word(word, b) for b in _LONG_BOILERPLATE if _lengths_may_match(len(word), len(b)) or stem == b.rstrip("s"))


_LONG_BOILERPLATE = tuple(sorted(b for b in BOILERPLATE if len(b) >= 5))


def _lengths_may_match(n, m):
    """same_word's first bound on two words of 5+ letters: False when their lengths alone rule a typo out."""
    shortest, total = min(n, m), n + m
    limit = 2 if shortest >= 8 else 1
    return not (total - 2 * shortest > limit and 2.0 * shortest / total < TYPO_RATIO)


@functools.lru_cache(maxsize=None)
def distinctive(ws):
    return frozenset(w for w in ws if not is_boilerplate(w))


def body_kind(ws):
    kinds = {kind for word, kind in BODY_KINDS if word in ws}
    return ",".join(sorted(kinds))


@functools.lru_cache(maxsize=None)
def same_word(a, b):
    """One word, allowing ICE's typos: a plural s (Lyon's/Lyon), two letters swapped (Macro/Marco), a
    letter or two wrong in a long word (Aggricultural, Berrian)."""
    if a == b:
        return True
    if len(a) >= 4 and len(b) >= 4 and a.rstrip("s") == b.rstrip("s"):
        return True
    if len(a) < 5 or len(b) < 5:
        return False
    # Cheap bounds first (same answers). An insertion, deletion or substitution changes by at most one how many
    # letters either word has beyond the letters the two share (a swap changes none), so the edit distance is at
    # least that; difflib's ratio is at most its two quick ratios, of the lengths and of the letters shared.
    if not _lengths_may_match(len(a), len(b)):
        return False  # lengths alone fail both bounds below: the letters are never counted
    limit = 2 if min(len(a), len(b)) >= 8 else 1
    shared = _shared_letters(a, b)
    if max(len(a), len(b)) - shared <= limit and edits(a, b, limit) <= limit:
        return True
    return _ratio_at_least(a, b, TYPO_RATIO, shared)


def _shared_letters(a, b):
    """How many letters a and b share, each counted as often as both have it (difflib's quick_ratio count)."""
    shared = 0
    for letter in set(a):  # str.count: a third of the cost of two Counters and their intersection
        x, y = a.count(letter), b.count(letter)
        shared += x if x < y else y
    return shared


def _ratio_at_least(a, b, ratio, shared=None):
    """difflib's ratio of a and b is at least `ratio`, with its two upper bounds (the lengths, then the letters
    shared) computed first, as difflib computes them: building a SequenceMatcher costs more than both, and most
    pairs of words fail the second."""
    total = len(a) + len(b)
    if 2.0 * min(len(a), len(b)) / total < ratio:
        return False
    if 2.0 * (_shared_letters(a, b) if shared is None else shared) / total < ratio:
        return False
    return difflib.SequenceMatcher(None, a, b).ratio() >= ratio


def edits(a, b, limit=None):
    """Edit distance with adjacent swaps (Damerau-Levenshtein, optimal string alignment): "Counry" -> "County" is 1.

    With a limit, any distance over it may be returned as limit + 1: once every cell of two rows in a row
    exceeds the limit, no alignment can come back under it (a swap reaches back two rows)."""
    prev2, prev = None, list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if prev2 is not None and i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if limit is not None and min(cur) > limit and min(prev) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[len(b)]


def same_place(county_a, county_b, state=("", "")):
    """Two printed COUNTY values name one county, allowing ICE's typos ("Albermarle County" / "Albemarle County")."""
    if not known(county_a) or not known(county_b):
        return False
    return _same_words(county_words(county_a, state), county_words(county_b, state)) and bool(county_words(county_a, state))


def known(county):
    return bool(county) and not county.startswith("#")


def names_conflict(a, b, state=("", "")):
    """Both names carry distinctive words and share none: two bodies, whatever else they share (ICE has
    printed one MOA link for two agencies)."""
    da, db = distinctive(words(a, state)), distinctive(words(b, state))
    return bool(da) and bool(db) and not any(same_word(x, y) for x in sorted(da) for y in sorted(db))


def weak_name_match(a, b, state=("", "")):
    """A last resort for one vanished and one appeared row with the same state, model and date and nothing
    else to choose between: the same kind of body and distinctive words that still look alike ("Freedom
    County Sheriff's Office" / "Freeborn County Sheriff's Office"). lineage accepts it only for a sole pair."""
    wa, wb = words(a, state), words(b, state)
    if body_kind(wa) != body_kind(wb):
        return None
    da, db = " ".join(sorted(distinctive(wa))), " ".join(sorted(distinctive(wb)))
    if not da or not db or difflib.SequenceMatcher(None, da, db).ratio() < WEAK_RATIO:
        return None
    return NameMatch("renamed", 0.3)


def _same_words(a, b):
    """Two sets of distinctive words that agree, allowing a typo in a long word (Aggricultural)."""
    if len(a) != len(b):
        return False
    rest = set(b)
    for w in sorted(a):
        hit = next((x for x in sorted(rest) if same_word(w, x)), None)
        if hit is None:
            return False
        rest.discard(hit)
    return True


@dataclass(frozen=True)
class NameMatch:
    relation: str  # same | reworded | renamed | relabelled
    score: float


@functools.lru_cache(maxsize=None)  # the same pairs meet in publication after publication
def compare_names(a, b, state=("", ""), county_words=frozenset()):
    """How two printed names of one state relate, or None when their distinctive words disagree.

    "Lake County Sheriff's Office" and "Bay County Sheriff's Office" share every word but the one
    that matters, so they never match. Words of the rows' shared COUNTY count as the place when one
    name omits it ("Tennessee State Constable 4th District" / "Polk County Constable District 4").
    """
    if norm_agency(a) == norm_agency(b):
        return NameMatch("same", 1.0)
    wa, wb = words(a, state), words(b, state)
    if set(wa) == set(wb):
        return NameMatch("reworded", 0.95)
    da, db = distinctive(wa), distinctive(wb)
    if not _same_words(da, db):
        da, db = da | county_words, db | county_words
        if not (county_words and _same_words(da, db)):
            return None
    if not da:
        return None  # nothing but boilerplate on both sides: no evidence
    if body_kind(wa) != body_kind(wb) and body_kind(wa) and body_kind(wb):
        return NameMatch("relabelled", 0.7)
    return NameMatch("renamed", 0.9)


_ADDENDUM = re.compile(r"\s*\(?\s*addendum\s*\)?\s*$", re.I)


@functools.lru_cache(maxsize=1 << 14)  # once per distinct name: the walk asks for every row of every list
def addendum_of(name):
    """ "Monmouth County Sheriff's Office (Addendum)" -> "Monmouth County Sheriff's Office"; None for any other name."""
    base = _ADDENDUM.sub("", name or "")
    return base if base != (name or "") and base else None


PLACE_WORDS = frozenset(("county", "parish", "city", "town", "township", "borough", "village", "district"))


def same_level(a, b):
    """Two names of one place that name the same kind of place: "Town of Palm Beach" and "Palm Beach County" do not."""
    return {w for w in norm_agency(a).split() if w in PLACE_WORDS} == {w for w in norm_agency(b).split() if w in PLACE_WORDS}


def same_body(a, b, state=("", "")):
    """Two names with the very same distinctive words (no typo allowed): used where both rows are printed at once."""
    return distinctive(words(a, state)) == distinctive(words(b, state))


def county_words(county, state=("", "")):
    if not known(county):
        return frozenset()
    return distinctive(words(county, state))


_MOA_DATE = (
    re.compile(r"(?<!\d)(\d{1,2})[._-](\d{1,2})[._-](\d{2}|\d{4})(?!\d)"),
    re.compile(r"(?<!\d)(\d{2})(\d{2})(\d{4})(?!\d)"),
    re.compile(r"(?<!\d)(\d{2})(\d{2})(\d{2})(?!\d)"),
)


def moa_file_date(url):
    """The signing date an MOA file name carries (…_MOA_02232026.pdf, …_02.26.2025.pdf, …_5.8.25.pdf), or None."""
    if not url:
        return None
    name = url.rsplit("/", 1)[-1]
    name = re.sub(r"\.pdf$", "", name, flags=re.I)
    for pattern in _MOA_DATE:
        found = pattern.findall(name)
        for mm, dd, yy in reversed(found):
            year = int(yy) + (2000 if len(yy) == 2 else 0)
            try:
                day = datetime.date(year, int(mm), int(dd))
            except ValueError:
                continue
            if 2005 <= day.year <= 2035:
                return day.isoformat()
    return None


def moa_file_words(url):
    """Words of an MOA file name (TennesseeStateConstable4thDistrictPolkCoTN_TFM_MOA_11042025.pdf), lower case."""
    if not url:
        return ()
    name = url.rsplit("/", 1)[-1]
    name = re.sub(r"\.pdf$", "", name, flags=re.I)
    name = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)
    name = re.sub(r"(\d)([A-Za-z])|([A-Za-z])(\d)", lambda m: " ".join(x for x in m.groups() if x), name)
    return words(re.sub(r"[_.-]", " ", name))


def days_between(a, b):
    return abs((datetime.date.fromisoformat(a) - datetime.date.fromisoformat(b)).days)
