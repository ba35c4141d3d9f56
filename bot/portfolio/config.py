"""The portfolio file: several strategies' config files, each with its share of one account.

    name = "seeds"
    unallocated = 0.0              # a part of the cash no strategy trades (optional)
    [[sleeves]]
    config = "hfea.toml"           # relative to this file
    share = 0.40
    ...
    [broker]                       # the account, as in a strategy file

The account-level sections ([broker], [market], [clock], [execution]) come from this file; each
strategy's file gives its strategy, trigger, sizing and checks (its own [broker] is ignored: the
strategies share this one). The shares and ``unallocated`` sum to 1.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot.config import (
    BotConfig,
    BrokerConfig,
    ClockConfig,
    ExecutionConfig,
    MarketConfig,
    SimulatedBrokerConfig,
    _describe,
    _read_text,
    load_config,
)
from bot.errors import ConfigError
from bot.portfolio.ledger import UNALLOCATED

SHARE_SLACK = 1e-9  # shares written as decimals (0.4 + 0.25 + …) sum to 1 within float noise


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SleeveConfig(_Strict):
    """One strategy of the portfolio: its config file and its share of the account's cash."""

    config: Path
    share: float = Field(gt=0.0, le=1.0)


class PortfolioConfig(_Strict):
    """Several strategies in one account (see the module docstring)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,15}$")
    description: str = ""
    unallocated: float = Field(default=0.0, ge=0.0, lt=1.0)
    sleeves: list[SleeveConfig] = Field(min_length=1)
    min_order_usd: float = Field(default=1.0, ge=0.0)  # for the netted orders
    funds_headroom: float = Field(default=0.0005, ge=0.0, lt=0.1)
    broker: BrokerConfig = Field(default_factory=SimulatedBrokerConfig)
    execution: ExecutionConfig = Field(default_factory=ExecutionConfig)
    market: MarketConfig = Field(default_factory=MarketConfig)
    clock: ClockConfig = Field(default_factory=ClockConfig)

    @model_validator(mode="after")
    def _shares_sum_to_one(self) -> Self:
        total = sum(s.share for s in self.sleeves) + self.unallocated
        if abs(total - 1.0) > SHARE_SLACK:
            shares = " + ".join(f"{s.share:g}" for s in self.sleeves)
            msg = (
                f"the shares ({shares}) and unallocated ({self.unallocated:g}) sum to "
                f"{total:g}, not 1"
            )
            raise ValueError(msg)
        return self


@dataclass(frozen=True, slots=True)
class LoadedPortfolio:
    """A portfolio file with each strategy's file read and checked."""

    path: Path
    config: PortfolioConfig
    strategies: tuple[BotConfig, ...]  # in the file's order

    @property
    def name(self) -> str:
        """The portfolio's name: its journal's, its netted orders' and its lock's."""
        return self.config.name


def is_portfolio_file(path: Path) -> bool:
    """A TOML file with ``[[sleeves]]``: a portfolio, not a single strategy."""
    try:
        raw = tomllib.loads(_read_text(path))
    except (ConfigError, tomllib.TOMLDecodeError):
        return False  # load_config says what is wrong with it
    return "sleeves" in raw


def load_portfolio(path: Path) -> LoadedPortfolio:
    """Read a portfolio file and every strategy file it names; every problem is one ConfigError
    naming the file."""
    try:
        raw: dict[str, Any] = tomllib.loads(_read_text(path))
    except tomllib.TOMLDecodeError as exc:
        msg = f"config file {path} is not valid TOML: {exc}"
        raise ConfigError(msg) from exc
    try:
        config = PortfolioConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(path, exc)) from exc
    strategies = tuple(load_config(path.parent / s.config) for s in config.sleeves)
    names = [s.name for s in strategies]
    problems = []
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        problems.append(f"two strategies are named {', '.join(duplicates)}: names must differ")
    for reserved in (config.name, UNALLOCATED):
        if reserved in names:
            problems.append(f"a strategy may not be named {reserved!r} (the portfolio's own)")
    if problems:
        msg = f"config file {path} is invalid: " + "; ".join(problems)
        raise ConfigError(msg)
    return LoadedPortfolio(path, config, strategies)
