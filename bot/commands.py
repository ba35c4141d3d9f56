"""The handlers of the ``bot`` commands that live in the CLI itself: once, targets, tracker,
health. Imported only when one of them runs (``bot.cli`` stays light so ``bot --help`` is quick).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import structlog

from bot import messages
from bot.alerting import cycle_alerts, missed_alert
from bot.alerts import EXIT_FLUSH_SECONDS, STOP_FLUSH_SECONDS, AlertDispatcher
from bot.bootstrap import (
    WARMUP_SESSIONS,
    Bot,
    alpaca_history,
    build_bot,
    build_runtime,
    dispatcher_from_settings,
    heartbeat_path,
    load_market,
    open_tracker,
    wall_clock,
)
from bot.cli_support import (
    EXIT_ERROR,
    banner,
    jsonable,
    print_tracker,
    to_next_simulated_wake,
)
from bot.config import AlpacaBrokerConfig, BotConfig, load_config
from bot.cycle import NEW_YORK, CycleResult, run_cycle
from bot.domain import PlannedOrder
from bot.errors import BotError, ConfigError, DataError
from bot.health import healthcheck_main
from bot.market.sessions import xnys_sessions
from bot.market.synthetic import SYNTHETIC_LABEL, synthetic_closes_for_range
from bot.report import quarterly_lines
from bot.run_command import register_secrets
from bot.scheduler import stop_on_signals
from bot.settings import Settings
from bot.state_lock import lock_wait_seconds, state_lock
from bot.stopping import StopToken
from bot.tracker import Tracker
from strategies import Strategy

log = structlog.get_logger()


def health_command(args: argparse.Namespace) -> int:
    settings = Settings()
    max_age = timedelta(minutes=args.max_age_minutes)
    return healthcheck_main(heartbeat_path(settings), max_age, clock=wall_clock())


def once_command(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    settings = Settings()
    register_secrets(settings)
    stop = StopToken()  # SIGTERM/SIGINT: cancel what is unfilled, journal it, exit
    with (
        stop_on_signals(stop),
        # Before anything reads the state (a dry run records its plan too): one at a time.
        state_lock(settings.state_dir, "bot once", wait_seconds=lock_wait_seconds(), stop=stop),
    ):
        tracker = open_tracker(settings)
        try:
            return _once_locked(args, config, settings, tracker, stop)
        finally:
            tracker.close()


def _once_locked(
    args: argparse.Namespace,
    config: BotConfig,
    settings: Settings,
    tracker: Tracker,
    stop: StopToken,
) -> int:
    bot = build_bot(
        config, settings, data_dir=args.data, live=args.live, tracker=tracker, stop=stop
    )
    # With --json, stdout is the JSON document alone: the banner goes to stderr.
    out = sys.stderr if args.json else sys.stdout
    print(banner(bot, settings, live=args.live), file=out)
    if bot.synthetic:
        print(f"market: {SYNTHETIC_LABEL}", file=out)
    simulated = config.clock.kind == "simulated"
    alerts = dispatcher_from_settings(tracker, settings, bot.adapters.clock, simulated=simulated)
    try:
        alerts.resend_unsent()  # what an earlier run queued but could not deliver
        to_next_simulated_wake(bot)
        if stop.requested:
            msg = f"stopped ({stop.reason}) before the cycle started: nothing was sent"
            raise BotError(msg)
        result = _cycle_with_alerts(bot, alerts, force=args.force, dry_run=args.dry_run)
        _print_result(result, as_json=args.json)
        if result.outcome == "closed" and _simulated_on_the_wall_clock(config):
            hint = wall_clock_hint(result.session)
            print("\n".join(hint), file=sys.stderr if args.json else sys.stdout)
        if result.outcome == "error":  # the one line a script or cron mail shows on stderr
            print(f"error: {result.reason}", file=sys.stderr)
    finally:
        # Bounded: a channel still failing after this is retried by the next run or start.
        alerts.close(timeout=STOP_FLUSH_SECONDS if stop.requested else EXIT_FLUSH_SECONDS)
    return EXIT_ERROR if result.outcome == "error" else 0


def _simulated_on_the_wall_clock(config: BotConfig) -> bool:
    return not isinstance(config.broker, AlpacaBrokerConfig) and config.clock.kind == "wall"


def wall_clock_hint(today: date) -> list[str]:
    """What to add to a simulated-broker config without a ``[clock]`` (it runs on the wall
    clock, so on a day without a session nothing trades) to replay past market days instead:
    the three months of sessions up to the last one before ``today``."""
    end = xnys_sessions(today - timedelta(days=14), today - timedelta(days=1))[-1]
    start = xnys_sessions(end - timedelta(days=91), end)[0]
    return [
        "note: this config's simulated broker runs on the wall clock (it has no [clock] section),",
        f"so it trades on market days only, and {today} is not one. To replay past market days",
        "now, one per `bot once` (or all of them with `bot run`), add this section and use an",
        f"empty state directory (BOT_STATE_DIR=state-replay; this one has recorded {today}):",
        "  [clock]",
        '  kind = "simulated"',
        f'  start = "{start}"',
        f'  end = "{end}"',
    ]


def _cycle_with_alerts(
    bot: Bot, alerts: AlertDispatcher, *, force: bool, dry_run: bool
) -> CycleResult:
    """One cycle, alerted as the daemon alerts it (each alert once: the tracker remembers)."""
    adapters, name = bot.adapters, bot.runtime.name
    try:
        result = run_cycle(adapters, bot.runtime, force=force, dry_run=dry_run)
    except Exception:
        today = adapters.clock.now().astimezone(NEW_YORK).date()
        alerts.send(missed_alert(name, today, "the cycle crashed"))
        raise
    try:
        for alert in cycle_alerts(result, adapters.tracker):
            alerts.send(alert)
    except Exception:  # composing an alert must not hide the cycle's result
        log.exception("alert_compose_failed", strategy=name)
    return result


def _print_result(result: CycleResult, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(jsonable(asdict(result)), indent=2))
        return
    equity = "" if result.equity is None else f"; equity ${result.equity:,.2f}"
    sent = "" if result.planned and not result.orders else f" ({len(result.orders)} orders)"
    print(f"{result.session} {result.strategy}: {result.outcome} — {result.reason}{sent}{equity}")
    for order in result.orders:
        price = order.filled_avg_price or Decimal(0)
        print(f"  {order.side.value:4} {order.qty} {order.symbol} @ {price:.4f} {order.status}")
    for planned in result.planned:
        print(f"  {planned_line(planned)}")


def planned_line(order: PlannedOrder) -> str:
    """One planned order as it would be sent: side, then the dollar amount (a buy by notional)
    or the quantity, the symbol, its leg and the price it was sized at."""
    if order.by_notional:
        amount = f"${order.send_notional:,.2f} of {order.symbol}"
        detail = f"by notional, ~{order.qty} sh at {order.price:.4f}"
    else:
        amount = f"{order.qty} {order.symbol}"
        detail = f"~${order.notional:,.2f} at {order.price:.4f}"
    return f"{order.side.value:4} {amount} ({detail}; leg {order.leg.value})"


def targets_command(args: argparse.Namespace) -> int:
    """The strategy's weights on real closes (CSV files or Alpaca's daily bars), or on the
    SYNTHETIC market only when that is explicit: ``--synthetic``, or a simulated-broker config
    whose ``[market]`` is synthetic (what that bot trades on). An Alpaca config without data is
    refused rather than shown made-up weights."""
    config = load_config(args.config)
    runtime = build_runtime(config)
    today = _today()
    upper = _latest_allowed(args.as_of, config, today)
    source = _targets_source(args, config)
    frame = _targets_closes(source, config, runtime.strategy, upper, today)
    as_of = _targets_as_of(args.as_of, frame, upper, source)
    targets = runtime.strategy.target_weights(frame, as_of)
    shorts = sorted(s for s, w in targets.weights.items() if w < 0)
    if shorts and not config.sizing.allow_shorts:
        msg = f"{config.name}: {messages.shorts_not_allowed(shorts)} (sizing.allow_shorts = false)"
        raise ConfigError(msg)
    prices_date = frame.loc[: str(as_of)].index[-1].date()
    synthetic = source == SYNTHETIC
    out = {
        "as_of": as_of.isoformat(),
        "prices_as_of": prices_date.isoformat(),
        "weights": dict(targets.weights),
        "cash": round(targets.cash, 12),
        "notes": list(targets.notes),
        "data": "synthetic" if synthetic else str(source),
    }
    if synthetic:  # loud, even with --json (on stderr there, so stdout stays one document)
        print(f"market: {SYNTHETIC_LABEL}", file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print(f"{config.name} targets as of {as_of} (prices of {prices_date}, {out['data']}):")
    for symbol, weight in targets.weights.items():
        print(f"  {symbol:6} {weight:+8.2%}")
    print(f"  {'cash':6} {targets.cash:+8.2%}")
    for note in targets.notes:
        print(f"  note: {note}")
    return 0


SYNTHETIC = "synthetic"
ALPACA = "alpaca"


def _targets_source(args: argparse.Namespace, config: BotConfig) -> str | Path:
    """Where ``bot targets`` takes its closes: a CSV directory, ``alpaca`` or ``synthetic``."""
    if args.synthetic:
        return SYNTHETIC
    if args.data is not None:
        return ALPACA if str(args.data) == ALPACA else args.data
    if config.market.source == "csv" and config.market.data_dir is not None:
        return config.market.data_dir
    if isinstance(config.broker, AlpacaBrokerConfig):
        msg = (
            f"{config.name} trades an Alpaca account: its targets need real closes. Give "
            "--data DIR (per-symbol CSV closes), --data alpaca (Alpaca's daily bars, keys set) "
            "or --synthetic (made-up prices, to try the command)"
        )
        raise ConfigError(msg)
    return SYNTHETIC  # the simulated broker's own [market]: what that bot trades on


def _latest_allowed(as_of: date | None, config: BotConfig, today: date) -> date:
    """The last date targets may be asked for: today (New York), or the end of a simulated
    clock's period. A later ``--as-of`` has no closes to stand on, and is refused."""
    simulated_end = config.clock.end if config.clock.kind == "simulated" else None
    latest = simulated_end or today
    if as_of is not None and as_of > max(latest, today):
        msg = f"--as-of {as_of} is in the future (today is {today} in New York)"
        raise ConfigError(msg)
    return as_of or latest


def _targets_closes(
    source: str | Path, config: BotConfig, strategy: Strategy, upper: date, today: date
) -> pd.DataFrame:
    symbols = strategy.symbols
    if source == SYNTHETIC:
        warmup = max(WARMUP_SESSIONS, strategy.history_closes + 5)
        return synthetic_closes_for_range(
            symbols, upper - timedelta(days=10), upper, config.market.seed, warmup
        )
    if source == ALPACA:
        broker = config.broker if isinstance(config.broker, AlpacaBrokerConfig) else None
        market, _ = alpaca_history(config, Settings(), feed=broker.feed if broker else "iex")
        end = min(upper, today - timedelta(days=1))  # completed sessions only
        start = end - timedelta(days=int(strategy.history_closes * 1.6) + 10)
        frame = market.daily_closes(list(symbols), start, end)
        missing = [s for s in symbols if s not in frame.columns]
        if missing:
            msg = f"Alpaca returned no daily bars for {', '.join(missing)} up to {end}"
            raise DataError(msg)
        return frame
    frame, _ = load_market(config, symbols, upper, upper, Path(source))
    return frame


def _targets_as_of(
    as_of: date | None, frame: pd.DataFrame, upper: date, source: str | Path
) -> date:
    """``--as-of``, or the last day the data has a close of every symbol for (up to today); a
    date past that (a session some symbol has no close for) is refused rather than answered
    with old prices."""
    dates = frame.dropna(how="any").index
    known = dates[dates <= pd.Timestamp(upper)]
    if len(known) == 0:
        msg = f"the data ({source}) has no day with a close of every symbol up to {upper}"
        raise DataError(msg)
    last: date = known[-1].date()
    if as_of is None or as_of <= last:
        return as_of or last
    missing = xnys_sessions(last + timedelta(days=1), as_of)
    if missing:
        msg = (
            f"--as-of {as_of} is past the data ({source}): its last close of every symbol "
            f"is on {last}, and {len(missing)} session(s) after it lack one"
        )
        raise DataError(msg)
    return as_of


def _today() -> date:
    # The shell may read the real clock; the core never does.
    return wall_clock().now().astimezone(NEW_YORK).date()


def tracker_command(args: argparse.Namespace) -> int:
    settings = Settings()
    if not settings.tracker_path.exists():
        msg = f"no tracker at {settings.tracker_path}: run the bot first, or set BOT_STATE_DIR"
        raise BotError(msg)
    tracker = open_tracker(settings)
    known = recorded_strategies(tracker)
    if args.strategy is not None and args.strategy not in known:
        recorded = ", ".join(known) if known else "none yet"
        msg = (
            f"--strategy {args.strategy!r}: no such strategy in {settings.tracker_path} "
            f"(recorded: {recorded})"
        )
        raise BotError(msg)
    if args.events:
        events = tracker.events(strategy=args.strategy)
        if args.json:
            print(json.dumps([jsonable(asdict(e)) for e in events], indent=2))
        else:
            for e in events:
                print(f"{e.id:>6} {e.at} {e.run_id} {e.strategy} {e.kind} {json.dumps(e.payload)}")
        return 0
    names = [args.strategy] if args.strategy else known
    if args.json:
        data = {n: [jsonable(asdict(line)) for line in _lines(tracker, n)] for n in names}
        print(json.dumps(data, indent=2))
        return 0
    if not names:
        print(f"no strategy has recorded anything yet in {settings.tracker_path}")
    for name in names:
        print_tracker(tracker, name)
    return 0


def recorded_strategies(tracker: Tracker) -> list[str]:
    """The strategies the tracker has events of, in first-seen order; without the daemon's own
    events (start, stop, alert delivery), which are recorded under the empty name."""
    return [name for name in tracker.strategies() if name]


def _lines(tracker: Tracker, name: str) -> list[Any]:
    return quarterly_lines(tracker.equity_history(name))
