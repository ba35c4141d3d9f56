"""Helpers shared by the command-line commands: the account banner, the simulated clock's
next wake, and JSON-safe values."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from bot.bootstrap import Bot
from bot.config import AlpacaBrokerConfig, BotConfig
from bot.cycle import NEW_YORK
from bot.daemon import next_wake
from bot.errors import BotError
from bot.ports import Journal
from bot.report import quarterly_lines
from bot.settings import LIVE_URL, PAPER_URL, Settings

EXIT_ERROR = 2


def to_next_simulated_wake(bot: Bot) -> None:
    """With a simulated clock, jump to the next market-day wake (refused past the period)."""
    config, clock = bot.config, bot.adapters.clock
    if config.clock.kind != "simulated":
        return
    wake = next_wake(
        bot.adapters.calendar,
        clock.now(),
        timedelta(minutes=config.clock.wake_before_close_minutes),
    )
    assert config.clock.end is not None  # checked by the config model
    if wake.astimezone(NEW_YORK).date() > config.clock.end:
        msg = f"the simulated period of {config.name} ended on {config.clock.end}"
        raise BotError(msg)
    clock.sleep_until(wake)


def alpaca_url(settings: Settings, *, live: bool) -> str:
    """The trading endpoint the bot talks to: the override, else Alpaca's paper or live URL."""
    return settings.base_url or (LIVE_URL if live else PAPER_URL)


def alpaca_banner(account_number: str, url: str, *, live: bool) -> str:
    """One loud line naming the Alpaca account; never a key."""
    if live:
        return f"*** ALPACA LIVE account {account_number} ({url}) — REAL MONEY ***"
    return f"ALPACA PAPER account {account_number} ({url})"


def banner(bot: Bot, settings: Settings, *, live: bool) -> str:
    """Which account the bot is on (reads the Alpaca account number: fails fast on bad keys)."""
    if not isinstance(bot.config.broker, AlpacaBrokerConfig):
        return banner_text(bot.config, settings, "", live=live)
    number = bot.adapters.broker.account_state().account_number
    return banner_text(bot.config, settings, number, live=live)


def banner_text(config: BotConfig, settings: Settings, number: str, *, live: bool) -> str:
    if not isinstance(config.broker, AlpacaBrokerConfig):
        return (
            "SIMULATED broker — no real account, no real orders; its book and the tracker are"
            f" in {settings.state_dir.resolve()}"
        )
    return alpaca_banner(number, alpaca_url(settings, live=live), live=live)


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def print_tracker(tracker: Journal, name: str) -> None:
    """The forum-style account tracker of one strategy, on stdout."""
    print(f"account tracker — {name}")
    lines = quarterly_lines(tracker.equity_history(name))
    if not lines:
        print("  (no equity recorded yet)")
    for line in lines:
        print(f"  {line.render()}")
