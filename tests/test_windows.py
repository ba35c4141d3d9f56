"""The windows of closes the cycle reads every session: the array shortcuts give exactly what the
pandas label look-ups give (same frame, same values, same error and message), on plain frames
and on every odd one (unsorted, zoned, mixed dtypes, gaps, late listings, bad prints)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.adapters.frame_market import FrameMarketData, closes_window
from strategies import base
from strategies.base import window_values

DAYS = pd.DatetimeIndex(pd.bdate_range("2024-01-08", periods=8))
SYMBOLS = ("AAA", "BBB", "CCC")
CLOSES = st.sampled_from([1.0, 2.5, 3.25, 100.0, 0.0, -1.0, np.nan, np.inf])


def label_window(
    closes: pd.DataFrame, symbols: tuple[str, ...], n: int, as_of: date
) -> pd.DataFrame:
    """``strategies.base.closes_window`` as it was written before its array shortcut."""
    missing = [s for s in symbols if s not in closes.columns]
    if missing:
        msg = f"no price history for {', '.join(missing)}"
        raise base.MissingSymbolError(msg)
    upto = closes.loc[closes.index <= pd.Timestamp(as_of), list(symbols)]
    window = upto.iloc[-n:] if n > 0 else upto.iloc[0:0]
    if len(window) < n:
        msg = f"need {n} daily closes up to {as_of}, have {len(window)}"
        raise base.InsufficientHistoryError(msg)
    for symbol in symbols:
        base._check_column(window[symbol], upto[symbol], n, as_of)
    return window


def outcome(call: object, *args: object) -> object:
    """What ``call`` returns, or the type and message of what it raises."""
    assert callable(call)
    try:
        result: object = call(*args)
    except (base.StrategyError, TypeError, ValueError) as exc:
        return type(exc).__name__, str(exc)
    return result


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    """A few rows of closes on business days, in date order or shuffled, sometimes a column
    of another dtype, sometimes zoned dates."""
    rows = draw(st.integers(0, len(DAYS)))
    columns = draw(st.lists(st.sampled_from(SYMBOLS), min_size=1, max_size=3, unique=True))
    values = {c: draw(st.lists(CLOSES, min_size=rows, max_size=rows)) for c in columns}
    frame = pd.DataFrame(values, index=DAYS[len(DAYS) - rows :], dtype=float)
    shape = draw(st.sampled_from(["plain", "shuffled", "float32", "int", "extra", "zoned"]))
    if shape == "shuffled" and rows > 1:
        frame = frame.iloc[::-1]
    elif shape == "float32":
        frame[columns[0]] = frame[columns[0]].astype(np.float32)
    elif shape == "int" and np.isfinite(frame[columns[0]].to_numpy()).all():
        frame[columns[0]] = frame[columns[0]].astype(np.int64)
    elif shape == "extra":
        frame["NOTE"] = "x"
    elif shape == "zoned":
        frame = frame.tz_localize("UTC")
    return frame


@settings(max_examples=400, deadline=None)
@given(
    frames(),
    st.lists(st.sampled_from(SYMBOLS), min_size=1, max_size=3, unique=True),
    st.integers(0, 5),
    st.sampled_from([*DAYS.date, date(2024, 1, 1), date(2024, 1, 13), date(2024, 2, 1)]),
)
def test_closes_window_and_window_values_agree_with_the_label_look_up(
    closes: pd.DataFrame, symbols: list[str], n: int, as_of: date
) -> None:
    """The same frame (index, columns, dtypes, values) or the same error, and the array form
    is that frame's ``to_numpy(dtype=float)``."""
    wanted = outcome(label_window, closes, tuple(symbols), n, as_of)
    got = outcome(base.closes_window, closes, tuple(symbols), n, as_of)
    values = outcome(window_values, closes, tuple(symbols), n, as_of)
    if isinstance(wanted, tuple):
        assert got == wanted
        assert values == wanted
        return
    assert isinstance(wanted, pd.DataFrame)
    assert isinstance(got, pd.DataFrame)
    pd.testing.assert_frame_equal(got, wanted)
    assert isinstance(values, np.ndarray)
    np.testing.assert_array_equal(values, wanted.to_numpy(dtype=float))
    assert values.dtype == np.float64


def test_window_values_is_a_copy_of_the_closes() -> None:
    """Writing into the array a strategy gets never changes the caller's frame."""
    closes = pd.DataFrame({"AAA": [1.0, 2.0], "BBB": [3.0, 4.0]}, index=DAYS[:2])
    values = window_values(closes, ("AAA", "BBB"), 2, DAYS[1].date())
    values[:] = 0.0
    assert closes.to_numpy().tolist() == [[1.0, 3.0], [2.0, 4.0]]


@pytest.mark.parametrize("shape", ["plain", "shuffled", "int", "zoned", "text"])
def test_frame_market_closes_are_the_label_look_up_s(shape: str) -> None:
    """``FrameMarketData.closes`` (arrays kept per set of symbols) serves exactly the frame
    ``closes_window`` cuts with labels, for every end, count and set of symbols."""
    days = pd.DatetimeIndex(pd.bdate_range("2024-01-01", periods=30))
    rng = np.random.default_rng(3)
    closes = pd.DataFrame(
        {"AAA": rng.uniform(1, 2, 30), "BBB": rng.uniform(1, 2, 30), "CCC": rng.uniform(1, 2, 30)},
        index=days,
    )
    closes.iloc[4, 1] = np.nan
    if shape == "shuffled":
        closes = closes.sample(frac=1.0, random_state=1)
    elif shape == "int":
        closes["CCC"] = np.arange(30)
    elif shape == "zoned":
        closes = closes.tz_localize("America/New_York")
    elif shape == "text":
        closes["CCC"] = "x"
    market = FrameMarketData(closes)
    ends = [date(2023, 12, 29), date(2024, 1, 6), *days.date[::3], date(2024, 3, 1)]
    symbol_sets = [("AAA", "BBB", "CCC"), ("CCC", "AAA"), ("BBB", "ZZZ"), ("ZZZ",), ()]
    for end in ends if shape != "zoned" else []:
        for count in (-1, 0, 1, 2, 3, 50):
            for symbols in symbol_sets:
                got = market.closes(iter(symbols), end, count)
                pd.testing.assert_frame_equal(got, closes_window(market.frame, symbols, end, count))
    if shape == "zoned":  # the label look-up refuses a naive end on zoned dates: so does this
        with pytest.raises(TypeError):
            closes_window(market.frame, ("AAA",), date(2024, 1, 10), 2)
        with pytest.raises(TypeError):
            market.closes(("AAA",), date(2024, 1, 10), 2)
