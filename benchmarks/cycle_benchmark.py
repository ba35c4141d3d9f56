"""Cycle benchmarks (run on demand, never in CI).

    .venv/bin/python -m benchmarks.cycle_benchmark [--runs 7] [--engine-runs 5] [--years 2]
        [--skip-alpaca] [--skip-engine] [--profile]

1. **Against the fake Alpaca server.** For HFEA and All In: HTTP requests per cycle against the
   goal (8 + 2 per order), and the CPU time of one cycle (median of several runs, each on a
   fresh account) as a ratio against a peer measured in the same run: the same cycle on the
   in-process simulated broker.
2. **The cycle engine per session** (``run_backtest``, ``bot backtest --engine cycle``): the
   CPU time per session of config/hfea.toml and config/all_in.toml over the last ``--years`` of
   the real closes (docs/DATA.md; synthetic closes when the data directory is absent), median
   of ``--engine-runs``, against issue #10's figures when it was opened (3 ms and 26 ms a
   session) and its goal, five times faster.
3. **Profile** (``--profile``): the cycle engine under cProfile, the project's functions with the
   most cumulative time and any function's own time, as % of the run (the profiler inflates
   Python-heavy code; read the order, not the exact shares).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import re
import statistics
import tempfile
import time
from collections import Counter
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from bot.adapters.frame_market import FrameMarketData
from bot.adapters.sim_broker import CloseTable, SimulatedBroker
from bot.adapters.xnys_calendar import XnysCalendar
from bot.backtest.engine import run_backtest
from bot.bootstrap import build_runtime
from bot.clock import SimulatedClock
from bot.config import load_config
from bot.cycle import NEW_YORK, Adapters, StrategyRuntime, run_cycle
from bot.market.csv_source import load_closes_dir
from bot.market.sessions import xnys_sessions
from bot.market.synthetic import synthetic_closes
from bot.tracker import Tracker
from tests.alpaca_world import TODAY, alpaca_config, start_world

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "etf_adjclose"
STRATEGIES = {
    "hfea": ["UPRO", "TMF"],
    "all_in": ["TECL", "BITU", "TMF", "RSST", "DFEN", "UTSL", "VXUS", "UGL", "USFR"],
}
ISSUE_MS = {"hfea": 3.0, "all_in": 26.0}  # ms a session when issue #10 was opened; goal: ÷ 5


def alpaca_cycle(name: str, symbols: list[str]) -> tuple[float, int, int, Counter[str]]:
    """One cycle from cash on a fresh fake account: CPU seconds, requests, orders, routes."""
    with tempfile.TemporaryDirectory() as tmp:
        world = start_world(Path(tmp), symbols)
        try:
            bot = world.bot(alpaca_config(name))
            before = len(world.fake.requests)
            started = time.process_time()
            result = run_cycle(bot.adapters, bot.runtime)
            cpu = time.process_time() - started
            requests = world.fake.requests[before:]
            bot.adapters.tracker.close()
        finally:
            world.fake.stop()
    if result.outcome != "traded":
        msg = f"{name}: the benchmark cycle did not trade: {result.reason}"
        raise RuntimeError(msg)
    return cpu, len(requests), len(result.orders), Counter(r.route for r in requests)


def simulated_cycle(name: str, symbols: list[str]) -> float:
    """The peer: the same strategy's cycle on the simulated broker (no HTTP)."""
    closes = synthetic_closes(symbols, xnys_sessions(date(2026, 3, 1), TODAY), seed=11)
    with tempfile.TemporaryDirectory() as tmp:
        clock = SimulatedClock(datetime.combine(TODAY, clock_time(15, 45), NEW_YORK))
        broker = SimulatedBroker(CloseTable(closes, clock), Decimal(100_000))
        tracker = Tracker(Path(tmp) / "t.sqlite3")
        adapters = Adapters(broker, FrameMarketData(closes), XnysCalendar(), tracker, clock)
        runtime = build_runtime(alpaca_config(name))
        started = time.process_time()
        run_cycle(adapters, runtime)
        cpu = time.process_time() - started
        tracker.close()
    return cpu


# --- 2. the cycle engine per session ----------------------------------------------------------


def engine_inputs(name: str, years: int) -> tuple[StrategyRuntime, pd.DataFrame, date, date, str]:
    """The configured strategy, its closes (real when present), the span and where they came
    from: the last ``years`` of the data."""
    runtime = build_runtime(load_config(ROOT / "config" / f"{name}.toml"))
    symbols = list(runtime.strategy.symbols)
    if REAL.is_dir():
        closes = load_closes_dir(REAL, symbols)
        source = "real closes"
    else:
        span = xnys_sessions(date(2020, 1, 2), date(2025, 12, 31))
        closes = synthetic_closes(symbols, span, seed=11)
        source = "synthetic closes"
    end = closes.index[-1].date()
    return runtime, closes, end - timedelta(days=365 * years), end, source


def engine_figures(years: int, runs: int) -> None:
    """CPU ms per session of run_backtest for each strategy, median of ``runs`` (one warm-up)."""
    for name in STRATEGIES:
        runtime, closes, start, end, source = engine_inputs(name, years)
        run_backtest(runtime, closes, start, end)  # warm-up: the calendar, imports, caches
        timings = []
        for _ in range(runs):
            started = time.process_time()  # CPU: other processes on the machine add noise
            result = run_backtest(runtime, closes, start, end)
            timings.append(time.process_time() - started)
        sessions = len(result.equity)
        per = statistics.median(timings) / sessions * 1000
        best = min(timings) / sessions * 1000
        print(
            f"{name}: cycle engine, {sessions} sessions {start} → {end} ({source}), "
            f"{result.trades} trades"
        )
        print(
            f"  {per:.2f} ms CPU a session (median of {runs}; best {best:.2f}); issue #10: "
            f"{ISSUE_MS[name]:g} ms, so {ISSUE_MS[name] / per:.1f}× faster "
            f"(goal 5×: ≤ {ISSUE_MS[name] / 5:.2f} ms)"
        )


# --- 3. where the engine's time goes ------------------------------------------------------------


def _where(filename: str) -> str:
    """A short name: ``bot/cycle.py``, or the path under site-packages or the stdlib."""
    found = re.search(r"/(?:site-packages|lib/python3\.\d+)/(.*)$", filename)
    if found:
        return found.group(1)
    path = Path(filename)
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else filename


def profile_figures(years: int, top: int = 30) -> None:
    """cProfile of run_backtest: the project's functions by cumulative time, any function by
    its own time, as % of the run."""
    for name in STRATEGIES:
        runtime, closes, start, end, _ = engine_inputs(name, years)
        run_backtest(runtime, closes, start, end)
        profiler = cProfile.Profile()
        profiler.enable()
        run_backtest(runtime, closes, start, end)
        profiler.disable()
        table: dict[tuple[str, int, str], Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
        total = max(row[3] for row in table.values())
        print(f"profile of the {name} cycle engine, {total:.2f} s under cProfile:")
        print("  cumulative, the project's functions:")
        ours = [
            (row, _where(filename), line, function)
            for (filename, line, function), row in table.items()
            if Path(filename).is_relative_to(ROOT) and "site-packages" not in filename
        ]
        for row, where, line, function in sorted(ours, key=lambda o: o[0][3], reverse=True)[:top]:
            print(f"    {row[3] / total:6.1%}  {where}:{line}:{function}  ({row[1]} calls)")
        print("  own time, any function:")
        ranked = sorted(table.items(), key=lambda item: item[1][2], reverse=True)
        for (filename, line, function), row in ranked[: top // 2]:
            print(
                f"    {row[2] / total:6.1%}  {_where(filename)}:{line}:{function}  ({row[1]} calls)"
            )


def alpaca_figures(runs: int) -> None:
    """Requests and CPU per cycle against the fake Alpaca server, and the simulated peer."""
    for name, symbols in STRATEGIES.items():
        alpaca = [alpaca_cycle(name, symbols) for _ in range(runs)]
        peer = [simulated_cycle(name, symbols) for _ in range(runs)]
        cpu = statistics.median(a[0] for a in alpaca)
        peer_cpu = statistics.median(peer)
        _, requests, orders, routes = alpaca[-1]
        goal = 8 + 2 * orders
        print(
            f"{name}: {orders} orders, {requests} HTTP requests per cycle (goal ≤ {goal}: "
            f"{requests / goal:.2f}× the goal)"
        )
        print(
            f"  CPU per cycle {cpu * 1000:.0f} ms (goal < 1000 ms); simulated-broker peer "
            f"{peer_cpu * 1000:.0f} ms; ratio {cpu / peer_cpu:.2f}×  (median of {runs})"
        )
        print("  requests: " + ", ".join(f"{route} ×{n}" for route, n in routes.most_common()))


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="cycles against the fake server")
    parser.add_argument("--engine-runs", type=int, default=5, help="backtests of the engine")
    parser.add_argument("--years", type=int, default=2, help="of closes the engine runs on")
    parser.add_argument("--skip-alpaca", action="store_true", help="no fake-server part")
    parser.add_argument("--skip-engine", action="store_true", help="no cycle-engine part")
    parser.add_argument("--profile", action="store_true", help="profile the cycle engine")
    args = parser.parse_args()
    if not args.skip_alpaca:
        alpaca_figures(args.runs)
    if not args.skip_engine:
        engine_figures(args.years, args.engine_runs)
    if args.profile:
        profile_figures(args.years)


if __name__ == "__main__":
    main()
