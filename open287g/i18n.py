"""The reader's language: the gettext catalogues in open287g/locale/, the language of the request being
answered, and dates and numbers written the way that language writes them (Babel).

English is the language of the templates and of the code (the msgids); Spanish lives in
open287g/locale/es/LC_MESSAGES/messages.po, which a translator edits without touching code. The .po is
compiled in memory when the site starts, so there is no .mo to keep in step. `make messages` extracts
new strings into messages.pot and merges them into the .po (docs/GLOSSARY.md has the terms).
"""
import contextvars
import functools
import gettext as gettext_module
import io
from pathlib import Path

from babel.lists import format_list
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("en", "es")
DEFAULT = "en"
# Babel's locale for each language: US Spanish ("27 de marzo de 2026", "1,234")
BABEL_LOCALES = {"en": "en_US", "es": "es_US"}

# Datasette table pages that readers use (the maps): their titles and descriptions are in the catalogue
READER_TABLES = ("agencies_map", "agreements_map")

current = contextvars.ContextVar("open287g_language", default=DEFAULT)
# msgids a Spanish page asked for that the catalogue has no translation of (read by the tests)
missing = set()


def po_path(language):
    return LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"


@functools.lru_cache(maxsize=None)
def catalogue(language):
    """The language's .po file, read once per process (babel Catalog), or None for English."""
    if language == DEFAULT:
        return None
    with po_path(language).open("rb") as f:
        return read_po(f, locale=language)


@functools.lru_cache(maxsize=None)
def translations(language):
    """gettext translations compiled from the .po in memory (fuzzy entries are left out)."""
    if language == DEFAULT:
        return gettext_module.NullTranslations()
    buffer = io.BytesIO()
    write_mo(buffer, catalogue(language))
    buffer.seek(0)
    return gettext_module.GNUTranslations(buffer)


@functools.lru_cache(maxsize=None)
def _known(language):
    return {m.id if isinstance(m.id, str) else m.id[0] for m in catalogue(language) if m.id and m.string
            and (m.string if isinstance(m.string, str) else all(m.string)) and not m.fuzzy}


def gettext(message):
    language = current.get()
    if language == DEFAULT or not message:
        return message
    if message not in _known(language):
        missing.add(message)
    return translations(language).gettext(message)


def ngettext(singular, plural, n):
    language = current.get()
    if language == DEFAULT:
        return singular if n == 1 else plural
    if singular not in _known(language):
        missing.add(singular)
    return translations(language).ngettext(singular, plural, n)


_ = gettext


def number(n):
    """1234 -> "1,234" in either language (es_US groups as en_US does)."""
    if n is None or n == "":
        return ""
    return format_decimal(n, locale=BABEL_LOCALES[current.get()])


def join_words(items, style):
    """ ["A", "B", "C"], "or" -> "A or B or C" in English (as the pages always wrote it), "A, B o C" in Spanish."""
    if current.get() == DEFAULT:
        return f" {style} ".join(items)
    return format_list(list(items), style="or" if style == "or" else "standard", locale=BABEL_LOCALES[current.get()])


def status_word(status):
    """An agreement's or agency's status (active, ended, superseded, pending) in the reader's language."""
    words = {"active": _("active"), "ended": _("ended"), "superseded": _("superseded"), "pending": _("pending")}
    return words.get(status, status or "")


def data_word(value):
    """A word the database stores (an agency's level, a document's section or reading method, how a
    meeting was matched) in the reader's language; any other value as stored."""
    words = {
        "County": _("County"), "Municipality": _("Municipality"), "State": _("State"),
        "appendix A": _("appendix A"), "appendix C": _("appendix C"), "form": _("form"), "ocr": _("ocr"),
        "one agency with this name": _("one agency with this name"),
        "one agency with this name and model": _("one agency with this name and model"),
        "the only candidate holding the model on the meeting date": _("the only candidate holding the model on the meeting date"),
        "signed": _("signed"), "pending": _("pending"), "removed without an agreement": _("removed without an agreement"),
        "already listed": _("already listed"),
    }
    return words.get(value, value or "")


def model_names():
    """The models' names in the reader's language (Spanish: the Spanish name with ICE's English one beside)."""
    return {"JEM": _("Jail Enforcement Model"), "WSO": _("Warrant Service Officer"), "TFM": _("Task Force Model")}
