"""NYSE (XNYS) trading sessions and closes, via exchange_calendars.

The bot rebalances "at the close", so every scheduling and backtesting decision depends on two
questions: which days are sessions, and when exactly does a session close (early closes such as the
day after Thanksgiving end at 13:00 New York; the UTC hour of a normal close shifts with US daylight
saving time). This module answers only those questions, with plain ``date``/``datetime`` values, so
the rest of the bot never touches pandas Timestamps or exchange_calendars directly.

Building a calendar takes a noticeable fraction of a second, so it is built lazily, once per
process, for a fixed range that covers the historical data (1980→) and a decade ahead. Its
sessions and closes are then read into a plain table (:class:`_Table`): the cycle asks which days
are sessions on every wake, and a backtest wakes thousands of times, so each question is a binary
search over dates rather than a pandas range query turned into ``date`` objects again.
"""

from __future__ import annotations

import warnings
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

import exchange_calendars as xcals
import pandas as pd

CALENDAR_NAME = "XNYS"
CALENDAR_START = date(1980, 1, 1)
CALENDAR_END = date(2035, 12, 31)


@cache
def _calendar() -> Any:
    """Build the XNYS calendar once; exchange_calendars is untyped, hence ``Any``.

    The build emits a pandas deprecation warning from inside exchange_calendars that the bot can do
    nothing about, so it is silenced here rather than leaking into every log and test run.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return xcals.get_calendar(CALENDAR_NAME, start=CALENDAR_START, end=CALENDAR_END)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class _Table:
    """Every session of the calendar as a ``date`` (ascending), where each one sits in that
    order, and its close in nanoseconds since the epoch (UTC): read once from the calendar."""

    days: tuple[date, ...]
    position: dict[date, int]
    close_ns: tuple[int, ...]


@cache
def _table() -> _Table:
    closes: pd.Series = _calendar().closes
    days = tuple(pd.DatetimeIndex(closes.index).to_numpy().astype("datetime64[D]").tolist())
    close_ns = tuple(pd.DatetimeIndex(closes).asi8.tolist())
    return _Table(days, {day: i for i, day in enumerate(days)}, close_ns)


def _first_session() -> date:
    return _table().days[0]


def _last_session() -> date:
    return _table().days[-1]


def calendar_range() -> tuple[date, date]:
    """The first and last session this calendar knows."""
    return _first_session(), _last_session()


def _check_in_range(day: date) -> None:
    """Fail with a readable message instead of exchange_calendars' internal error types."""
    first, last = _first_session(), _last_session()
    if not first <= _as_date(day) <= last:
        msg = (
            f"{_as_date(day).isoformat()} is outside the {CALENDAR_NAME} calendar range "
            f"{first.isoformat()}..{last.isoformat()}"
        )
        raise ValueError(msg)


def _as_date(day: date) -> date:
    """``day`` as a plain date; a ``datetime`` argument's time of day is dropped deliberately."""
    return day if type(day) is date else date(day.year, day.month, day.day)


def is_session(day: date) -> bool:
    """True if NYSE trades on ``day`` (weekends and exchange holidays are not sessions)."""
    _check_in_range(day)
    return _as_date(day) in _table().position


def xnys_sessions(start: date, end: date) -> tuple[date, ...]:
    """All XNYS sessions from ``start`` to ``end`` inclusive (empty if none fall in between)."""
    if start > end:
        msg = f"start {start.isoformat()} is after end {end.isoformat()}"
        raise ValueError(msg)
    _check_in_range(start)
    _check_in_range(end)
    days = _table().days
    return days[bisect_left(days, _as_date(start)) : bisect_right(days, _as_date(end))]


def session_close(day: date) -> datetime:
    """The close of session ``day`` as an aware UTC datetime; early closes and DST respected."""
    table = _table()
    position = table.position.get(_as_date(day)) if _in_range(day) else None
    if position is None:
        _check_in_range(day)
        msg = f"{_as_date(day).isoformat()} is not an {CALENDAR_NAME} session"
        raise ValueError(msg)
    return EPOCH + timedelta(microseconds=table.close_ns[position] // 1000)


def _in_range(day: date) -> bool:
    return _first_session() <= _as_date(day) <= _last_session()


def previous_sessions(end: date, count: int) -> tuple[date, ...]:
    """The ``count`` sessions ending at ``end`` (inclusive if ``end`` is itself a session).

    Used for lookback windows: "the last 126 sessions as of today" must not depend on whether today
    is a holiday.
    """
    if count < 1:
        msg = f"count must be at least 1, got {count}"
        raise ValueError(msg)
    _check_in_range(end)
    days = _table().days
    available = bisect_right(days, _as_date(end))  # the sessions on or before ``end``
    if count > available:
        msg = (
            f"only {available} {CALENDAR_NAME} sessions exist up to {_as_date(end).isoformat()} "
            f"(calendar starts {_first_session().isoformat()}); {count} requested"
        )
        raise ValueError(msg)
    return days[available - count : available]
