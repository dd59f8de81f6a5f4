"""How reader pages word dates and counts ("26 Feb 2025", "1 agreement", "2 agencies"; in Spanish "26 de
febrero de 2025", "1 acuerdo", "2 agencias"); imported by the plugins, registered as template globals.
The language is the request's (open287g.i18n): English as written here, Spanish from Babel (es_US) and
the catalogue's plural forms."""
import datetime

from babel.dates import format_date

from open287g import i18n


def day(value):
    """ "2025-02-26..." -> "26 Feb 2025", in Spanish "26 de febrero de 2025"."""
    if not value:
        return ""
    try:
        d = datetime.date.fromisoformat(str(value)[:10])
    except ValueError:
        return str(value)
    if i18n.current.get() == i18n.DEFAULT:
        return f"{d.day} {d:%b %Y}"
    return format_date(d, "long", locale=i18n.BABEL_LOCALES[i18n.current.get()])


def plural(n, word, words=None):
    """ "1 active agreement", "2 active agreements"; in Spanish from the catalogue, msgid `word` with
    plural `words` (make messages extracts the calls that give both)."""
    return f"{i18n.number(n)} {i18n.ngettext(word, words or word + 's', n)}"
