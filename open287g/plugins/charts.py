"""Datasette plugin: the chart of a chart query (growth by model, agreements by state, signings per month), drawn by static/charts.js.

Reads the query's `fragment` header (canned_queries/*.sql: g.mark, g.x_column, g.x_type,
g.y_column, g.color_column) and the palette (open287g/palette.py, served by the build in
metadata.json as the open287g-site plugin section); writes the script, and its
settings, into that query's page only, so no other page loads chart code.
"""
import functools
import json
from pathlib import Path
from urllib.parse import parse_qsl

from babel.dates import get_month_names
from datasette import hookimpl

from open287g import i18n
from open287g.i18n import _, model_names

SCRIPT = Path(__file__).resolve().parent / "static" / "charts.js"


def chart_settings(query, shared, gaps=()):
    """The settings charts.js draws from, or None for a query without a chart. gaps: (first month or None,
    last month) of each stretch no list of ICE's is readable (list_gaps), shaded on a month axis."""
    fragment = dict(parse_qsl(query.get("fragment") or ""))
    if not fragment.get("g.mark"):
        return None
    x_type = fragment.get("g.x_type", "ordinal")
    return {
        "mark": fragment["g.mark"],
        "x": fragment["g.x_column"],
        "xType": x_type,
        "y": fragment["g.y_column"],
        "color": fragment.get("g.color_column", "model"),
        "colours": shared["colours"],
        "names": model_names(),
        "title": _(query["title"]),
        "xLabel": axis_label("month" if x_type == "temporal" else fragment["g.x_column"]),
        "yLabel": axis_label(fragment["g.y_column"]),
        "desc": _("%(y)s by %(x)s, one colour per %(colour)s; the table below holds every figure.") % {
            "y": axis_label(fragment["g.y_column"]), "x": axis_label("month" if x_type == "temporal" else fragment["g.x_column"]).lower(),
            "colour": axis_label(fragment.get("g.color_column", "model")).lower()},
        # the month names and number grouping of the page's language (Babel's CLDR data)
        "months": [str(m).rstrip(".").capitalize() for m in get_month_names("abbreviated", locale=i18n.BABEL_LOCALES[i18n.current.get()]).values()],
        "locale": i18n.BABEL_LOCALES[i18n.current.get()].replace("_", "-"),
        "gaps": [list(g) for g in gaps] if x_type == "temporal" else [],
        "gapLabel": _("no list readable"),
    }


def axis_label(column):
    """A chart column as an axis label: "Month", "State", "Agreements", in the page's language."""
    labels = {"month": _("Month"), "state": _("State"), "agreements": _("Agreements"), "model": _("Model")}
    return labels.get(column, column.replace("_", " ").capitalize())


@hookimpl
def extra_body_script(template, database, view_name, request, datasette):
    shared = datasette.plugin_config("open287g-site") or {}
    if not shared or template != "query.html" or database != shared.get("database") or request is None:
        return ""
    query = (datasette.metadata("queries", database=database) or {}).get(request.url_vars.get("table") or "")
    if not query or not chart_settings(query, shared):
        return ""

    async def script():
        settings = chart_settings(query, shared, await _gaps(datasette.get_database(database)))
        return "window.OPEN287G_CHART = {};\n{}".format(json.dumps(settings), _script())

    return script


async def _gaps(db):
    """The participating list's gaps (rule list_gaps, written by the build) as (first month or None, last month)."""
    if "list_gaps" not in await db.table_names():
        return []
    rows = await db.execute("select substr(starts, 1, 7), substr(ends, 1, 7) from list_gaps "
                            "where list = 'participating' and ends is not null order by id")
    return [tuple(r) for r in rows]


@functools.lru_cache(maxsize=None)
def _script():
    return SCRIPT.read_text(encoding="utf-8")  # read once per process
