"""The small interfaces the core depends on; adapters implement them (simulated, Alpaca, SQLite)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

import pandas as pd

from bot.domain import Account, AccountState, AssetInfo, OrderCosts, OrderReport, OrderRequest
from bot.journal import EquityRow, EventKind, EventRow


class Clock(Protocol):
    """Time, injected: nothing in the core reads the system clock."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    def sleep_until(self, moment: datetime) -> None:
        """Wait (or, for a simulated clock, jump) until ``moment``."""
        ...


class MarketData(Protocol):
    """Daily closes, with today's latest price as the row for today when the market is open."""

    def closes(self, symbols: Iterable[str], end: date, count: int) -> pd.DataFrame:
        """The last ``count`` rows on or before ``end``; a column per symbol, NaN where absent."""
        ...

    def price_times(self) -> Mapping[str, datetime]:
        """When each of today's prices (the last row of ``closes``) was printed, if known."""
        ...


class MarketCalendar(Protocol):
    """Trading sessions and their closes (XNYS offline, or the broker's calendar)."""

    def sessions(self, start: date, end: date) -> tuple[date, ...]:
        """Trading days between ``start`` and ``end`` inclusive."""
        ...

    def session_close(self, day: date) -> datetime:
        """The session's close, timezone-aware UTC (early closes respected)."""
        ...


class Broker(Protocol):
    """The account: what it holds, and market orders by client_order_id."""

    @property
    def order_costs(self) -> OrderCosts:
        """How this broker values an order against buying power (the planner sizes by it)."""
        ...

    def account(self) -> Account:
        """Cash, equity, buying power and positions now."""
        ...

    def submit(self, order: OrderRequest) -> OrderReport:
        """Send one market order; raises DuplicateOrderError if its id was ever used."""
        ...

    def get_order(self, client_order_id: str) -> OrderReport | None:
        """Look an order up by its client_order_id; None if the broker never saw it."""
        ...

    def account_state(self) -> AccountState:
        """The account's status flags."""
        ...

    def assets(self, symbols: Iterable[str]) -> dict[str, AssetInfo]:
        """Asset flags per symbol; a symbol the broker does not know is absent."""
        ...

    def open_orders(self) -> list[OrderReport]:
        """Every order not yet final (ours and anyone else's)."""
        ...

    def cancel(self, client_order_id: str) -> None:
        """Ask the broker to cancel an open order (confirm by polling ``get_order``)."""
        ...

    def market_open(self) -> bool:
        """True while the market trades: a market order sent now fills now, not at the next open."""
        ...


class Journal(Protocol):
    """The append-only record of every state change, and the state derived from it.

    What the core reads and writes (``bot/tracker.py`` keeps it in SQLite). Nothing is updated
    or deleted: the order journal entry (ORDER_SUBMITTING) is written before an order is sent,
    so a restart can always tell what was intended; trigger state ("last rebalance done") is
    read back from it, never kept elsewhere. A write that cannot be stored raises StateError
    (then do not act).
    """

    def record(
        self, at: datetime, run_id: str, strategy: str, kind: EventKind, **payload: Any
    ) -> None:
        """Append one event (Decimal, date and datetime values are stored as text)."""
        ...

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
        """Append an equity snapshot."""
        ...

    def events(self, strategy: str | None = None, kind: EventKind | None = None) -> list[EventRow]:
        """Events in the order they were recorded, optionally of one strategy and/or kind."""
        ...

    def last_event(self, strategy: str, kind: EventKind) -> EventRow | None:
        """The most recent event of a kind for a strategy."""
        ...

    def run_events(self, run_id: str) -> list[EventRow]:
        """Every event of one run, in order."""
        ...

    def last_event_id(self) -> int:
        """The id of the newest event (0 when empty): a mark that later events are after."""
        ...

    def last_rebalance_key(self, strategy: str) -> str | None:
        """The key of the last completed scheduled (not forced) rebalance."""
        ...

    def finished_cycle_on(self, strategy: str, session: date) -> bool:
        """Did a real (not dry-run) cycle of ``strategy`` finish for ``session``?"""
        ...

    def first_cycle_session(self, strategy: str) -> date | None:
        """The session of the strategy's first recorded cycle."""
        ...

    def journaled_order_ids(self, strategy: str, prefix: str = "") -> set[str]:
        """The client_order_ids the strategy journaled before sending, those starting with
        ``prefix`` (case-sensitive)."""
        ...

    def refused_order_ids(self, strategy: str, prefix: str = "") -> set[str]:
        """The client_order_ids the broker refused at submit, those starting with ``prefix``."""
        ...

    def journal_entry(self, strategy: str, client_order_id: str) -> tuple[int, str] | None:
        """(event id, run id) of the first journal entry written for ``client_order_id``."""
        ...

    def equity_history(self, strategy: str | None = None) -> list[EquityRow]:
        """Equity snapshots in order, optionally of one strategy."""
        ...

    def close(self) -> None:
        """Release the journal (whoever opened it closes it)."""
        ...
