"""Random fault schedules on All In's order path: never a duplicate fill, and the book lands in
the same run whenever the faults are transient.

Each schedule (seeded, so a failure names a reproducible seed) puts one to three faults on the
routes a rebalance uses — the order POST aimed at a random index among the nine buys, then up to
two of the lookup by client_order_id, the account, positions and open-order reads, and the clock,
each at most twice in a row (the adapter tries a read four times) — on a margin or a
cash account with the fake's strict buying-power model (the collar on). Every fault here is
transient: a bounded number of 429s, 5xx, timeouts, dropped connections or malformed answers.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from pathlib import Path

import pytest

from bot.tracker import EventKind, Tracker
from tests.alpaca_world import AlpacaWorld, alpaca_config, start_world

ALL_IN = ["TECL", "BITU", "TMF", "RSST", "DFEN", "UTSL", "VXUS", "UGL", "USFR"]
SCHEDULES = 200
POST = "POST /v2/orders"
READS = [
    "GET /v2/orders:by_client_order_id",
    "GET /v2/orders",
    "GET /v2/account",
    "GET /v2/positions",
    "GET /v2/clock",
]
POST_FAULTS = [
    "429",
    "500",
    "502",
    "503",
    "504_before",
    "504_after_accept",
    "hang",
    "drop",
    "html_502",
    "empty_json",
    "accepted_empty",
]
READ_FAULTS = ["429", "500", "502", "503", "504_before", "hang", "drop", "html_502"]


def schedule(seed: int) -> tuple[str, list[tuple[str, list[str]]]]:
    """(account kind, [(route, faults in request order)]) for one seed."""
    rng = random.Random(seed)
    kind = rng.choice(["margin", "cash"])
    plan: list[tuple[str, list[str]]] = []
    # Always one POST fault, aimed at each of the (up to nine) buys in turn, seed by seed.
    plan.append((POST, ["ok"] * (seed % 9) + [rng.choice(POST_FAULTS)]))
    for route in rng.sample(READS, rng.randrange(3)):  # distinct routes
        pool = READ_FAULTS
        # Reads are tried four times by the adapter; two faults in a row stay transient.
        plan.append((route, ["ok"] * rng.randrange(4) + [rng.choice(pool)] * rng.randint(1, 2)))
    return kind, plan


def intent(client_order_id: str) -> str:
    return re.sub(r"-a\d+$", "", client_order_id)


def run_schedule(tmp_path: Path, seed: int) -> tuple[AlpacaWorld, str, str, dict[str, float]]:
    kind, plan = schedule(seed)
    world = start_world(tmp_path / f"s{seed}", ALL_IN, account_kind=kind)  # type: ignore[arg-type]
    world.fake.hang_seconds = 1.5  # past the bot's read timeout (1 s here: room for a busy CI)
    try:
        for route, faults in plan:
            for fault in faults:
                world.fake.inject(route, fault)  # type: ignore[arg-type]
        result = world.run(alpaca_config("all_in", broker="read_timeout_seconds = 1.0"))
        targets = Tracker(world.state_dir / "tracker.sqlite3").events(
            kind=EventKind.TARGETS_COMPUTED
        )[-1].payload["weights"]
    finally:
        world.fake.stop()
    return world, result.outcome, result.reason, targets


@pytest.mark.parametrize("block", range(10))
def test_random_fault_schedules_never_duplicate_and_land_in_the_same_run(
    tmp_path: Path, block: int
) -> None:
    """Twenty schedules per block, 200 in all."""
    per_block = SCHEDULES // 10
    for seed in range(block * per_block, (block + 1) * per_block):
        world, outcome, reason, targets = run_schedule(tmp_path, seed)
        filled = Counter(intent(o.client_order_id) for o in world.fake.orders if o.filled_qty)
        assert all(n == 1 for n in filled.values()), (seed, filled)
        assert not [o for o in world.fake.orders if o.status not in ("filled", "canceled")], seed
        assert outcome == "traded", (seed, schedule(seed), reason)
        weights = world.weights(ALL_IN)
        for symbol in ALL_IN:
            assert weights[symbol] == pytest.approx(targets[symbol], abs=0.005), (seed, symbol)
