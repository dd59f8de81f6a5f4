"""Datasette plugin: an old row URL of an agreement, agency or pending application whose id moved leads to the current row.

Ids come from the first printed row and do not move, but earlier builds made some ids from a later
spelling; those ids are kept in id_aliases, so a link someone shared still works (HTTP 301).
"""
import re

from datasette import hookimpl

ROW_PATH = re.compile(r"^/(?P<db>[^/]+)/(?P<table>agreements|agencies|pending_applications)/(?P<id>[0-9a-f]{12})(?P<suffix>\.json|\.csv)?$")


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def redirecting(scope, receive, send):
            m = ROW_PATH.match(scope.get("path", "")) if scope["type"] == "http" and scope.get("method") in ("GET", "HEAD") else None
            if m is None:
                await app(scope, receive, send)
                return
            # Only a row Datasette did not find costs an alias lookup: found rows pass straight through.
            state = {"redirected": False}

            async def send_or_redirect(message):
                if message["type"] == "http.response.start" and message["status"] == 404:
                    target = await _target(datasette, m)
                    if target:
                        state["redirected"] = True
                        query = scope.get("query_string", b"").decode("latin-1")
                        location = target + (f"?{query}" if query else "")
                        await send({"type": "http.response.start", "status": 301, "headers": [
                            [b"location", location.encode("latin-1")], [b"content-type", b"text/plain; charset=utf-8"]]})
                        await send({"type": "http.response.body", "body": f"Moved to {location}\n".encode()})
                        return
                if not state["redirected"]:
                    await send(message)

            await app(scope, receive, send_or_redirect)

        return redirecting

    return wrap


async def _target(datasette, m):
    try:
        db = datasette.get_database(m["db"])
    except KeyError:
        return None
    if "id_aliases" not in await db.table_names():
        return None
    row = (await db.execute("select id from id_aliases where alias = ? and table_name = ?", [m["id"], m["table"]])).first()
    if not row:
        return None
    return datasette.urls.table(m["db"], m["table"]) + "/" + row["id"] + (m["suffix"] or "")
