"""The relative corridor (``kind = "relative_drift"``): any weight more than ``width`` of its own
target away trades the whole book. Numbers worked by hand; a property test against exact
fractions; the same trigger through the config, the cycle on the simulated broker, and the
daemon's catch-up check, with no trigger-specific code outside its module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.backtest.engine import BacktestCosts
from bot.bootstrap import build_runtime
from bot.config import BotConfig
from bot.cycle import StrategyRuntime, run_cycle
from bot.planner import PlannerRules
from bot.triggers import RelativeDriftRule, TriggerInput, max_relative_drift
from strategies import FixedWeights
from tests.conftest import World
from tests.test_cycle import flat_closes
from tests.test_fast_backtest import assert_same, both, defective_closes, runtime_of

D = Decimal
TODAY = date(2026, 4, 1)


def decide(rule: RelativeDriftRule, current: dict[str, str], target: dict[str, str]) -> bool:
    now = TriggerInput(
        TODAY,
        (),
        {s: D(w) for s, w in current.items()},
        {s: D(w) for s, w in target.items()},
        lambda: pytest.fail("a corridor never asks for the last rebalance"),  # type: ignore[arg-type]
    )
    return rule.decide(now).trade


def test_a_quarter_of_the_target_either_way() -> None:
    """Width 0.25 around 40%: 30% and 50% are exactly on the edge (no trade), 29.9% and 50.1%
    beyond it. A 10% target trades at 12.6% although that is only 2.6 points off."""
    rule = RelativeDriftRule(D("0.25"))
    target = {"A": "0.40", "B": "0.60"}
    assert not decide(rule, {"A": "0.50", "B": "0.50"}, {"A": "0.40", "B": "0.60"})
    assert not decide(rule, {"A": "0.30", "B": "0.60"}, target)
    assert decide(rule, {"A": "0.501", "B": "0.499"}, target)  # A: 0.101/0.40 = 25.25%
    assert decide(rule, {"A": "0.299", "B": "0.60"}, target)
    assert decide(rule, {"A": "0.126", "B": "0.874"}, {"A": "0.10", "B": "0.90"})


def test_inclusive_trades_on_the_edge() -> None:
    rule = RelativeDriftRule(D("0.25"), inclusive=True)
    assert decide(rule, {"A": "0.50", "B": "0.50"}, {"A": "0.40", "B": "0.60"})


def test_a_symbol_wanted_and_not_held_opens_whatever_the_width() -> None:
    """From cash every target is 100% off: a width of 1 (or more) must still open the book."""
    assert decide(RelativeDriftRule(D("1")), {}, {"A": "0.55", "B": "0.45"})
    assert decide(RelativeDriftRule(D("3")), {"A": "0.55"}, {"A": "0.55", "B": "0.45"})
    assert not decide(RelativeDriftRule(D("3")), {"A": "1"}, {"A": "1", "B": "0"})


def test_a_symbol_held_with_a_zero_target_always_trades() -> None:
    rule = RelativeDriftRule(D("5"))
    result = rule.decide(
        TriggerInput(
            TODAY, (), {"A": D("0.001"), "B": D("0.999")}, {"A": D(0), "B": D(1)}, lambda: None
        )
    )
    assert result.trade
    assert "target is 0" in result.reason
    assert result.rebalance_key == "20260401"


def test_shorts_are_measured_against_the_size_of_their_target() -> None:
    """A −50% short at −40% is 10 points, 20% of its target: beyond 0.15, within 0.25."""
    current, target = {"VXZ": "-0.40"}, {"VXZ": "-0.50"}
    assert decide(RelativeDriftRule(D("0.15")), current, target)
    assert not decide(RelativeDriftRule(D("0.25")), current, target)


weights = st.fractions(min_value=Fraction(-2), max_value=Fraction(2), max_denominator=10_000)


@given(st.dictionaries(st.sampled_from("ABCD"), st.tuples(weights, weights), min_size=1))
def test_property_the_worst_relative_drift_matches_exact_fractions(
    pairs: dict[str, tuple[Fraction, Fraction]],
) -> None:
    current = {s: D(c.numerator) / D(c.denominator) for s, (c, _) in pairs.items()}
    target = {s: D(t.numerator) / D(t.denominator) for s, (_, t) in pairs.items()}
    _, drift = max_relative_drift(current, target)
    exact = []
    for c, t in pairs.values():
        c_dec = D(c.numerator) / D(c.denominator)
        t_dec = D(t.numerator) / D(t.denominator)
        if t_dec == 0:
            exact.append(Fraction(0) if c_dec == 0 else None)
        else:
            exact.append(abs(Fraction(c_dec) - Fraction(t_dec)) / abs(Fraction(t_dec)))
    for c, t in pairs.values():  # wanted but not held at all: infinitely off too
        if c == 0 and t != 0:
            exact.append(None)
    if any(e is None for e in exact):
        assert drift == D("Infinity")
    else:
        assert abs(Fraction(drift) - max(e for e in exact if e is not None)) <= Fraction(1, 10**9)


def test_the_config_builds_it_and_rejects_a_bad_width() -> None:
    base = {
        "name": "rel",
        "strategy": {"kind": "fixed", "weights": {"UPRO": 0.55, "TMF": 0.45}},
        "broker": {"kind": "simulated"},
    }
    config = BotConfig.model_validate(
        {**base, "trigger": {"kind": "relative_drift", "width": 0.2, "inclusive": True}}
    )
    assert build_runtime(config).trigger == RelativeDriftRule(D("0.2"), inclusive=True)
    with pytest.raises(ValueError, match="width"):
        BotConfig.model_validate({**base, "trigger": {"kind": "relative_drift", "width": 0}})


def test_the_cycle_trades_on_it_on_the_simulated_broker(
    make_world: Callable[..., World],
) -> None:
    """From cash every target is 100% off: the first wake trades 55/45 (549.45 UPRO at $100,
    899.1 TMF at $50, $100 cash). Then TMF rises 40% while UPRO stays: a 0.15 corridor trades;
    the next session, back on target with flat prices, holds."""
    closes = flat_closes({"UPRO": 100.0, "TMF": 50.0}, date(2026, 3, 2), date(2026, 4, 30))
    closes.loc[closes.index >= "2026-04-02", "TMF"] = 70.0
    world = make_world(closes)
    rule = RelativeDriftRule(D("0.15"))
    weights = FixedWeights({"UPRO": 0.55, "TMF": 0.45})
    runtime = StrategyRuntime("rel", weights, rule, PlannerRules())
    world.at(date(2026, 4, 1))
    first = run_cycle(world.adapters, runtime)
    assert first.outcome == "traded", first.reason

    world.at(date(2026, 4, 2))  # TMF +40%: 899.1 × 70 / 117,982 = 53.34%, 18.54% of 45% off
    second = run_cycle(world.adapters, runtime)
    assert second.outcome == "traded", second.reason
    assert second.reason.startswith("TMF drifted 18.54")

    world.at(date(2026, 4, 6))  # back on target, prices flat (04-03 is Good Friday)
    third = run_cycle(world.adapters, runtime)
    assert third.outcome == "held", third.reason


@pytest.mark.parametrize(("name", "width"), [("all_in", "1"), ("hfea", "0.1")])
def test_the_fast_backtester_runs_it_as_the_cycle_does(name: str, width: str) -> None:
    """The fast engine's loop measures the relative corridor as the cycle does: the same
    outcome every day (traded, held, refused), the same trades, book and equity — on synthetic
    closes with the defects the cycle must refuse."""
    runtime = replace(runtime_of(name), trigger=RelativeDriftRule(D(width)))
    closes = defective_closes(runtime.strategy.symbols)
    fast, slow = both(runtime, closes, date(2023, 7, 5), date(2024, 12, 31), BacktestCosts())
    assert_same(fast, slow)
    assert fast.outcomes["traded"] > 0
    assert fast.outcomes["held"] > 0
