"""The README's path from the demo to a paper account to a first backtest, step by step, with the
project's fake Alpaca server standing in for Alpaca (on 127.0.0.1, through the real alpaca-py
client) and the wall clock set to 15:45 New York on a Monday session: `bot check`, `bot once
--dry-run`, `bot once`, `bot data fetch`, `bot backtest`, as the README writes them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, time
from pathlib import Path

import pytest

from bot.cli import main
from bot.clock import WallClock
from bot.cycle import NEW_YORK
from tests.alpaca_world import KEY, ROOT, SECRET, TODAY, AlpacaWorld, start_world

README = (ROOT / "README.md").read_text()


@pytest.fixture
def paper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AlpacaWorld]:
    """A paper account on the fake server, the README's environment, the config folder."""
    world = start_world(tmp_path, ["UPRO", "TMF", "SPY"], account_kind="margin")
    moment = datetime.combine(TODAY, time(15, 45), NEW_YORK)
    shift = moment - datetime.now(UTC)
    monkeypatch.setattr(WallClock, "now", lambda _self: datetime.now(UTC) + shift)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config").symlink_to(ROOT / "config")
    for name in ("BOT_ALLOW_LIVE_TRADING", "APCA_API_DATA_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    monkeypatch.setenv("APCA_API_BASE_URL", world.fake.url)
    monkeypatch.setenv("BOT_STATE_DIR", "state-paper")
    yield world
    world.fake.stop()


def readme_commands() -> list[str]:
    """Every `bot …` command of the README's paper-account steps and its backtest block."""
    steps = README.split("## From the demo to a paper account", 1)[1].split("\n## ", 1)[0]
    backtest = README.split("## Backtests", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"`(bot [^`]+)`", steps) + re.findall(r"^(bot [^#\n]+?)\s+#", backtest, re.M)


def run(command: str, *extra: str) -> int:
    return main([*command.split()[1:], *extra])


def test_the_readme_path_from_the_demo_to_a_paper_account_to_a_backtest(
    paper: AlpacaWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    commands = readme_commands()

    def first(prefix: str) -> str:
        return next(c for c in commands if c.startswith(prefix))

    check, dry_run = first("bot check"), first("bot once --config config/hfea.toml --dry-run")
    once, fetch, backtest = (
        "bot once --config config/hfea.toml",
        first("bot data"),
        first("bot back"),
    )
    assert once in commands
    assert "bot run --config config/hfea.toml" in commands  # runs until stopped: not run here

    assert run(check) == 0
    assert "ALPACA PAPER account" in capsys.readouterr().out

    assert run(dry_run) == 0
    planned = capsys.readouterr().out
    assert "UPRO" in planned
    assert "TMF" in planned
    assert not paper.fake.orders  # a dry run sends nothing

    assert run(once) == 0
    assert sorted(o.symbol for o in paper.fake.orders if o.filled_qty > 0) == ["TMF", "UPRO"]
    weights = paper.weights(["UPRO", "TMF"])
    assert weights["UPRO"] == pytest.approx(0.55, abs=0.005)
    assert weights["TMF"] == pytest.approx(0.45, abs=0.005)
    capsys.readouterr()

    assert fetch == "bot data fetch --config config/hfea.toml --to closes"
    assert run(fetch, "--start", "2026-03-02", "--end", "2026-09-18") == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines if ":" in line][:3] == ["UPRO", "TMF", "SPY"]

    paper.fake.stop()  # the backtest runs offline on the fetched files
    assert backtest == "bot backtest --config config/hfea.toml --data closes"
    assert run(backtest, "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["strategy"] == "hfea"
    assert report["trades"] > 0
