"""Compile the fast backtester's numba loop ahead of time, so no backtest waits for it.

    python -m bot.backtest.warm            # after `pip install 'letf-rebalancer[backtest]'`

Only code that asks for the compiled loop (``run_fast_backtest(..., compiled=True)``: parameter
sweeps, the benchmark against bt) uses it; ``bot backtest`` runs the same loop in plain Python and
needs none of this. The first compiled call after an install compiles for 10-30 s; this runs a
small synthetic backtest through the compiled loop instead, which leaves it in numba's disk cache
(``bot.backtest.compiled.cache_dir()``), and removes the loops compiled for older versions.
Exit 0 when the loop is compiled and cached, 1 without numba (the one line says what to install).
"""

from __future__ import annotations

import sys
import time
from datetime import date
from decimal import Decimal

from bot.backtest import compiled
from bot.backtest.fast import run_fast_backtest
from bot.cycle import StrategyRuntime
from bot.market.sessions import xnys_sessions
from bot.market.synthetic import synthetic_closes
from bot.planner import PlannerRules
from bot.triggers import DriftRule, relative_drift
from strategies.fixed import FixedWeights


def warm() -> float:
    """Compile (or load) the loop through a small backtest; returns the seconds it took."""
    sessions = xnys_sessions(date(2024, 1, 2), date(2024, 3, 28))
    closes = synthetic_closes(("UPRO", "TMF"), sessions, seed=1)
    runtime = StrategyRuntime(
        "warm",
        FixedWeights({"UPRO": 0.55, "TMF": 0.45}),
        DriftRule(Decimal("0.01")),
        PlannerRules(),
    )
    started = time.perf_counter()
    run_fast_backtest(runtime, closes, sessions[1], sessions[-1], compiled=True)
    compiled.measure(relative_drift)  # every corridor kind's measure (the absolute one ran)
    return time.perf_counter() - started


def main() -> int:
    """Compile, report where the loop is cached, prune other versions."""
    try:
        seconds = warm()
    except compiled.CompilerMissingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"compiled backtest loop ready in {seconds:.1f} s, cached in {compiled.cache_dir()}")
    for old in compiled.prune():
        print(f"removed the loop compiled for another version: {old}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
