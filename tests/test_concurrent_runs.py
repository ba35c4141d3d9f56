"""Two bot processes started at nearly the same moment on one state directory and one account.

Each trial is a fresh fake Alpaca account (cash only) and an empty state directory; two ``bot``
processes start 0–500 ms apart (seeded random offsets and order). Whatever the interleaving,
the state directory's lock lets one of them trade and the other finds the rebalance done (or is
refused): no intent is ever filled twice (an intent is a client_order_id without its ``-aN``
attempt suffix) and gross exposure never exceeds the target's (100% of equity for HFEA).

Startup cost: a fresh ``bot`` process spends about 1.3 s importing pandas, alpaca-py and
APScheduler before it does anything, so 50 trials × 2 fresh processes would take about two
minutes of CPU on two cores. The trials therefore fork their processes from two zygotes that
imported the bot once (tests/bot_process.py): still two separate processes per trial, each with
its own pid, lock file descriptor, tracker connection and signal handlers, running the real
``bot.cli.main``. One trial with two fresh interpreters checks the console-script path too.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from datetime import time as clock_time
from decimal import Decimal
from pathlib import Path

import pytest

from bot.cycle import NEW_YORK
from tests.alpaca_world import TODAY, AlpacaWorld, start_world
from tests.bot_process import Zygote, base_env, bot_env, hfea_config, spawn

NEW_YORK_1545 = datetime.combine(TODAY, clock_time(15, 45), NEW_YORK)
ONCE_TRIALS = 50
RUN_TRIALS = 8
EXPECTED_FILLS = {"hfea-2026Q3-UPRO-buy": 1, "hfea-2026Q3-TMF-buy": 1}
LOCK_REFUSAL = "holds state-dir"


@dataclass
class Trial:
    """What one trial left at the fake and in the processes' output."""

    name: str
    apart: float  # seconds between the two starts
    exits: list[int]
    logs: list[str]
    fills: Counter[str]
    gross_over_equity: float

    @property
    def contended(self) -> bool:
        """Did one process have to wait for the other's lock (its log says so)?"""
        return any("state_lock.waiting" in log for log in self.logs)

    def problems(self) -> list[str]:
        found = []
        doubled = {intent: n for intent, n in self.fills.items() if n > 1}
        if doubled:
            found.append(f"duplicate fills {doubled}")
        if self.gross_over_equity > 1.0 + 1e-9:
            found.append(f"gross exposure {self.gross_over_equity:.4f} × equity")
        if self.fills and dict(self.fills) != EXPECTED_FILLS:
            found.append(f"fills {dict(self.fills)}")
        for code, log in zip(self.exits, self.logs, strict=True):
            if code not in (0, 2) or (code == 2 and LOCK_REFUSAL not in log):
                found.append(f"exit {code}: {log[-600:]}")
        return found


def outcome(
    name: str, apart: float, world: AlpacaWorld, exits: list[int], logs: list[Path]
) -> Trial:
    fake = world.fake
    filled = Counter(
        re.sub(r"-a\d+$", "", o.client_order_id) for o in fake.orders if o.filled_qty > 0
    )
    prices = {s: world.fake_price(s) for s in ("UPRO", "TMF")}
    positions = fake.positions
    gross = sum((abs(p.qty) * prices[s] for s, p in positions.items()), Decimal(0))
    equity = fake.cash + sum((p.qty * prices[s] for s, p in positions.items()), Decimal(0))
    assert fake.errors == []
    texts = [log.read_text(errors="replace") for log in logs]
    return Trial(name, apart, exits, texts, filled, float(gross / equity))


@pytest.fixture(scope="module")
def zygotes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Zygote, Zygote]]:
    """Two zygotes: the two contenders of every trial come from different parents."""
    cwd = tmp_path_factory.mktemp("zygotes")
    pair = (Zygote(base_env(), cwd), Zygote(base_env(), cwd))
    yield pair
    for zygote in pair:
        zygote.close()


def once_once(zygotes: tuple[Zygote, Zygote], root: Path, rng: random.Random, n: int) -> Trial:
    root.mkdir()
    world = start_world(root, ["UPRO", "TMF"])
    try:
        config = hfea_config(root / "hfea.toml")
        env = bot_env(world.fake.url, world.state_dir)
        argv = ["once", "--config", str(config), "--force"]
        offsets = [0.0, rng.uniform(0.0, 0.5)]
        rng.shuffle(offsets)
        start = time.monotonic() + 0.02
        logs = [root / "first.log", root / "second.log"]
        for zygote, offset, log in zip(zygotes, offsets, logs, strict=True):
            zygote.start(NEW_YORK_1545, argv, env=env, cwd=root, log=log, not_before=start + offset)
        for zygote in zygotes:
            zygote.pid()
        exits = [zygote.wait(timeout=60) for zygote in zygotes]
        return outcome(f"once+once #{n} offsets {offsets}", max(offsets), world, exits, logs)
    finally:
        world.fake.stop()


def test_fifty_pairs_of_once_force_never_double_the_book(
    zygotes: tuple[Zygote, Zygote], tmp_path: Path
) -> None:
    """50 trials of two `bot once --force` 0–500 ms apart: each intent filled exactly once,
    gross exposure at most the target's, and neither process fails for another reason."""
    rng = random.Random(20260921)
    trials = [once_once(zygotes, tmp_path / f"t{n}", rng, n) for n in range(ONCE_TRIALS)]

    bad = [f"{t.name}: {'; '.join(t.problems())}" for t in trials if t.problems()]
    assert bad == [], f"{len(bad)} of {len(trials)} trials went wrong:\n" + "\n".join(bad)
    assert all(dict(t.fills) == EXPECTED_FILLS for t in trials)
    # The race was real: processes started within 30 ms of each other always meet at the lock
    # (a cycle takes a dozen HTTP round trips), and the closer ones in general do.
    close = [t for t in trials if t.apart < 0.03]
    assert close
    assert all(t.contended for t in close), [t.name for t in close if not t.contended]


def run_once(zygotes: tuple[Zygote, Zygote], root: Path, rng: random.Random, n: int) -> Trial:
    """`bot run` (its start-up catch-up trades today's missed wake at once) against
    `bot once --force`, in a random order 0–500 ms apart; the daemon is stopped by SIGTERM."""
    root.mkdir()
    world = start_world(root, ["UPRO", "TMF"])
    try:
        config = hfea_config(root / "hfea.toml")
        env = bot_env(world.fake.url, world.state_dir, BOT_LOCK_WAIT_SECONDS="1")
        runs, once = zygotes
        offsets = [0.0, rng.uniform(0.0, 0.5)]
        rng.shuffle(offsets)
        start = time.monotonic() + 0.02
        logs = [root / "run.log", root / "once.log"]
        commands = [["run", "--config", str(config)], ["once", "--config", str(config), "--force"]]
        for zygote, argv, offset, log in zip(zygotes, commands, offsets, logs, strict=True):
            zygote.start(NEW_YORK_1545, argv, env=env, cwd=root, log=log, not_before=start + offset)
        daemon = runs.pid()
        once.pid()
        once_exit = once.wait(timeout=60)
        _until_settled_or_gone(world.state_dir / "tracker.sqlite3", daemon)
        _terminate(daemon)
        run_exit = runs.wait(timeout=60)
        name = f"run+once #{n} offsets {offsets}"
        return outcome(name, max(offsets), world, [run_exit, once_exit], logs)
    finally:
        world.fake.stop()


def _until_settled_or_gone(tracker: Path, pid: int) -> None:
    """Poll (bounded) until the daemon ``pid`` exited, or it started (its signal handlers are
    in place then) and some cycle finished (its own catch-up, or the `once` before it)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists() or _state(pid) == "Z":
            return
        kinds = _event_kinds(tracker) if tracker.exists() else Counter()
        if kinds["daemon_started"] and kinds["cycle_finished"]:
            return
        time.sleep(0.02)  # polling the state, bounded by the deadline
    pytest.fail("the daemon neither settled nor exited within 60 s")


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "Z"


def _event_kinds(tracker: Path) -> Counter[str]:
    """How many events of each kind the tracker holds (read-only; nothing while it is created)."""
    try:
        with sqlite3.connect(f"file:{tracker}?mode=ro", uri=True, timeout=5) as db:
            rows = db.execute("SELECT kind, count(*) FROM events GROUP BY kind").fetchall()
    except sqlite3.Error:
        return Counter()
    return Counter({str(kind): int(n) for kind, n in rows})


def _terminate(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)


def test_run_and_once_started_together_never_double_the_book(
    zygotes: tuple[Zygote, Zygote], tmp_path: Path
) -> None:
    """The daemon and a manual `once --force` at the same moment: one trades, the other finds
    it done or is refused with one line (exit 2); each intent filled once."""
    rng = random.Random(715)
    trials = [run_once(zygotes, tmp_path / f"t{n}", rng, n) for n in range(RUN_TRIALS)]

    bad = [f"{t.name}: {'; '.join(t.problems())}" for t in trials if t.problems()]
    assert bad == [], f"{len(bad)} of {len(trials)} trials went wrong:\n" + "\n".join(bad)
    assert all(dict(t.fills) == EXPECTED_FILLS for t in trials)


def test_two_fresh_console_processes_never_double_the_book(tmp_path: Path) -> None:
    """The same race between two fresh interpreters (`python -m …`, as the console script runs),
    started together: the slower import makes the overlap wide."""
    world = start_world(tmp_path, ["UPRO", "TMF"])
    try:
        config = hfea_config(tmp_path / "hfea.toml")
        env = bot_env(world.fake.url, world.state_dir)
        argv = ["once", "--config", str(config), "--force"]
        logs = [tmp_path / "a.log", tmp_path / "b.log"]
        processes = [spawn(NEW_YORK_1545, argv, env=env, cwd=tmp_path, log=log) for log in logs]
        exits = [p.wait(timeout=90) for p in processes]
        trial = outcome("fresh processes", 0.0, world, exits, logs)
    finally:
        world.fake.stop()

    assert trial.problems() == []
    assert dict(trial.fills) == EXPECTED_FILLS
