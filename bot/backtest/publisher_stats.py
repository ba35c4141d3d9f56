"""The publishers' own statistics, and the dating of a publisher's window from its SPY figures.

A published figure can only be compared with ours if both are computed the same way over the
same days. The seed pages print their benchmark (SPY) next to the strategy, over the same
trailing windows, so the window is dated by finding the day whose trailing SPY figures match
the printed ones; the conventions are then checked on SPY itself before the strategy's figures
are compared. What each convention is, and how it was established (docs/publishers.md):

* **Composer** (help.composer.trade, articles 19-21): cumulative return, annualised
  (1 + C)^(252/N) − 1 with N the number of *days in the curve* (back-solved: SPY's 33.56% over
  the dated window gives the printed 16.08% only with N = returns + 1), Sharpe = √252·mean/std
  of daily returns (rf 0, ddof 1), max drawdown from the running peak.
* **Logical Invest** (the UISx3 and Maximum Yield pages): CAGR on 252 trading days; volatility
  "the standard deviation of logarithmic returns" (ddof 1, ×√252); downside deviation against
  0 over all days (fits the Maximum Yield page's SPY figures to the printed digit); Sharpe =
  (CAGR − rf) / volatility and Sortino = (CAGR − rf) / downside with a constant rf of 2.5% (the
  value every printed pair implies, on both pages, although T-bills averaged 0.6-1.7% over
  those windows); Ulcer index in percent; drawdown durations in **trading days** (SPY's printed
  187, 139, 139 and 119 days are reproduced exactly that way).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from bot.backtest.stats import TRADING_DAYS, Stats, compute_stats, drawdowns

LI_RISK_FREE = 0.025
"""Logical Invest's rf: every printed (CAGR, volatility, Sharpe) triple implies 2.4-2.6%."""


def _values(equity: pd.Series) -> npt.NDArray[np.float64]:
    values = equity.to_numpy(dtype=float)
    if len(values) < 3 or not np.isfinite(values).all() or (values <= 0).any():
        msg = "an equity curve needs at least three finite, positive values"
        raise ValueError(msg)
    return values


def log_volatility(equity: pd.Series) -> float:
    """Annualised std (ddof 1) of daily log returns: Logical Invest's stated volatility."""
    values = _values(equity)
    return float(np.std(np.diff(np.log(values)), ddof=1) * math.sqrt(TRADING_DAYS))


def downside_deviation(equity: pd.Series) -> float:
    """√mean(min(r, 0)²)·√252 over every day: the downside figure Logical Invest prints."""
    values = _values(equity)
    r = values[1:] / values[:-1] - 1
    return float(math.sqrt(np.mean(np.minimum(r, 0.0) ** 2)) * math.sqrt(TRADING_DAYS))


def underwater_spells(equity: pd.Series) -> list[int]:
    """Lengths in trading days (rows) of each spell below the running peak; a spell still open
    at the last day counts to it."""
    below = drawdowns(equity).to_numpy(dtype=float) < 0
    spells, run = [], 0
    for flag in below:
        if flag:
            run += 1
        elif run:
            spells.append(run)
            run = 0
    if run:
        spells.append(run)
    return spells


def logical_invest_stats(equity: pd.Series, risk_free: float = LI_RISK_FREE) -> dict[str, float]:
    """The statistics a Logical Invest page prints, computed its way."""
    values = _values(equity)
    n = len(values) - 1
    growth = values[-1] / values[0]
    cagr = growth ** (TRADING_DAYS / n) - 1
    vol = log_volatility(equity)
    down = downside_deviation(equity)
    dd = drawdowns(equity).to_numpy(dtype=float)
    spells = underwater_spells(equity)
    return {
        "total_return": float(growth - 1),
        "cagr": float(cagr),
        "volatility": vol,
        "downside": down,
        "sharpe": (cagr - risk_free) / vol if vol > 0 else math.nan,
        "sortino": (cagr - risk_free) / down if down > 0 else math.nan,
        "ulcer": float(math.sqrt(np.mean((100 * dd) ** 2))),
        "max_drawdown": float(dd.min()),
        "max_dd_days": float(max(spells, default=0)),
        "avg_dd_days": float(np.mean(spells)) if spells else 0.0,
    }


def composer_stats(equity: pd.Series) -> dict[str, float]:
    """The statistics a Composer symphony page prints, computed its way."""
    values = _values(equity)
    cumulative = values[-1] / values[0] - 1
    r = values[1:] / values[:-1] - 1
    sd = float(np.std(r, ddof=1))
    return {
        "cumulative_return": float(cumulative),
        "annualized_return": float((1 + cumulative) ** (TRADING_DAYS / len(values)) - 1),
        "sharpe": float(np.mean(r)) / sd * math.sqrt(TRADING_DAYS) if sd > 0 else math.nan,
        "max_drawdown": float(drawdowns(equity).min()),
    }


StatsConventions = Literal["bot", "logical_invest", "composer"]
CONVENTIONS: tuple[StatsConventions, ...] = ("bot", "logical_invest", "composer")
"""The ways ``bot sweep --conventions`` can compute its table: ``bot backtest``'s own, or a
publisher's, so a sweep's figures can be set beside a page's without converting them."""


def table_stats(equity: pd.Series, conventions: StatsConventions = "bot") -> Stats:
    """``bot backtest``'s statistics table of ``equity`` (at least three closes for a
    publisher), with every figure the publisher defines computed its way.

    Logical Invest defines them all: total return, CAGR on 252 days, σ of log returns, downside
    against 0 over every day, Sharpe and Sortino on CAGR − 2.5%, Ulcer in percent, drawdown
    durations in trading days; Calmar is its CAGR over its maximum drawdown. Composer prints
    four: cumulative return (``total_return``), the annualised return with N = the days in the
    curve (``cagr``), its Sharpe (rf 0) and the maximum drawdown; Calmar uses its annualised
    return, and the figures it does not print keep ``bot backtest``'s definitions, which share
    its simple returns and rf 0. The columns keep their names, so a ranking or a window reads
    the same under any convention."""
    own = compute_stats(equity)
    if conventions == "bot":
        return own
    if conventions == "logical_invest":
        li = logical_invest_stats(equity)
        return replace(
            own,
            total_return=li["total_return"],
            cagr=li["cagr"],
            volatility=li["volatility"],
            downside_volatility=li["downside"],
            sharpe=li["sharpe"],
            sortino=li["sortino"],
            calmar=_calmar(li["cagr"], li["max_drawdown"]),
            ulcer_index=li["ulcer"],
            max_drawdown=li["max_drawdown"],
            max_drawdown_days=int(li["max_dd_days"]),
            avg_drawdown_days=li["avg_dd_days"],
        )
    composer = composer_stats(equity)
    return replace(
        own,
        total_return=composer["cumulative_return"],
        cagr=composer["annualized_return"],
        sharpe=composer["sharpe"],
        calmar=_calmar(composer["annualized_return"], composer["max_drawdown"]),
        max_drawdown=composer["max_drawdown"],
    )


def _calmar(annual: float, max_drawdown: float) -> float:
    return annual / abs(max_drawdown) if max_drawdown < 0 else math.nan


@dataclass(frozen=True, slots=True)
class TrailingFigures:
    """What a page prints for SPY over one trailing window: total return and CAGR."""

    years: int
    total_return: float
    cagr: float


@dataclass(frozen=True, slots=True)
class DatedWindow:
    """The end day whose trailing SPY figures come closest to the printed ones, and how close
    (the largest difference over the figures used, in return units: 0.0023 = 0.23 pp)."""

    end: date
    distance: float


def trailing_start(index: pd.DatetimeIndex, end: pd.Timestamp, years: int) -> pd.Timestamp:
    """The first day of ``index`` on or after ``end`` − ``years`` calendar years (the window
    ``bot backtest`` prints as "5y" or "3y")."""
    position = int(index.searchsorted(end - pd.DateOffset(years=years)))
    return pd.Timestamp(index[position])


def date_trailing_window(spy: pd.Series, printed: Sequence[TrailingFigures]) -> DatedWindow:
    """Date a page from the SPY figures it prints over trailing windows: every day of ``spy``
    with enough history is tried as the page's last day, scored by the largest difference
    between its trailing total returns and CAGRs and the printed ones; the best wins (the
    earliest on a tie)."""
    spy = spy.dropna()
    index = pd.DatetimeIndex(spy.index)
    values = spy.to_numpy(dtype=float)
    longest = max(p.years for p in printed)
    ends = np.flatnonzero(index >= index[0] + pd.DateOffset(years=longest))
    if not len(ends):
        msg = f"SPY has less than {longest} years of closes: the page cannot be dated"
        raise ValueError(msg)
    worst = np.zeros(len(ends))
    for p in printed:
        starts = index.searchsorted(index[ends] - pd.DateOffset(years=p.years))
        growth = values[ends] / values[starts]
        cagr = growth ** (TRADING_DAYS / (ends - starts)) - 1
        worst = np.maximum(worst, np.abs(growth - 1 - p.total_return))
        worst = np.maximum(worst, np.abs(cagr - p.cagr))
    best = int(np.argmin(worst))  # the first of equals
    return DatedWindow(index[ends[best]].date(), float(worst[best]))


def date_composer_window(
    spy: pd.Series, start: date, cumulative: float, annualized: float
) -> DatedWindow:
    """Date a Composer backtest that starts on ``start`` (the symphony's first tradable day)
    from the benchmark's printed cumulative and annualised returns."""
    spy = spy.dropna().loc[pd.Timestamp(start) :]
    values = spy.to_numpy(dtype=float)
    if len(values) < 3:
        msg = f"SPY has too few closes after {start} to date the page"
        raise ValueError(msg)
    days = np.arange(1, len(values) + 1)  # Composer's N: the days in the curve
    growth = values / values[0]
    annual = growth ** (TRADING_DAYS / days) - 1
    worst = np.maximum(np.abs(growth - 1 - cumulative), np.abs(annual - annualized))[2:]
    best = int(np.argmin(worst)) + 2
    return DatedWindow(spy.index[best].date(), float(worst[best - 2]))


def implied_risk_free(figures: Mapping[str, float]) -> float:
    """rf = CAGR − Sharpe × volatility: what a printed Logical Invest triple implies."""
    return figures["cagr"] - figures["sharpe"] * figures["volatility"]
