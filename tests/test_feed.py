"""The change feed: valid Atom and JSON, newest first, one entry per agreement change, linked to the agreement."""
import datetime
import xml.etree.ElementTree as ET

import pytest

from open287g.rules import MODEL_NAMES
from open287g.serve import make_datasette

ATOM = "{http://www.w3.org/2005/Atom}"
KINDS = ("added", "ended", "re-dated", "renamed", "relabelled", "moved_state", "superseded", "gap")


def long_date(iso):
    day = datetime.date.fromisoformat(iso[:10])
    return f"{day.day} {day:%B %Y}"


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
    assert feed.find(f"{ATOM}title").text == "Latest changes to ICE's 287(g) list"
    entries = feed.findall(f"{ATOM}entry")
    placeholders = ",".join("?" for _ in KINDS)
    expected = db.execute(
        f"select c.id, c.agreement_id, c.changed_at, c.kind, c.agency, c.state_code, c.model, c.before, c.after, a.last_seen "
        f"from changes c left join agreements a on a.id = c.agreement_id "
        f"where c.kind in ({placeholders}) order by c.changed_at desc, c.id limit 200", KINDS
    ).fetchall()
    assert len(entries) == len(expected) == 200
    for entry, row in zip(entries, expected):
        # tag: URIs on the host that served the feed, absolute links, plain sentences
        assert entry.find(f"{ATOM}id").text == f"tag:localhost,{row['changed_at'][:10]}:287g/changes/{row['id']}"
        title = entry.find(f"{ATOM}title").text
        assert title.startswith(f"{row['agency']} ({row['state_code']}): {MODEL_NAMES[row['model']]} agreement ")
        if row["kind"] == "ended":
            assert title.endswith(f"ended between {long_date(row['last_seen'])} and {long_date(row['changed_at'])}")
        if row["kind"] == "added":
            assert title.endswith(f"added to the list; signed {long_date(row['after'])}")
        assert "->" not in title and "->" not in entry.find(f"{ATOM}content").text
        assert entry.find(f"{ATOM}content").text.startswith(f"Seen in ICE's participating list of {long_date(row['changed_at'])}.")
        assert entry.find(f"{ATOM}updated").text.startswith(row["changed_at"][:19])
        assert entry.find(f"{ATOM}link").get("href") == f"http://localhost/287g/agreements/{row['agreement_id']}"
    assert {row["kind"] for row in expected} >= {"added", "ended"}
    link = entries[0].find(f"{ATOM}link").get("href").removeprefix("http://localhost")
    page = await ds.client.get(link)
    assert page.status_code == 200 and expected[0]["agency"].replace("'", "&#39;") in page.text


async def test_a_feed_per_state(ds, db):
    for state in ("FL", "Texas"):
        response = await ds.client.get(f"/287g/recent_changes.atom?state={state}")
        code = db.execute("select code from states where code = upper(?) or lower(name) = lower(?)", (state, state)).fetchone()[0]
        expected = db.execute(
            f"select count(*) from (select 1 from changes where state_code = ? and kind in ({','.join('?' for _ in KINDS)}) limit 200)", (code, *KINDS)
        ).fetchone()[0]
        entries = ET.fromstring(response.content).findall(f"{ATOM}entry")
        assert len(entries) == expected > 10
        assert all(f" ({code}): " in e.find(f"{ATOM}title").text for e in entries)
    response = await ds.client.get("/287g/recent_changes.atom?state=Narnia")
    assert response.status_code == 400 and "“Narnia” is not a state or territory" in response.text


async def test_feed_plumbing_is_hidden_from_readers(ds):
    page = (await ds.client.get("/287g/recent_changes")).text
    assert 'class="col-changed_at"' in page and "col-atom_" not in page
    assert 'href="/287g/recent_changes.atom' in page


async def test_json_feed_matches(ds, db):
    response = await ds.client.get("/287g/recent_changes.json?_shape=objects")
    rows = response.json()["rows"]
    assert len(rows) == 200
    assert [r["changed_at"] for r in rows] == sorted((r["changed_at"] for r in rows), reverse=True)
    assert {r["kind"] for r in rows} <= set(KINDS)

