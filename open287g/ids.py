"""Stable short ids: the first 12 hex digits of a sha256 of the parts, so an id depends only on content."""
import functools
import hashlib


def short_id(*parts):
    return hashlib.sha256("\x1f".join("" if p is None else str(p) for p in parts).encode()).hexdigest()[:12]


# The lineage sorts every list's row keys: 525,000 calls on 6,000 distinct keys in a cold build.
@functools.lru_cache(maxsize=1 << 16)
def sortable(key):
    """A key tuple that sorts even when a part is None (a row whose STATE is unknown until a correction).
    Its parts are text, dates or None (row keys), never numbers that a cache would take for one another."""
    return tuple("" if x is None else str(x) for x in key)
