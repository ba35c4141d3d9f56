"""Market data from an in-memory frame of closes (synthetic or loaded from CSV files)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

import pandas as pd


class FrameMarketData:
    """Serves daily closes from a frame; the row for the session being decided is its price."""

    def __init__(self, closes: pd.DataFrame) -> None:
        self._closes = closes.sort_index()

    @property
    def frame(self) -> pd.DataFrame:
        """The whole table (the simulated broker fills from the same prices)."""
        return self._closes

    def price_times(self) -> dict[str, datetime]:
        """A frame of closes has no print times; the freshness check relies on the dates."""
        return {}

    def closes(self, symbols: Iterable[str], end: date, count: int) -> pd.DataFrame:
        """The last ``count`` rows on or before ``end`` for the symbols that exist."""
        return closes_window(self._closes, symbols, end, count)


def closes_window(
    closes: pd.DataFrame, symbols: Iterable[str], end: date, count: int
) -> pd.DataFrame:
    """The last ``count`` rows of a date-sorted frame on or before ``end``, for the symbols it
    has: what ``FrameMarketData.closes`` serves (the fast backtester reads the same window)."""
    present = [s for s in symbols if s in closes.columns]
    upto = closes.loc[: pd.Timestamp(end), present]
    return upto.iloc[-count:] if count > 0 else upto.iloc[0:0]
