"""Datasette plugin: a table URL that names a facet the table already shows gets that facet once.

Datasette 0.65 computes and prints such a facet twice: /287g/agreements?_facet=model showed two
model boxes, and its JSON both `model` and `model_2`. Reads the table's facets from the served
metadata and the request's query string; drops each `_facet` argument that repeats one, before
Datasette sees the request. Other arguments are kept as given.
"""
import re
from urllib.parse import parse_qsl, urlencode

from datasette import hookimpl

_TABLE = re.compile(r"^/(?P<database>[^/.]+)/(?P<table>[^/.]+)(?:\.(?:json|csv))?$")


def without_repeated_facets(query_string, shown):
    """The query string without `_facet` arguments naming a facet in `shown` or named before; None when none repeats."""
    args = parse_qsl(query_string, keep_blank_values=True)
    seen, kept = set(shown), []
    for name, value in args:
        if name == "_facet":
            if value in seen:
                continue
            seen.add(value)
        kept.append((name, value))
    return urlencode(kept) if len(kept) < len(args) else None


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def once(scope, receive, send):
            query_string = scope.get("query_string", b"") if scope["type"] == "http" else b""
            match = _TABLE.match(scope.get("path", "")) if b"_facet=" in query_string else None
            if match:
                shown = datasette.table_metadata(match["database"], match["table"]).get("facets") or ()
                rewritten = without_repeated_facets(query_string.decode("utf-8", "replace"), [f for f in shown if isinstance(f, str)])
                if rewritten is not None:
                    scope = dict(scope, query_string=rewritten.encode("utf-8"))
            return await app(scope, receive, send)

        return once

    return wrap
