"""A journal kept in Python lists and dicts: a backtest's, whose result is the curve.

A backtest records a handful of events every session and reads a few back (the last positions,
the last rebalance, the order journal on each send). Kept in SQLite, even in memory, the inserts,
the transactions and the queries were about a fifth of the cycle engine's day; here a record is
one encode and an append, and every look-up the cycle makes is a dict or a short list.

It answers every question of the ``Journal`` port exactly as the SQLite tracker does (the same
JSON text, the same SQL-JSON reading of booleans and nulls; tests/test_memory_journal.py drives
both with the same random histories). A live or paper run never uses it: their journal must be
durable before the bot acts.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from bot.journal import EquityRow, EventKind, EventRow, encode_payload

_SUBMITTING = EventKind.ORDER_SUBMITTING.value
_REJECTED = EventKind.ORDER_REJECTED.value


class _Stored:
    """One event as stored: its JSON text (what SQLite keeps) and the payload's top-level keys.
    Never changed once made; the decoded payload is kept for the journal's own reads only."""

    __slots__ = ("_decoded", "id", "keys", "kind", "moment", "run_id", "strategy", "text")

    def __init__(  # noqa: PLR0917 - the row's columns
        self,
        id_: int,
        moment: datetime,
        run_id: str,
        strategy: str,
        kind: str,
        text: str,
        keys: frozenset[str],
    ) -> None:
        self.id, self.moment, self.run_id, self.strategy = id_, moment, run_id, strategy
        self.kind, self.text, self.keys = kind, text, keys
        self._decoded: dict[str, Any] | None = None

    @property
    def at(self) -> str:
        """The time as the tracker stores it (ISO text), made when read: most never are."""
        return self.moment.isoformat()

    def row(self) -> EventRow:
        """A fresh row (its payload decoded anew: a caller may change it)."""
        return EventRow(self.id, self.at, self.run_id, self.strategy, self.kind, self.payload())

    def payload(self) -> dict[str, Any]:
        decoded: dict[str, Any] = json.loads(self.text)
        return decoded

    def sql_value(self, key: str) -> object:
        """``json_extract(payload, '$.key')`` as SQLite gives it: true and false as 1 and 0."""
        if self._decoded is None:
            self._decoded = self.payload()
        value = self._decoded.get(key)
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, dict | list):  # SQLite answers with the value's JSON, minified
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        return value


def _coalesce(value: object, default: object) -> object:
    """SQL's COALESCE: the value unless it is NULL (a JSON null or a missing key)."""
    return default if value is None else value


def _matching(ids: Iterable[tuple[object, _Stored]], prefix: str) -> set[str]:
    """The ids starting with ``prefix`` as the tracker's index range finds them: a number is
    never inside a text range, and with no prefix every id counts, as its text."""
    if not prefix:
        return {str(i) for i, _ in ids}
    return {i for i, _ in ids if isinstance(i, str) and i.startswith(prefix)}


class MemoryJournal:
    """The ``Journal`` port in memory, indexed by strategy and kind, by run and by order id."""

    path = ":memory:"

    def __init__(self) -> None:
        self._events: list[_Stored] = []
        self._by_kind: defaultdict[tuple[str, str], list[_Stored]] = defaultdict(list)
        self._by_run: defaultdict[str, list[_Stored]] = defaultdict(list)
        self._order_ids: defaultdict[tuple[str, str], list[tuple[object, _Stored]]] = defaultdict(
            list
        )
        self._equity: list[EquityRow] = []

    def record(
        self, at: datetime, run_id: str, strategy: str, kind: EventKind, **payload: Any
    ) -> None:
        """Append one event (its payload encoded now, as the tracker does: an unencodable value
        raises here, not when read)."""
        stored = _Stored(
            len(self._events) + 1,
            at,
            run_id,
            strategy,
            kind.value,
            encode_payload(payload),
            frozenset(payload),
        )
        self._events.append(stored)
        self._by_kind[strategy, stored.kind].append(stored)
        self._by_run[run_id].append(stored)
        if stored.kind in (_SUBMITTING, _REJECTED) and payload.get("client_order_id") is not None:
            order_id = stored.sql_value("client_order_id")  # as the tracker's indexed column
            self._order_ids[strategy, stored.kind].append((order_id, stored))

    def run_has_key(self, run_id: str, key: str) -> bool:
        """Did any event of run ``run_id`` record ``key`` in its payload, with any value?"""
        if not key.isidentifier():
            msg = f"a payload key to look for is a plain name, not {key!r}"
            raise ValueError(msg)
        return any(key in e.keys for e in self._by_run.get(run_id, ()))

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
        """Append an equity snapshot (stored as the tracker stores it: text, read back exact)."""
        del run_id  # kept by the tracker, never read back
        self._equity.append(
            EquityRow(
                at.isoformat(), session, strategy, Decimal(str(equity)), Decimal(str(sleeve_equity))
            )
        )

    def events(self, strategy: str | None = None, kind: EventKind | None = None) -> list[EventRow]:
        """Events in the order they were recorded, optionally of one strategy and/or kind."""
        if strategy is not None and kind is not None:
            chosen: list[_Stored] = self._by_kind.get((strategy, kind.value), [])
        else:
            chosen = [
                e
                for e in self._events
                if (strategy is None or e.strategy == strategy)
                and (kind is None or e.kind == kind.value)
            ]
        return [e.row() for e in chosen]

    def last_event(self, strategy: str, kind: EventKind) -> EventRow | None:
        """The most recent event of a kind for a strategy."""
        found = self._by_kind.get((strategy, kind.value))
        return found[-1].row() if found else None

    def run_events(self, run_id: str) -> list[EventRow]:
        """Every event of one run, in order."""
        return [e.row() for e in self._by_run.get(run_id, ())]

    def last_event_id(self) -> int:
        """The id of the newest event (0 when empty)."""
        return len(self._events)

    def last_rebalance_key(self, strategy: str) -> str | None:
        """The key of the last completed scheduled (not forced) rebalance."""
        for event in reversed(self._by_kind.get((strategy, EventKind.REBALANCE_DONE.value), [])):
            if _coalesce(event.sql_value("forced"), 0) == 0:
                return str(event.sql_value("rebalance_key"))
        return None

    def finished_cycle_on(self, strategy: str, session: date) -> bool:
        """Did a real (not dry-run) cycle of ``strategy`` finish for ``session``?"""
        prefix = f"{session:%Y%m%d}-"
        for run_id, events in self._by_run.items():
            if not run_id.startswith(prefix):
                continue
            dry = any(
                e.kind == EventKind.CYCLE_STARTED.value and e.sql_value("dry_run") == 1
                for e in events
            )
            if dry:
                continue
            if any(
                e.strategy == strategy
                and e.kind == EventKind.CYCLE_FINISHED.value
                and _coalesce(e.sql_value("outcome"), "") != "planned"
                for e in events
            ):
                return True
        return False

    def first_cycle_session(self, strategy: str) -> date | None:
        """The session of the strategy's first recorded cycle (run ids start with the date)."""
        started = self._by_kind.get((strategy, EventKind.CYCLE_STARTED.value))
        if not started:
            return None
        return datetime.strptime(started[0].run_id[:8], "%Y%m%d").date()  # noqa: DTZ007 - a date

    def last_finished_at(self, strategy: str) -> datetime | None:
        """When the last real (not dry-run) cycle finished."""
        for event in reversed(self._by_kind.get((strategy, EventKind.CYCLE_FINISHED.value), [])):
            if _coalesce(event.sql_value("outcome"), "") != "planned":
                return datetime.fromisoformat(event.at)
        return None

    def journaled_order_ids(self, strategy: str, prefix: str = "") -> set[str]:
        """The client_order_ids the strategy journaled before sending, starting with ``prefix``."""
        return _matching(self._order_ids.get((strategy, _SUBMITTING), ()), prefix)

    def refused_order_ids(self, strategy: str, prefix: str = "") -> set[str]:
        """The client_order_ids the broker refused at submit, starting with ``prefix``."""
        refused = [
            (i, e)
            for i, e in self._order_ids.get((strategy, _REJECTED), ())
            if e.sql_value("refused_at_submit") == 1
        ]
        return _matching(refused, prefix)

    def journal_entry(self, strategy: str, client_order_id: str) -> tuple[int, str] | None:
        """(event id, run id) of the first journal entry written for ``client_order_id``."""
        for order_id, event in self._order_ids.get((strategy, _SUBMITTING), ()):
            if order_id == client_order_id:
                return event.id, event.run_id
        return None

    def equity_history(self, strategy: str | None = None) -> list[EquityRow]:
        """Equity snapshots in order, optionally of one strategy."""
        return [r for r in self._equity if strategy is None or r.strategy == strategy]

    def strategies(self) -> list[str]:
        """Names of every strategy that has recorded anything, in first-seen order."""
        return list(dict.fromkeys(e.strategy for e in self._events))

    def close(self) -> None:
        """Nothing to release."""
