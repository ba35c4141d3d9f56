"""The small interfaces the cycle depends on; adapters implement them (simulated, Alpaca)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Protocol

import pandas as pd

from bot.domain import Account, AccountState, AssetInfo, OrderCosts, OrderReport, OrderRequest


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
