"""Datasette plugin: canned-query pages for readers: checked parameters, described columns, id links, counts by model, paging.

Reads the served canned queries (metadata.json, assembled from canned_queries/*.sql by
open287g.config), their parameter kinds, and the column descriptions of metadata.yml (the plugin
section `open287g-queries`, then the tables' own columns). Writes template variables for
templates/query.html and, for a parameter that cannot be used (a date that is not a date, a state
that does not exist), a 400 answer: the page says what is wrong, JSON and CSV get one line.
"""
import datetime
import json
import re
from urllib.parse import parse_qsl

from datasette import hookimpl
from datasette.utils import path_with_replaced_args
from markupsafe import Markup, escape

from open287g import i18n
from open287g.i18n import _

PAGE_SIZE = 100
_QUERY_PATH = re.compile(r"^/(?P<database>[^/.]+)/(?P<name>[^/.]+)(?:\.(?P<format>\w+))?$")


def site(datasette):
    """The database name, palette and model names the build serves (open287g.config.site_settings)."""
    return datasette.plugin_config("open287g-site") or {}


def canned_queries(datasette, database):
    return (datasette.metadata("queries", database=database) or {}) if database == site(datasette).get("database") else {}


async def state_names(datasette):
    if not hasattr(datasette, "_open287g_states"):
        rows = await datasette.get_database(site(datasette)["database"]).execute("select code, name from states")
        datasette._open287g_states = {r["code"].upper() for r in rows} | {r["name"].lower() for r in rows}
    return datasette._open287g_states


async def parameter_problems(datasette, query, args):
    """Plain sentences about parameters that cannot be used, and whether every parameter is blank."""
    problems = []
    names = query.get("parameter_kinds") or {}
    optional = set(query.get("optional_parameters") or ())
    blank = all(not (args.get(name) or "").strip() for name in names if name not in optional)
    for name, kind in names.items():
        value = (args.get(name) or "").strip()
        if not value and name in optional:
            continue
        if not value:
            problems.append((_("Enter a date for “%(name)s”.") if kind == "date" else _("Enter a value for “%(name)s”.")) % {"name": name})
        elif kind == "date":
            try:
                datetime.date.fromisoformat(value)
            except ValueError:
                problems.append(_("“%(value)s” is not a date: enter %(name)s as year-month-day, for example 2026-01-08.") % {"value": value, "name": name})
        elif kind == "state" and value.upper() not in await state_names(datasette) and value.lower() not in await state_names(datasette):
            problems.append(_("“%(value)s” is not a state or territory: enter a postal code such as FL or a name such as Florida.") % {"value": value})
    return problems, blank


QUERY_TABLES = ("agreements", "agencies", "changes", "listings", "steering_committee_meetings", "pending_applications")


def column_descriptions(datasette, columns, canned=True):
    """{column: description} of a query's columns.

    A canned query's columns are described by the plugin's shared query columns, then by the tables'
    columns. Typed SQL can select any table's column: it is described only where every table with a
    column of that name says the same (states.name is not agencies.name), never by a guess. In another
    language than English only the shared ones, which the catalogue translates (the tables' own
    descriptions, on Datasette's table pages, stay in English)."""
    config = datasette.plugin_config("open287g-queries") or {}
    shared = config.get("columns") or {}
    if i18n.current.get() != i18n.DEFAULT:
        return {column: shared[column] for column in columns or () if column in shared} if canned else {}
    tables = datasette.metadata("tables", database=site(datasette).get("database")) or {}
    out = {}
    for column in columns or ():
        if not canned:
            said = {((meta or {}).get("columns") or {}).get(column) for meta in tables.values()
                    if column in ((meta or {}).get("columns") or {})}
            if len(said) == 1:
                out[column] = said.pop()
            continue
        if column in shared:
            out[column] = shared[column]
            continue
        for table in QUERY_TABLES:
            described = (tables.get(table) or {}).get("columns") or {}
            if column in described:
                out[column] = described[column]
                break
    return out


LIST_UNKNOWN = """
select starts, ends
from list_gaps
where list = 'participating'
  and (starts is null or substr(starts, 1, 10) < :day)
  and :day < substr(ends, 1, 10)
"""


async def list_unknown(datasette, day):
    """{"from", "until"} when ICE's list on `day` is not readable (a span of list_gaps: before the first roster
    capture, or between the last one and ICE's first list of 2021), else None. The as_of query answers no rows then."""
    if not day:
        return None
    db = datasette.get_database(site(datasette)["database"])
    r = (await db.execute(LIST_UNKNOWN, {"day": day})).first()
    return {"from": r["starts"], "until": r["ends"]} if r else None


async def first_day(datasette):
    """The day of the first publication on file: the earliest date a query can answer for (a date picker's min)."""
    db = datasette.get_database(site(datasette)["database"])
    r = (await db.execute("select substr(min(published_at), 1, 10) as day from publications where published_at is not null")).first()
    return r["day"] if r else None


async def counts_by_model(datasette, sql, args, params):
    """[(model, rows)] of a query's result, counted by SQLite over the same query."""
    db = datasette.get_database(site(datasette)["database"])
    values = {name: args.get(name, "") for name in params}
    rows = await db.execute(f"select model, count(*) as n from ({sql}) group by model order by model", values)
    order = list(site(datasette)["model_names"])
    return sorted(((r["model"], r["n"]) for r in rows), key=lambda mc: order.index(mc[0]) if mc[0] in order else 9)


@hookimpl
def extra_template_vars(template, database, columns, request, datasette):
    if template != "query.html" or request is None:
        return {}
    name = request.url_vars.get("table")
    query = canned_queries(datasette, database).get(name) if name else None

    async def inner():
        if not site(datasette):
            return {}
        out = {
            "chart_page": False,
            "column_descriptions": column_descriptions(datasette, columns, canned=bool(query)),
            "page_size": PAGE_SIZE,
            "page_url": lambda n: path_with_replaced_args(request, {"_page": n}),
        }
        if not query:
            return out
        problems, blank = await parameter_problems(datasette, query, request.args)
        out.update({
            "chart_page": bool(query.get("fragment")),
            "param_problems": [] if blank and problems else problems,
            "param_blank": blank and bool(problems),
            "parameter_kinds": query.get("parameter_kinds") or {},
            "optional_parameters": query.get("optional_parameters") or [],
            "model_colours": site(datasette)["model_colours"],
            "model_names": i18n.model_names(),
        })
        if "date" in out["parameter_kinds"].values():
            out["first_day"] = await first_day(datasette)
        if not problems and name == "as_of":
            out["list_unknown"] = await list_unknown(datasette, request.args.get("date", "").strip())
        if not problems and query.get("counts_by_model"):
            out["model_counts"] = await counts_by_model(datasette, query["sql"], request.args, query.get("parameter_kinds") or {})
        return out

    return inner


# Ids in query results link to the row they name (tables already link their foreign keys).
ID_LINKS = {
    "agreement_id": "/{db}/agreements/{value}",
    "agency_id": "/{db}/agencies/{value}",
    "superseded_by": "/{db}/agreements/{value}",
    "state_code": "/{db}/states/{value}",
    "county_fips": "/{db}/agencies?county_fips={value}",
}


def id_link(display, column, database):
    """A query page's cell as a link to the row its id names. A template filter on the rows a page
    shows, not a render_cell hook: Datasette calls that hook for every cell of every page, tables
    included, and for all 5,000 rows a query may return, not the 100 shown."""
    if column not in ID_LINKS or isinstance(display, Markup) or display in (None, ""):
        return display
    href = ID_LINKS[column].format(db=database, value=escape(str(display)))
    return Markup(f'<a href="{href}">{escape(str(display))}</a>')


@hookimpl
def prepare_jinja2_environment(env):
    env.filters["id_link"] = id_link


def _plain_response(status, message, fmt):
    if fmt == "json":
        return "application/json; charset=utf-8", json.dumps({"ok": False, "error": message, "status": status}).encode()
    return "text/plain; charset=utf-8", (message + "\n").encode()


@hookimpl
def asgi_wrapper(datasette):
    served = {}  # the canned queries with checked parameters, read at the first request: the served metadata never changes while a process runs

    def checked_query(database, name):
        if not served:
            served["database"] = site(datasette).get("database")
            served["queries"] = {n: q for n, q in canned_queries(datasette, served["database"]).items() if q.get("parameter_kinds")}
        return served["queries"].get(name) if database == served["database"] else None

    def wrap(app):
        async def checked(scope, receive, send):
            # every table URL has this shape too: it costs a dictionary lookup, not a metadata read
            match = _QUERY_PATH.match(scope.get("path", "")) if scope["type"] == "http" else None
            query = checked_query(match["database"], match["name"]) if match else None
            if not query:
                return await app(scope, receive, send)
            args = dict(parse_qsl(scope.get("query_string", b"").decode("utf-8", "replace"), keep_blank_values=True))
            problems, blank = await parameter_problems(datasette, query, args)
            if not problems:
                return await app(scope, receive, send)
            fmt = match["format"]
            if fmt in ("json", "csv", "atom"):
                content_type, body = _plain_response(400, f"{match['name']}: " + " ".join(problems), fmt)
                await send({"type": "http.response.start", "status": 400, "headers": [[b"content-type", content_type.encode()]]})
                return await send({"type": "http.response.body", "body": body})
            if blank:
                return await app(scope, receive, send)  # an empty form to fill in, not a mistake

            async def send_400(message):
                if message["type"] == "http.response.start" and message["status"] == 200:
                    message = dict(message, status=400)
                await send(message)

            return await app(scope, receive, send_400)

        return checked

    return wrap
