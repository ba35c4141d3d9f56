"""Backtest speed against bt, and a UISx3 parameter sweep (run on demand, never in CI).

    .venv/bin/python -m benchmarks.backtest_benchmark [--runs 9]

Needs ../shared/data (real closes), bt and numba (the ``backtest`` extra): "ours" is the loop
compiled by numba (``compiled=True``); the plain-Python loop that ``bot backtest`` runs (same
numbers) is timed too. For HFEA quarterly 2009–2026 and the inverse-vol
basket with the 1-point corridor 2017–2026 (benchmarks/parity.py: same rules, same closes, no
costs) it prints, in one run:

* that the equity curves agree (max relative difference, the bar is 1e-9);
* the median time of our fast backtest and of bt's simulation, data loading excluded for both
  (bt: ``Backtest.run()`` only — not building the Backtest, not its statistics, which favours
  bt), and their ratio;
* the same with loading included (reading the CSV files, building bt's Backtest);
* our day-by-day cycle engine on the same HFEA run, as a second peer;
* a UISx3 sweep: lookback 50–80 × f ∈ {1.5, 2, 2.5, 3} (124 backtests, with costs) and its time.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.parity import (
    BASKET,
    BASKET_RANGE,
    FIXED,
    FRICTIONLESS,
    HFEA_RANGE,
    HFEA_WEIGHTS,
    REAL,
    ROOT,
    basket_runtime,
    common_closes,
    hfea_runtime,
)
from bot.backtest.engine import BacktestCosts, run_backtest
from bot.backtest.fast import run_fast_backtest
from bot.config import load_config
from bot.cycle import StrategyRuntime
from bot.market.csv_source import load_closes_dir
from bot.sweep.plan import plan_grid, plan_sweep, run_sweep


def median_seconds(action: Callable[[], Any], runs: int) -> float:
    """Median wall time of ``action`` over ``runs`` calls (after one untimed warm-up)."""
    action()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def compare(  # noqa: PLR0917 - one row of the benchmark table
    label: str,
    symbols: list[str],
    span: tuple[date, date],
    runtime: StrategyRuntime,
    build_bt: Callable[[pd.DataFrame], Any],
    rows: tuple[int, int],
    runs: int,
) -> None:
    """Agreement and speed of one backtest, ours against bt. ``rows``: the rows where our run
    and bt's table start (the bot needs the previous session's bar; before the first full
    lookback both sides hold cash)."""
    ours_from, bt_from = rows
    from benchmarks import bt_peers  # noqa: PLC0415 - needs bt, a benchmark-only dependency

    def load() -> pd.DataFrame:
        return common_closes(load_closes_dir(REAL, symbols), *span)

    closes = load()
    start, end = closes.index[ours_from].date(), closes.index[-1].date()
    bt_closes = closes.iloc[bt_from:]

    def ours() -> pd.Series:
        return run_fast_backtest(
            runtime, closes, start, end, costs=FRICTIONLESS, compiled=True
        ).equity

    def plain() -> pd.Series:
        return run_fast_backtest(runtime, closes, start, end, costs=FRICTIONLESS).equity

    backtests: list[Any] = []

    def theirs() -> None:
        backtests[-1].run()

    def theirs_timed() -> None:  # a fresh Backtest per run: bt's run mutates its tree
        backtests.append(build_bt(bt_closes))
        start_time = time.perf_counter()
        theirs()
        bt_times.append(time.perf_counter() - start_time)

    bt_times: list[float] = []
    for _ in range(runs + 1):
        theirs_timed()
    bt_seconds = statistics.median(bt_times[1:])
    our_seconds = median_seconds(ours, runs)
    plain_seconds = median_seconds(plain, max(runs // 3, 1))
    curve = ours()
    assert curve.equals(plain()), "the compiled and the plain loop differ"
    bt_curve = bt_peers.equity(backtests[-1]).loc[curve.index]
    relative = float(np.abs(curve.to_numpy() / bt_curve.to_numpy() - 1).max())

    def ours_loading() -> None:
        frame = load()
        run_fast_backtest(
            runtime, frame, frame.index[ours_from].date(), end, costs=FRICTIONLESS, compiled=True
        )

    def theirs_loading() -> None:
        frame = load()
        backtest = build_bt(frame.iloc[bt_from:])
        backtest.run()

    our_loaded = median_seconds(ours_loading, runs)
    bt_loaded = median_seconds(theirs_loading, runs)
    print(f"\n{label}: {start} → {end}, {len(curve)} sessions")
    print(f"  equity curves agree: max relative difference {relative:.2e} (bar 1e-9)")
    print(
        f"  excluding loading: ours {our_seconds * 1000:7.2f} ms   bt {bt_seconds * 1000:7.1f} ms"
        f"   bt/ours = {bt_seconds / our_seconds:5.0f}×"
    )
    print(
        f"  plain-Python loop (bot backtest): {plain_seconds * 1000:7.2f} ms"
        f"   bt/plain = {bt_seconds / plain_seconds:5.1f}×   (the same curve, bit for bit)"
    )
    print(
        f"  including loading: ours {our_loaded * 1000:7.2f} ms   bt {bt_loaded * 1000:7.1f} ms"
        f"   bt/ours = {bt_loaded / our_loaded:5.0f}×"
    )
    if label.startswith("HFEA"):
        cycle = median_seconds(
            lambda: run_backtest(runtime, closes, start, end, costs=FRICTIONLESS), max(runs // 3, 1)
        )
        print(
            f"  our day-by-day cycle engine: {cycle * 1000:7.0f} ms   "
            f"cycle/fast = {cycle / our_seconds:5.0f}×"
        )


def sweep(runs: int) -> None:
    """UISx3 over lookback 50–80 × f ∈ {1.5, 2, 2.5, 3}: 124 backtests with costs, through
    ``bot sweep``'s API in this process (``benchmarks/sweep_benchmark.py`` times its other
    executors)."""
    config = load_config(ROOT / "config" / "uisx3.toml")
    grid = plan_grid(config, ["strategy.lookback_days=50..80", "strategy.f=1.5,2,2.5,3"])
    closes = load_closes_dir(REAL, list(grid.symbols))
    start, end = date(2010, 1, 4), date(2026, 7, 14)
    costs = BacktestCosts(margin_multiplier=Decimal(2))  # the 3× gold leg needs margin
    plan = plan_sweep(grid, closes, start=start, end=end, costs=costs, compiled=True)
    results: list[tuple[float, int, float]] = []

    def run_all() -> None:
        results.clear()
        for point in run_sweep(plan):
            stats = point.stats()
            assert stats is not None
            settings = dict(point.settings)
            lookback, f = int(settings["strategy.lookback_days"]), float(settings["strategy.f"])
            results.append((stats.cagr, lookback, f))

    seconds = median_seconds(run_all, max(runs // 3, 1))
    best = sorted(results, reverse=True)[:3]
    n = len(plan.points)
    print(f"\nUISx3 sweep {start} → {end}: {n} backtests (1 bp slippage, fees, 2× margin)")
    print(f"  total {seconds:.2f} s, {seconds / n * 1000:.1f} ms per backtest")
    print(
        "  highest CAGR (in-sample, so an overfitting warning, not a recommendation): "
        + ", ".join(f"lookback {lb} f {f}: {cagr:+.1%}" for cagr, lb, f in best)
    )


def main() -> None:
    """Print every figure of the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    if not REAL.is_dir():
        print(f"skipped: no data at {REAL}")
        return
    warnings.filterwarnings("ignore", message="A future version of pandas")
    from benchmarks import bt_peers  # noqa: PLC0415 - needs bt

    start = time.perf_counter()
    run_fast_backtest(
        hfea_runtime(),
        common_closes(load_closes_dir(REAL, list(HFEA_WEIGHTS)), *HFEA_RANGE),
        date(2020, 1, 2),
        date(2020, 12, 31),
        compiled=True,
    )
    first = time.perf_counter() - start
    print(
        f"first compiled backtest in this process (imports numba, loads its cache or compiles "
        f"it: python -m bot.backtest.warm does that ahead): {first:.2f} s"
    )
    compare(
        "HFEA 55/45 quarterly",
        list(HFEA_WEIGHTS),
        HFEA_RANGE,
        hfea_runtime(),
        lambda c: bt_peers.build_fixed_quarterly(c, HFEA_WEIGHTS),
        (1, 1),
        args.runs,
    )
    compare(
        "Inverse-vol basket, 1-point corridor",
        [*BASKET, *FIXED],
        BASKET_RANGE,
        basket_runtime(),
        lambda c: bt_peers.build_inverse_vol_corridor(c, list(BASKET), FIXED),
        (2, 0),
        args.runs,
    )
    sweep(args.runs)


if __name__ == "__main__":
    main()
