"""Our fast backtester against bt (pmorissette/bt) on the same rules and closes, without costs:
the equity curves agree within 1e-9 relative on every day (the issue's bar)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("bt")

from benchmarks import bt_peers
from benchmarks.parity import (
    BASKET,
    BASKET_RANGE,
    FIXED,
    FRICTIONLESS,
    HFEA_RANGE,
    HFEA_WEIGHTS,
    REAL,
    basket_runtime,
    common_closes,
    hfea_runtime,
)
from bot.backtest.fast import run_fast_backtest
from bot.market.csv_source import load_closes_dir
from bot.market.sessions import xnys_sessions
from bot.market.synthetic import synthetic_closes

pytestmark = pytest.mark.filterwarnings("ignore:A future version of pandas")  # ffn inside bt
needs_real_data = pytest.mark.skipif(not REAL.is_dir(), reason=f"real data not present at {REAL}")
RTOL = 1e-9


def ours_and_bt_fixed(closes: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Ours from the second row (the bot needs the previous session's bar), bt from there."""
    start, end = closes.index[1].date(), closes.index[-1].date()
    ours = run_fast_backtest(hfea_runtime(), closes, start, end, costs=FRICTIONLESS).equity
    theirs = bt_peers.bt_fixed_quarterly(closes.iloc[1:], HFEA_WEIGHTS)
    return ours, theirs


def ours_and_bt_basket(
    closes: pd.DataFrame, basket: tuple[str, ...]
) -> tuple[pd.Series, pd.Series]:
    """Ours from the first day with a full lookback (the days before hold cash on both sides)."""
    runtime = basket_runtime(basket)
    first = runtime.strategy.history_closes - 1
    start, end = closes.index[first].date(), closes.index[-1].date()
    ours = run_fast_backtest(runtime, closes, start, end, costs=FRICTIONLESS).equity
    theirs = bt_peers.bt_inverse_vol_corridor(closes, list(basket), FIXED)
    assert (theirs.iloc[:first] == 100_000).all()
    return ours, theirs.iloc[first:]


def assert_curves_agree(ours: pd.Series, theirs: pd.Series) -> None:
    assert list(ours.index) == list(theirs.index)
    relative = np.abs(ours.to_numpy() / theirs.to_numpy() - 1).max()
    assert relative <= RTOL, f"curves differ by {relative:.3g} relative"


def test_quarterly_fixed_weights_agree_with_bt_on_synthetic_closes() -> None:
    closes = synthetic_closes(["UPRO", "TMF"], xnys_sessions(date(2019, 1, 2), date(2021, 12, 31)))
    ours, theirs = ours_and_bt_fixed(closes)
    assert_curves_agree(ours, theirs)
    assert ours.iloc[-1] != pytest.approx(100_000, rel=0.01)  # it did invest


def test_the_inverse_vol_corridor_agrees_with_bt_on_synthetic_closes() -> None:
    basket = ("AAA", "BBB", "CCC", "DDD")
    sessions = xnys_sessions(date(2021, 1, 4), date(2022, 12, 30))
    closes = synthetic_closes([*basket, "USFR"], sessions, seed=21)
    ours, theirs = ours_and_bt_basket(closes, basket)
    assert_curves_agree(ours, theirs)


@needs_real_data
def test_hfea_2009_2026_agrees_with_bt() -> None:
    closes = common_closes(load_closes_dir(REAL, list(HFEA_WEIGHTS)), *HFEA_RANGE)
    ours, theirs = ours_and_bt_fixed(closes)
    assert_curves_agree(ours, theirs)
    assert len(ours) > 4000


@needs_real_data
def test_the_inverse_vol_basket_2017_2026_agrees_with_bt() -> None:
    closes = common_closes(load_closes_dir(REAL, [*BASKET, *FIXED]), *BASKET_RANGE)
    ours, theirs = ours_and_bt_basket(closes, BASKET)
    assert_curves_agree(ours, theirs)
    assert len(ours) > 2000
