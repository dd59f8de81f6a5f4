"""Datasette plugin: error pages with the site's header, search box and a way home; a bad address answers 4xx, never 500.

Datasette 0.65 answers 500 to some addresses a reader can type or mangle (a sort on a missing
column, a non-numeric _timelimit, a broken _through). Those are mistakes in the request, so this
hook answers them 400 with a plain sentence; 404s get the same page with "page not found".
"""
import json
import traceback
from pathlib import Path

from datasette import Response, hookimpl
from datasette.utils.asgi import Base400
from datasette.views.base import DatasetteError

from open287g.i18n import _

HERE = str(Path(__file__).resolve().parent)
NOT_FOUND = (("address", "Database not found"), ("table", "Table not found"), ("row", "Record not found"))


def titles():
    return {400: _("This address asks for something the site cannot show"), 403: _("Not allowed"), 404: _("Page not found")}


def classify(exception, request):
    """(status, message) for an exception raised while answering a request."""
    if isinstance(exception, Base400):
        return exception.status, str(exception.args[0]) if exception.args else ""
    if isinstance(exception, DatasetteError):
        # Datasette raises these from the table view for unusable query-string arguments.
        status = exception.status if exception.status < 500 or request.query_string else 500
        return (400 if status >= 500 else status), exception.message
    ours = any(frame.filename.startswith(HERE) for frame in traceback.extract_tb(exception.__traceback__))
    if request.query_string and not ours and isinstance(exception, (ValueError, TypeError, KeyError, json.JSONDecodeError)):
        # Datasette reading an argument it was given (int("abc") for _timelimit...); a bug of ours stays a 500
        names = sorted({k for k in request.args.keys() if k.startswith("_")})
        detail = " " + _("(check %(names)s)") % {"names": ", ".join(names)} if names else ""
        return 400, _("One of the address's parameters cannot be read%(detail)s.") % {"detail": detail}
    return 500, _("The site met an error it did not expect. Please try again, or start from the home page.")


@hookimpl(tryfirst=True)
def handle_exception(datasette, request, exception):
    async def inner():
        status, message = classify(exception, request)
        if request.path.split("?")[0].endswith(".json"):
            return Response.json({"ok": False, "error": message, "status": status}, status=status)
        # Datasette's own 404 messages ("Database not found", "Table not found: x") name its
        # internals; the page says what is missing in a reader's words instead (templates/error.html)
        missing = next((kind for kind, prefix in NOT_FOUND if message.startswith(prefix)), None) if status == 404 else None
        html = await datasette.render_template(
            ["error.html"],
            {"status": status, "error": message, "missing": missing,
             "missing_path": request.path, "title": titles().get(status),
             # Datasette's own messages ("Cannot sort table by x") are English on every page
             "error_in_english": isinstance(exception, (Base400, DatasetteError))},
            request=request,
        )
        return Response.html(html, status=status)

    return inner
