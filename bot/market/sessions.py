"""NYSE (XNYS) trading sessions and closes, via exchange_calendars.

The bot rebalances "at the close", so every scheduling and backtesting decision depends on two
questions: which days are sessions, and when exactly does a session close (early closes such as the
day after Thanksgiving end at 13:00 New York; the UTC hour of a normal close shifts with US daylight
saving time). This module answers only those questions, with plain ``date``/``datetime`` values, so
the rest of the bot never touches pandas Timestamps or exchange_calendars directly.

Building a calendar takes a noticeable fraction of a second, so it is built lazily, once per
process, for a fixed range that covers the historical data (1980→) and a decade ahead.
"""

from __future__ import annotations

import warnings
from datetime import UTC, date, datetime
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


def _first_session() -> date:
    first: pd.Timestamp = _calendar().first_session
    return first.date()


def _last_session() -> date:
    last: pd.Timestamp = _calendar().last_session
    return last.date()


def calendar_range() -> tuple[date, date]:
    """The first and last session this calendar knows."""
    return _first_session(), _last_session()


def _timestamp(day: date) -> pd.Timestamp:
    """Midnight of ``day``; a ``datetime`` argument's time of day is dropped deliberately."""
    return pd.Timestamp(day.year, day.month, day.day)


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
    return date(day.year, day.month, day.day)


def _to_dates(index: pd.DatetimeIndex) -> tuple[date, ...]:
    return tuple(ts.date() for ts in index)


def is_session(day: date) -> bool:
    """True if NYSE trades on ``day`` (weekends and exchange holidays are not sessions)."""
    _check_in_range(day)
    return bool(_calendar().is_session(_timestamp(day)))


def xnys_sessions(start: date, end: date) -> tuple[date, ...]:
    """All XNYS sessions from ``start`` to ``end`` inclusive (empty if none fall in between)."""
    if start > end:
        msg = f"start {start.isoformat()} is after end {end.isoformat()}"
        raise ValueError(msg)
    _check_in_range(start)
    _check_in_range(end)
    index: pd.DatetimeIndex = _calendar().sessions_in_range(_timestamp(start), _timestamp(end))
    return _to_dates(index)


def session_close(day: date) -> datetime:
    """The close of session ``day`` as an aware UTC datetime; early closes and DST respected."""
    if not is_session(day):
        msg = f"{_as_date(day).isoformat()} is not an {CALENDAR_NAME} session"
        raise ValueError(msg)
    close: pd.Timestamp = _calendar().session_close(_timestamp(day))
    return close.to_pydatetime().astimezone(UTC)


def previous_sessions(end: date, count: int) -> tuple[date, ...]:
    """The ``count`` sessions ending at ``end`` (inclusive if ``end`` is itself a session).

    Used for lookback windows: "the last 126 sessions as of today" must not depend on whether today
    is a holiday.
    """
    if count < 1:
        msg = f"count must be at least 1, got {count}"
        raise ValueError(msg)
    _check_in_range(end)
    last = _calendar().date_to_session(_timestamp(end), direction="previous")
    available = int(_calendar().sessions.get_loc(last)) + 1
    if count > available:
        msg = (
            f"only {available} {CALENDAR_NAME} sessions exist up to {_as_date(end).isoformat()} "
            f"(calendar starts {_first_session().isoformat()}); {count} requested"
        )
        raise ValueError(msg)
    window: pd.DatetimeIndex = _calendar().sessions_window(last, -count)
    return _to_dates(window)
