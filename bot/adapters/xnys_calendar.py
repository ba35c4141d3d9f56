"""The offline market calendar (exchange_calendars XNYS) behind the MarketCalendar port."""

from __future__ import annotations

from datetime import date, datetime

from bot.market.sessions import session_close, xnys_sessions


class XnysCalendar:
    """NYSE sessions and closes, holidays and early closes included; no network needed."""

    def sessions(self, start: date, end: date) -> tuple[date, ...]:
        """Trading days from ``start`` to ``end`` inclusive."""
        return xnys_sessions(start, end)

    def session_close(self, day: date) -> datetime:
        """The close of ``day`` in UTC (13:00 New York on early-close days)."""
        return session_close(day)
