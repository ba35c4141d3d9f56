"""The ``bot`` command line: run, once, check, targets, tracker.

User errors (a bad config, missing data, a refused trade) print one line saying what went wrong
and exit non-zero; tracebacks are for bugs only.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.backtest.arguments import add_backtest_parser
from bot.cli_args import BotArgumentParser, iso_date
from bot.errors import BotError
from bot.lazy import lazy

EXIT_ERROR = 2


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
    parser = BotArgumentParser(prog="bot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="the daemon: wake each market day and run the cycle")
    run.add_argument(
        "--config", type=Path, required=True, action="append", help="one per strategy; repeatable"
    )
    run.add_argument("--data", type=Path, help="directory of per-symbol CSV closes")
    _live_flag(run)
    run.set_defaults(handler=lazy("bot.run_command:run_command"))

    add_backtest_parser(commands)

    status = commands.add_parser("status", help="last cycle, next wake, drift, errors, alerts")
    status.add_argument("--config", type=Path, required=True)
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=lazy("bot.status:status_command"))

    health = commands.add_parser("health", help="exit 0 if the daemon's heartbeat is fresh")
    health.add_argument("--max-age-minutes", type=float, default=10.0)
    health.set_defaults(handler=lazy("bot.commands:health_command"))

    once = commands.add_parser("once", help="run one cycle now")
    once.add_argument("--config", type=Path, required=True)
    once.add_argument("--force", action="store_true", help="trade regardless of the trigger")
    once.add_argument("--dry-run", action="store_true", help="plan and record, send nothing")
    once.add_argument("--data", type=Path, help="directory of per-symbol CSV closes")
    once.add_argument("--json", action="store_true")
    _live_flag(once)
    once.set_defaults(handler=lazy("bot.commands:once_command"))

    check = commands.add_parser("check", help="pre-trade checks against the configured account")
    check.add_argument("--config", type=Path, required=True)
    check.add_argument("--data", type=Path, help="directory of per-symbol CSV closes")
    check.add_argument("--json", action="store_true")
    _live_flag(check)
    check.set_defaults(handler=lazy("bot.check_command:check_command"))

    targets = commands.add_parser("targets", help="the weights the strategy wants")
    targets.add_argument("--config", type=Path, required=True)
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
    targets.add_argument("--json", action="store_true")
    targets.set_defaults(handler=lazy("bot.commands:targets_command"))

    tracker = commands.add_parser("tracker", help="the account tracker, or the event log")
    tracker.add_argument("--events", action="store_true", help="list recorded events")
    tracker.add_argument("--strategy", help="only this strategy")
    tracker.add_argument("--json", action="store_true")
    tracker.set_defaults(handler=lazy("bot.commands:tracker_command"))
    return parser


def _live_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--live",
        action="store_true",
        help="trade the LIVE Alpaca account (also needs BOT_ALLOW_LIVE_TRADING=true)",
    )
