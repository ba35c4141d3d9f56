"""``bot once`` on a portfolio file: one wake of every strategy in the account, netted.

The same shell as a single strategy's ``once`` (the state lock, signals, alerts, the banner),
around ``run_portfolio_wake``; the output gives the account's line, each strategy's line, and the
netted orders.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
from collections.abc import Mapping
from dataclasses import asdict
from decimal import Decimal
from typing import Any

import structlog

from bot.alerting import cycle_alerts, missed_alert, portfolio_alerts
from bot.alerts import EXIT_FLUSH_SECONDS, STOP_FLUSH_SECONDS, AlertDispatcher
from bot.bootstrap import (
    PortfolioBot,
    account_config,
    build_portfolio_bot,
    build_portfolio_runtime,
    dispatcher_from_settings,
    heartbeat_path,
    open_tracker,
    wall_clock,
)
from bot.cli_support import EXIT_ERROR, banner, jsonable, to_next_simulated_wake
from bot.cycle import NEW_YORK
from bot.errors import BotError, ConfigError, DataError
from bot.journal import EventKind
from bot.portfolio.config import LoadedPortfolio, load_portfolio
from bot.portfolio.ledger import Change, Ledger, Posting, split_integer, split_money
from bot.portfolio.wake import (
    PortfolioResult,
    load_ledgers,
    run_portfolio_wake,
    unsettled_nettings,
)
from bot.ports import Journal
from bot.rules import NANO
from bot.run_command import register_secrets
from bot.scheduler import stop_on_signals
from bot.settings import Settings
from bot.state_lock import lock_wait_seconds, state_lock
from bot.status import build_status, configured_channels, render_status
from bot.stopping import StopToken

log = structlog.get_logger()
ZERO = Decimal(0)


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


# --- status, targets, ledger, backtest ----------------------------------------------------------


def portfolio_status(args: argparse.Namespace) -> int:
    """``bot status`` on a portfolio file: the account's status, then each strategy's slice —
    its equity, weights against its targets (at the last wake's prices) and last cycle."""
    loaded = load_portfolio(args.config)
    settings = Settings()
    if not settings.tracker_path.exists():
        msg = f"no tracker at {settings.tracker_path}: run the bot first, or set BOT_STATE_DIR"
        raise BotError(msg)
    tracker = open_tracker(settings)
    try:
        account = build_status(
            tracker,
            account_config(loaded),
            wall_clock().now(),
            heartbeat_file=heartbeat_path(settings),
            alert_channel_names=configured_channels(settings),
        )
        sleeves = sleeve_sections(tracker, loaded)
    finally:
        tracker.close()
    if args.json:
        print(json.dumps({"account": account, "strategies": sleeves}, indent=2))
        return 0
    lines = render_status(account).splitlines()
    print("\n".join(line for line in lines if not line.startswith(("next wake", "  "))))
    print(f"strategies in {loaded.name} (each its own ledger, at the last wake's prices):")
    for section in sleeves:
        print(render_sleeve(section))
    return 0


def sleeve_sections(tracker: Journal, loaded: LoadedPortfolio) -> list[dict[str, Any]]:
    """Each strategy's slice: equity, cash, weights against targets, last cycle."""
    ledgers = load_ledgers(tracker, loaded.name)
    last = tracker.last_event(loaded.name, EventKind.POSITIONS)
    prices = {
        str(s): Decimal(repr(p))
        for s, p in (last.payload.get("prices", {}) if last else {}).items()
    }
    sections = []
    for part, strategy in zip(loaded.config.sleeves, loaded.strategies, strict=True):
        ledger = ledgers.get(strategy.name, Ledger())
        priced = all(s in prices for s in ledger.positions)
        equity = ledger.equity(prices) if priced else None
        targets_event = tracker.last_event(strategy.name, EventKind.TARGETS_COMPUTED)
        targets = dict(targets_event.payload.get("weights", {})) if targets_event else {}
        weights = {
            s: float(ledger.quantity(s) * prices[s] / equity)
            for s in sorted(set(ledger.positions) | set(targets))
            if equity and s in prices
        }
        finished = tracker.last_event(strategy.name, EventKind.CYCLE_FINISHED)
        sections.append(
            {
                "strategy": strategy.name,
                "share": part.share,
                "equity": None if equity is None else str(equity.quantize(Decimal("0.01"))),
                "cash": str(ledger.cash.quantize(Decimal("0.01"))),
                "shares": {s: str(q) for s, q in ledger.shares().items()},
                "weights": weights,
                "targets": {s: float(w) for s, w in targets.items()},
                "last_cycle": None if finished is None else dict(finished.payload, at=finished.at),
            }
        )
    return sections


def render_sleeve(section: dict[str, Any]) -> str:
    equity = "unpriced" if section["equity"] is None else f"${Decimal(section['equity']):,.2f}"
    lines = [f"  {section['strategy']} ({section['share']:.0%} at the start): {equity}"]
    for symbol, weight in section["weights"].items():
        target = section["targets"].get(symbol, 0.0)
        lines.append(
            f"    {symbol:6} {weight:7.2%}  target {target:7.2%}  ({weight - target:+.2%})"
        )
    lines.append(f"    cash ${Decimal(section['cash']):,.2f}")
    last = section["last_cycle"]
    if last is not None:
        lines.append(f"    last cycle: {last['outcome']} — {last['reason']}")
    return "\n".join(lines)


def portfolio_targets(args: argparse.Namespace) -> int:
    """``bot targets`` on a portfolio file: each strategy's targets (its own file, the same
    options); with ``--json`` one document keyed by strategy."""
    from bot.commands import targets_command  # noqa: PLC0415 - bot.commands dispatches here

    loaded = load_portfolio(args.config)
    documents: dict[str, Any] = {}
    for part in loaded.config.sleeves:
        sleeve_args = argparse.Namespace(
            **{**vars(args), "config": loaded.path.parent / part.config}
        )
        if not args.json:
            print(f"— share {part.share:.0%} of {loaded.name}:")
            targets_command(sleeve_args)
            continue
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            targets_command(sleeve_args)
        document = json.loads(out.getvalue())
        documents[str(part.config)] = {"share": part.share, **document}
    if args.json:
        print(json.dumps(documents, indent=2))
    return 0


def ledger_command(args: argparse.Namespace) -> int:
    """``bot ledger --config PORTFOLIO``: each strategy's cash and shares, and how they add up
    against the account (as the last wake saw it). ``--accept`` books a difference the
    reconciliation refused (a manual trade) to the strategies holding that fund, by holding, and
    its cash at the last prices, so the next wake trades again."""
    loaded = load_portfolio(args.config)
    settings = Settings()
    register_secrets(settings)
    with state_lock(settings.state_dir, "bot ledger", wait_seconds=lock_wait_seconds()):
        tracker = open_tracker(settings)
        try:
            ledgers = load_ledgers(tracker, loaded.name)
            failed = tracker.last_event(loaded.name, EventKind.RECONCILE_FAILED)
            posted = tracker.last_event(loaded.name, EventKind.LEDGER_POSTED)
            pending = failed is not None and (posted is None or failed.id > posted.id)
            if args.accept:
                if not pending or failed is None:
                    msg = "no refused difference to accept: the ledgers matched the account"
                    raise BotError(msg)
                if unsettled_nettings(tracker, loaded.name):
                    msg = (
                        "a wake's netted orders are not settled yet (a crash or a stop): run "
                        "`bot once` first — it settles them before it compares the account"
                    )
                    raise BotError(msg)
                posting = accept_posting(tracker, loaded.name, ledgers, failed.payload)
                bot = build_portfolio_bot(loaded, settings, tracker=tracker)
                tracker.record(
                    bot.adapters.clock.now(), "ledger-accept", loaded.name,
                    EventKind.LEDGER_POSTED, **posting.payload(),
                )  # fmt: skip
                ledgers = load_ledgers(tracker, loaded.name)
                print(f"booked: {posting.why}")
        finally:
            tracker.close()
    for name, ledger in sorted(ledgers.items()):
        shares = ", ".join(f"{q} {s}" for s, q in ledger.shares().items()) or "no shares"
        print(f"{name}: cash ${ledger.cash:,.2f}; {shares}")
    if pending and not args.accept and failed is not None:
        print(f"refused difference (run {failed.run_id}): {failed.payload['differences']}")
        print("`bot ledger --accept` books it to the strategies holding those funds")
    return 0


def accept_posting(
    tracker: Journal, name: str, ledgers: dict[str, Ledger], refused: Mapping[str, Any]
) -> Posting:
    """The refused differences, booked by holding: each fund's shares to the ledgers that hold
    it (pro rata), with their value at the last wake's prices moved the other way in cash."""
    last = tracker.last_event(name, EventKind.POSITIONS)
    prices = {
        str(s): Decimal(repr(p))
        for s, p in (last.payload.get("prices", {}) if last else {}).items()
    }
    changes: dict[str, dict[str, Any]] = {}
    for symbol, text in refused["differences"].items():
        nano = int(Decimal(text) * NANO)
        holders = {n: abs(x.positions.get(symbol, 0)) for n, x in ledgers.items()}
        if not any(holders.values()):
            msg = f"no strategy holds {symbol}: a difference in it cannot be booked by holding"
            raise BotError(msg)
        parts = split_integer(nano, holders)
        cash = split_money(
            -Decimal(nano) / NANO * prices.get(symbol, ZERO),
            {n: Decimal(abs(q)) for n, q in parts.items()},
        )
        for holder, quantity in parts.items():
            entry = changes.setdefault(holder, {"cash": ZERO, "positions": {}})
            entry["positions"][symbol] = quantity
            entry["cash"] += cash.get(holder, ZERO)
    why = "accepted by hand: " + ", ".join(f"{s} {q}" for s, q in refused["differences"].items())
    return Posting(why, {n: Change(e["cash"], e["positions"]) for n, e in changes.items()})


def last_prices(tracker: Journal, name: str) -> dict[str, Decimal]:
    """The prices the portfolio's last wake recorded with its positions."""
    last = tracker.last_event(name, EventKind.POSITIONS)
    recorded = last.payload.get("prices", {}) if last is not None else {}
    return {str(s): Decimal(repr(p)) for s, p in recorded.items()}


def portfolio_check(args: argparse.Namespace) -> int:
    """``bot check`` on a portfolio file: the account's and every strategy's checks, as a dry
    run of the wake (nothing sent); exit 0 only when nothing failed."""
    args = argparse.Namespace(**{**vars(args), "dry_run": True, "force": False})
    args.live = getattr(args, "live", False)
    return portfolio_once(args)


def portfolio_backtest(args: argparse.Namespace) -> int:
    """``bot backtest`` on a portfolio file: the same wake over history (CSV closes), each
    strategy's curve and the account's, with the turnover the netting saved."""
    from bot.backtest.command import _costs  # noqa: PLC0415 - bot.backtest.command dispatches here
    from bot.backtest.portfolio import run_portfolio_backtest  # noqa: PLC0415
    from bot.backtest.stats import compute_stats  # noqa: PLC0415
    from bot.market.csv_source import MarketDataError, load_closes_dir  # noqa: PLC0415

    loaded = load_portfolio(args.config)
    runtime = build_portfolio_runtime(loaded)
    if args.data is None or str(args.data) == "alpaca":
        msg = "a portfolio's backtest reads CSV closes: --data DIR (bot data fetch writes them)"
        raise ConfigError(msg)
    try:
        closes = load_closes_dir(args.data, list(runtime.funds))
    except MarketDataError as exc:
        raise DataError(str(exc)) from exc
    history = max(s.runtime.strategy.history_closes for s in runtime.sleeves)
    complete = closes.dropna()
    if len(complete) <= history:
        msg = f"too little common history for {', '.join(runtime.funds)}"
        raise DataError(msg)
    start = args.start or complete.index[history].date()
    end = args.end or closes.index[-1].date()
    costs = _costs(account_config(loaded), args)
    result = run_portfolio_backtest(runtime, closes, start, end, costs=costs)
    curves = {loaded.name: result.equity, **{c: result.sleeves[c] for c in result.sleeves}}
    rows = {}
    for name, curve in curves.items():
        stats = compute_stats(curve.dropna())
        rows[name] = {
            "start": float(curve.iloc[0]),
            "end": float(curve.iloc[-1]),
            "cagr": stats.cagr,
            "max_drawdown": stats.max_drawdown,
            "sharpe": stats.sharpe,
        }
    saved = result.wanted_turnover - result.sent_turnover
    if args.json:
        document = {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "curves": rows,
            "wanted_turnover": str(result.wanted_turnover),
            "sent_turnover": str(result.sent_turnover),
            "fees": str(result.fees),
            "slippage": str(result.slippage),
            "errors": [(d.isoformat(), n, why) for d, n, why in result.errors],
        }
        print(json.dumps(document, indent=2))
        return 0
    print(f"{loaded.name}: {start} → {end}, ${costs.initial_cash:,.0f} shared by the shares")
    print(f"  {'':10} {'start':>12} {'end':>12} {'CAGR':>8} {'max DD':>8} {'Sharpe':>7}")
    for name, row in rows.items():
        print(
            f"  {name:10} {row['start']:12,.0f} {row['end']:12,.0f} {row['cagr']:8.2%}"
            f" {row['max_drawdown']:8.2%} {row['sharpe']:7.2f}"
        )
    print(
        f"  netting: traded ${result.sent_turnover:,.0f} of the ${result.wanted_turnover:,.0f} "
        f"the strategies wanted alone (${saved:,.0f} less); fees ${result.fees:,.2f}, "
        f"slippage ${result.slippage:,.2f}"
    )
    for day, name, why in result.errors[:10]:
        print(f"  error {day} {name}: {why}")
    return 0
