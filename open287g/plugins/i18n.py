"""Datasette plugin: every page in English at its address and in Spanish under /es/ (docs/GLOSSARY.md).

The ASGI wrapper takes /es off the path, answers the rest of the request in Spanish (open287g.i18n's
language of the request) and, on the way out, keeps the reader in Spanish: links and forms of an HTML
page and a redirect's Location get the /es prefix back. Links that carry hreflang (the language
switch, the alternate links) are left as written. Templates translate with Jinja2's i18n extension,
from the catalogues in open287g/locale/. A browser that prefers Spanish is offered Spanish on the home
page (templates/index.html), never redirected: nginx caches one copy of each address.
"""
from datasette import hookimpl
from markupsafe import Markup, escape

from open287g import i18n

PREFIX = "/es"


def spanish_path(path):
    """The path without /es, or None when the path is not a Spanish one."""
    if path == PREFIX or path.startswith(PREFIX + "/"):
        return path[len(PREFIX):] or "/"
    return None


def addresses(request):
    """The current page's address in each language (path and query string)."""
    path = request.path if request is not None else "/"
    query = ("?" + request.query_string) if request is not None and request.query_string else ""
    return {"en": path + query, "es": PREFIX + (path if path != "/" else "/") + query}


def home_crumb(html):
    """Datasette's breadcrumbs start with a link named "home"; it is named in the reader's language."""
    return Markup(str(html).replace(">home</a>", ">" + str(escape(i18n.gettext("home"))) + "</a>", 1))


def localise_table(html, metadata, table):
    """Datasette's table page in the reader's language around its English controls: the title and
    description of a table readers use (i18n.READER_TABLES) from the catalogue, the licence and source
    lines; any other table's description and the column descriptions marked lang="en"."""
    if i18n.current.get() == i18n.DEFAULT:
        return html
    return _localise(str(html), metadata or {}, table, translated=table in i18n.READER_TABLES)


def _localise(html, metadata, title, translated):
    """A Datasette page's title, description, licence and source in the reader's language (the
    description marked English where it is not translated), its column descriptions marked English."""
    def swap(english, replacement):
        return html.replace(str(escape(english)), replacement, 1) if english else html

    title = metadata.get("title") or title
    if translated:
        if title:
            html = html.replace(f"<h1>{escape(title)}</h1>", f"<h1>{escape(i18n.gettext(title))}</h1>", 1)
        description = metadata.get("description_html")
        if description:
            html = html.replace(description, i18n.gettext(description), 1)
        elif metadata.get("description"):
            html = swap(metadata["description"], str(escape(i18n.gettext(metadata["description"]))))
    else:
        html = html.replace('<div class="metadata-description">', '<div class="metadata-description" lang="en">', 1)
    for label in ("Data license:", "Data source:", "About:"):
        html = html.replace(label, str(escape(i18n.gettext(label))), 1)
    for key in ("license", "source", "about"):
        html = swap(metadata.get(key), str(escape(i18n.gettext(metadata.get(key) or ""))))
    return Markup(html.replace('<dl class="column-descriptions">', '<dl class="column-descriptions" lang="en">', 1))


def localise_database(html, metadata, queries):
    """Datasette's database page around its English controls: the canned queries' titles and
    descriptions from the catalogue (make messages extracts them from canned_queries/), the rest as
    on a table page."""
    if i18n.current.get() == i18n.DEFAULT:
        return html
    html = _localise(str(html), metadata or {}, None, translated=True)
    for query in queries or ():
        for text in (query.get("title"), query.get("description")):
            if text:
                html = html.replace(f">{escape(text)}</a>", f">{escape(i18n.gettext(text))}</a>", 1)
                html = html.replace(f'title="{escape(text)}"', f'title="{escape(i18n.gettext(text))}"', 1)
    return Markup(html)


@hookimpl
def prepare_jinja2_environment(env):
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)
    env.policies["ext.i18n.trimmed"] = True
    env.filters["number"] = i18n.number
    env.filters["home_crumb"] = home_crumb
    env.filters["localise_table"] = localise_table
    env.filters["localise_database"] = localise_database
    env.globals["status_word"] = i18n.status_word
    env.globals["data_word"] = i18n.data_word
    env.filters["translated"] = i18n.gettext


@hookimpl
def extra_template_vars(request):
    language = i18n.current.get()
    return {
        "site_lang": language,
        "site_addresses": addresses(request),
        "other_lang": "en" if language == "es" else "es",
        "reader_tables": i18n.READER_TABLES,
    }


@hookimpl
def register_magic_parameters(datasette):
    # :_open287g_lang in a canned query: the reader's language (the change feed writes its sentences in it).
    # Read from the request, not the context variable: the query binds it in a worker thread.
    def language(key, request):
        if key != "lang":
            raise KeyError(key)
        return request.scope.get("language", i18n.DEFAULT) if request is not None else i18n.DEFAULT
    return [("open287g", language)]


@hookimpl(trylast=True)
def asgi_wrapper(datasette):
    # trylast: outside the other wrappers, so they see the path without /es
    def wrap(app):
        async def language(scope, receive, send):
            path = spanish_path(scope.get("path", "")) if scope["type"] == "http" else None
            if path is None:
                i18n.current.set(i18n.DEFAULT)
                return await app(scope, receive, send)
            i18n.current.set("es")
            scope = dict(scope, path=path, language="es")
            if scope.get("raw_path"):
                scope["raw_path"] = scope["raw_path"][len(PREFIX):] or b"/"
            return await app(scope, receive, send)

        return language

    return wrap
