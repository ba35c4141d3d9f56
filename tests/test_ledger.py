"""bot/portfolio/ledger.py: the exact splits that keep per-strategy ledgers summing to the
account — no share, nano-share or cent created or lost (Hypothesis), and hand cases."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.portfolio.ledger import (
    Change,
    Ledger,
    LedgerError,
    Posting,
    differences,
    held,
    net,
    replay,
    settle_cash,
    settle_fund,
    split_integer,
    split_money,
)

NAMES = st.sampled_from(["all_in", "hfea", "max_yield", "uisx3"])
amounts = st.integers(min_value=-(10**16), max_value=10**16)


@given(amounts, st.dictionaries(NAMES, st.integers(0, 10**15), min_size=1))
def test_an_integer_split_sums_exactly_and_follows_the_weights(
    total: int, weights: dict[str, int]
) -> None:
    parts = split_integer(total, weights)
    whole = sum(weights.values())
    if whole == 0:
        assert all(p == 0 for p in parts.values())
        return
    assert sum(parts.values()) == total
    for name, weight in weights.items():
        exact = abs(total) * weight / whole
        assert abs(abs(parts[name]) - exact) < 1 + 1e-6 * exact  # within one unit
        assert parts[name] == 0 or (parts[name] > 0) == (total > 0)


def test_integer_splits_by_hand() -> None:
    assert split_integer(10, {"a": 1, "b": 1, "c": 1}) == {"a": 4, "b": 3, "c": 3}
    assert split_integer(-10, {"a": 1, "b": 2}) == {"a": -3, "b": -7}  # 3.33, 6.67
    assert split_integer(5, {"a": 0, "b": 3}) == {"a": 0, "b": 5}


@given(
    st.decimals(min_value=-(10**9), max_value=10**9, places=9, allow_nan=False),
    st.dictionaries(NAMES, st.decimals(0, 10**7, places=4, allow_nan=False), min_size=1),
)
def test_a_money_split_sums_exactly(total: Decimal, weights: dict[str, Decimal]) -> None:
    parts = split_money(total, weights)
    if all(w == 0 for w in weights.values()):
        assert all(p == 0 for p in parts.values())
        return
    assert sum(parts.values(), Decimal(0)) == total


def test_money_split_by_hand() -> None:
    # $100.000000 in thirds: 33.333334, 33.333333, 33.333333 (the extra micro-dollar to "a")
    parts = split_money(Decimal(100), {"a": Decimal(1), "b": Decimal(1), "c": Decimal(1)})
    assert parts == {
        "a": Decimal("33.333334"),
        "b": Decimal("33.333333"),
        "c": Decimal("33.333333"),
    }
    # a sub-micro rest goes to the largest weight
    parts = split_money(Decimal("0.0000015"), {"a": Decimal(1), "b": Decimal(3)})
    assert parts == {"a": Decimal(0), "b": Decimal("0.0000015")}


def test_crossing_strategies_need_no_order() -> None:
    """HFEA sells 10 TMF while All In buys 4: the account sells 6; All In's 4 come from HFEA."""
    assert net({"hfea": {"TMF": -10}, "all_in": {"TMF": 4}}) == {"TMF": -6}
    assert settle_fund({"hfea": -10, "all_in": 4}, -6) == {"hfea": -10, "all_in": 4}
    # the broker sold only 5 (one under the minimum, say): HFEA, the seller, keeps one more
    assert settle_fund({"hfea": -10, "all_in": 4}, -5) == {"hfea": -9, "all_in": 4}
    # nothing reached the broker: only the crossing happens
    assert settle_fund({"hfea": -10, "all_in": 4}, 0) == {"hfea": -4, "all_in": 4}


def test_a_fill_beyond_or_against_the_net_is_refused() -> None:
    with pytest.raises(LedgerError, match="netted order"):
        settle_fund({"hfea": -10}, 5)
    with pytest.raises(LedgerError, match="netted order"):
        settle_fund({"hfea": -10}, -11)


@given(
    st.dictionaries(NAMES, st.integers(-(10**13), 10**13), min_size=1),
    st.floats(0, 1),
    st.decimals(min_value=1, max_value=1000, places=4, allow_nan=False),
    st.decimals(min_value=-5, max_value=5, places=6, allow_nan=False),
)
def test_settling_a_fund_is_exact_in_shares_and_cash(
    wanted: dict[str, int], done: float, price: Decimal, slip: Decimal
) -> None:
    total = sum(wanted.values())
    executed = int(total * done)
    received = settle_fund(wanted, executed)
    assert sum(received.values()) == executed
    for name, quantity in received.items():  # never more than asked, never the other way
        assert quantity == 0 or (quantity > 0) == (wanted[name] > 0)
        assert abs(quantity) <= abs(wanted[name])
    flow = -Decimal(executed) / 10**9 * (price + slip) if executed else Decimal(0)
    cash = settle_cash(received, price, flow, executed)
    assert sum(cash.values(), Decimal(0)) == flow


def test_cash_of_a_cross_by_hand() -> None:
    """HFEA sells 10 TMF, All In buys 4 at a $50 close; the account sells 6 at $49.90 and pays
    $0.02 of fees: All In pays $200 to HFEA; HFEA gets $200 + 6 × 49.90 − 0.02 = $499.38."""
    nano = 10**9
    received = settle_fund({"hfea": -10 * nano, "all_in": 4 * nano}, -6 * nano)
    flow = 6 * Decimal("49.90") - Decimal("0.02")
    cash = settle_cash(received, Decimal(50), flow, -6 * nano)
    assert cash == {"hfea": Decimal("499.38"), "all_in": Decimal(-200)}


def test_postings_replay_into_ledgers_and_reconcile_with_the_account() -> None:
    nano = 10**9
    postings = [
        Posting("opened", {"hfea": Change(Decimal(600)), "all_in": Change(Decimal(400))}),
        Posting("fills", {"hfea": Change(Decimal(-500), {"TMF": 10 * nano})}),
        Posting("round trip", {"Hfea".lower(): Change(Decimal(0), {"TMF": -10 * nano})}),
    ]
    again = [Posting.from_payload(p.payload()) for p in postings]
    ledgers = replay(again)
    assert ledgers == {"hfea": Ledger(Decimal(100), {}), "all_in": Ledger(Decimal(400), {})}
    assert held(ledgers) == {}
    assert differences(ledgers, {"TMF": -100 * nano}, ["TMF", "UPRO"]) == {"TMF": -100 * nano}
    assert differences(ledgers, {"SPY": nano}, ["TMF"]) == {}  # not the portfolio's fund
