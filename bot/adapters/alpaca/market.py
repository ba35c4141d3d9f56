"""Alpaca market data behind the MarketData port, and Alpaca's calendar behind MarketCalendar.

Closes are daily bars of completed sessions (adjusted, one paginated request for all symbols,
feed ``iex`` by default) plus, as the row for today, the latest trade: the bot decides at 15:45
New York on the live price, as Composer does.

Bars, trades or calendar days that do not parse are one BrokerError naming the endpoint (see
:func:`bot.adapters.alpaca.transport.translated`), never a traceback, and are not retried.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import pandas as pd
from alpaca.data.enums import Adjustment, DataFeed
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.requests import StockBarsRequest, StockLatestTradeRequest
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.client import TradingClient
from alpaca.trading.requests import GetCalendarRequest

from bot.adapters.alpaca.transport import BadFieldError, RetryPolicy, translated, with_retries
from bot.ports import Clock

NEW_YORK = ZoneInfo("America/New_York")
UTC = ZoneInfo("UTC")
BARS = "GET /v2/stocks/bars"
LATEST_TRADES = "GET /v2/stocks/trades/latest"
CALENDAR = "GET /v2/calendar"


def _price(value: object, name: str) -> float:
    """A finite, positive price from a bar or a trade (alpaca-py has checked it is a number)."""
    price = _number(value, name)
    if not math.isfinite(price) or price <= 0:
        raise BadFieldError(name, "not a positive finite number")
    return price


def _number(value: object, name: str) -> float:
    """A number from a bar, as served (zero, negative or not finite included)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadFieldError(name, "not a number")
    return float(value)


def _moment(value: object, name: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise BadFieldError(name, "not a timestamp with a time zone")
    return value


class AlpacaMarketData:
    """Daily closes from Alpaca's bars, with today's latest trade as today's row."""

    def __init__(
        self,
        client: StockHistoricalDataClient,
        clock: Clock,
        *,
        feed: str = "iex",
        retry: RetryPolicy | None = None,
    ) -> None:
        self._client = client
        self._clock = clock
        self._feed = DataFeed(feed)
        self._retry = retry or RetryPolicy()
        self.latest_trade_times: dict[str, datetime] = {}

    def price_times(self) -> dict[str, datetime]:
        """When the latest trades used as today's prices were printed."""
        return dict(self.latest_trade_times)

    def closes(self, symbols: Iterable[str], end: date, count: int) -> pd.DataFrame:
        """``count`` rows ending at ``end``: completed daily bars, then today's latest trades."""
        wanted = list(symbols)
        start = end - timedelta(days=int(count * 1.6) + 10)  # trading days → calendar days
        bars = self.daily_closes(wanted, start, end)
        today = self._clock.now().astimezone(NEW_YORK).date()
        if end == today:
            bars = bars.loc[bars.index < pd.Timestamp(today)]
            latest = self._latest(wanted)
            if latest:
                row = pd.DataFrame([latest], index=pd.DatetimeIndex([pd.Timestamp(today)]))
                bars = pd.concat([bars, row]).sort_index()
        return bars.iloc[-count:] if count > 0 else bars.iloc[0:0]

    def daily_closes(
        self, symbols: list[str], start: date, end: date, *, checked: bool = True
    ) -> pd.DataFrame:
        """Adjusted daily closes of completed sessions from ``start`` to ``end`` (one column per
        symbol that has bars; alpaca-py follows the pages). A close that is not a positive
        finite number is an error, unless ``checked`` is False: then it is kept as served, for
        a caller that reports it per symbol (``bot data fetch``)."""
        read = _price if checked else _number
        request = StockBarsRequest(
            symbol_or_symbols=symbols,
            timeframe=TimeFrame.Day,
            start=datetime.combine(start, time(0), NEW_YORK),
            end=datetime.combine(end, time(23, 59), NEW_YORK),
            adjustment=Adjustment.ALL,
            feed=self._feed,
        )
        what = "load daily bars"
        barset = with_retries(
            what, lambda: self._client.get_stock_bars(request), self._retry, endpoint=BARS
        )
        columns: dict[str, dict[pd.Timestamp, float]] = {}
        with translated(what, endpoint=BARS):
            for symbol in symbols:
                for bar in barset.data.get(symbol, []):  # type: ignore[union-attr]
                    day = _moment(bar.timestamp, "t").astimezone(NEW_YORK).date()
                    columns.setdefault(symbol, {})[pd.Timestamp(day)] = read(bar.close, "c")
        frame = pd.DataFrame(columns)
        frame.index = pd.DatetimeIndex(frame.index)
        return frame.sort_index()

    def _latest(self, symbols: list[str]) -> dict[str, float]:
        request = StockLatestTradeRequest(symbol_or_symbols=symbols, feed=self._feed)
        what = "load latest trades"
        trades = with_retries(
            what,
            lambda: self._client.get_stock_latest_trade(request),
            self._retry,
            endpoint=LATEST_TRADES,
        )
        with translated(what, endpoint=LATEST_TRADES):
            prices = {s: _price(t.price, "p") for s, t in trades.items()}
            self.latest_trade_times = {s: _moment(t.timestamp, "t") for s, t in trades.items()}
        return prices


class AlpacaCalendar:
    """Alpaca's market calendar (it knows ad-hoc closures); cached per requested range."""

    def __init__(self, client: TradingClient, retry: RetryPolicy | None = None) -> None:
        self._client = client
        self._retry = retry or RetryPolicy()
        self._fetch = lru_cache(maxsize=64)(self._fetch_uncached)
        self._closes: dict[date, datetime] = {}

    def sessions(self, start: date, end: date) -> tuple[date, ...]:
        """Trading days from ``start`` to ``end`` inclusive."""
        days = self._fetch(start, end)
        self._closes.update(days)
        return tuple(day for day, _ in days)

    def session_close(self, day: date) -> datetime:
        """The close of ``day`` in UTC (13:00 New York on early-close days)."""
        if day in self._closes:
            return self._closes[day]
        for session, close in self._fetch(day, day):
            if session == day:
                return close
        msg = f"{day} is not a trading day on Alpaca's calendar"
        raise ValueError(msg)

    def _fetch_uncached(self, start: date, end: date) -> tuple[tuple[date, datetime], ...]:
        request = GetCalendarRequest(start=start, end=end)
        what = "read the market calendar"
        days = with_retries(
            what, lambda: self._client.get_calendar(request), self._retry, endpoint=CALENDAR
        )
        with translated(what, endpoint=CALENDAR):
            return tuple(
                (d.date, d.close.replace(tzinfo=NEW_YORK).astimezone(UTC))  # type: ignore[union-attr]
                for d in days
            )
