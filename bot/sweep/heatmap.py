"""A sweep's heatmap: one statistic over two of its keys (matplotlib, headless, PNG).

``heat_table`` is the pure part: the metric on an (x, y) grid. When more than two keys vary,
each cell shows the best value over the others, and the title says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from bot.sweep.grid import Grid, Value
from bot.sweep.point import PointResult
from bot.sweep.table import Metric

HEATMAP_NEEDS = (
    "the heatmap needs matplotlib, which the basic install leaves out: pip install "
    "'letf-rebalancer[plot]' (in a checkout: pip install -e '.[plot]')"
)
MAX_LABELLED_CELLS = 400  # write each cell's value when the picture has room for it


def heat_table(
    results: Sequence[PointResult], grid: Grid, x: str, y: str, metric: Metric
) -> npt.NDArray[np.float64]:
    """``table[i, j]``: ``metric`` at the i-th value of ``y`` and the j-th of ``x``; the best
    over the other keys when more vary; NaN where no point has a value."""
    xs, ys = _values(grid, x), _values(grid, y)
    table = np.full((len(ys), len(xs)), np.nan)
    better = max if metric.higher_is_better else min
    for result in results:
        settings = dict(result.settings)
        i, j = ys.index(settings[y]), xs.index(settings[x])
        value = metric.value(result)
        if math.isnan(value):
            continue
        table[i, j] = value if math.isnan(table[i, j]) else better(table[i, j], value)
    return table


def draw_heatmap(
    results: Sequence[PointResult],
    grid: Grid,
    keys: tuple[str, str],
    *,
    metric: Metric,
    title: str,
    path: Path,
) -> None:
    """Write the heatmap of ``metric`` over ``keys`` (x, then y) as a PNG."""
    import matplotlib as mpl  # noqa: PLC0415 - optional dependency, imported on use

    mpl.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    x, y = keys
    table = heat_table(results, grid, x, y, metric)
    xs, ys = _values(grid, x), _values(grid, y)
    others = [a.key for a in grid.axes if a.key not in keys and len(a.values) > 1]
    figure, axes = plt.subplots(figsize=(max(6.0, 0.32 * len(xs) + 3), max(4.0, 0.4 * len(ys) + 2)))
    image = axes.imshow(
        table,
        origin="lower",
        aspect="auto",
        cmap="viridis" if metric.higher_is_better else "viridis_r",
    )
    axes.set_xticks(range(len(xs)), [str(v) for v in xs], rotation=90 if len(xs) > 12 else 0)
    axes.set_yticks(range(len(ys)), [str(v) for v in ys])
    axes.set_xlabel(x)
    axes.set_ylabel(y)
    if table.size <= MAX_LABELLED_CELLS:
        for (i, j), value in np.ndenumerate(table):
            if math.isfinite(value):
                axes.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=6, color="w")
    best = f", the best over {', '.join(others)} in each cell" if others else ""
    axes.set_title(f"{title}\n{metric.column}{best} (in-sample)", fontsize=9)
    figure.colorbar(image, ax=axes, label=metric.column)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _values(grid: Grid, key: str) -> list[Value]:
    return list(next(a.values for a in grid.axes if a.key == key))
