"""Datasette plugin: the chart of a chart query (growth by model, agreements by state, signings per month), drawn by static/charts.js.

Reads the query's `fragment` header (canned_queries/*.sql: g.mark, g.x_column, g.x_type,
g.y_column, g.color_column) and the palette (open287g/palette.py); writes the script, and its
settings, into that query's page only, so no other page loads chart code.
"""
import json
from pathlib import Path
from urllib.parse import parse_qsl

from datasette import hookimpl

from open287g.config import DATABASE
from open287g.palette import COLOURS
from open287g.plugins.queries import MODEL_NAMES, canned_queries

SCRIPT = Path(__file__).resolve().parent / "static" / "charts.js"


def chart_settings(query):
    """The settings charts.js draws from, or None for a query without a chart."""
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
        "colours": COLOURS,
        "names": MODEL_NAMES,
        "title": query["title"],
        "xLabel": "Month" if x_type == "temporal" else fragment["g.x_column"].replace("_", " ").capitalize(),
        "yLabel": fragment["g.y_column"].replace("_", " ").capitalize(),
    }


@hookimpl
def extra_body_script(template, database, view_name, request, datasette):
    if template != "query.html" or database != DATABASE or request is None:
        return ""
    query = canned_queries(datasette, database).get(request.url_vars.get("table") or "")
    settings = chart_settings(query) if query else None
    if not settings:
        return ""
    return "window.OPEN287G_CHART = {};\n{}".format(json.dumps(settings), SCRIPT.read_text(encoding="utf-8"))
