"""The fast backtester equals the cycle's: the same outcome every day, the same refusals, equity
within 1e-9 relative, on synthetic histories with every defect the cycle must refuse, on rules
that bind (whole shares, minimum orders, capacity, buying power, financing, fees) and, when
../shared/data is present, on the real funds."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.adapters.sim_broker import FEE_SCHEDULES
from bot.backtest.engine import BacktestCosts, BacktestResult, run_backtest
from bot.backtest.fast import run_fast_backtest
from bot.backtest.screen import History
from bot.bootstrap import build_runtime
from bot.config import load_config
from bot.cycle import StrategyRuntime
from bot.errors import StateError
from bot.market.csv_source import load_closes_dir
from bot.market.sessions import xnys_sessions
from bot.market.synthetic import synthetic_closes
from bot.triggers import DriftRule
from strategies.fixed import FixedWeights
from strategies.inverse_vol import InverseVolatility

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT.parent / "shared" / "data" / "etf_adjclose"
needs_real_data = pytest.mark.skipif(not REAL.is_dir(), reason=f"real data not present at {REAL}")
RTOL = 1e-9


def runtime_of(name: str) -> StrategyRuntime:
    return build_runtime(load_config(ROOT / "config" / f"{name}.toml"))


def defective_closes(symbols: tuple[str, ...], seed: int = 11) -> pd.DataFrame:
    """Synthetic closes 2023-07 → 2024-12 with the defects the cycle must refuse, one each:
    a late listing, a missing close, a glitch print, a repeated close (zero 2-day volatility),
    a row on a Saturday, and a gap of a whole session."""
    sessions = xnys_sessions(date(2023, 7, 3), date(2024, 12, 31))
    closes = synthetic_closes(symbols, sessions, seed=seed)
    first, second = symbols[0], symbols[-1]
    closes.loc[: pd.Timestamp(2023, 9, 15), second] = np.nan  # listed late
    closes.loc[pd.Timestamp(2024, 3, 12), first] = np.nan  # a missing close
    closes.loc[pd.Timestamp(2024, 6, 3), first] *= 0.4  # a glitch print
    day = pd.Timestamp(2024, 8, 13)
    before = closes.index[closes.index.get_loc(day) - 1]
    closes.loc[day, first] = closes.loc[before, first]  # a stale, repeated close
    closes.loc[pd.Timestamp(2024, 9, 14)] = closes.loc[pd.Timestamp(2024, 9, 13)]  # a Saturday
    closes = closes.drop(pd.Timestamp(2024, 10, 8))  # a session with no data at all
    return closes.sort_index()


def assert_same(fast: BacktestResult, slow: BacktestResult) -> None:
    """Day by day: the same outcomes, the same refusals, the same book and equity."""
    pd.testing.assert_series_equal(fast.outcome_by_day, slow.outcome_by_day, check_names=False)
    assert [d for d, _ in fast.errors] == [d for d, _ in slow.errors]
    for (_, fast_reason), (_, slow_reason) in zip(fast.errors, slow.errors, strict=True):
        assert _kind(fast_reason) == _kind(slow_reason)
    assert fast.trades == slow.trades
    assert fast.scaled == slow.scaled
    relative = (fast.equity / slow.equity - 1).abs().max()
    assert relative <= RTOL, f"equity differs by {relative:.3g} relative"
    positions = fast.positions - slow.positions
    scale = slow.positions.abs().max().max() or 1.0
    assert positions.abs().max().max() <= RTOL * scale
    for name in ("fees", "slippage", "financing", "traded_notional"):
        a, b = float(getattr(fast, name)), float(getattr(slow, name))
        assert a == pytest.approx(b, rel=1e-9, abs=1e-6), name


def _kind(reason: str) -> str:
    """What a refusal says before its details (an order's id and size are not compared)."""
    return re.sub(r"^order (\S+ )?\((\w+) [0-9.]+", r"order (\2 N", reason).split(":")[0]


def both(
    runtime: StrategyRuntime,
    closes: pd.DataFrame,
    start: date,
    end: date,
    costs: BacktestCosts,
) -> tuple[BacktestResult, BacktestResult]:
    fast = run_fast_backtest(runtime, closes, start, end, costs=costs)
    slow = run_backtest(runtime, closes, start, end, costs=costs)
    return fast, slow


COSTS = BacktestCosts(margin_multiplier=Decimal(2))
FINANCED = BacktestCosts(
    margin_multiplier=Decimal(2),
    borrow_rate=Decimal("0.02"),
    margin_rate=Decimal("0.065"),
    fees=FEE_SCHEDULES["legacy"],
    slippage_bps=Decimal(5),
)


@pytest.mark.parametrize("name", ["hfea", "all_in", "uisx3", "max_yield"])
@pytest.mark.parametrize("costs", [COSTS, FINANCED], ids=["costs", "financed"])
def test_the_fast_engine_equals_the_cycle_on_defective_history(
    name: str, costs: BacktestCosts
) -> None:
    runtime = runtime_of(name)
    closes = defective_closes(runtime.strategy.symbols)
    fast, slow = both(runtime, closes, date(2023, 7, 3), date(2024, 12, 31), costs)

    assert_same(fast, slow)
    assert slow.outcomes["traded"] >= 4
    assert slow.outcomes["error"] >= 3  # the late listing, the missing close, the glitch


def test_rules_that_bind_whole_shares_minimum_orders_and_a_cash_buffer() -> None:
    runtime = runtime_of("all_in")
    rules = replace(
        runtime.rules,
        not_fractionable=frozenset({"TECL", "UGL"}),
        min_order_usd=Decimal(250),
        cash_buffer=Decimal("0.02"),
    )
    runtime = replace(runtime, rules=rules, trigger=DriftRule(Decimal("0.05"), inclusive=True))
    closes = defective_closes(runtime.strategy.symbols, seed=5)
    costs = BacktestCosts(initial_cash=Decimal(20_000), slippage_bps=Decimal(3))
    fast, slow = both(runtime, closes, date(2023, 9, 1), date(2024, 12, 31), costs)

    assert_same(fast, slow)
    assert slow.outcomes["held"] > 0  # the 5-point corridor holds on some days
    whole = fast.positions[["TECL", "UGL"]]
    assert (whole == whole.round()).all().all()


def test_over_capacity_refused_and_an_account_too_small_to_short() -> None:
    """UISx3 beyond 1× margin with over_capacity='skip' refuses every rebalance; Max Yield with
    $1,500 may not short at all (the $2,000 rule)."""
    uisx3 = runtime_of("uisx3")
    uisx3 = replace(uisx3, rules=replace(uisx3.rules, over_capacity="skip"))
    closes = defective_closes(uisx3.strategy.symbols, seed=3)
    fast, slow = both(uisx3, closes, date(2023, 10, 2), date(2024, 12, 31), BacktestCosts())
    assert_same(fast, slow)

    max_yield = runtime_of("max_yield")
    closes = defective_closes(max_yield.strategy.symbols, seed=4)
    small = BacktestCosts(initial_cash=Decimal(1_500), margin_multiplier=Decimal(2))
    fast, slow = both(max_yield, closes, date(2023, 10, 2), date(2024, 12, 31), small)
    assert_same(fast, slow)
    assert any("$2,000" in reason for _, reason in fast.errors)


@pytest.mark.parametrize("policy", ["skip_day", "floor", "equal_weight", "exclude"])
def test_batch_inverse_vol_targets_are_the_strategys_own_bit_for_bit(policy: str) -> None:
    """The backtester's every-day-at-once targets equal target_weights called day by day."""
    runtime = runtime_of("all_in")
    strategy = replace(runtime.strategy, zero_vol_policy=policy)
    assert isinstance(strategy, InverseVolatility)
    runtime = replace(runtime, strategy=strategy)
    closes = defective_closes(strategy.symbols, seed=9).dropna()
    history = History(runtime, closes, date(2023, 9, 20), date(2024, 12, 31))
    table, declined = history.quiet_targets()
    assert table is not None
    assert declined is not None

    checked = 0
    for row in history.rows[history.clean[history.rows]]:
        day = closes.index[row].date()
        if declined[row]:
            with pytest.raises(ValueError, match="zero volatility"):
                strategy.target_weights(closes, day)
            continue
        weights = strategy.target_weights(closes, day).weights
        assert [weights[s] for s in strategy.symbols] == table[row].tolist()
        checked += 1
    assert checked > 200


@needs_real_data
@pytest.mark.parametrize(
    ("name", "start"),
    [
        ("hfea", date(2009, 7, 1)),
        ("all_in", date(2024, 4, 3)),
        ("uisx3", date(2010, 1, 4)),
        ("max_yield", date(2019, 1, 2)),
    ],
)
def test_the_fast_engine_equals_the_cycle_on_the_real_funds(name: str, start: date) -> None:
    runtime = runtime_of(name)
    closes = load_closes_dir(REAL, list(runtime.strategy.symbols))
    fast, slow = both(runtime, closes, start, date(2026, 7, 14), FINANCED)

    assert_same(fast, slow)
    assert len(fast.equity) > 500
    if name == "all_in":
        assert date(2024, 6, 3) in {d for d, _ in fast.errors}  # the DFEN glitch print
    if name == "uisx3":
        assert fast.scaled > 0  # gold-heavy months need more than the 2× margin allows


def test_a_progress_callback_sees_the_whole_run() -> None:
    runtime = runtime_of("hfea")
    closes = defective_closes(runtime.strategy.symbols)
    seen: list[tuple[int, int]] = []
    start, end = date(2024, 1, 2), date(2024, 6, 28)
    run_fast_backtest(runtime, closes, start, end, progress=lambda i, n: seen.append((i, n)))
    assert seen[-1][0] == seen[-1][1] == len(xnys_sessions(start, end))


def test_a_sleeve_whole_share_residuals_and_buying_power_rejections() -> None:
    """Half the account (capital_fraction 0.5); whole shares of expensive funds on a small
    account miss their targets by more than the residual tolerance (an error, retried next
    run); slippage beyond the planner's headroom makes the broker reject the last buy. Each
    rule fires, and both engines agree on every day."""
    hfea = runtime_of("hfea")
    rules = replace(
        hfea.rules,
        capital_fraction=Decimal("0.5"),
        not_fractionable=frozenset({"UPRO", "TMF"}),
        residual_tolerance=Decimal("0.01"),
    )
    closes = defective_closes(hfea.strategy.symbols, seed=8) * 20  # $2,000 shares
    costs = BacktestCosts(initial_cash=Decimal(9_000))
    fast, slow = both(
        replace(hfea, rules=rules), closes, date(2023, 7, 5), date(2024, 12, 31), costs
    )
    assert_same(fast, slow)
    assert any("incomplete" in reason for _, reason in fast.errors)

    # Slippage beyond the headroom: the broker refuses the last buy; it is re-sized 2.5% more
    # conservatively and lands (no error left), in both engines alike.
    tight = replace(hfea.rules, cash_buffer=Decimal(0), funds_headroom=Decimal(0))
    closes = defective_closes(hfea.strategy.symbols, seed=8)
    costs = BacktestCosts(slippage_bps=Decimal(10))
    fast, slow = both(
        replace(hfea, rules=tight), closes, date(2023, 7, 5), date(2024, 12, 31), costs
    )
    assert_same(fast, slow)
    assert not any("rejected" in reason for _, reason in fast.errors)
    # 10% slippage: three re-sizes (2.5%, 5%, 7.5% more) still do not fit: an error, retried.
    costs = BacktestCosts(slippage_bps=Decimal(1000))
    fast, slow = both(
        replace(hfea, rules=tight), closes, date(2023, 7, 5), date(2024, 12, 31), costs
    )
    assert_same(fast, slow)
    assert any("rejected" in reason for _, reason in fast.errors)


def test_cent_rounding_is_refused_rather_than_ignored() -> None:
    runtime = runtime_of("hfea")
    closes = defective_closes(runtime.strategy.symbols)
    with pytest.raises(ValueError, match="full precision"):
        run_fast_backtest(
            runtime,
            closes,
            date(2024, 1, 2),
            date(2024, 3, 28),
            costs=BacktestCosts(round_cents=True),
        )


def test_a_tiny_sell_still_pays_a_cent_of_each_fee() -> None:
    """A 50/50 book of $100 funds re-balanced at a zero-width corridor: AAA's close moves by
    $0.00001, so about 0.000025 shares are sold (notional $0.0025). SEC 0.0025 × 27.80/1e6 and
    TAF 0.000025 × 0.000166 are both far below a cent, and each rounds UP to one cent: $0.02."""
    hfea = runtime_of("hfea")
    runtime = replace(
        hfea,
        strategy=FixedWeights({"AAA": 0.5, "BBB": 0.5}),
        rules=replace(hfea.rules, min_order_usd=Decimal(0)),
        trigger=DriftRule(Decimal(0)),
    )
    days = pd.DatetimeIndex([pd.Timestamp(2024, 1, d) for d in (2, 3, 4)])
    closes = pd.DataFrame({"AAA": [100.0, 100.0, 100.00001], "BBB": [100.0] * 3}, index=days)
    costs = BacktestCosts(slippage_bps=Decimal(0))
    fast, slow = both(runtime, closes, date(2024, 1, 3), date(2024, 1, 4), costs)

    assert_same(fast, slow)
    assert fast.fees == slow.fees == Decimal("0.02")


# --- found by review: each of these disagreed once ------------------------------------------


def fixed(weights: dict[str, float], **rules: object) -> StrategyRuntime:
    hfea = runtime_of("hfea")
    return replace(hfea, strategy=FixedWeights(weights), rules=replace(hfea.rules, **rules))  # type: ignore[arg-type]


def test_whole_shares_land_on_the_exact_share_count() -> None:
    """$100,000 × 0.5 × 0.999 / $49.95 is exactly 1,000 shares (binary floats say 999.999…)."""
    days = pd.DatetimeIndex([pd.Timestamp(2023, 12, 29), pd.Timestamp(2024, 1, 2)])
    closes = pd.DataFrame({"AAA": [49.95, 49.95], "BBB": [20.0, 20.0]}, index=days)
    costs = BacktestCosts(slippage_bps=Decimal(0), margin_multiplier=Decimal(2))
    for weights, rules in (
        ({"AAA": 0.5, "BBB": 0.5}, {"not_fractionable": frozenset({"AAA"})}),
        ({"AAA": -0.5, "BBB": 0.5}, {"allow_shorts": True}),
    ):
        fast, slow = both(
            fixed(weights, **rules), closes, date(2024, 1, 2), date(2024, 1, 2), costs
        )
        assert_same(fast, slow)
        assert abs(fast.positions["AAA"].iloc[0]) == 1000


@pytest.mark.parametrize(("inclusive", "second_day"), [(False, "held"), (True, "traded")])
def test_a_drift_exactly_half_way_between_two_billionths_rounds_to_even(
    inclusive: bool, second_day: str
) -> None:
    """550 AAA / 450 BBB at $100, then AAA weighs exactly 0.5600000005: the drift 0.0100000005
    rounds half-to-even to 0.010000000, which is not beyond a 1-point corridor, only at it."""
    days = pd.DatetimeIndex([pd.Timestamp(2024, 1, d) for d in (2, 3, 4)])
    closes = pd.DataFrame(
        {"AAA": [100.0, 100.0, 75.6000000675], "BBB": [100.0, 100.0, 72.5999999175]}, index=days
    )
    runtime = replace(
        fixed({"AAA": 0.55, "BBB": 0.45}, cash_buffer=Decimal(0)),
        trigger=DriftRule(Decimal("0.01"), inclusive=inclusive),
    )
    costs = BacktestCosts(
        slippage_bps=Decimal(0), fees=FEE_SCHEDULES["none"], margin_multiplier=Decimal(2)
    )  # a 2× account: the buys are not trimmed to the cash, so day 1 holds exactly 550 / 450
    fast, slow = both(runtime, closes, date(2024, 1, 3), date(2024, 1, 4), costs)
    assert_same(fast, slow)
    assert fast.positions.iloc[0].tolist() == [550.0, 450.0]
    assert list(fast.outcome_by_day.astype(str)) == ["traded", second_day]


def test_capacity_is_scaled_before_shorts_are_refused() -> None:
    """The planner scales a book beyond the margin first, then refuses its short leg."""
    runtime = fixed({"AAA": -0.5, "BBB": 1.0})
    closes = defective_closes(("AAA", "BBB"), seed=2)
    costs = BacktestCosts(margin_multiplier=Decimal(1))
    fast, slow = both(runtime, closes, date(2023, 7, 5), date(2023, 9, 29), costs)
    assert_same(fast, slow)
    assert fast.scaled > 0
    assert fast.trades == 0
    assert any("shorts are not allowed" in reason for _, reason in fast.errors)


def test_a_held_fund_without_a_positive_close_stops_both_engines() -> None:
    runtime = runtime_of("hfea")
    closes = synthetic_closes(
        runtime.strategy.symbols, xnys_sessions(date(2023, 7, 3), date(2023, 12, 29))
    )
    closes.loc[pd.Timestamp(2023, 9, 12), "TMF"] = 0.0  # held since the first rebalance
    for engine in (run_fast_backtest, run_backtest):
        with pytest.raises(StateError, match="no price to value TMF"):
            engine(runtime, closes, date(2023, 7, 5), date(2023, 12, 29), costs=COSTS)


def test_an_end_beyond_the_calendar_and_malformed_tables() -> None:
    runtime = runtime_of("hfea")
    closes = defective_closes(runtime.strategy.symbols).dropna()
    fast, slow = both(runtime, closes, date(2024, 7, 1), date(2099, 12, 31), COSTS)
    assert_same(fast, slow)

    at_four = closes.set_axis(closes.index + pd.Timedelta(hours=16))
    twice = pd.concat([closes, closes.iloc[[5]]])
    for table in (at_four, closes.tz_localize("UTC"), twice):
        for engine in (run_fast_backtest, run_backtest):
            with pytest.raises(ValueError, match="closes"):
                engine(runtime, table, date(2024, 1, 2), date(2024, 3, 28))


@pytest.mark.parametrize(
    "changes",
    [
        {"slippage_bps": Decimal("NaN")},
        {"margin_rate": Decimal(-1)},
        {"initial_cash": Decimal(0)},
        {"margin_multiplier": Decimal("0.5")},
    ],
)
def test_costs_that_make_no_sense_are_refused(changes: dict[str, Decimal]) -> None:
    with pytest.raises(ValueError, match="must be"):
        BacktestCosts(**changes)  # type: ignore[arg-type]
