"""Reads a built database, data/ice, data/confirmations.csv and the last published database; decides whether to publish."""
import csv
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import click

from . import BUILD, DATA
from .config import DATABASE
from .files import file_sha256

WITHHELD = 3  # exit code of `open287g gates` and `open287g publish` when a gate holds the database back
MAX_ACTIVE_DROP = 0.10  # share of active agreements that may disappear in one refresh without a confirmation
DEFAULT_PREVIOUS = BUILD / "deploy" / f"{DATABASE}.db"  # the bundle last written is the last one published
CONFIRMATIONS = "confirmations.csv"
CONFIRMATION_COLUMNS = ("file", "sha256", "gate", "reason", "confirmed_by")
GATE_NAMES = ("build", "active_drop", "dates")  # what a confirmation can release; unplaced files never can
FUTURE_SLACK = "+1 day"  # ICE's am/mid/pm are US half-days; a capture is UTC
PAST_LIMIT = "-45 days"  # the refresh runs daily: a file dated this long before its first fetch is misdated
ICE_FOLDERS = ("participating", "pending", "page-tables")


class GateError(click.ClickException):
    """A database, data folder or confirmations file the gates cannot read; one line."""


@dataclass
class Gate:
    name: str  # build, active_drop, dates or placed
    passed: bool
    reason: str  # one line: why it holds, or what it found
    confirmed: str = ""  # the confirmation's reason when a maintainer released it


@dataclass
class Verdict:
    gates: list = field(default_factory=list)

    @property
    def held(self):
        return [g for g in self.gates if not g.passed and not g.confirmed]

    @property
    def ok(self):
        return not self.held

    def line(self):
        """One line: 'withheld: <first reason>[; and n more gates]' or 'gates passed: ...'."""
        if self.held:
            n = len(self.held) - 1
            more = f"; and {n} more gate{'s' if n > 1 else ''}" if n else ""
            return f"withheld: {self.held[0].reason}{more}"
        notes = [f"{g.name} confirmed ({g.confirmed})" for g in self.gates if g.confirmed]
        return "gates passed: " + "; ".join(notes + [g.reason for g in self.gates if not g.confirmed])


def _connect(path):
    path = Path(path)
    if not path.is_file():
        raise GateError(f"{path}: no such database (build first: make build)")
    return sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)


def read_confirmations(path):
    """Rows of data/confirmations.csv ({} keys of CONFIRMATION_COLUMNS); an absent file is empty."""
    path = Path(path)
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = [c for c in CONFIRMATION_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise GateError(f"{path}: missing column(s) {', '.join(missing)}")
        rows = list(reader)
    for number, row in enumerate(rows, start=2):
        if row["gate"] not in GATE_NAMES:
            raise GateError(f"{path}:{number}: gate {row['gate']!r} is not one of {', '.join(GATE_NAMES)}")
        if not row["reason"].strip() or len(row["sha256"]) != 64:
            raise GateError(f"{path}:{number}: a confirmation needs the file's full sha256 and a reason")
    return rows


def _confirmation(confirmations, gate, publications, names=None):
    """The reason of a confirmation for `gate` that matches a publication (file and sha256), or ''.

    `names`, when given, limits it to the publications a failing check names in its detail."""
    for c in confirmations:
        if c["gate"] != gate:
            continue
        for file, sha256 in publications:
            if sha256 == c["sha256"] and c["file"] in (file, Path(file).name) and (names is None or Path(file).name in names):
                return c["reason"].strip()
    return ""


def newest_participating(conn):
    """(file, sha256) of the newest participating publication that the build placed, or None."""
    return conn.execute(
        "select file, sha256 from publications where list = 'participating' and status != 'rejected' "
        "order by published_at desc, seq desc limit 1"
    ).fetchone()


def build_gates(conn, confirmations):
    """Gate (a): the build's own gate rows, qa_checks with gate = 1 and passed = 0 (none before the column exists)."""
    columns = {row[1] for row in conn.execute("pragma table_info(qa_checks)")}
    if "gate" not in columns:
        return [Gate("build", True, "no build gate rows")]
    failing = conn.execute('select "check", coalesce(detail, \'\') from qa_checks where gate = 1 and not passed order by id').fetchall()
    total = conn.execute("select count(*) from qa_checks where gate = 1").fetchone()[0]
    if not failing:
        return [Gate("build", True, f"{total} build gate(s) held")]
    publications = conn.execute("select file, sha256 from publications").fetchall()
    gates = []
    for check, detail in failing:
        # A confirmation releases the check when it names a file the check's detail names (or the newest list).
        names = {Path(f).name for f, _ in publications if Path(f).name in detail}
        newest = newest_participating(conn)
        if not names and newest:
            names = {Path(newest[0]).name}
        confirmed = _confirmation(confirmations, "build", publications, names)
        gates.append(Gate("build", False, f"build gate failed: {check}" + (f" ({detail})" if detail else ""), confirmed))
    return gates


def active_drop_gate(conn, previous, confirmations, max_drop=MAX_ACTIVE_DROP):
    """Gate (b): active agreements may not fall by more than max_drop against the last published database."""
    active = conn.execute("select count(*) from agreements where status = 'active'").fetchone()[0]
    if previous is None or not Path(previous).is_file():
        return Gate("active_drop", True, f"{active:,} active agreements (no earlier publication to compare)")
    prev = _connect(previous)
    try:
        before = prev.execute("select count(*) from agreements where status = 'active'").fetchone()[0]
    except sqlite3.DatabaseError as e:
        raise GateError(f"{previous}: not a built 287(g) database ({e})") from None
    finally:
        prev.close()
    if before == 0 or active >= before * (1 - max_drop):
        return Gate("active_drop", True, f"{active:,} active agreements ({before:,} published)")
    newest = newest_participating(conn)
    where = f" with {newest[0]}" if newest else ""
    reason = (f"active agreements would fall from {before:,} to {active:,} ({(before - active) / before:.0%}, "
              f"over the {max_drop:.0%} limit){where}; confirm in data/{CONFIRMATIONS}")
    confirmed = _confirmation(confirmations, "active_drop", [tuple(newest)] if newest else [])
    return Gate("active_drop", False, reason, confirmed)


def dates_gate(conn, confirmations):
    """Gate (d): every placed publication is dated near the day it was fetched or captured: not after
    it, nor long before it. A date read from a file name or fitted to content that lands elsewhere is
    wrong (ICE's 01052025pm is January 2026), and so would be every change it dates."""
    rows = conn.execute(
        "select file, sha256, substr(published_at, 1, 10), substr(capture_utc, 1, 10) from publications "
        "where status != 'rejected' and capture_utc is not null and published_at is not null "
        "and (date(published_at) > date(capture_utc, :slack) or date(published_at) < date(capture_utc, :past)) "
        "order by published_at",
        {"slack": FUTURE_SLACK, "past": PAST_LIMIT},
    ).fetchall()
    if not rows:
        return Gate("dates", True, "every publication dated near its fetch")
    file, _sha, published, captured = rows[0]
    more = f" (+{len(rows) - 1} more)" if len(rows) > 1 else ""
    when = "after" if published > captured else "long before"
    reason = f"{file} is dated {published} but was fetched on {captured}{more}: {when} its fetch, a misread date"
    confirmed = [_confirmation(confirmations, "dates", [(f, sha)]) for f, sha, *_ in rows]  # each file its own
    return Gate("dates", False, reason, confirmed[0] if all(confirmed) else "")


def placed_gate(conn, data_dir):
    """Gate (c): every workbook in data/ice is in the database, placed (dated, on a list) or rejected with a reason."""
    ice = Path(data_dir) / "ice"
    on_disk = {f"{folder}/{p.name}": p for folder in ICE_FOLDERS for p in sorted((ice / folder).glob("*.xlsx"))}
    stray = sorted(str(p.relative_to(ice)) for p in ice.glob("*/*.xlsx") if p.parent.name not in ICE_FOLDERS)
    rows = {r[0]: r[1:] for r in conn.execute("select file, sha256, status, list, published_at, coalesce(error, '') from publications")}
    missing, stale, unplaced, rejected = [], [], [], []
    for file, path in on_disk.items():
        if file not in rows:
            missing.append(file)
            continue
        sha256, status, list_name, published_at, error = rows[file]
        if sha256 != file_sha256(path):
            stale.append(file)
        elif status == "rejected":
            (rejected if error.strip() else unplaced).append(file)
        elif not (list_name and published_at):
            unplaced.append(file)
    problems = [
        (missing, "not in the database (it was built before they arrived: rebuild)"),
        (stale, "changed since the database was built (rebuild)"),
        (unplaced, "neither placed on a list nor rejected with a reason"),
        (stray, f"outside {', '.join(ICE_FOLDERS)} (the build never reads them)"),
    ]
    for files, why in problems:
        if files:
            more = f" and {len(files) - 2} more" if len(files) > 2 else ""
            noun = "file" if len(files) == 1 else "files"
            return Gate("placed", False, f"{len(files)} {noun} in data/ice {why}: {', '.join(files[:2])}{more}")
    note = f", {len(rejected)} rejected with a reason" if rejected else ""
    return Gate("placed", True, f"{len(on_disk) - len(rejected):,} files placed{note}")


def check(db_path, data_dir=DATA, previous=DEFAULT_PREVIOUS, confirmations_path=None, max_drop=MAX_ACTIVE_DROP):
    """Every gate on a built database -> Verdict."""
    confirmations = read_confirmations(confirmations_path or Path(data_dir) / CONFIRMATIONS)
    conn = _connect(db_path)
    try:
        gates = build_gates(conn, confirmations)
        gates.append(active_drop_gate(conn, previous, confirmations, max_drop))
        gates.append(dates_gate(conn, confirmations))
        gates.append(placed_gate(conn, data_dir))
    except sqlite3.DatabaseError as e:
        raise GateError(f"{db_path}: not a built 287(g) database ({e})") from None
    finally:
        conn.close()
    return Verdict(gates)


def enforce(db_path, data_dir, previous, report=None):
    """Run the gates, write the verdict line to `report` if given, and exit WITHHELD with that line when one holds."""
    verdict = check(db_path, data_dir, previous)
    if report:
        Path(report).parent.mkdir(parents=True, exist_ok=True)
        Path(report).write_text(verdict.line() + "\n", encoding="utf-8")
    if not verdict.ok:
        click.echo(verdict.line(), err=True)
        raise SystemExit(WITHHELD)
    return verdict


@click.command("gates")
@click.option("--db", "db_path", type=click.Path(dir_okay=False), default=str(BUILD / f"{DATABASE}.db"), show_default=True)
@click.option("--data", "data_dir", type=click.Path(file_okay=False), default=str(DATA), show_default=True)
@click.option("--previous", type=click.Path(dir_okay=False), default=str(DEFAULT_PREVIOUS), show_default=True,
              help="The last published database (absent: no drop check).")
@click.option("--report", type=click.Path(dir_okay=False), help="Also write the one-line verdict to this file.")
def gates_command(db_path, data_dir, previous, report):
    """Decide whether the built database may be published; exit 3 with one line naming the reason if not."""
    click.echo(enforce(db_path, data_dir, previous, report).line())
