"""The bt reference peers (benchmarks/bt_peers.py) against tiny plain-numpy loops of the same rules.

Seeded synthetic geometric random walks only; the expected equity is computed here without bt.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import pytest

bt = pytest.importorskip("bt")

from benchmarks import bt_peers  # noqa: E402 - only importable when bt is installed

pytestmark = pytest.mark.filterwarnings(
    "ignore:A future version of pandas will return a BaseOffset"  # ffn, inside bt.run
)

RTOL = 1e-9
INITIAL = 100_000.0


def random_walk(
    symbols: Sequence[str], start: str, rows: int, seed: int, vol: float = 0.02
) -> pd.DataFrame:
    """Seeded geometric random walk closes on business days."""
    rng = np.random.default_rng(seed)
    index = pd.bdate_range(start, periods=rows)
    steps = rng.normal(0.0003, vol, size=(rows, len(symbols)))
    prices = 50.0 * np.exp(np.cumsum(steps, axis=0)) * rng.uniform(0.5, 2.0, len(symbols))
    return pd.DataFrame(prices, index=index, columns=list(symbols))


def expected_quarter_trades(index: pd.Index) -> list[pd.Timestamp]:
    """First row, then every row that opens a January/April/July/October month."""
    dates = [pd.Timestamp(d) for d in index]
    days = [dates[0]]
    days += [
        now
        for prev, now in itertools.pairwise(dates)
        if now.month in (1, 4, 7, 10) and (now.year, now.month) != (prev.year, prev.month)
    ]
    return days


Decide = Callable[[int, np.ndarray], np.ndarray | None]


def simulate(
    prices: np.ndarray, decide: Decide, initial: float = INITIAL
) -> tuple[np.ndarray, list[int]]:
    """Cash plus fractional quantities; ``decide(t, current weights)`` gives targets or None."""
    quantities = np.zeros(prices.shape[1])
    cash = initial
    curve = np.empty(len(prices))
    traded: list[int] = []
    for t, row in enumerate(prices):
        value = cash + float(quantities @ row)
        target = decide(t, quantities * row / value)
        if target is not None:
            quantities = target * value / row
            cash = value - float(quantities @ row)
            traded.append(t)
        curve[t] = cash + float(quantities @ row)
    return curve, traded


def fixed_reference(
    closes: pd.DataFrame, weights: dict[str, float]
) -> tuple[pd.Series, list[pd.Timestamp]]:
    prices = closes[list(weights)].to_numpy()
    trade_rows = {closes.index.get_loc(d) for d in expected_quarter_trades(closes.index)}
    target = np.array(list(weights.values()))

    def decide(t: int, _current: np.ndarray) -> np.ndarray | None:
        return target if t in trade_rows else None

    curve, traded = simulate(prices, decide)
    return pd.Series(curve, index=closes.index), [closes.index[t] for t in traded]


def population_std(values: Sequence[float]) -> float:
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))


def inverse_vol_reference(
    closes: pd.DataFrame,
    basket: list[str],
    fixed: dict[str, float],
    *,
    basket_weight: float = 0.85,
    lookback: int = 2,
    width: float = 0.01,
) -> tuple[pd.Series, list[pd.Timestamp]]:
    symbols = [*basket, *fixed]
    prices = closes[symbols].to_numpy()
    n = len(basket)

    def decide(t: int, current: np.ndarray) -> np.ndarray | None:
        if t < lookback:
            return None
        sigmas = []
        for j in range(n):
            window = prices[t - lookback : t + 1, j]
            sigmas.append(population_std([b / a - 1.0 for a, b in itertools.pairwise(window)]))
        if min(sigmas) <= 1e-6:  # the bot's default vol_floor with zero_vol_policy skip_day
            return None
        inverse = [1.0 / s for s in sigmas]
        basket_part = [basket_weight * x / sum(inverse) for x in inverse]
        target = np.array(basket_part + list(fixed.values()))
        if not current.any() or np.abs(current - target).max() > width:
            return target
        return None

    curve, traded = simulate(prices, decide)
    return pd.Series(curve, index=closes.index), [closes.index[t] for t in traded]


def assert_curves_agree(actual: pd.Series, expected: pd.Series) -> None:
    assert actual.index.equals(expected.index)
    assert actual.dtype == np.float64
    np.testing.assert_allclose(actual.to_numpy(), expected.to_numpy(), rtol=RTOL, atol=0.0)


@pytest.mark.parametrize(
    ("weights", "start", "rows", "seed"),
    [
        ({"UPRO": 0.55, "TMF": 0.45}, "2020-11-16", 300, 1),  # starts mid-quarter
        ({"A": 0.5, "B": 0.3, "C": 0.1}, "2021-01-01", 320, 2),  # 10% cash; starts on a Q1 start
        ({"A": 0.25, "B": 0.25, "C": 0.25, "D": 0.25}, "2019-03-29", 280, 3),
    ],
)
def test_fixed_quarterly_matches_plain_loop(
    weights: dict[str, float], start: str, rows: int, seed: int
) -> None:
    closes = random_walk(list(weights), start, rows, seed)
    backtest = bt_peers.build_fixed_quarterly(closes, weights)
    curve = bt_peers.run(backtest)
    expected, expected_trades = fixed_reference(closes, weights)
    assert_curves_agree(curve, expected)
    traded = bt_peers.trade_dates(backtest)
    assert list(traded) == expected_trades
    assert list(traded) == expected_quarter_trades(closes.index)
    assert curve.iloc[0] == pytest.approx(INITIAL, rel=1e-12)  # no costs on the initial trade


def test_fixed_quarterly_trades_a_quarter_start_on_the_last_row() -> None:
    """bt's RunQuarterly returns run_on_last_date on the last row; ours compares dates there too."""
    closes = random_walk(["A", "B"], "2021-02-01", 300, 4)
    closes = closes.loc[: pd.Timestamp("2022-01-03")]  # first trading day of 2022Q1 is the last row
    weights = {"A": 0.6, "B": 0.4}
    backtest = bt_peers.build_fixed_quarterly(closes, weights)
    curve = bt_peers.run(backtest)
    assert bt_peers.trade_dates(backtest)[-1] == closes.index[-1]
    assert_curves_agree(curve, fixed_reference(closes, weights)[0])


def test_fixed_quarterly_leaves_the_unweighted_remainder_in_cash() -> None:
    closes = random_walk(["A", "B"], "2021-05-03", 200, 5)
    backtest = bt_peers.build_fixed_quarterly(closes, {"A": 0.3, "B": 0.2})
    curve = bt_peers.run(backtest)
    cash = backtest.strategy.cash.iloc[1:]
    for day in expected_quarter_trades(closes.index):
        assert cash[day] == pytest.approx(0.5 * curve[day], rel=1e-12)


@pytest.mark.parametrize(
    ("lookback", "width", "seed"),
    [(2, 0.01, 11), (2, 0.05, 12), (5, 0.03, 13), (10, 0.02, 14)],
)
def test_inverse_vol_corridor_matches_plain_loop(lookback: int, width: float, seed: int) -> None:
    basket, fixed = ["A", "B", "C"], {"D": 0.15}
    closes = random_walk([*basket, *fixed], "2020-06-01", 300, seed)
    closes["D"] = 100.0 * np.exp(np.arange(300) * 0.0002)  # a T-bill-like fund
    backtest = bt_peers.build_inverse_vol_corridor(
        closes, basket, fixed, lookback=lookback, width=width
    )
    curve = bt_peers.run(backtest)
    expected, expected_trades = inverse_vol_reference(
        closes, basket, fixed, lookback=lookback, width=width
    )
    assert_curves_agree(curve, expected)
    traded = list(bt_peers.trade_dates(backtest))
    assert traded == expected_trades
    assert traded[0] == closes.index[lookback]  # first computable day
    assert (curve.iloc[:lookback] == INITIAL).all()  # cash before it
    assert 1 < len(traded) < len(closes) - lookback  # the corridor both trades and holds


def test_inverse_vol_lands_on_exact_targets_on_trade_days() -> None:
    basket, fixed = ["A", "B", "C", "E"], {"D": 0.1}
    closes = random_walk([*basket, *fixed], "2021-01-04", 120, 21)
    backtest = bt_peers.build_inverse_vol_corridor(
        closes, basket, fixed, basket_weight=0.8, lookback=3, width=0.02
    )
    curve = bt_peers.run(backtest)
    values = pd.DataFrame({c.name: c.values for c in backtest.strategy.securities}).iloc[1:]
    for day in bt_peers.trade_dates(backtest):
        window = closes[basket].loc[:day].iloc[-4:]  # 3 returns
        inverse = 1.0 / window.pct_change().iloc[1:].std(ddof=0)
        basket_weights = 0.8 * inverse / inverse.sum()
        target = {**{str(s): float(w) for s, w in basket_weights.items()}, **fixed}
        for symbol, weight in target.items():
            assert values.loc[day, symbol] / curve[day] == pytest.approx(weight, rel=1e-12)


def test_inverse_vol_holds_on_a_zero_volatility_day() -> None:
    basket, fixed = ["A", "B", "C"], {"D": 0.15}
    closes = random_walk([*basket, *fixed], "2020-06-01", 60, 31)
    # B's returns on rows 19 and 20 are equal: σ_B = 0 on row 20 with a 2-day lookback.
    b = closes["B"].to_numpy().copy()
    b[20] = b[19] * (b[19] / b[18])
    closes["B"] = b
    backtest = bt_peers.build_inverse_vol_corridor(closes, basket, fixed, width=0.0)
    curve = bt_peers.run(backtest)
    traded = bt_peers.trade_dates(backtest)
    assert closes.index[20] not in traded
    assert closes.index[19] in traded  # width 0: otherwise a trade every day
    assert closes.index[21] in traded
    assert_curves_agree(curve, inverse_vol_reference(closes, basket, fixed, width=0.0)[0])


def test_convenience_functions_return_the_same_curves() -> None:
    closes = random_walk(["A", "B", "C", "D"], "2020-06-01", 150, 41)
    fixed_curve = bt_peers.bt_fixed_quarterly(closes, {"A": 0.55, "B": 0.45})
    assert fixed_curve.index.equals(closes.index)
    assert_curves_agree(fixed_curve, fixed_reference(closes, {"A": 0.55, "B": 0.45})[0])
    curve = bt_peers.bt_inverse_vol_corridor(closes, ["A", "B", "C"], {"D": 0.15}, width=0.02)
    assert curve.index.equals(closes.index)
    expected = inverse_vol_reference(closes, ["A", "B", "C"], {"D": 0.15}, width=0.02)[0]
    assert_curves_agree(curve, expected)


def test_incomplete_closes_are_refused() -> None:
    closes = random_walk(["A", "B"], "2020-06-01", 30, 51)
    closes.iloc[5, 1] = np.nan
    with pytest.raises(ValueError, match="finite"):
        bt_peers.build_fixed_quarterly(closes, {"A": 0.5, "B": 0.5})
    with pytest.raises(ValueError, match="no column"):
        bt_peers.build_fixed_quarterly(closes, {"A": 0.5, "Z": 0.5})
