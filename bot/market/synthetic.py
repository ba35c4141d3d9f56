"""SYNTHETIC market data — seeded random closes for the demo and the tests. NOT real prices.

Why it exists: the demo and the test-suite must run without network access or licensed data, yet
the strategies need series that behave roughly like the ETFs they trade (leverage decay, the
stock/bond hedge, the VIX-futures bleed). Every output is invented; anything shown from it must
carry :data:`SYNTHETIC_LABEL`.

Model, kept deliberately simple:

* A handful of underlying *factors* (US equity, tech, long Treasuries, gold, bitcoin, …) get jointly
  Gaussian daily returns: annual drift / 252 plus annual vol / √252 times correlated normals from
  the Cholesky factor of a fixed positive-definite correlation matrix. No fat tails.
* Each ETF is a daily-reset combination of factors: ``Σ leverage × factor return − ER / 252``,
  clipped at −0.95 so prices stay positive. No financing cost, tracking error or fund-specific noise
  is modelled, so e.g. UPRO's return is exactly 3 × the equity factor minus UPRO's expense.
* A symbol that is not in :data:`ETF_SPECS` never raises: it becomes a generic equity-like series,
  1 × equity plus idiosyncratic noise (10 % annual vol, zero expense) whose random stream is seeded
  by the SHA-256 of the upper-cased symbol — so it is deterministic and distinct per name.

Determinism: the random draw for a session depends only on ``(seed, calendar date)`` — normals are
generated on a calendar-day grid counted from :data:`EPOCH` and sessions pick their day's row. A
symbol's series is therefore independent of which other symbols are requested (and of their order),
and two requests over overlapping sessions share the same daily returns on the overlap.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType

import numpy as np
import numpy.typing as npt
import pandas as pd

from bot.market.sessions import previous_sessions, xnys_sessions

FloatArray = npt.NDArray[np.float64]

SYNTHETIC_LABEL = "SYNTHETIC DATA — seeded random prices, not real market data"

TRADING_DAYS = 252
EPOCH = date(1900, 1, 1)
MIN_DAILY_RETURN = -0.95
GENERIC_IDIOSYNCRATIC_VOL = 0.10


@dataclass(frozen=True, slots=True)
class Factor:
    """An underlying driver: annual arithmetic drift and annual volatility."""

    name: str
    drift: float
    vol: float


FACTORS: tuple[Factor, ...] = (
    Factor("equity", 0.07, 0.18),
    Factor("tech", 0.10, 0.25),
    Factor("treasury", 0.03, 0.15),
    Factor("gold", 0.04, 0.15),
    Factor("bitcoin", 0.20, 0.60),
    Factor("defense", 0.07, 0.20),
    Factor("utilities", 0.06, 0.16),
    Factor("intl", 0.06, 0.17),
    Factor("managed_futures", 0.04, 0.12),
    Factor("tbills", 0.04, 0.003),
    Factor("vix_mid", -0.20, 0.50),
)
FACTOR_NAMES: tuple[str, ...] = tuple(f.name for f in FACTORS)

# Pairwise correlations; unlisted pairs are 0. Plausible, not estimated. Positive-definiteness is
# checked when the module is imported (the Cholesky factorisation would fail otherwise).
_CORRELATIONS: Mapping[tuple[str, str], float] = MappingProxyType(
    {
        ("equity", "tech"): 0.85,
        ("equity", "treasury"): -0.20,
        ("equity", "gold"): 0.05,
        ("equity", "bitcoin"): 0.30,
        ("equity", "defense"): 0.70,
        ("equity", "utilities"): 0.45,
        ("equity", "intl"): 0.80,
        ("equity", "managed_futures"): -0.05,
        ("equity", "vix_mid"): -0.70,
        ("tech", "treasury"): -0.15,
        ("tech", "bitcoin"): 0.30,
        ("tech", "defense"): 0.45,
        ("tech", "utilities"): 0.25,
        ("tech", "intl"): 0.65,
        ("tech", "vix_mid"): -0.60,
        ("treasury", "gold"): 0.25,
        ("treasury", "defense"): -0.15,
        ("treasury", "utilities"): 0.20,
        ("treasury", "intl"): -0.10,
        ("treasury", "vix_mid"): 0.15,
        ("gold", "bitcoin"): 0.10,
        ("gold", "utilities"): 0.10,
        ("gold", "intl"): 0.15,
        ("bitcoin", "defense"): 0.15,
        ("bitcoin", "utilities"): 0.10,
        ("bitcoin", "intl"): 0.25,
        ("bitcoin", "vix_mid"): -0.20,
        ("defense", "utilities"): 0.35,
        ("defense", "intl"): 0.55,
        ("defense", "vix_mid"): -0.50,
        ("utilities", "intl"): 0.35,
        ("utilities", "vix_mid"): -0.30,
        ("intl", "vix_mid"): -0.55,
        ("managed_futures", "vix_mid"): 0.10,
    }
)


@dataclass(frozen=True, slots=True)
class EtfSpec:
    """A daily-reset ETF: factor exposures (factor name → leverage) and annual expense ratio."""

    exposures: Mapping[str, float]
    expense_ratio: float


def _spec(expense_ratio: float, **exposures: float) -> EtfSpec:
    return EtfSpec(MappingProxyType(dict(exposures)), expense_ratio)


# Expense ratios are approximate published figures; they only need to be realistic, not exact.
ETF_SPECS: Mapping[str, EtfSpec] = MappingProxyType(
    {
        "SPY": _spec(0.000945, equity=1.0),
        "VTI": _spec(0.0003, equity=1.0),
        "SSO": _spec(0.0089, equity=2.0),
        "UPRO": _spec(0.0091, equity=3.0),
        "SPXL": _spec(0.0087, equity=3.0),
        "QQQ": _spec(0.0020, tech=1.0),
        "TQQQ": _spec(0.0084, tech=3.0),
        "TECL": _spec(0.0085, tech=3.0),
        "TLT": _spec(0.0015, treasury=1.0),
        "IEF": _spec(0.0015, treasury=0.5),
        "SHY": _spec(0.0015, treasury=0.15, tbills=0.85),
        "UBT": _spec(0.0095, treasury=2.0),
        "TMF": _spec(0.0104, treasury=3.0),
        "GLD": _spec(0.0040, gold=1.0),
        "UGL": _spec(0.0095, gold=2.0),
        "UGLD": _spec(0.0095, gold=3.0),
        "BITU": _spec(0.0095, bitcoin=2.0),
        "DFEN": _spec(0.0095, defense=3.0),
        "UTSL": _spec(0.0095, utilities=3.0),
        "VXUS": _spec(0.0005, intl=1.0),
        "RSST": _spec(0.0099, equity=1.0, managed_futures=1.0),
        "USFR": _spec(0.0015, tbills=1.0),
        "BIL": _spec(0.0014, tbills=1.0),
        "VXZ": _spec(0.0089, vix_mid=1.0),
        "VXX": _spec(0.0089, vix_mid=1.5),
    }
)


def _correlation_matrix() -> FloatArray:
    """Symmetric matrix from :data:`_CORRELATIONS` with a unit diagonal."""
    matrix = np.eye(len(FACTOR_NAMES))
    for (a, b), rho in _CORRELATIONS.items():
        i, j = FACTOR_NAMES.index(a), FACTOR_NAMES.index(b)
        matrix[i, j] = matrix[j, i] = rho
    return matrix


FACTOR_CORRELATION: FloatArray = _correlation_matrix()
# np.linalg.cholesky raises LinAlgError if the matrix is not positive-definite.
_CHOLESKY: FloatArray = np.asarray(np.linalg.cholesky(FACTOR_CORRELATION), dtype=np.float64)


def _session_index(sessions: Sequence[date]) -> pd.DatetimeIndex:
    """Tz-naive, normalized, strictly increasing index; duplicates or disorder are caller bugs."""
    index = pd.DatetimeIndex([pd.Timestamp(d.year, d.month, d.day) for d in sessions], name="date")
    index = index.as_unit("ns")
    if not index.is_monotonic_increasing or not index.is_unique:
        msg = "sessions must be strictly increasing dates"
        raise ValueError(msg)
    return index


def _day_offsets(index: pd.DatetimeIndex) -> npt.NDArray[np.int64]:
    """Calendar days since :data:`EPOCH`: the row of each session in the per-day random grid."""
    offsets = np.asarray((index - pd.Timestamp(EPOCH)).days, dtype=np.int64)
    if len(offsets) and offsets[0] < 0:
        msg = f"synthetic data starts at {EPOCH.isoformat()}; got {index[0].date().isoformat()}"
        raise ValueError(msg)
    return offsets


def _daily_normals(
    seed_key: Sequence[int], offsets: npt.NDArray[np.int64], width: int
) -> FloatArray:
    """Standard normals for the requested day offsets, identical for a day whatever the request.

    The whole grid from EPOCH to the last requested day is drawn (≈ 46k rows for 2026 — cheap) so
    that a day's row never depends on which other days were asked for.
    """
    rng = np.random.default_rng(list(seed_key))
    n_days = int(offsets[-1]) + 1 if len(offsets) else 0
    grid = rng.standard_normal((n_days, width))
    return grid[offsets]


def factor_returns(sessions: Sequence[date], seed: int = 7) -> pd.DataFrame:
    """Daily simple returns of every factor (columns :data:`FACTOR_NAMES`) on each session.

    The first row is the (unused) return *into* the first session; prices start from there.
    """
    index = _session_index(sessions)
    z = _daily_normals((seed,), _day_offsets(index), len(FACTORS))
    drift = np.array([f.drift for f in FACTORS]) / TRADING_DAYS
    vol = np.array([f.vol for f in FACTORS]) / np.sqrt(TRADING_DAYS)
    returns = drift + (z @ _CHOLESKY.T) * vol
    return pd.DataFrame(returns, index=index, columns=list(FACTOR_NAMES))


def _symbol_key(symbol: str) -> int:
    """Stable 64-bit key from the symbol name (Python's ``hash`` is salted per process)."""
    return int.from_bytes(hashlib.sha256(symbol.upper().encode()).digest()[:8], "big")


def _etf_returns(spec: EtfSpec, factors: pd.DataFrame) -> FloatArray:
    """Daily-reset leveraged return: Σ leverage × factor − ER/252."""
    total = np.full(len(factors), -spec.expense_ratio / TRADING_DAYS)
    for name, leverage in spec.exposures.items():
        total = total + leverage * factors[name].to_numpy()
    return total


def _generic_returns(symbol: str, factors: pd.DataFrame, seed: int) -> FloatArray:
    """Unknown symbol: 1 × equity plus name-seeded idiosyncratic noise (see module docstring)."""
    offsets = _day_offsets(pd.DatetimeIndex(factors.index))
    noise = _daily_normals((seed, _symbol_key(symbol)), offsets, 1)[:, 0]
    equity: FloatArray = factors["equity"].to_numpy()
    result: FloatArray = equity + noise * (GENERIC_IDIOSYNCRATIC_VOL / math.sqrt(TRADING_DAYS))
    return result


def _closes_from_returns(returns: FloatArray, start_price: float) -> FloatArray:
    """Compound clipped returns; the first session closes at ``start_price``."""
    growth = 1.0 + np.clip(returns[1:], MIN_DAILY_RETURN, None)
    return start_price * np.concatenate(([1.0], np.cumprod(growth)))


def symbol_returns(symbol: str, factors: pd.DataFrame, seed: int = 7) -> FloatArray:
    """Unclipped daily returns of ``symbol`` given :func:`factor_returns` output."""
    spec = ETF_SPECS.get(symbol.upper())
    if spec is None:
        return _generic_returns(symbol, factors, seed)
    return _etf_returns(spec, factors)


def synthetic_closes(
    symbols: Iterable[str],
    sessions: Sequence[date],
    seed: int = 7,
    start_price: float = 100.0,
) -> pd.DataFrame:
    """SYNTHETIC closes: one float column per symbol (as given, deduplicated) on ``sessions``."""
    if not start_price > 0:
        msg = f"start_price must be positive, got {start_price}"
        raise ValueError(msg)
    factors = factor_returns(sessions, seed)
    columns = {
        symbol: _closes_from_returns(symbol_returns(symbol, factors, seed), start_price)
        for symbol in dict.fromkeys(symbols)
    }
    return pd.DataFrame(columns, index=factors.index, dtype=np.float64)


def synthetic_closes_for_range(
    symbols: Iterable[str],
    start: date,
    end: date,
    seed: int = 7,
    warmup_sessions: int = 120,
) -> pd.DataFrame:
    """SYNTHETIC closes on XNYS sessions, beginning ``warmup_sessions`` sessions before ``start``.

    The warm-up gives strategies their lookback history on the first day of a demo or backtest.
    """
    if warmup_sessions < 0:
        msg = f"warmup_sessions must be >= 0, got {warmup_sessions}"
        raise ValueError(msg)
    sessions = xnys_sessions(start, end)
    if warmup_sessions and sessions:
        warmup = previous_sessions(sessions[0], warmup_sessions + 1)[:-1]
        sessions = warmup + sessions
    return synthetic_closes(symbols, sessions, seed)
