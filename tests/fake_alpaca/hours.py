"""Market hours for the fake: XNYS sessions from the bot's own calendar module.

Regular hours are 09:30 to the session close (16:00, or 13:00 on early-close days), New York time.
The fake's clock is compared against these to answer ``/v2/clock`` and to decide whether a ``day``
order fills now or waits as ``accepted``.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from bot.market.sessions import is_session, session_close, xnys_sessions

from .wire import NEW_YORK, JsonObject

OPEN_TIME = time(9, 30)
LOOKAHEAD = timedelta(days=14)  # longer than any run of NYSE closures


def session_open(day: date) -> datetime:
    """The regular open of session ``day`` (09:30 New York)."""
    return datetime.combine(day, OPEN_TIME, NEW_YORK)


def session_end(day: date) -> datetime:
    """The regular close of session ``day`` in New York time (early closes respected)."""
    return session_close(day).astimezone(NEW_YORK)


def _local_day(moment: datetime) -> date:
    return moment.astimezone(NEW_YORK).date()


def _sessions_from(moment: datetime) -> tuple[date, ...]:
    day = _local_day(moment)
    return xnys_sessions(day, day + LOOKAHEAD)


def is_open(moment: datetime) -> bool:
    """True during regular hours of an XNYS session."""
    day = _local_day(moment)
    return is_session(day) and session_open(day) <= moment < session_end(day)


def next_open(moment: datetime) -> datetime:
    """The first regular open strictly after ``moment``."""
    return next(session_open(d) for d in _sessions_from(moment) if session_open(d) > moment)


def next_close(moment: datetime) -> datetime:
    """The first regular close strictly after ``moment``: the close a ``day`` order works until."""
    return next(session_end(d) for d in _sessions_from(moment) if session_end(d) > moment)


def clock_json(moment: datetime) -> JsonObject:
    """``GET /v2/clock``: times with the New York offset (§5.4)."""
    return {
        "timestamp": moment.astimezone(NEW_YORK).isoformat(),
        "is_open": is_open(moment),
        "next_open": next_open(moment).isoformat(),
        "next_close": next_close(moment).isoformat(),
    }


def calendar_json(start: date, end: date) -> list[JsonObject]:
    """``GET /v2/calendar``: one row per session, ``HH:MM`` times, holidays absent (§5.4)."""
    if start > end:
        return []
    return [_calendar_row(day) for day in xnys_sessions(start, end)]


def _calendar_row(day: date) -> JsonObject:
    close = session_end(day)
    early = close.time() < time(16, 0)
    return {
        "date": day.isoformat(),
        "open": OPEN_TIME.strftime("%H:%M"),
        "close": close.strftime("%H:%M"),
        "session_open": "0400",
        "session_close": "1700" if early else "2000",
        "settlement_date": _next_session(day).isoformat(),
    }


def _next_session(day: date) -> date:
    return xnys_sessions(day + timedelta(days=1), day + LOOKAHEAD)[0]
