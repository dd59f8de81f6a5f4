"""Datasette plugin: the inner half of the Spanish pages (open287g/plugins/i18n.py takes /es off the path
and marks the request): a Spanish answer's local links, form actions and redirects keep /es. A separate
plugin because its wrapper must sit inside datasette-gzip, which is outside the path-taking one, so
the page is read before it is compressed.
"""
import re

from datasette import hookimpl

PREFIX = "/es"
# a tag whose href or action may need the prefix; links that carry hreflang are left as written
_TAG = re.compile(r"<(?:a|form|link|area)\b[^>]*>", re.I)
_LOCAL = re.compile(r'(\s(?:href|action)=")/(?![/-])')


def prefix_links(html):
    """Local links and form actions of an HTML page with /es in front, except those with hreflang."""
    def tag(match):
        text = match.group(0)
        return text if "hreflang=" in text else _LOCAL.sub(r"\1" + PREFIX + "/", text)
    return _TAG.sub(tag, html)


def keep_spanish(app):
    """The inner half: a Spanish answer's links and redirects keep /es (inside datasette-gzip, so the
    page is read before it is compressed)."""
    async def links(scope, receive, send):
        if scope.get("language") != "es":
            return await app(scope, receive, send)
        start = {}
        chunks = []

        async def spanish_send(message):
            if message["type"] == "http.response.start":
                headers = []
                for name, value in message.get("headers", []):
                    if name.lower() == b"location" and value.startswith(b"/") and not value.startswith((b"//", b"/-/")):
                        value = PREFIX.encode() + value
                    headers.append([name, value])
                message = dict(message, headers=headers)
                content_type = next((v for n, v in headers if n.lower() == b"content-type"), b"")
                if content_type.startswith(b"text/html"):
                    start["message"] = message
                    return
                return await send(message)
            if message["type"] == "http.response.body" and "message" in start:
                chunks.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                body = prefix_links(b"".join(chunks).decode("utf-8")).encode("utf-8")
                headers = [[n, v] for n, v in start["message"]["headers"] if n.lower() != b"content-length"]
                headers.append([b"content-length", str(len(body)).encode()])
                await send(dict(start["message"], headers=headers))
                return await send({"type": "http.response.body", "body": body})
            await send(message)

        return await app(scope, receive, spanish_send)

    return links


@hookimpl(tryfirst=True)
def asgi_wrapper(datasette):
    return keep_spanish
