"""Compares two built databases table by table, row for row: prints each table's rows only in one of them.

usage: python scripts/diff_tables.py BEFORE.db AFTER.db [--show N]
Exit 0 when every table holds the same rows (order ignored), 1 otherwise.
"""
import argparse
import sqlite3
import sys
from collections import Counter


def tables(conn):
    # FTS shadow tables and sqlite's own hold the same facts as the tables they index
    return sorted(name for (name,) in conn.execute("select name from sqlite_master where type = 'table'")
                  if not name.startswith("sqlite_") and "_fts" not in name)


def rows(conn, table):
    columns = [c[1] for c in conn.execute(f'pragma table_info("{table}")')]
    return columns, Counter(conn.execute(f'select {", ".join(chr(34) + c + chr(34) for c in sorted(columns))} from "{table}"'))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--show", type=int, default=3, help="rows shown per side of each differing table")
    args = parser.parse_args()
    a, b = sqlite3.connect(args.before), sqlite3.connect(args.after)
    ta, tb = set(tables(a)), set(tables(b))
    same = True
    for t in sorted(ta ^ tb):
        print(f"{t}: only in {'before' if t in ta else 'after'}")
        same = False
    for t in sorted(ta & tb):
        ca, ra = rows(a, t)
        cb, rb = rows(b, t)
        if sorted(ca) != sorted(cb):
            print(f"{t}: columns differ: before {sorted(set(ca) - set(cb))}, after {sorted(set(cb) - set(ca))}")
            same = False
            continue
        gone, new = ra - rb, rb - ra
        if gone or new:
            same = False
            print(f"{t}: {sum(gone.values())} rows only before, {sum(new.values())} only after (of {sum(ra.values())})")
            for label, side in (("-", gone), ("+", new)):
                for row in sorted(side, key=repr)[:args.show]:
                    print(f"  {label} {dict(zip(sorted(ca), row))}")
    print("identical" if same else "different")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
