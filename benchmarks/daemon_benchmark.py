"""Daemon benchmark: a simulated year of daily wakes on the simulated broker (run on demand).

    .venv/bin/python -m benchmarks.daemon_benchmark

Prints peak RSS (goal ≤ 150 MB), the RSS growth from the end of month 1 to the end of month 12
(goal: flat), and the CLI start-up time (goal < 1.5 s) next to a peer measured in the same run:
a bare `python -c "import bot"` for start-up, and the RSS right after building the daemon for
memory.
"""

from __future__ import annotations

import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from bot.adapters.frame_market import FrameMarketData
from bot.adapters.sim_broker import CloseTable, SimulatedBroker
from bot.adapters.xnys_calendar import XnysCalendar
from bot.bootstrap import build_runtime
from bot.clock import SimulatedClock
from bot.config import load_config
from bot.cycle import NEW_YORK, Adapters
from bot.daemon import Daemon, Member
from bot.logs import configure_logging
from bot.market.sessions import xnys_sessions
from bot.market.synthetic import synthetic_closes
from bot.tracker import Tracker

ROOT = Path(__file__).resolve().parent.parent


def rss_mb() -> float:
    """Current resident set size of this process, in MB (Linux /proc)."""
    with open(f"/proc/{os.getpid()}/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def year_of_wakes() -> tuple[float, float, float, float, int]:
    """All In over 2025 on the simulated clock: RSS at start, month 1, month 12, peak; cycles."""
    runtime = build_runtime(load_config(ROOT / "config" / "demo.toml"))
    closes = synthetic_closes(
        runtime.strategy.symbols, xnys_sessions(date(2024, 9, 1), date(2025, 12, 31))
    )
    with tempfile.TemporaryDirectory() as tmp:
        clock = SimulatedClock(datetime(2025, 1, 2, 9, 0, tzinfo=NEW_YORK))
        broker = SimulatedBroker(
            CloseTable(closes, clock), Decimal(100_000), book_path=Path(tmp) / "book.jsonl"
        )
        tracker = Tracker(Path(tmp) / "tracker.sqlite3")
        adapters = Adapters(broker, FrameMarketData(closes), XnysCalendar(), tracker, clock)
        daemon = Daemon([Member(runtime, adapters)], tracker, timedelta(minutes=15))
        start = rss_mb()
        daemon.run_simulated(until=date(2025, 1, 31))
        month1 = rss_mb()
        daemon.run_simulated(until=date(2025, 12, 31))
        month12 = rss_mb()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # KiB → MB
        return start, month1, month12, peak, daemon.summary().cycles


def startup(command: list[str], runs: int = 7) -> float:
    """Median wall time of a command."""
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> None:
    """Run and print."""
    configure_logging(logging.WARNING)  # a year of cycle lines would drown the figures
    start, month1, month12, peak, cycles = year_of_wakes()
    print(f"simulated year: {cycles} cycles of All In with 9 funds")
    print(
        f"  RSS after building the daemon {start:.0f} MB; end of month 1 {month1:.0f} MB; "
        f"end of month 12 {month12:.0f} MB (growth {month12 - month1:+.1f} MB, "
        f"{month12 / month1:.2f}×)"
    )
    print(f"  peak RSS {peak:.0f} MB (goal ≤ 150 MB)")
    bot_help = startup([sys.executable, "-m", "bot", "--help"])
    bare = startup([sys.executable, "-c", "import bot"])
    print(
        f"CLI start-up `bot --help`: {bot_help:.2f} s (goal < 1.5 s); peer `import bot`: "
        f"{bare:.2f} s; ratio {bot_help / bare:.1f}×"
    )


if __name__ == "__main__":
    main()
