"""Datasette plugin: each table's permission rules are read from the metadata once per process, not on every check.

Datasette 0.65.5 answers "may this table be viewed?" by deep-copying the whole served metadata
(every table's column descriptions, every canned query's SQL) and merging it again, on every
check. The home page checks every table and view: two thirds of its time went to those copies,
and every table page checks twice. The served metadata never changes while a process runs (it is
written by the build; a new build is a restart), so the answer for a (database, table) is kept.

This wraps a private method: no public hook can do it. Datasette's own permission_allowed hook
(datasette.default_permissions, tryfirst) runs on every check whatever other plugins answer, and
it is the one that calls _table_permission_allows; a plugin may add an answer but cannot spare that
call. tests/test_datasette.py pins the Datasette version and the source of both, so an upgrade
fails there until this is checked again (pyproject.toml holds Datasette to 0.65.x).
"""
from datasette import hookimpl


@hookimpl
def startup(datasette):
    compute = getattr(datasette, "_table_permission_allows", None)
    if compute is None or getattr(compute, "cached", False):
        return  # another Datasette version, or already wrapped
    answers = {}

    def cached(database, table):
        key = (database, table)
        if key not in answers:
            answers[key] = compute(database, table)
        return answers[key]

    cached.cached = True
    datasette._table_permission_allows = cached
