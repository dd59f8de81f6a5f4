"""Babel extractors (babel.cfg, `make messages`) for reader text that lives in data files, not in code:
the canned queries' titles and descriptions (canned_queries/*.sql headers) and, from metadata.yml,
the site's description, licence and source (the home page) and the columns of the query pages
(plugin open287g-queries). The pages translate them with the
`translated` filter (open287g/plugins/i18n.py)."""
import yaml

from open287g import config, i18n


def sql_headers(fileobj, keywords, comment_tags, options):
    query = config.parse_query_file(fileobj.name)
    yield 1, "gettext", query["title"], [f"title of the query {query['name']}"]
    yield 1, "gettext", query["description"], [f"description of the query {query['name']}"]


def metadata_text(fileobj, keywords, comment_tags, options):
    metadata = yaml.safe_load(fileobj.read().decode("utf-8"))
    for key in ("description_html", "license", "source", "about"):
        if metadata.get(key):
            yield 1, "gettext", metadata[key], [f"metadata.yml {key} (the home page's About the data)"]
    database = (metadata.get("databases") or {}).get(config.DATABASE) or {}
    for key in ("description", "source"):
        if database.get(key):
            yield 1, "gettext", database[key], [f"metadata.yml the database's {key} (its page)"]
    for table in i18n.READER_TABLES:
        described = ((metadata.get("databases") or {}).get(config.DATABASE, {}).get("tables") or {}).get(table) or {}
        for key in ("title", "description_html"):
            if described.get(key):
                yield 1, "gettext", described[key], [f"metadata.yml {table} {key} (a map page)"]
    columns = ((metadata.get("plugins") or {}).get("open287g-queries") or {}).get("columns") or {}
    for name, description in sorted(columns.items()):
        yield 1, "gettext", description, [f"query column {name}"]
