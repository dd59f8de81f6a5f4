"""Datasette plugin: the change feed names its state in its title and opens in a browser as a page that says how to follow it.

Reads the Atom answers of datasette-atom for the recent_changes canned query and the states table;
writes the same feed with the state's name in its <title> (datasette-atom always prints the canned
query's title) and an xml-stylesheet instruction pointing at /feed.xsl, which a browser applies
and a feed reader ignores.
"""
from urllib.parse import parse_qs

from datasette import hookimpl
from datasette.utils.asgi import Response
from lxml import etree

from open287g import i18n
from open287g.config import DATABASE as DB

FEED_PATH = f"/{DB}/recent_changes.atom"
# the stylesheet of the feed in each language (its Spanish edition is asked for at /es/..., open287g/plugins/i18n.py)
STYLESHEETS = {"en": "/feed.xsl", "es": "/es/feed.xsl"}
ATOM_TITLE = "{http://www.w3.org/2005/Atom}title"
STATE = "select name from states where code = upper(trim(:s)) or lower(name) = lower(trim(:s))"


def restyle(body, state_name, stylesheet="/feed.xsl"):
    """The feed's bytes with the stylesheet instruction and, for a state's feed, the state in its title."""
    root = etree.fromstring(body)
    title = root.find(ATOM_TITLE)
    if title is not None:
        title.text = i18n.gettext(title.text)  # the query's title, in the reader's language
        if state_name:
            title.text = f"{title.text}: {state_name}"
    root.addprevious(etree.ProcessingInstruction("xml-stylesheet", f'type="text/xsl" href="{stylesheet}"'))
    return etree.tostring(root.getroottree(), xml_declaration=True, encoding="utf-8", pretty_print=True)


@hookimpl
def asgi_wrapper(datasette):
    def wrap(app):
        async def styled(scope, receive, send):
            if scope["type"] != "http" or scope.get("path") != FEED_PATH:
                return await app(scope, receive, send)
            start, chunks = {}, []

            async def keep(message):
                if message["type"] == "http.response.start":
                    start.update(message)
                else:
                    chunks.append(message.get("body", b""))

            await app(scope, receive, keep)
            body = b"".join(chunks)
            if start.get("status") == 200:
                state = (parse_qs(scope.get("query_string", b"").decode("utf-8", "replace")).get("state") or [""])[0]
                name = None
                if state.strip():
                    row = (await datasette.get_database(DB).execute(STATE, {"s": state})).first()
                    name = row["name"] if row else None
                body = restyle(body, name, STYLESHEETS[scope.get("language", "en")])
            headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
        return styled
    return wrap


async def stylesheet(datasette, request):
    # a template (templates/feed.xsl), so that its words come from the catalogue of the reader's language
    return Response(await datasette.render_template("feed.xsl", {}, request=request), content_type="text/xsl; charset=utf-8",
                    headers={"Cache-Control": "public, max-age=3600"})


@hookimpl
def register_routes():
    return [(r"^/feed\.xsl$", stylesheet)]
