"""kill -9 of the bot process at every step of a rebalance, then a restart.

The bot runs in a forked child process (the fake Alpaca server stays in this process); a tracker
that sends SIGKILL to its own process right after recording its k-th event stops it dead at
step k. A fresh bot on the same state directory then runs until the rebalance is done.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bot.cycle import run_cycle
from bot.tracker import Tracker
from tests.alpaca_world import AlpacaWorld, alpaca_config, start_world

EVENTS_IN_A_CLEAN_RUN = 15  # cycle_started … rebalance_done, positions, cycle_finished


class KillAfter(Tracker):
    """A tracker that kills its own process (SIGKILL) right after its k-th event."""

    def __init__(self, path: Path, events: int) -> None:
        super().__init__(path)
        self.left = events

    def record(self, *args: Any, **kwargs: Any) -> None:
        super().record(*args, **kwargs)
        self.left -= 1
        if self.left == 0:
            os.kill(os.getpid(), signal.SIGKILL)


def crash_at(world: AlpacaWorld, events: int) -> None:
    """In the child: run one HFEA cycle and die after ``events`` recorded events."""
    bot = world.bot(alpaca_config("hfea"), KillAfter(world.state_dir / "tracker.sqlite3", events))
    run_cycle(bot.adapters, bot.runtime)
    os._exit(0)  # reached only if the run recorded fewer events than the kill point


def test_a_clean_run_records_as_many_events_as_there_are_kill_points(tmp_path: Path) -> None:
    """So that "every step" below stays every step when the cycle gains one."""
    world = start_world(tmp_path, ["UPRO", "TMF"], account_kind="cash")
    try:
        result = world.run(alpaca_config("hfea"))
        events = Tracker(world.state_dir / "tracker.sqlite3").run_events(result.run_id)
    finally:
        world.fake.stop()
    assert result.outcome == "traded", result.reason
    assert len(events) == EVENTS_IN_A_CLEAN_RUN, [e.kind for e in events]


@pytest.mark.parametrize(
    ("kind", "policy"), [("margin", "immediate"), ("cash", "immediate"), ("margin", "on_poll")]
)
@pytest.mark.parametrize("step", range(1, EVENTS_IN_A_CLEAN_RUN + 1))
def test_kill_9_at_any_step_then_restart_never_duplicates(
    tmp_path: Path, step: int, kind: str, policy: str
) -> None:
    """Killed after event ``step``: the restart finishes the rebalance, each intent filled once
    — on a cash account too, where every buy must fit the collar, and with orders that fill
    only when next looked at ("on_poll"), so the crashed run's orders fill while the restart
    is already running: after its first account read, before it lists the open orders."""
    world = start_world(tmp_path, ["UPRO", "TMF"], account_kind=kind)  # type: ignore[arg-type]
    world.fake.fill_policy = policy  # type: ignore[assignment]
    try:
        child = multiprocessing.get_context("fork").Process(target=crash_at, args=(world, step))
        child.start()
        child.join(timeout=60)
        assert child.exitcode == -signal.SIGKILL
        outcomes = [world.run(alpaca_config("hfea")).outcome for _ in range(2)]
        orders = world.fake.orders
        weights = world.weights(["UPRO", "TMF"])
    finally:
        world.fake.stop()

    assert "traded" in outcomes or outcomes == ["held", "held"], outcomes
    filled = Counter(re.sub(r"-a\d+$", "", o.client_order_id) for o in orders if o.filled_qty > 0)
    assert filled == {"hfea-2026Q3-UPRO-buy": 1, "hfea-2026Q3-TMF-buy": 1}
    assert weights["UPRO"] == pytest.approx(0.55, abs=0.005)
    assert weights["TMF"] == pytest.approx(0.45, abs=0.005)
