"""How reader pages word dates and counts ("26 Feb 2025", "1 agreement", "2 agencies"); imported by the plugins, registered as template globals."""
import datetime


def day(value):
    """ "2025-02-26..." -> "26 Feb 2025"."""
    if not value:
        return ""
    try:
        d = datetime.date.fromisoformat(str(value)[:10])
    except ValueError:
        return str(value)
    return f"{d.day} {d:%b %Y}"


def plural(n, word, words=None):
    return f"{n:,} {word if n == 1 else (words or word + 's')}"
