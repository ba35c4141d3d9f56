"""The rules the live path and the fast backtester's loop share, function by function: the legs,
the fees and the minimum order (bot/rules.py, integers) and the corridors' drift measures
(bot/triggers). Each is checked against an independent exact computation (Hypothesis), then
driven through the Decimal path (planner, simulated broker, trigger) and the loop's float path
(bot/backtest/kernel.py) with the same inputs; with the backtest extra, numba's compiled twin
gives the very same sizes."""

from __future__ import annotations

import math
from datetime import date as _date
from datetime import datetime as _datetime
from decimal import ROUND_CEILING, Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import rules
from bot.adapters.sim_broker import FEE_SCHEDULES, CloseTable, FeeSchedule, SimulatedBroker
from bot.backtest import engine, kernel
from bot.backtest.engine import BacktestCosts
from bot.clock import SimulatedClock
from bot.cycle import NEW_YORK
from bot.domain import Leg, OrderRequest, PlannedOrder, Side
from bot.planner import PlannerRules, _legs, _target_qty
from bot.planner import _big_enough as planner_big_enough
from bot.triggers import absolute_drift, relative_drift, worst_drift

qty = st.integers(min_value=-(10**15), max_value=10**15)  # up to a million shares, in nano


@given(qty, qty)
def test_legs_take_the_position_to_the_target_without_crossing_zero(held: int, target: int) -> None:
    reduce_, cover = rules.reduce_long(held, target), rules.cover_short(held, target)
    buy, short = rules.add_long(held, target), rules.add_short(held, target)
    assert min(reduce_, cover, buy, short) >= 0
    assert held - reduce_ + cover + buy - short == target  # the legs land exactly
    assert reduce_ == 0 or cover == 0  # one reducing leg at most …
    assert buy == 0 or short == 0  # … and one adding leg
    middle = held - reduce_ + cover  # after the reducing leg: never past zero
    assert (held >= 0 and middle >= 0) or (held <= 0 and middle <= 0)
    assert (buy == 0 and short == 0) or middle == 0 or (middle > 0) == (target > 0)


@given(qty, qty)
def test_the_planner_sizes_its_legs_with_the_same_arithmetic(held: int, target: int) -> None:
    nano = Decimal(rules.NANO)
    legs = _legs("X", Decimal(held) / nano, Decimal(target) / nano, Decimal(1))
    sizes = {order.leg: int(order.qty * nano) for order in legs}
    expected = {
        Leg.REDUCE_LONG: rules.reduce_long(held, target),
        Leg.COVER_SHORT: rules.cover_short(held, target),
        Leg.ADD_LONG: rules.add_long(held, target),
        Leg.ADD_SHORT: rules.add_short(held, target),
    }
    assert sizes == {leg: n for leg, n in expected.items() if n > 0}
    closes = {order.leg: order.closes_position for order in legs}
    if Leg.REDUCE_LONG in closes:
        assert closes[Leg.REDUCE_LONG] == (target <= 0)


def test_the_compiled_twin_sizes_legs_exactly_as_the_plain_functions() -> None:
    numba = pytest.importorskip("numba", reason="the compiled twin needs the backtest extra")
    cases = [(0, 5), (7, -3), (-7, 3), (10**15, 1), (-(10**15), -(10**15) + 1), (4, 4)]
    for name in ("reduce_long", "cover_short", "add_long", "add_short"):
        plain = getattr(rules, name)
        twin = numba.njit(plain)
        for held, target in cases:
            assert twin(held, target) == plain(held, target), (name, held, target)


# --- money: fees and the minimum order, in whole units -------------------------------------------

micro_money = st.integers(min_value=0, max_value=10**16)  # up to $10 billion
cents_price = st.integers(min_value=1, max_value=500_000)  # $0.01 to $5,000
hundredths = st.integers(min_value=1, max_value=10**8)  # 0.01 to a million shares


def _ceil_cents(dollars: Decimal) -> int:
    return int((dollars * 100).to_integral_value(ROUND_CEILING))


@given(micro_money, st.sampled_from([0, 510, 2290, 2780, 9_999_999]))
def test_the_sec_fee_is_the_rate_on_the_notional_rounded_up_to_the_cent(
    notional: int, rate: int
) -> None:
    exact = Decimal(notional) / 10**6 * (Decimal(rate) / 100) / 10**6  # dollars
    assert rules.sec_fee_cents(notional, rate) == _ceil_cents(exact)


@given(
    st.integers(min_value=0, max_value=10**17),
    st.sampled_from([0, 119, 166, 999_999]),
    st.integers(min_value=0, max_value=10_000),
)
def test_the_taf_is_the_rate_per_share_rounded_up_to_the_cent_and_capped(
    nano: int, rate: int, cap: int
) -> None:
    exact = Decimal(nano) / 10**9 * Decimal(rate) / 10**6
    assert rules.taf_cents(nano, rate, cap) == min(_ceil_cents(exact), cap)


def test_fees_by_hand() -> None:
    # 1,000 shares sold at $50.00: SEC 50,000 × 27.80 / 1e6 = $1.39; TAF 1,000 × 0.000166 = $0.166
    # → $0.17; total $1.56. 100,000 shares: TAF $16.60 is capped at $8.30.
    assert rules.sell_fees_cents(1000 * 10**9, 50_000 * 10**6, 2780, 166, 830) == 139 + 17
    assert rules.taf_cents(100_000 * 10**9, 166, 830) == 830
    # a tenth of a share at $1.00: SEC $0.00000278 and TAF $0.0000166 are each one cent
    assert rules.sell_fees_cents(10**8, 10**5, 2780, 166, 830) == 2


def _kernel_params(fees: FeeSchedule, min_order: Decimal = Decimal(1)) -> np.ndarray:
    params = np.zeros(kernel.N_PARAMS)
    params[kernel.P_SEC_CENTS] = fees.sec_cents_per_million
    params[kernel.P_TAF_MICRO] = fees.taf_micro_per_share
    params[kernel.P_TAF_CAP_CENTS] = fees.taf_cap_cents
    params[kernel.P_MIN_ORDER_MICRO] = int(min_order * 10**6)
    return params


@given(hundredths, cents_price, st.sampled_from(sorted(FEE_SCHEDULES)))
def test_the_simulated_broker_and_the_backtest_loop_charge_the_same_fees(
    hundredths_of_shares: int, price_cents: int, schedule: str
) -> None:
    """The broker's Decimal path (``FeeSchedule.on_sell``) and the loop's float path (a sale in
    ``kernel._fill``, without slippage) charge the same cents for the same sale."""
    fees = FEE_SCHEDULES[schedule]
    qty, price = Decimal(hundredths_of_shares) / 100, Decimal(price_cents) / 100
    on_broker = fees.on_sell(qty, qty * price)
    nano = np.array([hundredths_of_shares * 10**7], dtype=np.int64)
    state = np.zeros(kernel.N_STATE)
    kernel._fill(
        0, kernel.REDUCE, int(nano[0]), np.array([float(price)]), nano, state, _kernel_params(fees)
    )
    assert Decimal(repr(float(state[kernel.S_FEES]))) == on_broker
    assert nano[0] == 0


@given(hundredths, cents_price, st.integers(min_value=0, max_value=100_000))
def test_the_planner_and_the_backtest_loop_apply_the_same_minimum_order(
    hundredths_of_shares: int, price_cents: int, minimum_cents: int
) -> None:
    qty, price = Decimal(hundredths_of_shares) / 100, Decimal(price_cents) / 100
    minimum = Decimal(minimum_cents) / 100
    order = PlannedOrder("X", Leg.ADD_LONG, qty, price)
    planned = planner_big_enough(order, PlannerRules(min_order_usd=minimum))
    looped = kernel._big_enough(
        hundredths_of_shares * 10**7, float(price), _kernel_params(FeeSchedule(), minimum)
    )
    assert planned == looped == (qty * price >= minimum)


def test_a_fee_rate_finer_than_its_unit_is_refused() -> None:
    with pytest.raises(ValueError, match="whole number of 1/1000000"):
        _ = FeeSchedule(taf_per_share=Decimal("0.0001665")).taf_micro_per_share


# --- drift: the corridors' measures -----------------------------------------------------------

weights = st.lists(
    st.tuples(st.integers(0, 10**6), st.integers(0, 10**6)), min_size=1, max_size=8
)  # (current, target) in millionths of the sleeve


@given(weights, st.sampled_from([absolute_drift, relative_drift]))
def test_the_trigger_and_the_backtest_loop_measure_the_same_drift(
    pairs: list[tuple[int, int]], measure: kernel.Measure
) -> None:
    """The trigger measures Decimal weights (``worst_drift``); the loop measures the weights of
    its integer book at its prices — here one share at the weight's price in a sleeve of 1."""
    symbols = [f"S{i}" for i in range(len(pairs))]
    current = {s: Decimal(c) / 10**6 for s, (c, _) in zip(symbols, pairs, strict=True) if c}
    target = {s: Decimal(t) / 10**6 for s, (_, t) in zip(symbols, pairs, strict=True)}
    _, by_trigger = worst_drift(current, target, measure)
    nano = np.array([rules.NANO if c else 0 for c, _ in pairs], dtype=np.int64)
    prices = np.array([c / 10**6 if c else 1.0 for c, _ in pairs])
    goal = np.array([t / 10**6 for _, t in pairs])
    by_loop = kernel._drift(nano, prices, goal, 1.0, measure)
    exact = max(_exact_drift(Decimal(c) / 10**6, Decimal(t) / 10**6, measure) for c, t in pairs)
    if math.isinf(by_loop):
        assert by_trigger == exact == Decimal("Infinity")
    else:
        assert by_trigger == Decimal(repr(by_loop)) == exact.quantize(Decimal("1e-9"))


def _exact_drift(current: Decimal, target: Decimal, measure: kernel.Measure) -> Decimal:
    """The definitions, by hand: weight points, or a fraction of the target (infinite when one
    of the two is zero and the other is not)."""
    if measure is absolute_drift:
        return abs(current - target)
    if current == 0 or target == 0:
        return Decimal(0) if current == target else Decimal("Infinity")
    return abs(current - target) / target


# --- sizing, fills and financing: one formula, two number types --------------------------------


@given(
    st.integers(min_value=-(10**12), max_value=10**12),  # the value to hold, in cents
    cents_price,
    st.booleans(),
)
def test_the_planner_and_the_loop_round_a_target_position_alike(
    value_cents: int, price_cents: int, whole: bool
) -> None:
    """``rules.position_target`` from the planner's exact quantity and from the loop's float:
    the same whole shares for a short or a fund that is not fractionable; within one
    nano-share otherwise, beyond the float's own resolution of the quantity."""
    value, price = Decimal(value_cents) / 100, Decimal(price_cents) / 100
    planned = _target_qty(
        "X", value, price, PlannerRules(not_fractionable=frozenset({"X"}) if whole else frozenset())
    )
    looped = rules.position_target(kernel._nano_toward_zero(float(value) / float(price)), whole)
    planned_nano = int(planned * rules.NANO)
    exact = value / price
    if whole or exact < 0:
        assert planned_nano == looped
        assert planned_nano % rules.NANO == 0
        assert abs(planned) <= abs(exact) < abs(planned) + 1  # toward the smaller position
    else:
        # a float resolves about 1e-15 of the quantity: a nano-share up to a million shares
        assert abs(planned_nano - looped) <= 1 + abs(planned_nano) * 2e-15
        assert planned <= exact < planned + Decimal("1e-9")


def test_position_targets_by_hand() -> None:
    nano = rules.NANO
    assert rules.position_target(-(10 * nano + 7), whole=False) == -10 * nano  # short: whole
    assert rules.position_target(10 * nano + 7, whole=True) == 10 * nano
    assert rules.position_target(10 * nano + 7, whole=False) == 10 * nano + 7
    # 999.9999999999999 shares in binary where the Decimal path has exactly 1000
    assert kernel._nano_toward_zero(0.1 * 3 / 0.3 * 1000) == 1000 * nano


@given(st.integers(1, 10**6), cents_price, st.sampled_from([0, 1, 5, 30]), st.booleans())
def test_the_broker_and_the_loop_fill_at_the_same_price_and_cash(
    hundredths_of_shares: int, price_cents: int, slippage_bps: int, sell: bool
) -> None:
    qty, close = Decimal(hundredths_of_shares) / 100, Decimal(price_cents) / 100
    slip = Decimal(slippage_bps) / 10_000
    day = _date(2026, 4, 1)
    closes = pd.DataFrame({"X": [float(close)]}, index=pd.DatetimeIndex([pd.Timestamp(day)]))
    clock = SimulatedClock(_datetime(2026, 4, 1, 15, 45, tzinfo=NEW_YORK))
    cash = Decimal(10**10)
    broker = SimulatedBroker(
        CloseTable(closes, clock), cash, slippage_bps=Decimal(slippage_bps), round_cents=False
    )
    if sell:
        broker.submit(OrderRequest("own", "X", Side.BUY, qty, Leg.ADD_LONG))
        cash = broker.account().cash
    side, leg = (Side.SELL, Leg.REDUCE_LONG) if sell else (Side.BUY, Leg.ADD_LONG)
    report = broker.submit(OrderRequest("it", "X", side, qty, leg))
    assert report.filled_avg_price == rules.fill_price(close, slip, sell)
    params = _kernel_params(FEE_SCHEDULES["current"])
    params[kernel.P_SLIP] = float(slip)
    nano = np.array([hundredths_of_shares * 10**7 if sell else 0], dtype=np.int64)
    state = np.zeros(kernel.N_STATE)
    kind = kernel.REDUCE if sell else kernel.BUY
    kernel._fill(
        0, kind, int(hundredths_of_shares * 10**7), np.array([float(close)]), nano, state, params
    )
    moved = broker.account().cash - cash
    assert float(moved) == pytest.approx(state[kernel.S_CASH], rel=1e-12, abs=1e-9)


@given(
    st.decimals(0, 10**7, places=2), st.decimals(0, 10**7, places=2),
    st.sampled_from(["0", "0.005", "0.03"]), st.sampled_from(["0", "0.065"]), st.integers(1, 4),
)  # fmt: skip
def test_financing_is_one_formula_for_both_engines(
    shorts: Decimal, over: Decimal, borrow: str, margin: str, nights: int
) -> None:
    exact = rules.financing(shorts, over, Decimal(borrow), Decimal(margin), nights)
    assert exact == (shorts * Decimal(borrow) + over * Decimal(margin)) * nights / 360
    looped = rules.financing(float(shorts), float(over), float(borrow), float(margin), nights)
    assert looped == pytest.approx(float(exact), rel=1e-12, abs=1e-12)
    assert engine.financing_due.__module__ == "bot.backtest.engine"  # the engine calls it
    assert BacktestCosts().borrow_rate == 0  # no financing unless asked


@given(
    st.decimals(0, 10**7, places=2),
    st.decimals(0, 10**7, places=2),
    st.decimals(-(10**6), 10**7, places=2),
    st.sampled_from(["0", "0.0005", "0.01"]),
)
def test_buys_are_scaled_to_the_funds_by_one_formula(
    by_value: Decimal, by_quantity: Decimal, available: Decimal, headroom: str
) -> None:
    exact = rules.buys_scale(by_value, by_quantity, available, Decimal(headroom))
    looped = rules.buys_scale(
        float(by_value), float(by_quantity), float(available), float(headroom)
    )
    assert float(exact) == pytest.approx(looped, rel=1e-12)
    room = by_value + by_quantity * (1 + Decimal(headroom))
    if room <= available or by_value + by_quantity == 0:
        assert exact == 1
    else:
        assert exact == max(available, Decimal(0)) / room
        # never more than the funds (to Decimal's 28 digits; the scaled quantities are cut down)
        assert exact * room <= max(available, Decimal(0)) * (1 + Decimal("1e-25"))


@given(st.lists(st.tuples(st.sampled_from("ABCD"), st.sampled_from(list(Leg))), unique=True))
def test_the_planner_and_the_loop_send_orders_in_the_same_order(
    orders: list[tuple[str, Leg]],
) -> None:
    planned = [PlannedOrder(s, leg, Decimal(1), Decimal(1)) for s, leg in orders]
    planned.sort(
        key=lambda o: (rules.send_order(o.leg.reduces_exposure, o.side is Side.SELL), o.symbol)
    )
    codes = {Leg.REDUCE_LONG: kernel.REDUCE, Leg.COVER_SHORT: kernel.COVER}
    codes |= {Leg.ADD_LONG: kernel.BUY, Leg.ADD_SHORT: kernel.SHORT}
    symbols = sorted("ABCD")
    n = len(orders)
    sym = np.array([symbols.index(s) for s, _ in orders] or [0], dtype=np.int64)
    leg = np.array([codes[x] for _, x in orders] or [0], dtype=np.int64)
    qty, keys = np.ones(max(n, 1), dtype=np.int64), np.zeros(max(n, 1), dtype=np.int64)
    kernel._sort(n, np.arange(4, dtype=np.int64), sym, leg, qty, keys)
    back = {v: k for k, v in codes.items()}
    assert [(symbols[sym[j]], back[int(leg[j])]) for j in range(n)] == [
        (o.symbol, o.leg) for o in planned
    ]
    reducing = [o.leg.reduces_exposure for o in planned]
    assert reducing == sorted(reducing, reverse=True)  # every reducing order before any other


# --- drift rounding: the cycle's Decimal quantize and the loop's float form --------------------


@given(
    st.integers(min_value=0, max_value=2_000_000_000),
    st.sampled_from([0, 1, 2, 3, 5, 7, 9]),
)
def test_the_loops_drift_rounding_is_the_cycles_on_exact_decimals(nanos: int, tenth: int) -> None:
    """A drift the cycle computes exactly (a decimal with a tenth digit past 1e-9, exact halves
    included) rounds in the loop, from its nearest float, to what ``triggers.max_drift``'s
    half-to-even quantize gives: the same rule in the two number types."""
    from bot.backtest.kernel import _round9  # noqa: PLC0415 - the loop's own helper
    from bot.triggers.base import worst_drift  # noqa: PLC0415

    exact = Decimal(nanos * 10 + tenth) / Decimal(10**10)
    _, by_cycle = worst_drift({"A": exact}, {"A": Decimal(0)}, lambda c, t: abs(c - t))
    assert _round9(float(exact)) == float(by_cycle)
