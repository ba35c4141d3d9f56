"""Faults on every order-path call: no intent is ever submitted twice, and the book gets there.

Each case injects one fault kind on one route of the fake Alpaca server (its strict model: the
market-buy collar on) and runs the cycle; a transient fault must not cost the rebalance: it lands
in the same run. (The helper would restart the bot, a fresh process's worth of objects on the
same state directory, up to three times; one run is all any case needs.) The order POST's
faults also run on a cash account, where the collar leaves no slack.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from bot.tracker import EventKind, Tracker
from tests.alpaca_world import AlpacaWorld, alpaca_config, start_world

READ_ROUTES = [
    "GET /v2/account",
    "GET /v2/positions",
    "GET /v2/orders",
    "GET /v2/orders:by_client_order_id",
    "GET /v2/account/configurations",
    "GET /v2/assets/{symbol}",
    "GET /v2/calendar",
    "GET /v2/stocks/bars",
    "GET /v2/stocks/trades/latest",
]
LOOKUP = "GET /v2/orders:by_client_order_id"
FAULTS = ["429", "500", "502", "503", "504_before", "hang", "drop", "html_502"]
CASES = [("POST /v2/orders", fault) for fault in [*FAULTS, "504_after_accept"]] + [
    (route, fault) for route in READ_ROUTES for fault in FAULTS
]


def run_until_done(world: AlpacaWorld, runs: int = 3) -> list[str]:
    """Run the HFEA cycle up to ``runs`` times (a restart each time); return the outcomes."""
    outcomes = []
    for _ in range(runs):
        result = world.run(alpaca_config("hfea"))
        outcomes.append(result.outcome)
        if result.outcome == "traded":
            break
    return outcomes


def intent(client_order_id: str) -> str:
    """The intent behind an id: the id without its attempt suffix."""
    return re.sub(r"-a\d+$", "", client_order_id)


CASH_CASES = [("POST /v2/orders", fault, "cash") for fault in [*FAULTS, "504_after_accept"]]


@pytest.mark.parametrize(
    ("route", "fault", "kind"), [(r, f, "margin") for r, f in CASES] + CASH_CASES
)
def test_a_fault_never_duplicates_an_intent_and_the_rebalance_lands(
    tmp_path: Path, route: str, fault: str, kind: str
) -> None:
    """One fault on one route: each intent has at most one live order, and it lands at once."""
    world = start_world(tmp_path, ["UPRO", "TMF"], account_kind=kind)  # type: ignore[arg-type]
    world.fake.hang_seconds = 1.0  # past the bot's 0.5 s read timeout
    try:
        if route == LOOKUP:
            # Lookups happen after a failed submit: lose the first POST's reply, then fail them.
            world.fake.inject("POST /v2/orders", "drop", times=1)
        world.fake.inject(route, fault, times=2)  # type: ignore[arg-type]
        outcomes = run_until_done(world)
        hit = [r for r in world.fake.requests if r.route == route]
        orders = world.fake.orders
        weights = world.weights(["UPRO", "TMF"])
        journal = Tracker(world.state_dir / "tracker.sqlite3").events(
            kind=EventKind.ORDER_SUBMITTING
        )
    finally:
        world.fake.stop()

    assert outcomes == ["traded"], outcomes  # transient faults: it lands in the same run
    assert fault == "hang" or any(r.status != 200 for r in hit), "the fault never fired"
    filled = Counter(intent(o.client_order_id) for o in orders if o.filled_qty > 0)
    assert filled == {"hfea-2026Q3-UPRO-buy": 1, "hfea-2026Q3-TMF-buy": 1}
    assert all(o.status in ("filled", "canceled", "rejected") for o in orders)
    journaled = [e.payload["client_order_id"] for e in journal]
    assert len(journaled) == len(set(journaled))  # the journal never repeats an id
    assert weights["UPRO"] == pytest.approx(0.55, abs=0.005)
    assert weights["TMF"] == pytest.approx(0.45, abs=0.005)
