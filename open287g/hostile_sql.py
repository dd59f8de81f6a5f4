"""Hostile SQL the served site must stop at its time limit: shared by scripts/bench_load.py and tests/test_hostile_sql.py."""

LONG_LIKE = "%" + "%".join("abcdefghijklmnopqrstuvwxyz") + "%"
ENDLESS = "with recursive c(x) as (select 1 union all select x+1 from c)"

# Each of these runs far past any time limit on the real database: the tests expect all to be stopped.
ALWAYS_STOPPED = {
    "recursive CTE": f"{ENDLESS} select count(*) from c",
    "cross join L x L x A": "select count(*) from listings a, listings b, agreements c",
    "LIKE over cross join": f"select count(*) from listings a, listings b where a.agency || b.agency like '{LONG_LIKE}'",
    "randomblob loop": f"{ENDLESS} select sum(length(randomblob(100000))) from c",
}
# The load benchmark adds a query near the limit: a top-5 sort of a 28-million-row cross join
# finishes inside 3 s on an idle machine and is stopped under load.
HOSTILE = {
    **ALWAYS_STOPPED,
    "sort of cross join": "select a.agency, b.agency from listings a, listings b order by random() limit 5",
}
