"""Assembles the served Datasette configuration: metadata.yml plus one canned query per canned_queries/*.sql.

Each .sql file opens with a header of comment lines, then the query:

    -- title: ICE's participating list as of a date
    -- description: The list exactly as ICE printed it ... (required; a line that starts with
    --   "--" and two or more spaces continues the previous field)
    -- example: date=2026-03-27        (example parameters as a query string; empty when none;
                                        a parameter given blank, "state=", may be left blank)
    -- fragment: g.mark=line&...       (optional: the chart drawn above the table, open287g/plugins/charts.py)
    -- hide_sql: true                  (optional)
    -- counts_by_model: true           (optional: the page shows the result's rows counted by model)

The query's name is the file name without .sql. Every named parameter (:date) must be given in
the example, which the tests run and the query page links to.
"""
import html
import json
import os
import re
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

from . import ROOT
from .files import atomic_write

DATABASE = "287g"
METADATA = ROOT / "metadata.yml"
QUERIES_DIR = ROOT / "canned_queries"

FIELDS = {"title", "description", "example", "fragment", "hide_sql", "counts_by_model"}
REQUIRED = ("title", "description", "example")
_FIELD = re.compile(r"^--\s?([a-z_]+):\s?(.*)$")
_CONTINUATION = re.compile(r"^--\s{2,}(\S.*)$")
# :name, but not the minutes of a time inside a string literal or a ::cast
_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_STRING_OR_COMMENT = re.compile(r"'(?:[^']|'')*'|--[^\n]*")


DATE_PARAMS = {"date", "start", "end", "since"}


def param_kind(name):
    """date, state or text: how the query page asks for a parameter and how it is checked."""
    if name in DATE_PARAMS or name.endswith("_on"):
        return "date"
    return "state" if name == "state" else "text"


SITE_PLUGIN = "open287g-site"


def site_settings(database=DATABASE):
    """What the plugins share, served in metadata.json as the open287g-site plugin section (they read it
    with datasette.plugin_config): the database name, the palette (open287g/palette.py) and the models' names."""
    from .palette import COLOURS, MODEL_COLOURS
    from .rules import MODEL_NAMES

    return {"database": database, "colours": COLOURS, "model_colours": MODEL_COLOURS, "model_names": MODEL_NAMES}


class ConfigError(ValueError):
    """A canned query or metadata.yml that cannot be published as it is."""


def query_params(sql):
    """Named parameters of a query, in order of first use, ignoring string literals and comments."""
    # one pass left to right: a quote inside a comment, or "--" inside a string, is neither
    body = _STRING_OR_COMMENT.sub(lambda m: "''" if m.group(0).startswith("'") else "", sql)
    seen = []
    for name in _PARAM.findall(body):
        # :_header_host and the like are Datasette's magic parameters, filled from the request
        if name not in seen and not name.startswith("_"):
            seen.append(name)
    return seen


def parse_query_file(path):
    """One canned query: {'name', 'title', 'description', 'example' (dict), 'sql', ...}."""
    path = Path(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    fields = {}
    current = None
    body_start = len(lines)
    for i, line in enumerate(lines):
        if not line.startswith("--"):
            body_start = i
            break
        m = _FIELD.match(line)
        c = _CONTINUATION.match(line)
        if c and current:
            fields[current] += " " + c.group(1).strip()
        elif m:
            current = m.group(1)
            if current not in FIELDS:
                raise ConfigError(f"{path.name}: unknown header field {current!r} (known: {', '.join(sorted(FIELDS))})")
            if current in fields:
                raise ConfigError(f"{path.name}: header field {current!r} given twice")
            fields[current] = m.group(2).strip()
        else:
            raise ConfigError(f"{path.name}: line {i + 1}: header lines are '-- field: value' or continuations indented by two spaces")
    for name in REQUIRED:
        if name not in fields or (name != "example" and not fields[name]):
            raise ConfigError(f"{path.name}: header needs a '-- {name}:' line")
    sql = "\n".join(lines[body_start:]).strip()
    if not sql:
        raise ConfigError(f"{path.name}: no SQL after the header")
    example = dict(parse_qsl(fields["example"], keep_blank_values=True))
    params = query_params(sql)
    missing = [p for p in params if p not in example]
    extra = [p for p in example if p not in params]
    if missing or extra:
        raise ConfigError(f"{path.name}: example parameters must match the query's (missing {missing}, unknown {extra})")
    query = {
        "name": path.stem,
        "title": fields["title"],
        "description": fields["description"],
        "example": example,
        "params": params,
        "sql": sql,
    }
    if fields.get("fragment"):
        query["fragment"] = fields["fragment"]
    for flag in ("hide_sql", "counts_by_model"):
        if fields.get(flag, "").lower() in ("true", "yes", "1"):
            query[flag] = True
    return query


def sources():
    """The files assemble() reads: metadata.yml and every canned query."""
    return [METADATA, *sorted(QUERIES_DIR.glob("*.sql"))]


def read_queries(queries_dir=QUERIES_DIR):
    """Every canned query, by name, in file-name order."""
    return {q["name"]: q for q in (parse_query_file(p) for p in sorted(Path(queries_dir).glob("*.sql")))}


def example_path(query, database=DATABASE, fmt=""):
    """The path of a query run with its example parameters, e.g. /287g/as_of.csv?date=2026-03-27."""
    qs = urlencode(query["example"])
    return f"/{database}/{query['name']}{fmt}" + (f"?{qs}" if qs else "")


def _served_query(query, database):
    served = {"sql": query["sql"], "title": query["title"], "description": query["description"]}
    links = []
    if query["params"]:
        links.append(f'Example: <a href="{html.escape(example_path(query, database))}">{html.escape(urlencode(query["example"]))}</a>')
    if query.get("fragment"):
        served["fragment"] = query["fragment"]  # the chart's settings (open287g/plugins/charts.py)
    served["description_html"] = "<p>" + html.escape(query["description"]) + "</p>" + (
        "<p>" + " · ".join(links) + "</p>" if links else ""
    )
    for flag in ("hide_sql", "counts_by_model"):
        if query.get(flag):
            served[flag] = True
    if query["params"]:
        served["parameter_kinds"] = {name: param_kind(name) for name in query["params"]}
        # a parameter whose example is blank may stay blank (for example: every state)
        served["optional_parameters"] = [name for name in query["params"] if not query["example"][name]]
    return served


def assemble(metadata_path=METADATA, queries_dir=QUERIES_DIR, database=DATABASE):
    """metadata.yml with every canned query added under its database: the dict Datasette serves."""
    import yaml

    metadata_path = Path(metadata_path)
    if not metadata_path.exists():
        raise ConfigError(f"{metadata_path}: missing")
    # libyaml's loader when PyYAML has it (its wheels do): the same dict, read ten times faster
    try:
        metadata = yaml.load(metadata_path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{metadata_path.name}: not valid YAML{where} ({getattr(e, 'problem', None) or e})") from None
    if not isinstance(metadata, dict):
        raise ConfigError(f"{metadata_path.name}: not a mapping of settings")
    db_meta = metadata.setdefault("databases", {}).setdefault(database, {})
    if SITE_PLUGIN in (metadata.get("plugins") or {}):
        raise ConfigError(f"{metadata_path.name}: plugins.{SITE_PLUGIN} is written by the build from open287g/palette.py; remove it")
    if db_meta.get("queries"):
        raise ConfigError(f"{metadata_path.name}: canned queries belong in canned_queries/*.sql, not under databases.{database}.queries")
    queries = read_queries(queries_dir)
    clash = set(queries) & set(db_meta.get("tables", {}))
    if clash:
        raise ConfigError(f"canned queries named like tables or views: {sorted(clash)}")
    db_meta["queries"] = {name: _served_query(q, database) for name, q in queries.items()}
    metadata.setdefault("plugins", {})[SITE_PLUGIN] = site_settings(database)
    return metadata


def check_against_database(metadata, db_path, database=DATABASE):
    """Tables, views and columns that metadata.yml describes but the database lacks."""
    import sqlite3

    problems = []
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        names = {r[0] for r in conn.execute("select name from sqlite_master where type in ('table', 'view')")}
        for table, meta in metadata.get("databases", {}).get(database, {}).get("tables", {}).items():
            if table not in names:
                problems.append(f"metadata.yml describes {table}, which the database does not have")
                continue
            columns = {r[1] for r in conn.execute(f'pragma table_info("{table}")')}
            for key in ("columns",):
                for column in meta.get(key, {}) or {}:
                    if column not in columns:
                        problems.append(f"metadata.yml describes {table}.{column}, which does not exist")
            for column in list(meta.get("facets", [])) + [meta.get("sort"), meta.get("sort_desc"), meta.get("label_column")]:
                if column and isinstance(column, str) and column not in columns:
                    problems.append(f"metadata.yml uses {table}.{column} (facet, sort or label), which does not exist")
    finally:
        conn.close()
    return problems


def write_config(build_dir, metadata=None):
    """Write build/metadata.json; returns its path.

    The build passes the metadata it assembled before starting, so a bad query stops it early.
    The inspect counts are serve.prepare's (`serve` writes them when missing or stale).
    """
    build_dir = Path(build_dir)
    metadata = assemble() if metadata is None else metadata
    out = build_dir / "metadata.json"
    text = json.dumps(metadata, indent=2, ensure_ascii=False).encode("utf-8")
    try:
        same = out.read_bytes() == text
    except OSError:
        same = False
    if same:
        os.utime(out)  # most builds change no metadata: no write and no fsync, but newer than its sources (serve.prepare)
    else:
        atomic_write(out, text)
    db_path = build_dir / f"{DATABASE}.db"
    if db_path.exists():
        for problem in check_against_database(metadata, db_path):
            print(f"warning: {problem}", file=sys.stderr)
    return out
