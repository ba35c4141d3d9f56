"""A year of the four seeds in one account on the simulated broker, beside each strategy run
alone on its share of the money: each sleeve's curve stays within what the strategy's own fees
and slippage could move it (netting saves some of them), and the sleeves sum to the account."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from bot.backtest.engine import BacktestCosts, run_backtest
from bot.backtest.portfolio import run_portfolio_backtest
from bot.bootstrap import build_portfolio_runtime, fee_schedule
from bot.market.csv_source import load_closes_dir
from bot.market.sessions import xnys_sessions
from bot.market.synthetic import synthetic_closes
from bot.portfolio.config import load_portfolio

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT.parent / "shared" / "data" / "etf_adjclose"
START, END = date(2025, 1, 2), date(2025, 12, 31)


def costs(cash: Decimal) -> BacktestCosts:
    return BacktestCosts(
        initial_cash=cash,
        slippage_bps=Decimal(2),
        fees=fee_schedule("current"),
        margin_multiplier=Decimal(2),
    )


def compare(closes: object) -> list[tuple[str, float, float, float]]:
    runtime = build_portfolio_runtime(load_portfolio(ROOT / "config" / "portfolio.toml"))
    together = run_portfolio_backtest(runtime, closes, START, END, costs=costs(Decimal(100_000)))  # type: ignore[arg-type]
    assert not together.errors, together.errors[:3]
    sums = together.sleeves.sum(axis=1)
    assert ((sums - together.equity).abs() / together.equity).max() < 1e-9
    assert together.sent_turnover <= together.wanted_turnover
    rows = []
    for sleeve in runtime.sleeves:
        alone = run_backtest(
            sleeve.runtime,
            closes,
            START,
            END,
            costs=costs(Decimal(100_000) * sleeve.share),  # type: ignore[arg-type]
        )
        mine = together.sleeves[sleeve.name]
        gap = float(mine.iloc[-1] - alone.equity.iloc[-1])
        own_costs = float(alone.fees + alone.slippage)
        assert abs(gap) <= own_costs, (sleeve.name, gap, own_costs)
        assert ((mine - alone.equity).abs() / alone.equity).max() < 1e-3, sleeve.name
        rows.append((sleeve.name, float(alone.equity.iloc[-1]), gap, own_costs))
    return rows


def test_a_year_of_the_four_seeds_together_equals_each_alone_within_its_costs() -> None:
    runtime = build_portfolio_runtime(load_portfolio(ROOT / "config" / "portfolio.toml"))
    sessions = xnys_sessions(date(2024, 6, 3), END)
    closes = synthetic_closes(list(runtime.funds), sessions, seed=3)
    rows = compare(closes)
    assert len(rows) == 4


@pytest.mark.skipif(not REAL.is_dir(), reason=f"real data not present at {REAL}")
def test_the_same_on_the_real_funds_in_2025() -> None:
    runtime = build_portfolio_runtime(load_portfolio(ROOT / "config" / "portfolio.toml"))
    rows = compare(load_closes_dir(REAL, list(runtime.funds)))
    assert len(rows) == 4
