"""A sweep from Python: ``plan_grid`` checks the grid (no data needed), ``plan_sweep`` fixes
the period and the task on the closes, ``run_sweep`` runs it on an executor. ``bot sweep`` is
these three plus files; calibration code calls them directly with its own closes, grid and
windows.

    grid = plan_grid(config, ["strategy.lookback_days=50..80", "strategy.f=2,2.5"])
    plan = plan_sweep(grid, closes, windows=["5y", "2015-01-01:2019-12-31"], costs=...)
    results = run_sweep(plan, LocalProcesses(2), workers=2)
    results[0].stats("5y").cagr
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from bot.backtest.command import check_period, first_tradable_day
from bot.backtest.engine import BacktestCosts
from bot.bootstrap import build_runtime
from bot.config import BotConfig
from bot.cycle import StrategyRuntime
from bot.errors import ConfigError
from bot.sweep.executors import Executor, InProcess, run_points
from bot.sweep.grid import Grid, Point, config_with, parse_grid
from bot.sweep.point import PointResult, SweepTask
from bot.sweep.windows import parse_windows


@dataclass(frozen=True, slots=True)
class GridPlan:
    """A checked grid: every point's config is valid and builds a strategy; what the data
    must hold for all of them (the funds, the longest history)."""

    config: Mapping[str, Any]  # the base config as data
    grid: Grid
    points: tuple[Point, ...]
    symbols: tuple[str, ...]
    history: int  # the most closes any point's strategy needs


@dataclass(frozen=True, slots=True)
class SweepPlan:
    """A checked sweep: its grid, its points and the task every point shares."""

    grid: Grid
    points: tuple[Point, ...]
    task: SweepTask


def plan_grid(config: BotConfig, specs: Sequence[str]) -> GridPlan:
    """Check the ``KEY=VALUES`` specs and every point they make (``strategy.f=1.5,2``,
    ``strategy.lookback_days=50..80``) without any data: ConfigError naming the first
    problem (an empty grid, an unknown key, a value or a combination the schema or the
    strategy refuses)."""
    grid = parse_grid(specs, config)
    points = grid.points()
    base = config.model_dump()
    runtimes = [_runtime(base, point) for point in points]
    return GridPlan(
        config=base,
        grid=grid,
        points=points,
        symbols=tuple(runtimes[0].strategy.symbols),
        history=max(r.strategy.history_closes for r in runtimes),
    )


def plan_sweep(
    grid: GridPlan,
    closes: pd.DataFrame,
    *,
    windows: Sequence[str] = (),
    start: date | None = None,
    end: date | None = None,
    costs: BacktestCosts | None = None,
    compiled: bool = False,
) -> SweepPlan:
    """Fix the period and the task of a checked grid on ``closes`` (at least the strategy's
    funds, as ``load_closes_dir`` reads them).

    ``windows``: ``Ny`` or ``[NAME=]START:END`` specs, reported after the whole run. Without
    ``start``, every point starts on the first day on which *all* of them have enough history
    (the longest lookback decides), so the points are compared over one period; ``end``
    defaults to the last close. Raises ConfigError or DataError naming the problem."""
    parsed_windows = parse_windows(tuple(windows))
    symbols = list(grid.symbols)
    start = start or first_tradable_day(closes, symbols, grid.history)
    end = end or closes.index[-1].date()
    check_period(closes, start, end)
    task = SweepTask(
        config=grid.config,
        closes=closes[symbols],
        start=start,
        end=end,
        costs=costs or BacktestCosts(),
        windows=parsed_windows,
        compiled=compiled,
    )
    return SweepPlan(grid.grid, grid.points, task)


def _runtime(base: Mapping[str, Any], point: Point) -> StrategyRuntime:
    config = config_with(base, point.settings)
    try:
        return build_runtime(config)
    except ValueError as exc:  # a strategy's own refusal (StrategyError), e.g. a step of 0.3
        msg = f"grid point {point.label()}: the strategy refuses it: {exc}"
        raise ConfigError(msg) from exc


def run_sweep(
    plan: SweepPlan,
    executor: Executor | None = None,
    *,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[PointResult, ...]:
    """Every point's result, in point order (the executor does not change a number)."""
    return run_points(
        plan.task, plan.points, executor or InProcess(), workers=workers, progress=progress
    )
