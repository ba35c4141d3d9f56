"""Value types shared by the core and the adapters: positions, accounts, orders, fills.

Money and quantities are ``Decimal`` here: this is the boundary where float signal maths becomes
something a broker will execute, so every conversion goes through :func:`to_decimal`, which
refuses NaN and infinities instead of letting them become an order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from enum import StrEnum

from bot import messages
from bot.errors import PlanningError

QTY_STEP = Decimal("0.000000001")  # Alpaca accepts at most 9 decimals of a share
CENT = Decimal("0.01")
MAX_ID_LENGTH = messages.MAX_ID_LENGTH


def to_decimal(value: float | int | str | Decimal, what: str) -> Decimal:
    """Convert a number to Decimal, refusing NaN and infinities with an error naming ``what``.

    Floats go through ``repr`` so 0.55 becomes Decimal("0.55"), not its binary expansion.
    """
    if isinstance(value, float) and not math.isfinite(value):
        msg = f"{what} is {value}: refusing to trade on a non-finite number"
        raise PlanningError(msg)
    # float() first: numpy floats are floats whose repr is 'np.float64(0.55)'.
    result = Decimal(repr(float(value))) if isinstance(value, float) else Decimal(value)
    if not result.is_finite():
        msg = f"{what} is {value}: refusing to trade on a non-finite number"
        raise PlanningError(msg)
    return result


def whole_units(value: Decimal, per_unit: int, what: str) -> int:
    """``value`` in whole units (``per_unit`` of them per dollar or share: 100 for cents), as
    the integer rules of ``bot.rules`` take it; a finer value is a configuration error."""
    units = value * per_unit
    if units != units.to_integral_value():
        msg = f"{what} is {value}: it must be a whole number of 1/{per_unit}"
        raise ValueError(msg)
    return int(units)


def to_micro(money: Decimal) -> int:
    """Dollars in whole micro-dollars (nearest, exact halves up): the unit in which ``bot.rules``
    takes money."""
    return int((money * 1_000_000).to_integral_value(ROUND_HALF_UP))


def floor_qty(qty: Decimal) -> Decimal:
    """Round a share quantity toward zero to Alpaca's 9-decimal precision."""
    return qty.quantize(QTY_STEP, rounding=ROUND_DOWN)


class Side(StrEnum):
    """Order side as the broker sees it."""

    BUY = "buy"
    SELL = "sell"


class Leg(StrEnum):
    """What an order does to a position; an order never crosses zero, so a flip is two legs."""

    REDUCE_LONG = "reduce"  # sell part or all of a long
    COVER_SHORT = "cover"  # buy back part or all of a short
    ADD_LONG = "buy"  # open or increase a long
    ADD_SHORT = "short"  # open or increase a short

    @property
    def reduces_exposure(self) -> bool:
        """True for the legs that go first: they free cash or buying power."""
        return self in (Leg.REDUCE_LONG, Leg.COVER_SHORT)

    @property
    def side(self) -> Side:
        """The broker side that performs this leg."""
        return Side.SELL if self in (Leg.REDUCE_LONG, Leg.ADD_SHORT) else Side.BUY


@dataclass(frozen=True, slots=True)
class Account:
    """What the broker says the account holds right now."""

    cash: Decimal
    equity: Decimal
    buying_power: Decimal
    positions: Mapping[str, Decimal] = field(default_factory=dict)  # symbol -> signed qty
    multiplier: Decimal = Decimal(1)  # margin: the gross exposure allowed per dollar of equity
    gross_exposure: Decimal | None = None  # long value + |short value|, when the broker says
    # The equity Alpaca's $2,000 rule for shorts looks at, when it is not this one's: a sleeve
    # of a shared account (bot.portfolio) shorts on the whole account's equity.
    account_equity: Decimal | None = None

    @property
    def shorting_equity(self) -> Decimal:
        """The equity the short-sale rule is checked against."""
        return self.equity if self.account_equity is None else self.account_equity


@dataclass(frozen=True, slots=True)
class AccountState:
    """The account's flags that decide whether it may trade at all (pre-trade checks)."""

    account_number: str
    status: str  # "ACTIVE" is the only status that trades
    trading_blocked: bool = False
    account_blocked: bool = False
    trade_suspended: bool = False
    shorting_enabled: bool = True
    live: bool = False


@dataclass(frozen=True, slots=True)
class AssetInfo:
    """What the broker allows for one symbol."""

    symbol: str
    tradable: bool = True
    fractionable: bool = True
    shortable: bool = True
    easy_to_borrow: bool = True
    active: bool = True


@dataclass(frozen=True, slots=True)
class OrderCosts:
    """How a broker values an order against buying power before it accepts it.

    Alpaca values a market buy by quantity at 2.5% above the price (4% under $50), a market
    short sale at 3% above, and a notional buy at its notional (ALPACA.md §7): a buy sized to the
    last dollar of a 1× account's cash is refused unless it is sent by notional or sized with the
    markup. The simulated broker checks at the fill price, so its model is :data:`EXACT_COSTS`.
    """

    buy_markup: Decimal = Decimal(0)
    low_price_buy_markup: Decimal = Decimal(0)
    low_price_below: Decimal = Decimal(0)
    short_markup: Decimal = Decimal(0)
    notional_buys: bool = False  # fractionable buys go out by notional (valued at the notional)
    extra_markup: Decimal = Decimal(0)  # added after a refusal: the broker values more than this

    def markup(self, leg: Leg, price: Decimal) -> Decimal:
        """The fraction above ``price`` at which an order by quantity is valued."""
        if leg is Leg.ADD_SHORT:
            return self.short_markup + self.extra_markup
        if leg.side is Side.BUY:
            low = price < self.low_price_below
            return (self.low_price_buy_markup if low else self.buy_markup) + self.extra_markup
        return Decimal(0)

    def widened(self, extra: Decimal) -> OrderCosts:
        """The same model with ``extra`` on top of every buy and short (notional ones too):
        how a re-sized order after a buying-power refusal is sized, since the broker evidently
        values the order above what this model said."""
        return replace(self, extra_markup=extra)


EXACT_COSTS = OrderCosts()
ALPACA_COSTS = OrderCosts(
    buy_markup=Decimal("0.025"),
    low_price_buy_markup=Decimal("0.04"),
    low_price_below=Decimal(50),
    short_markup=Decimal("0.03"),
    notional_buys=True,
)


@dataclass(frozen=True, slots=True)
class PlannedOrder:
    """A market order the planner wants, before it has an id."""

    symbol: str
    leg: Leg
    qty: Decimal  # always positive; the leg gives the direction
    price: Decimal  # the price the plan was sized at
    closes_position: bool = False
    by_notional: bool = False  # sent as a dollar amount (a fractionable buy on Alpaca)

    @property
    def side(self) -> Side:
        """The broker side."""
        return self.leg.side

    @property
    def notional(self) -> Decimal:
        """Approximate value at the planning price, to the cent."""
        return (self.qty * self.price).quantize(CENT)

    @property
    def send_notional(self) -> Decimal:
        """The dollar amount a by-notional order is sent for: its value, rounded down."""
        return (self.qty * self.price).quantize(CENT, rounding=ROUND_DOWN)

    def buying_power_cost(self, costs: OrderCosts) -> Decimal:
        """What the broker holds against buying power for this order while it is open."""
        if self.by_notional:
            return self.send_notional * (1 + costs.extra_markup)
        return self.qty * self.price * (1 + costs.markup(self.leg, self.price))


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A planned order with its deterministic client_order_id: what is journaled, then sent."""

    client_order_id: str
    symbol: str
    side: Side
    qty: Decimal  # the planned quantity; an estimate when the order is sent by notional
    leg: Leg
    notional: Decimal | None = None  # dollars, to the cent: a buy sent by value, not quantity


class OrderStatus(StrEnum):
    """Lifecycle of an order at the broker (a subset of Alpaca's)."""

    NEW = "new"
    ACCEPTED = "accepted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_final(self) -> bool:
        """True when the order can no longer change."""
        return self in (
            OrderStatus.FILLED,
            OrderStatus.CANCELED,
            OrderStatus.REJECTED,
            OrderStatus.EXPIRED,
        )


@dataclass(frozen=True, slots=True)
class OrderReport:
    """The broker's view of one order."""

    client_order_id: str
    symbol: str
    side: Side
    qty: Decimal
    status: OrderStatus
    filled_qty: Decimal = Decimal(0)
    filled_avg_price: Decimal | None = None
    fees: Decimal = Decimal(0)
    reason: str = ""


def client_order_id(strategy: str, rebalance_key: str, order: PlannedOrder) -> str:
    """Derive the order's id from its intent, so a retry or restart can never mint a new one.

    Form ``{strategy}-{key}-{symbol}-{leg}``; at most 48 characters (Alpaca's limit).
    """
    cid = messages.client_order_id(strategy, rebalance_key, order.symbol, order.leg.value)
    if len(cid) > MAX_ID_LENGTH:
        msg = f"client_order_id {cid!r} is longer than 48 characters: shorten the strategy name"
        raise PlanningError(msg)
    return cid
