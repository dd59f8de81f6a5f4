"""Datasette plugin: caps the size of any single SQL value on every connection.

sql_time_limit_ms is checked between SQLite steps, and randomblob(900000000) or a huge printf is
one step: left at SQLite's 1 GB default, one such query holds a thread and ~1 GB of memory. The
largest value in the database is a few hundred bytes, so 20 MB refuses nothing real.
"""
import sqlite3

from datasette import hookimpl

MAX_VALUE_BYTES = 20_000_000


@hookimpl
def prepare_connection(conn):
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
