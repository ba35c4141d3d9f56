"""``bot run``: the long-running daemon, for one or several strategies.

Each ``--config`` is one strategy, with its own broker adapters (its own account, or its own
sleeve of one account); they share the state directory, the tracker, the clock and the wakes.
With a simulated clock the loop jumps from wake to wake; with the wall clock APScheduler drives it.
"""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path

from bot.alerts import EXIT_FLUSH_SECONDS, STOP_FLUSH_SECONDS, AlertDispatcher
from bot.bootstrap import (
    Bot,
    account_config,
    build_bot,
    build_heartbeat,
    build_portfolio_runtime,
    dispatcher_from_settings,
    open_tracker,
    start_health_server,
)
from bot.cli_support import banner, print_tracker
from bot.config import BotConfig, load_config
from bot.daemon import Daemon, DaemonSummary, Member, PortfolioMember
from bot.dashboard.command import Stoppable
from bot.errors import ConfigError
from bot.journal import EventKind
from bot.logs import log_simulated_time, register_secret
from bot.market.synthetic import SYNTHETIC_LABEL
from bot.portfolio.config import LoadedPortfolio, is_portfolio_file, load_portfolio
from bot.ports import Journal
from bot.scheduler import run_forever, stop_on_signals
from bot.settings import Settings
from bot.state_lock import state_lock
from bot.stopping import StopToken
from bot.tracker import Tracker


def run_command(args: argparse.Namespace) -> int:
    """Take the state directory's lock, build every strategy, and run until stopped."""
    settings = Settings()
    register_secrets(settings)
    portfolio = _portfolio(args.config)
    configs = [account_config(portfolio)] if portfolio else _load(args.config)
    # Before anything reads the state: another process on it refuses this one at once.
    with state_lock(settings.state_dir, "bot run"):
        tracker = open_tracker(settings)
        try:
            return _run_locked(args, settings, configs, tracker, portfolio)
        finally:
            tracker.close()


def _portfolio(paths: list[Path]) -> LoadedPortfolio | None:
    """The portfolio, when the one config file given is a portfolio file (``[[sleeves]]``)."""
    if not any(is_portfolio_file(p) for p in paths):
        return None
    if len(paths) > 1:
        msg = "a portfolio file runs alone: its strategies are listed in it"
        raise ConfigError(msg)
    return load_portfolio(paths[0])


def _members(
    bots: list[Bot], portfolio: LoadedPortfolio | None
) -> list[Member] | list[PortfolioMember]:
    if portfolio is None:
        return [Member(bot.runtime, bot.adapters) for bot in bots]
    return [PortfolioMember(build_portfolio_runtime(portfolio), bots[0].adapters)]


def _run_locked(
    args: argparse.Namespace,
    settings: Settings,
    configs: list[BotConfig],
    tracker: Tracker,
    portfolio: LoadedPortfolio | None = None,
) -> int:
    stop = StopToken()  # one for every strategy: SIGTERM/SIGINT winds all of them down
    bots = _build(configs, settings, tracker, args, stop)
    banners = [banner(bot, settings, live=args.live) for bot in bots]
    for bot, text in zip(bots, banners, strict=True):
        if portfolio is not None:
            names = ", ".join(c.name for c in portfolio.strategies)
            print(f"{text} — portfolio {portfolio.name} ({names})")
        else:
            print(f"{text} — strategy {bot.config.name}")
        if bot.synthetic:
            print(f"market: {SYNTHETIC_LABEL}")
    clock = bots[0].adapters.clock
    simulated = configs[0].clock.kind == "simulated"
    alerts = dispatcher_from_settings(tracker, settings, clock, simulated=simulated)
    heartbeat = build_heartbeat(settings)  # wall-clock time, whatever the strategies' clock
    daemon = Daemon(
        _members(bots, portfolio),
        tracker,
        timedelta(minutes=configs[0].clock.wake_before_close_minutes),
        alerts=alerts,
        heartbeat=heartbeat,
    )
    if simulated:
        with stop_on_signals(stop, lambda: setattr(daemon, "stop_requested", True)):
            code = _run_simulated(
                daemon, configs, "; ".join(banners), alerts, stop, portfolio=portfolio
            )
        print(dashboard_hint(settings, args.config))
        return code
    server = start_health_server(settings, heartbeat)
    dashboard = _dashboard(settings, portfolio, configs)
    alerts.resend_unsent()  # what a previous run queued but could not deliver before it stopped
    try:
        run_forever(daemon, bots[0].adapters.calendar, "; ".join(banners), stop)
    finally:
        alerts.close(timeout=STOP_FLUSH_SECONDS if stop.requested else EXIT_FLUSH_SECONDS)
        if server is not None:
            server.stop()
        if dashboard is not None:
            dashboard.stop()
    return 0


def _dashboard(
    settings: Settings, portfolio: LoadedPortfolio | None, configs: list[BotConfig]
) -> Stoppable | None:
    """The read-only dashboard beside the daemon, when ``BOT_DASHBOARD_PORT`` asks for it
    (the web stack is imported only then)."""
    if settings.dashboard_port is None:
        return None
    from bot.dashboard.command import start_beside_daemon  # noqa: PLC0415 - on use only

    return start_beside_daemon(settings, list(portfolio.strategies) if portfolio else configs)


def dashboard_hint(settings: Settings, paths: list[Path]) -> str:
    """The command that shows this state directory in the browser (a replay ends with it)."""
    state = "" if settings.state_dir == Path("state") else f"BOT_STATE_DIR={settings.state_dir} "
    configs = " ".join(f"--config {path}" for path in paths[:1])
    return f"see it in the browser: {state}bot dashboard {configs}  (then open http://127.0.0.1:8787/)"


def _load(paths: list[Path]) -> list[BotConfig]:
    configs = [load_config(path) for path in paths]
    names = [c.name for c in configs]
    if len(set(names)) != len(names):
        msg = f"two configs share a strategy name ({', '.join(names)}): names must be unique"
        raise ConfigError(msg)
    kinds = {c.clock.kind for c in configs}
    if len(kinds) > 1 or (kinds == {"simulated"} and len(configs) > 1):
        msg = "a simulated clock runs one strategy per daemon; wall-clock configs can be mixed"
        raise ConfigError(msg)
    return configs


def _build(
    configs: list[BotConfig],
    settings: Settings,
    tracker: Tracker,
    args: argparse.Namespace,
    stop: StopToken,
) -> list[Bot]:
    first = build_bot(
        configs[0], settings, data_dir=args.data, tracker=tracker, live=args.live, stop=stop
    )
    rest = [
        build_bot(
            config,
            settings,
            data_dir=args.data,
            tracker=tracker,
            live=args.live,
            clock=first.adapters.clock,
            stop=stop,
        )
        for config in configs[1:]
    ]
    return [first, *rest]


def register_secrets(settings: Settings) -> None:
    """Keep the Alpaca secret, the webhook URL and the SMTP password out of every log line."""
    secrets = (
        settings.api_secret_key,
        settings.slack_webhook_url,
        settings.smtp_password,
        settings.dashboard_token,
    )
    for secret in secrets:
        if secret is not None:
            register_secret(secret.get_secret_value())


def _run_simulated(
    daemon: Daemon,
    configs: list[BotConfig],
    banner_text: str,
    alerts: AlertDispatcher,
    stop: StopToken,
    *,
    portfolio: LoadedPortfolio | None = None,
) -> int:
    config = configs[0]
    log_simulated_time(daemon.members[0].adapters.clock.now)
    daemon.start(banner_text)
    reason = f"crashed before the simulated period ended on {config.clock.end}"
    try:
        summary = daemon.run_simulated(config.clock.end)
        reason = f"the simulated period ended on {config.clock.end}"
    finally:
        daemon.stopped(stop.reason if stop.requested else reason)
    alerts.close()
    _print_summary(summary, config, daemon.tracker)
    for strategy in portfolio.strategies if portfolio else ():
        print_tracker(daemon.tracker, strategy.name)
    failed = summary.outcomes.get("error", 0) + summary.outcomes.get("crashed", 0)
    return 0 if failed == 0 else 1


def _print_summary(summary: DaemonSummary, config: BotConfig, tracker: Journal) -> None:
    if summary.cycles == 0:
        print(f"the simulated period up to {config.clock.end} is already complete in this state")
        print("directory; set BOT_STATE_DIR to an empty directory to replay it")
    else:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(summary.outcomes.items()))
        print(f"{summary.cycles} cycles: {counts}")
    print_tracker(tracker, config.name)
    for line in _period_lines(tracker, config.name):
        print(f"  {line}")


def _period_lines(tracker: Journal, name: str) -> list[str]:
    """What a replay ends with besides its quarterly lines: the deepest drawdown of the period
    and the holdings it ended with (weights of the equity at the last wake)."""
    history = [(row.session, float(row.equity)) for row in tracker.equity_history(name)]
    lines = []
    if len(history) > 1:
        peak, worst, worst_day, peak_day = history[0][1], 0.0, history[0][0], history[0][0]
        peak_of_worst = peak_day
        for day, value in history:
            if value > peak:
                peak, peak_day = value, day
            if value / peak - 1 < worst:
                worst, worst_day, peak_of_worst = value / peak - 1, day, peak_day
        lines.append(f"max drawdown {worst:.1%} ({peak_of_worst} → {worst_day})")
    held = tracker.last_event(name, EventKind.POSITIONS)
    done = tracker.last_event(name, EventKind.REBALANCE_DONE)
    weights = done.payload.get("weights", {}) if done else {}
    if held is not None and done is not None and weights:
        shown = ", ".join(f"{s} {float(w):.1%}" for s, w in sorted(weights.items()))
        lines.append(f"holdings after the last rebalance ({done.at[:10]}): {shown}")
    return lines
