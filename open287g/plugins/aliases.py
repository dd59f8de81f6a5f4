"""Datasette plugin: an old row URL of an agreement or agency whose id moved leads to the current row.

Ids come from the first printed row and do not move, but earlier builds made some ids from a later
spelling; those ids are kept in id_aliases, so a link someone shared still works (HTTP 301).
"""
import re

from datasette import hookimpl

ROW_PATH = re.compile(r"^/(?P<db>[^/]+)/(?P<table>agreements|agencies)/(?P<id>[0-9a-f]{12})(?P<suffix>\.json|\.csv)?$")


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def redirecting(scope, receive, send):
            if scope["type"] == "http" and scope.get("method") in ("GET", "HEAD"):
                m = ROW_PATH.match(scope.get("path", ""))
                target = await _target(datasette, m) if m else None
                if target:
                    query = scope.get("query_string", b"").decode("latin-1")
                    location = target + (f"?{query}" if query else "")
                    await send({"type": "http.response.start", "status": 301, "headers": [
                        [b"location", location.encode("latin-1")], [b"content-type", b"text/plain; charset=utf-8"]]})
                    await send({"type": "http.response.body", "body": f"Moved to {location}\n".encode()})
                    return
            await app(scope, receive, send)

        return redirecting

    return wrap


async def _target(datasette, m):
    try:
        db = datasette.get_database(m["db"])
    except KeyError:
        return None
    if "id_aliases" not in await db.table_names():
        return None
    table = m["table"]
    exists = await db.execute(f"select 1 from [{table}] where id = ?", [m["id"]])
    if exists.first():
        return None
    row = (await db.execute("select id from id_aliases where alias = ? and table_name = ?", [m["id"], table])).first()
    if not row:
        return None
    return datasette.urls.table(m["db"], table) + "/" + row["id"] + (m["suffix"] or "")
