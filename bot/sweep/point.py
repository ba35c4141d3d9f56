"""One point of a sweep: the config with the point's settings, through ``bot backtest``'s fast
engine, reduced to its statistics.

``run_point`` is a pure function of the task and the point, so any executor (this process,
local processes, a Dask cluster) gives the same numbers; the executors only move tasks and
results. A ``SweepTask`` carries the closes, which are the bulk of what a worker needs: the
executors send it once per worker, and ``times_received`` lets the tests hold them to that.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd

from bot.backtest.command import turnover
from bot.backtest.engine import BacktestCosts, BacktestResult
from bot.backtest.fast import run_fast_backtest
from bot.backtest.publisher_stats import StatsConventions, table_stats
from bot.backtest.stats import Stats
from bot.bootstrap import build_runtime
from bot.sweep.grid import Point, Value, config_with
from bot.sweep.windows import WHOLE, Window

CENT = Decimal("0.01")
_received = [0]  # how many SweepTasks this process has unpickled


@dataclass(frozen=True, slots=True, eq=False)
class SweepTask:
    """Everything a point needs besides its settings; the same for every point of a sweep."""

    config: Mapping[str, Any]  # the base config as data (BotConfig.model_dump())
    closes: pd.DataFrame  # the strategy's funds, as bot backtest reads them
    start: date
    end: date
    costs: BacktestCosts
    windows: tuple[Window, ...] = (WHOLE,)
    compiled: bool = False  # numba's loop (the backtest extra): the same numbers, sooner
    conventions: StatsConventions = "bot"  # whose definitions the statistics follow
    starts: tuple[date, ...] | None = None  # each point's own first day, by index (--own-start)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickle through ``_arrived``, which counts arrivals in the receiving process."""
        fields = (self.config, self.closes, self.start, self.end, self.costs, self.windows)
        return _arrived, (*fields, self.compiled, self.conventions, self.starts)

    def start_of(self, point: Point) -> date:
        """The day ``point``'s backtest starts: its own first tradable day when the plan gave
        each point one, else the sweep's common start."""
        return self.start if self.starts is None else self.starts[point.index]


def _arrived(*fields: Any) -> SweepTask:
    _received[0] += 1
    return SweepTask(*fields)


def times_received() -> int:
    """How many sweep tasks this process has received from another (a worker should receive
    one per sweep, whatever the number of points it runs)."""
    return _received[0]


@dataclass(frozen=True, slots=True)
class PointResult:
    """A point's settings and figures: statistics per window (None when the window holds too
    few closes), and the run's trading totals (money rounded to cents, as bot backtest prints
    them)."""

    index: int
    settings: tuple[tuple[str, Value], ...]
    periods: tuple[tuple[str, Stats | None], ...]
    trades: int
    turnover: float
    fees: float
    slippage: float
    financing: float
    refused_days: int
    scaled: int

    def stats(self, window: str = WHOLE.label) -> Stats | None:
        """The statistics of the named window ('all': the whole run)."""
        return dict(self.periods)[window]


def run_point(task: SweepTask, point: Point) -> PointResult:
    """Backtest ``point`` on ``task``: the config with the point's settings, the fast engine
    ``bot backtest`` runs on the point's own funds (a point may change them: the calibration's
    gold or bond leg), then the statistics of each window."""
    runtime = build_runtime(config_with(task.config, point.settings))
    closes = task.closes[list(runtime.strategy.symbols)]
    result = run_fast_backtest(
        runtime, closes, task.start_of(point), task.end, costs=task.costs, compiled=task.compiled
    )
    return summarise(point, result, task.windows, task.conventions)


def run_chunk(points: Sequence[Point], task: SweepTask) -> list[PointResult]:
    """``run_point`` over several points: the unit an executor sends (one round trip for many
    backtests of tens of milliseconds)."""
    return [run_point(task, point) for point in points]


def summarise(
    point: Point,
    result: BacktestResult,
    windows: Sequence[Window],
    conventions: StatsConventions = "bot",
) -> PointResult:
    """A backtest's result reduced to the figures a sweep's table holds, each window's
    statistics computed with ``conventions`` (``bot backtest``'s or a publisher's)."""
    periods = []
    for window in windows:
        part = window.cut(result.equity)
        periods.append((window.label, None if part is None else table_stats(part, conventions)))
    return PointResult(
        index=point.index,
        settings=point.settings,
        periods=tuple(periods),
        trades=result.trades,
        turnover=turnover(result),
        fees=float(result.fees.quantize(CENT)),
        slippage=float(result.slippage.quantize(CENT)),
        financing=float(result.financing.quantize(CENT)),
        refused_days=len(result.errors),
        scaled=result.scaled,
    )
