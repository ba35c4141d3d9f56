"""The whole cycle against a fake Alpaca server, through the real alpaca-py clients."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import time
from decimal import Decimal
from pathlib import Path

import pytest

from bot.tracker import EventKind, Tracker
from tests.alpaca_world import AlpacaWorld, alpaca_config, start_world

ALL_IN = ["TECL", "BITU", "TMF", "RSST", "DFEN", "UTSL", "VXUS", "UGL", "USFR"]


@pytest.fixture
def hfea_world(tmp_path: Path) -> Iterator[AlpacaWorld]:
    """A fake account with UPRO and TMF."""
    world = start_world(tmp_path, ["UPRO", "TMF"])
    yield world
    world.fake.stop()
    assert world.fake.errors == []


def test_hfea_from_cash_reaches_55_45_with_one_order_per_symbol(hfea_world: AlpacaWorld) -> None:
    """$100k cash: one buy of UPRO, one of TMF; the fake's book ends within 0.5 pp of 55/45."""
    result = hfea_world.run(alpaca_config("hfea"))

    assert result.outcome == "traded", result.reason
    posts = [r for r in hfea_world.fake.requests if r.route == "POST /v2/orders"]
    assert sorted(r.body["symbol"] for r in posts if r.body) == ["TMF", "UPRO"]
    weights = hfea_world.weights(["UPRO", "TMF"])
    assert weights["UPRO"] == pytest.approx(0.55, abs=0.005)
    assert weights["TMF"] == pytest.approx(0.45, abs=0.005)


def test_all_in_reaches_its_targets(tmp_path: Path) -> None:
    """All In on nine funds: the fake's book ends within 0.5 pp of the computed targets."""
    world = start_world(tmp_path, ALL_IN)
    try:
        result = world.run(alpaca_config("all_in"))
        targets = (
            Tracker(world.state_dir / "tracker.sqlite3")
            .events(kind=EventKind.TARGETS_COMPUTED)[-1]
            .payload["weights"]
        )
    finally:
        world.fake.stop()

    assert result.outcome == "traded", result.reason
    weights = world.weights(ALL_IN)
    for symbol in ALL_IN:
        assert weights[symbol] == pytest.approx(targets[symbol], abs=0.005), symbol
    assert targets["USFR"] == 0.15


def test_max_yield_opens_a_whole_share_vxz_short_and_keeps_its_notional_in_cash(
    tmp_path: Path,
) -> None:
    """A forced Max Yield trade with a short VXZ target: whole shares, proceeds kept as cash."""
    world = start_world(tmp_path, ["VXZ", "UBT", "UGL"])
    try:
        config = alpaca_config("max_yield", strategy="negative_mean_policy = 'as_published'")
        result = world.run(config, force=True)
        targets = (
            Tracker(world.state_dir / "tracker.sqlite3")
            .events(kind=EventKind.TARGETS_COMPUTED)[-1]
            .payload["weights"]
        )
        positions = world.fake.positions
        cash = world.fake.cash
    finally:
        world.fake.stop()

    assert result.outcome == "traded", result.reason
    if targets["VXZ"] >= 0:
        pytest.skip("the seeded market chose no VXZ short on this day")
    short = positions["VXZ"].qty
    assert short < 0
    assert short == short.to_integral_value()
    assert cash > 0
    weights = world.weights(["VXZ", "UBT", "UGL"])
    assert weights["VXZ"] == pytest.approx(targets["VXZ"], abs=0.005)


def test_partial_fills_are_polled_to_completion(hfea_world: AlpacaWorld) -> None:
    """Orders fill half on the first poll and the rest on the next: the cycle waits (bounded)."""
    hfea_world.fake.fill_policy = "on_poll"
    hfea_world.fake.partial_fill = {"UPRO", "TMF"}

    result = hfea_world.run(alpaca_config("hfea"))

    assert result.outcome == "traded", result.reason
    assert all(o.status.value == "filled" for o in result.orders)
    weights = hfea_world.weights(["UPRO", "TMF"])
    assert weights["UPRO"] == pytest.approx(0.55, abs=0.005)


def test_orders_never_filled_are_cancelled_and_reported(hfea_world: AlpacaWorld) -> None:
    """Nothing fills: after the bounded polls each order is cancelled at the broker, the cancel
    is confirmed and recorded, and the cycle is an error; the next run sends new attempts."""
    hfea_world.fake.fill_policy = "never"

    result = hfea_world.run(alpaca_config("hfea"))

    assert result.outcome == "error"
    statuses = {o.client_order_id: o.status for o in hfea_world.fake.orders}
    assert statuses == {"hfea-2026Q3-TMF-buy": "canceled", "hfea-2026Q3-UPRO-buy": "canceled"}
    tracker = Tracker(hfea_world.state_dir / "tracker.sqlite3")
    assert len(tracker.events(kind=EventKind.ORDER_CANCELED)) == 2
    hfea_world.fake.fill_policy = "immediate"
    assert hfea_world.run(alpaca_config("hfea")).outcome == "traded"
    assert {o.client_order_id for o in hfea_world.fake.orders} >= {
        "hfea-2026Q3-TMF-buy-a2",
        "hfea-2026Q3-UPRO-buy-a2",
    }


def test_a_non_fractionable_asset_is_bought_in_whole_shares(hfea_world: AlpacaWorld) -> None:
    """Alpaca says UPRO is not fractionable: its buy is a whole number of shares."""
    hfea_world.fake.add_asset("UPRO", fractionable=False)

    result = hfea_world.run(alpaca_config("hfea"))

    assert result.outcome == "traded", result.reason
    upro = next(o for o in hfea_world.fake.orders if o.symbol == "UPRO")
    assert upro.qty is not None
    assert upro.qty == upro.qty.to_integral_value()
    tmf = next(o for o in hfea_world.fake.orders if o.symbol == "TMF")
    assert tmf.qty is None  # TMF stays fractional: bought by notional, to the cent
    assert tmf.notional is not None
    assert tmf.notional == tmf.notional.quantize(Decimal("0.01"))


def test_no_order_is_sent_while_the_market_is_closed(tmp_path: Path) -> None:
    """At 09:15 New York a market order would wait for the open: the cycle refuses to send."""
    world = start_world(tmp_path, ["UPRO", "TMF"], at=time(9, 15))
    try:
        result = world.run(alpaca_config("hfea"))
        posts = world.fake.count("POST /v2/orders")
    finally:
        world.fake.stop()

    assert result.outcome == "error"
    assert "the market is closed now" in result.reason
    assert posts == 0
