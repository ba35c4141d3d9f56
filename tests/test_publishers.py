"""The publishers' conventions (checked by hand on tiny series), the dating of a page's window
(checked against windows cut by plain date arithmetic), and docs/publishers.md's table, which
must be what ``python -m bot.backtest.publishers`` prints on real closes (skipped without them)."""

from __future__ import annotations

import math
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.backtest.publisher_stats import (
    TrailingFigures,
    composer_stats,
    date_composer_window,
    date_trailing_window,
    downside_deviation,
    implied_risk_free,
    log_volatility,
    logical_invest_stats,
    underwater_spells,
)
from bot.backtest.publishers import (
    BEGIN,
    END,
    Sources,
    block,
    compare,
    render_markdown,
    replace_block,
)

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data"
PAGE = ROOT / "docs" / "publishers.md"


def curve(*values: float) -> pd.Series:
    return pd.Series(values, index=pd.bdate_range("2024-01-01", periods=len(values)), dtype=float)


def test_log_volatility_by_hand() -> None:
    """Two log returns a and b: their sample std is |a − b| / √2."""
    a, b = math.log(110 / 100), math.log(99 / 110)
    assert log_volatility(curve(100, 110, 99)) == pytest.approx(
        abs(a - b) / math.sqrt(2) * math.sqrt(252)
    )


def test_log_volatility_is_not_the_simple_one() -> None:
    """+10% then −10%: simple returns 0.1, −0.1 (σ = 0.2/√2); log returns differ."""
    simple = 0.2 / math.sqrt(2) * math.sqrt(252)
    assert log_volatility(curve(100, 110, 99)) != pytest.approx(simple, rel=1e-3)


def test_downside_deviation_by_hand() -> None:
    """Returns +10%, −10%, 0: only −10% counts, but over all three days: √(0.01/3)·√252."""
    assert downside_deviation(curve(100, 110, 99, 99)) == pytest.approx(
        math.sqrt(0.01 / 3) * math.sqrt(252)
    )


def test_underwater_spells_count_rows_and_keep_the_open_one() -> None:
    """100 90 95 100 101 99 98: two days under water, back at the peak, then two open days."""
    assert underwater_spells(curve(100, 90, 95, 100, 101, 99, 98)) == [2, 2]


def test_logical_invest_ratios_by_hand() -> None:
    """Sharpe = (CAGR − rf) / log volatility; CAGR on 252 days over the 3 returns."""
    equity = curve(100, 110, 99, 108.9)
    stats = logical_invest_stats(equity, risk_free=0.025)
    cagr = 1.089 ** (252 / 3) - 1
    logs = [math.log(1.1), math.log(0.9), math.log(1.1)]
    mean = sum(logs) / 3
    vol = math.sqrt(sum((x - mean) ** 2 for x in logs) / 2) * math.sqrt(252)
    assert stats["cagr"] == pytest.approx(cagr)
    assert stats["sharpe"] == pytest.approx((cagr - 0.025) / vol)
    assert stats["max_drawdown"] == pytest.approx(-0.1)
    assert stats["max_dd_days"] == 2  # 99 then 108.9 < 110
    assert stats["ulcer"] == pytest.approx(math.sqrt((0 + 0 + 10**2 + 1**2) / 4))


def test_composer_annualises_over_the_days_in_the_curve() -> None:
    """Three closes, +21%: Composer's N is 3 (days), not 2 (returns)."""
    stats = composer_stats(curve(100, 110, 121))
    assert stats["cumulative_return"] == pytest.approx(0.21)
    assert stats["annualized_return"] == pytest.approx(1.21 ** (252 / 3) - 1)
    assert math.isclose(stats["max_drawdown"], 0.0)


def test_implied_risk_free() -> None:
    """UISx3's 5-year SPY figures: 10.3% − 0.57 × 13.6% = 2.548%."""
    assert implied_risk_free({"cagr": 0.103, "sharpe": 0.57, "volatility": 0.136}) == pytest.approx(
        0.02548
    )


def _spy(seed: int = 3) -> pd.Series:
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2010-01-01", "2020-12-31")
    return pd.Series(100 * np.cumprod(1 + rng.normal(0.0004, 0.01, len(days))), index=days)


def _figures(spy: pd.Series, end: date, years: int) -> TrailingFigures:
    """Trailing figures cut with date arithmetic: the first row on or after the same calendar
    day ``years`` earlier (no day-28 surprises in the ends chosen below)."""
    start = end.replace(year=end.year - years)
    days = [pd.Timestamp(d).date() for d in spy.index]
    window = [float(v) for d, v in zip(days, spy.to_numpy(), strict=True) if start <= d <= end]
    growth = window[-1] / window[0]
    return TrailingFigures(years, growth - 1, growth ** (252 / (len(window) - 1)) - 1)


def test_dating_finds_the_day_whose_spy_figures_were_printed() -> None:
    spy = _spy()
    end = date(2018, 6, 14)
    dated = date_trailing_window(spy, [_figures(spy, end, 5), _figures(spy, end, 3)])
    assert dated.end == end
    assert dated.distance == pytest.approx(0.0, abs=1e-12)


def test_dating_rounds_like_a_page() -> None:
    """Figures rounded to 0.1 pp still date the page within a few days."""
    spy = _spy(5)
    end = date(2017, 3, 9)
    rounded = [
        TrailingFigures(f.years, round(f.total_return, 3), round(f.cagr, 3))
        for f in (_figures(spy, end, 5), _figures(spy, end, 3))
    ]
    dated = date_trailing_window(spy, rounded)
    assert abs(dated.end - end) <= timedelta(days=7)
    assert dated.distance <= 0.0005 + 1e-12


def test_dating_a_composer_page() -> None:
    spy = _spy()
    start, end = date(2015, 3, 2), date(2016, 11, 7)
    values = spy.loc[pd.Timestamp(start) : pd.Timestamp(end)]
    cumulative = values.iloc[-1] / values.iloc[0] - 1
    annualized = (1 + cumulative) ** (252 / len(values)) - 1
    dated = date_composer_window(spy, start, cumulative, annualized)
    assert dated.end == end


def test_the_table_block_round_trips() -> None:
    page = f"intro\n{BEGIN}\nold\n{END}\nafter\n"
    new = replace_block(page, "| a |\n")
    assert new == f"intro\n{BEGIN}\n| a |\n{END}\nafter\n"
    assert block(new) == "| a |\n"
    with pytest.raises(ValueError, match="block"):
        replace_block("no markers", "x")


@pytest.mark.skipif(not REAL.is_dir(), reason=f"real data not present at {REAL}")
def test_the_docs_table_is_current_and_spy_checks_the_conventions() -> None:
    """docs/publishers.md shows exactly what the command prints on real closes; and on SPY,
    where nothing is inferred, our publisher conventions give the printed figures: the dated
    windows' SPY total returns and CAGRs within 0.25 pp, and the LI durations to the day."""
    comparison = compare(Sources(REAL / "etf_adjclose", REAL))
    assert block(PAGE.read_text(encoding="utf-8")) == render_markdown(comparison), (
        "docs/publishers.md is stale: python -m bot.backtest.publishers --data DIR "
        "--index-data ROOT --write docs/publishers.md"
    )
    assert all(d.dated.distance < 0.0025 for d in comparison.datings)
    durations = [r for r in comparison.rows if r.statistic.startswith("max days")]
    assert durations
    assert all(r.spy_ours == r.spy_published for r in durations)


def test_data_that_starts_in_2016_dates_nothing_it_cannot_reach(tmp_path: Path) -> None:
    """Closes from 2016 on, as Alpaca's bars are, and a flat SPY that matches no printed figure:
    no page is dated, so no strategy figure is made up; the HFEA tracker (2019) is still run,
    the 2000-2011 and since-2009 rows are "—"."""
    days = pd.bdate_range("2016-01-04", "2026-07-14")
    rng = np.random.default_rng(11)
    symbols = {"TECL", "BITU", "TMF", "RSST", "DFEN", "UTSL", "VXUS", "UGL", "USFR", "SPXL",
               "GLD", "VXZ", "UBT", "UPRO"}  # fmt: skip
    for symbol in symbols:
        walk = 50 * np.cumprod(1 + rng.normal(0.0003, 0.01, len(days)))
        pd.DataFrame({"Date": days.strftime("%Y-%m-%d"), "Close": walk}).to_csv(
            tmp_path / f"{symbol}.csv", index=False
        )
    pd.DataFrame({"Date": days.strftime("%Y-%m-%d"), "Close": 100.0}).to_csv(
        tmp_path / "SPY.csv", index=False
    )
    comparison = compare(Sources(tmp_path, None))
    assert not any(d.accepted for d in comparison.datings)
    strategies = [r for r in comparison.rows if r.strategy in ("All In", "UISx3", "Max Yield")]
    assert strategies
    assert all(r.ours is None for r in strategies)
    tracker = [r for r in comparison.rows if r.strategy.endswith("(tracker)")]
    assert len(tracker) == 3
    assert all(r.ours is not None for r in tracker)
    early = ("HFEA 40/60 SIMULATED", "S&P 500 (SPY)", "UPRO")
    rest = [r for r in comparison.rows if r.strategy in early]
    assert len(rest) == 4
    assert all(r.ours is None for r in rest)
    assert "not dated" in render_markdown(comparison)
