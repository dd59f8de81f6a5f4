"""Datasette plugin: bounds what one SQL value can cost on every connection, and keeps typed SQL off the pages process.

sql_time_limit_ms is checked between SQLite steps, and randomblob(900000000) or a huge printf is
one step. SQLITE_LIMIT_LENGTH caps any one value at 20 MB (the largest value in the database is a
few hundred bytes). printf('%.*c', 900000000, 'x') still loops once per character under that cap
(5-7 s in SQLite 3.40), so printf/format are replaced by a version that refuses a width or
precision over MAX_PRINTF_WIDTH and hands everything else to SQLite's own printf.

In the production layout (open287g/prod.py) OPEN287G_ROLE=pages marks the process that serves
pages: typed SQL (a sql or _where parameter) is answered by the SQL process, and nginx routes it
there. Datasette decodes %-escaped parameter names that nginx's routing does not, so this
process refuses such requests itself rather than run them beside the pages.
"""
import os
import re
import sqlite3
from urllib.parse import parse_qsl

from datasette import hookimpl

MAX_VALUE_BYTES = 20_000_000
MAX_PRINTF_WIDTH = 10_000
TYPED_SQL_PARAMS = {"sql", "_where"}
ROLE = os.environ.get("OPEN287G_ROLE", "")

# A conversion: flags, then width and precision (digits or *), then the type letter.
_SPEC = re.compile(r"%([-+ 0#,!]*)(\*|\d+)?(?:\.(\*|\d+))?([a-zA-Z%])")


def _as_int(value):
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return 0


def printf_widths(fmt, args):
    """Every width and precision the format asks for, '*' ones read from args as SQLite would."""
    widths, i = [], 0
    for _flags, width, precision, kind in _SPEC.findall(fmt):
        for part in (width, precision):
            if part == "*":
                widths.append(abs(_as_int(args[i])) if i < len(args) else 0)
                i += 1
            elif part:
                widths.append(int(part))
        if kind != "%":
            i += 1
    return widths


def _guarded_printf(plain):
    def printf(fmt=None, *args):
        if fmt is None:
            return None
        if max(printf_widths(str(fmt), args), default=0) > MAX_PRINTF_WIDTH:
            raise ValueError(f"printf width or precision over {MAX_PRINTF_WIDTH} refused")
        marks = ", ".join("?" * (len(args) + 1))
        return plain.execute(f"select printf({marks})", (fmt, *args)).fetchone()[0]
    return printf


@hookimpl
def prepare_connection(conn):
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
    # A private in-memory connection keeps SQLite's own printf for the formats that pass.
    plain = sqlite3.connect(":memory:", check_same_thread=False)
    plain.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
    guarded = _guarded_printf(plain)
    for name in ("printf", "format"):
        conn.create_function(name, -1, guarded, deterministic=True)


def _typed_sql(scope):
    query = scope.get("query_string", b"").decode("latin-1")
    return any(key in TYPED_SQL_PARAMS for key, _ in parse_qsl(query, keep_blank_values=True))


@hookimpl
def asgi_wrapper():
    if ROLE != "pages":
        return None

    def wrap(app):
        async def refuse_typed_sql(scope, receive, send):
            if scope["type"] == "http" and _typed_sql(scope):
                body = b"403 Forbidden: typed SQL is answered by the SQL endpoint, not the pages process.\n"
                await send({"type": "http.response.start", "status": 403,
                            "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                        (b"content-length", str(len(body)).encode())]})
                await send({"type": "http.response.body", "body": body})
                return
            await app(scope, receive, send)
        return refuse_typed_sql
    return wrap
