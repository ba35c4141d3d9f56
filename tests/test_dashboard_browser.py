"""The dashboard in a real browser: Debian's Chromium (/usr/bin/chromium) driven by Playwright
for Python, headless, offline. Each page is loaded from state directories the bot made (the
demo's; a month on the fake Alpaca; ten years of daily equity), the numbers on screen are
checked against the tracker's and the backtest's, and screenshots are saved under
build/dashboard-screenshots/ (kept out of git) for a person to look at.

.ci/run installs Chromium and the dev extra brings Playwright; where either is missing (a
developer's machine) these tests skip and say which.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.report import quarterly_lines
from bot.tracker import Tracker
from tests.alpaca_world import ROOT
from tests.dashboard_world import (
    ALL_IN_CONFIG,
    DEMO_CONFIG,
    AlpacaMonth,
    add_failed_wake,
    get,
    serve,
    ten_years,
)

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "build" / "dashboard-screenshots"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1100, "height": 900}

try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # pragma: no cover - the dev extra installs it
    sync_playwright = None

pytestmark = [
    pytest.mark.skipif(
        sync_playwright is None, reason="playwright is not installed (pip install -e '.[dev]')"
    ),
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    ),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert sync_playwright is not None
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


class Visit:
    """A browser page that records every request it makes (all must go to the dashboard)."""

    def __init__(self, browser: Browser, base: str, viewport: dict[str, int]) -> None:
        self.base = base
        self.page: Page = browser.new_page(viewport=viewport)  # type: ignore[arg-type]
        self.requests: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))

    def open(self, path: str, shot: str | None = None) -> Page:
        reply = self.page.goto(self.base + path)
        assert reply is not None
        assert reply.status == 200, path
        if shot:
            self.page.screenshot(path=str(SHOTS / f"{shot}.png"), full_page=True)
        return self.page

    def close(self) -> None:
        self.page.close()
        assert all(url.startswith(self.base) for url in self.requests), self.requests


def texts(page: Page, selector: str) -> list[str]:
    return [t.strip() for t in page.locator(selector).all_inner_texts()]


def test_the_demo_in_chromium(browser: Browser, dashboard_demo: Path) -> None:
    """The overview shows the demo's equity and quarterly lines as `bot tracker` prints them;
    the strategy page its nine funds against targets inside the corridor; the journal the
    last day's orders with their client_order_id; on a phone, nothing overflows sideways."""
    tracker = Tracker(dashboard_demo / "tracker.sqlite3")
    lines = quarterly_lines(tracker.equity_history("demo"))
    tracker.close()

    with serve(dashboard_demo, config=DEMO_CONFIG) as served:
        visit = Visit(browser, served.url, DESKTOP)
        page = visit.open("/", "demo-overview")
        card = page.locator('[data-strategy="demo"] [data-k="equity"]').inner_text()
        rows = [r.split("\t") for r in texts(page, "#tracker-lines tr")[1:]]
        page = visit.open("/strategy/demo", "demo-strategy")
        funds = texts(page, "#positions tr[data-symbol] td:first-child")
        dots = page.locator("svg.bars circle").count()
        bands = page.locator("svg.bars rect.band").count()
        page = visit.open("/journal?day=2026-06-30&strategy=demo", "demo-journal")
        ids = texts(page, "#events code")
        visit.open("/health", "demo-health")
        visit.close()
        phone = Visit(browser, served.url, PHONE)
        page = phone.open("/", "demo-overview-phone")
        overflow = page.evaluate("document.documentElement.scrollWidth")
        phone.open("/strategy/demo", "demo-strategy-phone")
        phone.close()

    assert card == "$107,628"
    assert [
        [line.period, f"${line.equity:,.0f}", f"{line.return_since_start:+.1%}"] for line in lines
    ] == [r[:3] for r in rows]
    assert rows[-1][:3] == ["2026-06-30", "$107,628", "+7.6%"]
    assert 9 == len(funds) == dots == bands
    assert ids
    assert all(i.startswith("demo-20260630-") for i in ids)
    assert overflow <= PHONE["width"]


def test_a_stale_heartbeat_and_an_error_are_visible(
    browser: Browser, dashboard_demo: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    shutil.copytree(dashboard_demo, state)
    add_failed_wake(state, stale_beat_at=datetime(2026, 7, 1, 17, 0, tzinfo=UTC))

    with serve(state, config=DEMO_CONFIG, now=datetime(2026, 7, 1, 20, 0, tzinfo=UTC)) as served:
        visit = Visit(browser, served.url, PHONE)
        page = visit.open("/", "stale-and-error-phone")
        box = page.locator("#problems")
        visible, problems = box.is_visible(), box.inner_text()
        page = visit.open("/health", "stale-and-error-health")
        beat = page.locator("#heartbeat-state").inner_text()
        visit.close()

    assert visible
    assert "Heartbeat STALE: last beat 3.0h ago" in problems
    assert "demo: ERROR DataError" in problems
    assert beat == "STALE"


def test_live_against_backtest_in_chromium(browser: Browser, dashboard_month: AlpacaMonth) -> None:
    """The backtest page of a month on the fake Alpaca shows the JSON's figures to the cent."""
    month = dashboard_month
    with serve(month.state_dir, config=ALL_IN_CONFIG, data_dir=month.data_dir) as served:
        _, body, _ = get(served.url + "/api/strategies/all_in/backtest")
        view: dict[str, Any] = json.loads(body)
        visit = Visit(browser, served.url, DESKTOP)
        page = visit.open("/strategy/all_in/backtest", "alpaca-live-vs-backtest")
        shown = {
            k: page.locator(f'#shortfall [data-k="{k}"]').inner_text() for k in ("live", "backtest")
        }
        lines = page.locator("svg.chart polyline").count()
        visit.open("/strategy/all_in", "alpaca-strategy")
        visit.open("/", "alpaca-overview")
        visit.open("/health", "alpaca-health")
        visit.close()
        phone = Visit(browser, served.url, PHONE)
        page = phone.open("/journal?strategy=all_in", "alpaca-journal-phone")
        ids = texts(page, "#events code")
        phone.open("/strategy/all_in/backtest", "alpaca-live-vs-backtest-phone")
        phone.close()

    gap = view["shortfall"]
    assert f"${gap['live']:,.2f}" == shown["live"]
    assert f"${gap['backtest']:,.2f}" == shown["backtest"]
    assert lines == 3  # live, backtest, and the gap
    assert ids
    assert all(i.startswith("all_in-20260921-") for i in ids)


def test_ten_years_of_history_is_small_and_draws_within_a_second(
    browser: Browser, tmp_path: Path
) -> None:
    """2,500 sessions of daily equity: the page is under 500 KB and Chromium has loaded and
    drawn it within a second (its own navigation timing, measured, never slept for)."""
    state = tmp_path / "state"
    days = ten_years(state)

    with serve(state, now=datetime(2026, 1, 2, tzinfo=UTC)) as served:
        _, html, _ = get(served.url + "/strategy/hfea")
        visit = Visit(browser, served.url, DESKTOP)
        page = visit.open("/strategy/hfea", "ten-years")
        timing = page.evaluate(
            "(() => { const n = performance.getEntriesByType('navigation')[0];"
            " return {load: n.loadEventEnd, size: n.transferSize}; })()"
        )
        visit.close()

    assert days > 2500
    assert len(html.encode()) < 500_000
    assert timing["load"] < 1000
    print(f"ten years: {len(html.encode()):,} bytes, loaded and drawn in {timing['load']:.0f} ms")


def test_bot_dashboard_as_a_user_runs_it(browser: Browser, dashboard_demo: Path) -> None:
    """`bot dashboard --config config/demo.toml` in its own process (port 0: the line it prints
    names the port it bound, before it serves, so nothing waits on a guess), read in Chromium,
    then stopped with Ctrl-C (exit 0)."""
    env = {**os.environ, "BOT_STATE_DIR": str(dashboard_demo), "PYTHONUNBUFFERED": "1"}
    for name in ("BOT_DASHBOARD_TOKEN", "BOT_DASHBOARD_HOST"):
        env.pop(name, None)
    command = [
        sys.executable,
        "-m",
        "bot",
        "dashboard",
        "--config",
        str(DEMO_CONFIG),
        "--port",
        "0",
    ]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        url = re.search(r"(http://127\.0\.0\.1:\d+)/", line)
        assert url is not None, line
        visit = Visit(browser, url.group(1), PHONE)
        page = visit.open("/", "bot-dashboard-command-phone")
        card = page.locator('[data-strategy="demo"] [data-k="equity"]').inner_text()
        visit.close()
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=60)

    assert "(read-only; Ctrl-C stops)" in line
    assert card == "$107,628"
    assert code == 0
