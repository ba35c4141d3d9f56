"""The data checks' shortcut for the usual day (one array test instead of column by column)
finds exactly what the column-by-column search finds, in the same words and order, on plain
windows and odd ones (gaps, stale days, NaN, zero, infinite and jumping closes, unsorted rows,
mixed dtypes, missing symbols)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.checks import CheckSettings, _suspects, bad_prints, data_problems

DAYS = pd.DatetimeIndex(pd.bdate_range("2024-03-04", periods=6))
SYMBOLS = ("AAA", "BBB", "CCC")
NOW = datetime(2024, 3, 11, 20, 45, tzinfo=UTC)


def column_by_column(  # noqa: PLR0917 - data_problems' arguments, positionally
    closes: pd.DataFrame,
    symbols: Iterable[str],
    today: date,
    previous_session: date,
    price_times: dict[str, datetime],
    settings: CheckSettings,
) -> list[str]:
    """``data_problems`` and ``bad_prints`` as they were written before the shortcut."""
    problems = []
    days = closes.index.to_numpy(dtype="datetime64[D]")
    before = days < np.datetime64(today)
    for symbol in sorted(symbols):
        if symbol in closes:
            values = closes[symbol].to_numpy(dtype=float)
            seen = days[before & ~np.isnan(values)]
        else:
            seen = days[:0]
        last = seen[-1].astype(date) if len(seen) else None
        if last != previous_session:
            problems.append(
                f"{symbol}: no daily bar for the previous session {previous_session} "
                f"(stale or missing data; last seen {last or 'none in the window'})"
            )
        stamp = price_times.get(symbol)
        if stamp is not None and NOW - stamp > settings.max_price_age:
            problems.append(f"{symbol}: today's price is from {stamp:%Y-%m-%d %H:%M} UTC (stale)")
    for symbol in sorted(s for s in symbols if s in closes):
        values = closes[symbol].to_numpy(dtype=float)
        known = ~np.isnan(values)
        prices, when = values[known], days[known]
        with np.errstate(divide="ignore", invalid="ignore"):
            moves = prices[1:] / prices[:-1] - 1
        for index in np.flatnonzero(np.abs(moves) > settings.max_daily_move):
            problems.append(
                f"{symbol}: {moves[index]:+.1%} on {when[index + 1].astype(date)} is beyond the "
                f"{settings.max_daily_move:.0%} bad-print limit "
                f"({_suspects(prices[index], prices[index + 1])})"
            )
    return problems


PLAIN = st.floats(1.0, 2.0)  # most closes: plain numbers, so that the usual day is common
CLOSES = st.one_of(PLAIN, PLAIN, PLAIN, st.sampled_from([np.nan, 0.0, -1.0, np.inf, 0.1, 10.0]))


@st.composite
def windows(draw: st.DrawFn) -> pd.DataFrame:
    """A few rows of closes, sometimes shuffled, with a column of another dtype or a text one."""
    rows = draw(st.integers(0, len(DAYS)))
    columns = draw(st.lists(st.sampled_from(SYMBOLS), min_size=1, max_size=3, unique=True))
    frame = pd.DataFrame(
        {c: draw(st.lists(CLOSES, min_size=rows, max_size=rows)) for c in columns},
        index=DAYS[len(DAYS) - rows :],
        dtype=float,
    )
    shape = draw(st.sampled_from(["plain", "plain", "shuffled", "float32", "text"]))
    if shape == "shuffled":
        frame = frame.iloc[::-1]
    elif shape == "float32":
        frame[columns[0]] = frame[columns[0]].astype(np.float32)
    elif shape == "text":
        frame["NOTE"] = "x"
    return frame


@settings(max_examples=500, deadline=None)
@given(
    windows(),
    st.one_of(st.none(), st.lists(st.sampled_from(SYMBOLS), max_size=3, unique=True)),
    st.integers(0, len(DAYS) - 1),
    st.sampled_from([1, 1, 1, 0, 2, 9]),
    st.sampled_from([0.5, 0.05, 1e12]),
    st.booleans(),
)
def test_the_usual_day_shortcut_finds_what_the_column_search_finds(  # noqa: PLR0917
    closes: pd.DataFrame,
    listed: list[str] | None,
    today_row: int,
    back: int,
    limit: float,
    stale_print: bool,
) -> None:
    """The same problems, in the same order and words, whatever the window (``listed`` None:
    the symbols are the window's own columns)."""
    symbols = [c for c in closes.columns if c in SYMBOLS] if listed is None else listed
    today = DAYS[today_row].date()
    previous_session = DAYS[today_row - back].date() if back <= today_row else date(2024, 3, 1)
    settings = CheckSettings(max_daily_move=limit)
    price_times = {"AAA": NOW - timedelta(hours=2)} if stale_print else {}
    wanted = column_by_column(closes, symbols, today, previous_session, price_times, settings)
    got = data_problems(
        closes,
        symbols=tuple(symbols),
        today=today,
        previous_session=previous_session,
        price_times=price_times,
        now=NOW,
        settings=settings,
    )
    assert got == wanted
    prints = column_by_column(closes, symbols, DAYS[0].date(), date(1, 1, 1), {}, settings)
    assert bad_prints(closes, symbols, limit) == [p for p in prints if "bad-print" in p]


def test_a_plain_window_has_no_problems_and_a_jump_is_named() -> None:
    """The usual day (the shortcut) finds nothing; a 60% jump in it is found as before."""
    closes = pd.DataFrame({"AAA": [10.0, 10.5, 10.2], "BBB": [5.0, 5.1, 5.2]}, index=DAYS[:3])
    ok = CheckSettings()
    assert (
        data_problems(
            closes,
            symbols=("AAA", "BBB"),
            today=DAYS[2].date(),
            previous_session=DAYS[1].date(),
            price_times={},
            now=NOW,
            settings=ok,
        )
        == []
    )
    closes.iloc[2, 1] = 8.2
    assert bad_prints(closes, ("AAA", "BBB"), 0.5) == [
        f"BBB: +60.8% on {DAYS[2].date()} is beyond the 50% bad-print limit ({_suspects(5.1, 8.2)})"
    ]
