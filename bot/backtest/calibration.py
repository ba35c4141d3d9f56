"""Calibration of the inferred rules against the publishers' figures (docs/calibration.md).

For UISx3, Maximum Yield and All In the publishers print results but not every rule. Each
strategy has a *family* of readings its seed text allows (lookback, f, grid step, simple or log
returns, the gold and bond legs, the negative-mean policy, the mid-month date, the corridor's
boundary, the zero-volatility policy …). Every reading of the family is backtested over the
publisher's dated window (``publishers``) with the publisher's conventions, and scored by its
distance to the published figures on window A; the best on A is then checked on window B,
which tells a fit from an overfit.

Distance: the root mean square, in percentage points, of the differences in the figures that
do not depend on a convention we could not pin down: CAGR, volatility (σ of log returns) and
maximum drawdown for Logical Invest; annualised return and maximum drawdown for Composer.

Run it on the data directory ``bot data fetch`` writes::

    python -m bot.backtest.calibration --data DIR [--strategy uisx3] [--csv FILE]
        [--workers N | --scheduler tcp://HOST:PORT]

The readings run through ``bot sweep``'s machinery: the shipped reading and the family are the
points of one sweep (``plan_points``: the shipped config with each reading's settings,
validated like a file), the publisher's windows its dated windows, its statistics the
publisher's (``conventions=``), every Logical Invest reading from its own first tradable day
(``own_start``: one continuous backtest, as LI's series is), All In from Composer's first day;
``run_sweep`` then runs them in this process, on local worker processes or on a Dask cluster,
with the same numbers. What stays here is the family, the dating of the windows and the
distance. ``score_directly`` is the loop the search ran before, kept as the reference the
tests hold the sweep to.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from bot.backtest.engine import BacktestCosts
from bot.backtest.fast import run_fast_backtest
from bot.backtest.publisher_stats import (
    DatedWindow,
    TrailingFigures,
    composer_stats,
    date_composer_window,
    date_trailing_window,
    logical_invest_stats,
    trailing_start,
)
from bot.backtest.publishers import (
    ALL_IN,
    ALL_IN_SPY,
    BENCHMARK,
    COMPOSER_COSTS,
    DATING_TOLERANCE,
    MAX_YIELD,
    NO_COSTS,
    ROOT,
    UISX3,
    LiWindow,
    Sources,
    first_tradable,
    load,
)
from bot.backtest.stats import Stats
from bot.bootstrap import build_runtime
from bot.config import BotConfig, load_config
from bot.errors import ConfigError, DataError
from bot.market.csv_source import MarketDataError
from bot.sweep.arguments import positive_int
from bot.sweep.executors import DaskCluster, Executor, InProcess, LocalProcesses, require_dask
from bot.sweep.grid import Axis as SweepAxis
from bot.sweep.plan import plan_points, plan_sweep, run_sweep
from bot.sweep.point import PointResult

Publisher = Literal["logical_invest", "composer"]
DISTANCE_KEYS: dict[Publisher, tuple[str, ...]] = {
    "logical_invest": ("cagr", "volatility", "max_drawdown"),
    "composer": ("annualized_return", "max_drawdown"),
}
TOLERANCE = 0.03
"""A reading becomes the default only if its distance is at most 3 pp on both windows."""


@dataclass(frozen=True, slots=True)
class Axis:
    """One open point of the rules: a config key (dotted) and the values the seed text allows,
    each with a short label for the report."""

    key: str
    values: tuple[tuple[str, Any], ...]


def axis(key: str, *values: Any) -> Axis:
    """An axis whose labels are the values themselves."""
    return Axis(key, tuple((f"{key.rsplit('.', 1)[-1]}={v}", v) for v in values))


def legs(*items: tuple[str, str, float]) -> list[dict[str, Any]]:
    """A ``strategy.legs`` value from (name, symbol, multiplier) triples."""
    return [{"name": n, "symbol": s, "multiplier": m} for n, s, m in items]


@dataclass(frozen=True, slots=True)
class Family:
    """A strategy's family of readings and the publisher it is measured against."""

    name: str  # how --strategy names it
    publisher: Publisher
    axes: tuple[Axis, ...]
    config: str = ""  # the config in config/ it varies (default: ``name``)

    @property
    def config_name(self) -> str:
        """The shipped config the readings start from."""
        return self.config or self.name

    def size(self) -> int:
        """How many readings the family holds."""
        return math.prod(len(a.values) for a in self.axes)

    def points(self) -> list[tuple[tuple[str, Any], ...]]:
        """Every reading: one (key, value) per axis, in axis order."""
        choices = [[(a.key, v) for _, v in a.values] for a in self.axes]
        return [tuple(p) for p in itertools.product(*choices)]

    def label(self, point: Sequence[tuple[str, Any]]) -> str:
        """The reading in words, one label per axis."""
        words = []
        for (key, value), ax in zip(point, self.axes, strict=True):
            words.append(next(lbl for lbl, v in ax.values if v == value and ax.key == key))
        return " ".join(words)


UISX3_FAMILY = Family(
    "uisx3",
    "logical_invest",
    (
        axis("strategy.lookback_days", 50, 56, 63, 72, 80),  # LI: "normally 50-80 days"
        axis("strategy.f", 1.5, 2.0, 2.5, 2.8, 3.0),  # LI: f > 1; 2.5 (TT), 2.8 (Kipnis)
        axis("strategy.step", 0.05, 0.10, 0.20),  # Kipnis 5%, TuringTrader 10%
        axis("strategy.returns_kind", "simple", "log"),  # TuringTrader: log
        Axis(
            "strategy.legs",
            (
                (
                    "gold=3xGLD",
                    legs(("spxl", "SPXL", 1.0), ("tmf", "TMF", 1.0), ("gold", "GLD", 3.0)),
                ),
                (
                    "gold=1.5xUGL",
                    legs(("spxl", "SPXL", 1.0), ("tmf", "TMF", 1.0), ("gold", "UGL", 1.5)),
                ),
            ),
        ),
        axis("strategy.negative_mean_policy", "as_published", "min_variance", "cash"),
        axis("strategy.max_held_legs", None, 2),  # "uses TMF and UGLD to hedge SPXL": pairs?
    ),
)

MAX_YIELD_FAMILY = Family(
    "max_yield",
    "logical_invest",
    (
        axis("strategy.lookback_days", 50, 56, 63, 72, 80),
        axis("strategy.f", 1.5, 2.0, 2.5, 3.0),
        axis("strategy.step", 0.10),  # the published mixes move in 10 or 20 points
        axis("strategy.returns_kind", "simple", "log"),
        Axis(
            "strategy.legs",
            tuple(
                (
                    f"bond={bond} gold={gold}",
                    legs(
                        ("ziv", "VXZ", -1.0),
                        ("bond", bond, 1.0),
                        ("gold", *({"UGL": ("UGL", 1.0), "3xGLD": ("GLD", 3.0)}[gold])),
                    ),
                )
                for bond in ("UBT", "TMF")  # TMF until LI moved to UBT (date not published)
                for gold in ("UGL", "3xGLD")  # UGL today; UGLD (3x gold) before 2020
            ),
        ),
        axis("trigger.mid_month_rule", "on_or_before", "on_or_after"),
        axis("strategy.negative_mean_policy", "as_published", "min_variance", "cash"),
        axis("strategy.max_held_legs", None, 2),  # published mixes hold two of the three
    ),
)

ALL_IN_FAMILY = Family(
    "all_in",
    "composer",
    (
        axis("strategy.lookback_days", 2, 3),  # "2 days": 2 returns (3 closes), or 3 closes more
        axis("trigger.inclusive", False, True),  # "threshold 1%": > or ≥
        axis("strategy.zero_vol_policy", "skip_day", "floor", "equal_weight", "exclude"),
        axis("trigger.kind", "drift", "relative_drift"),  # absolute points, as documented, or not
    ),
)
UISX3_SYNTHETIC_FAMILY = Family(
    "uisx3_synthetic",
    "logical_invest",
    (
        Axis(
            "strategy.legs",
            (
                ("legs=SPXL/TMF/3xGLD", UISX3_FAMILY.axes[4].values[0][1]),
                ("legs=3xSPY/3xTLT/3xGLD", legs(("spxl", "SPY", 3.0), ("tmf", "TLT", 3.0),
                                                ("gold", "GLD", 3.0))),
            ),
        ),  # LI: "historical returns have been extended using synthetic data"
        axis("strategy.lookback_days", 56, 63, 72, 80),
        axis("strategy.f", 2.0, 2.5, 3.0),
    ),
    config="uisx3",
)  # fmt: skip
FAMILIES = {
    f.name: f for f in (UISX3_FAMILY, UISX3_SYNTHETIC_FAMILY, MAX_YIELD_FAMILY, ALL_IN_FAMILY)
}


@dataclass(frozen=True, slots=True)
class Target:
    """One window with the publisher's figures over it."""

    label: str
    start: date
    end: date
    published: Mapping[str, float]


def distance(
    ours: Mapping[str, float], published: Mapping[str, float], keys: Sequence[str]
) -> float:
    """Root mean square of ours − published over ``keys`` (return units: 0.01 = 1 pp)."""
    return math.sqrt(sum((ours[k] - published[k]) ** 2 for k in keys) / len(keys))


@dataclass(frozen=True, slots=True)
class Scored:
    """One reading's figures and distance on each window (None: the window is not covered)."""

    label: str
    point: tuple[tuple[str, Any], ...]
    figures: tuple[Mapping[str, float] | None, ...]
    distances: tuple[float | None, ...]


def score_curve(
    equity: pd.Series, targets: Sequence[Target], publisher: Publisher
) -> tuple[tuple[Mapping[str, float] | None, ...], tuple[float | None, ...]]:
    """Each target window's figures (the publisher's way) and distance."""
    stats = logical_invest_stats if publisher == "logical_invest" else composer_stats
    figures: list[Mapping[str, float] | None] = []
    distances: list[float | None] = []
    for target in targets:
        if equity.index[0] > pd.Timestamp(target.start):
            figures.append(None)
            distances.append(None)
            continue
        window = equity.loc[pd.Timestamp(target.start) : pd.Timestamp(target.end)]
        ours = stats(window)
        figures.append(ours)
        distances.append(distance(ours, target.published, DISTANCE_KEYS[publisher]))
    return tuple(figures), tuple(distances)


def dated(window: DatedWindow) -> date:
    """The page's last day, or ValueError when no day of the data's SPY fits the page."""
    if window.distance > DATING_TOLERANCE:
        msg = (
            f"the page cannot be dated on these closes (the closest SPY day, {window.end}, is "
            f"{100 * window.distance:.2f} pp off): they do not reach back to its window"
        )
        raise ValueError(msg)
    return window.end


def li_targets(closes: pd.DataFrame, printed: Sequence[LiWindow]) -> list[Target]:
    """The Logical Invest windows (dated from SPY), shortest first: window A is the 3-year one,
    window B the 5-year one (its first two years are out of A's sample)."""
    figures = [TrailingFigures(w.years, w.spy["total_return"], w.spy["cagr"]) for w in printed]
    end = dated(date_trailing_window(closes[BENCHMARK], figures))
    index = pd.DatetimeIndex(closes[BENCHMARK].dropna().index)
    targets = [
        Target(
            f"{w.years}y",
            trailing_start(index, pd.Timestamp(end), w.years).date(),
            end,
            w.strategy,
        )
        for w in printed
    ]
    return sorted(targets, key=lambda t: t.start, reverse=True)


@dataclass(frozen=True, slots=True)
class Setup:
    """What a family's search runs on: the base config, the closes, the dated windows, the
    costs and the period (``start`` None: each reading from its own first tradable day)."""

    base: BotConfig
    closes: pd.DataFrame
    targets: tuple[Target, ...]
    costs: BacktestCosts
    start: date | None
    end: date


def setup(family: Family, sources: Sources) -> Setup:
    """Load the closes of every fund the family trades, date the publisher's windows on them
    and fix the costs: Logical Invest's series is one backtest from each reading's first
    tradable day, without costs; Composer's starts on the symphony's first tradable day."""
    base = load_config(ROOT / "config" / f"{family.config_name}.toml")
    symbols = sorted({leg["symbol"] for ax in family.axes if ax.key == "strategy.legs"
                      for _, value in ax.values for leg in value})  # fmt: skip
    closes = load(sources, sorted({*build_runtime(base).strategy.symbols, *symbols}))
    if family.publisher == "logical_invest":
        targets = li_targets(closes, UISX3 if family.config_name == "uisx3" else MAX_YIELD)
        return Setup(base, closes, tuple(targets), NO_COSTS, None, max(t.end for t in targets))
    runtime = build_runtime(base)
    start = first_tradable(closes, runtime.strategy.symbols, runtime.strategy.history_closes)
    end = dated(date_composer_window(closes[BENCHMARK], start,
                ALL_IN_SPY["cumulative_return"], ALL_IN_SPY["annualized_return"]))  # fmt: skip
    return Setup(base, closes, (Target("page", start, end, ALL_IN),), COMPOSER_COSTS, start, end)


def search(
    family: Family,
    run: Setup,
    executor: Executor | None = None,
    *,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Scored, list[Scored]]:
    """The shipped reading and every reading of the family, as the points of one ``bot
    sweep`` (point 0: the shipped config), scored on the windows."""
    points = family.points()
    grid = plan_points(
        run.base,
        [(), *points],
        axes=[SweepAxis(a.key, tuple(label for label, _ in a.values)) for a in family.axes],
    )
    plan = plan_sweep(
        grid,
        run.closes,
        windows=[f"{t.label}={t.start}:{t.end}" for t in run.targets],
        start=run.start,
        end=run.end,
        costs=run.costs,
        compiled=_numba(),
        own_start=run.start is None,
        conventions=family.publisher,
    )
    results = run_sweep(plan, executor, workers=workers, progress=progress)
    labels = ["shipped", *(family.label(p) for p in points)]
    scored = [
        scored_point(labels[r.index], ((), *points)[r.index], r, run.targets, family.publisher)
        for r in results
    ]
    return scored[0], scored[1:]


def figures_of(stats: Stats, publisher: Publisher) -> dict[str, float]:
    """The figures the distance compares, from a window's statistics in the publisher's
    conventions (Composer's annualised return is the table's ``cagr``)."""
    if publisher == "logical_invest":
        return {"cagr": stats.cagr, "volatility": stats.volatility,
                "max_drawdown": stats.max_drawdown}  # fmt: skip
    return {"annualized_return": stats.cagr, "max_drawdown": stats.max_drawdown}


def scored_point(
    label: str,
    point: tuple[tuple[str, Any], ...],
    result: PointResult,
    targets: Sequence[Target],
    publisher: Publisher,
) -> Scored:
    """A sweep point's windows as the search scores them: a window the run does not cover
    from its first day (the reading starts later) is not covered, not cut short."""
    whole = result.stats()
    figures: list[Mapping[str, float] | None] = []
    distances: list[float | None] = []
    for target in targets:
        stats = result.stats(target.label)
        if whole is None or stats is None or whole.start > target.start:
            figures.append(None)
            distances.append(None)
            continue
        ours = figures_of(stats, publisher)
        figures.append(ours)
        distances.append(distance(ours, target.published, DISTANCE_KEYS[publisher]))
    return Scored(label, point, tuple(figures), tuple(distances))


def score_directly(
    label: str,
    point: tuple[tuple[str, Any], ...],
    config: BotConfig,
    run: Setup,
    publisher: Publisher,
) -> Scored:
    """One reading backtested and scored without the sweep: the search's former loop body,
    the reference the tests hold ``search`` to."""
    runtime = build_runtime(config)
    symbols = list(runtime.strategy.symbols)
    start = run.start or first_tradable(closes=run.closes, symbols=symbols,
                                        history=runtime.strategy.history_closes)  # fmt: skip
    result = run_fast_backtest(
        runtime, run.closes[symbols], start, run.end, costs=run.costs, compiled=_numba()
    )
    figures, distances = score_curve(result.equity, run.targets, publisher)
    return Scored(label, point, figures, distances)


def run_family(
    family: Family,
    sources: Sources,
    executor: Executor | None = None,
    *,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[Target], Scored, list[Scored]]:
    """The shipped reading and every reading of the family, scored on the windows."""
    run = setup(family, sources)
    shipped, results = search(family, run, executor, workers=workers, progress=progress)
    return list(run.targets), shipped, results


def _numba() -> bool:
    """Compile the loop when numba is there (the backtest extra): the same numbers, sooner."""
    try:
        import numba  # noqa: F401, PLC0415 - optional
    except ImportError:
        return False
    return True


def _key(d: float | None) -> float:
    return math.inf if d is None else d


def best(results: Sequence[Scored], window: int) -> list[Scored]:
    """The readings by their distance on ``window`` (0 = A), closest first."""
    return sorted(results, key=lambda s: _key(s.distances[window]))


def adoptable(scored: Scored) -> bool:
    """Close enough on every window to become the default (TOLERANCE on each)."""
    return all(d is not None and d <= TOLERANCE for d in scored.distances)


def report(
    family: Family,
    targets: Sequence[Target],
    shipped: Scored,
    results: Sequence[Scored],
    top: int = 10,
) -> str:
    """The search in Markdown: the windows, the shipped reading, the best on A (checked on B)
    and, for reference, the best on B."""
    keys = DISTANCE_KEYS[family.publisher]
    lines = [
        f"### {family.name}: {len(results)} readings",
        "",
        "| window | from | to | " + " | ".join(f"published {k}" for k in keys) + " |",
        "|---|---|---|" + "---:|" * len(keys),
    ]
    for t in targets:
        lines.append(
            f"| {t.label} | {t.start} | {t.end} | "
            + " | ".join(f"{100 * t.published[k]:+.1f}%" for k in keys)
            + " |"
        )
    names = [t.label for t in targets]
    head = (
        "| rank on A | reading | "
        + " | ".join(f"{n}: " + ", ".join(keys) + f" | {n}: distance" for n in names)
        + " |"
    )
    lines += ["", head, "|---|---|" + "---|---:|" * len(names)]

    def line(rank: str, s: Scored) -> str:
        cells = []
        for figures, d in zip(s.figures, s.distances, strict=True):
            if figures is None or d is None:
                cells.append("not covered | —")
            else:
                cells.append(
                    ", ".join(f"{100 * figures[k]:+.2f}%" for k in keys) + f" | {100 * d:.2f} pp"
                )
        return f"| {rank} | {s.label} | " + " | ".join(cells) + " |"

    ranked = best(results, 0)
    shipped_rank = 1 + sum(_key(s.distances[0]) < _key(shipped.distances[0]) for s in results)
    lines.append(line(f"{shipped_rank} (shipped)", shipped))
    lines += [line(str(i), s) for i, s in enumerate(ranked[:top], 1)]
    if len(targets) > 1 and any(s.distances[1] is not None for s in results):
        on_b = best(results, 1)[0]
        lines.append(line(f"{1 + ranked.index(on_b)} (best on {targets[1].label})", on_b))
        both = min(results, key=lambda s: max(_key(d) for d in s.distances))
        lines.append(line(f"{1 + ranked.index(both)} (best on both at once)", both))
    fits = [s for s in results if adoptable(s)]
    lines += ["", f"Readings within {100 * TOLERANCE:.0f} pp on every window: {len(fits)}"
              + (f" (closest on A: {best(fits, 0)[0].label})" if fits else "") + "."]  # fmt: skip
    return "\n".join(lines) + "\n"


def write_csv(
    path: Path, family: Family, targets: Sequence[Target], results: Sequence[Scored]
) -> None:
    """Every reading's figures and distances, one row each."""
    keys = DISTANCE_KEYS[family.publisher]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["reading", *(f"{t.label}_{k}" for t in targets for k in (*keys, "distance"))]
        )
        for s in results:
            row: list[object] = [s.label]
            for figures, d in zip(s.figures, s.distances, strict=True):
                row += [("" if figures is None else figures[k]) for k in keys]
                row.append("" if d is None else d)
            writer.writerow(row)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m bot.backtest.calibration --data DIR [--strategy NAME] [--csv DIR]``."""
    parser = argparse.ArgumentParser(
        prog="python -m bot.backtest.calibration",
        description="search each strategy's family of readings for the publisher's figures",
    )
    parser.add_argument("--data", type=Path, required=True, help="directory of <SYMBOL>.csv closes")
    parser.add_argument(
        "--strategy",
        choices=sorted(FAMILIES),
        action="append",
        help="one family (repeatable; default: uisx3, max_yield, all_in)",
    )
    parser.add_argument("--csv", type=Path, help="write <strategy>.csv of every reading here")
    parser.add_argument("--top", type=int, default=10, help="readings shown per family")
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        help="local worker processes, as bot sweep's (default 1: in this process)",
    )
    where.add_argument(
        "--scheduler", metavar="tcp://HOST:PORT", help="run the readings on this Dask cluster"
    )
    args = parser.parse_args(argv)
    try:
        executor, workers = executor_for(args.workers, args.scheduler)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name in args.strategy or ["uisx3", "max_yield", "all_in"]:
        family = FAMILIES[name]
        print(f"{name}: {family.size()} readings, {executor.describe()} …", file=sys.stderr)
        try:
            targets, shipped, results = run_family(
                family, Sources(args.data, None), executor, workers=workers
            )
        except (ValueError, MarketDataError, DataError) as exc:
            print(f"{name}: {exc}", file=sys.stderr)
            return 2
        print(report(family, targets, shipped, results, args.top))
        if args.csv:
            args.csv.mkdir(parents=True, exist_ok=True)
            write_csv(args.csv / f"{name}.csv", family, targets, results)
    return 0


def executor_for(workers: int, scheduler: str | None) -> tuple[Executor, int]:
    """``bot sweep``'s executors: a Dask cluster (checked installed before any work), local
    worker processes, or this process."""
    if scheduler:
        require_dask()
        return DaskCluster(scheduler), 8
    return (InProcess(), 1) if workers == 1 else (LocalProcesses(workers), workers)


if __name__ == "__main__":
    sys.exit(main())
