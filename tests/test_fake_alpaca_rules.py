"""The fake Alpaca's strict rules (ALPACA.md §6, §7, §10), driven through the real TradingClient.

Every number below is computed by hand in the test's docstring or comments: the market-buy collar
(2.5% above the price, 4% under $50; a short at 3% above), the account kinds (margin, cash, IRA,
and a margin account under $2,000), buying power held by open orders and released only by fills,
the opposite-order and held-quantity rules, the lifetime of a ``client_order_id``, a queued short
that lost its borrow, and recent SIP bars on the free data plan.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import pytest
from alpaca.common.exceptions import APIError
from alpaca.data.enums import DataFeed
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.models.bars import BarSet
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, OrderStatus, PositionIntent, TimeInForce
from alpaca.trading.models import (
    AccountConfiguration,
    ClosePositionResponse,
    FailedClosePositionDetails,
    Order,
    TradeAccount,
)
from alpaca.trading.requests import LimitOrderRequest, MarketOrderRequest

from tests.fake_alpaca import AccountKind, FakeAlpaca

NEW_YORK = ZoneInfo("America/New_York")
KEY, SECRET = "test-key", "test-secret"
PRICES = {"SSO": "100", "UPRO": "50", "TMF": "40"}
BUYING_POWER = "insufficient buying power"
NO_SHORTS = "account is not allowed to short"
WASH = "potential wash trade detected. use complex orders"


class Open(Protocol):
    """Start a fake with these ``FakeAlpaca`` arguments and a TradingClient pointed at it."""

    def __call__(
        self, *, cash: str = "100000", account_kind: AccountKind = "margin"
    ) -> tuple[FakeAlpaca, TradingClient]: ...


@pytest.fixture
def open_fake() -> Iterator[Open]:
    """Fakes with SSO at $100, UPRO at $50 and TMF at $40; stopped (and checked) afterwards."""
    started: list[tuple[FakeAlpaca, TradingClient]] = []

    def open_(
        *, cash: str = "100000", account_kind: AccountKind = "margin"
    ) -> tuple[FakeAlpaca, TradingClient]:
        fake = FakeAlpaca(cash=Decimal(cash), account_kind=account_kind, key=KEY, secret=SECRET)
        fake.start()
        for symbol, price in PRICES.items():
            fake.add_asset(symbol)
            fake.set_price(symbol, Decimal(price))
        client = TradingClient(KEY, SECRET, paper=True, url_override=fake.url)
        client._session.trust_env = False  # no HTTP(S)_PROXY for loopback
        client._retry_wait = 0
        started.append((fake, client))
        return fake, client

    yield open_
    for fake, client in started:
        client._session.close()
        fake.stop()
        assert fake.errors == []


@pytest.fixture
def margin(open_fake: Open) -> tuple[FakeAlpaca, TradingClient]:
    """A margin account: cash $100,000, multiplier 2, buying power $200,000."""
    return open_fake()


@pytest.fixture
def cash_account(open_fake: Open) -> tuple[FakeAlpaca, TradingClient]:
    """A cash account: cash $100,000, buying power $100,000."""
    return open_fake(account_kind="cash")


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


def _limit(symbol: str, side: OrderSide, cid: str, qty: float, price: float) -> LimitOrderRequest:
    return LimitOrderRequest(
        symbol=symbol,
        side=side,
        qty=qty,
        limit_price=price,
        time_in_force=TimeInForce.DAY,
        client_order_id=cid,
    )


def _submit(client: TradingClient, request: MarketOrderRequest | LimitOrderRequest) -> Order:
    order = client.submit_order(request)
    assert isinstance(order, Order)
    return order


def _buy(client: TradingClient, symbol: str, qty: float, cid: str) -> Order:
    return _submit(client, _market(symbol, OrderSide.BUY, cid, qty=qty))


def _sell(client: TradingClient, symbol: str, qty: float, cid: str) -> Order:
    return _submit(client, _market(symbol, OrderSide.SELL, cid, qty=qty))


def _account(client: TradingClient) -> TradeAccount:
    account = client.get_account()
    assert isinstance(account, TradeAccount)
    return account


def _configurations(client: TradingClient) -> AccountConfiguration:
    config = client.get_account_configurations()
    assert isinstance(config, AccountConfiguration)
    return config


def _refusal(call: Callable[[], object]) -> tuple[int | None, dict[str, Any]]:
    """The HTTP status and the full JSON body of the APIError ``call`` raises."""
    with pytest.raises(APIError) as info:
        call()
    body: dict[str, Any] = json.loads(str(info.value))
    return info.value.status_code, body


def _no_buying_power(buying_power: str, cost_basis: str) -> tuple[int, dict[str, Any]]:
    return 403, {
        "code": 40310000,
        "message": BUYING_POWER,
        "buying_power": buying_power,
        "cost_basis": cost_basis,
    }


def _forbidden(message: str) -> tuple[int, dict[str, Any]]:
    return 403, {"code": 40310000, "message": message}


# ------------------------------------------------------------------ the market-buy collar


def test_a_market_buy_is_valued_2_5_percent_above_the_price(
    cash_account: tuple[FakeAlpaca, TradingClient],
) -> None:
    """1000 × $99 = $99,000 fits $100,000 of cash, but 1000 × $99 × 1.025 = $101,475 does not.

    975 × $99 × 1.025 = $98,938.125 fits.
    """
    fake, trading = cash_account
    fake.set_price("SSO", Decimal("99.00"))

    refused = _refusal(lambda: _buy(trading, "SSO", 1000, "c-collar-1"))
    filled = _buy(trading, "SSO", 975, "c-collar-2")

    assert refused == _no_buying_power("100000", "101475")
    assert (filled.status, filled.filled_qty, filled.filled_avg_price) == (
        OrderStatus.FILLED,
        "975",
        "99",
    )
    assert _account(trading).cash == "3475"  # 100,000 − 975 × 99: fills are at the price


def test_a_market_buy_under_50_dollars_is_valued_4_percent_above(
    cash_account: tuple[FakeAlpaca, TradingClient],
) -> None:
    """TMF at $40: 2404 × $41.60 = $100,006.40 is refused (2.5% would be $98,564, which fits);
    2403 × $41.60 = $99,964.80 fits."""
    _fake, trading = cash_account

    refused = _refusal(lambda: _buy(trading, "TMF", 2404, "c-low-1"))
    filled = _buy(trading, "TMF", 2403, "c-low-2")

    assert refused == _no_buying_power("100000", "100006.4")
    assert filled.status == OrderStatus.FILLED
    assert _account(trading).cash == "3880"  # 100,000 − 2403 × 40


def test_at_exactly_50_dollars_the_collar_is_2_5_percent(
    cash_account: tuple[FakeAlpaca, TradingClient],
) -> None:
    """UPRO at $50: 1952 × $51.25 = $100,040 is refused; 1951 × $51.25 = $99,988.75 fits (4%
    would be 1951 × $52 = $101,452, refused)."""
    _fake, trading = cash_account

    refused = _refusal(lambda: _buy(trading, "UPRO", 1952, "c-fifty-1"))

    assert refused == _no_buying_power("100000", "100040")
    assert _buy(trading, "UPRO", 1951, "c-fifty-2").status == OrderStatus.FILLED


def test_a_limit_buy_is_valued_at_its_limit_price(
    cash_account: tuple[FakeAlpaca, TradingClient],
) -> None:
    """1001 × $100 = $100,100 is refused; 1000 × $100 = $100,000 is exactly the buying power."""
    _fake, trading = cash_account

    refused = _refusal(lambda: _submit(trading, _limit("SSO", OrderSide.BUY, "c-lim-1", 1001, 100)))
    filled = _submit(trading, _limit("SSO", OrderSide.BUY, "c-lim-2", 1000, 100))

    assert refused == _no_buying_power("100000", "100100")
    assert filled.status == OrderStatus.FILLED
    assert _account(trading).cash == "0"


def test_a_notional_buy_is_valued_at_its_notional(
    cash_account: tuple[FakeAlpaca, TradingClient],
) -> None:
    """$100,000.01 is refused; $100,000 buys 1000 shares at $100, no collar."""
    _fake, trading = cash_account

    too_much = _market("SSO", OrderSide.BUY, "c-notional-1", notional=100000.01)
    refused = _refusal(lambda: _submit(trading, too_much))
    filled = _submit(trading, _market("SSO", OrderSide.BUY, "c-notional-2", notional=100000))

    assert refused == _no_buying_power("100000", "100000.01")
    assert (filled.status, filled.filled_qty) == (OrderStatus.FILLED, "1000")


def test_a_notional_collar_can_be_set_for_a_test(
    cash_account: tuple[FakeAlpaca, TradingClient],
) -> None:
    """With a 2% collar on notional buys: $98,039.22 × 1.02 = $100,000.0044 is refused,
    $98,039.21 × 1.02 = $99,999.9942 fits."""
    fake, trading = cash_account
    fake.notional_collar_rate = Decimal("0.02")

    too_much = _market("SSO", OrderSide.BUY, "c-ncollar-1", notional=98039.22)
    refused = _refusal(lambda: _submit(trading, too_much))
    fits = _submit(trading, _market("SSO", OrderSide.BUY, "c-ncollar-2", notional=98039.21))

    assert refused == _no_buying_power("100000", "100000.0044")
    assert fits.status == OrderStatus.FILLED


def test_a_market_short_is_valued_3_percent_above_the_price(
    margin: tuple[FakeAlpaca, TradingClient],
) -> None:
    """Buying power $200,000: 1942 × $103 = $200,026 is refused (1942 × $100 would fit);
    1941 × $103 = $199,923 fits."""
    _fake, trading = margin

    refused = _refusal(lambda: _sell(trading, "SSO", 1942, "c-short-1"))
    short = _sell(trading, "SSO", 1941, "c-short-2")

    assert refused == _no_buying_power("200000", "200026")
    assert (short.status, short.position_intent) == (
        OrderStatus.FILLED,
        PositionIntent.SELL_TO_OPEN,
    )


@pytest.mark.parametrize(
    ("qty", "limit", "cost"),
    [
        (1942, 101, "200026"),  # the collar wins: max($101, $103) × 1942
        (1900, 106, "201400"),  # the limit wins: max($106, $103) × 1900
    ],
)
def test_a_limit_short_is_valued_at_the_higher_of_its_limit_and_the_collar(
    margin: tuple[FakeAlpaca, TradingClient], qty: int, limit: int, cost: str
) -> None:
    _fake, trading = margin

    refused = _refusal(
        lambda: _submit(trading, _limit("SSO", OrderSide.SELL, "c-lshort-1", qty, limit))
    )

    assert refused == _no_buying_power("200000", cost)


def test_a_cover_is_a_market_buy_with_the_collar(margin: tuple[FakeAlpaca, TradingClient]) -> None:
    """Cash $20,000 and 100 SSO short at $100: equity $10,000, buying power 2 × 10,000 − 10,000 =
    $10,000. Covering 100 costs 100 × $102.50 = $10,250: refused. Without the collar: $10,000,
    which fits."""
    fake, trading = margin
    fake.cash = Decimal(20000)
    fake.set_position("SSO", Decimal(-100), Decimal(100))

    refused = _refusal(lambda: _buy(trading, "SSO", 100, "c-cover-1"))
    fake.collar = False
    cover = _buy(trading, "SSO", 100, "c-cover-2")

    assert _account(trading).buying_power == "20000"  # flat again: 2 × 10,000
    assert refused == _no_buying_power("10000", "10250")
    assert (cover.status, cover.position_intent) == (
        OrderStatus.FILLED,
        PositionIntent.BUY_TO_CLOSE,
    )


def test_without_the_collar_a_market_buy_is_valued_at_the_price(
    cash_account: tuple[FakeAlpaca, TradingClient],
) -> None:
    """1000 × $99 = $99,000 fits $100,000 once ``collar`` is off."""
    fake, trading = cash_account
    fake.set_price("SSO", Decimal("99.00"))
    fake.collar = False

    assert _buy(trading, "SSO", 1000, "c-nocollar-1").status == OrderStatus.FILLED


def test_open_buys_hold_their_collared_cost_until_filled_or_canceled(
    cash_account: tuple[FakeAlpaca, TradingClient],
) -> None:
    """An open buy of 500 SSO holds 500 × $102.50 = $51,250, leaving $48,750; 476 more would cost
    $48,790. Canceling gives it all back; a fill spends 500 × $100 = $50,000."""
    fake, trading = cash_account
    fake.fill_policy = "never"
    first = _buy(trading, "SSO", 500, "c-hold-1")

    held = _account(trading).buying_power
    refused = _refusal(lambda: _buy(trading, "SSO", 476, "c-hold-2"))
    trading.cancel_order_by_id(first.id)
    after_cancel = _account(trading).buying_power
    _buy(trading, "SSO", 500, "c-hold-3")
    fake.fill_open_orders()

    assert (first.status, held) == (OrderStatus.NEW, "48750")
    assert refused == _no_buying_power("48750", "48790")
    assert after_cancel == "100000"
    assert (_account(trading).cash, _account(trading).buying_power) == ("50000", "50000")


def test_sells_release_buying_power_only_when_filled(open_fake: Open) -> None:
    """A cash account with $0 and 100 SSO: the open sell frees nothing, so 1 UPRO ($51.25) is
    refused; once the sell fills at $100 the cash is $10,000 and the buy leaves $9,948.75."""
    fake, trading = open_fake(cash="0", account_kind="cash")
    fake.fill_policy = "never"
    fake.set_position("SSO", Decimal(100), Decimal(100))
    _sell(trading, "SSO", 100, "c-release-sell")

    refused = _refusal(lambda: _buy(trading, "UPRO", 1, "c-release-1"))
    fake.fill_open_orders()
    later = _buy(trading, "UPRO", 1, "c-release-2")

    assert refused == _no_buying_power("0", "51.25")
    assert later.status == OrderStatus.NEW
    assert _account(trading).buying_power == "9948.75"


# --------------------------------------------------------------------------- account kinds


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        # multiplier, buying_power, shorting_enabled; no_shorting, max_margin_multiplier
        ("margin", ("2", "200000", True, False, "2")),
        ("cash", ("1", "100000", False, True, "1")),
        ("ira", ("1", "100000", False, True, "1")),
    ],
)
def test_each_account_kind_reports_its_multiplier_and_shorting(
    open_fake: Open, kind: AccountKind, expected: tuple[str, str, bool, bool, str]
) -> None:
    _fake, trading = open_fake(account_kind=kind)

    account, config = _account(trading), _configurations(trading)

    assert (
        account.multiplier,
        account.buying_power,
        account.shorting_enabled,
        config.no_shorting,
        config.max_margin_multiplier,
    ) == expected
    assert (account.cash, account.equity, account.non_marginable_buying_power) == (
        "100000",
        "100000",
        "100000",
    )


@pytest.mark.parametrize("kind", ["cash", "ira"])
def test_cash_and_ira_accounts_refuse_shorts(open_fake: Open, kind: AccountKind) -> None:
    fake, trading = open_fake(account_kind=kind)

    refused = _refusal(lambda: _sell(trading, "SSO", 1, "c-noshort-1"))

    assert refused == _forbidden(NO_SHORTS)
    assert fake.orders == []


def test_a_cash_account_buys_with_cash_only(open_fake: Open) -> None:
    """Cash $1,000 and 10 SSO at $100: equity $2,000, buying power $1,000 (a margin account would
    have 2 × 2,000 − 1,000 = $3,000). An open buy of 5 UPRO holds 5 × $51.25 = $256.25."""
    fake, trading = open_fake(cash="1000", account_kind="cash")
    fake.set_position("SSO", Decimal(10), Decimal(100))
    before = _account(trading)
    fake.fill_policy = "never"

    _buy(trading, "UPRO", 5, "c-cash-1")

    assert (before.equity, before.buying_power, before.multiplier) == ("2000", "1000", "1")
    assert _account(trading).buying_power == "743.75"


def test_a_margin_account_under_2000_is_1x_and_cannot_short(open_fake: Open) -> None:
    """Equity $1,500: multiplier 1, buying power $1,500; 15 SSO cost 15 × $102.50 = $1,537.50."""
    _fake, trading = open_fake(cash="1500")

    account, config = _account(trading), _configurations(trading)
    no_room = _refusal(lambda: _buy(trading, "SSO", 15, "c-small-1"))
    no_short = _refusal(lambda: _sell(trading, "SSO", 1, "c-small-2"))

    assert (account.multiplier, account.buying_power, account.shorting_enabled) == (
        "1",
        "1500",
        False,
    )
    assert (config.no_shorting, config.max_margin_multiplier) == (False, "2")
    assert no_room == _no_buying_power("1500", "1537.5")
    assert no_short == _forbidden("account is not allowed to short: equity below $2,000")


@pytest.mark.parametrize(
    "arguments",
    [
        {"account_kind": "cash", "multiplier": Decimal(2)},
        {"account_kind": "ira", "shorting_enabled": True},
        {"account_kind": "joint"},
    ],
)
def test_an_impossible_account_is_refused_at_construction(arguments: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="account"):
        FakeAlpaca(**arguments)


# ---------------------------------------------------------------------- opposite orders


def test_a_buy_against_an_open_short_sell_is_403(margin: tuple[FakeAlpaca, TradingClient]) -> None:
    fake, trading = margin
    fake.fill_policy = "never"
    _sell(trading, "SSO", 5, "c-opp-short")

    refused = _refusal(lambda: _buy(trading, "SSO", 5, "c-opp-buy"))

    assert refused == _forbidden("cannot open a long buy while a short sell order is open")


@pytest.mark.parametrize(("held", "open_side"), [(10, OrderSide.SELL), (0, OrderSide.BUY)])
def test_an_order_opposite_an_open_order_is_a_wash_trade(
    margin: tuple[FakeAlpaca, TradingClient], held: int, open_side: OrderSide
) -> None:
    """A buy against an open sell of a long, and a sell against an open buy: both 403."""
    fake, trading = margin
    fake.fill_policy = "never"
    if held:
        fake.set_position("SSO", Decimal(held), Decimal(100))
    _submit(trading, _market("SSO", open_side, "c-wash-open", qty=1))
    other = OrderSide.BUY if open_side is OrderSide.SELL else OrderSide.SELL

    refused = _refusal(lambda: _submit(trading, _market("SSO", other, "c-wash-2", qty=1)))
    elsewhere = _submit(trading, _market("UPRO", other, "c-wash-3", qty=1))

    assert refused == _forbidden(WASH)
    assert elsewhere.status == OrderStatus.NEW  # another symbol is not a wash trade


def test_a_notional_order_while_a_closing_order_is_open_is_403(
    margin: tuple[FakeAlpaca, TradingClient],
) -> None:
    fake, trading = margin
    fake.fill_policy = "never"
    fake.set_position("SSO", Decimal(10), Decimal(100))
    _sell(trading, "SSO", 5, "c-mixed-1")

    notional = _market("SSO", OrderSide.SELL, "c-mixed-2", notional=100)
    refused = _refusal(lambda: _submit(trading, notional))

    message = "unable to open new notional orders while having open closing position orders"
    assert refused == _forbidden(message)


# ----------------------------------------------------------------------- held quantity


def test_close_position_while_sells_are_open_is_403_with_the_details(
    margin: tuple[FakeAlpaca, TradingClient],
) -> None:
    fake, trading = margin
    fake.fill_policy = "never"
    fake.set_position("SSO", Decimal(10), Decimal(100))
    open_sell = _sell(trading, "SSO", 6, "c-held-1")

    refused = _refusal(lambda: trading.close_position("SSO"))

    assert refused == (
        403,
        {
            "code": 40310000,
            "message": "insufficient qty available for order (requested: 10, available: 4)",
            "symbol": "SSO",
            "existing_qty": "10",
            "held_for_orders": "6",
            "available": "4",
            "related_orders": [str(open_sell.id)],
        },
    )


def test_a_cover_beyond_the_available_short_is_403(
    margin: tuple[FakeAlpaca, TradingClient],
) -> None:
    fake, trading = margin
    fake.fill_policy = "never"
    fake.set_position("SSO", Decimal(-10), Decimal(100))
    open_cover = _buy(trading, "SSO", 6, "c-cover-held-1")

    status, body = _refusal(lambda: _buy(trading, "SSO", 5, "c-cover-held-2"))

    assert status == 403
    assert body == {
        "code": 40310000,
        "message": "insufficient qty available for order (requested: 5, available: 4)",
        "symbol": "SSO",
        "existing_qty": "-10",
        "held_for_orders": "-6",
        "available": "4",
        "related_orders": [str(open_cover.id)],
    }


def test_close_all_reports_a_held_position_as_403_in_the_207(
    margin: tuple[FakeAlpaca, TradingClient],
) -> None:
    fake, trading = margin
    fake.fill_policy = "never"
    fake.set_position("SSO", Decimal(10), Decimal(100))
    fake.set_position("UPRO", Decimal(4), Decimal(50))
    _sell(trading, "SSO", 10, "c-all-1")

    results = trading.close_all_positions(cancel_orders=False)

    assert all(isinstance(r, ClosePositionResponse) for r in results)
    by_symbol = {r.symbol: r for r in results if isinstance(r, ClosePositionResponse)}
    held, free = by_symbol["SSO"], by_symbol["UPRO"]
    assert (held.status, free.status) == (403, 200)
    assert isinstance(held.body, FailedClosePositionDetails)
    assert (held.body.code, held.body.available, held.body.held_for_orders) == (40310000, 0, 10)
    assert isinstance(free.body, Order)


# --------------------------------------------------------------------- client order ids


def test_an_id_refused_at_post_is_taken_too(
    cash_account: tuple[FakeAlpaca, TradingClient],
) -> None:
    """A 403 or 422 at POST created no order, yet the id is spent: ALPACA.md §7, "any reuse,
    even of a canceled or rejected order's id, gives 422 40010001". A re-sized order needs the
    next journaled suffix; a fresh id goes through."""
    _fake, trading = cash_account

    no_money = _refusal(lambda: _buy(trading, "SSO", 1000, "c-free-1"))  # 1000 × $102.50
    no_asset = _refusal(lambda: _buy(trading, "NOPE", 1, "c-free-2"))

    assert no_money == _no_buying_power("100000", "102500")
    assert no_asset == (422, {"code": 42210000, "message": 'asset "NOPE" not found'})
    reused = (422, {"code": 40010001, "message": "client_order_id must be unique"})
    assert _refusal(lambda: _buy(trading, "SSO", 10, "c-free-1")) == reused
    assert _refusal(lambda: _buy(trading, "SSO", 10, "c-free-2")) == reused
    assert _buy(trading, "SSO", 10, "c-free-1-a2").status == OrderStatus.FILLED


@pytest.mark.parametrize("ending", ["canceled", "expired", "filled"])
def test_an_id_that_created_an_order_is_taken_forever(
    margin: tuple[FakeAlpaca, TradingClient], ending: str
) -> None:
    fake, trading = margin
    fake.fill_policy = "immediate" if ending == "filled" else "never"
    order = _buy(trading, "SSO", 1, "c-taken-1")
    if ending == "canceled":
        trading.cancel_order_by_id(order.id)
    elif ending == "expired":
        fake.set_clock(datetime(2026, 9, 21, 16, 1, tzinfo=NEW_YORK))
        fake.set_clock(datetime(2026, 9, 22, 10, 0, tzinfo=NEW_YORK))

    refused = _refusal(lambda: _buy(trading, "SSO", 1, "c-taken-1"))

    assert fake.orders[0].status == ending
    assert refused == (422, {"code": 40010001, "message": "client_order_id must be unique"})
    assert len(fake.orders) == 1


# ------------------------------------------------------------------ borrow and data plan


def test_a_queued_short_of_a_name_that_turned_hard_to_borrow_is_canceled_at_the_open(
    margin: tuple[FakeAlpaca, TradingClient],
) -> None:
    fake, trading = margin
    fake.set_clock(datetime(2026, 9, 21, 17, 0, tzinfo=NEW_YORK))
    short = _sell(trading, "SSO", 5, "c-htb-1")
    fake.add_asset("SSO", easy_to_borrow=False)

    fake.set_clock(datetime(2026, 9, 22, 9, 31, tzinfo=NEW_YORK))

    assert short.status == OrderStatus.ACCEPTED
    assert fake.orders[0].status == "canceled"
    assert (trading.get_all_positions(), fake.fills) == ([], [])


def _sip_bars(data: StockHistoricalDataClient, end: datetime, feed: DataFeed) -> BarSet:
    request = StockBarsRequest(
        symbol_or_symbols=["SSO"],
        timeframe=TimeFrame.Day,
        start=datetime(2026, 9, 1, tzinfo=NEW_YORK),
        end=end,
        feed=feed,
    )
    bars = data.get_stock_bars(request)
    assert isinstance(bars, BarSet)
    return bars


def test_recent_sip_bars_are_403_without_a_code_on_the_free_plan(
    margin: tuple[FakeAlpaca, TradingClient],
) -> None:
    """The fake's clock is 10:00: SIP bars up to 09:50 are refused, up to 09:44 served; IEX and a
    paid plan (``sip_delay = None``) are served up to now."""
    fake, _trading = margin
    fake.set_bars("SSO", {date(2026, 9, 17): 99.0, date(2026, 9, 18): 100.0})
    data = StockHistoricalDataClient(KEY, SECRET, url_override=fake.url)
    data._session.trust_env = False
    data._retry_wait = 0
    now = datetime(2026, 9, 21, 10, 0, tzinfo=NEW_YORK)

    with pytest.raises(APIError) as refused:
        _sip_bars(data, now - timedelta(minutes=10), DataFeed.SIP)
    old_enough = _sip_bars(data, now - timedelta(minutes=16), DataFeed.SIP)
    iex = _sip_bars(data, now, DataFeed.IEX)
    fake.sip_delay = None
    paid = _sip_bars(data, now, DataFeed.SIP)
    data._session.close()

    assert (refused.value.status_code, json.loads(str(refused.value))) == (
        403,
        {"message": "subscription does not permit querying recent SIP data"},
    )
    assert [len(b.data["SSO"]) for b in (old_enough, iex, paid)] == [2, 2, 2]
