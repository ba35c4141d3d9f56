"""The whole cycle against a fake Alpaca server, through the real alpaca-py clients."""

from __future__ import annotations

from collections.abc import Iterator
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
