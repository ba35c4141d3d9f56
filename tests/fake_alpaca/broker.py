"""The fake's account, market and order state, its accounting and its test controls (no HTTP).

Account kinds (``account_kind``, ALPACA.md §7):

- ``"margin"`` (the default): ``multiplier`` 2, shorting allowed. Below $2,000 of equity it is a
  1× account that cannot short: ``/v2/account`` then reports ``multiplier "1"`` and
  ``shorting_enabled false``, and buying power follows.
- ``"cash"``: multiplier 1, ``shorting_enabled false``, ``no_shorting true``, shorts refused.
- ``"ira"``: the same as cash for this model (no margin, no shorts). Settlement of sale proceeds
  (T+1) is not modelled: a documented gap.

Accounting model (documented gap: a simplification of Alpaca's Reg-T margin):

- ``equity = cash + Σ qty × price`` over positions (shorts have negative qty, so they subtract).
- ``gross exposure = Σ |qty| × price``.
- ``reserved = Σ cost of the unfilled part of open buys (covers included) and short sells``,
  valued at today's price by :meth:`FakeBroker.order_cost`. Sells of a long position reserve
  nothing and release buying power only when they fill (ALPACA.md §7); a canceled or expired
  order releases what it held.
- margin: ``buying_power = max(0, equity × multiplier − gross exposure − reserved)``, where the
  multiplier drops to 1 while equity is below $2,000; cash and IRA:
  ``buying_power = max(0, cash − reserved)``.
- ``price`` is the last ``set_price`` value, else the last ``set_bars`` close, else (for
  valuation only) the position's average entry price.

The market-buy collar (ALPACA.md §7, on by default; ``collar = False`` switches it off). Alpaca
values an order against buying power at a price above the market, not at the market:

==============================  ===========================================================
market buy by ``qty``           ``qty × price × (1 + collar_rate)``, 2.5%; when the price is
(``buy_to_open`` and covers)    below ``collar_low_price_below`` ($50),
                                ``qty × price × (1 + collar_low_price_rate)``, 4%
limit buy                       ``qty × limit_price``
short sell (``sell_to_open``)   market: ``qty × price × (1 + short_collar_rate)``, 3%;
                                limit: ``qty × max(limit_price, price × 1.03)``
notional buy                    ``notional × (1 + notional_collar_rate)``; the rate is 0 by
                                default: ALPACA.md finds no report of a collar on notional
                                buys, but none is promised, so a test may set one
==============================  ===========================================================

The fake has one price per symbol, so "the ask" is that price. With ``collar = False`` market
orders are valued at ``qty × price`` and limit short sells at ``qty × limit_price``. Fills are
at the price itself: the collar only decides what an order needs and reserves.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from fractions import Fraction
from typing import Literal, get_args

from . import execution
from .model import FakeAsset, FakeFill, FakeOrder, FakePosition, new_id
from .rules import SHORT_MIN_EQUITY, vet
from .tickets import parse_ticket
from .wire import NEW_YORK, failure, invalid

FillPolicy = Literal["immediate", "on_poll", "never"]
PartialFill = set[str] | Callable[[str], bool]
AccountKind = Literal["margin", "cash", "ira"]
ACCOUNT_KINDS: frozenset[str] = frozenset(get_args(AccountKind))

DEFAULT_NOW = datetime(2026, 9, 21, 10, 0, tzinfo=NEW_YORK)  # a Monday, market open


class FakeBroker:
    """State and rules of one fake Alpaca paper account; thread-safe through ``lock``.

    ``account_kind`` is ``"margin"`` (default), ``"cash"`` or ``"ira"``. ``multiplier`` defaults
    to 2 on a margin account and must be 1 otherwise; ``shorting_enabled`` defaults to True on a
    margin account and must be False otherwise. The collar attributes (``collar``,
    ``collar_rate``, ``collar_low_price_rate``, ``collar_low_price_below``,
    ``short_collar_rate``, ``notional_collar_rate``) may be changed at any time; see the module
    docstring.
    """

    def __init__(
        self,
        *,
        cash: Decimal = Decimal("100000"),
        multiplier: Decimal | None = None,
        shorting_enabled: bool | None = None,
        account_kind: AccountKind = "margin",
    ) -> None:
        if account_kind not in ACCOUNT_KINDS:
            msg = f"unknown account_kind {account_kind!r}; one of {sorted(ACCOUNT_KINDS)}"
            raise ValueError(msg)
        margin = account_kind == "margin"
        multiplier = (Decimal(2) if margin else Decimal(1)) if multiplier is None else multiplier
        shorting_enabled = margin if shorting_enabled is None else shorting_enabled
        if not margin and (multiplier != 1 or shorting_enabled):
            msg = f"a {account_kind} account has multiplier 1 and cannot short"
            raise ValueError(msg)
        self.lock = threading.RLock()
        self.account_kind: AccountKind = account_kind
        self.cash = cash
        self.multiplier = Decimal(multiplier)
        self.shorting_enabled = shorting_enabled
        self.no_shorting = not margin
        self.account_status = "ACTIVE"
        self.trading_blocked = False
        self.account_blocked = False
        self.trade_suspended_by_user = False
        self.fill_policy: FillPolicy = "immediate"
        self.fill_after_polls = 1
        self.partial_fill: PartialFill = set()
        self.collar = True
        self.collar_rate = Decimal("0.025")
        self.collar_low_price_rate = Decimal("0.04")
        self.collar_low_price_below = Decimal(50)
        self.short_collar_rate = Decimal("0.03")
        # Undocumented either way (ALPACA.md §7): 0 values a notional buy at its notional; a test
        # may set a rate to play an Alpaca that collars notional buys too.
        self.notional_collar_rate = Decimal(0)
        self.max_page_size: int | None = None
        self.sip_delay: timedelta | None = timedelta(minutes=15)  # None: a paid data plan
        self.now = DEFAULT_NOW
        self._assets: dict[str, FakeAsset] = {}
        self._prices: dict[str, Decimal] = {}
        self._bars: dict[str, dict[date, float]] = {}
        self._positions: dict[str, FakePosition] = {}
        self._orders: dict[str, FakeOrder] = {}
        self._by_client_id: dict[str, str] = {}
        self._refused_ids: set[str] = set()  # refused at POST: taken too (ALPACA.md §7)
        self._fills: list[FakeFill] = []
        self.unadjusted_bars = False  # True: raw bars whatever `adjustment` asks (#780)
        self._splits: list[FakeSplit] = []

    # ----------------------------------------------------------------- market state (tests)

    def add_asset(
        self,
        symbol: str,
        *,
        tradable: bool = True,
        shortable: bool = True,
        easy_to_borrow: bool = True,
        fractionable: bool = True,
        status: str = "active",
        exchange: str = "ARCA",
    ) -> None:
        """Create or replace an asset (its id is kept when replacing)."""
        with self.lock:
            old = self._assets.get(symbol)
            asset = FakeAsset(
                symbol, tradable, shortable, easy_to_borrow, fractionable, status, exchange
            )
            self._assets[symbol] = asset if old is None else replace(asset, id=old.id)

    def set_bars(self, symbol: str, closes: Mapping[date, float]) -> None:
        """Replace ``symbol``'s daily bars: o=h=l=c=close, v=1000, n=10, vw=close."""
        with self.lock:
            self._bars[symbol] = dict(sorted(closes.items()))

    def set_price(self, symbol: str, price: Decimal) -> None:
        """Set the latest trade price; market orders fill at it."""
        with self.lock:
            self._prices[symbol] = Decimal(str(price))

    def set_clock(self, now: datetime) -> None:
        """Move the fake's clock (aware datetimes only) and let open orders react to it."""
        if now.tzinfo is None:
            msg = "set_clock needs an aware datetime"
            raise ValueError(msg)
        with self.lock:
            self.now = now
            for order in self.open_orders():
                execution.advance(self, order, poll=False)

    def set_position(self, symbol: str, qty: Decimal, avg_price: Decimal | None = None) -> None:
        """Create, replace or (qty 0) remove a position, as if traded outside the bot.

        An unknown symbol gets a default asset. ``avg_price`` defaults to the current price.
        """
        with self.lock:
            if symbol not in self._assets:
                self.add_asset(symbol)
            if qty == 0:
                self._positions.pop(symbol, None)
                return
            price = self.price_or_none(symbol) if avg_price is None else avg_price
            if price is None:
                msg = f"set_position({symbol!r}) needs avg_price or a price set first"
                raise ValueError(msg)
            self._positions[symbol] = FakePosition(symbol, Decimal(qty), Decimal(price))

    def split(self, symbol: str, ratio: Fraction | Decimal | int | str, day: date) -> None:
        """A split of ``symbol`` effective at the open of ``day``; ``ratio`` is new shares per
        old share (``Fraction(1, 10)`` for a 1-for-10 reverse split, ``2`` for a 2-for-1).

        As a broker books it overnight: the position's qty × ratio (to the 9-decimal step,
        toward zero) and its average entry price ÷ ratio; the latest price (``set_price``) ÷
        ratio, so equity does not move; cash untouched. Stored bars stay as traded (raw): bars
        for ``day`` and later must be at the new price level. A bars request with
        ``adjustment=split`` or ``all`` gets the closes before ``day`` ÷ ratio, unless
        ``unadjusted_bars`` is set (alpaca-py#780: Alpaca sometimes ignores the adjustment).
        The split is listed at ``GET /v2/account/activities/SPLIT``.
        """
        factor = Fraction(ratio)
        if factor <= 0:
            msg = f"a split ratio must be positive, not {ratio}"
            raise ValueError(msg)
        with self.lock:
            position = self._positions.get(symbol)
            if position is not None:
                qty = position.qty * factor.numerator / factor.denominator
                self._positions[symbol] = FakePosition(
                    symbol,
                    qty.quantize(Decimal("0.000000001"), ROUND_DOWN),
                    position.avg_entry_price * factor.denominator / factor.numerator,
                )
            if symbol in self._prices:
                price = self._prices[symbol] * factor.denominator / factor.numerator
                self._prices[symbol] = price.quantize(Decimal("0.0001"))
            held = self._positions.get(symbol)
            qty_after = Decimal(0) if held is None else held.qty
            activity_id = f"{day:%Y%m%d}000000000::{new_id()}"
            self._splits.append(FakeSplit(symbol, factor, day, qty_after, activity_id))

    # ----------------------------------------------------------------------- reads (tests)

    @property
    def positions(self) -> dict[str, FakePosition]:
        """Copies of the open positions by symbol."""
        with self.lock:
            return {s: replace(p) for s, p in self._positions.items()}

    @property
    def orders(self) -> list[FakeOrder]:
        """Copies of every order ever accepted, oldest first."""
        with self.lock:
            return [replace(o) for o in self._orders.values()]

    @property
    def fills(self) -> list[FakeFill]:
        """Every execution, oldest first."""
        with self.lock:
            return list(self._fills)

    def order_by_client_id(self, client_order_id: str) -> FakeOrder | None:
        """A copy of the order with this client order id, if any."""
        with self.lock:
            order_id = self._by_client_id.get(client_order_id)
            return None if order_id is None else replace(self._orders[order_id])

    # --------------------------------------------------------------------------- controls

    def fill_open_orders(self) -> None:
        """Fill every open order now at current prices, whatever the clock and fill policy.

        Limit orders fill only if marketable at the current price.
        """
        with self.lock:
            for order in self.open_orders():
                execution.fill_now(self, order)

    # ------------------------------------------------------------------ used by the routes

    def asset(self, symbol: str) -> FakeAsset | None:
        """The asset, or ``None``."""
        return self._assets.get(symbol)

    def asset_by_key(self, key: str) -> FakeAsset | None:
        """The asset with this symbol or asset id, or ``None``."""
        found = self._assets.get(key)
        return found or next((a for a in self._assets.values() if a.id == key), None)

    def require_asset(self, symbol: str) -> FakeAsset:
        """The asset, or 404 ``asset not found``."""
        asset = self._assets.get(symbol)
        if asset is None:
            raise failure(404, 40410000, "asset not found")
        return asset

    def bars_of(self, symbol: str, adjustment: str = "raw") -> dict[date, float]:
        """``symbol``'s daily closes by date (empty if none); with ``adjustment`` ``split`` or
        ``all``, restated for the splits after each day (unless ``unadjusted_bars``)."""
        bars = self._bars.get(symbol, {})
        splits = [s for s in self._splits if s.symbol == symbol]
        if adjustment not in {"split", "all"} or self.unadjusted_bars or not splits:
            return bars
        adjusted = {}
        for day, close in bars.items():
            factor = Fraction(1)
            for split in splits:
                if day < split.day:
                    factor /= split.ratio
            adjusted[day] = close * float(factor)
        return adjusted

    def split_activities(self) -> list[FakeSplit]:
        """Every split applied with :meth:`split`, oldest first."""
        return list(self._splits)

    def find_order(self, order_id: str) -> FakeOrder | None:
        """The live order record (not a copy)."""
        return self._orders.get(order_id)

    def find_by_client_id(self, client_order_id: str) -> FakeOrder | None:
        """The live order record for a client order id (not a copy)."""
        order_id = self._by_client_id.get(client_order_id)
        return None if order_id is None else self._orders[order_id]

    def all_orders(self) -> list[FakeOrder]:
        """Live order records, oldest first."""
        return list(self._orders.values())

    def open_orders(self, symbol: str | None = None) -> list[FakeOrder]:
        """Live open orders, optionally for one symbol."""
        return [o for o in self._orders.values() if o.is_open and symbol in (None, o.symbol)]

    def positions_by_symbol(self) -> dict[str, FakePosition]:
        """Live positions by symbol."""
        return self._positions

    def position_list(self) -> list[FakePosition]:
        """Live positions sorted by symbol."""
        return [self._positions[s] for s in sorted(self._positions)]

    def submit(self, body: object) -> FakeOrder:
        """``POST /v2/orders``: validate, vet, store, then let the fill policy act."""
        ticket = parse_ticket(body)
        cid = ticket.client_order_id
        if cid in self._by_client_id or cid in self._refused_ids:
            raise invalid("client_order_id must be unique")
        try:
            intent = vet(self, ticket)
        except Exception:
            if cid:
                self._refused_ids.add(cid)  # any reuse, a rejected order's id included: 422
            raise
        order = execution.create_order(self, ticket, intent)
        self._orders[order.id] = order
        self._by_client_id[order.client_order_id] = order.id
        execution.advance(self, order, poll=False)
        return order

    def observe(self, orders: Iterable[FakeOrder]) -> None:
        """A client polled these orders: poll-driven fill steps happen now."""
        for order in list(orders):
            execution.advance(self, order, poll=True)

    def cancel(self, order_id: str) -> None:
        """Cancel one order (404 unknown, 422 not open)."""
        execution.cancel(self, order_id)

    def wants_partial(self, symbol: str) -> bool:
        """Does the ``partial_fill`` setting cover ``symbol``?"""
        rule = self.partial_fill
        return rule(symbol) if callable(rule) else symbol in rule

    def apply_trade(self, symbol: str, signed_qty: Decimal, price: Decimal) -> None:
        """Book an execution: cash and position (average price on increases only)."""
        self.cash -= signed_qty * price
        old = self._positions.get(symbol)
        old_qty = old.qty if old else Decimal(0)
        new_qty = old_qty + signed_qty
        if new_qty == 0:
            self._positions.pop(symbol, None)
            return
        self._positions[symbol] = FakePosition(
            symbol, new_qty, _new_average(old, new_qty, signed_qty, price)
        )

    def record_fill(self, fill: FakeFill) -> None:
        """Append an execution to the fill log."""
        self._fills.append(fill)

    # ------------------------------------------------------------------------- accounting

    def price_of(self, symbol: str) -> Decimal:
        """Latest price: ``set_price``, else the last bar close; 500 if neither was set."""
        price = self.price_or_none(symbol)
        if price is None:
            msg = f"fake has no price for {symbol}: call set_price or set_bars"
            raise failure(500, 50010000, msg)
        return price

    def price_or_none(self, symbol: str) -> Decimal | None:
        """Latest price, or ``None`` if the test set neither a price nor bars."""
        if symbol in self._prices:
            return self._prices[symbol]
        bars = self._bars.get(symbol)
        return Decimal(str(bars[max(bars)])) if bars else None

    def mark(self, position: FakePosition) -> Decimal:
        """Valuation price of a position (falls back to its average entry price)."""
        price = self.price_or_none(position.symbol)
        return position.avg_entry_price if price is None else price

    def position_qty(self, symbol: str) -> Decimal:
        """Signed position quantity (0 when flat)."""
        position = self._positions.get(symbol)
        return position.qty if position else Decimal(0)

    def held_for_orders(self, symbol: str) -> Decimal:
        """Signed quantity held by open closing orders (negative for a short)."""
        position = self._positions.get(symbol)
        if position is None:
            return Decimal(0)
        price = self.mark(position)
        held = sum(
            (o.remaining_qty(price) for o in self.open_orders(symbol) if o.closes), Decimal(0)
        )
        return held if position.qty > 0 else -held

    def qty_available(self, symbol: str) -> Decimal:
        """``qty − held_for_orders``, signed like the position."""
        return self.position_qty(symbol) - self.held_for_orders(symbol)

    def market_value(self, position: FakePosition) -> Decimal:
        """Signed market value of a position."""
        return position.qty * self.mark(position)

    def equity(self) -> Decimal:
        """Cash plus signed market value of all positions."""
        return self.cash + sum((self.market_value(p) for p in self._positions.values()), Decimal(0))

    def gross_exposure(self) -> Decimal:
        """Σ |market value|."""
        return sum((abs(self.market_value(p)) for p in self._positions.values()), Decimal(0))

    def order_cost(
        self,
        *,
        intent: str,
        order_type: str,
        qty: Decimal | None,
        notional: Decimal | None,
        limit_price: Decimal | None,
        price: Decimal,
    ) -> Decimal:
        """Buying power a buy or short sell needs, collar included (see the module docstring)."""
        if notional is not None:
            return notional * (1 + self.notional_collar_rate) if self.collar else notional
        assert qty is not None
        if intent == "sell_to_open":
            floor = self.short_collar_price(price)
            if order_type == "limit" and limit_price is not None:
                return qty * (max(limit_price, floor) if self.collar else limit_price)
            return qty * floor
        if order_type == "limit" and limit_price is not None:
            return qty * limit_price
        return qty * self.market_buy_price(price)

    def market_buy_price(self, price: Decimal) -> Decimal:
        """The price a market buy by quantity is valued at: 2.5% above, 4% under $50."""
        if not self.collar:
            return price
        low = price < self.collar_low_price_below
        return price * (1 + (self.collar_low_price_rate if low else self.collar_rate))

    def short_collar_price(self, price: Decimal) -> Decimal:
        """The least price a short sell is valued at: ``price × 1.03`` (the ask, in Alpaca)."""
        return price * (1 + self.short_collar_rate) if self.collar else price

    def reserved(self) -> Decimal:
        """Buying power held by the unfilled part of open buys and short sells."""
        total = Decimal(0)
        for order in self.open_orders():
            if order.consumes_buying_power:
                total += self._unfilled_cost(order)
        return total

    def _unfilled_cost(self, order: FakeOrder) -> Decimal:
        price = self.price_of(order.symbol)
        notional = None if order.notional is None else order.notional - order.filled_value
        qty = None if order.qty is None else order.qty - order.filled_qty
        return self.order_cost(
            intent=order.position_intent,
            order_type=order.type,
            qty=qty,
            notional=notional,
            limit_price=order.limit_price,
            price=price,
        )

    @property
    def is_margin(self) -> bool:
        """A margin account (as opposed to cash or IRA)."""
        return self.account_kind == "margin"

    def effective_multiplier(self) -> Decimal:
        """The configured multiplier on a margin account of at least $2,000 equity, else 1."""
        if self.is_margin and self.equity() >= SHORT_MIN_EQUITY:
            return self.multiplier
        return Decimal(1)

    def buying_power(self) -> Decimal:
        """margin: ``equity × multiplier − gross − reserved``; cash, IRA: ``cash − reserved``."""
        if self.is_margin:
            room = self.equity() * self.effective_multiplier() - self.gross_exposure()
        else:
            room = self.cash
        return max(Decimal(0), room - self.reserved())

    def shorting_allowed(self) -> bool:
        """What ``shorting_enabled`` reports: a margin account, the flag, equity of $2,000+."""
        return self.is_margin and self.shorting_enabled and self.equity() >= SHORT_MIN_EQUITY


@dataclass(frozen=True)
class FakeSplit:
    """A split applied by :meth:`FakeBroker.split`: new shares per old share, from ``day``."""

    symbol: str
    ratio: Fraction
    day: date
    qty_after: Decimal
    id: str

    def activity_json(self) -> dict[str, object]:
        """A SPLIT non-trade activity, in the documented NTA shape (ALPACA.md §5.6). Alpaca does
        not document a SPLIT's fields; here ``qty`` is the position after the split and
        ``per_share_amount`` the new shares per old share (an assumption of the fake)."""
        return {
            "id": self.id,
            "activity_type": "SPLIT",
            "date": self.day.isoformat(),
            "net_amount": "0",
            "symbol": self.symbol,
            "qty": str(self.qty_after),
            "per_share_amount": str(Decimal(self.ratio.numerator) / self.ratio.denominator),
            "description": f"{self.ratio.numerator}-for-{self.ratio.denominator} split",
            "status": "executed",
        }


def _new_average(
    old: FakePosition | None, new_qty: Decimal, signed_qty: Decimal, price: Decimal
) -> Decimal:
    if old is None or (old.qty > 0) != (new_qty > 0):
        return price  # opened, or crossed zero
    if abs(new_qty) < abs(old.qty):
        return old.avg_entry_price  # reducing keeps the entry price
    return (abs(old.qty) * old.avg_entry_price + abs(signed_qty) * price) / abs(new_qty)
