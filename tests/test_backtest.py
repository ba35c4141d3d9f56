"""bot backtest: one code path with the bot, and the seeds' figures on real history."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from bot.adapters.sim_broker import NO_FEES
from bot.backtest.engine import BacktestCosts, run_backtest
from bot.backtest.stats import yearly_returns
from bot.bootstrap import build_runtime
from bot.cli import main
from bot.config import load_config
from bot.daemon import run_daemon
from bot.market.csv_source import load_closes_dir
from bot.market.sessions import xnys_sessions
from bot.market.synthetic import synthetic_closes
from tests.conftest import World

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT.parent / "shared" / "data" / "etf_adjclose"
needs_real_data = pytest.mark.skipif(not REAL.is_dir(), reason=f"real data not present at {REAL}")


def test_a_backtest_equals_the_day_by_day_simulated_bot(make_world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The backtest's curve is exactly the equity the daemon loop's cycles snapshot, day by day,
    on the same closes and costs (one code path: run_cycle on the simulated broker)."""
    runtime = build_runtime(load_config(ROOT / "config" / "all_in.toml"))
    closes = synthetic_closes(
        runtime.strategy.symbols, xnys_sessions(date(2025, 9, 1), date(2026, 3, 31))
    )
    start, end = date(2026, 1, 2), date(2026, 3, 31)

    costs = BacktestCosts(fees=NO_FEES, round_cents=True)  # as the daemon's broker books
    result = run_backtest(runtime, closes, start, end, costs=costs)
    world: World = make_world(closes, start=start, slippage_bps="1")
    run_daemon(world.adapters, [runtime], before_close=timedelta(minutes=15), until=end)

    daemon_equity = [float(row.equity) for row in world.tracker.equity_history(runtime.name)]
    assert len(daemon_equity) == len(result.equity) == len(xnys_sessions(start, end))
    assert list(result.equity.to_numpy()) == daemon_equity


def test_the_cli_prints_json_with_every_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`bot backtest --json` on CSV files written by the test: periods, years, costs."""
    frame = synthetic_closes(
        ["UPRO", "TMF", "SPY"], xnys_sessions(date(2019, 1, 2), date(2026, 6, 30))
    )
    for symbol in frame.columns:
        frame[[symbol]].rename(columns={symbol: "Close"}).rename_axis("Date").to_csv(
            tmp_path / f"{symbol}.csv"
        )
    curve = tmp_path / "equity.csv"

    code = main(
        [
            "backtest",
            "--config",
            str(ROOT / "config/hfea.toml"),
            "--data",
            str(tmp_path),
            "--json",
            "--equity-csv",
            str(curve),
        ]
    )

    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert set(report["periods"]) == {"all", "5y", "3y"}
    assert set(report["periods"]["all"]) == {"hfea", "SPY"}
    assert report["trades"] > 0
    assert "Ulcer in percent" in report["conventions"]
    written = pd.read_csv(curve, index_col="Date")
    assert list(written.columns) == ["hfea", "SPY"]
    # Yearly returns in the report chain the curve's year-end values (checked independently).
    hfea = written["hfea"]
    ends = hfea.groupby(pd.to_datetime(hfea.index).year).last()
    assert report["yearly_returns"]["hfea"]["2021"] == pytest.approx(ends[2021] / ends[2020] - 1)


@needs_real_data
def test_hfea_loses_about_64_percent_in_2022() -> None:
    """55/45 UPRO/TMF rebalanced on each quarter's first trading day: about −64.2% in 2022."""
    runtime = build_runtime(load_config(ROOT / "config" / "hfea.toml"))
    exact = replace(
        runtime, rules=replace(runtime.rules, cash_buffer=Decimal(0), funds_headroom=Decimal(0))
    )
    closes = load_closes_dir(REAL, ["UPRO", "TMF"])

    result = run_backtest(
        exact,
        closes,
        date(2021, 12, 31),
        date(2022, 12, 30),
        costs=BacktestCosts(slippage_bps=Decimal(0), fees=NO_FEES),
    )

    assert yearly_returns(result.equity)[2022] == pytest.approx(-0.642, abs=0.001)


@needs_real_data
def test_all_in_runs_with_all_eight_funds_from_2024_04_03() -> None:
    """All In from BITU's third close to the end of the data: it trades, holds all nine funds
    at some point, and every refused day names its cause (the DFEN 2024-06-03 glitch print)."""
    runtime = build_runtime(load_config(ROOT / "config" / "all_in.toml"))
    closes = load_closes_dir(REAL, list(runtime.strategy.symbols))

    result = run_backtest(runtime, closes, date(2024, 4, 3), date(2026, 7, 14))

    assert result.trades > 100
    assert result.equity.index[0].date() == date(2024, 4, 3)
    held = {str(s) for s in result.positions.columns if (result.positions[s] != 0).any()}
    assert held == set(runtime.strategy.symbols)
    glitch_days = {d for d, r in result.errors if "DFEN" in r and "bad-print" in r}
    assert date(2024, 6, 3) in glitch_days


@needs_real_data
def test_max_yield_shorts_vxz_in_whole_shares_throughout(tmp_path: Path) -> None:
    """Max Yield 2019–2026 on the simulated broker: every VXZ position is a whole-share short."""
    runtime = build_runtime(load_config(ROOT / "config" / "max_yield.toml"))
    closes = load_closes_dir(REAL, list(runtime.strategy.symbols))

    result = run_backtest(runtime, closes, date(2019, 1, 2), date(2026, 7, 14))

    vxz = result.positions["VXZ"]
    seen = vxz[vxz != 0]
    assert result.trades > 0
    assert len(seen), "the strategy never held VXZ"
    assert ((seen < 0) & (seen == seen.round())).all()
