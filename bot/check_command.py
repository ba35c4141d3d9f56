"""``bot check``: run the pre-trade checks against the configured account and report.

Every section is guarded: a failure (no credentials, an unreachable server) becomes a problem in
the report, never a traceback. The exit status is 0 only when every check passes.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

import pandas as pd

from bot.alerting import external_change_alert
from bot.alerts import EXIT_FLUSH_SECONDS
from bot.bootstrap import Bot, build_bot, dispatcher_from_settings
from bot.checks import account_problems, asset_problems, data_problems
from bot.cli_support import (
    EXIT_ERROR,
    alpaca_url,
    banner_text,
    jsonable,
    to_next_simulated_wake,
)
from bot.config import AlpacaBrokerConfig, BotConfig, ModifiedSharpeConfig, load_config
from bot.cycle import NEW_YORK, CycleResult, find_splits, run_cycle
from bot.domain import AccountState
from bot.errors import BotError, BrokerAuthError, ConfigError, DataError
from bot.ports import MarketData
from bot.settings import Settings
from bot.splits import restate, split_shaped_jumps
from bot.state_lock import lock_wait_seconds, state_lock
from bot.tracker import EventKind
from strategies import Strategy

MARKET_OPEN = time(9, 30)  # New York: the regular open of every XNYS session
_T = TypeVar("_T")


@dataclass
class _Report:
    """What ``bot check`` found: named sections, the problems that fail it, and notes."""

    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, name: str, data: dict[str, Any], problems: Sequence[str] = ()) -> None:
        self.sections[name] = {**data, "problems": list(problems)}
        self.problems.extend(problems)

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "problems": self.problems, "notes": self.notes, **self.sections}


class _PriceTimesWaived:
    """Market data without print times, so the cycle skips the price-age check: used by
    ``check`` while the market is closed, when today's latest trade is old by nature."""

    def __init__(self, market: MarketData) -> None:
        self._market = market

    def closes(self, symbols: Iterable[str], end: date, count: int) -> pd.DataFrame:
        return self._market.closes(symbols, end, count)

    def price_times(self) -> Mapping[str, datetime]:
        return {}


def check_command(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    settings = Settings()
    report = _Report()
    # Its dry run records a plan, positions and equity in the tracker: one process at a time.
    with state_lock(settings.state_dir, "bot check", wait_seconds=lock_wait_seconds()):
        bot = _bot_for_check(config, settings, report, args)
        if bot is not None:
            try:
                to_next_simulated_wake(bot)
                dry_run = _run_checks(bot, settings, report, live=args.live)
                if dry_run is not None:
                    _alert_external_change(bot, settings, dry_run, report)
            finally:
                bot.adapters.tracker.close()
    _print_report(report, as_json=args.json)
    return 0 if report.ok else EXIT_ERROR


def _alert_external_change(
    bot: Bot, settings: Settings, result: CycleResult, report: _Report
) -> None:
    """Holdings that changed outside the bot, seen by the dry run, are alerted as the daemon
    alerts them: the next cycle compares with what this one recorded and would not see them."""
    alert = external_change_alert(result, bot.adapters.tracker)
    if alert is None:
        return
    report.notes.append(f"{alert.title} (alerted)")
    try:
        simulated = bot.config.clock.kind == "simulated"
        alerts = dispatcher_from_settings(
            bot.tracker, settings, bot.adapters.clock, simulated=simulated
        )
    except ConfigError as exc:
        report.add("alerts", {"error": str(exc)}, [f"alerts: {exc}"])
        return
    alerts.send(alert)
    alerts.close(timeout=EXIT_FLUSH_SECONDS)


def _bot_for_check(
    config: BotConfig, settings: Settings, report: _Report, args: argparse.Namespace
) -> Bot | None:
    """The bot to check, or None (with a credentials problem) when no keys are set.

    A refused ``--live`` and a broken config stay one-line errors: they are not account facts.
    """
    alpaca = isinstance(config.broker, AlpacaBrokerConfig)
    if alpaca and args.live and not settings.allow_live:
        msg = "--live needs BOT_ALLOW_LIVE_TRADING=true as well: refusing to trade real money"
        raise ConfigError(msg)
    if alpaca and (settings.api_key_id is None or settings.api_secret_key is None):
        report.add("broker", _broker_data(config, settings, "(no credentials)", live=args.live))
        problem = "credentials: APCA_API_KEY_ID and APCA_API_SECRET_KEY are not set"
        report.add("credentials", {"ok": False}, [f"{problem} (environment or .env)"])
        return None
    return build_bot(config, settings, data_dir=args.data, live=args.live)


def _broker_data(
    config: BotConfig, settings: Settings, number: str, *, live: bool
) -> dict[str, Any]:
    alpaca = isinstance(config.broker, AlpacaBrokerConfig)
    return {
        "kind": config.broker.kind,
        "live": live,
        "url": alpaca_url(settings, live=live) if alpaca else None,
        "state_dir": str(settings.state_dir),
        "strategy": config.name,
        "banner": banner_text(config, settings, number, live=live),
    }


def _run_checks(bot: Bot, settings: Settings, report: _Report, *, live: bool) -> CycleResult | None:
    """Every section; returns the dry run's result when it ran."""
    config = bot.config
    state = _credentials(bot, report)
    number = "(unreadable)" if state is None else state.account_number
    broker = _broker_data(config, settings, number, live=live)
    report.sections = {"broker": broker, **report.sections}
    if state is None:
        return None
    shorts = _possible_shorts(config)
    _guarded(report, "account", lambda: _account_section(bot, state, shorts, report))
    _guarded(report, "assets", lambda: _assets_section(bot, shorts, report))
    open_now = _guarded(report, "data", lambda: _data_section(bot, report))
    if report.ok and open_now is not None:
        return _guarded(report, "would_trade", lambda: _would_trade_section(bot, report, open_now))
    if "would_trade" not in report.sections:
        report.sections["would_trade"] = {"skipped": "fix the problems above first"}
    return None


def _guarded(report: _Report, name: str, section: Callable[[], _T]) -> _T | None:
    """Run one section; a broker or data error becomes that section's problem."""
    try:
        return section()
    except BotError as exc:
        report.add(name, {"error": str(exc)}, [f"{name}: {exc}"])
        return None


def _credentials(bot: Bot, report: _Report) -> AccountState | None:
    try:
        state = bot.adapters.broker.account_state()
    except BrokerAuthError as exc:
        report.add("credentials", {"ok": False}, [f"credentials refused: {exc}"])
        return None
    except BotError as exc:  # unreachable, or an answer that does not parse: not the keys
        report.add("credentials", {"ok": False}, [f"account unreadable: {exc}"])
        return None
    report.add("credentials", {"ok": True})
    return state


def _possible_shorts(config: BotConfig) -> list[str]:
    """Symbols the strategy may sell short (legs with a negative multiplier)."""
    if not isinstance(config.strategy, ModifiedSharpeConfig):
        return []
    return sorted({leg.symbol for leg in config.strategy.legs if leg.multiplier < 0})


def _account_section(bot: Bot, state: AccountState, shorts: list[str], report: _Report) -> None:
    account = bot.adapters.broker.account()
    data = {
        **asdict(state),
        "equity": account.equity,
        "cash": account.cash,
        "buying_power": account.buying_power,
        "multiplier": account.multiplier,
        "positions": dict(account.positions),
        "may_short": shorts,
    }
    report.add("account", data, account_problems(state, account.equity, shorts))


def _assets_section(bot: Bot, shorts: list[str], report: _Report) -> None:
    symbols = bot.runtime.strategy.symbols
    assets = bot.adapters.broker.assets(symbols)
    data = {s: asdict(assets[s]) if s in assets else None for s in symbols}
    whole = [s for s in symbols if s in assets and not assets[s].fractionable]
    report.notes.extend(f"{s} is not fractionable: the bot orders whole shares" for s in whole)
    report.add("assets", {"symbols": data}, asset_problems(assets, symbols, shorts))


@dataclass(frozen=True, slots=True)
class _Today:
    """Where ``check`` stands in the market calendar."""

    now: datetime
    day: date
    sessions: tuple[date, ...]
    previous_session: date
    open_now: bool

    @property
    def trading_day(self) -> bool:
        return self.day in self.sessions


def _today_in_calendar(bot: Bot) -> _Today:
    now = bot.adapters.clock.now()
    today = now.astimezone(NEW_YORK).date()
    calendar = bot.adapters.calendar
    sessions = calendar.sessions(today - timedelta(days=130), today + timedelta(days=45))
    earlier = [d for d in sessions if d < today]
    if not earlier:
        msg = f"the market calendar has no session before {today}"
        raise DataError(msg)
    return _Today(now, today, sessions, earlier[-1], _market_open(bot, sessions, today, now))


def _data_section(bot: Bot, report: _Report) -> bool:
    """Closes up to today, their freshness and bad prints; returns whether the market is open."""
    market, strategy = bot.adapters.market, bot.runtime.strategy
    today = _today_in_calendar(bot)
    closes = _split_restated(
        bot, market.closes(strategy.symbols, today.day, strategy.history_closes + 1), today.day
    )
    times = dict(market.price_times())
    problems = data_problems(
        closes,
        symbols=strategy.symbols,
        today=today.day,
        previous_session=today.previous_session,
        price_times=times if today.open_now else {},
        now=today.now,
        settings=bot.runtime.checks,
    )
    if today.open_now:
        missing = _without_price_today(closes, today.day, strategy)
        problems += [f"{s}: no price today" for s in missing]
    else:
        report.notes.append(_closed_note(today, bot.config.clock.wake_before_close_minutes))
    data = {
        "today": today.day,
        "trading_day": today.trading_day,
        "market_open_now": today.open_now,
        "previous_session": today.previous_session,
        "symbols": {s: _symbol_data(closes, times, s, today.day) for s in strategy.symbols},
    }
    report.add("data", data, problems)
    return today.open_now


def _market_open(bot: Bot, sessions: Sequence[date], today: date, now: datetime) -> bool:
    if today not in sessions:
        return False
    opens = datetime.combine(today, MARKET_OPEN, NEW_YORK)
    return opens <= now < bot.adapters.calendar.session_close(today)


def _closed_note(today: _Today, wake_minutes: int) -> str:
    if not today.trading_day:
        return f"the market is closed today ({today.day} is not a trading day): nothing would trade"
    return (
        "the market is closed now: the age of today's price is not checked (the bot checks it "
        f"at its wake, {wake_minutes} minutes before the close)"
    )


def _split_restated(bot: Bot, closes: pd.DataFrame, today: date) -> pd.DataFrame:
    """Bars that came back unadjusted (alpaca-py#780) restated for every corroborated split,
    as the cycle does, so `check` does not call a split a bad print while the daemon trades.
    Read-only: recording the split is the cycle's job."""
    jumps = split_shaped_jumps(closes, bot.runtime.strategy.symbols)
    if not jumps:
        return closes
    known, _ = find_splits(
        bot.adapters.tracker,
        bot.runtime.name,
        jumps,
        lambda: bot.adapters.broker.account().positions,
        today,
    )
    return restate(closes, jumps, known).closes


def _without_price_today(closes: pd.DataFrame, today: date, strategy: Strategy) -> list[str]:
    if closes.empty or closes.index[-1].date() != today:
        return list(strategy.symbols)
    row = closes.iloc[-1]
    return [s for s in strategy.symbols if s not in row or not float(row[s]) > 0]


def _symbol_data(
    closes: pd.DataFrame, times: Mapping[str, datetime], symbol: str, today: date
) -> dict[str, Any]:
    empty = pd.Series(dtype=float, index=pd.DatetimeIndex([]))
    column = closes[symbol].dropna() if symbol in closes else empty
    prior = column[column.index < pd.Timestamp(today)]
    current = column[column.index == pd.Timestamp(today)]
    return {
        "last_complete_bar": prior.index[-1].date() if len(prior) else None,
        "last_close": float(prior.iloc[-1]) if len(prior) else None,
        "price_today": float(current.iloc[-1]) if len(current) else None,
        "price_time": times.get(symbol),
    }


def _would_trade_section(bot: Bot, report: _Report, open_now: bool) -> CycleResult:
    """A dry run of the cycle now: it plans and records (marked planned), and sends nothing."""
    adapters = bot.adapters
    if not open_now:
        adapters = replace(adapters, market=_PriceTimesWaived(adapters.market))
    result = run_cycle(adapters, bot.runtime, dry_run=True)
    decisions = [
        e
        for e in adapters.tracker.events(strategy=bot.runtime.name, kind=EventKind.DECISION)
        if e.run_id == result.run_id
    ]
    planned = [{**asdict(o), "side": o.side.value, "notional": o.notional} for o in result.planned]
    data = {
        "outcome": result.outcome,
        "reason": result.reason,
        "decision": decisions[-1].payload.get("reason") if decisions else None,
        "planned": planned,
        "run_id": result.run_id,
    }
    failed = [f"the cycle would fail: {result.reason}"] if result.outcome == "error" else []
    report.add("would_trade", data, failed)
    return result


def _print_report(report: _Report, *, as_json: bool) -> None:
    if as_json:
        if "broker" in report.sections:
            print(report.sections["broker"]["banner"], file=sys.stderr)
        print(json.dumps(jsonable(report.as_json()), indent=2))
        return
    for line in _report_lines(report):
        print(line)


def _report_lines(report: _Report) -> list[str]:
    sections = report.sections
    lines = [str(sections.get("broker", {}).get("banner", ""))] if "broker" in sections else []
    renderers: dict[str, Callable[[dict[str, Any]], list[str]]] = {
        "credentials": _credentials_lines,
        "account": _account_lines,
        "assets": _assets_lines,
        "data": _data_lines,
        "would_trade": _would_trade_lines,
        "alerts": lambda _section: [],  # only its problem
    }
    for name, render in renderers.items():
        if name in sections:
            section = sections[name]
            body = [] if "error" in section else render(section)
            body += [f"PROBLEM: {problem}" for problem in section.get("problems", [])]
            lines += [f"{name.replace('_', ' ')}:", *(f"  {line}" for line in body)]
    lines += [f"note: {note}" for note in report.notes]
    verdict = "OK: every check passed" if report.ok else f"FAILED: {len(report.problems)} problem"
    return [*lines, verdict + ("" if report.ok or len(report.problems) == 1 else "s")]


def _credentials_lines(section: dict[str, Any]) -> list[str]:
    return ["ok: the account was read"] if section["ok"] else []


def _account_lines(section: dict[str, Any]) -> list[str]:
    flags = [
        name.replace("_", " ")
        for name in ("trading_blocked", "account_blocked", "trade_suspended")
        if section[name]
    ]
    shorting = "shorting enabled" if section["shorting_enabled"] else "shorting NOT enabled"
    return [
        f"{section['account_number']} {section['status']}; {', '.join(flags) or 'not blocked'}; "
        f"{shorting}",
        f"equity ${section['equity']:,.2f}, cash ${section['cash']:,.2f}, "
        f"buying power ${section['buying_power']:,.2f} (multiplier {section['multiplier']})",
    ]


def _assets_lines(section: dict[str, Any]) -> list[str]:
    lines = []
    for symbol, asset in section["symbols"].items():
        if asset is None:
            lines.append(f"{symbol:6} UNKNOWN at the broker")
            continue
        flags = [
            name if asset[name] else f"NOT {name}"
            for name in ("active", "tradable", "fractionable", "shortable", "easy_to_borrow")
        ]
        lines.append(f"{symbol:6} {' '.join(flags)}")
    return lines


def _data_lines(section: dict[str, Any]) -> list[str]:
    day = "a trading day" if section["trading_day"] else "NOT a trading day"
    market = "market open now" if section["market_open_now"] else "market closed now"
    lines = [
        f"today {section['today']} ({day}, {market}); previous session "
        f"{section['previous_session']}"
    ]
    for symbol, data in section["symbols"].items():
        price = "no price today"
        if data["price_today"] is not None:
            price = f"today's price {data['price_today']:.4f}"
            if data["price_time"] is not None:
                price += f" at {data['price_time'].astimezone(UTC):%Y-%m-%d %H:%M} UTC"
        last = data["last_complete_bar"] or "none"
        lines.append(f"{symbol:6} last complete bar {last}; {price}")
    return lines


def _would_trade_lines(section: dict[str, Any]) -> list[str]:
    if "skipped" in section:
        return [f"skipped: {section['skipped']}"]
    lines = [f"{section['outcome']}: {section['reason']}"]
    if section["decision"] and section["decision"] != section["reason"]:
        lines.append(f"decision: {section['decision']}")
    for order in section["planned"]:
        lines.append(
            f"{order['side']:4} {order['qty']} {order['symbol']} @ {order['price']:.4f} "
            f"(~${order['notional']:,.2f}, {order['leg']})"
        )
    return lines
