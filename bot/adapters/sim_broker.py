"""The simulated broker: same port as Alpaca, fills market orders at the current bar's close.

It enforces the rules Alpaca enforces that a planner could violate (a used client_order_id, an
order that crosses zero, a fractional short, a sell beyond what is held, insufficient buying
power), so a plan that passes here is not silently wrong there. Its book (cash, positions, every
order) is persisted atomically in the state directory after each change.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_CEILING, ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from bot import messages, rules
from bot.domain import (
    CENT,
    EXACT_COSTS,
    Account,
    AccountState,
    AssetInfo,
    Leg,
    OrderCosts,
    OrderReport,
    OrderRequest,
    OrderStatus,
    Side,
    to_micro,
    whole_units,
)
from bot.errors import DuplicateOrderError, StateError
from bot.ports import Clock

NEW_YORK = ZoneInfo("America/New_York")
ZERO = Decimal(0)
PRICE_STEP = Decimal("0.000001")
QTY_STEP = Decimal("0.000000001")  # a split's result is kept to Alpaca's step


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """Regulatory fees on sells (the SEC fee, FINRA TAF), each rounded up to the cent per order
    (``rules.sell_fees_cents``, the fast backtester's arithmetic too). Rates are whole units, as
    the SEC and FINRA publish them: cents per million dollars, millionths of a dollar a share."""

    sec_per_million: Decimal = Decimal("27.80")
    taf_per_share: Decimal = Decimal("0.000166")
    taf_cap: Decimal = Decimal("8.30")

    def __post_init__(self) -> None:
        for value in (self.sec_cents_per_million, self.taf_micro_per_share, self.taf_cap_cents):
            if value < 0:
                msg = f"fees cannot be negative: {self}"
                raise ValueError(msg)

    @property
    def sec_cents_per_million(self) -> int:
        """The SEC fee in cents per million dollars sold."""
        return whole_units(self.sec_per_million, 100, "the SEC fee per million")

    @property
    def taf_micro_per_share(self) -> int:
        """The TAF in millionths of a dollar per share sold."""
        return whole_units(self.taf_per_share, rules.MICRO, "the TAF per share")

    @property
    def taf_cap_cents(self) -> int:
        """The TAF's cap per trade, in cents."""
        return whole_units(self.taf_cap, 100, "the TAF cap")

    def on_sell(self, qty: Decimal, notional: Decimal) -> Decimal:
        """Fees for one sell of ``qty`` shares worth ``notional``: the notional is taken to the
        micro-dollar (half up) and the quantity to the nano-share (up), the rules' units."""
        nano = int((qty * rules.NANO).to_integral_value(ROUND_CEILING))
        micro = to_micro(notional)
        cents = rules.sell_fees_cents(
            nano, micro, self.sec_cents_per_million, self.taf_micro_per_share, self.taf_cap_cents
        )
        return Decimal(cents) / 100


LEGACY_FEES = FeeSchedule(Decimal("5.10"), Decimal("0.000119"), Decimal("5.95"))
NO_FEES = FeeSchedule(ZERO, ZERO, ZERO)
FEE_SCHEDULES = {"current": FeeSchedule(), "legacy": LEGACY_FEES, "none": NO_FEES}


class CloseTable:
    """Prices for the simulated broker: the close of the clock's current session.

    Columns are turned into numpy arrays once, so each lookup is a binary search, not a scan.
    The row and the prices already turned into ``Decimal`` are kept for the clock's current
    moment: a cycle values the book and every order at the same closes dozens of times, and a
    backtest runs thousands of cycles. They are found again as soon as the clock reads another
    time, so a moved clock never sees a stale price.
    """

    def __init__(self, closes: pd.DataFrame, clock: Clock) -> None:
        ordered = closes.sort_index()
        self._clock = clock
        self._days = ordered.index.to_numpy(dtype="datetime64[D]")
        self._exact = {str(s): ordered[s].to_numpy(dtype=float) for s in ordered.columns}
        self._marks = {str(s): ordered[s].ffill().to_numpy(dtype=float) for s in ordered.columns}
        self._now: datetime | None = None  # the clock's reading the cache below is for
        self._row = -1  # the last row on or before that moment's date (-1: none)
        self._on_row = False  # whether that row is the moment's date itself
        self._cache: dict[tuple[str, bool], Decimal | None] = {}

    def known(self, symbol: str) -> bool:
        """True if the table has a column for ``symbol``."""
        return symbol in self._exact

    def now(self) -> datetime:
        """The clock's reading: the moment whose closes ``price`` gives."""
        return self._clock.now()

    def today(self) -> date:
        """The clock's date in New York."""
        return self._clock.now().astimezone(NEW_YORK).date()

    def price(self, symbol: str, exact: bool) -> Decimal | None:
        """Today's close (``exact``), or the last close on or before today; None if unusable."""
        now = self._clock.now()
        if now != self._now:
            self._move_to(now)
        key = (symbol, exact)
        try:
            return self._cache[key]
        except KeyError:
            found = self._cache[key] = self._lookup(symbol, exact)
            return found

    def _move_to(self, now: datetime) -> None:
        today = np.datetime64(now.astimezone(NEW_YORK).date(), "D")
        self._row = int(np.searchsorted(self._days, today, side="right")) - 1
        self._on_row = self._row >= 0 and bool(self._days[self._row] == today)
        self._cache = {}
        self._now = now

    def _lookup(self, symbol: str, exact: bool) -> Decimal | None:
        if symbol not in self._exact or self._row < 0 or (exact and not self._on_row):
            return None
        value = float((self._exact if exact else self._marks)[symbol][self._row])
        return Decimal(repr(value)) if math.isfinite(value) and value > 0 else None


class SimulatedBroker:
    """An in-process broker with market orders only, filled immediately at today's close.

    Its book is an append-only JSON-lines file: one line per order with the cash and positions
    after it, so a restart replays it and every used client_order_id stays used.
    """

    def __init__(
        self,
        prices: CloseTable,
        initial_cash: Decimal,
        *,
        slippage_bps: Decimal = Decimal(1),
        fees: FeeSchedule = FeeSchedule(),
        margin_multiplier: Decimal = Decimal(1),
        book_path: Path | None = None,
        round_cents: bool = True,
    ) -> None:
        self._prices = prices
        self._round = round_cents
        self._slippage = slippage_bps / Decimal(10_000)
        self._fees = fees
        self._margin = margin_multiplier
        self._path = book_path
        self._cash = initial_cash
        self._positions: dict[str, Decimal] = {}
        self._orders: dict[str, OrderReport] = {}
        self._valued_at: tuple[object, ...] = ()  # what ``_valuation`` was computed from
        self._valuation = (ZERO, ZERO, ZERO)  # equity, buying power, gross exposure
        if book_path is not None and book_path.exists():
            self._load(book_path)

    def account(self) -> Account:
        """Cash, equity and buying power at the latest closes.

        The valuation is kept with what it was computed from (the clock's reading, cash, every
        position): a cycle reads the account again and again between orders, and most reads
        find the book and the closes unchanged."""
        basis = (self._prices.now(), self._cash, tuple(self._positions.items()))
        if basis != self._valued_at:
            values = {s: q * self._mark(s) for s, q in self._positions.items()}
            equity = self._cents(self._cash + sum(values.values(), ZERO))
            gross = sum((abs(v) for v in values.values()), ZERO)
            self._valuation = (equity, max(ZERO, equity * self._margin - gross), gross)
            self._valued_at = basis
        equity, buying_power, gross = self._valuation
        return Account(self._cash, equity, buying_power, dict(self._positions), self._margin, gross)

    def financing_base(self) -> tuple[Decimal, Decimal]:
        """(short market value, gross exposure above equity) at the latest closes: what a
        broker charges borrow fees and margin interest on."""
        values = {s: q * self._mark(s) for s, q in self._positions.items()}
        shorts = -sum((v for v in values.values() if v < 0), ZERO)
        gross = sum((abs(v) for v in values.values()), ZERO)
        equity = self._cash + sum(values.values(), ZERO)
        return shorts, max(gross - equity, ZERO)

    def charge(self, amount: Decimal, why: str) -> None:
        """Take a financing charge (borrow fee, margin interest) from cash, and book it."""
        self._cash -= amount
        self._append(
            {
                "cash": str(self._cash),
                "positions": self._book_positions(),
                "charge": {"amount": str(amount), "why": why},
            }
        )

    def split(self, symbol: str, new: int, old: int) -> None:
        """Apply a ``new``-for-``old`` split (1-for-10 reverse: ``split(s, 1, 10)``) to the book:
        the quantity times ``new/old`` (to the 9-decimal step, toward zero), cash untouched, as a
        broker does overnight. The close table is not touched: it holds the prices as traded,
        which change level on the split day. Booked, so a restart replays it."""
        if new <= 0 or old <= 0:
            msg = f"a split needs positive share counts, not {new}-for-{old}"
            raise ValueError(msg)
        held = self._positions.get(symbol)
        if held is None:
            return  # nothing held, nothing to split
        before = dict(self._positions)
        self._positions[symbol] = (held * new / old).quantize(QTY_STEP, ROUND_DOWN)
        try:
            self._append(
                {
                    "cash": str(self._cash),
                    "positions": self._book_positions(),
                    "split": {"symbol": symbol, "new": new, "old": old},
                }
            )
        except StateError:
            self._positions = before  # unsaved means it did not happen
            raise

    def _cents(self, value: Decimal) -> Decimal:
        """Money to the cent, as a broker books it; backtests may keep full precision."""
        return value.quantize(CENT) if self._round else value

    def get_order(self, client_order_id: str) -> OrderReport | None:
        """The order with this id, if it was ever submitted."""
        return self._orders.get(client_order_id)

    def account_state(self) -> AccountState:
        """A simulated account is always active and may short."""
        return AccountState("SIMULATED", "ACTIVE")

    def assets(self, symbols: Iterable[str]) -> dict[str, AssetInfo]:
        """Every symbol with prices is a tradable, fractionable, shortable asset."""
        return {s: AssetInfo(s) for s in symbols if self._prices.known(s)}

    def open_orders(self) -> list[OrderReport]:
        """Market orders fill or reject at once, so nothing is ever open."""
        return []

    def cancel(self, client_order_id: str) -> None:
        """Nothing is ever open, so there is nothing to cancel."""

    @property
    def order_costs(self) -> OrderCosts:
        """Orders are checked at the fill price (slippage is the planner's headroom)."""
        return EXACT_COSTS

    def market_open(self) -> bool:
        """The simulated market fills at the session's close whenever the cycle runs."""
        return True

    def submit(self, order: OrderRequest) -> OrderReport:
        """Fill (or reject) a market order at today's close, with slippage and sell fees."""
        if order.client_order_id in self._orders:
            msg = f"client_order_id {order.client_order_id} was already used (422 40010001)"
            raise DuplicateOrderError(msg)
        before = (self._cash, dict(self._positions), dict(self._orders))
        reason = self._rejection(order)
        report = self._reject(order, reason) if reason else self._fill(order)
        self._orders[order.client_order_id] = report
        try:
            self._save(report)
        except StateError:
            # Unsaved means it did not happen: memory must not run ahead of the book on disk.
            self._cash, self._positions, self._orders = before
            raise
        return report

    def _mark(self, symbol: str) -> Decimal:
        price = self._prices.price(symbol, exact=False)
        if price is None:
            msg = f"simulated broker has no price to value {symbol}"
            raise StateError(msg)
        return price

    def _rejection(self, order: OrderRequest) -> str:
        held = self._positions.get(order.symbol, ZERO)
        price = self._prices.price(order.symbol, exact=True)
        signed = order.qty if order.side is Side.BUY else -order.qty
        rules = [
            (order.qty <= 0, "quantity must be positive"),
            (price is None, f"no price for {order.symbol} on {self._prices.today()}"),
            (held > 0 > held + signed or held < 0 < held + signed, "order would cross zero"),
            (order.leg is Leg.REDUCE_LONG and order.qty > held, "sell exceeds the long held"),
            (order.leg is Leg.COVER_SHORT and order.qty > -held, "cover exceeds the short held"),
            (order.leg is Leg.ADD_LONG and held < 0, "cannot add to a long while short"),
            (order.leg is Leg.ADD_SHORT and held > 0, "cannot open a short while long"),
            (
                order.leg is Leg.ADD_SHORT and order.qty != order.qty.to_integral_value(),
                "fractional orders cannot be sold short",
            ),
        ]
        for failed, why in rules:
            if failed:
                return why
        if order.leg in (Leg.ADD_LONG, Leg.ADD_SHORT) and price is not None:
            needed = order.qty * price * (1 + self._slippage)
            if needed > self.account().buying_power:
                return messages.INSUFFICIENT_BUYING_POWER
        return ""

    def _reject(self, order: OrderRequest, reason: str) -> OrderReport:
        return OrderReport(
            order.client_order_id,
            order.symbol,
            order.side,
            order.qty,
            OrderStatus.REJECTED,
            reason=reason,
        )

    def _fill(self, order: OrderRequest) -> OrderReport:
        close = self._prices.price(order.symbol, exact=True)
        assert close is not None  # checked by _rejection
        direction = 1 if order.side is Side.BUY else -1
        price = rules.fill_price(close, self._slippage, order.side is Side.SELL)
        if self._round:
            price = price.quantize(PRICE_STEP)
        notional = self._cents(order.qty * price)
        fees = self._fees.on_sell(order.qty, notional) if order.side is Side.SELL else ZERO
        self._cash -= direction * notional + fees
        new_qty = self._positions.get(order.symbol, ZERO) + direction * order.qty
        if new_qty == 0:
            self._positions.pop(order.symbol, None)
        else:
            self._positions[order.symbol] = new_qty
        return OrderReport(
            order.client_order_id,
            order.symbol,
            order.side,
            order.qty,
            OrderStatus.FILLED,
            filled_qty=order.qty,
            filled_avg_price=price,
            fees=fees,
        )

    def _save(self, report: OrderReport) -> None:
        """Append one line (the order and the book after it) and fsync: O(1) per order."""
        self._append(
            {
                "cash": str(self._cash),
                "positions": self._book_positions(),
                "order": {"client_order_id": report.client_order_id, **_report_to_json(report)},
            }
        )

    def _book_positions(self) -> dict[str, str]:
        return {s: str(q) for s, q in self._positions.items()}

    def _append(self, line: dict[str, Any]) -> None:
        if self._path is None:
            return
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            with self._path.open("a") as handle:
                handle.write(json.dumps(line) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            msg = f"cannot save the simulated broker's book to {self._path}: {exc}"
            raise StateError(msg) from exc

    def _load(self, path: Path) -> None:
        """Replay the book: the last line holds cash and positions, every line one order."""
        line_no = 0
        try:
            for line_no, text in enumerate(path.read_text().splitlines(), start=1):  # noqa: B007
                line = json.loads(text)
                self._cash = Decimal(line["cash"])
                self._positions = {s: Decimal(q) for s, q in line["positions"].items()}
                if "charge" in line or "split" in line:  # cash or quantities only, no order
                    continue
                order = line["order"]
                self._orders[order["client_order_id"]] = _report_from_json(
                    order["client_order_id"], order
                )
        except (OSError, ValueError, KeyError, TypeError, AttributeError, ArithmeticError) as exc:
            msg = f"the simulated broker's book {path} is unreadable (line {line_no}): {exc!r}"
            raise StateError(msg) from exc
        if not self._cash.is_finite() or not all(q.is_finite() for q in self._positions.values()):
            msg = f"the simulated broker's book {path} holds a non-finite cash or quantity"
            raise StateError(msg)


def _report_to_json(report: OrderReport) -> dict[str, Any]:
    return {
        "symbol": report.symbol,
        "side": report.side.value,
        "qty": str(report.qty),
        "status": report.status.value,
        "filled_qty": str(report.filled_qty),
        "price": None if report.filled_avg_price is None else str(report.filled_avg_price),
        "fees": str(report.fees),
        "reason": report.reason,
    }


def _report_from_json(cid: str, row: dict[str, Any]) -> OrderReport:
    price = row["price"]
    return OrderReport(
        cid,
        row["symbol"],
        Side(row["side"]),
        Decimal(row["qty"]),
        OrderStatus(row["status"]),
        filled_qty=Decimal(row["filled_qty"]),
        filled_avg_price=None if price is None else Decimal(price),
        fees=Decimal(row["fees"]),
        reason=row["reason"],
    )
