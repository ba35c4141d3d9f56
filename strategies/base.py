"""What every strategy is: a pure function of price history and an as-of date to target weights.

Strategies import only the stdlib, numpy and pandas. They never see a broker, a clock or a file:
the engine (``bot``) hands them a frame of daily closes and asks for weights. Weights are per
symbol, negative means short, and cash is whatever remains (1 − Σw).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt
import pandas as pd

SMALL_FRAME = 64  # rows: a frame this short is read whole into an array, a longer one sliced first


class StrategyError(ValueError):
    """A strategy cannot produce trustworthy weights; the engine must not trade on it."""


class MissingSymbolError(StrategyError):
    """A symbol the strategy needs is absent from the price history."""


class InsufficientHistoryError(StrategyError):
    """Fewer closes than the lookback needs (e.g. a fund listed too recently)."""


class BadPriceError(StrategyError):
    """A close inside the lookback window is NaN, infinite, zero or negative."""


class NoDecisionError(StrategyError):
    """The strategy deliberately declines to decide today (e.g. a zero-volatility policy)."""


@dataclass(frozen=True, slots=True)
class TargetWeights:
    """Target portfolio weights and the remarks worth recording about how they were reached."""

    weights: Mapping[str, float]
    notes: tuple[str, ...] = field(default=())

    @property
    def cash(self) -> float:
        """The fraction deliberately left in cash (short notionals stay in cash too)."""
        return 1.0 - sum(self.weights.values())


class Strategy(Protocol):
    """The port the engine calls; see ``strategies.fixed``, ``inverse_vol``, ``modified_sharpe``."""

    @property
    def symbols(self) -> tuple[str, ...]:
        """Every symbol whose closes the strategy reads (and may hold)."""
        ...

    @property
    def history_closes(self) -> int:
        """How many daily closes, ending at the as-of date, the strategy needs."""
        ...

    def target_weights(self, closes: pd.DataFrame, as_of: date) -> TargetWeights:
        """Return target weights from ``closes`` (DatetimeIndex rows, one column per symbol)."""
        ...


FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@runtime_checkable
class BatchStrategy(Protocol):
    """A strategy that computes every day's targets at once (the fast backtester's form)."""

    def batch_targets(self, prices: FloatArray) -> tuple[FloatArray, BoolArray] | None:
        """Row ``i``: the targets from the closes up to row ``i`` (columns in ``symbols``
        order; NaN rows before there is enough history) and whether the strategy declines
        that day; None when ``prices`` is too short for the batch form."""
        ...


@runtime_checkable
class WindowStrategy(Protocol):
    """A strategy whose targets can be computed from a plain array of its closes."""

    def window_targets(self, window: FloatArray) -> TargetWeights:
        """Targets from the last ``history_closes`` closes (columns in ``symbols`` order),
        already checked usable by the caller."""
        ...


def validate_lookback(lookback_days: object) -> None:
    """A lookback is a whole number of daily returns, at least two (a std needs two)."""
    if isinstance(lookback_days, bool) or not isinstance(lookback_days, int):
        msg = f"lookback_days must be an int, got {lookback_days!r}"
        raise ValueError(msg)
    if lookback_days < 2:
        msg = f"lookback_days must be ≥ 2 (a std needs two returns), got {lookback_days}"
        raise ValueError(msg)


def closes_window(
    closes: pd.DataFrame, symbols: tuple[str, ...], n: int, as_of: date
) -> pd.DataFrame:
    """Return the last ``n`` closes on or before ``as_of`` for ``symbols``, or raise naming why.

    Rows after ``as_of`` are ignored so a strategy can never look ahead. A symbol with no column,
    fewer than ``n`` closes since it was first priced (a late listing), or a NaN/non-positive
    close inside the window raises a :class:`StrategyError` subclass naming symbol and date.
    """
    _check_symbols(closes, symbols)
    clean = _clean_window(closes, symbols, n, as_of)
    if clean is not None:
        values, rows, columns = clean
        return pd.DataFrame(values, index=closes.index[rows], columns=closes.columns[columns])
    upto = closes.loc[closes.index <= pd.Timestamp(as_of), list(symbols)]
    window = upto.iloc[-n:] if n > 0 else upto.iloc[0:0]
    if len(window) < n:
        msg = f"need {n} daily closes up to {as_of}, have {len(window)}"
        raise InsufficientHistoryError(msg)
    for symbol in symbols:
        _check_column(window[symbol], upto[symbol], n, as_of)
    return window


def window_values(
    closes: pd.DataFrame, symbols: tuple[str, ...], n: int, as_of: date
) -> FloatArray:
    """``closes_window(...).to_numpy(dtype=float)``, the same checks and errors, without building
    the frame: what a strategy that computes on arrays needs (the cycle asks every session, and
    a backtest runs thousands of them)."""
    _check_symbols(closes, symbols)
    clean = _clean_window(closes, symbols, n, as_of)
    if clean is not None:
        return clean[0]
    return closes_window(closes, symbols, n, as_of).to_numpy(dtype=float)


def _check_symbols(closes: pd.DataFrame, symbols: tuple[str, ...]) -> None:
    columns = set(closes.columns)
    missing = [s for s in symbols if s not in columns]
    if missing:
        msg = f"no price history for {', '.join(missing)}"
        raise MissingSymbolError(msg)


def _clean_window(
    closes: pd.DataFrame, symbols: tuple[str, ...], n: int, as_of: date
) -> tuple[FloatArray, slice, list[int]] | None:
    """The window's closes, its rows and its columns when nothing in it is wrong, found with one
    binary search and one array check (pandas' label look-ups cost thirty times more); None when
    the frame is not the plain case (unsorted or zoned dates, a column name twice, columns of
    more than one dtype or not float64) or the window is short or holds an unusable close: the
    label look-up then finds and names the problem."""
    index = closes.index
    if not _plain_dates(closes):
        return None
    stop = int(np.searchsorted(index.values, _as_datetime64(as_of), side="right"))
    start = stop - n if n > 0 else stop
    if start < 0:
        return None
    rows = closes if len(closes) <= SMALL_FRAME else closes.iloc[start:stop]
    values = _float_values(rows)
    if values is None:
        return None
    labels = list(closes.columns)
    columns = [labels.index(s) for s in symbols]
    offset = 0 if rows is closes else start
    window: FloatArray = values[start - offset : stop - offset, columns]
    if not (np.isfinite(window).all() and (window > 0).all()):
        return None
    return window, slice(start, stop), columns


def _as_datetime64(as_of: date) -> np.datetime64:
    """``as_of`` as numpy compares it with the index's own array (a plain date without a
    pandas Timestamp, which costs more than the search itself)."""
    if type(as_of) is date:
        return np.datetime64(as_of, "D")
    return np.datetime64(pd.Timestamp(as_of).as_unit("ns").value, "ns")


def _plain_dates(closes: pd.DataFrame) -> bool:
    """Naive dates in ascending order and no column name twice: a binary search finds what the
    label look-up would."""
    index = closes.index
    return (
        isinstance(index, pd.DatetimeIndex)
        and index.tz is None
        and index.is_monotonic_increasing
        and closes.columns.is_unique
    )


def _float_values(rows: pd.DataFrame) -> FloatArray | None:
    """The frame as one float64 array when every column is float64, else None: with mixed
    dtypes ``to_numpy`` would convert, and the window could differ from the label look-up's.
    (``_is_homogeneous_type`` is private but long-standing; without it, None.)"""
    if not getattr(rows, "_is_homogeneous_type", False):
        return None
    values = rows.to_numpy()
    return values if values.dtype == np.float64 else None


def _check_column(column: pd.Series, history: pd.Series, n: int, as_of: date) -> None:
    values = column.to_numpy(dtype=float)
    usable = np.isfinite(values) & (values > 0)
    if usable.all():
        return
    symbol = str(column.name)
    priced = history.index[np.isfinite(history.to_numpy(dtype=float))]
    first_priced = None if priced.empty else pd.Timestamp(priced[0])
    if first_priced is None or first_priced > column.index[0]:
        listed = "never" if first_priced is None else f"first on {first_priced.date()}"
        if usable[~np.isnan(values)].all():
            msg = f"{symbol} has fewer than {n} daily closes up to {as_of} (priced {listed})"
            raise InsufficientHistoryError(msg)
    first_bad = int(np.argmax(~usable & ~_leading_nan(values)))
    msg = (
        f"{symbol} close on {column.index[first_bad].date()} is {float(values[first_bad])}: "
        "not a usable price"
    )
    raise BadPriceError(msg)


def _leading_nan(values: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    """Mask of the NaNs before the first number (a fund not yet listed)."""
    leading: npt.NDArray[np.bool_] = np.cumsum(~np.isnan(values)) == 0
    return leading
