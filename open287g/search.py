"""Reads a typed query into an FTS5 search of search_entries and ranks its hits (the server's side; search_index.py writes the index).

Matching is SQLite's: a trigram index finds every entry containing each typed word (so "meck" and
"polk" match anywhere in a name). When that finds nothing, the same index is asked for entries
sharing any three-letter piece of the typed words, ranked by FTS5's bm25, which is how a misspelt
"mecklenberg" still finds Mecklenburg. Python only reads the query (a trailing state, "co" for
county) and orders the hits: exact and whole-word matches, then active agencies, first.
"""
import re

from .i18n import _, join_words, ngettext
from .words import state_postal, words

KIND_ORDER = {"state": 0, "county": 1, "place": 2, "agency": 3}
# A trailing "co" is "county" ("harris co"), except after a comma, where an address puts its state ("Aurora, CO"):
# rule co_after_comma.
NOT_A_STATE = {"co"}
_STATE_AFTER_COMMA = re.compile(r",\s*co\s*$", re.I)



def parse(query, abbreviations=None):
    """A typed query as {'terms': words to find, 'state': postal code it ends with, 'state_only': postal code it is,
    'town_in_state': the words of a town of that state it also names ("Washington, DC": then terms and state
    are the town's and its state's), 'expanded': the
    abbreviations read, 'county': whether it ends with "county", "co" or "parish"}."""
    raw = words(query or "", aliases=False)
    expanded, implied = [], None
    if abbreviations:
        out = []
        for w in raw:
            a = abbreviations.get(w)
            if a:
                out += words(a["means"], aliases=False)
                expanded.append(a)
                implied = implied or a["state_code"]
            else:
                out.append(w)
        raw = out
    state = None
    not_a_state = set() if _STATE_AFTER_COMMA.search(query or "") else NOT_A_STATE
    split = next(((found, raw[:-n]) for n in (3, 2, 1) if len(raw) > n and " ".join(raw[-n:]) not in not_a_state
                  and (found := state_postal(" ".join(raw[-n:]), fuzzy=False))), None)
    state_only = state_postal(" ".join(raw), fuzzy=False) if raw and " ".join(raw) not in not_a_state else None
    # "Washington, DC" names DC and, read as a town and its state, DC's town Washington ("West Virginia" is no town
    # of Virginia's: the two readings name different states). Its words are then the town's.
    town = bool(state_only and split and split[0] == state_only)
    if split and (town or not state_only):
        state, raw = split
    terms = list(dict.fromkeys(words(" ".join(raw))))
    implied_state = None
    if implied and not state and not state_only:
        state = implied_state = implied
    county = bool(raw) and raw[-1] in ("county", "co", "parish", "cnty")
    return {"terms": terms, "state": state, "state_only": state_only, "expanded": expanded, "county": county,
            "implied_state": implied_state, "town_in_state": terms if town else None}


def expression(terms):
    """Every term as a substring (FTS5 trigram needs three letters; shorter terms are left to ranking)."""
    usable = [t for t in terms if len(t) >= 3]
    return " AND ".join(f'"{t}"' for t in usable) or None


def forgiving_expression(terms):
    """Any three-letter piece of the terms: FTS5 ranks entries sharing more pieces first."""
    pieces = {t[i:i + 3] for t in terms if len(t) >= 3 for i in range(len(t) - 2)}
    return " OR ".join(f'"{p}"' for p in sorted(pieces)) or None


def closest(hits, share=0.75):
    """Of a forgiving search's hits (bm25, lower is better), those scoring within share of the best."""
    if not hits:
        return hits
    best = min(h["score"] for h in hits)
    return [h for h in hits if h["score"] <= best * share]


def rank(hits, terms):
    """Order hits: whole label equal to the query, whole words, word starts, active agencies, then bm25."""
    phrase = " ".join(terms)

    def key(hit):
        label_words = words(hit["label"])
        label = " ".join(label_words)
        whole = sum(t in label_words for t in terms)
        starts = sum(any(w.startswith(t) for w in label_words) for t in terms)
        exact = label == phrase or label.split(" ")[:len(terms)] == terms
        return (KIND_ORDER[hit["kind"]], -int(exact), -whole, -starts, hit["status"] != "active", hit["score"])

    return sorted(hits, key=key)


def county_base(words):
    """ "harris county" -> "harris": the name without its kind word."""
    return " ".join(w for w in words if w not in ("county", "parish", "borough", "city", "census", "area", "municipality"))


def named_counties(counties, terms):
    """The counties whose name is the query's name ("harris co" -> every Harris County)."""
    wanted = county_base(terms)
    return [c for c in counties if wanted and county_base(words(c["name"])) == wanted]


def verdict(named):
    """One plain sentence about the named counties: which have an agency with an agreement and which do not."""
    if not named:
        return None
    def where(c):
        return f"{c['name']}, {c['state_name']}"
    without = [where(c) for c in named if not c["agencies_active"]]
    with_ = [where(c) for c in named if c["agencies_active"]]
    if without and with_:
        return ngettext("No agency in %(without)s has an agreement; %(with)s does.",
                        "No agency in %(without)s has an agreement; %(with)s do.",
                        len(with_)) % {"without": join_words(without, "or"), "with": join_words(with_, "and")}
    if without:
        return _("No agency in %(without)s has an agreement.") % {"without": join_words(without, "or")}
    return None
