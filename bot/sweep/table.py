"""A sweep's results as one table: a row per point, its settings, then every statistic of each
window (``all.cagr``, ``5y.sharpe`` …) and the run's trading totals. Pure, apart from the two
writers at the end.

The CSV and the JSON hold the same rows; the JSON adds what produced them (config, grid,
windows, period, costs), so a table can be read back without its command line.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from bot.backtest.stats import Stats
from bot.errors import ConfigError
from bot.sweep.point import PointResult
from bot.sweep.windows import WHOLE

STAT_FIELDS = tuple(f.name for f in fields(Stats))
TOTALS = ("trades", "turnover", "fees", "slippage", "financing", "refused_days", "scaled")
# Statistics where a lower value is better; every other ranks higher-is-better (max_drawdown
# is negative, so its highest value is the shallowest drawdown).
LOWER_IS_BETTER = frozenset(
    {"volatility", "downside_volatility", "ulcer_index", "max_drawdown_days", "avg_drawdown_days"}
)
RANKABLE = tuple(f for f in STAT_FIELDS if f not in ("start", "end"))


@dataclass(frozen=True, slots=True)
class Metric:
    """What ranks the points: a statistic of a window (``all.sharpe``, ``5y.cagr``)."""

    window: str
    stat: str

    @property
    def column(self) -> str:
        """Its column in the table."""
        return f"{self.window}.{self.stat}"

    @property
    def higher_is_better(self) -> bool:
        """The direction of "best"."""
        return self.stat not in LOWER_IS_BETTER

    def value(self, result: PointResult) -> float:
        """The point's value, NaN when the window holds too few closes or the ratio is
        undefined (NaN ranks last, best or worst)."""
        stats = result.stats(self.window)
        return math.nan if stats is None else float(getattr(stats, self.stat))


def parse_metric(text: str, windows: Sequence[str]) -> Metric:
    """``sharpe`` (the whole run) or ``WINDOW.STAT``; ConfigError naming what is allowed."""
    window, _, stat = text.rpartition(".")
    window = window or WHOLE.label
    if stat not in RANKABLE:
        msg = f"--rank-by {text!r}: the statistic must be one of {', '.join(RANKABLE)}"
        raise ConfigError(msg)
    if window not in windows:
        msg = f"--rank-by {text!r}: no window {window!r} (windows: {', '.join(windows)})"
        raise ConfigError(msg)
    return Metric(window, stat)


def columns(keys: Sequence[str], windows: Sequence[str]) -> list[str]:
    """The table's columns: point, the grid's keys, each window's statistics, the totals."""
    stats = [f"{w}.{s}" for w in windows for s in STAT_FIELDS]
    return ["point", *keys, *stats, *TOTALS]


def row(result: PointResult) -> dict[str, Any]:
    """One point as a flat record (dates as ISO text; a window without statistics is empty)."""
    record: dict[str, Any] = {"point": result.index, **dict(result.settings)}
    for window, stats in result.periods:
        values = stats.as_dict() if stats is not None else dict.fromkeys(STAT_FIELDS)
        record |= {f"{window}.{name}": values[name] for name in STAT_FIELDS}
    return record | {name: getattr(result, name) for name in TOTALS}


def ranked(results: Sequence[PointResult], metric: Metric) -> list[PointResult]:
    """Best first; points without a value (NaN) last; ties in point order."""

    def key(result: PointResult) -> tuple[bool, float, int]:
        value = metric.value(result)
        missing = math.isnan(value)
        score = 0.0 if missing else (-value if metric.higher_is_better else value)
        return missing, score, result.index

    return sorted(results, key=key)


def write_csv(path: Path, results: Sequence[PointResult]) -> None:
    """The table as CSV, one row per point in point order."""
    if not results:
        return
    keys = [key for key, _ in results[0].settings]
    windows = [window for window, _ in results[0].periods]
    with path.open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=columns(keys, windows))
        writer.writeheader()
        writer.writerows(row(r) for r in results)


def write_json(path: Path, about: Mapping[str, Any], results: Sequence[PointResult]) -> None:
    """The table as JSON: ``about`` (what produced it) and ``rows``, the CSV's records (a
    statistic that is undefined, such as a Sharpe ratio without volatility, is null)."""
    document = {**about, "rows": [_finite(row(r)) for r in results]}
    path.write_text(json.dumps(document, indent=1, allow_nan=False) + "\n")


def _finite(record: dict[str, Any]) -> dict[str, Any]:
    return {
        k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in record.items()
    }
