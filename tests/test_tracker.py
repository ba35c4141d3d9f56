"""The tracker: an append-only SQLite journal of events and equity snapshots."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.errors import StateError
from bot.tracker import EquityRow, EventKind, Tracker

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
