"""``bot sweep``: the shell around ``plan_sweep`` and ``run_sweep`` — read the config and the
closes as ``bot backtest`` does, check every input before any work, run, write the table and
the heatmap, print the best and the worst points."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.backtest.command import backtest_inputs
from bot.backtest.progress import progress_bar
from bot.config import load_config
from bot.errors import ConfigError
from bot.logs import configure_logging
from bot.portfolio.config import is_portfolio_file
from bot.sweep.executors import DaskCluster, Executor, InProcess, LocalProcesses, require_dask
from bot.sweep.grid import Grid
from bot.sweep.heatmap import HEATMAP_NEEDS, draw_heatmap
from bot.sweep.plan import SweepPlan, plan_grid, plan_sweep, run_sweep
from bot.sweep.point import PointResult
from bot.sweep.table import Metric, parse_metric, ranked, write_csv, write_json
from bot.sweep.windows import parse_windows


def sweep_command(args: argparse.Namespace) -> int:
    """Run a sweep; every input (grid, windows, ranking, heatmap keys, executor) is checked
    before the data is read and the data before the first backtest, so a typo costs nothing."""
    configure_logging(logging.WARNING)  # thousands of backtests are not news
    if is_portfolio_file(args.config):
        msg = f"{args.config} is a portfolio file: bot sweep takes one strategy's config file"
        raise ConfigError(msg)
    if args.own_start and args.start is not None:
        msg = "--own-start and --start exclude each other: each point's own day, or one for all"
        raise ConfigError(msg)
    config = load_config(args.config)
    grid = plan_grid(config, args.grid)
    labels = [window.label for window in parse_windows(tuple(args.window))]
    metric = parse_metric(args.rank_by, labels)
    heat_keys = _heatmap_keys(args.heatmap, grid.grid)
    executor, workers = _executor(args, len(grid.points))
    args.benchmark = ""  # a sweep compares its points with each other, not with a fund
    inputs = backtest_inputs(args, config, list(grid.symbols), grid.history)
    costs = inputs.costs
    if args.margin_multiplier is not None:
        costs = replace(costs, margin_multiplier=Decimal(args.margin_multiplier))
    plan = plan_sweep(
        grid,
        inputs.closes,
        windows=args.window,
        start=args.start,
        end=args.end,
        costs=costs,
        compiled=args.compiled,
        own_start=args.own_start,
        conventions=args.conventions,
    )
    out: Path = args.out or Path(f"sweep-{config.name}")
    first = "from each point's first tradable day" if args.own_start else str(plan.task.start)
    whose = "" if args.conventions == "bot" else f", {args.conventions} statistics"
    print(
        f"sweep: {config.name}, {len(plan.points):,} points ({plan.grid.describe()}), "
        f"{first} → {plan.task.end}, {executor.describe()}{whose}",
        *inputs.notes,
        sep="\n",
    )
    started = time.perf_counter()
    with progress_bar(sys.stderr, unit="points") as progress:
        results = run_sweep(plan, executor, workers=workers, progress=progress)
    seconds = time.perf_counter() - started
    written = _write(
        out, plan, results, args=args, heat_keys=heat_keys, metric=metric, name=config.name
    )
    print(render(results, metric, args.top))
    print(f"wrote {', '.join(str(p) for p in written)}")
    print(f"time: {seconds:.1f} s ({seconds / len(results) * 1000:.1f} ms a point)")
    return 0


def _executor(args: argparse.Namespace, points: int) -> tuple[Executor, int]:
    if args.scheduler:
        require_dask()  # before the run: say what to install
        return DaskCluster(args.scheduler), 8  # chunks sized for a small cluster
    workers = min(args.workers or _cpus(), points)
    return (InProcess(), 1) if workers == 1 else (LocalProcesses(workers), workers)


def _cpus() -> int:
    """The CPUs this process may run on (a container's share, not the host's count)."""
    if hasattr(os, "sched_getaffinity"):
        return max(len(os.sched_getaffinity(0)), 1)
    return os.cpu_count() or 1


def _heatmap_keys(text: str | None, grid: Grid) -> tuple[str, str] | None:
    """The heatmap's (x, y) keys: as given, or the two keys when exactly two vary; None for no
    heatmap. Asked for without matplotlib, or with unknown keys: refused before the run."""
    varying = [a.key for a in grid.axes if len(a.values) > 1]
    if text is None:
        if len(varying) != 2 or not _has_matplotlib():
            return None
        return varying[0], varying[1]
    keys = [k.strip() for k in text.split(",")]
    if len(keys) != 2 or keys[0] == keys[1] or not set(keys) <= set(varying):
        msg = f"--heatmap {text!r}: name two different grid keys with several values ({varying})"
        raise ConfigError(msg)
    if not _has_matplotlib():
        raise ConfigError(HEATMAP_NEEDS)
    return keys[0], keys[1]


def _has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401, PLC0415 - optional dependency, imported on use
    except ImportError:
        return False
    return True


def _write(
    out: Path,
    plan: SweepPlan,
    results: Sequence[PointResult],
    *,
    args: argparse.Namespace,
    heat_keys: tuple[str, str] | None,
    metric: Metric,
    name: str,
) -> list[Path]:
    paths = [out.with_name(out.name + suffix) for suffix in (".csv", ".json", ".png")]
    write_csv(paths[0], results)
    write_json(paths[1], about(plan, args, name), results)
    if heat_keys is None:
        return paths[:2]
    title = f"{name} sweep {plan.task.start} → {plan.task.end}"
    draw_heatmap(results, plan.grid, heat_keys, metric=metric, title=title, path=paths[2])
    return paths


def about(plan: SweepPlan, args: argparse.Namespace, name: str) -> dict[str, Any]:
    """What produced the table, for its JSON file."""
    costs = plan.task.costs
    return {
        "strategy": name,
        "config": str(args.config),
        "grid": {axis.key: list(axis.values) for axis in plan.grid.axes},
        "windows": [w.label for w in plan.task.windows],
        "start": plan.task.start.isoformat(),
        "end": plan.task.end.isoformat(),
        "costs": {
            "initial_cash": str(costs.initial_cash),
            "slippage_bps": str(costs.slippage_bps),
            "fees": args.fees,
            "margin_multiplier": str(costs.margin_multiplier),
            "borrow_rate": str(costs.borrow_rate),
            "margin_rate": str(costs.margin_rate),
        },
        "compiled": plan.task.compiled,
        "own_start": plan.task.starts is not None,
        "conventions": plan.task.conventions,
    }


def render(results: Sequence[PointResult], metric: Metric, top: int) -> str:
    """The best and the worst ``top`` points by ``metric``, with the headline statistics."""
    order = ranked(results, metric)
    count = min(top, len(order))
    lines = [f"\nbest {count} by {metric.column} (in-sample):"]
    lines += [_line(r, metric) for r in order[:count]]
    lines.append(f"worst {count} by {metric.column}:")
    lines += [_line(r, metric) for r in reversed(order[-count:])]
    return "\n".join(lines)


def _line(result: PointResult, metric: Metric) -> str:
    stats = result.stats(metric.window)
    settings = " ".join(f"{key}={value}" for key, value in result.settings)
    if stats is None:
        return f"  #{result.index:<5} {settings}: too few closes in {metric.window}"
    return (
        f"  #{result.index:<5} {settings}: {metric.stat} {getattr(stats, metric.stat):.4g}; "
        f"CAGR {stats.cagr:+.2%}, Sharpe {stats.sharpe:.2f}, max drawdown "
        f"{stats.max_drawdown:.2%} ({metric.window})"
    )
