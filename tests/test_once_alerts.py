"""`bot once` alerts like the daemon: the same alerts for its cycle, through the same
dispatcher, deduplicated by the tracker, and delivered before the command exits (bounded).

End to end: `bot.cli.main` in this process, the real alpaca-py clients against the fake Alpaca
server, and the real Slack channel posting to an HTTP server on 127.0.0.1. The bot's wall clock
is shifted to the fake's moment (Monday 2026-09-21, 15:45 New York), so nothing depends on today.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from datetime import time as clock_time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

import bot.commands
from bot.cli import main
from bot.clock import WallClock
from bot.cycle import NEW_YORK
from bot.tracker import EventKind, Tracker
from tests.alpaca_world import KEY, SECRET, TODAY, AlpacaWorld, start_world
from tests.bot_process import hfea_config

TOKEN = "T0ONCE/B0ONCE/once-webhook-secret-31"
AT = datetime.combine(TODAY, clock_time(15, 45), NEW_YORK)


class Webhook:
    """Slack's stand-in: records each posted text; ``gate`` (when given) holds every answer."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.texts: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if gate is not None:
                    gate.wait(timeout=30)
                outer.texts.append(body["text"])
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/services/{TOKEN}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[AlpacaWorld]:
    made = start_world(tmp_path, ["UPRO", "TMF"])
    yield made
    made.fake.stop()
    assert made.fake.errors == []


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.stop()


def use(monkeypatch: pytest.MonkeyPatch, world: AlpacaWorld, hook: Webhook, cwd: Path) -> Path:
    """The environment `bot once` reads, the shifted wall clock; returns the config's path."""
    monkeypatch.chdir(cwd)  # no stray .env
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name in ("SMTP_HOST", "ALERT_EMAIL_FROM", "ALERT_EMAIL_TO", "APCA_API_DATA_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    monkeypatch.setenv("APCA_API_BASE_URL", world.fake.url)
    monkeypatch.setenv("BOT_STATE_DIR", str(world.state_dir))
    monkeypatch.setenv("SLACK_WEBHOOK_URL", hook.url)
    shift = AT - datetime.now(UTC)
    monkeypatch.setattr(WallClock, "now", lambda _self: datetime.now(UTC) + shift)
    return hfea_config(cwd / "hfea.toml")


def once(config: Path, *flags: str) -> int:
    return main(["once", "--config", str(config), *flags])


def test_once_alerts_its_trades_once_and_a_second_once_sends_nothing_new(
    world: AlpacaWorld,
    webhook: Webhook,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The initial rebalance and the tracker's first quarterly line are alerted (delivered
    before `once` returns), as the daemon alerts a first cycle; the same day's second `once`
    holds and posts nothing; the webhook's token never reaches the output."""
    config = use(monkeypatch, world, webhook, tmp_path)

    assert once(config) == 0
    after_first = list(webhook.texts)  # read at once: `once` flushed before returning
    assert once(config) == 0
    output = capsys.readouterr()

    trades, quarter = after_first
    assert "*hfea: 2 orders on 2026-09-21*" in trades
    assert "target UPRO: 55.00%" in trades
    assert (
        quarter
        == ":information_source: *hfea tracker 2026-09*\n2026-09: $100,000  (+0.0% since start)"
    )
    assert webhook.texts == after_first  # nothing new on the second run
    assert "2026-09-21 hfea: held" in output.out
    assert TOKEN not in output.out + output.err
    tracker = Tracker(world.state_dir / "tracker.sqlite3")
    sent = [e.payload["key"] for e in tracker.events(kind=EventKind.ALERT_SENT)]
    assert len(sent) == 2
    assert sent[0].startswith("trades:hfea:")
    assert sent[1] == "tracker:hfea:2026-09"


def test_once_alerts_a_change_made_outside_the_bot_once(
    world: AlpacaWorld, webhook: Webhook, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A manual sale between two runs: the next `once` warns, naming the symbol before and
    after; the run after that says nothing more."""
    config = use(monkeypatch, world, webhook, tmp_path)
    assert once(config) == 0
    held = world.fake.positions["UPRO"].qty
    world.fake.set_position("UPRO", held - 100)

    assert once(config) == 0
    assert once(config) == 0

    warnings = [t for t in webhook.texts if "outside the bot" in t]
    assert len(warnings) == 1
    assert warnings[0].startswith(":warning: *hfea: positions changed outside the bot")
    moved = re.search(r"UPRO: was (\S+), now (\S+)\n", warnings[0])
    assert moved is not None
    assert (Decimal(moved[1]), Decimal(moved[2])) == (held, held - 100)
    assert len(webhook.texts) == 3  # the first run's trades and tracker line, this warning


def test_a_dry_run_alerts_an_outside_change_too(
    world: AlpacaWorld, webhook: Webhook, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dry run records what it saw (the next cycle compares with that), so it must be the
    one to alert an outside change, or nobody would."""
    config = use(monkeypatch, world, webhook, tmp_path)
    assert once(config) == 0
    world.fake.set_position("TMF", Decimal(0))

    assert once(config, "--dry-run") == 0
    assert once(config) == 0

    (warning,) = [t for t in webhook.texts if "outside the bot" in t]
    assert "TMF: was" in warning
    assert "now 0" in warning


def test_a_failed_cycle_is_alerted_as_an_error(
    world: AlpacaWorld,
    webhook: Webhook,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Trading blocked on the account: `once` exits 2 and the same ERROR alert the daemon
    sends reaches the webhook, with the reason."""
    config = use(monkeypatch, world, webhook, tmp_path)
    world.fake.trading_blocked = True

    assert once(config) == 2

    (text,) = [t for t in webhook.texts if "cycle failed" in t]
    assert text.startswith(":rotating_light: *hfea: cycle failed on 2026-09-21*")
    assert "pre-trade checks failed" in text
    assert "hfea: error" in capsys.readouterr().out


def test_delivery_is_bounded_when_the_webhook_hangs(
    world: AlpacaWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A webhook that never answers costs `once` its flush bound, not minutes; the alert stays
    recorded as queued, so the next run or start delivers it."""
    gate = threading.Event()
    hook = Webhook(gate)
    try:
        config = use(monkeypatch, world, hook, tmp_path)
        monkeypatch.setattr(bot.commands, "EXIT_FLUSH_SECONDS", 0.5)
        before = set(threading.enumerate())
        start = time.monotonic()
        assert once(config) == 0
        elapsed = time.monotonic() - start
        tracker = Tracker(world.state_dir / "tracker.sqlite3")
        queued = [e.payload["key"] for e in tracker.events(kind=EventKind.ALERT_QUEUED)]
        delivered = tracker.events(kind=EventKind.ALERT_SENT)
    finally:
        gate.set()  # the webhook answers; the delivery thread `once` left behind finishes
        for thread in set(threading.enumerate()) - before:
            if thread.name.startswith("alert-"):
                thread.join(timeout=30)
        hook.stop()

    assert elapsed < 15  # the cycle plus the 0.5 s bound; the webhook holds for 30 s
    assert len(queued) == 2  # the trades and the quarter's line, both waiting for the webhook
    assert queued[0].startswith("trades:hfea:")
    assert delivered == []


def test_check_alerts_an_outside_change_its_dry_run_saw(
    world: AlpacaWorld,
    webhook: Webhook,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`bot check` runs a dry cycle that records the holdings it saw: it alerts the change
    (once), and the `once` after it has nothing more to say about it."""
    config = use(monkeypatch, world, webhook, tmp_path)
    assert once(config) == 0
    world.fake.set_position("UPRO", Decimal(0))

    assert main(["check", "--config", str(config)]) == 0
    assert once(config) == 0

    (warning,) = [t for t in webhook.texts if "outside the bot" in t]
    assert "UPRO: was" in warning
    assert "note: hfea: positions changed outside the bot (seen 2026-09-21) (alerted)" in (
        capsys.readouterr().out
    )
