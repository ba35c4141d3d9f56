"""Strategy config files (``config/*.toml``): parsed and validated once, at the edge.

Unknown keys are errors (a typo such as ``capital_fracton`` must not silently fall back to a
default), weights must sum to what the strategy claims, and a short leg needs ``allow_shorts``.
"""

from __future__ import annotations

import math
import tomllib
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    model_validator,
)

from bot.errors import ConfigError
from bot.triggers import CalendarRule, DriftRule, RelativeDriftRule, Schedule, Trigger

Symbol = Annotated[str, Field(pattern=r"^\^?[A-Z][A-Z0-9.]{0,9}$")]
SUM_TOLERANCE = 1e-9


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _check_sum(what: str, total: float) -> None:
    if not math.isfinite(total) or abs(total - 1.0) > SUM_TOLERANCE:
        msg = f"{what} sum to {total:.10g}, not 1"
        raise ValueError(msg)


class FixedStrategyConfig(_Strict):
    """Fixed weights, e.g. HFEA 55/45 UPRO/TMF; ``cash`` makes an intended remainder explicit."""

    kind: Literal["fixed"]
    weights: dict[Symbol, float] = Field(min_length=1)
    cash: float = Field(default=0.0, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _weights_sum_to_one(self) -> Self:
        _check_sum("strategy.weights plus strategy.cash", sum(self.weights.values()) + self.cash)
        return self


class InverseVolatilityConfig(_Strict):
    """An inverse-volatility basket plus fixed sleeves (All In: 85% basket, 15% USFR)."""

    kind: Literal["inverse_volatility"]
    basket: list[Symbol] = Field(min_length=1)
    lookback_days: int = Field(default=2, ge=2, le=252)
    basket_weight: float = Field(default=0.85, gt=0.0, le=1.0)
    fixed: dict[Symbol, float] = Field(default_factory=dict)
    vol_floor: float = Field(default=1e-6, gt=0.0)
    zero_vol_policy: Literal["skip_day", "floor", "equal_weight", "exclude"] = "skip_day"

    @model_validator(mode="after")
    def _weights_sum_to_one(self) -> Self:
        _check_sum(
            "strategy.basket_weight plus strategy.fixed",
            self.basket_weight + sum(self.fixed.values()),
        )
        overlap = set(self.basket) & set(self.fixed)
        if overlap:
            msg = f"{', '.join(sorted(overlap))} in both strategy.basket and strategy.fixed"
            raise ValueError(msg)
        return self


class LegConfig(_Strict):
    """One leg of the optimiser: ``multiplier`` × the symbol's daily return (−1 = a short)."""

    name: str = Field(min_length=1, max_length=16)
    symbol: Symbol
    multiplier: float = Field(default=1.0)

    @model_validator(mode="after")
    def _multiplier_nonzero(self) -> Self:
        if self.multiplier == 0 or not math.isfinite(self.multiplier):
            msg = f"leg {self.name}: multiplier must be a non-zero number"
            raise ValueError(msg)
        return self


class ModifiedSharpeConfig(_Strict):
    """Logical Invest's optimiser: the mix with the best mean/std^f over the lookback."""

    kind: Literal["modified_sharpe"]
    legs: list[LegConfig] = Field(min_length=2)
    step: float = Field(default=0.10, gt=0.0, le=0.5)
    lookback_days: int = Field(default=72, ge=5, le=504)
    f: float = Field(default=2.5, ge=0.0)
    returns_kind: Literal["simple", "log"] = "simple"
    std_ddof: Literal[0, 1] = 0
    negative_mean_policy: Literal["as_published", "min_variance", "cash"] = "as_published"
    max_held_legs: int | None = Field(default=None, ge=1)  # legs a mix may hold; none: all

    @model_validator(mode="after")
    def _max_held_within_legs(self) -> Self:
        if self.max_held_legs is not None and self.max_held_legs > len(self.legs):
            msg = f"max_held_legs {self.max_held_legs} is more than the {len(self.legs)} legs"
            raise ValueError(msg)
        return self


StrategyConfig = Annotated[
    FixedStrategyConfig | InverseVolatilityConfig | ModifiedSharpeConfig,
    Field(discriminator="kind"),
]


class CalendarTriggerConfig(_Strict):
    """Trade on a calendar schedule (missed dates are caught up)."""

    kind: Literal["calendar"]
    schedule: Schedule
    quarter_anchor: Literal["first_trading_day", "last_trading_day_prev_quarter"] = (
        "first_trading_day"
    )
    mid_month_day: int = Field(default=15, ge=1, le=28)
    mid_month_rule: Literal["on_or_before", "on_or_after"] = "on_or_before"

    def build(self) -> Trigger:
        """The calendar rule this section describes."""
        return CalendarRule(
            self.schedule, self.quarter_anchor, self.mid_month_day, self.mid_month_rule
        )


class DriftTriggerConfig(_Strict):
    """Trade the whole book when any weight is more than ``width`` (absolute) off target."""

    kind: Literal["drift"]
    width: float = Field(default=0.01, gt=0.0, lt=1.0)
    inclusive: bool = False

    def build(self) -> Trigger:
        """The absolute corridor this section describes."""
        return DriftRule(Decimal(repr(self.width)), self.inclusive)


class RelativeDriftTriggerConfig(_Strict):
    """Trade the whole book when any weight is more than ``width`` of its own target off
    (0.25: a 40% target may move between 30% and 50%)."""

    kind: Literal["relative_drift"]
    width: float = Field(default=0.25, gt=0.0, lt=10.0)
    inclusive: bool = False

    def build(self) -> Trigger:
        """The relative corridor this section describes."""
        return RelativeDriftRule(Decimal(repr(self.width)), self.inclusive)


TriggerConfig = Annotated[
    CalendarTriggerConfig | DriftTriggerConfig | RelativeDriftTriggerConfig,
    Field(discriminator="kind"),
]


class SizingConfig(_Strict):
    """How the planner sizes orders for this strategy."""

    capital_fraction: float = Field(default=1.0, gt=0.0, le=1.0)
    cash_buffer: float = Field(default=0.001, ge=0.0, lt=0.5)
    min_order_usd: float = Field(default=1.0, ge=0.0)
    allow_shorts: bool = False
    not_fractionable: list[Symbol] = Field(default_factory=list)
    funds_headroom: float = Field(default=0.0005, ge=0.0, lt=0.1)
    over_capacity: Literal["scale", "skip"] = "scale"
    residual_tolerance: float = Field(default=0.02, gt=0.0, le=1.0)


class SimulatedBrokerConfig(_Strict):
    """The in-process broker used by the demo, tests and backtests."""

    kind: Literal["simulated"] = "simulated"
    initial_cash: float = Field(default=100_000.0, gt=0.0)
    slippage_bps: float = Field(default=1.0, ge=0.0, le=500.0)
    fees: Literal["current", "legacy", "none"] = "current"
    margin_multiplier: float = Field(default=1.0, ge=1.0, le=4.0)


class AlpacaBrokerConfig(_Strict):
    """An Alpaca account (paper unless BOT_ALLOW_LIVE_TRADING=true and ``--live``)."""

    kind: Literal["alpaca"]
    feed: Literal["iex", "sip", "delayed_sip"] = "iex"
    connect_timeout_seconds: float = Field(default=3.05, gt=0.0, le=60.0)
    read_timeout_seconds: float = Field(default=20.0, gt=0.0, le=300.0)


def _broker_kind(value: Any) -> str:
    """A [broker] section without ``kind`` is the simulated broker."""
    if isinstance(value, dict):
        return str(value.get("kind", "simulated"))
    return str(getattr(value, "kind", "simulated"))


BrokerConfig = Annotated[
    Annotated[SimulatedBrokerConfig, Tag("simulated")]
    | Annotated[AlpacaBrokerConfig, Tag("alpaca")],
    Discriminator(_broker_kind),
]


class ExecutionConfig(_Strict):
    """How orders are confirmed: polled with a bound, cancelled near the close."""

    poll_interval_seconds: float = Field(default=1.0, ge=0.0, le=60.0)
    max_polls: int = Field(default=120, ge=1, le=10_000)
    cancel_minutes_before_close: int = Field(default=5, ge=0, le=120)


class ChecksConfig(_Strict):
    """Pre-trade data checks."""

    max_daily_move: float = Field(default=0.5, gt=0.0)  # a bigger close-to-close move: bad print
    max_price_age_minutes: float = Field(default=30.0, gt=0.0)  # today's price must be this fresh


class MarketConfig(_Strict):
    """Where the simulated broker's prices come from."""

    source: Literal["synthetic", "csv"] = "synthetic"
    data_dir: Path | None = None
    seed: int = 7

    @model_validator(mode="after")
    def _csv_needs_dir(self) -> Self:
        if self.source == "csv" and self.data_dir is None:
            msg = "market.source = 'csv' needs market.data_dir"
            raise ValueError(msg)
        return self


class ClockConfig(_Strict):
    """The wall clock, or a simulated one that jumps from one market-day wake to the next."""

    kind: Literal["wall", "simulated"] = "wall"
    start: date | None = None
    end: date | None = None
    wake_before_close_minutes: int = Field(default=15, ge=1, le=120)

    @model_validator(mode="after")
    def _simulated_needs_range(self) -> Self:
        if self.kind == "simulated" and (self.start is None or self.end is None):
            msg = "clock.kind = 'simulated' needs clock.start and clock.end"
            raise ValueError(msg)
        if self.start and self.end and self.start > self.end:
            msg = f"clock.start {self.start} is after clock.end {self.end}"
            raise ValueError(msg)
        return self


class BotConfig(_Strict):
    """One strategy's complete configuration (one file per strategy)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,15}$")
    description: str = ""
    strategy: StrategyConfig
    trigger: TriggerConfig
    sizing: SizingConfig = Field(default_factory=SizingConfig)
    broker: BrokerConfig = Field(default_factory=SimulatedBrokerConfig)
    execution: ExecutionConfig = Field(default_factory=ExecutionConfig)
    checks: ChecksConfig = Field(default_factory=ChecksConfig)
    market: MarketConfig = Field(default_factory=MarketConfig)
    clock: ClockConfig = Field(default_factory=ClockConfig)

    @model_validator(mode="after")
    def _shorts_need_permission(self) -> Self:
        if isinstance(self.strategy, ModifiedSharpeConfig) and not self.sizing.allow_shorts:
            shorts = [leg.symbol for leg in self.strategy.legs if leg.multiplier < 0]
            if shorts:
                msg = f"legs short {', '.join(shorts)}: set sizing.allow_shorts = true"
                raise ValueError(msg)
        if isinstance(self.strategy, FixedStrategyConfig) and not self.sizing.allow_shorts:
            shorts = sorted(s for s, w in self.strategy.weights.items() if w < 0)
            if shorts:
                msg = f"negative weights short {', '.join(shorts)}: set sizing.allow_shorts = true"
                raise ValueError(msg)
        return self


def load_config(path: Path) -> BotConfig:
    """Read and validate a config file; every problem becomes one ConfigError naming the file."""
    try:
        raw = tomllib.loads(_read_text(path))
    except tomllib.TOMLDecodeError as exc:
        msg = f"config file {path} is not valid TOML: {exc}"
        raise ConfigError(msg) from exc
    try:
        return BotConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(path, exc)) from exc


def _read_text(path: Path) -> str:
    """The file's text: TOML is UTF-8 (a byte-order mark is tolerated); anything else, or a
    path that is not a readable file, is one ConfigError saying so."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        msg = f"config file {path} not found"
        raise ConfigError(msg) from exc
    except IsADirectoryError as exc:
        msg = f"config file {path} is a directory: give the path of a .toml file"
        raise ConfigError(msg) from exc
    except UnicodeDecodeError as exc:
        msg = (
            f"config file {path} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at "
            f"offset {exc.start}): TOML files must be saved as UTF-8"
        )
        raise ConfigError(msg) from exc
    except OSError as exc:
        msg = f"config file {path} cannot be read: {exc.strerror or exc}"
        raise ConfigError(msg) from exc


def _describe(path: Path, exc: ValidationError) -> str:
    return f"config file {path} is invalid: " + describe_errors(exc)


def describe_errors(exc: ValidationError) -> str:
    """The schema's refusals as one line, ``section.key: why`` each (``bot sweep`` words a
    refused grid point the same way)."""
    problems = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"] if not str(part).startswith("function"))
        text = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            text = "unknown key (typo?)"
        problems.append(f"{where}: {text}" if where else text)
    return "; ".join(problems)
