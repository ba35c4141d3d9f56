"""The fast backtester's loop compiled by numba gives exactly the plain loop's numbers: the same
code, the same IEEE arithmetic, on every seed strategy with costs, margin, financing and the data
defects the cycle refuses, and on the real funds when ../shared/data is present.

(tests/test_fast_backtest.py holds the plain loop, what ``bot backtest`` runs, equal to the cycle.)
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.adapters.sim_broker import FEE_SCHEDULES
from bot.backtest import compiled
from bot.backtest.engine import BacktestCosts, BacktestResult
from bot.backtest.fast import run_fast_backtest
from bot.bootstrap import build_runtime
from bot.config import load_config
from bot.cycle import StrategyRuntime
from bot.market.csv_source import load_closes_dir
from bot.market.sessions import xnys_sessions
from bot.market.synthetic import synthetic_closes
from bot.triggers import DriftRule, RelativeDriftRule

pytest.importorskip("numba", reason="the compiled loop needs the backtest extra")

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT.parent / "shared" / "data" / "etf_adjclose"
COSTS = BacktestCosts(
    slippage_bps=Decimal(2),
    fees=FEE_SCHEDULES["current"],
    margin_multiplier=Decimal(2),
    borrow_rate=Decimal("0.005"),
    margin_rate=Decimal("0.065"),
)


def runtime_of(name: str) -> StrategyRuntime:
    return build_runtime(load_config(ROOT / "config" / f"{name}.toml"))


def assert_identical(plain: BacktestResult, fast: BacktestResult) -> None:
    """Bit for bit: every day's equity and book, outcomes, refusals, costs."""
    assert np.array_equal(plain.equity.to_numpy(), fast.equity.to_numpy())
    assert np.array_equal(plain.positions.to_numpy(), fast.positions.to_numpy())
    pd.testing.assert_series_equal(plain.outcome_by_day, fast.outcome_by_day)
    assert plain.errors == fast.errors
    for name in ("trades", "scaled", "fees", "slippage", "financing", "traded_notional"):
        assert getattr(plain, name) == getattr(fast, name), name


@pytest.mark.parametrize("name", ["hfea", "all_in", "uisx3", "max_yield"])
def test_the_compiled_loop_gives_the_plain_loops_numbers_exactly(name: str) -> None:
    runtime = runtime_of(name)
    symbols = list(runtime.strategy.symbols)
    closes = synthetic_closes(symbols, xnys_sessions(date(2022, 1, 3), date(2024, 12, 31)), seed=5)
    closes.loc[pd.Timestamp(2024, 3, 12), symbols[0]] = np.nan  # a missing close
    closes.loc[pd.Timestamp(2024, 6, 3), symbols[-1]] *= 0.4  # a glitch print
    start, end = date(2022, 9, 1), date(2024, 12, 31)

    plain = run_fast_backtest(runtime, closes, start, end, costs=COSTS)
    fast = run_fast_backtest(runtime, closes, start, end, costs=COSTS, compiled=True)

    assert plain.trades > 0
    assert_identical(plain, fast)


def test_the_compiled_loop_runs_any_corridor_by_its_own_measure() -> None:
    """The relative corridor's measure, a plain function in bot/triggers/relative.py, is
    compiled on its own and handed to the same compiled loop: no case for it in the kernel."""
    runtime = replace(runtime_of("all_in"), trigger=RelativeDriftRule(Decimal("0.2")))
    symbols = list(runtime.strategy.symbols)
    closes = synthetic_closes(symbols, xnys_sessions(date(2023, 1, 3), date(2024, 12, 31)), seed=8)
    start, end = date(2023, 3, 1), date(2024, 12, 31)

    plain = run_fast_backtest(runtime, closes, start, end, costs=COSTS)
    fast = run_fast_backtest(runtime, closes, start, end, costs=COSTS, compiled=True)
    absolute = run_fast_backtest(
        replace(runtime, trigger=DriftRule(Decimal("0.2"))), closes, start, end, costs=COSTS
    )

    assert plain.trades > 0
    assert plain.trades != absolute.trades  # the measure decides, not a default
    assert_identical(plain, fast)


@pytest.mark.skipif(not REAL.is_dir(), reason=f"real data not present at {REAL}")
@pytest.mark.parametrize(
    ("name", "start"),
    [("hfea", date(2009, 7, 1)), ("all_in", date(2024, 4, 4)), ("uisx3", date(2010, 1, 4))],
)
def test_the_compiled_loop_gives_the_plain_loops_numbers_on_the_real_funds(
    name: str, start: date
) -> None:
    runtime = runtime_of(name)
    closes = load_closes_dir(REAL, list(runtime.strategy.symbols))
    end = date(2026, 7, 13)

    plain = run_fast_backtest(runtime, closes, start, end, costs=COSTS)
    fast = run_fast_backtest(runtime, closes, start, end, costs=COSTS, compiled=True)

    assert_identical(plain, fast)


def test_the_compiled_loop_is_cached_per_version_of_the_source() -> None:
    """numba keys its cache on the entry point's file and bytecode only, not on what it
    inlines; a directory per hash of every compiled module keeps a stale loop from loading."""
    directory = compiled.cache_dir()
    assert directory.parent == compiled.cache_root()
    assert directory.name == compiled.source_hash()
    compiled.run_days()  # built (compiled or loaded on its first call)
    assert directory.is_dir()
