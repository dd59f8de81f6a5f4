"""Row pages that link outward as well as inward.

Datasette 0.65 row pages list the rows of other tables that point at a row ("links from other
tables") but print the row's own foreign keys as bare ids. This plugin gives templates/row.html
the rows a row points to (an agreement's agency, state, publications...) with their labels.
Agencies, states and counties have pages of their own (plugins/find.py).
"""
from datasette import hookimpl
from datasette.utils import escape_sqlite, urlsafe_components


async def _outgoing(datasette, db, database, table, pk_column, pk_value):
    row = (await db.execute(f"select * from {escape_sqlite(table)} where {escape_sqlite(pk_column)} = :pk", {"pk": pk_value})).first()
    if row is None:
        return []
    links = []
    for fk in await db.foreign_keys_for_table(table):
        value = row[fk["column"]]
        if value is None or value == "":
            continue
        label_column = await db.label_column_for_table(fk["other_table"])
        label = None
        if label_column:
            found = (await db.execute(
                f"select {escape_sqlite(label_column)} from {escape_sqlite(fk['other_table'])} where {escape_sqlite(fk['other_column'])} = :v",
                {"v": value},
            )).first()
            label = found[0] if found else None
        links.append({
            "column": fk["column"],
            "other_table": fk["other_table"],
            "value": value,
            "label": label,
            "href": datasette.urls.row(database, fk["other_table"], str(value)),
        })
    order = list(row.keys())
    links.sort(key=lambda link: order.index(link["column"]))
    return links


@hookimpl
def extra_template_vars(view_name, table, database, request, datasette):
    if view_name != "row" or not table or request is None:
        return {}

    async def row_vars():
        db = datasette.get_database(database)
        pks = await db.primary_keys(table)
        components = urlsafe_components(request.url_vars.get("pks", ""))
        if len(pks) != 1 or len(components) != 1:
            return {}
        return {"outgoing_links": await _outgoing(datasette, db, database, table, pks[0], components[0])}

    return row_vars
