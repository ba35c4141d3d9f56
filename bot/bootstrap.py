"""The composition root: turn a config file and settings into a strategy and its adapters.

This is the only place that knows which concrete adapters exist; everything else talks to ports.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd

from bot.adapters.frame_market import FrameMarketData
from bot.adapters.sim_broker import LEGACY_FEES, NO_FEES, CloseTable, FeeSchedule, SimulatedBroker
from bot.adapters.xnys_calendar import XnysCalendar
from bot.clock import SimulatedClock, WallClock
from bot.config import (
    BotConfig,
    CalendarTriggerConfig,
    FixedStrategyConfig,
    InverseVolatilityConfig,
    StrategyConfig,
)
from bot.cycle import NEW_YORK, Adapters, DriftRule, StrategyRuntime
from bot.errors import ConfigError, DataError
from bot.market.csv_source import MarketDataError, load_closes_dir
from bot.market.synthetic import synthetic_closes_for_range
from bot.planner import PlannerRules
from bot.ports import Clock
from bot.settings import Settings
from bot.tracker import Tracker
from bot.triggers import CalendarRule
from strategies import FixedWeights, InverseVolatility, Leg, ModifiedSharpeMix, Strategy

FEES = {"current": FeeSchedule(), "legacy": LEGACY_FEES, "none": NO_FEES}
WARMUP_SESSIONS = 120


@dataclass(frozen=True, slots=True)
class Bot:
    """A strategy wired to its adapters, ready for ``run_cycle`` or the daemon."""

    config: BotConfig
    runtime: StrategyRuntime
    adapters: Adapters
    synthetic: bool


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
    return StrategyRuntime(config.name, build_strategy(config.strategy), trigger, rules)


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


def build_clock(config: BotConfig, tracker: Tracker) -> Clock:
    """The wall clock, or a simulated one that resumes after the last finished cycle."""
    if config.clock.kind == "wall":
        return WallClock()
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
) -> Bot:
    """Wire one strategy to the simulated broker, its market data, calendar, tracker and clock."""
    tracker = tracker or Tracker(settings.tracker_path)
    runtime = build_runtime(config)
    clock = build_clock(config, tracker)
    today = clock.now().astimezone(NEW_YORK).date()
    start = config.clock.start or today - timedelta(days=400)
    # With the wall clock the synthetic market runs a year ahead, so a long-running simulated
    # daemon keeps finding "today's" price; the cycle never reads past today.
    end = config.clock.end or today + timedelta(days=366)
    frame, synthetic = load_market(config, runtime.strategy.symbols, start, end, data_dir)
    broker = SimulatedBroker(
        CloseTable(frame, clock),
        Decimal(repr(config.broker.initial_cash)),
        slippage_bps=Decimal(repr(config.broker.slippage_bps)),
        fees=FEES[config.broker.fees],
        margin_multiplier=Decimal(repr(config.broker.margin_multiplier)),
        book_path=settings.state_dir / f"sim_broker_{config.name}.json",
    )
    adapters = Adapters(broker, FrameMarketData(frame), XnysCalendar(), tracker, clock)
    return Bot(config, runtime, adapters, synthetic)
