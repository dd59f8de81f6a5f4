"""Datasette plugin: every CSV and JSON answer downloads as a file with a readable name; a custom SQL CSV cut at the row limit says so.

Reads the request path and query string; writes a Content-Disposition header such as
`attachment; filename="287g-as_of-2026-01-08.csv"` on CSV and JSON answers, and, when a custom
SQL query's CSV stops at max_returned_rows while the query has more rows, a last line saying how
many rows were left out (and an X-Rows-Cut header).
"""
import csv
import io
import re
from urllib.parse import parse_qsl

from datasette import hookimpl

_PATH = re.compile(r"^/(?P<parts>[^.]+)\.(?P<format>csv|json)$")
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def download_name(path, query_string, database):
    """287g-agreements-model-TFM.csv, 287g-as_of-2026-01-08.csv, 287g-query.csv ... or None."""
    match = _PATH.match(path)
    if not match:
        return None
    parts = [p for p in match["parts"].split("/") if p]
    if not parts or parts[0] != database:
        return None
    args = parse_qsl(query_string, keep_blank_values=False)
    if len(parts) == 1:
        parts.append("query" if any(k == "sql" for k, _ in args) else "database")
    # the filters and parameters a reader chose name the file; Datasette's own _options do not
    parts += [v if k in ("date", "start", "end", "since") else f"{k}-{v}" for k, v in args if not k.startswith("_") and k != "sql"]
    name = "-".join(_UNSAFE.sub("_", p).strip("_") for p in parts if p)
    return f"{name[:150]}.{match['format']}"


async def rows_in_query(datasette, database, args):
    """How many rows a custom SQL query returns in full (None when SQLite cannot say in time)."""
    sql = args.get("sql")
    params = {k: v for k, v in args.items() if k != "sql" and not k.startswith("_")}
    try:
        result = await datasette.get_database(database).execute(f"select count(*) from ({sql})", params)
    except Exception:
        return None
    return result.first()[0]


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def named(scope, receive, send):
            if scope["type"] != "http" or not _PATH.match(scope.get("path", "")):
                return await app(scope, receive, send)  # only CSV and JSON answers get a name: pages pass at once
            query_string = scope.get("query_string", b"").decode("utf-8", "replace")
            database = (datasette.plugin_config("open287g-site") or {}).get("database")
            name = download_name(scope.get("path", ""), query_string, database)
            if not name:
                return await app(scope, receive, send)
            args = dict(parse_qsl(query_string, keep_blank_values=True))
            custom_csv = scope["path"] == f"/{database}.csv" and "sql" in args
            held = {"start": None, "body": []}

            async def send_named(message):
                if message["type"] == "http.response.start":
                    if message["status"] == 200:
                        headers = [h for h in message.get("headers", []) if h[0].lower() != b"content-disposition"]
                        headers.append([b"content-disposition", f'attachment; filename="{name}"'.encode()])
                        message = dict(message, headers=headers)
                    if custom_csv and message["status"] == 200:
                        held["start"] = message
                        return
                    return await send(message)
                if held["start"] is None:
                    return await send(message)
                held["body"].append(message.get("body", b""))
                if message.get("more_body"):
                    return
                await finish_custom_csv(datasette, database, args, held, send)

            return await app(scope, receive, send_named)

        return named

    return wrap


async def finish_custom_csv(datasette, database, args, held, send):
    """Send a held custom SQL CSV, with a closing line when the row limit cut it short."""
    body = b"".join(held["body"])
    start = held["start"]
    limit = datasette.setting("max_returned_rows")
    rows = sum(1 for _ in csv.reader(io.StringIO(body.decode("utf-8", "replace")))) - 1
    if rows >= limit:
        total = await rows_in_query(datasette, database, args)
        if total is None or total > limit:
            note = io.StringIO()
            left = "more rows" if total is None else f"{total - limit:,} more rows"
            csv.writer(note).writerow([f"Cut at the site's limit of {limit:,} rows: the query has {left}. Add limit and offset to the SQL to download the rest."])
            body += note.getvalue().encode("utf-8")
            headers = [h for h in start.get("headers", []) if h[0].lower() != b"content-length"]
            headers.append([b"x-rows-cut", str(limit).encode()])
            start = dict(start, headers=headers)
    await send(start)
    await send({"type": "http.response.body", "body": body})
