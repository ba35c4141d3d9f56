"""Market data from an in-memory frame of closes (synthetic or loaded from CSV files)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import numpy.typing as npt
import pandas as pd


@dataclass(frozen=True, slots=True)
class _Block:
    """Some symbols' closes as one float array, with the frame's dates as integers: a window is
    then two array slices, not a pandas label look-up (a backtest asks for one every session)."""

    stamps: npt.NDArray[np.int64]  # the frame's dates, nanoseconds, ascending
    frame: pd.DataFrame  # those columns as one float64 block: a window is a row slice of it


class FrameMarketData:
    """Serves daily closes from a frame; the row for the session being decided is its price."""

    def __init__(self, closes: pd.DataFrame) -> None:
        self._closes = closes.sort_index()
        self._blocks: dict[tuple[str, ...], _Block | None] = {}
        self._present: dict[tuple[str, ...], tuple[str, ...]] = {}

    @property
    def frame(self) -> pd.DataFrame:
        """The whole table (the simulated broker fills from the same prices)."""
        return self._closes

    def price_times(self) -> dict[str, datetime]:
        """A frame of closes has no print times; the freshness check relies on the dates."""
        return {}

    def closes(self, symbols: Iterable[str], end: date, count: int) -> pd.DataFrame:
        """The last ``count`` rows on or before ``end`` for the symbols that exist: the same
        frame as ``closes_window``, cut from an array kept per set of symbols."""
        wanted = tuple(symbols)
        present = self._present.get(wanted)
        if present is None:
            present = self._present[wanted] = tuple(s for s in wanted if s in self._closes.columns)
        block = self._block(present)
        if block is None:  # not plain float columns on naive dates: pandas' own look-up
            return closes_window(self._closes, present, end, count)
        stop = int(np.searchsorted(block.stamps, _nanoseconds(end), side="right"))
        start = max(stop - count, 0) if count > 0 else stop
        # A slice of the block's frame: copy-on-write, so whoever changes it changes a copy.
        return block.frame.iloc[start:stop]

    def _block(self, present: tuple[str, ...]) -> _Block | None:
        if present not in self._blocks:
            self._blocks[present] = _as_block(self._closes, present)
        return self._blocks[present]


_UNIX_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_NS_A_DAY = 86_400_000_000_000


def _nanoseconds(end: date) -> int:
    """``pd.Timestamp(end).value`` without building a Timestamp, for a plain date."""
    if type(end) is date:
        return (end.toordinal() - _UNIX_EPOCH_ORDINAL) * _NS_A_DAY
    return int(pd.Timestamp(end).value)


def _as_block(closes: pd.DataFrame, present: tuple[str, ...]) -> _Block | None:
    """The array form of ``closes[present]``, or None where it could differ from the frame's
    (a time zone, a column that is not float64, a column name found twice)."""
    index = closes.index
    if not (isinstance(index, pd.DatetimeIndex) and index.tz is None and present):
        return None
    if not closes.columns.is_unique:
        return None
    columns = closes[list(present)]
    if not (columns.dtypes == np.float64).all():
        return None
    stamps = index.as_unit("ns").asi8
    values = columns.to_numpy(dtype=np.float64, copy=True)
    return _Block(stamps, pd.DataFrame(values, index=index, columns=columns.columns, copy=False))


def closes_window(
    closes: pd.DataFrame, symbols: Iterable[str], end: date, count: int
) -> pd.DataFrame:
    """The last ``count`` rows of a date-sorted frame on or before ``end``, for the symbols it
    has: what ``FrameMarketData.closes`` serves (the fast backtester reads the same window)."""
    present = [s for s in symbols if s in closes.columns]
    upto = closes.loc[: pd.Timestamp(end), present]
    return upto.iloc[-count:] if count > 0 else upto.iloc[0:0]
