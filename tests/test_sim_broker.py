"""The simulated broker: fills at today's close, Alpaca's rejections, fees, account maths, book."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from bot.adapters.sim_broker import (
    LEGACY_FEES,
    NO_FEES,
    CloseTable,
    FeeSchedule,
    SimulatedBroker,
)
from bot.clock import SimulatedClock
from bot.domain import Leg, OrderReport, OrderRequest, OrderStatus, Side
from bot.errors import DuplicateOrderError, StateError

NEW_YORK = ZoneInfo("America/New_York")
MON, TUE, WED = date(2024, 3, 4), date(2024, 3, 5), date(2024, 3, 6)  # three NYSE sessions
THU = date(2024, 3, 7)  # a session that is not in the frames below


def frame(columns: dict[str, list[float]]) -> pd.DataFrame:
    """Closes on Mon 2024-03-04 .. Wed 2024-03-06, one list entry per session."""
    index = pd.DatetimeIndex([pd.Timestamp(d) for d in (MON, TUE, WED)])
    return pd.DataFrame(columns, index=index)


def clock_on(day: date) -> SimulatedClock:
    """A simulated clock at 15:45 New York time on ``day``."""
    return SimulatedClock(datetime.combine(day, time(15, 45), NEW_YORK))


def move(clock: SimulatedClock, day: date) -> None:
    """Advance the clock to 15:45 New York time on ``day``."""
    clock.sleep_until(datetime.combine(day, time(15, 45), NEW_YORK))


def broker_on(
    closes: pd.DataFrame,
    clock: SimulatedClock,
    cash: str = "10000",
    *,
    slippage_bps: str = "0",
    fees: FeeSchedule = NO_FEES,
    margin: str = "1",
    book_path: Path | None = None,
) -> SimulatedBroker:
    """A simulated broker over ``closes``; no slippage and no fees unless asked for."""
    return SimulatedBroker(
        CloseTable(closes, clock),
        Decimal(cash),
        slippage_bps=Decimal(slippage_bps),
        fees=fees,
        margin_multiplier=Decimal(margin),
        book_path=book_path,
    )


def order(cid: str, symbol: str, leg: Leg, qty: str) -> OrderRequest:
    """A market order request whose side is the leg's side."""
    return OrderRequest(cid, symbol, leg.side, Decimal(qty), leg)


# --- fills, slippage and fees -------------------------------------------------------------------


def test_buy_fills_at_close_plus_slippage_and_pays_qty_times_price() -> None:
    """A buy fills at today's close × (1 + slippage); cash falls by qty × fill price, no fees."""
    clock = clock_on(MON)
    broker = broker_on(frame({"AAA": [100.0, 100.0, 100.0]}), clock, "10000", slippage_bps="10")

    report = broker.submit(order("b1", "AAA", Leg.ADD_LONG, "3"))

    # 100.00 × (1 + 10/10,000) = 100.10; 3 × 100.10 = 300.30; 10,000 − 300.30 = 9,699.70
    assert report.status is OrderStatus.FILLED
    assert report.side is Side.BUY
    assert report.filled_qty == Decimal(3)
    assert report.filled_avg_price == Decimal("100.10")
    assert report.fees == Decimal(0)
    account = broker.account()
    assert account.cash == Decimal("9699.70")
    assert account.positions == {"AAA": Decimal(3)}


def test_buy_notional_is_rounded_to_the_cent() -> None:
    """The cash debited is qty × fill price rounded to the cent, the price keeps its decimals."""
    clock = clock_on(MON)
    broker = broker_on(frame({"AAA": [33.33, 33.33, 33.33]}), clock, "1000", slippage_bps="10")

    report = broker.submit(order("b1", "AAA", Leg.ADD_LONG, "7"))

    # 33.33 × 1.001 = 33.36333; 7 × 33.36333 = 233.54331 → $233.54; 1,000 − 233.54 = 766.46
    assert report.filled_avg_price == Decimal("33.36333")
    assert broker.account().cash == Decimal("766.46")


def test_fractional_buy_fills_the_exact_quantity() -> None:
    """A fractional buy (Alpaca allows them long) fills the quantity asked for."""
    clock = clock_on(MON)
    broker = broker_on(frame({"AAA": [100.0, 100.0, 100.0]}), clock, "1000", slippage_bps="10")

    report = broker.submit(order("b1", "AAA", Leg.ADD_LONG, "0.5"))

    # 0.5 × 100.10 = 50.05; 1,000 − 50.05 = 949.95
    assert report.filled_qty == Decimal("0.5")
    assert broker.account().cash == Decimal("949.95")
    assert broker.account().positions == {"AAA": Decimal("0.5")}


def test_sell_fills_at_close_minus_slippage_and_pays_sec_and_taf_rounded_up() -> None:
    """A sell fills at close × (1 − slippage) and pays SEC + TAF, each rounded UP to the cent.

    The numbers are chosen so that rounding to the nearest cent would give a different answer
    for both fees (SEC $0.27, TAF $0.01): only rounding up gives $0.28 and $0.02.
    """
    clock = clock_on(MON)
    broker = broker_on(
        frame({"AAA": [140.0, 140.0, 140.0]}),
        clock,
        "20000",
        slippage_bps="10",
        fees=FeeSchedule(),
    )
    broker.submit(order("b1", "AAA", Leg.ADD_LONG, "70"))

    report = broker.submit(order("s1", "AAA", Leg.REDUCE_LONG, "70"))

    # buy:  140 × 1.001 = 140.14; 70 × 140.14 = 9,809.80; cash 20,000 − 9,809.80 = 10,190.20
    # sell: 140 × 0.999 = 139.86; 70 × 139.86 = 9,790.20
    # SEC:  9,790.20 × 27.80 / 1,000,000 = 0.27216756 → up → 0.28 (nearest would be 0.27)
    # TAF:  70 × 0.000166 = 0.01162 → up → 0.02 (nearest would be 0.01)
    # cash: 10,190.20 + 9,790.20 − 0.30 = 19,980.10
    assert report.status is OrderStatus.FILLED
    assert report.side is Side.SELL
    assert report.filled_avg_price == Decimal("139.86")
    assert report.fees == Decimal("0.30")
    account = broker.account()
    assert account.cash == Decimal("19980.10")
    assert account.positions == {}


@pytest.mark.parametrize(
    ("fees", "expected"),
    [
        # SEC 100,000 × 27.80 / 1e6 = 2.78 exactly (no bump); TAF 100,000 × 0.000166 = 16.60
        # → capped at 8.30; total 2.78 + 8.30 = 11.08
        (FeeSchedule(), Decimal("11.08")),
        # legacy: SEC 100,000 × 5.10 / 1e6 = 0.51; TAF 100,000 × 0.000119 = 11.90 → cap 5.95;
        # total 0.51 + 5.95 = 6.46
        (LEGACY_FEES, Decimal("6.46")),
    ],
    ids=["current", "legacy"],
)
def test_taf_is_capped_per_order_on_a_large_sell(fees: FeeSchedule, expected: Decimal) -> None:
    """Selling 100,000 shares at $1: the TAF hits its per-order cap; an exact SEC is not bumped."""
    clock = clock_on(MON)
    broker = broker_on(frame({"AAA": [1.0, 1.0, 1.0]}), clock, "100000", fees=fees)
    broker.submit(order("b1", "AAA", Leg.ADD_LONG, "100000"))  # 100,000 × $1 = all the cash

    report = broker.submit(order("s1", "AAA", Leg.REDUCE_LONG, "100000"))

    assert report.fees == expected
    # cash: 0 + 100,000 − fees
    assert broker.account().cash == Decimal(100000) - expected


def test_legacy_fees_round_each_fee_up_on_a_small_sell() -> None:
    """LEGACY_FEES charge SEC $5.10/M and TAF $0.000119/share, each rounded up to the cent."""
    clock = clock_on(MON)
    broker = broker_on(frame({"AAA": [140.0, 140.0, 140.0]}), clock, "20000", fees=LEGACY_FEES)
    broker.submit(order("b1", "AAA", Leg.ADD_LONG, "70"))

    report = broker.submit(order("s1", "AAA", Leg.REDUCE_LONG, "70"))

    # notional 70 × 140 = 9,800.00; SEC 9,800 × 5.10 / 1e6 = 0.04998 → 0.05;
    # TAF 70 × 0.000119 = 0.00833 → 0.01; total 0.06
    assert report.fees == Decimal("0.06")
    # cash: 20,000 − 9,800 + 9,800 − 0.06 = 19,999.94
    assert broker.account().cash == Decimal("19999.94")


def test_buys_pay_no_regulatory_fees() -> None:
    """SEC and TAF apply to sells only: a buy with the current schedule has zero fees."""
    clock = clock_on(MON)
    broker = broker_on(frame({"AAA": [50.0, 50.0, 50.0]}), clock, "1000", fees=FeeSchedule())

    report = broker.submit(order("b1", "AAA", Leg.ADD_LONG, "10"))

    # 10 × 50 = 500; 1,000 − 500 = 500
    assert report.fees == Decimal(0)
    assert broker.account().cash == Decimal(500)


def test_fill_uses_the_new_york_date_of_the_clock() -> None:
    """At 01:00 UTC on Tuesday it is still Monday evening in New York: Monday's close is used."""
    closes = frame({"AAA": [100.0, 200.0, 300.0]})
    clock = SimulatedClock(datetime(2024, 3, 5, 1, 0, tzinfo=UTC))  # 20:00 EST on 2024-03-04
    broker = broker_on(closes, clock, "1000")

    report = broker.submit(order("b1", "AAA", Leg.ADD_LONG, "2"))

    # Monday's close 100; 2 × 100 = 200; 1,000 − 200 = 800
    assert report.filled_avg_price == Decimal(100)
    assert broker.account().cash == Decimal(800)


def test_short_then_cover_books_the_profit_and_closes_the_position() -> None:
    """ADD_SHORT 10 at $50 adds $500 cash and a −10 position; COVER_SHORT 10 at $40 removes it.

    The round trip leaves $100 more cash than at the start, and no zero-quantity position.
    """
    clock = clock_on(MON)
    broker = broker_on(frame({"BBB": [50.0, 40.0, 40.0]}), clock, "1000")

    short = broker.submit(order("s1", "BBB", Leg.ADD_SHORT, "10"))

    # 10 × 50 = 500; 1,000 + 500 = 1,500
    assert short.status is OrderStatus.FILLED
    assert short.side is Side.SELL
    assert broker.account().cash == Decimal(1500)
    assert broker.account().positions == {"BBB": Decimal(-10)}

    move(clock, TUE)
    cover = broker.submit(order("c1", "BBB", Leg.COVER_SHORT, "10"))

    # 10 × 40 = 400; 1,500 − 400 = 1,100 → profit 1,100 − 1,000 = 100
    assert cover.status is OrderStatus.FILLED
    assert cover.side is Side.BUY
    account = broker.account()
    assert account.positions == {}
    assert account.cash == Decimal(1100)
    assert account.equity == Decimal(1100)
    assert account.cash - Decimal(1000) == Decimal(100)


def test_a_short_sale_pays_sell_fees_and_its_cover_does_not() -> None:
    """A short is a sell, so it pays SEC and TAF; covering is a buy and pays none."""
    clock = clock_on(MON)
    broker = broker_on(frame({"BBB": [50.0, 40.0, 40.0]}), clock, "1000", fees=FeeSchedule())

    short = broker.submit(order("s1", "BBB", Leg.ADD_SHORT, "10"))
    move(clock, TUE)
    cover = broker.submit(order("c1", "BBB", Leg.COVER_SHORT, "10"))

    # short: 10 × 50 = 500; SEC 500 × 27.80 / 1e6 = 0.0139 → 0.02; TAF 10 × 0.000166 = 0.00166
    # → 0.01; fees 0.03 → cash 1,000 + 500 − 0.03 = 1,499.97
    # cover: 10 × 40 = 400, no fees → 1,499.97 − 400 = 1,099.97
    assert short.fees == Decimal("0.03")
    assert cover.fees == Decimal(0)
    assert broker.account().cash == Decimal("1099.97")


# --- rejections ---------------------------------------------------------------------------------


@pytest.fixture
def book() -> tuple[SimulatedBroker, SimulatedClock]:
    """A broker on Tuesday holding 10 AAA long and 10 BBB short, with CCC and NAN available.

    AAA $100, BBB $50, CCC $20 on both days; NAN has a close on Monday but NaN on Tuesday.
    No slippage, no fees. Monday: 10,000 cash − 10 × 100 (buy AAA) + 10 × 50 (short BBB)
    = 9,500 cash.
    """
    closes = frame(
        {
            "AAA": [100.0, 100.0, 100.0],
            "BBB": [50.0, 50.0, 50.0],
            "CCC": [20.0, 20.0, 20.0],
            "NAN": [30.0, np.nan, 30.0],
        }
    )
    clock = clock_on(MON)
    broker = broker_on(closes, clock, "10000")
    assert broker.submit(order("setup-a", "AAA", Leg.ADD_LONG, "10")).status is OrderStatus.FILLED
    assert broker.submit(order("setup-b", "BBB", Leg.ADD_SHORT, "10")).status is OrderStatus.FILLED
    move(clock, TUE)
    return broker, clock


@pytest.mark.parametrize(
    ("symbol", "leg", "qty", "reason"),
    [
        ("AAA", Leg.REDUCE_LONG, "15", "order would cross zero"),  # long 10, sell 15
        ("AAA", Leg.REDUCE_LONG, "10.000000001", "order would cross zero"),  # one nano-share over
        ("AAA", Leg.ADD_SHORT, "15", "order would cross zero"),  # long 10, sell 15
        ("BBB", Leg.COVER_SHORT, "15", "order would cross zero"),  # short 10, buy 15
        ("BBB", Leg.ADD_LONG, "15", "order would cross zero"),  # short 10, buy 15
        ("CCC", Leg.ADD_SHORT, "1.5", "fractional orders cannot be sold short"),  # flat
        ("BBB", Leg.ADD_SHORT, "0.5", "fractional orders cannot be sold short"),  # adds to short
        ("AAA", Leg.ADD_SHORT, "5", "cannot open a short while long"),  # long 10
        ("CCC", Leg.REDUCE_LONG, "5", "sell exceeds the long held"),  # flat
        ("BBB", Leg.REDUCE_LONG, "5", "sell exceeds the long held"),  # short, not long
        ("CCC", Leg.ADD_LONG, "0", "quantity must be positive"),
        ("CCC", Leg.ADD_LONG, "-1", "quantity must be positive"),
        # equity 9,500 + 10 × 100 − 10 × 50 = 10,000; gross 1,000 + 500 = 1,500;
        # buying power 10,000 × 1 − 1,500 = 8,500; 426 × 20 = 8,520 > 8,500
        ("CCC", Leg.ADD_LONG, "426", "insufficient buying power"),
        ("CCC", Leg.ADD_SHORT, "426", "insufficient buying power"),
        ("NAN", Leg.ADD_LONG, "1", "no price for NAN on 2024-03-05"),  # NaN today
        ("ZZZ", Leg.ADD_LONG, "1", "no price for ZZZ on 2024-03-05"),  # no such column
        ("CCC", Leg.COVER_SHORT, "1", "cover exceeds the short held"),  # flat
        ("AAA", Leg.COVER_SHORT, "1", "cover exceeds the short held"),  # long, not short
        ("BBB", Leg.ADD_LONG, "1", "cannot add to a long while short"),  # short 10
    ],
)
def test_rejected_orders_change_nothing(
    book: tuple[SimulatedBroker, SimulatedClock], symbol: str, leg: Leg, qty: str, reason: str
) -> None:
    """An order Alpaca would refuse is REJECTED with its reason; cash and positions are intact."""
    broker, _ = book
    before = broker.account()

    report = broker.submit(order("x1", symbol, leg, qty))

    assert report.status is OrderStatus.REJECTED
    assert report.reason == reason
    assert report.filled_qty == Decimal(0)
    assert report.filled_avg_price is None
    assert report.fees == Decimal(0)
    assert broker.account() == before
    assert broker.account().cash == Decimal(9500)
    assert broker.account().positions == {"AAA": Decimal(10), "BBB": Decimal(-10)}
    assert broker.get_order("x1") == report


def test_an_order_needing_exactly_the_buying_power_fills(
    book: tuple[SimulatedBroker, SimulatedClock],
) -> None:
    """Buying power is a ceiling, not a strict bound: an order costing exactly all of it fills."""
    broker, _ = book

    report = broker.submit(order("x1", "CCC", Leg.ADD_LONG, "425"))

    # buying power 8,500 (see the fixture); 425 × 20 = 8,500; cash 9,500 − 8,500 = 1,000
    assert report.status is OrderStatus.FILLED
    assert broker.account().cash == Decimal(1000)
    assert broker.account().buying_power == Decimal(0)


def test_buying_power_check_includes_slippage() -> None:
    """With margin 1 and $1,000 cash, 10 shares at $100 + 10 bps ($1,001) are refused, 9 fill."""
    clock = clock_on(MON)
    broker = broker_on(frame({"AAA": [100.0, 100.0, 100.0]}), clock, "1000", slippage_bps="10")

    refused = broker.submit(order("b1", "AAA", Leg.ADD_LONG, "10"))
    filled = broker.submit(order("b2", "AAA", Leg.ADD_LONG, "9"))

    # 10 × 100 × 1.001 = 1,001 > 1,000; 9 × 100.10 = 900.90 → cash 99.10
    assert refused.status is OrderStatus.REJECTED
    assert refused.reason == "insufficient buying power"
    assert filled.status is OrderStatus.FILLED
    assert broker.account().cash == Decimal("99.10")


@pytest.mark.parametrize(
    "day",
    [THU, date(2024, 3, 9)],  # the session after the frame ends; a Saturday
    ids=["after-frame", "weekend"],
)
def test_order_on_a_date_without_a_close_is_rejected(day: date) -> None:
    """A day with no row in the frame has no close to fill at, even if earlier closes exist."""
    clock = clock_on(MON)
    broker = broker_on(frame({"AAA": [100.0, 100.0, 100.0]}), clock, "1000")
    move(clock, day)

    report = broker.submit(order("b1", "AAA", Leg.ADD_LONG, "1"))

    assert report.status is OrderStatus.REJECTED
    assert report.reason == f"no price for AAA on {day.isoformat()}"
    assert broker.account().cash == Decimal(1000)
    assert broker.account().positions == {}


@pytest.mark.parametrize("close", [0.0, -5.0], ids=["zero", "negative"])
def test_order_at_a_non_positive_close_is_rejected(close: float) -> None:
    """A close of zero or below is not a usable price: the order is rejected."""
    clock = clock_on(MON)
    broker = broker_on(frame({"AAA": [close, close, close]}), clock, "1000")

    report = broker.submit(order("b1", "AAA", Leg.ADD_LONG, "1"))

    assert report.status is OrderStatus.REJECTED
    assert report.reason == "no price for AAA on 2024-03-04"
    assert broker.account().cash == Decimal(1000)


# --- client_order_id ----------------------------------------------------------------------------


def test_reusing_a_filled_client_order_id_raises_and_keeps_the_original() -> None:
    """A second submit with a used id raises DuplicateOrderError; nothing changes."""
    clock = clock_on(MON)
    broker = broker_on(frame({"AAA": [100.0, 100.0, 100.0]}), clock, "1000")
    original = broker.submit(order("b1", "AAA", Leg.ADD_LONG, "2"))

    with pytest.raises(DuplicateOrderError, match="b1"):
        broker.submit(order("b1", "AAA", Leg.ADD_LONG, "5"))

    # only the first order filled: 1,000 − 2 × 100 = 800
    assert broker.get_order("b1") == original
    assert broker.account().cash == Decimal(800)
    assert broker.account().positions == {"AAA": Decimal(2)}


def test_reusing_a_rejected_client_order_id_raises_and_keeps_the_rejection() -> None:
    """A rejected order's id is used too: resubmitting it raises, even if it would now fill."""
    clock = clock_on(MON)
    broker = broker_on(frame({"AAA": [100.0, 100.0, 100.0]}), clock, "1000")
    rejected = broker.submit(order("b1", "AAA", Leg.ADD_LONG, "20"))  # 20 × 100 > 1,000
    assert rejected.status is OrderStatus.REJECTED

    with pytest.raises(DuplicateOrderError):
        broker.submit(order("b1", "AAA", Leg.ADD_LONG, "2"))

    assert broker.get_order("b1") == rejected
    assert broker.account().cash == Decimal(1000)
    assert broker.account().positions == {}


def test_get_order_of_an_unknown_id_is_none() -> None:
    """An id never submitted is unknown to the broker."""
    clock = clock_on(MON)
    broker = broker_on(frame({"AAA": [100.0, 100.0, 100.0]}), clock, "1000")
    broker.submit(order("b1", "AAA", Leg.ADD_LONG, "1"))

    assert broker.get_order("b2") is None


# --- account ------------------------------------------------------------------------------------


def test_account_values_longs_and_shorts_at_the_latest_close_with_margin() -> None:
    """equity = cash + Σ qty × close (shorts negative); buying power = equity × margin − gross."""
    closes = frame({"AAA": [100.0, 110.0, 110.0], "BBB": [50.0, 40.0, 40.0]})
    clock = clock_on(MON)
    broker = broker_on(closes, clock, "10000", margin="2")
    broker.submit(order("b1", "AAA", Leg.ADD_LONG, "20"))  # 10,000 − 2,000 = 8,000
    broker.submit(order("s1", "BBB", Leg.ADD_SHORT, "30"))  # 8,000 + 1,500 = 9,500
    move(clock, TUE)

    account = broker.account()

    # equity = 9,500 + 20 × 110 − 30 × 40 = 9,500 + 2,200 − 1,200 = 10,500
    # gross = 2,200 + 1,200 = 3,400; buying power = 10,500 × 2 − 3,400 = 17,600
    assert account.cash == Decimal(9500)
    assert account.equity == Decimal(10500)
    assert account.buying_power == Decimal(17600)
    assert account.positions == {"AAA": Decimal(20), "BBB": Decimal(-30)}


def test_buying_power_never_goes_below_zero() -> None:
    """A short that has run against the account leaves zero buying power, not a negative one."""
    clock = clock_on(MON)
    broker = broker_on(frame({"BBB": [50.0, 120.0, 120.0]}), clock, "1000")
    broker.submit(order("s1", "BBB", Leg.ADD_SHORT, "10"))  # 1,000 + 500 = 1,500
    move(clock, TUE)

    account = broker.account()

    # equity = 1,500 − 10 × 120 = 300; 300 × 1 − 1,200 = −900 → 0
    assert account.equity == Decimal(300)
    assert account.buying_power == Decimal(0)


def test_account_marks_at_the_last_close_when_today_is_missing() -> None:
    """A position is valued at its last close on or before today when today's close is NaN."""
    closes = frame({"AAA": [100.0, 110.0, np.nan]})
    clock = clock_on(MON)
    broker = broker_on(closes, clock, "1000")
    broker.submit(order("b1", "AAA", Leg.ADD_LONG, "5"))  # 1,000 − 500 = 500
    move(clock, WED)

    # equity = 500 + 5 × 110 (Tuesday's close) = 1,050
    assert broker.account().equity == Decimal(1050)


def test_account_read_twice_is_revalued_when_the_clock_moves_or_the_book_changes() -> None:
    """The valuation kept between reads follows the clock, a fill and a charge: never stale."""
    closes = frame({"AAA": [100.0, 110.0, 120.0]})
    clock = clock_on(MON)
    broker = broker_on(closes, clock, "1000")
    assert broker.account().equity == Decimal(1000)
    broker.submit(order("b1", "AAA", Leg.ADD_LONG, "5"))  # 1,000 − 500 = 500 cash
    assert broker.account().equity == Decimal(1000)
    move(clock, TUE)
    assert broker.account().equity == Decimal(1050)  # 500 + 5 × 110
    broker.charge(Decimal(10), "interest")
    assert broker.account().equity == Decimal(1040)
    first = broker.account()
    first.positions["AAA"] = Decimal(99)  # a caller's copy: the book is not touched
    assert broker.account().positions == {"AAA": Decimal(5)}
    move(clock, WED)
    assert broker.account().equity == Decimal(1090)  # 490 + 5 × 120


def test_close_table_prices_follow_the_clock_each_read() -> None:
    """Prices kept for the clock's moment are looked up again once it reads another time."""
    clock = clock_on(MON)
    table = CloseTable(frame({"AAA": [100.0, np.nan, 120.0]}), clock)
    assert table.price("AAA", exact=True) == Decimal(100)
    assert table.price("ZZZ", exact=False) is None
    move(clock, TUE)
    assert table.price("AAA", exact=True) is None  # no close today
    assert table.price("AAA", exact=False) == Decimal(100)  # marked at Monday's
    move(clock, THU)
    assert table.price("AAA", exact=True) is None
    assert table.price("AAA", exact=False) == Decimal(120)
    early = CloseTable(frame({"AAA": [100.0, 110.0, 120.0]}), clock_on(date(2024, 3, 1)))
    assert early.price("AAA", exact=False) is None  # before the first row


def test_fresh_account_is_all_cash() -> None:
    """Before any order: equity and buying power (margin 1) equal the initial cash."""
    clock = clock_on(MON)
    broker = broker_on(frame({"AAA": [100.0, 100.0, 100.0]}), clock, "2500")

    account = broker.account()

    assert (account.cash, account.equity, account.buying_power) == (
        Decimal(2500),
        Decimal(2500),
        Decimal(2500),
    )
    assert account.positions == {}


# --- persistence --------------------------------------------------------------------------------


def test_book_survives_a_restart_and_ignores_the_new_initial_cash(tmp_path: Path) -> None:
    """A new broker on the same book file has the same cash, positions and orders.

    The initial_cash given to the second broker is ignored: the book is the truth. Used ids stay
    used across the restart.
    """
    closes = frame({"AAA": [100.0, 100.0, 100.0]})
    clock = clock_on(MON)
    path = tmp_path / "state" / "book.json"
    first = broker_on(closes, clock, "10000", fees=FeeSchedule(), book_path=path)
    bought = first.submit(order("b1", "AAA", Leg.ADD_LONG, "10"))
    sold = first.submit(order("s1", "AAA", Leg.REDUCE_LONG, "4"))
    rejected = first.submit(order("r1", "ZZZ", Leg.ADD_LONG, "1"))

    second = broker_on(closes, clock, "555", fees=FeeSchedule(), book_path=path)

    # buy 10 × 100 = 1,000 → 9,000; sell 4 × 100 = 400, SEC 400 × 27.80 / 1e6 = 0.01112 → 0.02,
    # TAF 4 × 0.000166 = 0.000664 → 0.01; cash 9,000 + 400 − 0.03 = 9,399.97
    assert sold.fees == Decimal("0.03")
    assert second.account().cash == Decimal("9399.97")
    assert second.account().positions == {"AAA": Decimal(6)}
    assert second.account() == first.account()
    for original in (bought, sold, rejected):
        assert second.get_order(original.client_order_id) == original
    with pytest.raises(DuplicateOrderError):
        second.submit(order("b1", "AAA", Leg.ADD_LONG, "1"))
    assert [p.name for p in path.parent.iterdir()] == ["book.json"]  # no temporary file left


def test_book_without_a_file_starts_from_the_initial_cash(tmp_path: Path) -> None:
    """A book path that does not exist yet is created on the first order."""
    clock = clock_on(MON)
    path = tmp_path / "book.json"
    broker = broker_on(frame({"AAA": [100.0, 100.0, 100.0]}), clock, "750", book_path=path)

    assert broker.account().cash == Decimal(750)
    assert not path.exists()
    broker.submit(order("b1", "AAA", Leg.ADD_LONG, "1"))
    assert path.exists()


@pytest.mark.parametrize(
    "content",
    [
        '{"cash": "100", "positions": {',  # truncated JSON
        "this is not json",
        '{"cash": "100", "positions": {}}',  # a key missing
        # Valid JSON of the wrong shape, or a non-number, must not escape as a raw TypeError or
        # decimal.InvalidOperation (found by this test, fixed in _load).
        "[]",
        '{"cash": "abc", "positions": {}, "orders": {}}',
        '{"cash": "NaN", "positions": {}, "orders": {}}',
        '{"cash": "1", "positions": {"AAA": "Infinity"}, "orders": {}}',
    ],
    ids=["truncated", "garbage", "missing-key", "json-list", "bad-decimal", "nan-cash", "inf-qty"],
)
def test_corrupt_book_raises_state_error_naming_the_path(tmp_path: Path, content: str) -> None:
    """An unreadable book file is a StateError whose message names the file."""
    path = tmp_path / "book.json"
    path.write_text(content)
    clock = clock_on(MON)

    with pytest.raises(StateError, match=re.escape(str(path))):
        broker_on(frame({"AAA": [100.0, 100.0, 100.0]}), clock, "1000", book_path=path)


def test_unwritable_book_raises_state_error_naming_the_path(tmp_path: Path) -> None:
    """If the book cannot be saved (its parent is a regular file), submit raises StateError."""
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")
    path = blocker / "book.json"
    clock = clock_on(MON)
    broker = broker_on(frame({"AAA": [100.0, 100.0, 100.0]}), clock, "1000", book_path=path)

    with pytest.raises(StateError, match=re.escape(str(path))):
        broker.submit(order("b1", "AAA", Leg.ADD_LONG, "1"))

    # What could not be saved did not happen: the id is free, cash and positions unchanged.
    assert broker.get_order("b1") is None
    assert broker.account().cash == Decimal(1000)
    assert broker.account().positions == {}


def test_order_report_round_trips_every_field(tmp_path: Path) -> None:
    """Every field of a filled report (price, fees, side, status) is restored from the book."""
    closes = frame({"AAA": [33.33, 33.33, 33.33]})
    clock = clock_on(MON)
    path = tmp_path / "book.json"
    first = broker_on(closes, clock, "1000", slippage_bps="10", fees=FeeSchedule(), book_path=path)
    first.submit(order("b1", "AAA", Leg.ADD_LONG, "7"))
    first.submit(order("s1", "AAA", Leg.REDUCE_LONG, "7"))

    reloaded = broker_on(closes, clock, "1", book_path=path).get_order("s1")

    # sell price 33.33 × 0.999 = 33.29667; 7 × 33.29667 = 233.07669 → 233.08;
    # SEC 233.08 × 27.80 / 1e6 = 0.006479624 → 0.01; TAF 7 × 0.000166 = 0.001162 → 0.01
    assert reloaded == OrderReport(
        "s1",
        "AAA",
        Side.SELL,
        Decimal(7),
        OrderStatus.FILLED,
        filled_qty=Decimal(7),
        filled_avg_price=Decimal("33.29667"),
        fees=Decimal("0.02"),
    )


def test_financing_base_and_a_charge_that_survives_a_restart(tmp_path: Path) -> None:
    """Short 10 BBB at $50 and long 30 AAA at $100 on $2,000: cash 2,000 + 500 − 3,000 = −500,
    equity −500 + 3,000 − 500 = 2,000, gross 3,500, so $1,500 of exposure is above equity and
    $500 is short. A charge of $1.25 comes off cash and is still there after a replay."""
    path = tmp_path / "book.jsonl"
    clock = clock_on(MON)
    closes = frame({"AAA": [100.0, 100.0, 100.0], "BBB": [50.0, 50.0, 50.0]})
    broker = broker_on(closes, clock, "2000", book_path=path, margin="2")
    broker.submit(order("s1", "BBB", Leg.ADD_SHORT, "10"))
    broker.submit(order("b1", "AAA", Leg.ADD_LONG, "30"))

    assert broker.financing_base() == (Decimal(500), Decimal(1500))
    broker.charge(Decimal("1.25"), "borrow fee and margin interest")
    cash = Decimal(2000) + 500 - 3000 - Decimal("1.25")
    assert broker.account().cash == cash

    replayed = broker_on(closes, clock, "2000", book_path=path, margin="2")
    assert replayed.account().cash == cash
    assert replayed.get_order("b1") is not None
