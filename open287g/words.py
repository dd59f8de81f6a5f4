"""The text normaliser: the words names and places are compared on, the key a typed town is matched on, and state names read as postal codes.

Light on purpose: the server imports it (the find plugin, search's query side), so it needs only
the standard library and the `us` package's state list, never the geocoder's index.
"""
import difflib
import functools
import re
import unicodedata

__all__ = ["words", "squash", "lookup_key", "slug", "state_postal"]

# --------------------------------------------------------------------------
# Text normalisation
# --------------------------------------------------------------------------

_APOSTROPHES = dict.fromkeys(map(ord, "\u2019\u2018\u02bc\u0060\u00b4\u2032"), "'")
# Abbreviations written either way in ICE's lists and in the ZIP data.
_TOKEN_ALIASES = {"st": "saint", "ste": "sainte", "ft": "fort", "mt": "mount", "mtn": "mountain",
                  "co": "county", "cnty": "county", "conty": "county", "couny": "county",
                  "twp": "township", "dept": "department", "pd": "police department",
                  "polce": "police", "plice": "police", "polic": "police", "deparment": "department",
                  "departement": "department", "sherrif": "sheriff", "sherriff": "sheriff",
                  "sherrifs": "sheriffs", "sherriffs": "sheriffs"}


def words(text, aliases=True):
    """Lower-case ASCII words: accents dropped, apostrophes removed, abbreviations expanded ("St. Johns Co." -> saint johns county)."""
    if not text:
        return []
    # Keyed on text, never a number: 1, 1.0 and True are one key to a cache.
    return list(_words(text if type(text) is str else str(text), aliases))


# Names recur by the thousand (every ZIP's town, every row's agency in every list): each distinct text is
# normalised once; bounded, since the server normalises what readers type.
@functools.lru_cache(maxsize=1 << 17)
def _words(text, aliases):
    text = text.translate(_APOSTROPHES)
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.lower()
    text = text.replace("'", "").replace("&", " and ")
    parts = re.split(r"[^a-z0-9]+", text)
    if not aliases:
        return tuple(w for w in parts if w)
    return tuple(x for w in parts if w for x in _TOKEN_ALIASES.get(w, w).split())


def squash(tokens):
    """Join tokens without spaces, so "La Paz" == "LaPaz" and "De Soto" == "DeSoto"."""
    return "".join(tokens)


# --------------------------------------------------------------------------
# States
# --------------------------------------------------------------------------

def _us_states():
    import us
    return list(us.states.STATES_AND_TERRITORIES)


@functools.lru_cache(maxsize=None)
def state_words():
    """Every word of a state's or territory's name, and its postal code, lower-cased: 'new', 'hampshire', 'nh'."""
    return frozenset(w for s in _us_states() for w in (*words(s.name, aliases=False), s.abbr.lower()))


@functools.lru_cache(maxsize=None)
def _state_names():
    """Normalised state text -> postal code."""
    names = {}
    for s in _us_states():
        names[squash(words(s.name, aliases=False))] = s.abbr
        names[s.abbr.lower()] = s.abbr
        if s.ap_abbr:
            names[squash(words(s.ap_abbr, aliases=False))] = s.abbr
    extra = {"washington dc": "DC", "washington d c": "DC", "dc": "DC", "d c": "DC",
             "us virgin islands": "VI", "u s virgin islands": "VI", "virgin islands of the united states": "VI",
             "commonwealth of the northern mariana islands": "MP", "cnmi": "MP",
             "commonwealth of puerto rico": "PR"}
    for text, abbr in extra.items():
        names[squash(text.split())] = abbr
    return names


def state_postal(text, fuzzy=True):
    """Postal code ("FL") for ICE's state text ("FLORIDA", "Florida", " FL "); None if unknown.

    With fuzzy (the default) a misspelt full name is read too ("PENNSLYVANIA" -> "PA",
    "WEST VIRIGINIA" -> "WV"); call with fuzzy=False to tell such a correction apart."""
    if text is None:
        return None
    return _state_postal(str(text), bool(fuzzy))


@functools.lru_cache(maxsize=4096)
def _state_postal(text, fuzzy):
    # No abbreviation expansion here: "CO" and "MT" are states, not "county" and "mount".
    tokens = words(text, aliases=False)
    names = _state_names()
    key = squash(tokens)
    if key not in names:  # "S.C." is a key as it is; "N. Carolina" once spelt out, and "W. Virgina" is West Virginia's typo
        key = squash(_spelt_out(tokens))
    if key in names or not fuzzy or len(key) < 4:
        return names.get(key)
    full_names = [k for k in names if len(k) > 3]
    close = difflib.get_close_matches(key, full_names, n=2, cutoff=0.85)
    if len(close) == 2 and names[close[0]] != names[close[1]]:
        # Two different states equally plausible: refuse to guess.
        if difflib.SequenceMatcher(None, key, close[0]).ratio() == difflib.SequenceMatcher(None, key, close[1]).ratio():
            return None
    return names[close[0]] if close else None


_DIRECTIONS = {"n": "north", "s": "south", "w": "west"}
_TITLES = (["state", "of"], ["commonwealth", "of"])


def _spelt_out(tokens):
    """A state's name written another way than the names know, as they know it: its direction shortened ("N. Carolina",
    "W Virginia": never read as a typo of Virginia) or a title before it ("State of Florida"). A town and its state
    ("New York, NY") is the search's to read, not a state."""
    if len(tokens) > 1 and tokens[0] in _DIRECTIONS:
        tokens = [_DIRECTIONS[tokens[0]], *tokens[1:]]
    if len(tokens) > 2 and list(tokens[:2]) in _TITLES:
        tokens = tokens[2:]
    return tokens


def lookup_key(text):
    """ "St. Louis", "saint louis", "St Louis" -> "saintlouis": what a typed town is matched on."""
    return "".join(words(text))


def slug(name):
    """ "St. Louis" -> "st-louis": the town part of a place's URL."""
    return "-".join(words(name, aliases=False))
