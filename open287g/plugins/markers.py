"""Colours datasette-cluster-map markers by 287(g) model and shows ended agreements in grey.

datasette-cluster-map draws every row as the same blue pin. This plugin adds a small script to
pages that show a map: it wraps Leaflet's marker and cluster-group factories as they load, reads
each marker's model(s) and status from its popup (a `popup` column's description, e.g.
"JEM, TFM · active · ...", or the row's `model`/`models_active` and `status` fields), and draws
markers as pies of model colours, clusters as pies of the models inside them, plus a legend.
Colours come from the `open287g-markers` plugin configuration in metadata.yml.
"""
import json
from pathlib import Path

from datasette import hookimpl

SCRIPT = Path(__file__).resolve().parent / "static" / "markers.js"
DEFAULT_COLOURS = {"JEM": "#1f77b4", "WSO": "#2ca02c", "TFM": "#d62728", "ended": "#8a8a8a"}


def _has_map(columns):
    lowered = {c.lower() for c in columns or ()}
    return "latitude" in lowered and "longitude" in lowered


@hookimpl
def extra_body_script(database, table, columns, view_name, datasette):
    if view_name not in ("table", "database") or not _has_map(columns):
        return ""
    config = datasette.plugin_config("open287g-markers", database=database, table=table) or {}
    colours = dict(DEFAULT_COLOURS, **(config.get("colours") or {}))
    return "window.OPEN287G_COLOURS = {};\n{}".format(json.dumps(colours), SCRIPT.read_text(encoding="utf-8"))
