"""A sweep from Python: ``plan_grid`` checks the grid (no data needed), ``plan_sweep`` fixes
the period and the task on the closes, ``run_sweep`` runs it on an executor. ``bot sweep`` is
these three plus files; calibration code calls them directly with its own closes, grid and
windows.

    grid = plan_grid(config, ["strategy.lookback_days=50..80", "strategy.f=2,2.5"])
    plan = plan_sweep(grid, closes, windows=["5y", "2015-01-01:2019-12-31"], costs=...)
    results = run_sweep(plan, LocalProcesses(2), workers=2)
    results[0].stats("5y").cagr

``plan_points`` is ``plan_grid`` for readings that are not a product of ``--grid`` specs (the
calibration's families, whose legs are lists); ``plan_sweep(..., own_start=True)`` starts each
point on its own first tradable day, as ``bot backtest`` would run it alone, and
``conventions=`` computes the table the way a publisher does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from bot.backtest.command import check_period, first_tradable_day
from bot.backtest.engine import BacktestCosts
from bot.backtest.publisher_stats import CONVENTIONS, StatsConventions
from bot.bootstrap import build_runtime
from bot.config import BotConfig
from bot.cycle import StrategyRuntime
from bot.errors import ConfigError
from bot.sweep.executors import Executor, InProcess, run_points
from bot.sweep.grid import Axis, Grid, Point, Value, config_with, parse_grid
from bot.sweep.point import PointResult, SweepTask
from bot.sweep.windows import parse_windows


@dataclass(frozen=True, slots=True)
class GridPlan:
    """A checked grid: every point's config is valid and builds a strategy; what the data
    must hold for all of them (the funds, the longest history)."""

    config: Mapping[str, Any]  # the base config as data
    grid: Grid
    points: tuple[Point, ...]
    symbols: tuple[str, ...]  # every fund any point trades, the first point's first
    history: int  # the most closes any point's strategy needs
    needs: tuple[tuple[tuple[str, ...], int], ...] = ()  # each point's funds and history


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
    return _checked(config, grid, grid.points())


def plan_points(
    config: BotConfig,
    readings: Sequence[Sequence[tuple[str, Value]]],
    axes: Sequence[Axis] = (),
) -> GridPlan:
    """``plan_grid`` for a list of readings, each the settings it changes (``()``: the config
    as it is), numbered in order: for searches whose points are not a product of ``--grid``
    specs, or whose values a spec cannot write (a list of legs). ``axes`` only describe the
    search in a header."""
    points = tuple(Point(i, tuple(reading)) for i, reading in enumerate(readings))
    if not points:
        msg = "no readings to run"
        raise ConfigError(msg)
    return _checked(config, Grid(tuple(axes)), points)


def _checked(config: BotConfig, grid: Grid, points: tuple[Point, ...]) -> GridPlan:
    """Every point built once (the schema and the strategy may refuse it), and what the data
    must hold for each."""
    base = config.model_dump()
    runtimes = [_runtime(base, point) for point in points]
    needs = tuple((tuple(r.strategy.symbols), r.strategy.history_closes) for r in runtimes)
    symbols = tuple(dict.fromkeys(s for funds, _ in needs for s in funds))
    return GridPlan(
        config=base,
        grid=grid,
        points=points,
        symbols=symbols,
        history=max(history for _, history in needs),
        needs=needs,
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
    own_start: bool = False,
    conventions: StatsConventions = "bot",
) -> SweepPlan:
    """Fix the period and the task of a checked grid on ``closes`` (at least the strategy's
    funds, as ``load_closes_dir`` reads them).

    ``windows``: ``Ny`` or ``[NAME=]START:END`` specs, reported after the whole run. Without
    ``start``, every point starts on the first day on which *all* of them have enough history
    (the longest lookback decides), so the points are compared over one period; with
    ``own_start`` each starts on its own first tradable day instead (its own lookback and
    funds decide), as ``bot backtest`` runs it alone: a dated window then compares them over
    the same days, but a point's path into the window is its own. ``end`` defaults to the last
    close; ``conventions``: whose definitions the statistics follow (``bot``,
    ``logical_invest``, ``composer``). Raises ConfigError or DataError naming the problem."""
    if conventions not in CONVENTIONS:
        msg = f"--conventions {conventions!r}: expected one of {', '.join(CONVENTIONS)}"
        raise ConfigError(msg)
    if own_start and start is not None:
        msg = "--own-start and --start exclude each other: each point's own day, or one for all"
        raise ConfigError(msg)
    parsed_windows = parse_windows(tuple(windows))
    symbols = list(grid.symbols)
    starts = None
    if own_start:
        starts = tuple(first_tradable_day(closes, list(funds), n) for funds, n in grid.needs)
        start = min(starts)
    start = start or first_tradable_day(closes, symbols, grid.history)
    end = end or closes.index[-1].date()
    check_period(closes, start, end)
    if starts is not None and max(starts) > end:
        late = grid.points[starts.index(max(starts))]
        msg = f"grid point {late.label()} can only start on {max(starts)}, after the end {end}"
        raise ConfigError(msg)
    task = SweepTask(
        config=grid.config,
        closes=closes[symbols],
        start=start,
        end=end,
        costs=costs or BacktestCosts(),
        windows=parsed_windows,
        compiled=compiled,
        conventions=conventions,
        starts=starts,
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
