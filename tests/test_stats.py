"""Statistics: against ffn and quantstats where their conventions match ours, by hand where
they do not, and against the published SPY figures on real data."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.backtest.stats import (
    Conventions,
    compute_stats,
    drawdown_episodes,
    trailing,
    yearly_returns,
)

ffn = pytest.importorskip("ffn")
qs = pytest.importorskip("quantstats")
REAL = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "etf_adjclose"


@pytest.fixture
def curve() -> pd.Series:
    """Ten years of a seeded random business-day equity curve."""
    rng = np.random.default_rng(3)
    index = pd.bdate_range("2015-01-02", periods=2608)
    return pd.Series(100 * np.cumprod(1 + rng.normal(0.0006, 0.012, len(index))), index=index)


def test_volatility_sharpe_and_max_drawdown_agree_with_ffn_and_quantstats(curve: pd.Series) -> None:
    """Where all three libraries agree (ddof 1, √252, running peak), so do we."""
    ours = compute_stats(curve)
    theirs = ffn.calc_stats(curve)
    r = curve.pct_change().dropna()

    assert ours.volatility == pytest.approx(theirs.daily_vol, rel=1e-12)
    assert ours.volatility == pytest.approx(qs.stats.volatility(r), rel=1e-12)
    assert ours.sharpe == pytest.approx(theirs.daily_sharpe, rel=1e-12)
    assert ours.sharpe == pytest.approx(qs.stats.sharpe(r), rel=1e-12)
    assert ours.max_drawdown == pytest.approx(theirs.max_drawdown, rel=1e-12)
    assert ours.max_drawdown == pytest.approx(qs.stats.max_drawdown(r), rel=1e-12)


def test_cagr_bases_match_the_library_that_uses_each(curve: pd.Series) -> None:
    """Trading-day CAGR equals quantstats 0.0.86 (count/252); calendar CAGR equals ffn."""
    r = curve.pct_change().dropna()

    assert compute_stats(curve).cagr == pytest.approx(qs.stats.cagr(r), rel=1e-12)
    calendar = compute_stats(curve, Conventions(cagr_basis="calendar_365.25")).cagr
    assert calendar == pytest.approx(ffn.calc_stats(curve).cagr, rel=1e-9)


def test_ulcer_is_ffns_percent_and_quantstats_fraction_differs_only_by_convention(
    curve: pd.Series,
) -> None:
    """Ulcer: ffn's percent over N days; quantstats' is a fraction over N − 1 (documented)."""
    ours = compute_stats(curve).ulcer_index
    n = len(curve)

    assert ours == pytest.approx(ffn.to_ulcer_index(curve), rel=1e-12)
    # quantstats: a fraction, divisor N − 1 and a phantom baseline; the same within 0.1%.
    assert ours / 100 * math.sqrt(n / (n - 1)) == pytest.approx(
        qs.stats.ulcer_index(curve.pct_change().dropna()), rel=1e-3
    )


def test_sortino_target_zero_matches_quantstats_and_semideviation_is_the_default(
    curve: pd.Series,
) -> None:
    """Sortino with downside vs 0 over all days = quantstats; the default (LI's
    semi-deviation of negative days) differs, deliberately."""
    r = curve.pct_change().dropna()
    target0 = compute_stats(curve, Conventions(downside="target0")).sortino

    assert target0 == pytest.approx(qs.stats.sortino(r), rel=1e-12)
    negatives = r[r < 0]
    semidev = negatives.std(ddof=1) * math.sqrt(252)
    assert compute_stats(curve).sortino == pytest.approx(r.mean() * 252 / semidev, rel=1e-12)


def test_drawdown_durations_are_ffns_calendar_days(curve: pd.Series) -> None:
    """Episode length = calendar days from the first day under water to recovery (ffn)."""
    details = ffn.core.drawdown_details(ffn.to_drawdown_series(curve))
    ours = compute_stats(curve)

    assert ours.max_drawdown_days == details["Length"].max()
    assert ours.avg_drawdown_days == pytest.approx(details["Length"].mean(), rel=1e-12)


def test_a_hand_computed_curve() -> None:
    """100 → 110 → 99 → 121: returns +10%, −10%, +22.2…%; one drawdown from day 2 to day 3."""
    index = pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"])
    equity = pd.Series([100.0, 110.0, 99.0, 121.0], index=index)

    stats = compute_stats(equity)

    assert stats.total_return == pytest.approx(0.21)
    assert stats.cagr == pytest.approx(1.21 ** (252 / 3) - 1)
    assert stats.max_drawdown == pytest.approx(99 / 110 - 1)
    # DD: 0, 0, −0.1, 0 → Ulcer = √(mean(0, 0, 100, 0)) = √25 = 5 percent
    assert stats.ulcer_index == pytest.approx(5.0)
    assert drawdown_episodes(equity) == [(index[2].date(), index[3].date(), pytest.approx(-0.1))]
    assert stats.max_drawdown_days == 1


def test_yearly_returns_and_trailing_windows() -> None:
    """Year returns chain from the last value of the previous year; trailing windows cut by
    calendar years."""
    index = pd.to_datetime(["2020-06-01", "2020-12-31", "2021-06-30", "2021-12-31"])
    equity = pd.Series([100.0, 120.0, 90.0, 108.0], index=index)

    assert yearly_returns(equity) == {2020: pytest.approx(0.2), 2021: pytest.approx(-0.1)}
    window = trailing(equity, 1)
    assert window is not None
    assert list(window.index) == list(index[1:])
    assert trailing(equity, 3) is None


@pytest.mark.skipif(not REAL.is_dir(), reason=f"real data not present at {REAL}")
def test_spy_2008_and_the_great_financial_crisis_drawdown() -> None:
    """SPY (adjusted): −36.80% in calendar 2008; max drawdown −55.19% from 2007-10-09 to
    2009-03-09 (the data README's sanity figures)."""
    spy = pd.read_csv(REAL / "SPY.csv", parse_dates=["Date"], index_col="Date")["Close"]

    assert yearly_returns(spy.loc["2007-12-31":"2008-12-31"])[2008] == pytest.approx(
        -0.3680, abs=5e-5
    )
    window = spy.loc["2007-01-01":"2012-12-31"]
    assert compute_stats(window).max_drawdown == pytest.approx(-0.5519, abs=5e-5)
    dd = window / window.cummax() - 1
    assert dd.idxmin().date().isoformat() == "2009-03-09"
    assert window.loc[: dd.idxmin()].idxmax().date().isoformat() == "2007-10-09"
