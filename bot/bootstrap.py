"""The composition root: turn a config file and settings into a strategy and its adapters.

This is the only place that builds concrete adapters (brokers, market data, calendars, clocks,
the tracker, alert channels, the heartbeat and its HTTP server); the commands ask it for them
and everything else talks to ports. ``tests/test_architecture.py`` holds every other module to
that. The Alpaca adapters are imported when an Alpaca account is asked for: a simulated run, a
backtest on CSV files and ``bot --help`` never load the SDK.
"""

from __future__ import annotations

import time as time_module
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from bot.adapters.frame_market import FrameMarketData
from bot.adapters.memory_journal import MemoryJournal
from bot.adapters.sim_broker import FEE_SCHEDULES, CloseTable, FeeSchedule, SimulatedBroker
from bot.adapters.xnys_calendar import XnysCalendar
from bot.alert_port import Channel
from bot.alerts import AlertDispatcher
from bot.checks import CheckSettings
from bot.clock import SimulatedClock, WallClock
from bot.config import (
    AlpacaBrokerConfig,
    BotConfig,
    FixedStrategyConfig,
    InverseVolatilityConfig,
    SimulatedBrokerConfig,
    StrategyConfig,
)
from bot.cycle import NEW_YORK, Adapters, ExecutionSettings, StrategyRuntime
from bot.errors import ConfigError, DataError
from bot.health import HealthServer, Heartbeat
from bot.market.csv_source import MarketDataError, load_closes_dir
from bot.market.synthetic import synthetic_closes_for_range
from bot.planner import PlannerRules
from bot.portfolio.config import LoadedPortfolio
from bot.portfolio.wake import PortfolioRuntime, Sleeve
from bot.ports import Clock
from bot.settings import Settings
from bot.stopping import StopToken
from bot.tracker import Tracker
from strategies import FixedWeights, InverseVolatility, Leg, ModifiedSharpeMix, Strategy

if TYPE_CHECKING:
    from bot.adapters.alpaca.market import AlpacaMarketData
    from bot.adapters.alpaca.transport import Endpoints

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
            max_held_legs=config.max_held_legs,
        )
    except ValueError as exc:
        msg = f"strategy section is invalid: {exc}"
        raise ConfigError(msg) from exc


def build_runtime(config: BotConfig) -> StrategyRuntime:
    """Strategy, trigger and planner rules of one config."""
    trigger = config.trigger.build()
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


@dataclass(frozen=True, slots=True)
class PortfolioBot:
    """A portfolio's strategies wired to one account's adapters, ready for its wake."""

    loaded: LoadedPortfolio
    runtime: PortfolioRuntime
    account: Bot  # the account's adapters, as a strategy file would have them built

    @property
    def adapters(self) -> Adapters:
        """The account's adapters."""
        return self.account.adapters

    @property
    def tracker(self) -> Tracker:
        """The journal of the account and of every strategy."""
        return self.account.tracker

    @property
    def name(self) -> str:
        """The portfolio's name."""
        return self.runtime.name


def build_portfolio_runtime(loaded: LoadedPortfolio) -> PortfolioRuntime:
    """Each strategy's runtime from its own file, with its share; the account-level rules of
    the netted orders from the portfolio file."""
    config = loaded.config
    sleeves = tuple(
        Sleeve(Decimal(repr(part.share)), build_runtime(strategy))
        for part, strategy in zip(config.sleeves, loaded.strategies, strict=True)
    )
    execution = ExecutionSettings(
        poll_interval=timedelta(seconds=config.execution.poll_interval_seconds),
        max_polls=config.execution.max_polls,
        cancel_before_close=timedelta(minutes=config.execution.cancel_minutes_before_close),
    )
    rules = PlannerRules(
        min_order_usd=Decimal(repr(config.min_order_usd)),
        funds_headroom=Decimal(repr(config.funds_headroom)),
        allow_shorts=True,  # each strategy's own rules decided; the account nets them
    )
    return PortfolioRuntime(
        config.name, sleeves, Decimal(repr(config.unallocated)), rules, execution
    )


def account_config(loaded: LoadedPortfolio) -> BotConfig:
    """The portfolio's account as a strategy file the adapters are built from: its broker,
    market and clock, and every fund of every strategy (for the simulated market's closes)."""
    config = loaded.config
    funds = sorted({s for c in loaded.strategies for s in build_strategy(c.strategy).symbols})
    return BotConfig.model_validate(
        {
            "name": config.name,
            "strategy": {"kind": "fixed", "weights": dict.fromkeys(funds, 1 / len(funds))},
            "trigger": {"kind": "calendar", "schedule": "quarter_start"},
            "broker": config.broker.model_dump(),
            "execution": config.execution.model_dump(),
            "market": config.market.model_dump(),
            "clock": config.clock.model_dump(),
        }
    )


def build_portfolio_bot(
    loaded: LoadedPortfolio,
    settings: Settings,
    *,
    data_dir: Path | None = None,
    tracker: Tracker | None = None,
    live: bool = False,
    clock: Clock | None = None,
    stop: StopToken | None = None,
) -> PortfolioBot:
    """Wire a portfolio to its account: the adapters of the account (as ``build_bot`` builds
    them for one strategy), the strategies' runtimes from their own files."""
    account = build_bot(
        account_config(loaded),
        settings,
        data_dir=data_dir,
        tracker=tracker,
        live=live,
        clock=clock,
        stop=stop,
    )
    return PortfolioBot(loaded, build_portfolio_runtime(loaded), account)


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


def open_tracker(settings: Settings) -> Tracker:
    """The state directory's tracker (the journal every command reads and writes)."""
    return Tracker(settings.tracker_path)


def offline_calendar() -> XnysCalendar:
    """The XNYS calendar from exchange_calendars' tables: sessions and closes, no network."""
    return XnysCalendar()


def _wait(stop: StopToken, seconds: float) -> None:
    stop.wait(seconds)  # returns early (True) when a stop is requested


def wall_clock(stop: StopToken | None = None) -> WallClock:
    """Real time: what the shell reads for "today" and "now" (the core never does)."""
    return WallClock(stop)


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
    tracker = tracker or open_tracker(settings)
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
    from bot.adapters.alpaca.transport import Endpoints  # noqa: PLC0415 - the SDK on use

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
    from bot.adapters.alpaca.broker import AlpacaBroker  # noqa: PLC0415 - the SDK on use
    from bot.adapters.alpaca.market import AlpacaCalendar, AlpacaMarketData  # noqa: PLC0415
    from bot.adapters.alpaca.transport import (  # noqa: PLC0415
        RetryPolicy,
        data_client,
        trading_client,
    )

    endpoints = alpaca_endpoints(broker_config, settings, live=live)
    reads, orders = trading_client(endpoints), trading_client(endpoints)
    clock = clock or WallClock(stop)
    # Read retries back off in sleeps a stop request wakes, and end once it is requested.
    retry = RetryPolicy(sleep=lambda seconds: _wait(stop, seconds), stopped=lambda: stop.requested)
    broker = AlpacaBroker(reads, orders, live=endpoints.live, retry=retry)
    market = AlpacaMarketData(data_client(endpoints), clock, feed=broker_config.feed)
    adapters = Adapters(broker, market, AlpacaCalendar(reads), tracker, clock, stop=stop)
    return Bot(config, runtime, adapters, synthetic=False, tracker=tracker)


# --- backtests ---------------------------------------------------------------------------------


def fee_schedule(name: str) -> FeeSchedule:
    """The simulated broker's regulatory fees by name: ``current``, ``legacy`` or ``none``."""
    return FEE_SCHEDULES[name]


@dataclass(frozen=True, slots=True)
class BacktestWorld:
    """The cycle's adapters for a backtest, and the simulated pieces the engine drives itself
    (it charges financing to the broker, moves the clock and reads the run's events)."""

    adapters: Adapters
    broker: SimulatedBroker
    clock: SimulatedClock
    tracker: MemoryJournal


def build_backtest_world(
    closes: pd.DataFrame,
    first_session: date,
    *,
    initial_cash: Decimal,
    slippage_bps: Decimal,
    fees: FeeSchedule,
    margin_multiplier: Decimal,
    round_cents: bool,
) -> BacktestWorld:
    """A simulated broker filling at ``closes``, a clock at 9:00 New York on the first session,
    the offline XNYS calendar, and a tracker in memory (the result is the curve, not the
    journal)."""
    clock = SimulatedClock(datetime.combine(first_session, time(9, 0), NEW_YORK))
    broker = SimulatedBroker(
        CloseTable(closes, clock),
        initial_cash,
        slippage_bps=slippage_bps,
        fees=fees,
        margin_multiplier=margin_multiplier,
        round_cents=round_cents,
    )
    tracker = MemoryJournal()
    adapters = Adapters(broker, FrameMarketData(closes), XnysCalendar(), tracker, clock)
    return BacktestWorld(adapters, broker, clock, tracker)


def alpaca_history(
    config: BotConfig, settings: Settings, *, feed: str
) -> tuple[AlpacaMarketData, Clock]:
    """Alpaca's adjusted daily bars for ``bot backtest --data alpaca`` (the keys from the
    environment, paper endpoints: nothing is traded), and the wall clock that dates "yesterday".
    """
    from bot.adapters.alpaca.market import AlpacaMarketData  # noqa: PLC0415 - the SDK on use
    from bot.adapters.alpaca.transport import data_client  # noqa: PLC0415

    broker = config.broker if isinstance(config.broker, AlpacaBrokerConfig) else None
    broker = broker or AlpacaBrokerConfig(kind="alpaca")
    endpoints = alpaca_endpoints(broker, settings, live=False)
    clock = WallClock()
    return AlpacaMarketData(data_client(endpoints), clock, feed=feed), clock


def alpaca_daily_bars(
    settings: Settings, *, feed: str, broker: AlpacaBrokerConfig | None = None
) -> AlpacaMarketData:
    """Alpaca's adjusted daily bars for ``bot data fetch`` (the keys from the environment,
    paper endpoints: nothing is traded; ``broker`` gives the timeouts, if a config has one)."""
    from bot.adapters.alpaca.market import AlpacaMarketData  # noqa: PLC0415 - the SDK on use
    from bot.adapters.alpaca.transport import data_client  # noqa: PLC0415

    endpoints = alpaca_endpoints(broker or AlpacaBrokerConfig(kind="alpaca"), settings, live=False)
    return AlpacaMarketData(data_client(endpoints), WallClock(), feed=feed)


# --- alerts ------------------------------------------------------------------------------------


def channels_from_settings(settings: Settings) -> list[Channel]:
    """The channels the environment configures: Slack and/or email, or none (``[]``).

    A half-configured email channel is a ConfigError rather than silently no email: the user
    believes alerts reach them.
    """
    channels: list[Channel] = []
    slack = _slack_from_settings(settings)
    if slack is not None:
        channels.append(slack)
    email = _email_from_settings(settings)
    if email is not None:
        channels.append(email)
    return channels


def dispatcher_from_settings(
    tracker: Tracker, settings: Settings, clock: Clock, *, simulated: bool
) -> AlertDispatcher:
    """The dispatcher every command uses: one background worker per channel on the wall clock;
    inline, without real backoff sleeps, on a simulated clock (a demo runs months in seconds)."""
    return AlertDispatcher(
        tracker,
        channels_from_settings(settings),
        clock,
        background=not simulated,
        sleep=(lambda _seconds: None) if simulated else time_module.sleep,
    )


def _slack_from_settings(settings: Settings) -> Channel | None:
    if settings.slack_webhook_url is None:
        return None
    from bot.adapters.slack import SlackChannel  # noqa: PLC0415 - requests only when configured

    url = settings.slack_webhook_url.get_secret_value().strip()
    if not url.startswith(("https://", "http://")):
        msg = "SLACK_WEBHOOK_URL must be an http(s) URL (an incoming-webhook URL from Slack)"
        raise ConfigError(msg)
    return SlackChannel(url)


def _email_from_settings(settings: Settings) -> Channel | None:
    fields = {
        "SMTP_HOST": settings.smtp_host,
        "ALERT_EMAIL_FROM": settings.alert_email_from,
        "ALERT_EMAIL_TO": settings.alert_email_to,
    }
    if not any(fields.values()):
        return None
    from bot.adapters.email_alerts import DEFAULT_PORTS, EmailChannel  # noqa: PLC0415 - smtplib

    _require_email_settings(fields, settings)
    security = settings.smtp_security
    password = settings.smtp_password
    return EmailChannel(
        str(settings.smtp_host),
        settings.smtp_port or DEFAULT_PORTS[security],
        security=security,
        user=settings.smtp_user,
        password=password.get_secret_value() if password is not None else None,
        sender=str(settings.alert_email_from),
        recipients=_recipients(str(settings.alert_email_to)),
    )


def _require_email_settings(fields: dict[str, str | None], settings: Settings) -> None:
    missing = [name for name, value in fields.items() if not value]
    if missing:
        msg = f"email alerts need {', '.join(missing)} too (or unset the other SMTP_* settings)"
        raise ConfigError(msg)
    if (settings.smtp_user is None) != (settings.smtp_password is None):
        msg = "SMTP_USER and SMTP_PASSWORD go together: set both, or neither for no login"
        raise ConfigError(msg)


def _recipients(text: str) -> list[str]:
    recipients = [address.strip() for address in text.split(",") if address.strip()]
    if not recipients:
        msg = "ALERT_EMAIL_TO holds no address (comma-separated addresses expected)"
        raise ConfigError(msg)
    return recipients


# --- liveness ----------------------------------------------------------------------------------


def heartbeat_path(settings: Settings) -> Path:
    """Where the daemon's heartbeat file is: ``BOT_HEARTBEAT_FILE``, else ``heartbeat.json`` in
    the state directory, so the daemon, ``bot health`` and ``bot status`` agree without setup."""
    return settings.heartbeat_file or settings.state_dir / "heartbeat.json"


def build_heartbeat(settings: Settings) -> Heartbeat:
    """The daemon's heartbeat file. The heartbeat is about the process, not the market: always
    wall-clock time, whatever clock the strategies run on."""
    return Heartbeat(heartbeat_path(settings), WallClock())


def start_health_server(settings: Settings, heartbeat: Heartbeat) -> HealthServer | None:
    """``GET /healthz`` on ``BOT_HEALTH_PORT`` (loopback), started; None when no port is set."""
    if settings.health_port is None:
        return None
    server = HealthServer(heartbeat, port=settings.health_port)
    server.start()
    return server
