"""kill -9 at every step of a netted rebalance of two strategies sharing TMF, then a restart:
nothing sent twice, the ledgers still sum exactly to Alpaca's positions, every sleeve on target.

As tests/test_alpaca_kill.py: the bot runs in a forked child whose tracker SIGKILLs its own
process right after recording its k-th event; a fresh bot on the same state directory then
wakes until the rebalance is done.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import signal
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from bot.adapters.alpaca.transport import RetryPolicy
from bot.bootstrap import build_portfolio_bot
from bot.portfolio.config import LoadedPortfolio, PortfolioConfig
from bot.portfolio.ledger import held
from bot.portfolio.wake import PortfolioResult, load_ledgers, run_portfolio_wake
from bot.tracker import Tracker
from tests.alpaca_world import AlpacaWorld, alpaca_config, start_world
from tests.test_alpaca_kill import KillAfter

NANO = 10**9
FUNDS = ["UPRO", "TMF", "SPXL", "GLD"]
EVENTS_IN_A_CLEAN_WAKE = 36  # counted by the first test: every one is a kill point


def portfolio(world: AlpacaWorld) -> LoadedPortfolio:
    config = PortfolioConfig.model_validate(
        {
            "name": "pair",
            "sleeves": [
                {"config": "hfea.toml", "share": 0.6},
                {"config": "uisx3.toml", "share": 0.4},
            ],
            "broker": {"kind": "alpaca", "read_timeout_seconds": 0.5},
            "execution": {"poll_interval_seconds": 0, "max_polls": 5},
        }
    )
    strategies = (alpaca_config("hfea"), alpaca_config("uisx3"))
    return LoadedPortfolio(world.state_dir / "pair.toml", config, strategies)


def wake(world: AlpacaWorld, tracker: Tracker | None = None) -> PortfolioResult:
    tracker = tracker or Tracker(world.state_dir / "tracker.sqlite3")
    bot = build_portfolio_bot(
        portfolio(world), world.settings(), clock=world.clock, tracker=tracker
    )
    fast = RetryPolicy(sleep=lambda _seconds: None)
    for adapter in (bot.adapters.broker, bot.adapters.market, bot.adapters.calendar):
        adapter._retry = fast  # type: ignore[attr-defined]
    try:
        return run_portfolio_wake(bot.adapters, bot.runtime)
    finally:
        tracker.close()


def crash_at(world: AlpacaWorld, events: int) -> None:
    """In the child: one wake that dies after ``events`` recorded events."""
    wake(world, KillAfter(world.state_dir / "tracker.sqlite3", events))
    os._exit(0)  # reached only if the wake recorded fewer events than the kill point


def check_books(world: AlpacaWorld, result: PortfolioResult) -> None:
    """The ledgers sum exactly to Alpaca's positions and cash, each sleeve within 0.5 pp."""
    tracker = Tracker(world.state_dir / "tracker.sqlite3")
    try:
        ledgers = load_ledgers(tracker, "pair")
    finally:
        tracker.close()
    positions = world.fake.positions
    assert held(ledgers) == {s: int(p.qty * NANO) for s, p in positions.items() if p.qty}
    assert sum((x.cash for x in ledgers.values()), Decimal(0)) == world.fake.cash
    prices = {s: world.fake_price(s) for s in FUNDS}
    for sleeve in result.sleeves:
        ledger = ledgers[sleeve.strategy]
        equity = ledger.equity(prices)
        for symbol, target in sleeve.targets.items():
            weight = ledger.quantity(symbol) * prices[symbol] / equity
            assert abs(weight - Decimal(repr(target))) <= Decimal("0.005"), (sleeve, symbol)


def test_a_clean_wake_records_as_many_events_as_there_are_kill_points(tmp_path: Path) -> None:
    world = start_world(tmp_path, FUNDS, account_kind="margin")
    try:
        result = wake(world)
        tracker = Tracker(world.state_dir / "tracker.sqlite3")
        events = tracker.events()
        tracker.close()
        check_books(world, result)
    finally:
        world.fake.stop()
    assert result.outcome == "traded", result.reason
    assert len(events) == EVENTS_IN_A_CLEAN_WAKE, [(e.strategy, e.kind) for e in events]


@pytest.mark.parametrize("policy", ["immediate", "on_poll"])
@pytest.mark.parametrize("step", range(1, EVENTS_IN_A_CLEAN_WAKE + 1))
def test_kill_9_at_any_step_of_a_netted_rebalance_then_restart(
    tmp_path: Path, step: int, policy: str
) -> None:
    world = start_world(tmp_path, FUNDS, account_kind="margin")
    world.fake.fill_policy = policy  # type: ignore[assignment]
    try:
        child = multiprocessing.get_context("fork").Process(target=crash_at, args=(world, step))
        child.start()
        child.join(timeout=60)
        assert child.exitcode == -signal.SIGKILL
        results = [wake(world) for _ in range(2)]
        orders = world.fake.orders
        check_books(world, results[-1])
    finally:
        world.fake.stop()

    assert [r.outcome for r in results][-1] in {"traded", "held"}, [r.reason for r in results]
    filled = Counter(re.sub(r"-a\d+$", "", o.client_order_id) for o in orders if o.filled_qty > 0)
    assert filled, "nothing was bought"
    assert max(filled.values()) == 1, filled  # no intent filled twice
    assert set(filled) <= {f"pair-20260921-{s}-buy" for s in FUNDS}
