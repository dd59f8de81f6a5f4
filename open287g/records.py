"""The build's records, declared once: a printed row and a publication. Both are frozen; a stage that changes
one returns a new one (dataclasses.replace, Publication.updated), so no stage alters what another stage made."""
from dataclasses import dataclass, field, fields
from operator import attrgetter, itemgetter
from pathlib import Path

from .rules import MODEL_CODES

def slot_access(cls):
    """(field names, a getter of their values as one tuple, each slot's own setter) of a slotted dataclass. The setters
    skip a frozen class's check: for code that fills an instance field by field (pickling)."""
    names = tuple(f.name for f in fields(cls))
    return names, attrgetter(*names), tuple(getattr(cls, name).__set__ for name in names)


def pickled_as_tuples(cls):
    """A slotted dataclass pickled as the tuple of its fields' values, set back through the slots' own setters:
    without the fields() lookup dataclasses makes on every object of a frozen class, or the dict of slots of another.
    The read's snapshot and the walks' checkpoints hold thousands of rows, agreements and changes."""
    _, values, puts = slot_access(cls)

    def __getstate__(self):
        return values(self)

    def __setstate__(self, state):
        for put, value in zip(puts, state):
            put(self, value)

    cls.__getstate__, cls.__setstate__ = __getstate__, __setstate__
    return cls


# The printed columns that make a listing distinct.
CONTENT = ("state", "agency", "level", "county", "support_type", "signed", "signed_on", "moa", "moa_url", "addendum", "addendum_url")


@pickled_as_tuples
@dataclass(frozen=True, slots=True)
class Row:
    """One row as ICE printed it, with what the reader made of it. Rows recur unchanged across hundreds of
    publications: one object serves every printing, which is safe because it cannot change."""
    state: str
    agency: str
    level: str | None
    county: str | None
    support_type: str
    signed: str | None
    moa: str | None
    addendum: str | None
    signed_on: str | None  # SIGNED read as an ISO date
    moa_url: str | None
    addendum_url: str | None
    model: str | None  # the model's name (rules.MODEL_NAMES), None when SUPPORT TYPE names none
    level_clean: str | None  # TYPE read as County, Municipality or State
    state_code: str | None  # STATE as a postal code, None when it names no state
    agency_norm: str  # identity.norm_agency of the agency's name
    # The printed columns that make a listing distinct, as read: a correction of the row's identity keeps them.
    content: tuple = None
    # Derived (never passed in):
    content_repr: str = field(init=False)
    key: tuple = field(init=False)  # the row key: (state, normalised agency, model code, signing date)
    # The row key without the date: one agency's agreement of one model (pending lists print no date). Kept, not
    # sliced on each use: every list's key set is made of them. Follows from key, so not compared.
    body_key: tuple = field(init=False, compare=False)

    def __post_init__(self):
        if self.content is None:
            object.__setattr__(self, "content", tuple(getattr(self, k) for k in CONTENT))
        object.__setattr__(self, "content_repr", repr(self.content))
        object.__setattr__(self, "key", (self.state_code, self.agency_norm, MODEL_CODES.get(self.model), self.signed_on))
        object.__setattr__(self, "body_key", self.key[:3])

    @property
    def model_code(self):
        return self.key[2]


ROSTER = "roster"
# Where a publication comes from -> its era, as the publications table says it.
ERAS = {"page_table": "page table", "participating": "workbook", "pending": "workbook", ROSTER: "roster"}

Anomaly = tuple  # (kind, sheet row or None, detail)
_ANOMALY_KIND = itemgetter(0)


# Without slots, unlike Row: a build copies each of its thousand publications a few times (Publication.updated), and a
# dict is copied in one step where slots are set one by one.
@dataclass(frozen=True)
class Publication:
    """One file of ICE's (or one capture of its 2011-2017 roster), filled in stage by stage."""
    # inventory: the file and its MANIFEST.csv line
    path: Path
    file: str  # under data/
    file_name: str
    original_name: str
    folder: str
    source_kind: str  # participating, pending, page_table (data/ice folders) or roster
    bytes: int
    capture_utc: str | None = None
    fetched_utc: str | None = None
    archived_by: str | None = None
    manifest_sha256: str | None = None
    manifest_rows: int | None = None
    caption: str | None = None  # the roster's caption and its "as of" date
    caption_date: str | None = None
    # read
    sha256: str | None = None
    id: str | None = None
    error: str | None = None  # why the file could not be read; it is then left out
    header: str | None = None
    sheet: str | None = None  # the name of the sheet the list was read from (rule list_sheet)
    rows: tuple = ()  # Row, one per non-blank data row
    sheet_rows: tuple = ()  # the sheet row of each row
    blank_rows: int = 0
    row_count: int = 0
    fingerprint: str | None = None  # the content, independent of order and formatting (dating.fingerprint)
    keys: frozenset = frozenset()  # the rows' body keys, compared between publications
    saved_at: str | None = None  # when Excel last saved the file
    # date
    list: str | None = None  # participating or pending, from the columns
    published_at: str | None = None  # ISO date-time
    date_source: str | None = None
    slot: str | None = None  # am, mid or pm, from ICE's file name
    seq: int | None = None  # order on its list
    duplicate_of: str | None = None
    truncated: bool = False
    # lineage
    held: bool = False  # a mass ending not (yet) confirmed: ends nothing
    anomalies: tuple = ()  # Anomaly, in the order the stages found them

    @property
    def is_roster(self):
        """A capture of ICE's 2011-2017 roster (data/history), not one of ICE's files of 2021 on."""
        return self.source_kind == ROSTER

    @property
    def era(self):
        return ERAS[self.source_kind]

    def updated(self, **changes):
        """This publication with changes, as dataclasses.replace makes it (Publication has no __post_init__ and
        every field is an init field) without replace's walk of the fields and call of __init__: a build makes
        some 5,000 of them."""
        if not changes.keys() <= _PUB_NAMES:
            raise TypeError(f"Publication has no field {', '.join(sorted(changes.keys() - _PUB_NAMES))}")
        if all(getattr(self, name) is value for name, value in changes.items()):
            return self  # nothing changes (walk's held=False on most): a frozen record can serve as its own copy
        new = object.__new__(Publication)
        fields_of = new.__dict__  # a frozen dataclass refuses setattr, not its instance's dict
        fields_of.update(self.__dict__)
        fields_of.update(changes)
        return new

    def noting(self, *found):
        """This publication with more anomalies."""
        return self.updated(anomalies=self.anomalies + tuple(found)) if found else self

    def has_anomaly(self, kinds):
        """Whether any of its anomalies is of one of these kinds: the kinds read in C, as a publication can hold
        thousands of row-level ones."""
        return not frozenset(kinds).isdisjoint(map(_ANOMALY_KIND, self.anomalies))


_PUB_NAMES = frozenset(f.name for f in fields(Publication))
