"""The ``bot`` command line: run, once, check, targets, backtest, status, health, tracker, ledger,
data.

User errors (a bad config, missing data, a refused trade) print one line saying what went wrong
and exit non-zero; tracebacks are for bugs only.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bot.backtest.arguments import add_backtest_parser
from bot.cli_args import BotArgumentParser, iso_date, positive_number
from bot.dashboard.arguments import add_dashboard_parser
from bot.errors import BotError
from bot.lazy import by_config, lazy
from bot.sweep.arguments import add_sweep_parser

EXIT_ERROR = 2
DESCRIPTION = """\
Rebalance published leveraged-ETF strategies on an Alpaca account (paper unless you opt in
twice) or on the simulated broker, and backtest them with the same cycle.

Start with:  bot run --config config/demo.toml   (the demo: simulated broker, synthetic market)
Several strategies in one account: --config config/portfolio.toml (run, once, check, targets,
backtest, status; bot ledger shows each strategy's share of the account).
Data for backtests: bot data fetch --config config/hfea.toml --to data (Alpaca's daily bars).

A user error (a bad config, missing data, a refused trade) is one 'error: ...' line on stderr
and exit status 2. 'bot COMMAND --help' describes each command's options."""

FETCH_DESCRIPTION = """\
Download Alpaca's daily bars, adjusted for splits and dividends, into DIR/<SYMBOL>.csv (a Date
and an Adj Close column): the files 'bot backtest --data DIR' reads, offline. A file already
there is updated: only the days after its last row are fetched, with an overlap of its last 5
rows that must agree (when Alpaca has restated the history, the symbol is refetched whole).
Every file is checked for gaps against the NYSE calendar, closes that are no price and moves
beyond 50%; a symbol with a problem is refetched whole once, and its line says what was
repaired and what remains. Keys: APCA_API_KEY_ID and APCA_API_SECRET_KEY (a free paper
account's will do)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bot`` console script."""
    args = _parser().parse_args(argv)
    from bot.logs import configure_logging  # noqa: PLC0415 - after --help, not before

    configure_logging()
    try:
        return int(args.handler(args))
    except BotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except ValueError as exc:
        from strategies import StrategyError  # noqa: PLC0415 - loaded by then if it matters

        if not isinstance(exc, StrategyError):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = BotArgumentParser(
        prog="bot", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--version", action=_Version, help="print the installed version of the bot and exit"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="the daemon: wake each market day and run the cycle")
    run.add_argument(
        "--config",
        type=Path,
        required=True,
        action="append",
        help="a strategy's config file (TOML); repeat it to run several strategies",
    )
    _data_flag(run)
    _live_flag(run)
    run.set_defaults(handler=lazy("bot.run_command:run_command"))

    once = commands.add_parser("once", help="run one cycle now")
    _config_flag(once)
    once.add_argument("--force", action="store_true", help="trade regardless of the trigger")
    once.add_argument(
        "--dry-run", action="store_true", help="plan, record and list the orders; send nothing"
    )
    _data_flag(once)
    _json_flag(once, "the cycle's result")
    _live_flag(once)
    once.set_defaults(
        handler=by_config("bot.commands:once_command", "bot.portfolio_commands:portfolio_once")
    )

    check = commands.add_parser("check", help="pre-trade checks against the configured account")
    _config_flag(check)
    _data_flag(check)
    _json_flag(check, "the report, with 'ok' and 'problems'")
    _live_flag(check)
    check.set_defaults(
        handler=by_config(
            "bot.check_command:check_command", "bot.portfolio_commands:portfolio_check"
        )
    )

    targets = commands.add_parser("targets", help="the weights the strategy wants")
    _config_flag(targets)
    targets.add_argument(
        "--as-of",
        type=iso_date,
        help="YYYY-MM-DD, not in the future nor past the data (default: the data's last close)",
    )
    prices = targets.add_mutually_exclusive_group()
    prices.add_argument(
        "--data",
        type=Path,
        help="directory of per-symbol CSV closes, or 'alpaca' for Alpaca's daily bars (keys set); "
        "needed for an Alpaca config unless its [market] names a CSV directory",
    )
    prices.add_argument(
        "--synthetic",
        action="store_true",
        help="the seeded SYNTHETIC market (made-up prices, to try the command)",
    )
    _json_flag(targets, "the weights")
    targets.set_defaults(
        handler=by_config(
            "bot.commands:targets_command", "bot.portfolio_commands:portfolio_targets"
        )
    )

    add_backtest_parser(commands)
    add_sweep_parser(commands)

    status = commands.add_parser("status", help="daemon, last cycle, next wake, drift, errors")
    _config_flag(status)
    _json_flag(status, "every section")
    status.set_defaults(
        handler=by_config("bot.status:status_command", "bot.portfolio_commands:portfolio_status")
    )

    health = commands.add_parser("health", help="exit 0 if the daemon's heartbeat is fresh")
    health.add_argument(
        "--max-age-minutes",
        type=positive_number,
        default=10.0,
        help="the oldest heartbeat that still counts as alive, in minutes (default 10)",
    )
    health.set_defaults(handler=lazy("bot.commands:health_command"))

    tracker = commands.add_parser("tracker", help="the account tracker, or the event log")
    tracker.add_argument("--events", action="store_true", help="list recorded events")
    tracker.add_argument("--strategy", help="only this strategy (a name the tracker recorded)")
    _json_flag(tracker, "the tracker lines or events")
    tracker.set_defaults(handler=lazy("bot.commands:tracker_command"))

    ledger = commands.add_parser(
        "ledger", help="a portfolio's per-strategy ledgers, and a refused difference"
    )
    _config_flag(ledger)
    ledger.add_argument(
        "--accept",
        action="store_true",
        help="book the difference the last wake refused (a manual trade) to the strategies "
        "holding that fund, by holding, so the portfolio trades again",
    )
    ledger.set_defaults(handler=lazy("bot.portfolio_commands:ledger_command"))

    _add_data_parser(commands)
    add_dashboard_parser(commands)
    return parser


def _add_data_parser(commands: Any) -> None:
    """``bot data fetch`` (``commands`` is argparse's sub-parser action)."""
    data = commands.add_parser("data", help="price data for backtests: bot data fetch")
    actions = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    fetch = actions.add_parser(
        "fetch",
        help="download Alpaca's adjusted daily bars into the CSV files backtests read "
        "(incremental; checked; bot backtest --data DIR then runs offline)",
        description=FETCH_DESCRIPTION,
    )
    wanted = fetch.add_mutually_exclusive_group(required=True)
    wanted.add_argument(
        "--config",
        type=Path,
        help="fetch the funds of this strategy file (every strategy's for a portfolio file), "
        "and the benchmark",
    )
    wanted.add_argument(
        "--symbols", nargs="+", metavar="SYM", help="fetch these symbols (e.g. UPRO TMF SPY)"
    )
    fetch.add_argument(
        "--to",
        type=Path,
        required=True,
        metavar="DIR",
        help="directory of <SYMBOL>.csv files (created if missing)",
    )
    fetch.add_argument(
        "--start", type=iso_date, help="YYYY-MM-DD, for new files (default 2016-01-01)"
    )
    fetch.add_argument(
        "--end", type=iso_date, help="YYYY-MM-DD, a finished day (default: yesterday in New York)"
    )
    fetch.add_argument(
        "--feed",
        choices=["sip", "iex", "delayed_sip"],
        default="sip",
        help="Alpaca's feed (default sip: the consolidated tape, which the free plan serves "
        "for past days)",
    )
    fetch.add_argument(
        "--benchmark",
        help="with --config, the buy-and-hold symbol bot backtest compares with (default SPY, "
        "'' for none)",
    )
    fetch.set_defaults(handler=lazy("bot.data_fetch:data_fetch_command"))


class _Version(argparse.Action):
    """``--version``: the installed package's version, read only when asked."""

    def __init__(self, option_strings: list[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_args: object) -> None:
        from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

        try:
            installed = version("letf-rebalancer")
        except PackageNotFoundError:
            installed = "unknown (not installed: pip install -e .)"
        print(f"bot (letf-rebalancer) {installed}")
        parser.exit(0)


def _config_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        required=True,
        help="the strategy's config file (TOML), or a portfolio file (config/portfolio.toml)",
    )


def _data_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data",
        type=Path,
        help="directory of per-symbol CSV closes for the simulated broker (instead of the "
        "config's [market])",
    )


def _json_flag(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--json", action="store_true", help=f"print {what} as JSON")


def _live_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--live",
        action="store_true",
        help="trade the LIVE Alpaca account (also needs BOT_ALLOW_LIVE_TRADING=true)",
    )
