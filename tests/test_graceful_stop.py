"""SIGTERM (or SIGINT) with orders still open: the bot stops within seconds, not minutes.

The signal handler sets the stop token every strategy's adapters share; the wall clock's
sleeping order poll wakes at once; the execution cancels what is unfilled, journals it and ends
the cycle with an error; the process exits. A restart finishes the rebalance without filling any
intent twice.

End to end: a real ``bot`` process (tests/bot_process.py: the console script's ``main`` on a wall
clock shifted to the fake's Monday 15:45) against the fake Alpaca server with the fill policy
"never" and a 60-second poll, so without the stop the cycle would wait 100 minutes per order.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

import pytest

from bot.clock import WIND_DOWN_PACE_SECONDS, WallClock
from bot.cycle import NEW_YORK
from bot.scheduler import stop_on_signals
from bot.stopping import StopToken
from bot.tracker import EventKind, Tracker
from tests.alpaca_world import TODAY, AlpacaWorld, start_world
from tests.bot_process import bot_env, hfea_config, spawn

AT = datetime.combine(TODAY, clock_time(15, 45), NEW_YORK)
# A poll sleeps 60 s (the most a config allows), and the signal comes as the first one begins:
# a stop that did not wake the sleep would take about a minute, so FOUND_WAKING catches it.
SLOW_POLLS = "poll_interval_seconds = 60\nmax_polls = 100\n"
STOP_WITHIN = 60.0  # seconds: the goal (the deploy files give 300 before SIGKILL)
FOUND_WAKING = 30.0


# --- the pieces --------------------------------------------------------------------------------


def test_a_sleeping_wall_clock_wakes_as_soon_as_a_stop_is_requested() -> None:
    """A 10-minute sleep (an order poll) returns at once when the token is set from elsewhere."""
    stop = StopToken()
    clock = WallClock(stop)
    woke: list[float] = []

    def poll() -> None:
        clock.sleep_until(clock.now() + timedelta(minutes=10))
        woke.append(time.monotonic())

    sleeper = threading.Thread(target=poll)
    sleeper.start()
    requested = time.monotonic()
    stop.request("SIGTERM")
    sleeper.join(timeout=30)

    assert len(woke) == 1
    assert woke[0] - requested < 5


def test_after_a_stop_sleeps_are_short_but_not_skipped() -> None:
    """Winding down still polls the broker (to confirm cancels): paced, never a busy loop."""
    stop = StopToken()
    stop.request("SIGTERM")
    clock = WallClock(stop)
    start = time.monotonic()
    clock.sleep_until(clock.now() + timedelta(minutes=10))
    slept = time.monotonic() - start

    assert 0.5 * WIND_DOWN_PACE_SECONDS <= slept < 5
    start = time.monotonic()
    clock.sleep_until(clock.now() - timedelta(seconds=1))  # already past: no sleep at all
    assert time.monotonic() - start < 0.5 * WIND_DOWN_PACE_SECONDS


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_handlers_set_the_token_call_back_and_are_removed_afterwards(
    signum: signal.Signals,
) -> None:
    """Inside the block a signal only asks; outside it the previous handlers are back."""
    before = signal.getsignal(signum)
    stop = StopToken()
    called: list[str] = []
    with stop_on_signals(stop, lambda: called.append("daemon")):
        os.kill(os.getpid(), signum)
        deadline = time.monotonic() + 10
        while not stop.requested and time.monotonic() < deadline:
            stop.wait(0.05)  # the handler runs in this thread between bytecodes

    assert stop.requested
    assert stop.reason == signum.name
    assert called == ["daemon"]
    assert signal.getsignal(signum) == before


# --- end to end --------------------------------------------------------------------------------


@pytest.fixture
def world(tmp_path: Path) -> Iterator[AlpacaWorld]:
    """The fake with UPRO and TMF at 15:45 on a Monday session; orders never fill."""
    made = start_world(tmp_path, ["UPRO", "TMF"])
    made.fake.fill_policy = "never"
    yield made
    made.fake.stop()
    assert made.fake.errors == []


def open_orders(world: AlpacaWorld) -> list[str]:
    return [o.client_order_id for o in world.fake.orders if o.is_open]


def until_orders_open(world: AlpacaWorld, process_log: Path, count: int) -> None:
    """Poll the fake (bounded) until ``count`` orders are open there."""
    deadline = time.monotonic() + 60
    while len(open_orders(world)) < count:
        if time.monotonic() > deadline:
            pytest.fail(f"no open orders within 60 s:\n{process_log.read_text()[-2000:]}")
        time.sleep(0.02)  # polling the fake's state, bounded by the deadline


def filled_intents(world: AlpacaWorld) -> Counter[str]:
    return Counter(
        re.sub(r"-a\d+$", "", o.client_order_id) for o in world.fake.orders if o.filled_qty > 0
    )


@pytest.mark.parametrize(
    ("argv", "signum", "exit_code"),
    [
        (["once", "--force"], signal.SIGTERM, 2),  # the cycle ended in error: stopped
        (["once", "--force"], signal.SIGINT, 2),
        (["run"], signal.SIGTERM, 0),  # the daemon's start-up catch-up runs the cycle
    ],
    ids=["once-SIGTERM", "once-SIGINT", "run-SIGTERM"],
)
def test_a_stop_with_open_orders_cancels_them_journals_and_a_restart_converges(
    world: AlpacaWorld, tmp_path: Path, argv: list[str], signum: signal.Signals, exit_code: int
) -> None:
    """Both buys open and unfilled, the poll asleep for a minute: the signal ends the process
    in seconds, nothing stays open at the broker, the journal has each cancel, and a `once`
    afterwards (orders filling again) completes the rebalance with each intent filled once."""
    config = hfea_config(tmp_path / "hfea.toml", SLOW_POLLS)
    env = bot_env(world.fake.url, world.state_dir)
    log = tmp_path / "stopped.log"
    command, *flags = argv
    bot = spawn(AT, [command, "--config", str(config), *flags], env=env, cwd=tmp_path, log=log)
    try:
        until_orders_open(world, log, count=2)
        cancelled = open_orders(world)
        signalled = time.monotonic()
        bot.send_signal(signum)
        code = bot.wait(timeout=STOP_WITHIN)
        took = time.monotonic() - signalled
    finally:
        if bot.poll() is None:
            bot.kill()
            bot.wait()
    output = log.read_text()

    assert code == exit_code, output[-2000:]
    assert took < FOUND_WAKING < STOP_WITHIN
    assert open_orders(world) == []
    tracker = Tracker(world.state_dir / "tracker.sqlite3")
    journaled = {
        e.payload["client_order_id"] for e in tracker.events(kind=EventKind.ORDER_CANCELED)
    }
    assert journaled == set(cancelled)
    errors = [e.payload["message"] for e in tracker.events("hfea", EventKind.ERROR)]
    assert any(f"stopped ({signum.name})" in message for message in errors), errors
    if command == "once":
        assert f"hfea: error — stopped ({signum.name})" in output
    else:
        assert tracker.events(kind=EventKind.DAEMON_STOPPED)
    tracker.close()

    world.fake.fill_policy = "immediate"
    restart_log = tmp_path / "restart.log"
    fast = hfea_config(tmp_path / "hfea-fast.toml")
    restart = spawn(AT, ["once", "--config", str(fast)], env=env, cwd=tmp_path, log=restart_log)
    assert restart.wait(timeout=90) == 0, restart_log.read_text()[-2000:]

    assert "hfea: traded" in restart_log.read_text()
    assert filled_intents(world) == {"hfea-2026Q3-UPRO-buy": 1, "hfea-2026Q3-TMF-buy": 1}
    weights = world.weights(["UPRO", "TMF"])
    assert weights["UPRO"] == pytest.approx(0.55, abs=0.005)
    assert weights["TMF"] == pytest.approx(0.45, abs=0.005)
    assert open_orders(world) == []
