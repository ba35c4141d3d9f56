"""Order planning: targets + account + prices -> market orders. Pure; no I/O, no clock.

The planner owns the arithmetic a careless rebalancer gets wrong:

* a strategy may own only a sleeve of the account (``capital_fraction``); it sizes against that
  sleeve and never touches a symbol outside its universe;
* an order never crosses zero: long -> short is a close leg then an open leg;
* shorts are whole shares, rounded toward the smaller short (Alpaca refuses fractional shorts);
* long quantities are floored to 9 decimals (whole shares if the asset is not fractionable);
* orders that reduce exposure come first, because they free the cash the others spend;
* if the buys would need more than the buying power left after the sells, they are scaled down,
  valuing each as the broker does (``OrderCosts``: Alpaca's collar on market buys by quantity);
* on a broker that values notional buys at their notional, fractionable buys go out by notional,
  so the last buy of a rebalance from cash fits the cash that is left.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import ROUND_DOWN, Decimal

from bot import messages
from bot.domain import (
    EXACT_COSTS,
    Account,
    Leg,
    OrderCosts,
    PlannedOrder,
    Side,
    to_decimal,
    to_micro,
)
from bot.errors import PlanningError
from bot.rules import NANO as NANO_PER_SHARE
from bot.rules import (
    add_long,
    add_short,
    buys_scale,
    capacity,
    cover_short,
    investable,
    position_target,
    reaches_minimum,
    reduce_long,
    send_order,
)

ZERO = Decimal(0)
NANO = Decimal(NANO_PER_SHARE)
ROUNDING_SLACK = Decimal("1e-9")  # targets scaled through a float land a hair above capacity


@dataclass(frozen=True, slots=True)
class PlannerRules:
    """How a strategy's orders are sized; all settings of the strategy's config file."""

    capital_fraction: Decimal = Decimal(1)
    cash_buffer: Decimal = Decimal("0.001")
    min_order_usd: Decimal = Decimal(1)
    allow_shorts: bool = False
    not_fractionable: frozenset[str] = frozenset()
    funds_headroom: Decimal = Decimal("0.0005")  # room for slippage + fees (keep ≥ slippage)
    over_capacity: str = "scale"  # target gross beyond buying power: "scale" down, or "skip"
    residual_tolerance: Decimal = Decimal("0.02")  # max |weight − target| after a rebalance
    costs: OrderCosts = EXACT_COSTS  # how the broker values orders (set from the broker)


@dataclass(frozen=True, slots=True)
class Plan:
    """The orders of one rebalance, in the order they must be sent, and why they look so."""

    orders: tuple[PlannedOrder, ...]
    sleeve_equity: Decimal
    target_qty: Mapping[str, Decimal]
    notes: tuple[str, ...] = field(default=())

    @property
    def exposure_reducing(self) -> tuple[PlannedOrder, ...]:
        """Sells of longs and covers of shorts: the first phase."""
        return tuple(o for o in self.orders if o.leg.reduces_exposure)

    @property
    def exposure_adding(self) -> tuple[PlannedOrder, ...]:
        """Buys of longs and new shorts: the second phase."""
        return tuple(o for o in self.orders if not o.leg.reduces_exposure)


def plan_orders(
    targets: Mapping[str, float],
    universe: Iterable[str],
    account: Account,
    prices: Mapping[str, float | Decimal],
    rules: PlannerRules,
) -> Plan:
    """Plan the market orders that move the strategy's sleeve from ``account`` to ``targets``.

    ``universe`` lists every symbol the strategy owns (held symbols it no longer wants are sold);
    positions in any other symbol are left untouched. Raises :class:`PlanningError` for a
    non-finite weight, an unusable price, a short when shorts are not allowed, or no equity.
    """
    symbols = sorted(set(universe) | set(targets))
    weights = {s: to_decimal(targets.get(s, 0.0), f"target weight of {s}") for s in symbols}
    _check_shorts(weights, rules)
    sleeve = _sleeve_equity(account, rules)
    money = investable(account.equity, rules.capital_fraction, rules.cash_buffer)
    involved = [s for s in symbols if weights[s] != 0 or account.positions.get(s, ZERO) != 0]
    px = {s: _price(prices, s) for s in involved}
    target_qty = {s: _target_qty(s, weights[s] * money, px[s], rules) for s in involved}
    return replace(plan_moves(target_qty, account, px, rules), sleeve_equity=sleeve)


def plan_moves(
    target_qty: Mapping[str, Decimal],
    account: Account,
    prices: Mapping[str, Decimal],
    rules: PlannerRules,
) -> Plan:
    """The market orders that take ``account`` to ``target_qty`` (shares per symbol, already
    rounded as the broker needs them): legs that never cross zero, the minimum order, buys
    fitted to the buying power, sells first. ``plan_orders`` sizes a strategy's weights into
    such targets; a portfolio (``bot.portfolio``) nets several strategies' into them."""
    orders = [
        _by_notional(order, rules)
        for s in sorted(target_qty)
        for order in _legs(s, account.positions.get(s, ZERO), target_qty[s], prices[s])
        if order.closes_position or _big_enough(order, rules)
    ]
    orders, notes = _fit_buys_to_funds(orders, account.buying_power, rules)
    orders.sort(key=lambda o: (send_order(o.leg.reduces_exposure, o.side is Side.SELL), o.symbol))
    return Plan(tuple(orders), account.equity, target_qty, tuple(notes))


def fit_to_capacity(
    targets: Mapping[str, float],
    account: Account,
    rules: PlannerRules,
) -> tuple[dict[str, float], float]:
    """Scale all weights down uniformly when their gross exposure exceeds what the account's
    margin allows: ``equity × multiplier``.

    A target beyond it — UISx3's 3×GLD leg on a 2× margin account, or any leverage on a 1×
    cash or IRA account — cannot be held; the nearest holdable book keeps the published mix in
    proportion. Capacity that other holdings of the account use up is a different matter: it is a
    shortfall, not a property of the account, and :func:`capacity_shortfall` refuses it.
    Returns (weights, scale ≤ 1).
    """
    if not account.multiplier >= 1:
        msg = f"the account's margin multiplier is {account.multiplier}: refusing to size on it"
        raise PlanningError(msg)
    allowed = capacity(account.equity, account.multiplier, rules.funds_headroom)
    wanted = _wanted_gross(targets, account, rules)
    if wanted <= allowed * (1 + ROUNDING_SLACK) or wanted == 0:
        return dict(targets), 1.0
    scale = float(allowed / wanted)
    return {s: w * scale for s, w in targets.items()}, scale


def capacity_shortfall(
    targets: Mapping[str, float],
    account: Account,
    prices: Mapping[str, Decimal],
    rules: PlannerRules,
) -> str | None:
    """Why the (already margin-fitted) targets cannot be held *now*, or None if they can.

    The gross exposure left to the strategy is the account's ``equity × multiplier`` minus what
    its other holdings use (without the broker's gross exposure: the strategy's holdings plus the
    buying power left). Trading a fraction of the targets and calling it a rebalance would leave
    the book far off target with a success message; this says how far and why instead.
    """
    held = sum((abs(q) * prices[s] for s, q in account.positions.items() if s in prices), ZERO)
    if account.gross_exposure is None:
        allowed = held + max(account.buying_power, ZERO)
        others = ZERO
    else:
        others = max(account.gross_exposure - held, ZERO)
        allowed = account.equity * account.multiplier - others
    room = capacity(allowed, Decimal(1), rules.funds_headroom)
    wanted = _wanted_gross(targets, account, rules)
    if wanted <= room * (1 + ROUNDING_SLACK) or wanted == 0:
        return None
    reachable = room / wanted
    return (
        f"the targets need ${wanted:,.2f} of gross exposure but only ${room:,.2f} is "
        f"available (buying power ${account.buying_power:,.2f}; other holdings use "
        f"${others:,.2f}): the book could reach {reachable:.1%} of its targets"
    )


def _wanted_gross(targets: Mapping[str, float], account: Account, rules: PlannerRules) -> Decimal:
    _sleeve_equity(account, rules)  # refuses a broken account or fraction
    money = investable(account.equity, rules.capital_fraction, rules.cash_buffer)
    gross = sum((abs(to_decimal(w, f"target weight of {s}")) for s, w in targets.items()), ZERO)
    return gross * money


def _check_shorts(weights: Mapping[str, Decimal], rules: PlannerRules) -> None:
    shorts = sorted(s for s, w in weights.items() if w < 0)
    if shorts and not rules.allow_shorts:
        msg = messages.shorts_not_allowed(shorts)
        raise PlanningError(msg)


def _sleeve_equity(account: Account, rules: PlannerRules) -> Decimal:
    for name, value in (("buying power", account.buying_power), ("cash", account.cash)):
        if not value.is_finite():
            msg = f"account {name} is {value}: refusing to plan on a broken account snapshot"
            raise PlanningError(msg)
    if not account.equity.is_finite() or not account.equity > 0:
        msg = messages.no_equity(account.equity)
        raise PlanningError(msg)
    if not ZERO < rules.capital_fraction <= 1:
        msg = f"capital_fraction {rules.capital_fraction} must be in (0, 1]"
        raise PlanningError(msg)
    return account.equity * rules.capital_fraction


def _price(prices: Mapping[str, float | Decimal], symbol: str) -> Decimal:
    if symbol not in prices:
        msg = f"no price for {symbol}: cannot size its order"
        raise PlanningError(msg)
    price = to_decimal(prices[symbol], f"price of {symbol}")
    if price <= 0:
        msg = f"price of {symbol} is {price}: refusing to trade on a non-positive price"
        raise PlanningError(msg)
    return price


def _target_qty(symbol: str, value: Decimal, price: Decimal, rules: PlannerRules) -> Decimal:
    """``bot.rules.position_target`` of the exact quantity ``value / price``."""
    return _held_as(symbol, value / price, rules)


def _held_as(symbol: str, qty: Decimal, rules: PlannerRules) -> Decimal:
    """A quantity as the broker can hold it (``bot.rules.position_target``): cut toward zero
    to the nano-share, then whole shares for a short or a fund that is not fractionable."""
    nano = int((qty * NANO).to_integral_value(rounding=ROUND_DOWN))
    return Decimal(position_target(nano, symbol in rules.not_fractionable)) / NANO


def _legs(symbol: str, current: Decimal, target: Decimal, price: Decimal) -> list[PlannedOrder]:
    """Split the move current -> target into orders that never cross zero (``bot.rules``, in
    nano-shares: the arithmetic the fast backtester's loop runs too)."""
    held, wanted = _nano(current, symbol), _nano(target, symbol)
    sizes = (
        (Leg.REDUCE_LONG, reduce_long(held, wanted), wanted <= 0),
        (Leg.COVER_SHORT, cover_short(held, wanted), wanted >= 0),
        (Leg.ADD_LONG, add_long(held, wanted), False),
        (Leg.ADD_SHORT, add_short(held, wanted), False),
    )
    return [
        _order(symbol, leg, Decimal(size) / NANO, price, closes)
        for leg, size, closes in sizes
        if size > 0
    ]


def _nano(qty: Decimal, symbol: str) -> int:
    """A quantity in whole nano-shares; a finer one (no broker holds it) is refused."""
    nano = qty * NANO
    if nano != nano.to_integral_value():
        msg = f"{symbol}: quantity {qty} is finer than a billionth of a share"
        raise PlanningError(msg)
    return int(nano)


def _order(symbol: str, leg: Leg, qty: Decimal, price: Decimal, closes: bool) -> PlannedOrder:
    return PlannedOrder(symbol=symbol, leg=leg, qty=qty, price=price, closes_position=closes)


def _by_notional(order: PlannedOrder, rules: PlannerRules) -> PlannedOrder:
    """Fractionable buys go out by notional where the broker values them at the notional."""
    if (
        rules.costs.notional_buys
        and order.leg is Leg.ADD_LONG
        and order.symbol not in rules.not_fractionable
    ):
        return replace(order, by_notional=True)
    return order


def _fit_buys_to_funds(
    orders: list[PlannedOrder], buying_power: Decimal, rules: PlannerRules
) -> tuple[list[PlannedOrder], list[str]]:
    """Scale the exposure-adding orders down when they need more than the funds available.

    Buying power follows gross exposure: sells and covers free it once filled, buys and new
    shorts consume it, valued as the broker values them (``rules.costs``: Alpaca's collar on
    orders by quantity, the notional for notional buys). ``funds_headroom`` keeps room for
    slippage and fees on orders by quantity, which a broker adds to its own check; a notional
    buy cannot spend more than its notional. Scaled shorts stay whole shares; a scaled order
    that falls under ``min_order_usd`` is dropped.
    """
    freed = sum((o.qty * o.price for o in orders if o.leg.reduces_exposure), ZERO)
    available = buying_power + freed
    adding = [o for o in orders if not o.leg.reduces_exposure]
    by_value = sum((o.buying_power_cost(rules.costs) for o in adding if o.by_notional), ZERO)
    by_qty = sum((o.buying_power_cost(rules.costs) for o in adding if not o.by_notional), ZERO)
    needed = by_value + by_qty
    scale = buys_scale(by_value, by_qty, available, rules.funds_headroom)
    if scale >= 1:
        return orders, []
    scaled = [o if o.leg.reduces_exposure else _scaled(o, scale, rules) for o in orders]
    kept = [o for o in scaled if o.leg.reduces_exposure or (o.qty > 0 and _big_enough(o, rules))]
    note = f"buys scaled to {scale:.4f} of plan: they needed {needed:.2f}, funds {available:.2f}"
    return kept, [note]


def _big_enough(order: PlannedOrder, rules: PlannerRules) -> bool:
    """``bot.rules.reaches_minimum``: the order's value against the minimum order."""
    return reaches_minimum(to_micro(order.qty * order.price), to_micro(rules.min_order_usd))


def _scaled(order: PlannedOrder, scale: Decimal, rules: PlannerRules) -> PlannedOrder:
    qty = order.qty * scale
    if order.leg is Leg.ADD_SHORT:  # a short sale's size: whole shares, down
        qty = -_held_as(order.symbol, -qty, rules)
    else:
        qty = _held_as(order.symbol, qty, rules)
    return replace(order, qty=qty, closes_position=False)
