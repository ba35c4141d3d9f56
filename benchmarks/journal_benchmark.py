"""The tracker's hot path, before and after its indexes (run on demand, never in CI).

    .venv/bin/python -m benchmarks.journal_benchmark [--years 3] [--runs 3] [--profile]

Every figure is a ratio against a peer measured in the same run:

1. **Queries.** A tracker file holding ``--journal-years`` of All In's journal (a real day's
   events, recorded by the cycle, repeated day by day with their dates, run ids and order ids
   moved) is written in the previous version's layout, timed with that version's scans, then
   opened by this tracker (the migration, timed) and timed with the indexed look-ups. Per call:
   ``journaled_order_ids`` and ``refused_order_ids`` for one rebalance key, ``journal_entry``,
   ``finished_cycle_on``.
2. **Cycle engine.** ``run_backtest`` (``bot backtest --engine cycle``) on ``--years`` of
   synthetic closes for HFEA and All In, per session, with this tracker and with the previous
   version's (its layout and scans, patched in for the peer run); runs interleaved, medians.
3. **Profile** (``--profile``): the cycle engine with this tracker under cProfile: the
   project's functions with the most cumulative time, and the functions with the most time of
   their own, as % of the run: where the next speed-up is.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import re
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from bot.backtest.engine import run_backtest
from bot.bootstrap import build_runtime
from bot.config import load_config
from bot.cycle import StrategyRuntime
from bot.market.sessions import xnys_sessions
from bot.market.synthetic import synthetic_closes
from bot.tracker import SCHEMA, EventKind, EventRow, Tracker

ROOT = Path(__file__).resolve().parents[1]
STRATEGIES = ("hfea", "all_in")

# --- the previous version's look-ups (git show caf92ba:bot/tracker.py), for the peer ----------

OLD_JOURNALED = (
    "SELECT json_extract(payload, '$.client_order_id') FROM events"
    " WHERE strategy = ? AND kind = ?"
    " AND json_extract(payload, '$.client_order_id') LIKE ? ESCAPE '\\'"
)
OLD_REFUSED = (
    "SELECT json_extract(payload, '$.client_order_id') FROM events"
    " WHERE strategy = ? AND kind = ?"
    " AND json_extract(payload, '$.refused_at_submit') = 1"
    " AND json_extract(payload, '$.client_order_id') LIKE ? ESCAPE '\\'"
)
OLD_ENTRY = (
    "SELECT id, run_id FROM events WHERE strategy = ? AND kind = ?"
    " AND json_extract(payload, '$.client_order_id') = ? ORDER BY id LIMIT 1"
)
OLD_FINISHED = (
    "SELECT 1 FROM events WHERE strategy = ? AND kind = ? AND run_id LIKE ?"
    " AND COALESCE(json_extract(payload, '$.outcome'), '') != 'planned' LIMIT 1"
)


def _like(prefix: str) -> str:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped}%"


def _old_journaled(self: Tracker, strategy: str, prefix: str = "") -> set[str]:
    rows = self._read(OLD_JOURNALED, (strategy, EventKind.ORDER_SUBMITTING.value, _like(prefix)))
    return {str(r[0]) for r in rows}


def _old_refused(self: Tracker, strategy: str, prefix: str = "") -> set[str]:
    rows = self._read(OLD_REFUSED, (strategy, EventKind.ORDER_REJECTED.value, _like(prefix)))
    return {str(r[0]) for r in rows}


def _old_entry(self: Tracker, strategy: str, client_order_id: str) -> tuple[int, str] | None:
    rows = self._read(OLD_ENTRY, (strategy, EventKind.ORDER_SUBMITTING.value, client_order_id))
    return (int(rows[0][0]), str(rows[0][1])) if rows else None


def _old_finished(self: Tracker, strategy: str, session: date) -> bool:
    args = (strategy, EventKind.CYCLE_FINISHED.value, f"{session:%Y%m%d}-%")
    return bool(self._read(OLD_FINISHED, args))


def _no_migration(self: Tracker) -> None:
    del self


@contextmanager
def previous_tracker() -> Iterator[None]:
    """Every Tracker opened inside is the previous version: its layout (no order-id column or
    new index) and its scans. Patched on the class, so it holds wherever the engine opens it."""
    patches: dict[str, Callable[..., Any]] = {
        "_migrate": _no_migration,
        "journaled_order_ids": _old_journaled,
        "refused_order_ids": _old_refused,
        "journal_entry": _old_entry,
        "finished_cycle_on": _old_finished,
    }
    saved = {name: vars(Tracker)[name] for name in patches}
    for name, method in patches.items():
        setattr(Tracker, name, method)
    try:
        yield
    finally:
        for name, method in saved.items():
            setattr(Tracker, name, method)


def median_call(action: Callable[[], object], seconds: float = 0.5) -> float:
    """Median seconds per call of ``action`` over about ``seconds`` of calls (at least 5)."""
    action()
    times: list[float] = []
    budget = time.perf_counter() + seconds
    while len(times) < 5 or time.perf_counter() < budget:
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


# --- 1. queries on a tracker file of N years ----------------------------------------------------


def one_day_of_all_in(runtime: StrategyRuntime) -> tuple[str, list[EventRow]]:
    """A traded All In day's events as the cycle engine records them, and that day's date."""
    sessions = xnys_sessions(date(2023, 11, 1), date(2023, 12, 29))
    closes = synthetic_closes(list(runtime.strategy.symbols), sessions, seed=11)
    day = sessions[-1]
    captured: list[EventRow] = []
    original_close = Tracker.close

    def keep(self: Tracker) -> None:
        captured.extend(self.run_events(f"{day:%Y%m%d}-backtest"))
        original_close(self)

    Tracker.close = keep  # type: ignore[method-assign]
    try:
        run_backtest(runtime, closes, day, day)
    finally:
        Tracker.close = original_close  # type: ignore[method-assign]
    if not any(e.kind == EventKind.ORDER_SUBMITTING.value for e in captured):
        msg = "the template day did not trade"
        raise RuntimeError(msg)
    return f"{day:%Y%m%d}", captured


def write_previous_layout(path: Path, years: int) -> tuple[list[date], int]:
    """``years`` of All In's journal in the previous version's layout; some orders refused."""
    runtime = build_runtime(load_config(ROOT / "config" / "all_in.toml"))
    stamp, template = one_day_of_all_in(runtime)
    dashed = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:]}"
    sessions = xnys_sessions(date(2026, 1, 2) - timedelta(days=365 * years), date(2026, 1, 2))
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(SCHEMA)  # the tables, indexes and triggers the previous version created
    db.execute("BEGIN")
    for number, day in enumerate(sessions):
        new, new_dashed = f"{day:%Y%m%d}", day.isoformat()
        rows = []
        for e in template:
            text = json.dumps(dict(e.payload), sort_keys=True)
            text = text.replace(stamp, new).replace(dashed, new_dashed)
            at = e.at.replace(dashed, new_dashed)
            rows.append((at, e.run_id.replace(stamp, new), e.strategy, e.kind, text))
            if e.kind == EventKind.ORDER_SUBMITTED.value and number % 20 == 0:
                refused = json.loads(text) | {"refused_at_submit": True}
                rows.append((at, rows[-1][1], e.strategy, "order_rejected", json.dumps(refused)))
        db.executemany(
            "INSERT INTO events (at, run_id, strategy, kind, payload) VALUES (?, ?, ?, ?, ?)",
            rows,
        )
    db.execute("COMMIT")
    db.close()
    return list(sessions), len(sessions) * len(template)


def query_figures(years: int) -> None:
    """Old scans on the old file; the migration; the indexed look-ups on the same file."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tracker.sqlite3"
        sessions, events = write_previous_layout(path, years)
        day = sessions[len(sessions) // 2]
        key = f"all_in-{day:%Y%m%d}-"
        asks: dict[str, Callable[[Tracker], object]] = {
            "journaled_order_ids": lambda t: t.journaled_order_ids("all_in", key),
            "refused_order_ids": lambda t: t.refused_order_ids("all_in", key),
            "journal_entry": lambda t: t.journal_entry("all_in", f"{key}TMF-buy"),
            "finished_cycle_on": lambda t: t.finished_cycle_on("all_in", day),
        }
        with previous_tracker():
            old = Tracker(path)
            before = {name: median_call(partial(ask, old)) for name, ask in asks.items()}
            answers = {name: ask(old) for name, ask in asks.items()}
            old.close()
        size = path.stat().st_size
        started = time.perf_counter()
        new = Tracker(path)  # migrates: the column and its index on every row
        migration = time.perf_counter() - started
        after = {name: median_call(partial(ask, new)) for name, ask in asks.items()}
        same = all(ask(new) == answers[name] for name, ask in asks.items())
        new.close()
    print(
        f"queries on {years} years of All In's journal ({events:,} events, {size / 1e6:.0f} MB):"
        f" answers identical: {same}; migration at first open {migration * 1000:.0f} ms"
    )
    for name in asks:
        print(
            f"  {name:<20} previous {before[name] * 1e6:9.1f} µs   indexed "
            f"{after[name] * 1e6:7.1f} µs   {before[name] / after[name]:8.0f}× faster"
        )


# --- 2. the cycle engine per session ------------------------------------------------------------


def backtest_inputs(name: str, years: int) -> tuple[StrategyRuntime, Any, date, date]:
    runtime = build_runtime(load_config(ROOT / "config" / f"{name}.toml"))
    end = date(2025, 12, 31)
    start = end - timedelta(days=365 * years)
    sessions = xnys_sessions(start - timedelta(days=200), end)
    closes = synthetic_closes(list(runtime.strategy.symbols), sessions, seed=11)
    return runtime, closes, start, end


def engine_figures(years: int, runs: int) -> None:
    """ms per session of run_backtest, previous tracker against this one, interleaved runs."""
    print(
        f"cycle engine (run_backtest) on {years} years of synthetic closes, CPU time, "
        f"median of {runs}:"
    )
    for name in STRATEGIES:
        runtime, closes, start, end = backtest_inputs(name, years)
        timings: dict[str, list[float]] = {"previous": [], "indexed": []}
        sessions = trades = 0
        for _ in range(runs):
            for label in ("previous", "indexed"):
                started = time.process_time()  # CPU: other processes on the machine add noise
                if label == "previous":
                    with previous_tracker():
                        result = run_backtest(runtime, closes, start, end)
                else:
                    result = run_backtest(runtime, closes, start, end)
                timings[label].append(time.process_time() - started)
                sessions, trades = len(result.equity), result.trades
        before, after = (statistics.median(timings[k]) / sessions for k in ("previous", "indexed"))
        print(
            f"  {name:<7} {sessions} sessions, {trades} trades: previous tracker "
            f"{before * 1000:.2f} ms/session, indexed {after * 1000:.2f} ms/session, "
            f"{before / after:.2f}× faster"
        )


# --- 3. where the time goes now -----------------------------------------------------------------


def _where(filename: str) -> str:
    """A short name: ``bot/cycle.py``, or the path under site-packages or the stdlib."""
    found = re.search(r"/(?:site-packages|lib/python3\.\d+)/(.*)$", filename)
    if found:
        return found.group(1)
    path = Path(filename)
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else filename


def profile_figures(years: int, top: int = 30) -> None:
    """cProfile of run_backtest with this tracker: the project's functions with the most
    cumulative time, and the functions (any) with the most time of their own, as % of the run
    (the profiler inflates Python-heavy code; read the order, not the exact shares)."""
    for name in STRATEGIES:
        runtime, closes, start, end = backtest_inputs(name, years)
        profiler = cProfile.Profile()
        profiler.enable()
        run_backtest(runtime, closes, start, end)
        profiler.disable()
        table: dict[tuple[str, int, str], Any] = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
        total = max(row[3] for row in table.values())  # run_backtest's cumulative time
        print(f"profile of {name} ({years} years), {total:.1f} s under cProfile:")
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


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--years", type=int, default=3, help="of the cycle-engine backtest")
    parser.add_argument("--journal-years", type=int, default=3, help="of the query benchmark")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--skip-engine", action="store_true")
    args = parser.parse_args()
    query_figures(args.journal_years)
    if not args.skip_engine:
        engine_figures(args.years, args.runs)
    if args.profile:
        profile_figures(args.years)


if __name__ == "__main__":
    main()
