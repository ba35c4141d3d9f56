"""Kill -9 of the daemon in the middle of a cycle, then a restart, against the fake Alpaca
server and a real webhook on loopback: one completed cycle for the day, no duplicate order,
no duplicate alert."""

from __future__ import annotations

import json
import multiprocessing
import os
import re
import signal
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.slack import SlackChannel
from bot.alerts import AlertDispatcher
from bot.daemon import Daemon, Member
from bot.tracker import EventKind, Tracker
from tests.alpaca_world import TODAY, AlpacaWorld, alpaca_config, start_world

FIFTEEN = timedelta(minutes=15)


class Webhook:
    """A real HTTP server on loopback collecting the JSON bodies posted to it."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                outer.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T000/B000/secret"


class KillAfter(Tracker):
    """Kills its own process (SIGKILL) right after recording its k-th cycle event."""

    def __init__(self, path: Path, kind: EventKind, nth: int) -> None:
        super().__init__(path)
        self.kind, self.left = kind.value, nth

    def record(self, *args: Any, **kwargs: Any) -> None:
        super().record(*args, **kwargs)
        if args[3] == self.kind:
            self.left -= 1
            if self.left == 0:
                os.kill(os.getpid(), signal.SIGKILL)


def daemon_for(world: AlpacaWorld, webhook: Webhook, tracker: Tracker) -> Daemon:
    """The daemon as `bot run` builds it: one member, alerts through the real Slack channel."""
    bot = world.bot(alpaca_config("hfea"), tracker)
    alerts = AlertDispatcher(
        tracker,
        [SlackChannel(webhook.url)],
        world.clock,
        background=False,
        sleep=lambda _s: None,
    )
    return Daemon([Member(bot.runtime, bot.adapters)], tracker, FIFTEEN, alerts=alerts)


def crash(world: AlpacaWorld, webhook: Webhook, kind: EventKind, nth: int) -> None:
    """In the child: start the daemon (its catch-up runs today's cycle) and die mid-cycle."""
    tracker = KillAfter(world.state_dir / "tracker.sqlite3", kind, nth)
    daemon_for(world, webhook, tracker).start("ALPACA PAPER account (test)")
    os._exit(0)


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    """The Slack webhook stand-in."""
    hook = Webhook()
    yield hook
    hook.server.shutdown()


@pytest.mark.parametrize(
    ("kind", "nth"),
    [
        (EventKind.DECISION, 1),
        (EventKind.ORDER_SUBMITTING, 1),
        (EventKind.ORDER_SUBMITTED, 1),
        (EventKind.ORDER_SUBMITTED, 2),
        (EventKind.ORDER_FILLED, 2),
        (EventKind.REBALANCE_DONE, 1),
        (EventKind.ALERT_SENT, 2),
    ],
)
def test_kill_mid_cycle_then_restart_completes_the_day_once(
    tmp_path: Path, webhook: Webhook, kind: EventKind, nth: int
) -> None:
    """The restart's catch-up finishes the day: one finished cycle, one fill per intent, and
    each alert posted once."""
    world = start_world(tmp_path, ["UPRO", "TMF"])
    try:
        child = multiprocessing.get_context("fork").Process(
            target=crash, args=(world, webhook, kind, nth)
        )
        child.start()
        child.join(timeout=60)
        assert child.exitcode == -signal.SIGKILL
        tracker = Tracker(world.state_dir / "tracker.sqlite3")
        daemon_for(world, webhook, tracker).start("ALPACA PAPER account (test)")
        orders = world.fake.orders
    finally:
        world.fake.stop()

    assert tracker.finished_cycle_on("hfea", TODAY)
    finished = [e.payload["outcome"] for e in tracker.events("hfea", EventKind.CYCLE_FINISHED)]
    assert finished in (["traded"], ["held"])  # exactly one completed cycle for the day
    filled = Counter(re.sub(r"-a\d+$", "", o.client_order_id) for o in orders if o.filled_qty > 0)
    assert filled == {"hfea-2026Q3-UPRO-buy": 1, "hfea-2026Q3-TMF-buy": 1}
    texts = [body["text"] for body in webhook.bodies]
    trade_alerts = [t for t in texts if "orders on" in t]
    assert len(trade_alerts) <= 1
    assert len(texts) == len(set(texts)) or all(
        "bot started" in t for t in texts if texts.count(t) > 1
    )
