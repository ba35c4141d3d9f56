"""The ``bot sweep`` arguments, apart from the command so that ``bot --help`` imports neither
pandas nor the backtester (argparse and the standard library only)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from bot.backtest.arguments import add_history_arguments
from bot.lazy import lazy

DESCRIPTION = """\
Run every combination of the --grid settings through the backtester bot backtest uses (the
fast engine, same costs and options), and write one table: OUT.csv and OUT.json, a row per
point with its settings and every statistic of the whole run and of each --window. It prints
the best and the worst points by --rank-by, and draws OUT.png, a heatmap over two varying keys
(matplotlib). The points run in local worker processes (--workers), or on a Dask cluster
(--scheduler). Every point starts on the same day (the first one on which the longest lookback
has its history) unless --start or --own-start is given. --conventions computes the table the
way a publisher does (Logical Invest, Composer). The best points are in-sample: a warning about
overfitting, not a recommendation."""

CONVENTIONS = ("bot", "logical_invest", "composer")  # publisher_stats.CONVENTIONS, without pandas


def positive_int(text: str) -> int:
    """A whole number of at least 1 (a number of workers, of rows)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        msg = f"{text!r} is not a whole number of at least 1"
        raise argparse.ArgumentTypeError(msg)
    return value


def margin_allowance(text: str) -> str:
    """A gross exposure allowance of at least 1 (times equity), kept as written for Decimal."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 1 <= value < float("inf"):
        msg = f"{text!r} is not a number of at least 1"
        raise argparse.ArgumentTypeError(msg)
    return text


def add_sweep_parser(commands: Any) -> None:
    """The ``bot sweep`` arguments (``commands`` is argparse's sub-parser action)."""
    parser = commands.add_parser(
        "sweep",
        help="backtest every combination of a grid of settings; one table, best and worst",
        description=DESCRIPTION,
    )
    parser.add_argument(
        "--config", type=Path, required=True, help="the strategy's config file (TOML)"
    )
    parser.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="KEY=VALUES",
        help="a numeric or choice setting of [strategy], [trigger] or [sizing] and its values: "
        "a list (strategy.f=1.5,2,2.5,3), a range, ends included (strategy.lookback_days=50..80) "
        "or a stepped range (trigger.width=0.01..0.05:0.01); repeat for more keys",
    )
    parser.add_argument(
        "--window",
        action="append",
        default=[],
        metavar="[NAME=]START:END|Ny",
        help="also report this period: dates (either may be empty, e.g. 2020-01-01:) or the "
        "trailing N years (5y); repeat for more",
    )
    add_history_arguments(parser)
    parser.add_argument(
        "--own-start",
        action="store_true",
        help="start each point on its own first tradable day (its own lookback's history), as "
        "bot backtest runs it alone, instead of one day for all; not with --start",
    )
    parser.add_argument(
        "--margin-multiplier",
        type=margin_allowance,
        metavar="X",
        help="gross exposure allowed, times equity (default: the config's simulated broker's, "
        "else 2, as bot backtest); the publishers' tables assume 4 for UISx3's 3 × GLD leg",
    )
    parser.add_argument(
        "--conventions",
        choices=CONVENTIONS,
        default="bot",
        help="whose definitions every statistic follows, whole run and windows: bot backtest's "
        "(default), logical_invest (σ of log returns, Sharpe on CAGR − 2.5%%, durations in "
        "trading days) or composer (annualised over the days in the curve, Sharpe rf 0)",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--workers",
        type=positive_int,
        help="local worker processes (default: one per CPU; 1 runs in this process)",
    )
    where.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="run on this Dask cluster instead (the sweep extra; workers need the bot installed)",
    )
    parser.add_argument(
        "--compiled",
        action="store_true",
        help="run numba's compiled loop (the backtest extra): the same numbers, faster for "
        "corridor strategies that trade daily; about 1 s to load per worker",
    )
    parser.add_argument(
        "--rank-by",
        default="sharpe",
        metavar="[WINDOW.]STAT",
        help="the statistic that orders best and worst (default sharpe, of the whole run; "
        "e.g. cagr, 5y.calmar, max_drawdown)",
    )
    parser.add_argument(
        "--top", type=positive_int, default=5, help="how many best and worst points to print"
    )
    parser.add_argument(
        "--heatmap",
        metavar="XKEY,YKEY",
        help="the two grid keys of the heatmap (default: the two keys, when exactly two vary)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="PREFIX",
        help="write PREFIX.csv, PREFIX.json and PREFIX.png (default: sweep-NAME, the config's "
        "name, in the current directory)",
    )
    parser.set_defaults(handler=lazy("bot.sweep.command:sweep_command"))
