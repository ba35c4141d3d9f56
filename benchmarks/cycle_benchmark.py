"""Cycle benchmark against the fake Alpaca server (run on demand, never in CI).

    .venv/bin/python -m benchmarks.cycle_benchmark [--runs 7]

Prints, for HFEA and All In: HTTP requests per cycle against the goal (8 + 2 per order), and the
CPU time of one cycle (median of several runs, each on a fresh account) as a ratio against a
peer measured in the same run: the same cycle on the in-process simulated broker.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import Counter
from datetime import date, datetime
from datetime import time as clock_time
from decimal import Decimal
from pathlib import Path

from bot.adapters.frame_market import FrameMarketData
from bot.adapters.sim_broker import CloseTable, SimulatedBroker
from bot.adapters.xnys_calendar import XnysCalendar
from bot.bootstrap import build_runtime
from bot.clock import SimulatedClock
from bot.cycle import NEW_YORK, Adapters, run_cycle
from bot.market.sessions import xnys_sessions
from bot.market.synthetic import synthetic_closes
from bot.tracker import Tracker
from tests.alpaca_world import TODAY, alpaca_config, start_world

STRATEGIES = {
    "hfea": ["UPRO", "TMF"],
    "all_in": ["TECL", "BITU", "TMF", "RSST", "DFEN", "UTSL", "VXUS", "UGL", "USFR"],
}


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


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
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


if __name__ == "__main__":
    main()
