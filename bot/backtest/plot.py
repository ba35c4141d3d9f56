"""The backtest plot: equity on a log scale against the benchmark, and the drawdown curve."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from bot.backtest.stats import drawdowns
from bot.errors import ConfigError

PLOT_NEEDS = (
    "--plot needs matplotlib, which the basic install leaves out: pip install "
    "'letf-rebalancer[plot]' (in a checkout: pip install -e '.[plot]')"
)


def require_matplotlib() -> None:
    """Refuse ``--plot`` at once, before a backtest that may run for minutes, when matplotlib
    cannot be imported (the ``plot`` extra is not installed)."""
    try:
        import matplotlib  # noqa: F401, PLC0415 - optional dependency, imported on use
    except ImportError as exc:
        raise ConfigError(PLOT_NEEDS) from exc


def plot_curves(
    curves: Mapping[str, pd.Series], strategy: str, notes: Sequence[str], path: Path
) -> None:
    """Write a PNG with two panels (matplotlib, headless): the equity ``curves`` (the strategy's
    first, then the benchmark's) on a log scale, and their drawdowns. ``notes`` are the report's
    (a note saying "… is SIMULATED …" puts that fund in the title)."""
    require_matplotlib()
    import matplotlib as mpl  # noqa: PLC0415 - optional dependency, imported on use

    mpl.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    figure, (top, bottom) = plt.subplots(
        2, 1, figsize=(10, 7), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    for name, curve in curves.items():
        top.plot(curve.index, curve.to_numpy(), label=name)
        bottom.plot(curve.index, 100 * drawdowns(curve).to_numpy(), label=name)
    top.set_yscale("log")
    top.set_ylabel("equity ($, log scale)")
    title = f"{strategy} backtest (the bot's own rules)"
    if notes:  # a simulated stretch must be visible on the picture itself
        title += "\nPARTLY SIMULATED: " + "; ".join(n.split(" is SIMULATED")[0] for n in notes)
        title += " (leveraged-ETF formula)"
    top.set_title(title, fontsize=10 if notes else None)
    top.legend()
    bottom.set_ylabel("drawdown (%)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
