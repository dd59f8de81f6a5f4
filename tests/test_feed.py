"""The change feed: valid Atom and JSON, newest first, one entry per agreement change, linked to the agreement."""
import xml.etree.ElementTree as ET

import pytest

from open287g.serve import make_datasette

ATOM = "{http://www.w3.org/2005/Atom}"
KINDS = ("added", "ended", "re-dated", "renamed", "relabelled", "moved_state", "superseded", "gap")


@pytest.fixture(scope="module")
def ds(site_db):
    return make_datasette(site_db)


async def test_atom_feed_is_valid_and_real(ds, db):
    response = await ds.client.get("/287g/recent_changes.atom")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml") or "atom" in response.headers["content-type"]
    feed = ET.fromstring(response.content)
    assert feed.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated"):
        assert feed.find(f"{ATOM}{required}") is not None
    entries = feed.findall(f"{ATOM}entry")
    placeholders = ",".join("?" for _ in KINDS)
    expected = db.execute(
        f"select id, agreement_id, changed_at, kind, agency from changes where kind in ({placeholders}) order by changed_at desc, id limit 200", KINDS
    ).fetchall()
    assert len(entries) == len(expected) == 200
    for entry, row in zip(entries, expected):
        assert entry.find(f"{ATOM}id").text == row["id"]
        assert entry.find(f"{ATOM}title").text.startswith(f"{row['kind']}: {row['agency']}")
        assert entry.find(f"{ATOM}updated").text.startswith(row["changed_at"][:19])
        assert entry.find(f"{ATOM}link").get("href") == f"/287g/agreements/{row['agreement_id']}"
    link = entries[0].find(f"{ATOM}link").get("href")
    page = await ds.client.get(link)
    assert page.status_code == 200 and expected[0]["agency"].replace("'", "&#39;") in page.text


async def test_json_feed_matches(ds, db):
    response = await ds.client.get("/287g/recent_changes.json?_shape=objects")
    rows = response.json()["rows"]
    assert len(rows) == 200
    assert [r["changed_at"] for r in rows] == sorted((r["changed_at"] for r in rows), reverse=True)
    assert {r["kind"] for r in rows} <= set(KINDS)
