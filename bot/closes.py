"""A frame of daily closes as the arrays the pre-trade checks read, derived once per cycle.

The freshness check, the split-shape search and the bad-print check each read the same window's
dates and closes. Asked of pandas each time, the conversions (the index to days, the frame to
one array, a column's position) cost more than the checks themselves, every session of a
backtest; the cycle derives them once and hands them to each check.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ClosesArrays:
    """The frame's dates as days, and its closes as one float64 array with each column's place.

    ``values`` is None unless the frame is one float64 block with each column name once (the
    usual case): then a check reads column by column from the frame, as pandas would."""

    days: npt.NDArray[np.datetime64]
    values: FloatArray | None
    position: dict[str, int]

    @classmethod
    def of(cls, closes: pd.DataFrame) -> ClosesArrays:
        """The arrays of ``closes`` (``_is_homogeneous_type`` is private to pandas but long-
        standing; without it, no array and the checks read the frame)."""
        index = closes.index
        if isinstance(index, pd.DatetimeIndex) and index.tz is None:
            days = index.values.astype("datetime64[D]")
        else:
            days = index.to_numpy(dtype="datetime64[D]")
        values: FloatArray | None = None
        position: dict[str, int] = {}
        if closes.columns.is_unique:
            position = {str(c): i for i, c in enumerate(closes.columns)}
            if getattr(closes, "_is_homogeneous_type", False):
                array = closes.to_numpy()
                values = array if array.dtype == np.float64 else None
        return cls(days, values, position)

    def select(self, symbols: Iterable[str]) -> FloatArray | None:
        """The symbols' closes as one array (rows as the frame's, columns in the given order),
        or None when the frame is not one float64 block or lacks a symbol."""
        if self.values is None:
            return None
        try:
            columns = [self.position[s] for s in symbols]
        except KeyError:
            return None
        selected: FloatArray = self.values[:, columns]
        return selected
