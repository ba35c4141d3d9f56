"""The fake Alpaca server, exercised by the real alpaca-py clients over loopback HTTP.

Nothing in alpaca-py is mocked: the clients are pointed at ``FakeAlpaca.url``. Their 429/504 retry
wait is set to 0 and ``trust_env`` to False (no proxy on loopback), as ALPACA.md §2 prescribes. The
fake's clock defaults to Monday 2026-09-21 10:00 New York, so the market is open.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pydantic
import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.data.enums import Adjustment, DataFeed
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.models.bars import BarSet
from alpaca.data.requests import StockBarsRequest, StockLatestTradeRequest
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import (
    AccountStatus,
    AssetExchange,
    OrderClass,
    OrderSide,
    OrderStatus,
    PositionIntent,
    PositionSide,
    QueryOrderStatus,
    TimeInForce,
)
from alpaca.trading.models import (
    AccountConfiguration,
    Asset,
    Calendar,
    Clock,
    ClosePositionResponse,
    Order,
    Position,
    TradeAccount,
)
from alpaca.trading.requests import (
    CancelOrderResponse,
    ClosePositionRequest,
    GetCalendarRequest,
    GetOrdersRequest,
    MarketOrderRequest,
)

from bot.market.sessions import xnys_sessions
from tests.fake_alpaca import FakeAlpaca

NEW_YORK = ZoneInfo("America/New_York")
KEY, SECRET = "test-key", "test-secret"
SYMBOLS = ("UPRO", "SSO", "TMF")

Client = TradingClient | StockHistoricalDataClient


# --------------------------------------------------------------------------- fixtures


def _harden(client: Client) -> None:
    client._session.trust_env = False  # no HTTP(S)_PROXY for loopback
    client._retry_wait = 0  # alpaca-py still retries 429/504, without sleeping


@pytest.fixture
def fake() -> Iterator[FakeAlpaca]:
    """A started fake with three ETFs, a non-shortable BRKA and a hard-to-borrow HTB."""
    with FakeAlpaca() as server:
        for symbol, price in {"SSO": "100", "UPRO": "50", "TMF": "8", "HTB": "20"}.items():
            server.add_asset(symbol, easy_to_borrow=symbol != "HTB")
            server.set_price(symbol, Decimal(price))
        server.add_asset(
            "BRKA", shortable=False, easy_to_borrow=False, fractionable=False, exchange="NYSE"
        )
        server.set_price("BRKA", Decimal("600000"))
        yield server
        assert server.errors == []


@pytest.fixture
def trading(fake: FakeAlpaca) -> Iterator[TradingClient]:
    """The real TradingClient, pointed at the fake."""
    client = TradingClient(KEY, SECRET, paper=True, url_override=fake.url)
    _harden(client)
    yield client
    client._session.close()


@pytest.fixture
def data(fake: FakeAlpaca) -> Iterator[StockHistoricalDataClient]:
    """The real StockHistoricalDataClient, pointed at the same fake."""
    client = StockHistoricalDataClient(KEY, SECRET, url_override=fake.url)
    _harden(client)
    yield client
    client._session.close()


# ---------------------------------------------------------------------------- helpers


def _market(
    symbol: str,
    side: OrderSide,
    cid: str,
    *,
    qty: float | None = None,
    notional: float | None = None,
) -> MarketOrderRequest:
    return MarketOrderRequest(
        symbol=symbol,
        side=side,
        qty=qty,
        notional=notional,
        time_in_force=TimeInForce.DAY,
        client_order_id=cid,
    )


def _submit(client: TradingClient, request: MarketOrderRequest) -> Order:
    order = client.submit_order(request)
    assert isinstance(order, Order)
    return order


def _buy(client: TradingClient, symbol: str, qty: float, cid: str) -> Order:
    return _submit(client, _market(symbol, OrderSide.BUY, cid, qty=qty))


def _sell(client: TradingClient, symbol: str, qty: float, cid: str) -> Order:
    return _submit(client, _market(symbol, OrderSide.SELL, cid, qty=qty))


def _order(client: TradingClient, order_id: str) -> Order:
    order = client.get_order_by_id(order_id)
    assert isinstance(order, Order)
    return order


def _by_cid(client: TradingClient, cid: str) -> Order:
    order = client.get_order_by_client_id(cid)
    assert isinstance(order, Order)
    return order


def _account(client: TradingClient) -> TradeAccount:
    account = client.get_account()
    assert isinstance(account, TradeAccount)
    return account


def _position(client: TradingClient, symbol: str) -> Position:
    position = client.get_open_position(symbol)
    assert isinstance(position, Position)
    return position


def _api_error(call: Callable[[], object]) -> APIError:
    with pytest.raises(APIError) as info:
        call()
    return info.value


def _body(error: APIError) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(str(error))
    return body


def _rejection(error: APIError) -> tuple[int | None, int, str]:
    return error.status_code, error.code, error.message


# -------------------------------------------------------------- account, assets, time


def test_account_and_configurations_parse_into_models(trading: TradingClient) -> None:
    account = _account(trading)
    config = trading.get_account_configurations()

    assert (account.status, account.cash, account.equity) == (
        AccountStatus.ACTIVE,
        "100000",
        "100000",
    )
    assert (account.buying_power, account.multiplier, account.shorting_enabled) == (
        "200000",
        "2",
        True,
    )
    assert isinstance(config, AccountConfiguration)
    assert (config.no_shorting, config.max_margin_multiplier) == (False, "2")


def test_external_positions_parse_long_and_short(fake: FakeAlpaca, trading: TradingClient) -> None:
    assert trading.get_all_positions() == []
    fake.set_position("SSO", Decimal(10), Decimal(90))
    fake.set_position("UPRO", Decimal(-20), Decimal(55))

    positions = trading.get_all_positions()

    assert all(isinstance(p, Position) for p in positions)
    sso, upro = _position(trading, "SSO"), _position(trading, "UPRO")
    assert (sso.qty, sso.side, sso.market_value, sso.cost_basis, sso.unrealized_pl) == (
        "10",
        PositionSide.LONG,
        "1000",
        "900",
        "100",
    )
    assert (upro.qty, upro.qty_available, upro.side, upro.market_value) == (
        "-20",
        "-20",
        PositionSide.SHORT,
        "-1000",
    )
    assert _rejection(_api_error(lambda: trading.get_open_position("TMF"))) == (
        404,
        40410000,
        "position does not exist",
    )


def test_assets_parse_and_an_unknown_asset_is_404(trading: TradingClient) -> None:
    sso, brka = trading.get_asset("SSO"), trading.get_asset("BRKA")

    assert isinstance(sso, Asset)
    assert isinstance(brka, Asset)
    assert (sso.exchange, sso.shortable, sso.fractionable) == (AssetExchange.ARCA, True, True)
    assert (brka.exchange, brka.shortable, brka.easy_to_borrow) == (
        AssetExchange.NYSE,
        False,
        False,
    )
    assert _api_error(lambda: trading.get_asset("NOPE")).code == 40410000


def test_clock_follows_the_fake_clock(fake: FakeAlpaca, trading: TradingClient) -> None:
    open_clock = trading.get_clock()
    fake.set_clock(datetime(2026, 9, 19, 12, 0, tzinfo=NEW_YORK))  # a Saturday
    weekend_clock = trading.get_clock()

    assert isinstance(open_clock, Clock)
    assert isinstance(weekend_clock, Clock)
    assert open_clock.is_open
    assert open_clock.next_close == datetime(2026, 9, 21, 16, 0, tzinfo=NEW_YORK)
    assert not weekend_clock.is_open
    assert weekend_clock.next_open == datetime(2026, 9, 21, 9, 30, tzinfo=NEW_YORK)


def test_calendar_omits_holidays_and_shows_early_closes(trading: TradingClient) -> None:
    days = trading.get_calendar(
        GetCalendarRequest(start=date(2026, 11, 25), end=date(2026, 11, 30))
    )

    assert all(isinstance(d, Calendar) for d in days)
    rows = [(d.date, d.open.time(), d.close.time()) for d in days if isinstance(d, Calendar)]
    assert rows == [
        (date(2026, 11, 25), time(9, 30), time(16, 0)),
        (date(2026, 11, 27), time(9, 30), time(13, 0)),
        (date(2026, 11, 30), time(9, 30), time(16, 0)),
    ]


# --------------------------------------------------------------------------- orders


def test_market_buy_fills_and_the_position_appears(
    fake: FakeAlpaca, trading: TradingClient
) -> None:
    order = _buy(trading, "SSO", 10, "t-buy-1")

    assert (order.status, order.filled_qty, order.filled_avg_price) == (
        OrderStatus.FILLED,
        "10",
        "100",
    )
    assert (order.order_class, order.position_intent) == (
        OrderClass.SIMPLE,
        PositionIntent.BUY_TO_OPEN,
    )
    position = _position(trading, "SSO")
    assert (position.qty, position.avg_entry_price, position.side) == (
        "10",
        "100",
        PositionSide.LONG,
    )
    account = _account(trading)
    assert (account.cash, account.equity, account.buying_power) == ("99000", "100000", "199000")
    fake.set_price("SSO", Decimal(110))
    assert (_position(trading, "SSO").unrealized_pl, _account(trading).equity) == ("100", "100100")


def test_notional_buy_fills_a_fractional_quantity(trading: TradingClient) -> None:
    order = _submit(trading, _market("UPRO", OrderSide.BUY, "t-notional-1", notional=125.5))

    assert (order.notional, order.qty, order.filled_qty, order.status) == (
        "125.5",
        None,
        "2.51",
        OrderStatus.FILLED,
    )


def test_what_alpaca_py_sent_is_recorded(fake: FakeAlpaca, trading: TradingClient) -> None:
    _buy(trading, "SSO", 2, "t-rec-1")

    sent = fake.requests[-1]
    assert (sent.method, sent.path, sent.route) == ("POST", "/v2/orders", "POST /v2/orders")
    assert sent.body == {
        "symbol": "SSO",
        "qty": 2.0,
        "side": "buy",
        "type": "market",
        "time_in_force": "day",
        "client_order_id": "t-rec-1",
    }
    assert (sent.headers["APCA-API-KEY-ID"], sent.headers["APCA-API-SECRET-KEY"]) == (KEY, SECRET)


def test_a_client_order_id_is_unique_forever(fake: FakeAlpaca, trading: TradingClient) -> None:
    fake.fill_policy = "never"
    first = _buy(trading, "SSO", 1, "dup-1")
    trading.cancel_order_by_id(first.id)

    error = _api_error(lambda: _buy(trading, "SSO", 1, "dup-1"))

    assert _rejection(error) == (422, 40010001, "client_order_id must be unique")
    assert len(fake.orders) == 1


@pytest.mark.parametrize("amount", [{"qty": 1.5}, {"notional": 50.0}])
def test_a_fractional_short_is_422(trading: TradingClient, amount: dict[str, float]) -> None:
    request = _market("SSO", OrderSide.SELL, "t-fs-1", **amount)

    error = _api_error(lambda: trading.submit_order(request))

    assert _rejection(error) == (422, 42210000, "fractional orders are not allowed to short")


def test_a_whole_share_short_fills_as_a_short_position(trading: TradingClient) -> None:
    order = _sell(trading, "SSO", 10, "t-short-1")

    assert (order.status, order.position_intent) == (
        OrderStatus.FILLED,
        PositionIntent.SELL_TO_OPEN,
    )
    position = _position(trading, "SSO")
    assert (position.qty, position.side, position.market_value) == (
        "-10",
        PositionSide.SHORT,
        "-1000",
    )
    assert _account(trading).cash == "101000"


@pytest.mark.parametrize(
    ("symbol", "message"),
    [("BRKA", 'asset "BRKA" is not shortable'), ("HTB", 'asset "HTB" is not easy to borrow')],
)
def test_a_short_of_an_ineligible_asset_is_403(
    trading: TradingClient, symbol: str, message: str
) -> None:
    error = _api_error(lambda: _sell(trading, symbol, 1, "t-ineligible-1"))

    assert _rejection(error) == (403, 40310000, message)


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("shorting_enabled", False, "account is not allowed to short"),
        ("no_shorting", True, "account is not allowed to short"),
        ("cash", Decimal(1999), "account is not allowed to short: equity below $2,000"),
    ],
)
def test_a_short_needs_an_account_allowed_to_short(
    fake: FakeAlpaca, trading: TradingClient, setting: str, value: object, message: str
) -> None:
    setattr(fake, setting, value)

    error = _api_error(lambda: _sell(trading, "SSO", 1, "t-noshort-1"))

    assert _rejection(error) == (403, 40310000, message)
    assert _account(trading).shorting_enabled is (setting == "no_shorting")


def test_a_fractional_order_needs_a_fractionable_asset(trading: TradingClient) -> None:
    error = _api_error(lambda: _buy(trading, "BRKA", 0.5, "t-frac-1"))

    assert _rejection(error) == (422, 42210000, "requested asset is not fractionable")


def test_insufficient_buying_power_is_403(trading: TradingClient) -> None:
    """1952 × $100 = $195,200 would fit $200,000; with the 2.5% collar it costs $200,080."""
    error = _api_error(lambda: _buy(trading, "SSO", 1952, "t-bp-1"))

    assert _rejection(error) == (403, 40310000, "insufficient buying power")
    assert (_body(error)["buying_power"], _body(error)["cost_basis"]) == ("200000", "200080")


def test_sells_release_buying_power_only_when_filled(
    fake: FakeAlpaca, trading: TradingClient
) -> None:
    fake.cash, fake.multiplier, fake.fill_policy = Decimal(0), Decimal(1), "never"
    fake.set_position("SSO", Decimal(100), Decimal(100))
    _sell(trading, "SSO", 100, "t-release-sell")

    refused = _api_error(lambda: _buy(trading, "UPRO", 1, "t-release-buy-1"))
    fake.fill_open_orders()

    assert refused.code == 40310000
    assert _account(trading).buying_power == "10000"
    assert _buy(trading, "UPRO", 1, "t-release-buy-2").status == OrderStatus.NEW


def test_an_order_opposite_an_open_order_is_a_wash_trade(
    fake: FakeAlpaca, trading: TradingClient
) -> None:
    fake.fill_policy = "never"
    _buy(trading, "SSO", 5, "t-wash-buy")

    error = _api_error(lambda: _sell(trading, "SSO", 5, "t-wash-sell"))

    assert _rejection(error) == (403, 40310000, "potential wash trade detected. use complex orders")


def test_open_sells_hold_quantity(fake: FakeAlpaca, trading: TradingClient) -> None:
    fake.set_position("SSO", Decimal(10), Decimal(100))
    fake.fill_policy = "never"
    _sell(trading, "SSO", 6, "t-held-1")

    error = _api_error(lambda: _sell(trading, "SSO", 5, "t-held-2"))

    message = "insufficient qty available for order (requested: 5, available: 4)"
    assert _rejection(error) == (403, 40310000, message)
    assert (_body(error)["held_for_orders"], _position(trading, "SSO").qty_available) == ("6", "4")


def test_an_order_crossing_zero_is_refused(fake: FakeAlpaca, trading: TradingClient) -> None:
    fake.set_position("SSO", Decimal(10), Decimal(100))

    error = _api_error(lambda: _sell(trading, "SSO", 15, "t-cross-1"))

    message = "insufficient qty available for order (requested: 15, available: 10)"
    assert _rejection(error) == (403, 40310000, message)


def test_qty_and_notional_together_are_400(trading: TradingClient) -> None:
    body = {"symbol": "SSO", "qty": 1, "notional": 5, "side": "buy", "type": "market"}

    error = _api_error(lambda: trading.post("/orders", body | {"time_in_force": "day"}))

    assert error.status_code == 400


def test_an_unknown_client_order_id_is_404(trading: TradingClient) -> None:
    error = _api_error(lambda: trading.get_order_by_client_id("nope"))

    assert _rejection(error) == (404, 40410000, "order not found")


def test_cancel_is_204_then_the_order_is_canceled(fake: FakeAlpaca, trading: TradingClient) -> None:
    fake.fill_policy = "never"
    order = _buy(trading, "SSO", 1, "t-cancel-1")

    trading.cancel_order_by_id(order.id)

    assert (fake.requests[-1].route, fake.requests[-1].status) == ("DELETE /v2/orders/{id}", 204)
    assert _order(trading, str(order.id)).status == OrderStatus.CANCELED
    again = _api_error(lambda: trading.cancel_order_by_id(order.id))
    assert _rejection(again) == (422, 42210000, "order is not cancelable")


def test_cancel_all_answers_207_per_order(fake: FakeAlpaca, trading: TradingClient) -> None:
    fake.fill_policy = "never"
    ids = {_buy(trading, s, 1, f"t-cancel-all-{s}").id for s in SYMBOLS}

    results = trading.cancel_orders()

    assert all(isinstance(r, CancelOrderResponse) and r.status == 200 for r in results)
    assert {r.id for r in results if isinstance(r, CancelOrderResponse)} == ids


def test_orders_list_filters_by_status_and_symbol(fake: FakeAlpaca, trading: TradingClient) -> None:
    _buy(trading, "SSO", 1, "t-list-1")
    fake.fill_policy = "never"
    _buy(trading, "UPRO", 1, "t-list-2")
    _buy(trading, "TMF", 1, "t-list-3")

    def cids(**filters: Any) -> list[str]:
        found = trading.get_orders(GetOrdersRequest(**filters))
        return [o.client_order_id for o in found if isinstance(o, Order)]

    assert cids() == ["t-list-3", "t-list-2"]
    assert cids(status=QueryOrderStatus.CLOSED) == ["t-list-1"]
    assert cids(status=QueryOrderStatus.ALL, symbols=["SSO", "TMF"], direction="asc") == [
        "t-list-1",
        "t-list-3",
    ]


def test_close_position_and_close_all(fake: FakeAlpaca, trading: TradingClient) -> None:
    fake.set_position("SSO", Decimal(10), Decimal(100))
    fake.set_position("UPRO", Decimal(-4), Decimal(50))

    closing = trading.close_position("SSO", ClosePositionRequest(qty="4"))
    results = trading.close_all_positions(cancel_orders=True)

    assert isinstance(closing, Order)
    assert (closing.side, closing.qty, closing.position_intent) == (
        OrderSide.SELL,
        "4",
        PositionIntent.SELL_TO_CLOSE,
    )
    assert [r.status for r in results if isinstance(r, ClosePositionResponse)] == [200, 200]
    assert trading.get_all_positions() == []


def test_fill_activities_are_served_raw(trading: TradingClient) -> None:
    order = _buy(trading, "SSO", 3, "t-fills-1")

    fills = trading.get("/account/activities/FILL", {"date": "2026-09-21", "direction": "asc"})

    assert isinstance(fills, list)
    assert [(f["order_id"], f["qty"], f["price"], f["type"]) for f in fills] == [
        (str(order.id), "3", "100", "fill")
    ]


# ----------------------------------------------------------------------- fill policy


def test_an_order_outside_hours_waits_as_accepted(fake: FakeAlpaca, trading: TradingClient) -> None:
    fake.set_clock(datetime(2026, 9, 21, 17, 0, tzinfo=NEW_YORK))
    order = _buy(trading, "SSO", 1, "t-after-hours-1")

    fake.set_clock(datetime(2026, 9, 22, 9, 31, tzinfo=NEW_YORK))
    later = _order(trading, str(order.id))

    assert order.status == OrderStatus.ACCEPTED
    assert order.expires_at == datetime(2026, 9, 22, 16, 0, tzinfo=NEW_YORK)
    assert (later.status, later.filled_at) == (
        OrderStatus.FILLED,
        datetime(2026, 9, 22, 9, 31, tzinfo=NEW_YORK),
    )


def test_fill_open_orders_fills_whatever_the_clock(
    fake: FakeAlpaca, trading: TradingClient
) -> None:
    fake.set_clock(datetime(2026, 9, 19, 12, 0, tzinfo=NEW_YORK))
    order = _buy(trading, "SSO", 1, "t-force-1")

    fake.fill_open_orders()

    assert _order(trading, str(order.id)).status == OrderStatus.FILLED


def test_on_poll_fills_on_the_nth_poll(fake: FakeAlpaca, trading: TradingClient) -> None:
    fake.fill_policy, fake.fill_after_polls = "on_poll", 2
    order = _buy(trading, "SSO", 1, "t-poll-1")

    statuses = [_by_cid(trading, "t-poll-1").status for _ in range(2)]

    assert order.status == OrderStatus.NEW
    assert statuses == [OrderStatus.NEW, OrderStatus.FILLED]


def test_a_partial_fill_completes_on_the_next_poll(
    fake: FakeAlpaca, trading: TradingClient
) -> None:
    fake.partial_fill = {"SSO"}
    order = _buy(trading, "SSO", 10, "t-partial-1")

    half = _position(trading, "SSO").qty
    done = _order(trading, str(order.id))

    assert (order.status, order.filled_qty, half) == (OrderStatus.PARTIALLY_FILLED, "5", "5")
    assert (done.status, done.filled_qty, _position(trading, "SSO").qty) == (
        OrderStatus.FILLED,
        "10",
        "10",
    )


def test_an_unfilled_day_order_expires_at_the_close(
    fake: FakeAlpaca, trading: TradingClient
) -> None:
    fake.fill_policy = "never"
    order = _buy(trading, "SSO", 1, "t-expire-1")

    fake.set_clock(datetime(2026, 9, 21, 16, 1, tzinfo=NEW_YORK))

    assert _order(trading, str(order.id)).status == OrderStatus.EXPIRED


# ------------------------------------------------------------------------ market data


def _thirty_sessions(fake: FakeAlpaca) -> tuple[date, ...]:
    days = xnys_sessions(date(2026, 1, 1), date(2026, 3, 31))[:30]
    for offset, symbol in enumerate(SYMBOLS):
        fake.set_bars(symbol, {day: 10.0 * offset + i for i, day in enumerate(days)})
    return days


def _bars(client: StockHistoricalDataClient, limit: int | None = None) -> BarSet:
    request = StockBarsRequest(
        symbol_or_symbols=list(SYMBOLS),
        timeframe=TimeFrame.Day,
        start=datetime(2026, 1, 1, tzinfo=UTC),
        end=datetime(2026, 3, 1, tzinfo=UTC),
        limit=limit,
        adjustment=Adjustment.ALL,
        feed=DataFeed.IEX,
    )
    bars = client.get_stock_bars(request)
    assert isinstance(bars, BarSet)
    return bars


def _days(barset: BarSet) -> dict[str, list[date]]:
    return {
        s: [b.timestamp.astimezone(NEW_YORK).date() for b in bars]
        for s, bars in barset.data.items()
    }


def test_bars_without_a_limit_collect_every_page_once(
    fake: FakeAlpaca, data: StockHistoricalDataClient
) -> None:
    days = _thirty_sessions(fake)
    fake.max_page_size = 20

    barset = _bars(data)

    assert _days(barset) == {s: list(days) for s in SYMBOLS}
    assert barset.data["SSO"][-1].close == 39.0  # SSO: offset 10, 30th bar
    assert fake.count("GET /v2/stocks/bars") == 5  # 90 bars in pages of 20


def test_a_bar_limit_counts_bars_across_symbols(
    fake: FakeAlpaca, data: StockHistoricalDataClient
) -> None:
    days = _thirty_sessions(fake)
    fake.max_page_size = 20

    barset = _bars(data, limit=45)

    assert _days(barset) == {"SSO": list(days), "TMF": list(days[:15])}
    assert [r.query["limit"] for r in fake.requests] == ["45", "25", "5"]


def test_bars_for_symbols_without_data_are_absent(data: StockHistoricalDataClient) -> None:
    assert _bars(data).data == {}


def test_latest_trades_omit_symbols_without_a_price(data: StockHistoricalDataClient) -> None:
    trades = data.get_stock_latest_trade(
        StockLatestTradeRequest(symbol_or_symbols=["SSO", "NOPE"], feed=DataFeed.IEX)
    )

    assert isinstance(trades, dict)
    assert {s: t.price for s, t in trades.items()} == {"SSO": 100.0}


# ------------------------------------------------------------------------------ faults


def test_429_is_retried_by_alpaca_py_itself(fake: FakeAlpaca, trading: TradingClient) -> None:
    fake.inject("GET /v2/account", "429", times=2)

    assert _account(trading).cash == "100000"
    assert [r.status for r in fake.requests] == [429, 429, 200]


def test_504_before_processing_is_retried_by_alpaca_py(
    fake: FakeAlpaca, trading: TradingClient
) -> None:
    fake.inject("GET /v2/clock", "504_before")

    assert isinstance(trading.get_clock(), Clock)
    assert fake.count("GET /v2/clock") == 2


@pytest.mark.parametrize(("fault", "status"), [("500", 500), ("502", 502), ("503", 503)])
def test_5xx_other_than_504_raise_without_retry(
    fake: FakeAlpaca, trading: TradingClient, fault: Any, status: int
) -> None:
    fake.inject("GET /v2/positions", fault)

    error = _api_error(trading.get_all_positions)

    assert error.status_code == status
    assert fake.count("GET /v2/positions") == 1


def test_504_after_accept_makes_alpaca_py_repost_into_a_duplicate(
    fake: FakeAlpaca, trading: TradingClient
) -> None:
    fake.inject("POST /v2/orders", "504_after_accept")

    error = _api_error(lambda: _buy(trading, "SSO", 3, "t-504-1"))

    assert (error.status_code, error.code) == (422, 40010001)
    assert [r.status for r in fake.requests if r.route == "POST /v2/orders"] == [504, 422]
    assert [o.client_order_id for o in fake.orders] == ["t-504-1"]
    assert (_by_cid(trading, "t-504-1").status, _position(trading, "SSO").qty) == (
        OrderStatus.FILLED,
        "3",
    )


def test_hang_times_out_on_the_client_yet_the_order_exists(
    fake: FakeAlpaca, trading: TradingClient
) -> None:
    fake.hang_seconds = 1.0
    request = functools.partial(trading._session.request, timeout=(1, 0.3))
    trading._session.request = request  # type: ignore[method-assign]
    fake.inject("POST /v2/orders", "hang")

    with pytest.raises(requests.exceptions.ReadTimeout):
        _buy(trading, "SSO", 1, "t-hang-1")

    assert _by_cid(trading, "t-hang-1").status == OrderStatus.FILLED


def test_drop_closes_the_socket_after_the_order_is_created(
    fake: FakeAlpaca, trading: TradingClient
) -> None:
    fake.inject("POST /v2/orders", "drop")

    with pytest.raises(requests.exceptions.ConnectionError):
        _buy(trading, "SSO", 1, "t-drop-1")

    assert fake.order_by_client_id("t-drop-1") is not None


def test_an_html_502_is_an_api_error_whose_code_cannot_be_read(
    fake: FakeAlpaca, trading: TradingClient
) -> None:
    """``APIError.code`` parses the body on every access: an HTML body raises JSONDecodeError."""
    fake.inject("GET /v2/account", "html_502")

    error = _api_error(trading.get_account)

    assert error.status_code == 502
    assert "502 Bad Gateway" in str(error)
    with pytest.raises(json.JSONDecodeError):
        _ = error.code


@pytest.mark.parametrize(
    ("route", "call"),
    [
        ("GET /v2/account", lambda client: client.get_account()),
        ("GET /v2/positions", lambda client: client.get_all_positions()),
        ("POST /v2/orders", lambda client: _buy(client, "SSO", 3, "t-empty-1")),
    ],
)
def test_empty_json_is_a_200_that_alpaca_py_cannot_parse_and_nothing_happened(
    fake: FakeAlpaca, trading: TradingClient, route: str, call: Callable[[TradingClient], object]
) -> None:
    fake.inject(route, "empty_json")

    with pytest.raises(pydantic.ValidationError):
        call(trading)

    assert (fake.requests[-1].route, fake.requests[-1].status) == (route, 200)
    assert fake.orders == []


def test_accepted_empty_creates_and_fills_the_order_then_answers_empty(
    fake: FakeAlpaca, trading: TradingClient
) -> None:
    fake.inject("POST /v2/orders", "accepted_empty")

    with pytest.raises(pydantic.ValidationError):
        _buy(trading, "SSO", 3, "t-accepted-empty-1")

    assert fake.requests[-1].status == 200
    assert (_by_cid(trading, "t-accepted-empty-1").status, _position(trading, "SSO").qty) == (
        OrderStatus.FILLED,
        "3",
    )


def test_accepted_empty_on_a_cancel_cancels(fake: FakeAlpaca, trading: TradingClient) -> None:
    """A 200 ``{}`` instead of the 204: alpaca-py returns it without complaint."""
    fake.fill_policy = "never"
    order = _buy(trading, "SSO", 1, "t-accepted-empty-2")
    fake.inject("DELETE /v2/orders/{id}", "accepted_empty")

    trading.cancel_order_by_id(order.id)

    assert (fake.requests[-1].status, _order(trading, str(order.id)).status) == (
        200,
        OrderStatus.CANCELED,
    )


@pytest.fixture
def raw_clients(fake: FakeAlpaca) -> Iterator[tuple[TradingClient, StockHistoricalDataClient]]:
    """alpaca-py with ``raw_data=True``: the JSON as the client received it, no models."""
    trading = TradingClient(KEY, SECRET, paper=True, raw_data=True, url_override=fake.url)
    data = StockHistoricalDataClient(KEY, SECRET, raw_data=True, url_override=fake.url)
    for client in (trading, data):
        _harden(client)
    yield trading, data
    for client in (trading, data):
        client._session.close()


RawCall = Callable[[TradingClient, StockHistoricalDataClient, str], Any]
SEPTEMBER = GetCalendarRequest(start=date(2026, 9, 21), end=date(2026, 9, 22))
LATEST_SSO = StockLatestTradeRequest(symbol_or_symbols=["SSO"], feed=DataFeed.IEX)
BARS_SSO = StockBarsRequest(
    symbol_or_symbols=["SSO"],
    timeframe=TimeFrame.Day,
    start=datetime(2026, 9, 1, tzinfo=UTC),
    end=datetime(2026, 9, 19, tzinfo=UTC),
    feed=DataFeed.IEX,
)
NAN = "not-a-number"
BAD_FIELDS: list[tuple[str, RawCall, Callable[[Any], Any], str]] = [
    ("GET /v2/account", lambda t, d, i: t.get_account(), lambda r: r["equity"], NAN),
    (
        "GET /v2/account/configurations",
        lambda t, d, i: t.get_account_configurations(),
        lambda r: r["max_margin_multiplier"],
        NAN,
    ),
    (
        "GET /v2/account/activities/FILL",
        lambda t, d, i: t.get("/account/activities/FILL"),
        lambda r: r[0]["qty"],
        NAN,
    ),
    ("GET /v2/positions", lambda t, d, i: t.get_all_positions(), lambda r: r[0]["qty"], NAN),
    (
        "GET /v2/positions/{symbol}",
        lambda t, d, i: t.get_open_position("TMF"),
        lambda r: r["qty"],
        NAN,
    ),
    (
        "DELETE /v2/positions",
        lambda t, d, i: t.close_all_positions(cancel_orders=True),
        lambda r: r[0]["status"],
        "ok",
    ),
    (
        "DELETE /v2/positions/{symbol}",
        lambda t, d, i: t.close_position("TMF"),
        lambda r: r["filled_qty"],
        NAN,
    ),
    (
        "GET /v2/assets/{symbol}",
        lambda t, d, i: t.get_asset("SSO"),
        lambda r: r["fractionable"],
        "maybe",
    ),
    ("GET /v2/clock", lambda t, d, i: t.get_clock(), lambda r: r["next_open"], "not-a-time"),
    (
        "GET /v2/calendar",
        lambda t, d, i: t.get_calendar(SEPTEMBER),
        lambda r: r[0]["open"],
        "9:30am",
    ),
    (
        "POST /v2/orders",
        lambda t, d, i: t.submit_order(_market("SSO", OrderSide.BUY, "t-bad-2", qty=1)),
        lambda r: r["filled_qty"],
        NAN,
    ),
    ("GET /v2/orders", lambda t, d, i: t.get_orders(), lambda r: r[0]["filled_qty"], NAN),
    (
        "GET /v2/orders:by_client_order_id",
        lambda t, d, i: t.get_order_by_client_id("t-bad-open"),
        lambda r: r["filled_qty"],
        NAN,
    ),
    (
        "GET /v2/orders/{id}",
        lambda t, d, i: t.get_order_by_id(i),
        lambda r: r["filled_qty"],
        NAN,
    ),
    ("DELETE /v2/orders", lambda t, d, i: t.cancel_orders(), lambda r: r[0]["status"], "ok"),
    (
        "GET /v2/stocks/bars",
        lambda t, d, i: d.get_stock_bars(BARS_SSO),
        lambda r: r["SSO"][0]["c"],
        "abc",
    ),
    (
        "GET /v2/stocks/trades/latest",
        lambda t, d, i: d.get_stock_latest_trade(LATEST_SSO),
        lambda r: r["SSO"]["p"],
        "abc",
    ),
]


@pytest.mark.parametrize(
    ("route", "case"), [(r, (c, p, b)) for r, c, p, b in BAD_FIELDS], ids=[c[0] for c in BAD_FIELDS]
)
def test_bad_json_fields_keeps_the_shape_and_spoils_the_documented_field(
    fake: FakeAlpaca,
    raw_clients: tuple[TradingClient, StockHistoricalDataClient],
    route: str,
    case: tuple[RawCall, Callable[[Any], Any], str],
) -> None:
    """Setup: a filled buy of 2 TMF (a fill, a position) and an open buy of 1 UPRO."""
    call, pick, bad = case
    trading, data = raw_clients
    fake.set_bars("SSO", {date(2026, 9, 17): 99.0, date(2026, 9, 18): 100.0})
    trading.submit_order(_market("TMF", OrderSide.BUY, "t-bad-filled", qty=2))
    fake.fill_policy = "never"
    opened = trading.submit_order(_market("UPRO", OrderSide.BUY, "t-bad-open", qty=1))
    assert isinstance(opened, dict)
    before = fake.count(route)
    fake.inject(route, "bad_json_fields")

    assert pick(call(trading, data, str(opened["id"]))) == bad
    last = fake.requests[-1]
    assert (last.route, last.status in {200, 207}) == (route, True)
    assert fake.count(route) == before + 1  # a 2xx: alpaca-py did not retry


def test_bad_json_fields_are_parsed_or_refused_by_alpaca_py(
    fake: FakeAlpaca, trading: TradingClient, data: StockHistoricalDataClient
) -> None:
    """A numeric string field passes alpaca-py (the bot must check it); a bar close does not."""
    fake.set_bars("SSO", {date(2026, 9, 18): 100.0})
    fake.inject("GET /v2/account", "bad_json_fields")
    fake.inject("POST /v2/orders", "bad_json_fields")
    fake.inject("GET /v2/stocks/bars", "bad_json_fields")

    equity = _account(trading).equity
    order = _buy(trading, "SSO", 2, "t-bad-3")
    with pytest.raises(pydantic.ValidationError):
        data.get_stock_bars(BARS_SSO)

    assert (equity, order.filled_qty, order.status) == (NAN, NAN, OrderStatus.FILLED)
    assert _position(trading, "SSO").qty == "2"  # the order really filled


def test_bad_json_fields_leaves_an_error_answer_alone(
    fake: FakeAlpaca, trading: TradingClient
) -> None:
    fake.inject("POST /v2/orders", "bad_json_fields", times=2)

    error = _api_error(lambda: _buy(trading, "BRKA", 0.5, "t-bad-4"))

    assert _rejection(error) == (422, 42210000, "requested asset is not fractionable")
    with pytest.raises(ValueError, match="no JSON body"):
        fake.inject("DELETE /v2/orders/{id}", "bad_json_fields")


def test_an_ok_fault_lets_one_request_through_untouched(
    fake: FakeAlpaca, trading: TradingClient
) -> None:
    """``ok`` aims a later fault at the n-th call; it also shields that call from ``"*"``."""
    fake.inject("GET /v2/account", "ok")
    fake.inject("GET /v2/account", "500")
    fake.inject("*", "502")

    first = _account(trading)
    second = _api_error(trading.get_account)
    third = _api_error(trading.get_clock)

    assert first.cash == "100000"
    assert (second.status_code, third.status_code) == (500, 502)
    assert [r.status for r in fake.requests] == [200, 500, 502]


def test_a_wrong_key_is_401_without_a_code(fake: FakeAlpaca) -> None:
    client = TradingClient(KEY, "wrong-secret", paper=True, url_override=fake.url)
    _harden(client)

    error = _api_error(client.get_account)

    assert (error.status_code, error.message) == (401, "unauthorized.")
    with pytest.raises(KeyError):
        _ = error.code
    client._session.close()


def test_an_unknown_route_is_404(trading: TradingClient) -> None:
    error = _api_error(lambda: trading.get("/nope"))

    assert _rejection(error) == (404, 40410000, "not found")


def test_the_private_client_attributes_we_rely_on_exist(trading: TradingClient) -> None:
    """Canary for alpaca-py upgrades: the hardening recipe sets these private attributes."""
    assert isinstance(trading._session, requests.Session)
    assert (trading._retry, trading._retry_codes) == (3, [429, 504])
