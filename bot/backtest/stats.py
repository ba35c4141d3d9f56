"""Performance statistics of a daily equity curve, with the conventions stated, not implied.

Formulas and defaults (docs/backtests.md): simple daily returns on trading days, CAGR on 252
trading days a year (calendar basis available), volatility with ddof 1, downside volatility as
the semi-deviation of the negative days, Sharpe and Sortino with a geometric daily risk-free
rate, the Ulcer index in percent over every day, drawdown durations in calendar days from the
first day under water to the first day back at the peak (the last date if never).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import date
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

TRADING_DAYS = 252


@dataclass(frozen=True, slots=True)
class Conventions:
    """Every choice that changes a figure; printed next to the figures."""

    cagr_basis: Literal["trading_252", "calendar_365.25"] = "trading_252"
    risk_free: float = 0.0  # annual
    downside: Literal["semidev", "target0"] = "semidev"

    def describe(self) -> str:
        """One line for reports."""
        basis = "252 trading days" if self.cagr_basis == "trading_252" else "calendar days"
        down = "semi-deviation of negative days" if self.downside == "semidev" else "vs 0, all days"
        return (
            f"CAGR on {basis}; rf {self.risk_free:.2%}; volatility std(ddof=1)·√252; "
            f"downside {down}; Ulcer in percent; drawdown durations in calendar days"
        )


@dataclass(frozen=True, slots=True)
class Stats:
    """The seeds' statistics table for one equity curve."""

    start: date
    end: date
    total_return: float
    cagr: float
    volatility: float
    downside_volatility: float
    sharpe: float
    sortino: float
    calmar: float
    ulcer_index: float
    max_drawdown: float
    max_drawdown_days: int
    avg_drawdown_days: float

    def as_dict(self) -> dict[str, object]:
        """JSON-ready values."""
        return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in asdict(self).items()}


def returns(equity: pd.Series) -> pd.Series:
    """Simple daily returns."""
    return equity.pct_change().iloc[1:]


def drawdowns(equity: pd.Series) -> pd.Series:
    """DD_t = V_t / max_{s≤t} V_s − 1, the running peak starting at the first day."""
    return equity / equity.cummax() - 1


def drawdown_episodes(equity: pd.Series) -> list[tuple[date, date, float]]:
    """(first day under water, first day back at the peak or the last date, depth) per episode."""
    dd = drawdowns(equity).to_numpy()
    index = equity.index
    episodes, start, depth = [], None, 0.0
    for i, value in enumerate(dd.tolist()):
        if value < 0 and start is None:
            start, depth = i, value
        elif value < 0 and start is not None:
            depth = min(depth, value)
        elif value >= 0 and start is not None:
            episodes.append((index[start].date(), index[i].date(), float(depth)))
            start = None
    if start is not None:
        episodes.append((index[start].date(), index[-1].date(), float(depth)))
    return episodes  # dates of the episodes' ends only: a sweep computes this thousands of times


def compute_stats(equity: pd.Series, conventions: Conventions = Conventions()) -> Stats:
    """Statistics of a daily equity curve (at least two points, all positive)."""
    values = equity.to_numpy(dtype=float)
    if len(values) < 2 or not np.isfinite(values).all() or (values <= 0).any():
        msg = "an equity curve needs at least two finite, positive values"
        raise ValueError(msg)
    r = returns(equity).to_numpy(dtype=float)
    growth = values[-1] / values[0]
    cagr = _cagr(growth, len(r), equity, conventions)
    vol = float(np.std(r, ddof=1) * math.sqrt(TRADING_DAYS))
    rf_daily = (1 + conventions.risk_free) ** (1 / TRADING_DAYS) - 1
    downside = _downside(r, conventions)
    dd = drawdowns(equity).to_numpy(dtype=float)
    episodes = drawdown_episodes(equity)
    lengths = [(end - start).days for start, end, _ in episodes]
    max_dd = float(dd.min())
    return Stats(
        start=equity.index[0].date(),
        end=equity.index[-1].date(),
        total_return=float(growth - 1),
        cagr=cagr,
        volatility=vol,
        downside_volatility=downside,
        sharpe=_ratio(
            (r.mean() - rf_daily) * math.sqrt(TRADING_DAYS), vol / math.sqrt(TRADING_DAYS)
        ),
        sortino=_ratio((r.mean() - rf_daily) * TRADING_DAYS, downside),
        calmar=_ratio(cagr, abs(max_dd)),
        ulcer_index=float(math.sqrt(np.mean((100 * dd) ** 2))),
        max_drawdown=max_dd,
        max_drawdown_days=max(lengths, default=0),
        avg_drawdown_days=float(np.mean(lengths)) if lengths else 0.0,
    )


def _cagr(growth: float, n_returns: int, equity: pd.Series, conventions: Conventions) -> float:
    if conventions.cagr_basis == "trading_252":
        return float(growth ** (TRADING_DAYS / n_returns) - 1)
    days = (equity.index[-1] - equity.index[0]).days
    return float(growth ** (365.25 / days) - 1)


def _downside(r: npt.NDArray[np.float64], conventions: Conventions) -> float:
    if conventions.downside == "semidev":
        negative = r[r < 0]
        return (
            float(np.std(negative, ddof=1) * math.sqrt(TRADING_DAYS)) if len(negative) > 1 else 0.0
        )
    return float(math.sqrt(np.mean(np.minimum(r, 0) ** 2)) * math.sqrt(TRADING_DAYS))


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator > 0 else float("nan")


def yearly_returns(equity: pd.Series) -> dict[int, float]:
    """Calendar-year returns: last value of the year over the last value of the year before
    (the first year is measured from the first value)."""
    by_year = equity.groupby(pd.DatetimeIndex(equity.index).year).last()
    previous = float(equity.iloc[0])
    result = {}
    for year, value in by_year.items():
        result[int(str(year))] = float(value) / previous - 1
        previous = float(value)
    return result


def trailing(equity: pd.Series, years: int) -> pd.Series | None:
    """The last ``years`` calendar years of the curve, or None if it is shorter."""
    start = equity.index[-1] - pd.DateOffset(years=years)
    if equity.index[0] > start:
        return None
    window: pd.Series = equity.loc[equity.index >= start]
    return window
