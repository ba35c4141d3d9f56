"""The backtest plot: equity on a log scale against the benchmark, and the drawdown curve."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bot.backtest.stats import drawdowns
from bot.errors import ConfigError

if TYPE_CHECKING:
    from bot.backtest.command import Report


def plot_report(report: Report, path: Path) -> None:
    """Write a PNG with two panels (matplotlib, headless)."""
    try:
        import matplotlib as mpl  # noqa: PLC0415 - optional dependency, imported on use

        mpl.use("Agg")
        import matplotlib.pyplot as plt  # noqa: PLC0415
    except ImportError as exc:
        msg = "--plot needs matplotlib: pip install 'letf-rebalancer[plot]'"
        raise ConfigError(msg) from exc
    figure, (top, bottom) = plt.subplots(
        2, 1, figsize=(10, 7), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    curves = {report.strategy: report.result.equity}
    if report.benchmark is not None:
        curves[report.benchmark_symbol] = report.benchmark
    for name, curve in curves.items():
        top.plot(curve.index, curve.to_numpy(), label=name)
        bottom.plot(curve.index, 100 * drawdowns(curve).to_numpy(), label=name)
    top.set_yscale("log")
    top.set_ylabel("equity ($, log scale)")
    title = f"{report.strategy} backtest (the bot's own rules)"
    if report.notes:  # a simulated stretch must be visible on the picture itself
        title += "\nPARTLY SIMULATED: " + "; ".join(
            n.split(" is SIMULATED")[0] for n in report.notes
        )
        title += " (leveraged-ETF formula)"
    top.set_title(title, fontsize=10 if report.notes else None)
    top.legend()
    bottom.set_ylabel("drawdown (%)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
