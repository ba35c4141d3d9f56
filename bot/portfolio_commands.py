"""``bot once`` on a portfolio file: one wake of every strategy in the account, netted.

The same shell as a single strategy's ``once`` (the state lock, signals, alerts, the banner),
around ``run_portfolio_wake``; the output gives the account's line, each strategy's line, and the
netted orders.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from decimal import Decimal

import structlog

from bot.alerting import cycle_alerts, missed_alert, portfolio_alerts
from bot.alerts import EXIT_FLUSH_SECONDS, STOP_FLUSH_SECONDS, AlertDispatcher
from bot.bootstrap import PortfolioBot, build_portfolio_bot, dispatcher_from_settings, open_tracker
from bot.cli_support import EXIT_ERROR, banner, jsonable, to_next_simulated_wake
from bot.cycle import NEW_YORK
from bot.errors import BotError
from bot.portfolio.config import load_portfolio
from bot.portfolio.wake import PortfolioResult, run_portfolio_wake
from bot.run_command import register_secrets
from bot.scheduler import stop_on_signals
from bot.settings import Settings
from bot.state_lock import lock_wait_seconds, state_lock
from bot.stopping import StopToken

log = structlog.get_logger()


def portfolio_once(args: argparse.Namespace) -> int:
    """``bot once --config PORTFOLIO.toml``: the same options as for one strategy."""
    loaded = load_portfolio(args.config)
    settings = Settings()
    register_secrets(settings)
    stop = StopToken()
    with (
        stop_on_signals(stop),
        state_lock(settings.state_dir, "bot once", wait_seconds=lock_wait_seconds(), stop=stop),
    ):
        tracker = open_tracker(settings)
        try:
            bot = build_portfolio_bot(
                loaded, settings, data_dir=args.data, live=args.live, tracker=tracker, stop=stop
            )
            out = sys.stderr if args.json else sys.stdout
            print(
                f"{banner(bot.account, settings, live=args.live)} — portfolio {bot.name}", file=out
            )
            simulated = loaded.config.clock.kind == "simulated"
            alerts = dispatcher_from_settings(
                tracker, settings, bot.adapters.clock, simulated=simulated
            )
            try:
                alerts.resend_unsent()
                to_next_simulated_wake(bot.account)
                if stop.requested:
                    msg = f"stopped ({stop.reason}) before the wake started: nothing was sent"
                    raise BotError(msg)
                result = _wake_with_alerts(bot, alerts, force=args.force, dry_run=args.dry_run)
            finally:
                alerts.close(timeout=STOP_FLUSH_SECONDS if stop.requested else EXIT_FLUSH_SECONDS)
        finally:
            tracker.close()
    print_portfolio_result(result, as_json=args.json)
    if result.outcome == "error":
        print(f"error: {result.reason}", file=sys.stderr)
    return EXIT_ERROR if result.outcome == "error" else 0


def _wake_with_alerts(
    bot: PortfolioBot, alerts: AlertDispatcher, *, force: bool, dry_run: bool
) -> PortfolioResult:
    """One wake, alerted as the daemon alerts it (each alert once: the tracker remembers)."""
    try:
        result = run_portfolio_wake(bot.adapters, bot.runtime, force=force, dry_run=dry_run)
    except Exception:
        today = bot.adapters.clock.now().astimezone(NEW_YORK).date()
        alerts.send(missed_alert(bot.name, today, "the wake crashed"))
        raise
    try:
        for alert in portfolio_alerts(result):
            alerts.send(alert)
        for sleeve in result.sleeves:
            for alert in cycle_alerts(sleeve, bot.tracker):
                alerts.send(alert)
    except Exception:  # composing an alert must not hide the wake's result
        log.exception("alert_compose_failed", strategy=bot.name)
    return result


def print_portfolio_result(result: PortfolioResult, *, as_json: bool) -> None:
    """The account's line, then each strategy's, then the netted orders (sent or planned)."""
    if as_json:
        print(json.dumps(jsonable(asdict(result)), indent=2))
        return
    equity = "" if result.equity is None else f"; equity ${result.equity:,.2f}"
    print(f"{result.session} {result.portfolio}: {result.outcome} — {result.reason}{equity}")
    for sleeve in result.sleeves:
        value = "" if sleeve.equity is None else f" (sleeve ${sleeve.equity:,.2f})"
        print(f"  {sleeve.strategy}: {sleeve.outcome} — {sleeve.reason}{value}")
        for wanted in sleeve.planned:
            print(f"    wants {wanted.leg.value} {wanted.qty} {wanted.symbol} @ {wanted.price}")
    for order in result.orders:
        price = order.filled_avg_price or Decimal(0)
        print(
            f"  {order.side.value} {order.filled_qty} {order.symbol} @ {price} "
            f"({order.status.value}) {order.client_order_id}"
        )
    for planned in result.planned:
        amount = f"${planned.send_notional}" if planned.by_notional else str(planned.qty)
        print(f"  planned: {planned.leg.value} {amount} {planned.symbol} @ {planned.price}")
