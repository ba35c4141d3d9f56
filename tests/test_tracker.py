"""The tracker: an append-only SQLite journal of events and equity snapshots."""

from __future__ import annotations

import json
import random
import re
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.errors import StateError
from bot.tracker import EquityRow, EventKind, EventRow, Tracker, _prefix_range

NEW_YORK = ZoneInfo("America/New_York")
AT = datetime.combine(date(2024, 3, 4), time(15, 45), NEW_YORK)  # 2024-03-04T15:45:00-05:00


@pytest.fixture
def path(tmp_path: Path) -> Path:
    """Where the tracker database lives."""
    return tmp_path / "state" / "tracker.sqlite3"


@pytest.fixture
def tracker(path: Path) -> Iterator[Tracker]:
    """A fresh tracker, closed after the test."""
    opened = Tracker(path)
    yield opened
    opened.close()


# --- events -------------------------------------------------------------------------------------


def test_record_round_trips_and_stringifies_decimals_and_dates(tracker: Tracker) -> None:
    """A recorded event reads back with its fields; Decimal/date/datetime come back as strings."""
    tracker.record(
        AT,
        "run-1",
        "hfea",
        EventKind.DECISION,
        amount=Decimal("1234.50"),
        session=date(2024, 3, 4),
        when=datetime(2024, 3, 4, 20, 45, tzinfo=UTC),
        count=3,
        symbols=["UPRO", "TMF"],
        weights={"UPRO": Decimal("0.55")},
        note=None,
    )

    [event] = tracker.events()

    assert event.at == "2024-03-04T15:45:00-05:00"
    assert event.run_id == "run-1"
    assert event.strategy == "hfea"
    assert event.kind == "decision"
    assert event.payload == {
        "amount": "1234.50",
        "session": "2024-03-04",
        "when": "2024-03-04T20:45:00+00:00",
        "count": 3,
        "symbols": ["UPRO", "TMF"],
        "weights": {"UPRO": "0.55"},
        "note": None,
    }


def test_events_are_returned_in_order_and_filtered(tracker: Tracker) -> None:
    """events() keeps recording order; strategy and kind filter alone or together."""
    tracker.record(AT, "r1", "hfea", EventKind.CYCLE_STARTED, n=1)
    tracker.record(AT, "r1", "all_in", EventKind.CYCLE_STARTED, n=2)
    tracker.record(AT, "r1", "hfea", EventKind.DECISION, n=3)
    tracker.record(AT, "r1", "all_in", EventKind.DECISION, n=4)
    tracker.record(AT, "r1", "hfea", EventKind.CYCLE_FINISHED, n=5)

    def numbers(strategy: str | None = None, kind: EventKind | None = None) -> list[int]:
        return [e.payload["n"] for e in tracker.events(strategy, kind)]

    assert numbers() == [1, 2, 3, 4, 5]
    assert numbers(strategy="hfea") == [1, 3, 5]
    assert numbers(kind=EventKind.DECISION) == [3, 4]
    assert numbers(strategy="all_in", kind=EventKind.CYCLE_STARTED) == [2]
    assert numbers(strategy="nobody") == []
    ids = [e.id for e in tracker.events()]
    assert ids == sorted(ids)
    assert len(set(ids)) == 5


def test_last_event_is_the_latest_of_its_kind_for_the_strategy(tracker: Tracker) -> None:
    """last_event picks the most recent matching event, and None when there is none."""
    assert tracker.last_event("hfea", EventKind.DECISION) is None
    tracker.record(AT, "r1", "hfea", EventKind.DECISION, n=1)
    tracker.record(AT, "r2", "hfea", EventKind.DECISION, n=2)
    tracker.record(AT, "r3", "all_in", EventKind.DECISION, n=3)
    tracker.record(AT, "r3", "hfea", EventKind.ERROR, n=4)

    latest = tracker.last_event("hfea", EventKind.DECISION)

    assert latest is not None
    assert (latest.run_id, latest.payload["n"]) == ("r2", 2)
    assert tracker.last_event("all_in", EventKind.ERROR) is None


def test_last_rebalance_key_is_none_then_the_latest(tracker: Tracker) -> None:
    """No REBALANCE_DONE yet → None; after two, the second one's key; per strategy."""
    assert tracker.last_rebalance_key("hfea") is None
    tracker.record(AT, "r1", "hfea", EventKind.REBALANCE_DONE, rebalance_key="2024-Q1")
    tracker.record(AT, "r2", "hfea", EventKind.DECISION, rebalance_key="ignored")
    tracker.record(AT, "r3", "hfea", EventKind.REBALANCE_DONE, rebalance_key="2024-Q2")

    assert tracker.last_rebalance_key("hfea") == "2024-Q2"
    assert tracker.last_rebalance_key("all_in") is None


def test_journaled_order_ids_are_the_strategys_order_submitting_ids(tracker: Tracker) -> None:
    """Only ORDER_SUBMITTING events of that strategy count as journaled orders."""
    tracker.record(AT, "r1", "hfea", EventKind.ORDER_SUBMITTING, client_order_id="hfea-a")
    tracker.record(AT, "r1", "hfea", EventKind.ORDER_SUBMITTED, client_order_id="hfea-x")
    tracker.record(AT, "r1", "all_in", EventKind.ORDER_SUBMITTING, client_order_id="all-b")
    tracker.record(AT, "r2", "hfea", EventKind.ORDER_SUBMITTING, client_order_id="hfea-c")

    assert tracker.journaled_order_ids("hfea") == {"hfea-a", "hfea-c"}
    assert tracker.journaled_order_ids("all_in") == {"all-b"}
    assert tracker.journaled_order_ids("nobody") == set()


def test_strategies_are_listed_in_first_seen_order(tracker: Tracker) -> None:
    """strategies() names each strategy once, ordered by its first event."""
    assert tracker.strategies() == []
    tracker.record(AT, "r1", "zeta", EventKind.CYCLE_STARTED)
    tracker.record(AT, "r1", "alpha", EventKind.CYCLE_STARTED)
    tracker.record(AT, "r1", "zeta", EventKind.CYCLE_FINISHED)
    tracker.record(AT, "r1", "mid", EventKind.CYCLE_STARTED)

    assert tracker.strategies() == ["zeta", "alpha", "mid"]


# --- equity -------------------------------------------------------------------------------------


def snapshot(tracker: Tracker, strategy: str, session: date, equity: str, sleeve: str) -> None:
    """Record one equity snapshot at 15:45 New York on ``session``."""
    tracker.snapshot_equity(
        at=datetime.combine(session, time(15, 45), NEW_YORK),
        session=session,
        run_id="r1",
        strategy=strategy,
        equity=Decimal(equity),
        sleeve_equity=Decimal(sleeve),
    )


def test_equity_history_round_trips_and_filters(tracker: Tracker) -> None:
    """Snapshots read back in order with exact Decimals and dates; a strategy filter applies."""
    snapshot(tracker, "hfea", date(2024, 3, 4), "100000.00", "60000.10")
    snapshot(tracker, "all_in", date(2024, 3, 4), "100000.00", "40000.05")
    snapshot(tracker, "hfea", date(2024, 3, 5), "101234.56", "61000.00")

    assert tracker.equity_history("hfea") == [
        EquityRow(
            "2024-03-04T15:45:00-05:00",
            date(2024, 3, 4),
            "hfea",
            Decimal("100000.00"),
            Decimal("60000.10"),
        ),
        EquityRow(
            "2024-03-05T15:45:00-05:00",
            date(2024, 3, 5),
            "hfea",
            Decimal("101234.56"),
            Decimal("61000.00"),
        ),
    ]
    everything = tracker.equity_history()
    assert [(r.strategy, r.session.day) for r in everything] == [
        ("hfea", 4),
        ("all_in", 4),
        ("hfea", 5),
    ]
    assert str(everything[0].equity) == "100000.00"  # trailing zeros kept
    assert tracker.equity_history("nobody") == []


# --- storage ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "statement"),
    [
        ("events", "UPDATE events SET kind = 'tampered'"),
        ("events", "DELETE FROM events"),
        ("equity", "UPDATE equity SET equity = '1'"),
        ("equity", "DELETE FROM equity"),
    ],
)
def test_rows_cannot_be_updated_or_deleted(
    tracker: Tracker, path: Path, table: str, statement: str
) -> None:
    """The schema's triggers make both tables append-only, even for a raw sqlite3 connection."""
    tracker.record(AT, "r1", "hfea", EventKind.DECISION, n=1)
    snapshot(tracker, "hfea", date(2024, 3, 4), "100000.00", "100000.00")
    before = tracker.events(), tracker.equity_history()

    raw = sqlite3.connect(path, isolation_level=None)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            raw.execute(statement)
        assert raw.execute(f"SELECT COUNT(*) FROM {table}").fetchone() == (1,)
    finally:
        raw.close()

    assert (tracker.events(), tracker.equity_history()) == before
    assert tracker.events()[0].kind == "decision"
    assert tracker.equity_history()[0].equity == Decimal("100000.00")


def test_database_is_in_wal_mode(tracker: Tracker, path: Path) -> None:
    """The journal mode stored in the database file is WAL."""
    raw = sqlite3.connect(path)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        raw.close()


def test_reopening_the_tracker_keeps_everything(path: Path) -> None:
    """Events, derived state and equity survive closing and reopening the same file."""
    first = Tracker(path)
    first.record(AT, "r1", "hfea", EventKind.ORDER_SUBMITTING, client_order_id="hfea-a")
    first.record(AT, "r1", "hfea", EventKind.REBALANCE_DONE, rebalance_key="2024-Q1")
    first.record(AT, "r1", "all_in", EventKind.CYCLE_STARTED)
    snapshot(first, "hfea", date(2024, 3, 4), "100000.00", "100000.00")
    events, history = first.events(), first.equity_history()
    first.close()

    second = Tracker(path)
    try:
        assert second.events() == events
        assert second.equity_history() == history
        assert second.last_rebalance_key("hfea") == "2024-Q1"
        assert second.journaled_order_ids("hfea") == {"hfea-a"}
        assert second.strategies() == ["hfea", "all_in"]
        second.record(AT, "r2", "hfea", EventKind.REBALANCE_DONE, rebalance_key="2024-Q2")
        assert second.last_rebalance_key("hfea") == "2024-Q2"
        assert second.events()[-1].id > events[-1].id
    finally:
        second.close()


def test_unusable_location_raises_state_error_naming_the_path(tmp_path: Path) -> None:
    """A tracker whose parent 'directory' is a regular file cannot be opened: StateError."""
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")
    path = blocker / "tracker.sqlite3"

    with pytest.raises(StateError, match=re.escape(str(path))):
        Tracker(path)


def test_a_file_that_is_not_a_database_raises_state_error(tmp_path: Path) -> None:
    """Opening a non-SQLite file as the tracker is a StateError naming the path."""
    path = tmp_path / "tracker.sqlite3"
    path.write_bytes(b"this is not an sqlite database, just some text padding it out" * 20)

    with pytest.raises(StateError, match=re.escape(str(path))):
        Tracker(path)


def test_a_failed_write_raises_state_error(path: Path) -> None:
    """If an event cannot be stored (here: the connection is closed), record raises StateError."""
    tracker = Tracker(path)
    tracker.close()

    with pytest.raises(StateError, match=re.escape(str(path))):
        tracker.record(AT, "r1", "hfea", EventKind.DECISION)


def test_run_has_key_answers_as_reading_every_payload_of_the_run(tracker: Tracker) -> None:
    """A top-level key with any value (null too) counts; the same word as a value, nested, or in
    another run does not."""
    tracker.record(AT, "r1", "all_in", EventKind.TARGETS_COMPUTED, weights={}, scaled_by=0.5)
    tracker.record(AT, "r2", "all_in", EventKind.TARGETS_COMPUTED, weights={"scaled_by": 1})
    tracker.record(AT, "r2", "all_in", EventKind.DECISION, reason="scaled_by")
    tracker.record(AT, "r3", "all_in", EventKind.TARGETS_COMPUTED, scaled_by=None)
    for run in ("r1", "r2", "r3", "r4"):
        read = any("scaled_by" in e.payload for e in tracker.run_events(run))
        assert tracker.run_has_key(run, "scaled_by") is read
    assert [tracker.run_has_key(r, "scaled_by") for r in ("r1", "r2", "r3")] == [True, False, True]
    with pytest.raises(ValueError, match="plain name"):
        tracker.run_has_key("r1", "a.b")


# --- indexed look-ups, and files written before the order-id index -----------------------------

# The schema every version before the order-id index created (git show caf92ba:bot/tracker.py).
OLD_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    run_id TEXT NOT NULL,
    strategy TEXT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_strategy_kind ON events (strategy, kind, id);
CREATE INDEX IF NOT EXISTS events_by_run ON events (run_id, id);
CREATE TABLE IF NOT EXISTS equity (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    session TEXT NOT NULL,
    run_id TEXT NOT NULL,
    strategy TEXT NOT NULL,
    equity TEXT NOT NULL,
    sleeve_equity TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS equity_by_strategy ON equity (strategy, id);
CREATE TRIGGER IF NOT EXISTS events_append_only_u BEFORE UPDATE ON events
    BEGIN SELECT RAISE(ABORT, 'the tracker is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_append_only_d BEFORE DELETE ON events
    BEGIN SELECT RAISE(ABORT, 'the tracker is append-only'); END;
CREATE TRIGGER IF NOT EXISTS equity_append_only_u BEFORE UPDATE ON equity
    BEGIN SELECT RAISE(ABORT, 'the tracker is append-only'); END;
CREATE TRIGGER IF NOT EXISTS equity_append_only_d BEFORE DELETE ON equity
    BEGIN SELECT RAISE(ABORT, 'the tracker is append-only'); END;
"""

# The old version's scans, verbatim: the indexed queries must answer exactly as they did.
OLD_JOURNALED = (
    "SELECT json_extract(payload, '$.client_order_id') FROM events"
    " WHERE strategy = ? AND kind = ?"
    " AND json_extract(payload, '$.client_order_id') LIKE ? ESCAPE '\\'"
)
OLD_REFUSED = (
    "SELECT json_extract(payload, '$.client_order_id') FROM events"
    " WHERE strategy = ? AND kind = ?"
    " AND json_extract(payload, '$.refused_at_submit') = 1"
    " AND json_extract(payload, '$.client_order_id') LIKE ? ESCAPE '\\'"
)
OLD_ENTRY = (
    "SELECT id, run_id FROM events WHERE strategy = ? AND kind = ?"
    " AND json_extract(payload, '$.client_order_id') = ? ORDER BY id LIMIT 1"
)
OLD_FINISHED = (
    "SELECT 1 FROM events WHERE strategy = ? AND kind = ? AND run_id LIKE ?"
    " AND COALESCE(json_extract(payload, '$.outcome'), '') != 'planned' LIMIT 1"
)

STRATEGIES = ("hfea", "all_in", "max_yield", "a%b")  # LIKE's wildcards in names too
SYMBOLS = ("UPRO", "TMF", "TECL", "USFR")


def _like(prefix: str) -> str:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped}%"


@dataclass
class OldJournal:
    """A tracker file as the previous version wrote it, and what was asked of it."""

    path: Path
    prefixes: dict[str, set[str]]  # per strategy: prefixes worth asking about
    order_ids: set[str]
    sessions: list[date]


def write_old_journal(path: Path, seed: int, days: int = 120) -> OldJournal:
    """A seeded random journal written with the old schema and the old INSERT (json sorted,
    ISO times): cycles, decisions, journaled/refused/retried orders, forced rebalances, dry
    runs, daemon rows, rows without an id or with a null one, and equity snapshots."""
    rng = random.Random(seed)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(OLD_SCHEMA)
    prefixes: dict[str, set[str]] = {s: {""} for s in STRATEGIES}
    order_ids: set[str] = set()
    sessions = [date(2023, 1, 2) + timedelta(days=d) for d in range(days)]

    def put(at: datetime, run_id: str, strategy: str, kind: EventKind, **payload: object) -> None:
        db.execute(
            "INSERT INTO events (at, run_id, strategy, kind, payload) VALUES (?, ?, ?, ?, ?)",
            (at.isoformat(), run_id, strategy, kind.value, json.dumps(payload, sort_keys=True)),
        )

    for day in sessions:
        at = datetime.combine(day, time(15, 45), NEW_YORK)
        if rng.random() < 0.1:
            put(at, "daemon", "hfea", EventKind.MISSED_RUN, session=day.isoformat())
        for strategy in STRATEGIES:
            if rng.random() < 0.2:
                continue
            run_id = f"{day:%Y%m%d}-{rng.getrandbits(32):08x}"
            key = rng.choice([f"{day:%Y%m%d}", f"{day:%Y%m%d}F", f"{day.year}Q{rng.randint(1, 4)}"])
            prefixes[strategy] |= {
                f"{strategy}-{key}-",
                f"{strategy}-{key}",
                f"{strategy}-{key[:4]}",
            }
            put(at, run_id, strategy, EventKind.CYCLE_STARTED, session=day.isoformat())
            put(at, run_id, strategy, EventKind.DECISION, rebalance_key=key, trade=True)
            for symbol in rng.sample(SYMBOLS, rng.randint(0, len(SYMBOLS))):
                cid = f"{strategy}-{key}-{symbol}-{rng.choice(['buy', 'sell'])}"
                if rng.random() < 0.2:
                    cid += f"-a{rng.randint(2, 3)}"
                order_ids.add(cid)
                put(at, run_id, strategy, EventKind.ORDER_SUBMITTING, client_order_id=cid)
                put(at, run_id, strategy, EventKind.ORDER_SUBMITTED, client_order_id=cid)
                if rng.random() < 0.2:
                    refused = rng.choice([True, False, None])
                    extra = {} if refused is None else {"refused_at_submit": refused}
                    put(
                        at, run_id, strategy, EventKind.ORDER_REJECTED, client_order_id=cid, **extra
                    )
            if rng.random() < 0.02:
                put(at, run_id, strategy, EventKind.ORDER_SUBMITTING, client_order_id=None)
            forced = rng.random() < 0.1
            put(at, run_id, strategy, EventKind.REBALANCE_DONE, rebalance_key=key, forced=forced)
            outcome = rng.choice(["traded", "held", "planned", "error"])
            put(at, run_id, strategy, EventKind.CYCLE_FINISHED, outcome=outcome)
            db.execute(
                "INSERT INTO equity (at, session, run_id, strategy, equity, sleeve_equity)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (at.isoformat(), day.isoformat(), run_id, strategy, "100000.00", "100000.00"),
            )
    db.close()
    return OldJournal(path, prefixes, order_ids, sessions)


def raw_rows(path: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Every stored row of both tables, column by column as the old schema had them."""
    db = sqlite3.connect(path)
    try:
        events = db.execute(
            "SELECT id, at, run_id, strategy, kind, payload FROM events ORDER BY id"
        ).fetchall()
        equity = db.execute("SELECT * FROM equity ORDER BY id").fetchall()
    finally:
        db.close()
    return events, equity


@pytest.fixture(scope="module")
def old_journal(tmp_path_factory: pytest.TempPathFactory) -> OldJournal:
    """A few thousand events in a file of the old layout (each test copies it)."""
    return write_old_journal(tmp_path_factory.mktemp("old") / "tracker.sqlite3", seed=20240304)


@pytest.fixture
def migrated(old_journal: OldJournal, tmp_path: Path) -> Iterator[tuple[Tracker, OldJournal]]:
    """The old file, copied, opened (and so migrated) by this version's tracker."""
    path = tmp_path / "tracker.sqlite3"
    shutil.copyfile(old_journal.path, path)
    opened = Tracker(path)
    yield opened, replace(old_journal, path=path)
    opened.close()


def test_an_old_file_opens_migrated_and_keeps_every_row(
    old_journal: OldJournal, path: Path
) -> None:
    """Opening a file of the old layout adds the order-id column and indexes; every row of both
    tables reads back unchanged; rows stay append-only; a second open changes nothing."""
    path.parent.mkdir(parents=True)
    shutil.copyfile(old_journal.path, path)
    before = raw_rows(path)
    assert len(before[0]) > 2000

    for _ in range(2):
        Tracker(path).close()
        assert raw_rows(path) == before

    raw = sqlite3.connect(path, isolation_level=None)
    try:
        columns = [row[1] for row in raw.execute("PRAGMA table_xinfo(events)")]
        names = {row[0] for row in raw.execute("SELECT name FROM sqlite_master")}
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            raw.execute("UPDATE events SET payload = '{}'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            raw.execute("DELETE FROM events WHERE id = 1")
    finally:
        raw.close()
    assert columns == ["id", "at", "run_id", "strategy", "kind", "payload", "client_order_id"]
    assert {"events_by_order_id", "events_by_kind", "events_append_only_u"} <= names
    assert raw_rows(path) == before


def test_indexed_look_ups_answer_as_the_old_scans_and_a_brute_force_filter(
    migrated: tuple[Tracker, OldJournal],
) -> None:
    """Every journal query of the migrated file, for every strategy and many prefixes, ids and
    sessions, equals the old version's SQL on the same file and a plain filter of events()."""
    tracker, journal = migrated
    everything = tracker.events()
    raw = sqlite3.connect(journal.path)

    def ids(rows: list[tuple[Any, ...]]) -> set[str]:
        return {str(r[0]) for r in rows}

    def of(strategy: str, kind: EventKind) -> list[EventRow]:
        return [e for e in everything if e.strategy == strategy and e.kind == kind.value]

    try:
        for strategy in (*STRATEGIES, "nobody"):
            submitting = of(strategy, EventKind.ORDER_SUBMITTING)
            rejected = of(strategy, EventKind.ORDER_REJECTED)
            for prefix in journal.prefixes.get(strategy, {""}) | {"x", f"{strategy}-9"}:
                journaled = tracker.journaled_order_ids(strategy, prefix)
                assert journaled == {
                    e.payload["client_order_id"]
                    for e in submitting
                    if isinstance(e.payload["client_order_id"], str)
                    and e.payload["client_order_id"].startswith(prefix)
                }
                old = (strategy, EventKind.ORDER_SUBMITTING.value, _like(prefix))
                assert journaled == ids(raw.execute(OLD_JOURNALED, old).fetchall())
                refused = tracker.refused_order_ids(strategy, prefix)
                assert refused == {
                    e.payload["client_order_id"]
                    for e in rejected
                    if e.payload.get("refused_at_submit") is True
                    and e.payload["client_order_id"].startswith(prefix)
                }
                old = (strategy, EventKind.ORDER_REJECTED.value, _like(prefix))
                assert refused == ids(raw.execute(OLD_REFUSED, old).fetchall())
            for cid in [*sorted(journal.order_ids), "hfea-never-sent"]:
                entry = tracker.journal_entry(strategy, cid)
                first = next((e for e in submitting if e.payload["client_order_id"] == cid), None)
                assert entry == (None if first is None else (first.id, first.run_id))
                old_entry = raw.execute(OLD_ENTRY, (strategy, "order_submitting", cid)).fetchall()
                assert entry == (tuple(old_entry[0]) if old_entry else None)
            finished = of(strategy, EventKind.CYCLE_FINISHED)
            for day in [journal.sessions[0] - timedelta(days=1), *journal.sessions]:
                answer = tracker.finished_cycle_on(strategy, day)
                assert answer == any(
                    e.run_id.startswith(f"{day:%Y%m%d}-") and e.payload["outcome"] != "planned"
                    for e in finished
                )
                old = (strategy, "cycle_finished", f"{day:%Y%m%d}-%")
                assert answer == bool(raw.execute(OLD_FINISHED, old).fetchall())
            done = [e for e in of(strategy, EventKind.REBALANCE_DONE) if not e.payload["forced"]]
            key = tracker.last_rebalance_key(strategy)
            assert key == (done[-1].payload["rebalance_key"] if done else None)
            for kind in (EventKind.CYCLE_FINISHED, EventKind.ORDER_REJECTED):
                rows = of(strategy, kind)
                assert tracker.last_event(strategy, kind) == (rows[-1] if rows else None)
                assert tracker.events(kind=kind) == [e for e in everything if e.kind == kind]
    finally:
        raw.close()


def test_rows_an_old_version_appends_after_the_migration_are_indexed(
    migrated: tuple[Tracker, OldJournal],
) -> None:
    """An older bot still running on the same file inserts with the old statement; SQLite keeps
    the index current, so the new look-ups see its journal entries at once."""
    tracker, journal = migrated
    raw = sqlite3.connect(journal.path, isolation_level=None)
    try:
        raw.execute(
            "INSERT INTO events (at, run_id, strategy, kind, payload) VALUES (?, ?, ?, ?, ?)",
            (AT.isoformat(), "r9", "hfea", "order_submitting", '{"client_order_id": "hfea-K-X"}'),
        )
    finally:
        raw.close()

    assert "hfea-K-X" in tracker.journaled_order_ids("hfea", "hfea-K-")
    entry = tracker.journal_entry("hfea", "hfea-K-X")
    assert entry is not None
    assert entry[1] == "r9"


def test_a_row_that_is_not_json_does_not_stop_the_migration(path: Path) -> None:
    """A payload the tracker never wrote (not JSON) is kept as it is; the file still opens."""
    path.parent.mkdir(parents=True)
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(OLD_SCHEMA)
    db.execute(
        "INSERT INTO events (at, run_id, strategy, kind, payload) VALUES (?, ?, ?, ?, ?)",
        (AT.isoformat(), "r1", "hfea", "order_submitting", "not json {"),
    )
    db.close()

    tracker = Tracker(path)
    try:
        tracker.record(AT, "r2", "hfea", EventKind.ORDER_SUBMITTING, client_order_id="hfea-k-A")
        assert tracker.journaled_order_ids("hfea") == {"hfea-k-A"}
    finally:
        tracker.close()
    assert raw_rows(path)[0][0][5] == "not json {"


def test_two_processes_opening_an_old_file_at_once_both_succeed(
    old_journal: OldJournal, path: Path
) -> None:
    """The migration is one write transaction that checks again: racing openers never fail
    (e.g. on adding the column twice) and the rows are untouched."""
    path.parent.mkdir(parents=True)
    shutil.copyfile(old_journal.path, path)
    before = raw_rows(path)
    barrier = threading.Barrier(4)
    failures: list[BaseException] = []

    def open_it() -> None:
        barrier.wait()
        try:
            Tracker(path).close()
        except BaseException as exc:  # collected for the assertion
            failures.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert raw_rows(path) == before


def query_plans(tracker: Tracker, ask: Callable[[], object]) -> list[str]:
    """The query plan of every statement ``ask`` makes the tracker run (as it ran it)."""
    statements: list[str] = []
    tracker._db.set_trace_callback(statements.append)  # the statements as the tracker ran them
    try:
        ask()
    finally:
        tracker._db.set_trace_callback(None)
    raw = sqlite3.connect(tracker.path)
    try:
        return [
            " / ".join(str(row[-1]) for row in raw.execute(f"EXPLAIN QUERY PLAN {statement}"))
            for statement in statements
        ]
    finally:
        raw.close()


@pytest.mark.parametrize(
    "ask",
    [
        pytest.param(lambda t: t.journaled_order_ids("all_in", "all_in-20230301-"), id="journaled"),
        pytest.param(lambda t: t.journaled_order_ids("all_in"), id="journaled-all"),
        pytest.param(lambda t: t.refused_order_ids("all_in", "all_in-20230301-"), id="refused"),
        pytest.param(lambda t: t.journal_entry("all_in", "all_in-20230301-TMF-buy"), id="entry"),
        pytest.param(lambda t: t.finished_cycle_on("all_in", date(2023, 3, 1)), id="finished"),
        pytest.param(lambda t: t.last_rebalance_key("all_in"), id="last_rebalance_key"),
        pytest.param(lambda t: t.last_event("all_in", EventKind.POSITIONS), id="last_event"),
        pytest.param(lambda t: t.run_events("20230301-0000abcd"), id="run_events"),
        pytest.param(lambda t: t.events(kind=EventKind.ALERT_QUEUED), id="events-of-a-kind"),
    ],
)
def test_the_journal_queries_search_an_index_never_scan(
    migrated: tuple[Tracker, OldJournal], ask: Callable[[Tracker], object]
) -> None:
    """SQLite's own plan for each query the cycle makes on every send and every day: a search
    of an index (the order-id index for order ids), never a scan of the table or a sort."""
    tracker, _ = migrated
    [plan] = query_plans(tracker, lambda: ask(tracker))

    assert plan.startswith("SEARCH events USING ")
    assert "INDEX" in plan
    assert "SCAN" not in plan
    assert "TEMP B-TREE" not in plan


def test_order_id_look_ups_use_the_order_id_index(migrated: tuple[Tracker, OldJournal]) -> None:
    """journaled_order_ids, refused_order_ids and journal_entry search events_by_order_id by
    strategy, kind and an id range (or the exact id)."""
    tracker, _ = migrated
    plans = query_plans(
        tracker,
        lambda: (
            tracker.journaled_order_ids("hfea", "hfea-2023Q1-"),
            tracker.refused_order_ids("hfea", "hfea-2023Q1-"),
            tracker.journal_entry("hfea", "hfea-2023Q1-TMF-buy"),
        ),
    )

    assert len(plans) == 3
    for plan in plans[:2]:
        assert "USING INDEX events_by_order_id (strategy=? AND kind=? AND client_order_id>?" in plan
    assert (
        "USING INDEX events_by_order_id (strategy=? AND kind=? AND client_order_id=?)" in plans[2]
    )


EDGES = st.sampled_from("a-.Z_%\\z\x7f\x80\xff\u07ff\u0800\ud7ff\ue000\U0010ffff")


@settings(max_examples=300, deadline=None)
@given(prefix=st.text(alphabet=EDGES, max_size=4), value=st.text(alphabet=EDGES, max_size=6))
def test_a_prefix_range_matches_exactly_the_strings_with_that_prefix(
    prefix: str, value: str
) -> None:
    """The range SQLite searches for a prefix holds a string iff it starts with the prefix, at
    the edges of UTF-8 (the last code point, the surrogate gap) and with LIKE's wildcards."""
    condition, bounds = _prefix_range("v", prefix)
    db = sqlite3.connect(":memory:")
    try:
        [(inside,)] = db.execute(f"SELECT {condition} FROM (SELECT ? AS v)", (*bounds, value))
    finally:
        db.close()
    assert bool(inside) == value.startswith(prefix)


def test_prefixes_are_case_sensitive_unlike_the_old_like(tracker: Tracker) -> None:
    """An id differing only in case is another id (the old LIKE matched both)."""
    tracker.record(AT, "r1", "hfea", EventKind.ORDER_SUBMITTING, client_order_id="hfea-2024Q1-A")
    tracker.record(AT, "r1", "hfea", EventKind.ORDER_SUBMITTING, client_order_id="hfea-2024q1-B")

    assert tracker.journaled_order_ids("hfea", "hfea-2024Q1-") == {"hfea-2024Q1-A"}


def test_the_stored_text_is_the_sorted_json_the_previous_version_wrote(
    tracker: Tracker, path: Path
) -> None:
    """Payload text byte for byte as ``json.dumps(..., sort_keys=True)`` with Decimal as str
    and dates as ISO (rows of old and new versions read and compare alike)."""
    payload: dict[str, Any] = {
        "z": Decimal("-0.000000001"),
        "a": {"TMF": Decimal("12.5"), "UPRO": [Decimal(1), None, True, 2.5]},
        "when": datetime(2024, 3, 4, 20, 45, tzinfo=UTC),
        "session": date(2024, 3, 4),
        "text": "naïve — ünïcode",
    }
    tracker.record(AT, "r1", "hfea", EventKind.DECISION, **payload)

    def previous(value: object) -> str:
        return str(value) if isinstance(value, Decimal) else value.isoformat()  # type: ignore[attr-defined]

    raw = sqlite3.connect(path)
    try:
        [(text,)] = raw.execute("SELECT payload FROM events").fetchall()
    finally:
        raw.close()
    assert text == json.dumps(payload, default=previous, sort_keys=True)
    with pytest.raises(TypeError, match="cannot record set"):
        tracker.record(AT, "r1", "hfea", EventKind.DECISION, bad={1})
