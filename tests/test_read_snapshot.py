"""The read stage's snapshot (read.Snapshot): a read from it, or from its delta, gives the publications a read
without it gives; a damaged snapshot or delta is ignored; a file's hash is remembered by its stat."""
import os
import shutil

import pytest

from conftest import DATA
from open287g import pipeline, read

# The newest few workbooks of two kinds, and one more to add.
FILES = sorted((DATA / "ice" / "participating").glob("*.xlsx"))[-6:] + sorted((DATA / "ice" / "pending").glob("*.xlsx"))[-3:]
NEW = sorted((DATA / "ice" / "participating").glob("*.xlsx"))[-7]


def _data(root, files):
    for f in files:
        target = root / "ice" / f.parent.name / f.name
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(f, target)
        except OSError:
            shutil.copy2(f, target)
    return root


def _read(data, cache):
    return pipeline.read_all(pipeline.inventory(data), cache, jobs=1, progress=False)


@pytest.fixture()
def data(tmp_path):
    return _data(tmp_path / "data", FILES)


def test_a_read_from_the_snapshot_equals_a_fresh_one(tmp_path, data):
    cache = tmp_path / "cache"
    fresh, parsed = _read(data, cache)
    assert parsed == len(FILES) and read.snapshot_file(cache).exists()
    again, parsed = _read(data, cache)
    assert parsed == 0 and again == fresh
    # read from the snapshot, a publication's rows are one object per distinct row
    assert len({id(r) for p in again for r in p.rows}) == len({r for p in again for r in p.rows})


def test_a_file_added_goes_to_the_delta_and_reads_the_same(tmp_path, data):
    cache = tmp_path / "cache"
    _read(data, cache)
    base = read.snapshot_file(cache).read_bytes()
    _data(data, [NEW])
    with_new, parsed = _read(data, cache)
    assert parsed == 1 and read.snapshot_file(cache).read_bytes() == base  # the snapshot itself is not rewritten
    assert read.Snapshot(cache).delta_path.exists()
    again, parsed = _read(data, cache)
    assert parsed == 0 and again == with_new
    assert again == _read(data, tmp_path / "empty")[0]
    # the file removed again: the snapshot is written afresh, without it, and the delta goes
    (data / "ice" / NEW.parent.name / NEW.name).unlink()
    without, _ = _read(data, cache)
    assert not read.Snapshot(cache).delta_path.exists() and set(read.Snapshot(cache).results) == {p.sha256 for p in without}


@pytest.mark.parametrize("damaged", ["snapshot", "delta"])
def test_a_damaged_snapshot_or_delta_is_ignored(tmp_path, data, damaged):
    cache = tmp_path / "cache"
    _read(data, cache)
    _data(data, [NEW])
    expected, _ = _read(data, cache)
    snapshot = read.Snapshot(cache)
    path = snapshot.path if damaged == "snapshot" else snapshot.delta_path
    path.write_bytes(path.read_bytes()[:1000])
    got, parsed = _read(data, cache)
    assert got == expected and parsed == 0  # read again from the per-file extract cache
    for name in os.listdir(cache):
        if not name.startswith("read-"):
            os.unlink(cache / name)
    (cache / snapshot.path.name).write_bytes(b"not a pickle")
    got, parsed = _read(data, cache)
    assert got == expected and parsed == len(FILES) + 1


def test_a_file_is_hashed_again_only_when_its_stat_changes(tmp_path, data, monkeypatch):
    cache = tmp_path / "cache"
    first, _ = _read(data, cache)
    hashed = []
    real = pipeline.file_sha256
    monkeypatch.setattr(pipeline, "file_sha256", lambda path: hashed.append(path.name) or real(path))
    assert _read(data, cache)[0] == first and hashed == []
    # another file's bytes under one name (a new inode, mtime set back): hashed again, read as that file
    victim, other = data / "ice" / "pending" / FILES[-1].name, FILES[-2]
    stat = victim.stat()
    victim.unlink()
    shutil.copyfile(other, victim)
    os.utime(victim, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    pubs, _ = _read(data, cache)
    assert hashed == [victim.name] and pubs[-1].sha256 == pubs[-2].sha256 != first[-1].sha256


def test_a_row_pickles_with_every_field_and_stays_frozen():
    """records.Row's own __getstate__/__setstate__: every field comes back, the derived ones as they were."""
    import dataclasses
    import pickle

    from open287g.records import Row

    row = Row(state="TEXAS", agency="Galveston County Sheriff's Office", level="County", county="Galveston",
              support_type="Jail Enforcement Model", signed="2019-03-11", moa="link", addendum=None, signed_on="2019-03-11",
              moa_url="https://www.ice.gov/doclib/287gMOA/287gGalvestonCoTX2019-03-11.pdf", addendum_url=None,
              model="Jail Enforcement Model", level_clean="County", state_code="TX", agency_norm="galveston county sheriff")
    again = pickle.loads(pickle.dumps(row, protocol=pickle.HIGHEST_PROTOCOL))
    assert [getattr(again, f.name) for f in dataclasses.fields(Row)] == [getattr(row, f.name) for f in dataclasses.fields(Row)]
    assert again.key == ("TX", "galveston county sheriff", "JEM", "2019-03-11") and again.content_repr == repr(row.content)
    with pytest.raises(dataclasses.FrozenInstanceError):
        again.state = "OKLAHOMA"


def test_a_publication_updated_equals_dataclasses_replace():
    """records.Publication.updated: the same publication dataclasses.replace makes; the old one unchanged; a
    misspelt field refused, as replace refuses it."""
    import dataclasses
    from pathlib import Path

    from open287g.records import Publication

    pub = Publication(path=Path("participatingAgencies03272026am.xlsx"), file="participating/participatingAgencies03272026am.xlsx",
                      file_name="participatingAgencies03272026am.xlsx", original_name="participatingAgencies03272026am.xlsx",
                      folder="participating", source_kind="participating", bytes=171_000, anomalies=(("footnote", 1563, "x"),))
    changed = pub.updated(held=True, seq=907)
    assert changed == dataclasses.replace(pub, held=True, seq=907) and changed.anomalies == pub.anomalies
    assert (pub.held, pub.seq) == (False, None)
    assert pub.noting(("rejected", None, "y")).anomalies == (("footnote", 1563, "x"), ("rejected", None, "y"))
    with pytest.raises(TypeError, match="no field helt"):
        pub.updated(helt=True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        changed.held = False


def test_a_list_read_after_the_last_ones_rows_are_remembered_reads_as_it_does_alone():
    """pipeline._remember_last fills interpret()'s memo from the last list (read.remember): ICE's list of 27 March 2026
    then reads exactly as it does in a fresh process, and only the rows it does not share with 23 March's are
    interpreted."""
    last, new = (DATA / "ice" / "participating" / f"participatingAgencies{d}am.xlsx" for d in ("03232026", "03272026"))
    extracted = {f: read.extract(f) for f in (last, new)}
    saved = (dict(read._MEMO), dict(read._ROWS), dict(read._LISTS))
    try:
        for memo in (read._MEMO, read._ROWS, read._LISTS):
            memo.clear()
        alone = read.interpret(extracted[new])
        for memo in (read._MEMO, read._ROWS, read._LISTS):
            memo.clear()
        read.remember(extracted[last], read.interpret(extracted[last]))
        remembered = len(read._MEMO)
        after = read.interpret(extracted[new])
        interpreted = len(read._MEMO) - remembered
    finally:
        for memo, kept in zip((read._MEMO, read._ROWS, read._LISTS), saved):
            memo.clear()
            memo.update(kept)
    assert (alone["row_count"], after["row_count"]) == (1560, 1560)
    assert after["rows"] == alone["rows"] and after["anomalies"] == alone["anomalies"] and after["keys"] == alone["keys"]
    assert after["fingerprint"] == alone["fingerprint"] and after["sheet_rows"] == alone["sheet_rows"]
    # 1,552 rows on 23 March, 1,560 on 27 March: at least the 8 more are new, and most are shared.
    assert 8 <= interpreted < 100, interpreted
