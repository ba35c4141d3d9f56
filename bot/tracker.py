"""The tracker: an append-only journal of every state change, in SQLite under the state dir.

Nothing is ever updated or deleted (the schema forbids it with triggers): what happened, and what
the bot *intended* before it acted (the order journal), can always be read back. Trigger state is
derived from the journal too ("last rebalance done"), so there is no second source of truth.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.errors import StateError
from bot.journal import EquityRow, EventKind, EventRow, encode_payload

__all__ = ["EquityRow", "EventKind", "EventRow", "Tracker"]  # the values live in bot.journal

SCHEMA = """
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

# Added to the schema above, idempotently, whenever a tracker is opened (a file written by an
# earlier version gains them on its first open; no row is rewritten, the triggers stay). A
# VIRTUAL column is computed from the payload, never stored, so adding it touches no row; its
# index turns the order-journal look-ups of every send into index range searches instead of a
# scan of every order the strategy ever journaled. ``json_valid`` keeps a row that is not JSON
# (never written by the tracker) from making the index, and so the tracker, unopenable.
ORDER_ID_COLUMN = (
    "client_order_id TEXT GENERATED ALWAYS AS"
    " (CASE WHEN json_valid(payload) THEN json_extract(payload, '$.client_order_id') END) VIRTUAL"
)
INDEXES = """
CREATE INDEX IF NOT EXISTS events_by_order_id ON events (strategy, kind, client_order_id)
    WHERE client_order_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_by_kind ON events (kind, id);
"""


def _prefix_range(column: str, prefix: str) -> tuple[str, list[str]]:
    """A condition on ``column`` (text) for "starts with ``prefix``", as a range an index can
    search (``LIKE`` with ``ESCAPE`` cannot use one, and ``LIKE`` ignores ASCII case): the
    strings ``>= prefix`` and ``<`` the first string after every string with that prefix."""
    if not prefix:
        return f"{column} IS NOT NULL", []
    upper = _after_prefix(prefix)
    if upper is None:
        return f"{column} >= ?", [prefix]
    return f"{column} >= ? AND {column} < ?", [prefix, upper]


def _after_prefix(prefix: str) -> str | None:
    """The least string greater than every string starting with ``prefix`` (SQLite compares
    text as UTF-8 bytes, which orders as code points do), or None if there is none."""
    while prefix:
        last = ord(prefix[-1])
        if last < sys.maxunicode:
            following = 0xE000 if 0xD800 <= last + 1 <= 0xDFFF else last + 1  # skip surrogates
            return prefix[:-1] + chr(following)
        prefix = prefix[:-1]
    return None


INSERT_EVENT = "INSERT INTO events (at, run_id, strategy, kind, payload) VALUES (?, ?, ?, ?, ?)"


class Tracker:
    """SQLite-backed tracker (WAL, one write transaction per event so nothing is half-written)."""

    def __init__(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(SCHEMA)
            self._migrate()
        except (OSError, sqlite3.Error) as exc:
            msg = f"cannot open the tracker at {path}: {exc}; check BOT_STATE_DIR is writable"
            raise StateError(msg) from exc
        self.path = path

    def _migrate(self) -> None:
        """Bring a file written by an earlier version up to this schema. Checked without a
        lock first (every open after the first finds nothing to do); the change itself is one
        write transaction that checks again (two processes opening an old file at once)."""
        if not self._missing_schema():
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            if "client_order_id" in self._missing_schema():
                self._db.execute(f"ALTER TABLE events ADD COLUMN {ORDER_ID_COLUMN}")
            for statement in INDEXES.split(";"):
                if statement.strip():
                    self._db.execute(statement)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _missing_schema(self) -> set[str]:
        columns = {row[1] for row in self._db.execute("PRAGMA table_xinfo(events)")}
        indexes = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master")}
        wanted = {"client_order_id", "events_by_order_id", "events_by_kind"}
        return wanted - columns - indexes

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        try:
            yield self._db
        except sqlite3.Error as exc:
            msg = f"cannot write to the tracker at {self.path}: {exc}"
            raise StateError(msg) from exc

    def _read(self, query: str, args: Sequence[object]) -> list[tuple[Any, ...]]:
        try:
            return self._db.execute(query, args).fetchall()
        except sqlite3.Error as exc:
            msg = f"cannot read the tracker at {self.path}: {exc}"
            raise StateError(msg) from exc

    def record(
        self, at: datetime, run_id: str, strategy: str, kind: EventKind, **payload: Any
    ) -> None:
        """Append one event; raises StateError if it could not be stored (then do not act).

        Outside ``batched`` the insert is its own transaction, committed (and, on a file, synced)
        before this returns: the event is on disk before the caller acts on it."""
        text = encode_payload(payload)
        try:  # as ``_writing``, inline: a backtest records tens of events a session
            self._db.execute(INSERT_EVENT, (at.isoformat(), run_id, strategy, kind.value, text))
        except sqlite3.Error as exc:
            msg = f"cannot write to the tracker at {self.path}: {exc}"
            raise StateError(msg) from exc

    def run_has_key(self, run_id: str, key: str) -> bool:
        """Did any event of run ``run_id`` record ``key`` (a plain name) in its payload, with
        any value? Asked by SQLite of the run's events, none of them decoded here."""
        if not key.isidentifier():
            msg = f"a payload key to look for is a plain name, not {key!r}"
            raise ValueError(msg)
        rows = self._read(
            "SELECT 1 FROM events INDEXED BY events_by_run WHERE run_id = ?"
            " AND CASE WHEN json_valid(payload) THEN json_type(payload, '$.' || ?) END IS NOT NULL"
            " LIMIT 1",
            (run_id, key),
        )
        return bool(rows)

    def snapshot_equity(
        self,
        *,
        at: datetime,
        session: date,
        run_id: str,
        strategy: str,
        equity: Decimal,
        sleeve_equity: Decimal,
    ) -> None:
        """Append an equity snapshot for the account tracker."""
        with self._writing() as db:
            db.execute(
                "INSERT INTO equity (at, session, run_id, strategy, equity, sleeve_equity)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    at.isoformat(),
                    session.isoformat(),
                    run_id,
                    strategy,
                    str(equity),
                    str(sleeve_equity),
                ),
            )

    def events(self, strategy: str | None = None, kind: EventKind | None = None) -> list[EventRow]:
        """Return events in the order they were recorded, optionally filtered."""
        query = "SELECT id, at, run_id, strategy, kind, payload FROM events WHERE 1=1"
        args: list[str] = []
        if strategy is not None:
            query += " AND strategy = ?"
            args.append(strategy)
        if kind is not None:
            query += " AND kind = ?"
            args.append(kind.value)
        rows = self._read(query + " ORDER BY id", args)
        return [EventRow(r[0], r[1], r[2], r[3], r[4], json.loads(r[5])) for r in rows]

    def last_event(self, strategy: str, kind: EventKind) -> EventRow | None:
        """Return the most recent event of a kind for a strategy."""
        rows = self._read(
            "SELECT id, at, run_id, strategy, kind, payload FROM events"
            " WHERE strategy = ? AND kind = ? ORDER BY id DESC LIMIT 1",
            (strategy, kind.value),
        )
        if not rows:
            return None
        row = rows[0]
        return EventRow(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]))

    def finished_cycle_on(self, strategy: str, session: date) -> bool:
        """Did a real cycle of ``strategy`` finish for ``session``? A dry run does not count,
        whatever it ended with (a dry run that failed is not the day's wake either)."""
        runs, bounds = _prefix_range("run_id", f"{session:%Y%m%d}-")
        rows = self._read(  # that day's runs, found by run id, not all the strategy's cycles
            f"SELECT 1 FROM events INDEXED BY events_by_run WHERE {runs}"
            " AND strategy = ? AND kind = ?"
            " AND COALESCE(json_extract(payload, '$.outcome'), '') != 'planned'"
            " AND NOT EXISTS (SELECT 1 FROM events AS s INDEXED BY events_by_run"
            " WHERE s.run_id = events.run_id AND s.kind = ?"
            " AND json_extract(s.payload, '$.dry_run') = 1) LIMIT 1",
            (*bounds, strategy, EventKind.CYCLE_FINISHED.value, EventKind.CYCLE_STARTED.value),
        )
        return bool(rows)

    def first_cycle_session(self, strategy: str) -> date | None:
        """The session of the strategy's first recorded cycle (run ids start with the date)."""
        rows = self._read(
            "SELECT run_id FROM events WHERE strategy = ? AND kind = ? ORDER BY id LIMIT 1",
            (strategy, EventKind.CYCLE_STARTED.value),
        )
        if not rows:
            return None
        return datetime.strptime(str(rows[0][0])[:8], "%Y%m%d").date()  # noqa: DTZ007 - a date

    def last_finished_at(self, strategy: str) -> datetime | None:
        """When the last real (not dry-run) cycle finished: where a simulation resumes."""
        rows = self._read(
            "SELECT at FROM events WHERE strategy = ? AND kind = ?"
            " AND COALESCE(json_extract(payload, '$.outcome'), '') != 'planned'"
            " ORDER BY id DESC LIMIT 1",
            (strategy, EventKind.CYCLE_FINISHED.value),
        )
        return datetime.fromisoformat(rows[0][0]) if rows else None

    def last_rebalance_key(self, strategy: str) -> str | None:
        """The key of the last completed scheduled rebalance: calendar triggers' durable state.

        Forced rebalances (``bot once --force``) are skipped: they must not make the schedule
        believe its own rebalance is still due (or already done).
        """
        row = self._read(
            "SELECT json_extract(payload, '$.rebalance_key') FROM events"
            " WHERE strategy = ? AND kind = ?"
            " AND COALESCE(json_extract(payload, '$.forced'), 0) = 0"
            " ORDER BY id DESC LIMIT 1",
            (strategy, EventKind.REBALANCE_DONE.value),
        )
        return None if not row else str(row[0][0])

    def journaled_order_ids(self, strategy: str, prefix: str = "") -> set[str]:
        """The client_order_ids this strategy journaled before sending (those starting with
        ``prefix``, e.g. one rebalance key's)."""
        ids, bounds = _prefix_range("client_order_id", prefix)
        rows = self._read(
            f"SELECT client_order_id FROM events WHERE strategy = ? AND kind = ? AND {ids}",
            (strategy, EventKind.ORDER_SUBMITTING.value, *bounds),
        )
        return {str(r[0]) for r in rows}

    def last_event_id(self) -> int:
        """The id of the newest event (0 when empty): a mark that orders later records."""
        rows = self._read("SELECT COALESCE(MAX(id), 0) FROM events", ())
        return int(rows[0][0])

    def journal_entry(self, strategy: str, client_order_id: str) -> tuple[int, str] | None:
        """(event id, run id) of the journal entry written before ``client_order_id`` was sent."""
        rows = self._read(
            "SELECT id, run_id FROM events WHERE strategy = ? AND kind = ?"
            " AND client_order_id = ? ORDER BY id LIMIT 1",
            (strategy, EventKind.ORDER_SUBMITTING.value, client_order_id),
        )
        return (int(rows[0][0]), str(rows[0][1])) if rows else None

    def refused_order_ids(self, strategy: str, prefix: str = "") -> set[str]:
        """The client_order_ids the broker refused at submit (a 403 such as insufficient buying
        power): such an id is never sent again; a re-sized order takes the next suffix."""
        ids, bounds = _prefix_range("client_order_id", prefix)
        rows = self._read(
            f"SELECT client_order_id FROM events WHERE strategy = ? AND kind = ? AND {ids}"
            " AND json_extract(payload, '$.refused_at_submit') = 1",
            (strategy, EventKind.ORDER_REJECTED.value, *bounds),
        )
        return {str(r[0]) for r in rows}

    def run_events(self, run_id: str) -> list[EventRow]:
        """Every event of one run, in order."""
        rows = self._read(
            "SELECT id, at, run_id, strategy, kind, payload FROM events"
            " WHERE run_id = ? ORDER BY id",
            (run_id,),
        )
        return [EventRow(r[0], r[1], r[2], r[3], r[4], json.loads(r[5])) for r in rows]

    def equity_history(self, strategy: str | None = None) -> list[EquityRow]:
        """Return equity snapshots in order, optionally for one strategy."""
        query = "SELECT at, session, strategy, equity, sleeve_equity FROM equity"
        args = [] if strategy is None else [strategy]
        if strategy is not None:
            query += " WHERE strategy = ?"
        rows = self._read(query + " ORDER BY id", args)
        return [
            EquityRow(r[0], date.fromisoformat(r[1]), r[2], Decimal(r[3]), Decimal(r[4]))
            for r in rows
        ]

    def strategies(self) -> list[str]:
        """Names of every strategy that has recorded anything, in first-seen order."""
        rows = self._read("SELECT strategy FROM events GROUP BY strategy ORDER BY MIN(id)", ())
        return [str(r[0]) for r in rows]

    def events_on(self, session: date, strategy: str | None = None) -> list[EventRow]:
        """Every event of the runs of one session (a run id starts with its session's date),
        in order, optionally of one strategy: the dashboard's journal of a day, found by the
        run index instead of reading every event ever recorded."""
        runs, bounds = _prefix_range("run_id", f"{session:%Y%m%d}-")
        query = (
            "SELECT id, at, run_id, strategy, kind, payload FROM events INDEXED BY events_by_run"
            f" WHERE {runs}"
        )
        args: list[str] = list(bounds)
        if strategy is not None:
            query += " AND strategy = ?"
            args.append(strategy)
        rows = self._read(query + " ORDER BY id", args)
        return [EventRow(r[0], r[1], r[2], r[3], r[4], json.loads(r[5])) for r in rows]

    def sessions_recorded(self) -> list[date]:
        """The sessions that have equity snapshots, newest first (the journal's day list)."""
        rows = self._read("SELECT DISTINCT session FROM equity ORDER BY session DESC", ())
        return [date.fromisoformat(str(r[0])) for r in rows]
