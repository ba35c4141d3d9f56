"""The ``bot dashboard`` arguments, apart from the command so that building the parser (``bot
--help``) imports neither Starlette nor uvicorn nor pandas."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.lazy import lazy

DESCRIPTION = """\
Serve a read-only dashboard of the bot's state directory (BOT_STATE_DIR) in the browser: equity
against SPY with its drawdown and the quarterly tracker lines, positions against targets with the
drift corridor, the account against its own backtest over the same days, the journal, and the
bot's health; and the same numbers as JSON (docs/dashboard.md). Nothing on it trades, and no
daemon is needed: a stopped bot's history is still there. It listens on 127.0.0.1 unless --host
says otherwise, and then only with a token (BOT_DASHBOARD_TOKEN)."""


def add_dashboard_parser(commands: Any) -> None:
    """``bot dashboard`` (``commands`` is argparse's sub-parser action)."""
    parser = commands.add_parser(
        "dashboard",
        help="a read-only web dashboard of the state directory (127.0.0.1:8787)",
        description=DESCRIPTION,
    )
    parser.add_argument(
        "--config",
        type=Path,
        help="the strategy's config file, or a portfolio file: adds the corridor, the next "
        "wake and the comparison with the backtest",
    )
    parser.add_argument(
        "--data",
        type=Path,
        help="directory of per-symbol CSV closes (bot data fetch) for the backtest and the "
        "benchmark (default: the config's [market])",
    )
    parser.add_argument(
        "--host",
        default=None,
        help="address to listen on (default 127.0.0.1, or BOT_DASHBOARD_HOST); any other "
        "needs BOT_DASHBOARD_TOKEN",
    )
    parser.add_argument("--port", type=int, default=8787, help="port (default 8787)")
    parser.set_defaults(handler=lazy("bot.dashboard.command:dashboard_command"))
