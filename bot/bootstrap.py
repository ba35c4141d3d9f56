"""The composition root: turn a config file and settings into a strategy and its adapters.

This is the only place that knows which concrete adapters exist; everything else talks to ports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd

from bot.adapters.alpaca.broker import AlpacaBroker
from bot.adapters.alpaca.market import AlpacaCalendar, AlpacaMarketData
from bot.adapters.alpaca.transport import Endpoints, data_client, trading_client
from bot.adapters.frame_market import FrameMarketData
from bot.adapters.sim_broker import FEE_SCHEDULES, CloseTable, SimulatedBroker
from bot.adapters.xnys_calendar import XnysCalendar
from bot.checks import CheckSettings
from bot.clock import SimulatedClock, WallClock
from bot.config import (
    AlpacaBrokerConfig,
    BotConfig,
    CalendarTriggerConfig,
    FixedStrategyConfig,
    InverseVolatilityConfig,
    SimulatedBrokerConfig,
    StrategyConfig,
)
from bot.cycle import NEW_YORK, Adapters, DriftRule, ExecutionSettings, StrategyRuntime
from bot.errors import ConfigError, DataError
from bot.market.csv_source import MarketDataError, load_closes_dir
from bot.market.synthetic import synthetic_closes_for_range
from bot.planner import PlannerRules
from bot.ports import Clock
from bot.settings import Settings
from bot.stopping import StopToken
from bot.tracker import Tracker
from bot.triggers import CalendarRule
from strategies import FixedWeights, InverseVolatility, Leg, ModifiedSharpeMix, Strategy

WARMUP_SESSIONS = 120


@dataclass(frozen=True, slots=True)
class Bot:
    """A strategy wired to its adapters, ready for ``run_cycle`` or the daemon."""

    config: BotConfig
    runtime: StrategyRuntime
    adapters: Adapters
    synthetic: bool
    tracker: Tracker  # adapters.tracker, as the shell needs it (alert delivery, closing)


def build_strategy(config: StrategyConfig) -> Strategy:
    """The pure strategy object a config section describes."""
    try:
        if isinstance(config, FixedStrategyConfig):
            return FixedWeights(dict(config.weights))
        if isinstance(config, InverseVolatilityConfig):
            return InverseVolatility(
                basket=tuple(config.basket),
                lookback_days=config.lookback_days,
                basket_weight=config.basket_weight,
                fixed=dict(config.fixed),
                vol_floor=config.vol_floor,
                zero_vol_policy=config.zero_vol_policy,
            )
        return ModifiedSharpeMix(
            legs=tuple(Leg(leg.name, leg.symbol, leg.multiplier) for leg in config.legs),
            step=config.step,
            lookback_days=config.lookback_days,
            f=config.f,
            returns_kind=config.returns_kind,
            std_ddof=config.std_ddof,
            negative_mean_policy=config.negative_mean_policy,
        )
    except ValueError as exc:
        msg = f"strategy section is invalid: {exc}"
        raise ConfigError(msg) from exc


def build_runtime(config: BotConfig) -> StrategyRuntime:
    """Strategy, trigger and planner rules of one config."""
    trigger: CalendarRule | DriftRule
    if isinstance(config.trigger, CalendarTriggerConfig):
        trigger = CalendarRule(
            config.trigger.schedule,
            config.trigger.quarter_anchor,
            config.trigger.mid_month_day,
            config.trigger.mid_month_rule,
        )
    else:
        trigger = DriftRule(Decimal(repr(config.trigger.width)), config.trigger.inclusive)
    sizing = config.sizing
    rules = PlannerRules(
        capital_fraction=Decimal(repr(sizing.capital_fraction)),
        cash_buffer=Decimal(repr(sizing.cash_buffer)),
        min_order_usd=Decimal(repr(sizing.min_order_usd)),
        allow_shorts=sizing.allow_shorts,
        not_fractionable=frozenset(sizing.not_fractionable),
        funds_headroom=Decimal(repr(sizing.funds_headroom)),
        over_capacity=sizing.over_capacity,
        residual_tolerance=Decimal(repr(sizing.residual_tolerance)),
    )
    execution = ExecutionSettings(
        poll_interval=timedelta(seconds=config.execution.poll_interval_seconds),
        max_polls=config.execution.max_polls,
        cancel_before_close=timedelta(minutes=config.execution.cancel_minutes_before_close),
    )
    checks = CheckSettings(
        max_daily_move=config.checks.max_daily_move,
        max_price_age=timedelta(minutes=config.checks.max_price_age_minutes),
    )
    return StrategyRuntime(
        config.name, build_strategy(config.strategy), trigger, rules, execution, checks
    )


def load_market(
    config: BotConfig, symbols: tuple[str, ...], start: date, end: date, data_dir: Path | None
) -> tuple[pd.DataFrame, bool]:
    """Closes for ``symbols``: CSV files when a directory is given, else the synthetic market."""
    directory = data_dir or (config.market.data_dir if config.market.source == "csv" else None)
    if directory is None:
        return synthetic_closes_for_range(
            symbols, start, end, seed=config.market.seed, warmup_sessions=WARMUP_SESSIONS
        ), True
    try:
        return load_closes_dir(directory, symbols), False
    except MarketDataError as exc:
        raise DataError(str(exc)) from exc


def build_clock(config: BotConfig, tracker: Tracker, stop: StopToken | None = None) -> Clock:
    """The wall clock (its sleeps end when ``stop`` is requested), or a simulated one that
    resumes after the last finished cycle."""
    if config.clock.kind == "wall":
        return WallClock(stop)
    assert config.clock.start is not None  # checked by the config model
    start = datetime.combine(config.clock.start, time(0, 0), NEW_YORK)
    last = tracker.last_finished_at(config.name)
    if last is not None:
        start = max(start, last + timedelta(seconds=1))
    return SimulatedClock(start)


def build_bot(
    config: BotConfig,
    settings: Settings,
    *,
    data_dir: Path | None = None,
    tracker: Tracker | None = None,
    live: bool = False,
    clock: Clock | None = None,
    stop: StopToken | None = None,
) -> Bot:
    """Wire one strategy to its broker (simulated or Alpaca), market data, calendar and clock.

    ``stop`` is the token the shell's SIGTERM/SIGINT handler sets; pass the same one (and the
    same clock) to every strategy of one process. Without it the bot gets a token nobody sets.
    """
    tracker = tracker or Tracker(settings.tracker_path)
    runtime = build_runtime(config)
    stop = stop or StopToken()
    if isinstance(config.broker, AlpacaBrokerConfig):
        return _alpaca_bot(
            config, config.broker, settings, tracker, runtime, live=live, clock=clock, stop=stop
        )
    if live:
        msg = '--live needs [broker] kind = "alpaca"; the simulated broker has no live mode'
        raise ConfigError(msg)
    return _simulated_bot(
        config,
        broker_config=config.broker,
        settings=settings,
        tracker=tracker,
        runtime=runtime,
        data_dir=data_dir,
        clock=clock,
        stop=stop,
    )


def _simulated_bot(
    config: BotConfig,
    *,
    broker_config: SimulatedBrokerConfig,
    settings: Settings,
    tracker: Tracker,
    runtime: StrategyRuntime,
    data_dir: Path | None,
    clock: Clock | None,
    stop: StopToken,
) -> Bot:
    clock = clock or build_clock(config, tracker, stop)
    today = clock.now().astimezone(NEW_YORK).date()
    start = config.clock.start or today - timedelta(days=400)
    # With the wall clock the synthetic market runs a year ahead, so a long-running simulated
    # daemon keeps finding "today's" price; the cycle never reads past today.
    end = config.clock.end or today + timedelta(days=366)
    frame, synthetic = load_market(config, runtime.strategy.symbols, start, end, data_dir)
    broker = SimulatedBroker(
        CloseTable(frame, clock),
        Decimal(repr(broker_config.initial_cash)),
        slippage_bps=Decimal(repr(broker_config.slippage_bps)),
        fees=FEE_SCHEDULES[broker_config.fees],
        margin_multiplier=Decimal(repr(broker_config.margin_multiplier)),
        book_path=settings.state_dir / f"sim_broker_{config.name}.json",
    )
    adapters = Adapters(broker, FrameMarketData(frame), XnysCalendar(), tracker, clock, stop=stop)
    return Bot(config, runtime, adapters, synthetic, tracker)


def alpaca_endpoints(
    broker_config: AlpacaBrokerConfig, settings: Settings, *, live: bool
) -> Endpoints:
    """Credentials and URLs from the environment; live only with both opt-ins."""
    if settings.api_key_id is None or settings.api_secret_key is None:
        msg = (
            "Alpaca credentials missing: set APCA_API_KEY_ID and APCA_API_SECRET_KEY "
            "(environment or .env)"
        )
        raise ConfigError(msg)
    if live and not settings.allow_live:
        msg = "--live needs BOT_ALLOW_LIVE_TRADING=true as well: refusing to trade real money"
        raise ConfigError(msg)
    if settings.allow_live and not live:
        live = False  # the setting alone never switches to live: --live is the second key
    return Endpoints(
        key_id=settings.api_key_id.get_secret_value(),
        secret_key=settings.api_secret_key.get_secret_value(),
        live=live,
        trading_url=settings.base_url,
        data_url=settings.data_url or settings.base_url,
        connect_timeout=broker_config.connect_timeout_seconds,
        read_timeout=broker_config.read_timeout_seconds,
    )


def _alpaca_bot(
    config: BotConfig,
    broker_config: AlpacaBrokerConfig,
    settings: Settings,
    tracker: Tracker,
    runtime: StrategyRuntime,
    *,
    live: bool,
    clock: Clock | None,
    stop: StopToken,
) -> Bot:
    if config.clock.kind != "wall":
        msg = "an Alpaca account runs on the wall clock: remove the [clock] section"
        raise ConfigError(msg)
    endpoints = alpaca_endpoints(broker_config, settings, live=live)
    reads, orders = trading_client(endpoints), trading_client(endpoints)
    clock = clock or WallClock(stop)
    broker = AlpacaBroker(reads, orders, live=endpoints.live)
    market = AlpacaMarketData(data_client(endpoints), clock, feed=broker_config.feed)
    adapters = Adapters(broker, market, AlpacaCalendar(reads), tracker, clock, stop=stop)
    return Bot(config, runtime, adapters, synthetic=False, tracker=tracker)
