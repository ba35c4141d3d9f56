"""Market data endpoints: daily bars with paging (ALPACA.md §5.7) and latest trades.

Bars are flattened to one list ordered by symbol then time (time descending with
``sort=desc``), and cut into pages of ``min(limit, max_page_size)`` items counted across all
symbols. The page token is an opaque offset into that list; the last page has
``next_page_token: null``.

The account is on the free plan by default (ALPACA.md §7, IEX vs SIP): bars with ``feed=sip``
whose ``end`` (default: now) is later than ``now − sip_delay`` (15 minutes) are refused with 403
``{"message":"subscription does not permit querying recent SIP data"}``, without a code. Set
``sip_delay = None`` for a paid plan. Latest trades are not checked (ALPACA.md documents the rule
for history only).
"""

from __future__ import annotations

import base64
from datetime import date, datetime, time

from .broker import FakeBroker
from .wire import NEW_YORK, JsonObject, bar_stamp, failure, parse_int, parse_time, stamp

FEEDS = frozenset({"iex", "sip", "delayed_sip", "otc", "boats", "overnight"})
DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000

Query = dict[str, str]
Item = tuple[str, JsonObject]


def bar_time(day: date) -> datetime:
    """Daily bars are stamped at midnight New York."""
    return datetime.combine(day, time(0), NEW_YORK)


def bar_json(day: date, close: float) -> JsonObject:
    """One daily bar (numbers, not strings; ``n`` and ``vw`` present)."""
    return {
        "t": bar_stamp(bar_time(day)),
        "o": close,
        "h": close,
        "l": close,
        "c": close,
        "v": 1000,
        "n": 10,
        "vw": close,
    }


def bars_page(broker: FakeBroker, query: Query) -> JsonObject:
    """``GET /v2/stocks/bars``: one page of the requested bars."""
    _check_query(query)
    _check_recent_sip(broker, query)
    items = _select(broker, query)
    size = _page_size(query, broker.max_page_size)
    offset = _decode(query.get("page_token"))
    page = items[offset : offset + size]
    more = offset + size < len(items)
    bars: dict[str, list[JsonObject]] = {}
    for symbol, bar in page:
        bars.setdefault(symbol, []).append(bar)
    return {"bars": bars, "next_page_token": _encode(offset + size) if more else None}


def _check_query(query: Query) -> None:
    timeframe = query.get("timeframe")
    if timeframe not in {"1Day", "1D"}:
        raise failure(422, 42210000, f"the fake serves timeframe=1Day only, got {timeframe}")
    feed = query.get("feed")
    if feed is not None and feed not in FEEDS:
        raise failure(400, 40010000, f"invalid feed: {feed}")
    if not _symbols(query):
        raise failure(400, 40010000, "symbols is required")


def _check_recent_sip(broker: FakeBroker, query: Query) -> None:
    if broker.sip_delay is None or query.get("feed") != "sip":
        return
    end = parse_time(query["end"], "end") if "end" in query else broker.now
    if end > broker.now - broker.sip_delay:
        raise failure(403, None, "subscription does not permit querying recent SIP data")


def _symbols(query: Query) -> list[str]:
    return [s for s in query.get("symbols", "").split(",") if s]


def _select(broker: FakeBroker, query: Query) -> list[Item]:
    start = parse_time(query["start"], "start") if "start" in query else _today(broker)
    end = parse_time(query["end"], "end") if "end" in query else broker.now
    descending = query.get("sort") == "desc"
    items: list[Item] = []
    for symbol in sorted(set(_symbols(query))):
        bars = broker.bars_of(symbol, query.get("adjustment", "raw"))  # splits (broker.split)
        days = [d for d in bars if start <= bar_time(d) <= end]
        for day in sorted(days, reverse=descending):
            items.append((symbol, bar_json(day, bars[day])))
    return items


def _today(broker: FakeBroker) -> datetime:
    """Alpaca's default ``start``: the beginning of the current (New York) day."""
    return bar_time(broker.now.astimezone(NEW_YORK).date())


def _page_size(query: Query, max_page_size: int | None) -> int:
    limit = parse_int(query.get("limit"), "limit", DEFAULT_LIMIT)
    if not 1 <= limit <= MAX_LIMIT:
        raise failure(422, 42210000, f"invalid limit: {limit}")
    return limit if max_page_size is None else min(limit, max_page_size)


def _encode(offset: int) -> str:
    return base64.urlsafe_b64encode(f"fake|{offset}".encode()).decode()


def _decode(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode().split("|")[1])
    except (ValueError, IndexError):
        raise failure(400, 40010000, f"invalid page_token: {token}") from None


def latest_trades(broker: FakeBroker, query: Query) -> JsonObject:
    """``GET /v2/stocks/trades/latest``: symbols without a price are absent."""
    feed = query.get("feed")
    if feed is not None and feed not in FEEDS:
        raise failure(400, 40010000, f"invalid feed: {feed}")
    trades: JsonObject = {}
    for number, symbol in enumerate(_symbols(query), start=1):
        price = broker.price_or_none(symbol)
        if price is not None:
            trades[symbol] = _trade_json(broker, float(price), number)
    return {"trades": trades}


def _trade_json(broker: FakeBroker, price: float, number: int) -> JsonObject:
    return {
        "t": stamp(broker.now),
        "p": price,
        "s": 100,
        "x": "V",
        "i": number,
        "c": ["@"],
        "z": "C",
    }
