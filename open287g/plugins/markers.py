"""Datasette plugin: the maps: markers coloured by 287(g) model, state outlines shipped with the site, a first view of the 48 states.

datasette-cluster-map draws every row as the same blue pin on third-party tiles. This plugin adds
a script (static/markers.js) to pages that show a map: it wraps Leaflet's marker and cluster-group
factories as they load, draws each marker as a pie of the models it holds (ended agreements grey),
draws the state outlines of static/states-10m.json (served at /-/open287g/states-10m.json) instead
of tiles, opens on the 48 contiguous states, and puts under the map buttons for Alaska, Hawaii and the
territories and the legend. Zoomed in, it writes state, town and county names and draws county
lines, from the states and places tables and /county-shapes.json (static/albers-usa.js turns those
Albers USA outlines back into latitude and longitude): no tile server. Colours come from open287g/palette.py, served by the build in
metadata.json (plugin section open287g-site).
"""
import functools
import json
from pathlib import Path

from datasette import Response, hookimpl

from open287g import i18n
from open287g.config import DATABASE as DB
from open287g.i18n import _, model_names

STATIC = Path(__file__).resolve().parent / "static"
OUTLINES_URL = "/-/open287g/states-10m.json"


def has_map(datasette, database, table, columns):
    """Whether datasette-cluster-map draws a map for these columns (a table may switch it off in metadata.yml)."""
    lowered = {c.lower() for c in columns or ()}
    config = datasette.plugin_config("datasette-cluster-map", database=database, table=table) or {}
    lat, lon = config.get("latitude_column", "latitude"), config.get("longitude_column", "longitude")
    return lat.lower() in lowered and lon.lower() in lowered


@hookimpl
def extra_template_vars(template, database, table, columns, view_name, datasette):
    if view_name != "table":
        return {}
    return {"has_map_columns": has_map(datasette, database, table, columns)}


@hookimpl
def extra_body_script(database, table, columns, view_name, datasette):
    shared = datasette.plugin_config("open287g-site")
    # without the build's metadata.json (a bare Datasette in the same process) the map stays as it was
    if not shared or view_name not in ("table", "database") or not has_map(datasette, database, table, columns):
        return ""
    settings = {"colours": shared["colours"], "modelNames": model_names(), "outlines": OUTLINES_URL,
                "prefix": "" if i18n.current.get() == i18n.DEFAULT else "/" + i18n.current.get(), "words": words(),
                # place names and county lines: tables and outlines the site serves anyway
                "counties": "/county-shapes.json", "places": f"/{DB}/places.json", "states": f"/{DB}/states.json"}
    return "window.OPEN287G_MAP = {};\n{}\n{}".format(json.dumps(settings), _static("albers-usa.js"), _static("markers.js"))


def words():
    """The map's words in the reader's language: legend, region buttons, layers, and the popups' field
    names and values (datasette-cluster-map writes them from the row as stored)."""
    return {
        "regions": [_("48 states"), _("Alaska"), _("Hawaii"), _("Puerto Rico and Virgin Islands"), _("Guam and Northern Mariana Islands")],
        "map": _("Map: %(title)s"), "tiles": _("Street map (OpenStreetMap, needs the internet)"),
        "showOnMap": _("Show on the map"), "show": _("Show:"), "placeNames": _("Place names and county lines (zoom in)"),
        "ended": _("ended"), "pendingOnly": _("pending only"), "noModel": _("no model"), "unknown": _("unknown"),
        "clusters": _("Circles with a number: groups of agencies, coloured by the share of each model"),
        "signed": _("signed"), "dateNotPrinted": _("date not printed"),
        "status": {s: i18n.status_word(s) for s in ("active", "ended", "superseded", "pending")},
        "fields": {"id": _("id"), "name": _("name"), "agency": _("agency"), "state_code": _("state"), "level": _("level"),
                   "county_name": _("county"), "place_name": _("town"), "status": _("status"), "model": _("model"),
                   "models_active": _("models now"), "models_ever": _("models ever"), "signed_on": _("signed"),
                   "first_seen": _("first listed"), "last_seen": _("last listed"), "precision": _("placed at")},
    }


async def outlines(request):
    return Response(
        _static("states-10m.json"),
        content_type="application/json; charset=utf-8",
        headers={"cache-control": "max-age=86400"},
    )


@functools.lru_cache(maxsize=None)
def _static(name):
    # read once per process: the files never change while the site runs
    return (STATIC / name).read_text(encoding="utf-8")


@hookimpl
def register_routes():
    return [(r"^/-/open287g/states-10m\.json$", outlines)]
