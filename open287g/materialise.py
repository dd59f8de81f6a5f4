"""Turns the views that compute on every request into tables at build time: reads each view and metadata.yml, writes a table of the same name with its primary key and indexes.

The database is immutable once built, so a view's rows never change between requests; as a view
they were recomputed on every page, map JSON and CSV, together with count(*) (a table's count
comes from the inspect file) and the metadata's facets and sort (a table gets indexes for them).
The names, columns and rows stay the same, so every URL and query keeps working.
"""
from .config import DATABASE, assemble

# view name -> primary key column
MATERIALISED = {
    "agencies_map": "id",
    "agreements_map": "id",
    "agreements_with_agencies": "agreement_id",
}


def _quote(name):
    return '"' + name.replace('"', '""') + '"'


def table_indexes(table, pk, columns, metadata):
    """Index column lists for the facets and the sort metadata.yml gives the table.

    Datasette 0.65 orders a table's first page by the sort column alone and the following pages by
    the sort column and then the primary key: an index on (sort column, primary key) in that
    direction gives the first page the same order, so paging never repeats or skips a row.
    """
    meta = metadata.get("databases", {}).get(DATABASE, {}).get("tables", {}).get(table, {})
    indexes = [[_quote(c)] for c in meta.get("facets", []) if c in columns]
    if meta.get("sort") in columns:
        indexes.append([_quote(meta["sort"]), _quote(pk)])
    if meta.get("sort_desc") in columns:
        indexes.append([_quote(meta["sort_desc"]) + " desc", _quote(pk)])
    return indexes


def materialise(conn, views=MATERIALISED, metadata=None):
    """Replace each view in `views` by a table with the same rows; returns the names replaced."""
    metadata = assemble() if metadata is None else metadata
    present = {name for (name,) in conn.execute("select name from sqlite_master where type = 'view'")}
    done = []
    for view, pk in views.items():
        if view not in present:
            continue
        columns = conn.execute(f"pragma table_info({_quote(view)})").fetchall()
        names = [c[1] for c in columns]
        definition = ", ".join(f"{_quote(c[1])} {c[2]}".strip() for c in columns)
        cols = ", ".join(_quote(n) for n in names)
        # The view's query (as sqlite-utils' create_view writes it: "CREATE VIEW <name> AS <query>") fills a table of its
        # name once the view is dropped: no table renamed, for which SQLite reads the file's whole schema again.
        sql = conn.execute("select sql from sqlite_master where type = 'view' and name = ?", (view,)).fetchone()[0]
        query = sql[len(f"CREATE VIEW {view} AS "):]
        conn.execute(f"drop view {_quote(view)}")
        conn.execute(f"create table {_quote(view)} ({definition}, primary key ({_quote(pk)}))")
        conn.execute(f"insert into {_quote(view)} ({cols}) select {cols} from ({query})")
        for i, columns in enumerate(table_indexes(view, pk, names, metadata), start=1):
            conn.execute(f"create index {_quote(f'idx_{view}_{i}')} on {_quote(view)} ({', '.join(columns)})")
        done.append(view)
    conn.commit()
    return done
