"""State directories for the dashboard's tests, made by the bot itself, and the dashboard served
on them (uvicorn on 127.0.0.1, a free port, the clock injected):

* the demo: ``bot run --config config/demo.toml`` (All In on the simulated broker, two quarters);
* a month of All In wakes on the fake Alpaca through the real alpaca-py client, with the closes
  written as the CSV files ``bot backtest --data`` reads;
* a synthetic ten-year equity history (for the page size and drawing time).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path

from bot.clock import SimulatedClock
from bot.config import BotConfig, load_config
from bot.cycle import NEW_YORK
from bot.dashboard.command import dashboard_app
from bot.dashboard.server import DashboardServer
from bot.market.sessions import xnys_sessions
from bot.market.synthetic import synthetic_closes
from bot.settings import Settings
from bot.tracker import EventKind, Tracker
from tests.alpaca_world import ROOT, TODAY, alpaca_config, start_world

ALL_IN = ["TECL", "BITU", "TMF", "RSST", "DFEN", "UTSL", "VXUS", "UGL", "USFR"]
DEMO_CONFIG = ROOT / "config" / "demo.toml"
ALL_IN_CONFIG = ROOT / "config" / "all_in.toml"
MONTH_START = date(2026, 8, 21)  # a month of wakes up to TODAY (2026-09-21)


@dataclass(frozen=True, slots=True)
class FixedClock:
    """The dashboard's "now", fixed by the test."""

    moment: datetime

    def now(self) -> datetime:
        return self.moment


def run_demo(state_dir: Path, config: Path = DEMO_CONFIG) -> None:
    """The demo, as a user runs it (a fresh interpreter, its own state directory)."""
    env = {**os.environ, "BOT_STATE_DIR": str(state_dir)}
    for name in ("SLACK_WEBHOOK_URL", "SMTP_HOST", "BOT_HEARTBEAT_FILE", "BOT_DASHBOARD_PORT"):
        env.pop(name, None)
    subprocess.run(
        [sys.executable, "-m", "bot", "run", "--config", str(config)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )


def add_failed_wake(state_dir: Path, *, stale_beat_at: datetime) -> None:
    """After the demo: a wake on 2026-07-01 that failed on a bad print, and a heartbeat that
    stopped beating without a stop (a killed daemon)."""
    tracker = Tracker(state_dir / "tracker.sqlite3")
    at = datetime(2026, 7, 1, 19, 45, tzinfo=UTC)
    run = "20260701-badprint"
    tracker.record(at, run, "demo", EventKind.CYCLE_STARTED, session="2026-07-01", dry_run=False)
    message = "TMF: today's price 1.53 is 99.0% below yesterday's close (a bad print): no trade"
    tracker.record(at, run, "demo", EventKind.ERROR, error="DataError", message=message)
    tracker.record(at, run, "demo", EventKind.CYCLE_FINISHED, outcome="error", reason=message)
    tracker.close()
    beat = f'{{"at": "{stale_beat_at.isoformat()}", "pid": 4242}}'
    (state_dir / "heartbeat.json").write_text(beat)


@dataclass(frozen=True, slots=True)
class AlpacaMonth:
    """A state directory from a month of wakes on the fake Alpaca, and the closes it saw."""

    state_dir: Path
    data_dir: Path
    sessions: list[date]


def alpaca_month(root: Path) -> AlpacaMonth:
    """All In woken at 15:45 on each session from MONTH_START to TODAY on the fake Alpaca (the
    latest trade is that day's close), through the real alpaca-py client; then the closes as
    CSV files (Date, Close), as ``bot data fetch`` would leave them."""
    symbols = [*ALL_IN, "SPY"]
    world = start_world(root, symbols, account_kind="margin")
    world.clock = SimulatedClock(datetime.combine(MONTH_START, time(9), NEW_YORK))
    sessions = list(xnys_sessions(MONTH_START, TODAY))
    config = alpaca_config("all_in")
    try:
        for day in sessions:
            for symbol in symbols:
                world.fake.set_bars(
                    symbol, {d: p for d, p in world.closes[symbol].items() if d < day}
                )
                world.fake.set_price(symbol, Decimal(repr(world.closes[symbol][day])))
            world.at(day)
            world.run(config)
    finally:
        world.fake.stop()
    data = root / "closes"
    data.mkdir()
    for symbol in symbols:
        rows = sorted((d, p) for d, p in world.closes[symbol].items() if d <= TODAY)
        text = "Date,Close\n" + "".join(f"{d.isoformat()},{p!r}\n" for d, p in rows)
        (data / f"{symbol}.csv").write_text(text)
    return AlpacaMonth(world.state_dir, data, sessions)


def ten_years(state_dir: Path) -> int:
    """A tracker with ten years of daily equity of one strategy (written in one transaction:
    the bot commits each snapshot on its own, which would make this slow for nothing)."""
    tracker = Tracker(state_dir / "tracker.sqlite3")
    at = datetime(2016, 1, 4, 20, 45, tzinfo=UTC)
    tracker.record(at, "20160104-first", "hfea", EventKind.CYCLE_STARTED, session="2016-01-04")
    tracker.close()
    sessions = xnys_sessions(date(2016, 1, 4), date(2025, 12, 31))
    closes = synthetic_closes(["UPRO"], sessions, seed=5)["UPRO"]
    rows = [
        (
            f"{d}T20:45:00+00:00",
            d.isoformat(),
            f"{d:%Y%m%d}-run",
            "hfea",
            str(v * 1000),
            str(v * 1000),
        )
        for d, v in zip(sessions, closes.to_numpy(), strict=True)
    ]
    with sqlite3.connect(state_dir / "tracker.sqlite3") as db:
        db.executemany(
            "INSERT INTO equity (at, session, run_id, strategy, equity, sleeve_equity)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
    return len(rows)


@dataclass(frozen=True, slots=True)
class Served:
    """A dashboard listening on 127.0.0.1."""

    url: str
    settings: Settings


@contextmanager
def serve(
    state_dir: Path,
    *,
    config: Path | None = None,
    data_dir: Path | None = None,
    now: datetime = datetime(2026, 7, 1, 20, 0, tzinfo=UTC),
    token: str | None = None,
    secrets: Mapping[str, str] | None = None,
) -> Iterator[Served]:
    """The dashboard app of ``bot dashboard`` on a free loopback port, for the block."""
    settings = Settings(BOT_STATE_DIR=state_dir, BOT_DASHBOARD_TOKEN=token, **(secrets or {}))
    configs: dict[str, BotConfig] = {}
    if config is not None:
        loaded = load_config(config)
        configs[loaded.name] = loaded
    app = dashboard_app(settings, configs, data_dir, config_path=config, clock=FixedClock(now))
    server = DashboardServer(app, "127.0.0.1", 0).start()
    try:
        yield Served(server.url.rstrip("/"), settings)
    finally:
        server.stop()


def get(url: str, headers: Mapping[str, str] | None = None) -> tuple[int, str, dict[str, str]]:
    """(status, body, headers) of a GET, without following redirects."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *_args: object, **_kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, headers=dict(headers or {}))
    try:
        with opener.open(request, timeout=60) as reply:
            return reply.status, reply.read().decode(), dict(reply.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), dict(exc.headers)


def at_new_york(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), NEW_YORK)
