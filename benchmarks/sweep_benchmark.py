"""`bot sweep`'s executors, timed (run on demand, never in CI).

    .venv/bin/python -m benchmarks.sweep_benchmark [--big] [--data DIR]

On the README's UISx3 grid (lookback 50–80 × f ∈ {1.5, 2, 2.5, 3}: 124 backtests, 2010-01-04 →
2026-07-14, 6.5% margin and 0.5% borrow rates, 2× margin) it prints the wall time of the sweep
in this process, on 1 and 2 local worker processes and on a local Dask cluster of 2 worker
processes (started here, on 127.0.0.1; its start-up is not counted), and checks that all four
give the same table. ``--big`` adds a 10,000-point grid (lookback 20–269 × f 0.1–4.0 in steps
of 0.1) on 2 local worker processes. Each time includes starting the workers and sending them
the closes: what a user waits for.

The closes are the real ones in ``--data`` (default: ../shared/data/etf_adjclose, the layout of
docs/DATA.md); without them, seeded synthetic closes over the same dates (labelled so).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd

from bot.backtest.engine import BacktestCosts
from bot.config import load_config
from bot.market.csv_source import load_closes_dir
from bot.market.sessions import xnys_sessions
from bot.market.synthetic import synthetic_closes
from bot.sweep.executors import DaskCluster, Executor, InProcess, LocalProcesses
from bot.sweep.plan import SweepPlan, plan_grid, plan_sweep, run_sweep
from bot.sweep.point import PointResult

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT.parent / "shared" / "data" / "etf_adjclose"
SYMBOLS = ["SPXL", "TMF", "GLD"]
START, END = date(2010, 1, 4), date(2026, 7, 14)
README_GRID = ["strategy.lookback_days=50..80", "strategy.f=1.5,2,2.5,3"]
BIG_GRID = ["strategy.lookback_days=20..269", "strategy.f=0.1..4:0.1"]
COSTS = BacktestCosts(
    margin_multiplier=Decimal(2), margin_rate=Decimal("0.065"), borrow_rate=Decimal("0.005")
)


def closes(data: Path) -> tuple[pd.DataFrame, str]:
    """The closes and a word on what they are."""
    if data.is_dir():
        return load_closes_dir(data, SYMBOLS), f"real closes from {data}"
    sessions = xnys_sessions(date(2008, 11, 5), END)
    return synthetic_closes(SYMBOLS, sessions, seed=7), "SYNTHETIC closes (no real data found)"


def plan(grid: list[str], frame: pd.DataFrame) -> SweepPlan:
    """The UISx3 sweep of ``grid`` over the benchmark's period."""
    config = load_config(ROOT / "config" / "uisx3.toml")
    return plan_sweep(plan_grid(config, grid), frame, start=START, end=END, costs=COSTS)


def timed(action: Callable[[], tuple[PointResult, ...]]) -> tuple[float, tuple[PointResult, ...]]:
    """Wall time of one call, and its result."""
    started = time.perf_counter()
    results = action()
    return time.perf_counter() - started, results


def report(name: str, seconds: float, points: int) -> None:
    """One line of the table."""
    print(f"  {name:<44} {seconds:7.1f} s   {seconds / points * 1000:6.1f} ms a point")


def main() -> None:
    """Print every figure of the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REAL)
    parser.add_argument("--big", action="store_true", help="also time a 10,000-point grid")
    args = parser.parse_args()
    frame, what = closes(args.data)
    readme = plan(README_GRID, frame)
    n = len(readme.points)
    print(f"UISx3 sweep {START} → {END}, {n} points, on {what}")
    executors: list[tuple[str, Executor, int]] = [
        ("in this process", InProcess(), 1),
        ("1 local worker process", LocalProcesses(1), 1),
        ("2 local worker processes", LocalProcesses(2), 2),
    ]
    tables = []
    for name, executor, workers in executors:
        seconds, results = timed(lambda e=executor, w=workers: run_sweep(readme, e, workers=w))
        report(name, seconds, n)
        tables.append(results)
    import distributed  # noqa: PLC0415 - the sweep extra

    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        dask = DaskCluster(cluster.scheduler_address)
        seconds, results = timed(lambda: run_sweep(readme, dask, workers=8))
        report("a local Dask cluster, 2 worker processes", seconds, n)
        tables.append(results)
    same = all(table == tables[0] for table in tables)
    print(f"  the same table from every executor: {same}")
    if args.big:
        big = plan(BIG_GRID, frame)
        print(f"\n{len(big.points):,} points ({big.grid.describe()})")
        seconds, _ = timed(lambda: run_sweep(big, LocalProcesses(2), workers=2))
        report("2 local worker processes", seconds, len(big.points))


if __name__ == "__main__":
    main()
