"""The ``bot backtest`` arguments, apart from the command itself so that building the parser
(``bot --help``) imports neither pandas nor the backtester."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.cli_args import iso_date
from bot.lazy import by_config


def add_backtest_parser(commands: Any) -> None:
    """The ``bot backtest`` arguments (``commands`` is argparse's sub-parser action)."""
    parser = commands.add_parser("backtest", help="the strategy's own cycle over history")
    parser.add_argument(
        "--config", type=Path, required=True, help="the strategy's config file (TOML)"
    )
    add_history_arguments(parser)
    parser.add_argument("--benchmark", default="SPY", help="buy-and-hold symbol ('' for none)")
    parser.add_argument(
        "--engine",
        choices=["fast", "cycle"],
        default="fast",
        help="fast (default; proven equal to the cycle by tests) or the day-by-day cycle itself",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--plot", type=Path, help="write a PNG (needs matplotlib)")
    parser.add_argument("--equity-csv", type=Path, help="write the daily equity curves")
    parser.set_defaults(
        handler=by_config(
            "bot.backtest.command:backtest_command", "bot.portfolio_commands:portfolio_backtest"
        )
    )


def add_history_arguments(parser: Any) -> None:
    """The data, period, simulation and cost options of ``bot backtest``, shared with ``bot
    sweep`` so that a sweep's point is the backtest ``bot backtest`` would run."""
    parser.add_argument(
        "--data",
        type=Path,
        required=True,
        help="directory of per-symbol CSV closes, or 'alpaca' for Alpaca's daily bars (keys set)",
    )
    parser.add_argument(
        "--feed",
        choices=["sip", "iex", "delayed_sip"],
        default="sip",
        help="Alpaca feed for --data alpaca (default sip: the consolidated tape; IEX closes are "
        "a thin slice of the volume)",
    )
    parser.add_argument(
        "--start", type=iso_date, help="YYYY-MM-DD (default: the first day with enough history)"
    )
    parser.add_argument("--end", type=iso_date, help="YYYY-MM-DD (default: the data's last close)")
    parser.add_argument(
        "--slippage-bps",
        type=float,
        default=1.0,
        help="each fill this many basis points worse than the close (default 1)",
    )
    parser.add_argument(
        "--fees",
        choices=["current", "legacy", "none"],
        default="current",
        help="SEC and FINRA TAF fees on sells: today's rates (default), the older ones, or none",
    )
    parser.add_argument(
        "--borrow-rate", type=float, default=0.0, help="%% a year on the value of shorts"
    )
    parser.add_argument(
        "--margin-rate",
        type=float,
        default=0.0,
        help="%% a year on gross exposure above equity (margin interest)",
    )
    parser.add_argument(
        "--simulate",
        default="",
        help="comma-separated leveraged funds (e.g. UPRO,TMF) to extend before their inception "
        "with the forum thread's formula; the early part is labelled SIMULATED",
    )
    parser.add_argument(
        "--index-data",
        type=Path,
        help="root of the index/rate data for --simulate (default: the parent of --data)",
    )
