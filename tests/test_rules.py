"""bot/rules.py, the leg arithmetic the planner and the fast backtester's loop share: properties
over any held and target quantity (Hypothesis), the planner's Decimal path through it, and —
with the backtest extra — numba's compiled twin giving the very same sizes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import rules
from bot.domain import Leg
from bot.planner import _legs

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
