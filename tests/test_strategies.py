"""Behaviour of the pure strategies, checked against hand arithmetic or independent brute force."""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Literal

import numpy as np
import pandas as pd
import pytest

from strategies import (
    BadPriceError,
    FixedWeights,
    InsufficientHistoryError,
    InverseVolatility,
    Leg,
    MissingSymbolError,
    ModifiedSharpeMix,
    NoDecisionError,
    StrategyError,
    TargetWeights,
)
from strategies.inverse_vol import _population_std
from strategies.modified_sharpe import ReturnsKind, mix_grid, score_mixes

# Tue, Wed, Thu, Fri, Mon, Tue (2024-01-09..16 skipping the weekend of the 13th/14th).
DAYS = ("2024-01-09", "2024-01-10", "2024-01-11", "2024-01-12", "2024-01-15", "2024-01-16")


def frame(
    columns: Mapping[str, Sequence[float]], days: Sequence[str] | None = None
) -> pd.DataFrame:
    """Build a closes frame whose rows are the last ``len(column)`` of ``days`` (default DAYS)."""
    n = len(next(iter(columns.values())))
    index = pd.DatetimeIndex(list(days if days is not None else DAYS[:n]))
    return pd.DataFrame({s: list(map(float, v)) for s, v in columns.items()}, index=index)


def day(text: str) -> date:
    """Parse an ISO date (keeps the tests readable)."""
    return date.fromisoformat(text)


# --------------------------------------------------------------------------- FixedWeights


HFEA = {"UPRO": 0.55, "TMF": 0.45}


def test_fixed_returns_the_configured_weights() -> None:
    """HFEA's 55/45 comes back unchanged whatever the prices, with no cash left over."""
    closes = frame({"UPRO": [60, 61, 59], "TMF": [7, 6.8, 7.1]})
    result = FixedWeights(HFEA).target_weights(closes, day(DAYS[2]))
    assert dict(result.weights) == HFEA
    assert result.cash == pytest.approx(0.0)
    assert result.notes == ()


def test_fixed_needs_only_one_close() -> None:
    """history_closes is 1: a single usable close today is enough to trade a fixed mix."""
    strategy = FixedWeights(HFEA)
    assert strategy.history_closes == 1
    assert strategy.symbols == ("UPRO", "TMF")
    closes = frame({"UPRO": [60], "TMF": [7]})
    assert dict(strategy.target_weights(closes, day(DAYS[0])).weights) == HFEA


def test_fixed_missing_symbol_raises() -> None:
    """A symbol absent from the price history stops the trade instead of being skipped."""
    closes = frame({"UPRO": [60, 61]})
    with pytest.raises(MissingSymbolError, match="TMF"):
        FixedWeights(HFEA).target_weights(closes, day(DAYS[1]))


@pytest.mark.parametrize("bad", [0.0, -1.0, math.inf])
def test_fixed_unusable_close_today_raises(bad: float) -> None:
    """A zero, negative or infinite close today is a bad price, not a reason to trade blindly."""
    closes = frame({"UPRO": [60, 61], "TMF": [7, bad]})
    with pytest.raises(BadPriceError, match="TMF"):
        FixedWeights(HFEA).target_weights(closes, day(DAYS[1]))


def test_fixed_nan_close_today_stops_the_trade() -> None:
    """A NaN close today raises a StrategyError naming the symbol, so the engine does not trade.

    With a one-close window base.closes_window cannot tell "no close today" from "listed later",
    and reports InsufficientHistoryError; either way it is a StrategyError.
    """
    closes = frame({"UPRO": [60, 61], "TMF": [7, math.nan]})
    with pytest.raises(StrategyError, match="TMF"):
        FixedWeights(HFEA).target_weights(closes, day(DAYS[1]))


def test_nan_close_inside_a_longer_window_is_a_bad_price() -> None:
    """A NaN between usable closes (a hole in the feed) is a BadPriceError naming the date."""
    closes = abc_frame()
    closes.loc[pd.Timestamp(DAYS[1]), "B"] = math.nan
    with pytest.raises(BadPriceError, match=f"B close on {DAYS[1]}"):
        all_in().target_weights(closes, day(DAYS[2]))


def test_fixed_ignores_a_bad_close_before_today() -> None:
    """Only today's close matters to a fixed mix: yesterday's NaN is outside its window."""
    closes = frame({"UPRO": [60, 61], "TMF": [math.nan, 7]})
    assert dict(FixedWeights(HFEA).target_weights(closes, day(DAYS[1])).weights) == HFEA


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({}, "at least one"),
        ({"UPRO": math.nan}, "finite"),
        ({"UPRO": math.inf}, "finite"),
        ({"": 1.0}, "non-empty"),
        ({"  ": 1.0}, "non-empty"),
        ({"UPRO": 55.0, "TMF": 45.0}, "gross"),
    ],
)
def test_fixed_rejects_bad_configuration(weights: dict[str, float], message: str) -> None:
    """Typos (percent instead of fractions, NaN, blank symbols) fail at construction."""
    with pytest.raises(ValueError, match=message):
        FixedWeights(weights)


def test_fixed_weights_cannot_be_mutated_through_the_caller_dict() -> None:
    """The strategy copies its weights, so editing the caller's dict later changes nothing."""
    weights = dict(HFEA)
    strategy = FixedWeights(weights)
    weights["UPRO"] = 0.9
    assert dict(strategy.weights) == HFEA


# --------------------------------------------------------------------------- InverseVolatility

# Three closes per asset (lookback 2 → two returns), chosen so σ_pop = |r1 − r2| / 2 is round:
#   A: 100 → 110 → 99      r = +0.10, −0.10   σ = 0.10   1/σ = 10
#   B: 100 → 105 → 99.75   r = +0.05, −0.05   σ = 0.05   1/σ = 20
#   C: 100 → 130 → 117     r = +0.30, −0.10   σ = 0.20   1/σ = 5
# Σ 1/σ = 35, so A = 0.85·10/35 = 0.85·2/7, B = 0.85·4/7, C = 0.85·1/7, USFR = 0.15; Σ = 1.
A_CLOSES = [100.0, 110.0, 99.0]
B_CLOSES = [100.0, 105.0, 99.75]
C_CLOSES = [100.0, 130.0, 117.0]
EXPECTED_ABC = {"A": 0.85 * 2 / 7, "B": 0.85 * 4 / 7, "C": 0.85 * 1 / 7, "USFR": 0.15}


def all_in(**kwargs: object) -> InverseVolatility:
    """The All-In shape on a three-fund basket: 85% inverse-vol, 15% USFR."""
    return InverseVolatility(basket=("A", "B", "C"), **kwargs)  # type: ignore[arg-type]


def abc_frame() -> pd.DataFrame:
    """Tue/Wed/Thu closes of A, B, C and a flat USFR."""
    return frame({"A": A_CLOSES, "B": B_CLOSES, "C": C_CLOSES, "USFR": [50, 50.01, 50.02]})


def assert_weights(result: TargetWeights, expected: dict[str, float]) -> None:
    """Same symbols, each weight equal to the hand value within float noise."""
    assert set(result.weights) == set(expected)
    for symbol, weight in expected.items():
        assert result.weights[symbol] == pytest.approx(weight, rel=1e-9, abs=1e-12), symbol


def test_inverse_vol_hand_computed_weights() -> None:
    """w_i = 0.85·(1/σ_i)/Σ(1/σ_j) with σ the population std of two simple returns; USFR 0.15."""
    result = all_in().target_weights(abc_frame(), day(DAYS[2]))
    assert_weights(result, EXPECTED_ABC)
    assert result.weights["USFR"] == 0.15
    assert sum(result.weights.values()) == pytest.approx(1.0)
    assert result.notes == ()


def test_inverse_vol_reads_lookback_plus_one_closes() -> None:
    """A 2-day lookback needs 3 closes; the basket comes first, then the fixed sleeve."""
    strategy = all_in()
    assert strategy.history_closes == 3
    assert strategy.symbols == ("A", "B", "C", "USFR")


def test_inverse_vol_ignores_rows_after_as_of() -> None:
    """Closes dated after as_of (here a wild next-day row) cannot change today's weights."""
    closes = abc_frame()
    closes.loc[pd.Timestamp(DAYS[3])] = [1.0, 500.0, 3.0, 40.0]
    assert_weights(all_in().target_weights(closes, day(DAYS[2])), EXPECTED_ABC)


def test_inverse_vol_ignores_rows_before_the_window() -> None:
    """Only the last lookback+1 rows count: an older wild close is outside the window."""
    closes = frame(
        {
            "A": [1.0, *A_CLOSES],
            "B": [900.0, *B_CLOSES],
            "C": [7.0, *C_CLOSES],
            "USFR": [50, 50, 50, 50],
        }
    )
    assert_weights(all_in().target_weights(closes, day(DAYS[3])), EXPECTED_ABC)


def test_inverse_vol_counts_trading_rows_not_calendar_days() -> None:
    """On a Monday a 2-day lookback uses the Thu, Fri and Mon closes, not Sat/Sun (no rows)."""
    thu_fri_mon = frame(
        {
            "A": [5.0, *A_CLOSES],
            "B": [5.0, *B_CLOSES],
            "C": [5.0, *C_CLOSES],
            "USFR": [50, 50, 50, 50],
        },
        days=("2024-01-10", "2024-01-11", "2024-01-12", "2024-01-15"),
    )
    monday = day("2024-01-15")
    assert monday.weekday() == 0
    assert_weights(all_in().target_weights(thu_fri_mon, monday), EXPECTED_ABC)


def test_inverse_vol_fund_listed_later_is_insufficient_history() -> None:
    """A basket fund with only two closes (listed yesterday) cannot be weighted; it is named."""
    closes = abc_frame()
    closes.loc[pd.Timestamp(DAYS[0]), "C"] = math.nan
    with pytest.raises(InsufficientHistoryError, match="C"):
        all_in().target_weights(closes, day(DAYS[2]))


def test_inverse_vol_too_few_rows_is_insufficient_history() -> None:
    """Two rows in total cannot give two returns."""
    closes = abc_frame().iloc[1:]
    with pytest.raises(InsufficientHistoryError):
        all_in().target_weights(closes, day(DAYS[2]))


def test_inverse_vol_fixed_sleeve_needs_only_todays_close() -> None:
    """USFR's weight is fixed, so a USFR listed today does not block the basket."""
    closes = abc_frame()
    closes.loc[[pd.Timestamp(DAYS[0]), pd.Timestamp(DAYS[1])], "USFR"] = math.nan
    assert_weights(all_in().target_weights(closes, day(DAYS[2])), EXPECTED_ABC)


def test_inverse_vol_bad_fixed_sleeve_close_today_raises() -> None:
    """A zero USFR close today is still a bad price, although USFR's weight is fixed."""
    closes = abc_frame()
    closes.loc[pd.Timestamp(DAYS[2]), "USFR"] = 0.0
    with pytest.raises(BadPriceError, match="USFR"):
        all_in().target_weights(closes, day(DAYS[2]))


def test_inverse_vol_missing_fixed_symbol_raises() -> None:
    """No USFR column at all is a missing symbol, not a 0% sleeve."""
    closes = abc_frame().drop(columns=["USFR"])
    with pytest.raises(MissingSymbolError, match="USFR"):
        all_in().target_weights(closes, day(DAYS[2]))


def test_inverse_vol_three_day_lookback() -> None:
    """lookback_days=3 uses three returns; σ_pop by hand for a symmetric pattern.

    A: 100, 110, 99, 108.9 → r = +0.1, −0.1, +0.1: mean 1/30, deviations 2/30, −4/30, 2/30 →
       σ² = (4 + 16 + 4)/900/3 = 24/2700, σ ≈ 0.0943 (re-derived below with statistics.pstdev).
    B: 100, 105, 99.75, 104.7375 → r = +0.05, −0.05, +0.05: exactly half of A's σ.
    So 1/σ_B = 2/σ_A and A gets 1/3 of the basket, B 2/3.
    """
    closes = frame({"A": [100, 110, 99, 108.9], "B": [100, 105, 99.75, 104.7375], "USFR": [1] * 4})
    result = InverseVolatility(basket=("A", "B"), lookback_days=3).target_weights(
        closes, day(DAYS[3])
    )
    sigma_a = statistics.pstdev([0.1, -0.1, 0.1])
    sigma_b = statistics.pstdev([0.05, -0.05, 0.05])
    inv_a, inv_b = 1 / sigma_a, 1 / sigma_b
    assert_weights(
        result,
        {"A": 0.85 * inv_a / (inv_a + inv_b), "B": 0.85 * inv_b / (inv_a + inv_b), "USFR": 0.15},
    )
    assert result.weights["A"] == pytest.approx(0.85 / 3)


# Z repeats its close (a stale feed): r = 0, 0 → σ = 0 ≤ vol_floor.
ZERO_VOL: dict[str, list[float]] = {
    "A": A_CLOSES,
    "B": B_CLOSES,
    "Z": [40.0, 40.0, 40.0],
    "USFR": [50.0, 50.0, 50.0],
}


def zero_vol_result(policy: str) -> TargetWeights:
    """Weights for basket A, B, Z (Z flat) under ``policy``."""
    strategy = InverseVolatility(basket=("A", "B", "Z"), zero_vol_policy=policy)  # type: ignore[arg-type]
    return strategy.target_weights(frame(ZERO_VOL), day(DAYS[2]))


def test_zero_vol_skip_day_is_the_default_and_declines() -> None:
    """By default a σ = 0 asset means no decision today; the message names it and why."""
    strategy = InverseVolatility(basket=("A", "B", "Z"))
    assert strategy.zero_vol_policy == "skip_day"
    with pytest.raises(NoDecisionError, match="Z") as info:
        strategy.target_weights(frame(ZERO_VOL), day(DAYS[2]))
    assert "stale" in str(info.value)
    assert "hold" in str(info.value)


def test_zero_vol_floor_gives_the_flat_fund_almost_all_the_basket() -> None:
    """policy floor uses σ_Z = 1e-6: 1/σ = 10, 20, 1e6 → Z ≈ 0.85·1e6/(1e6 + 30)."""
    result = zero_vol_result("floor")
    total = 10 + 20 + 1e6
    assert_weights(
        result,
        {"A": 0.85 * 10 / total, "B": 0.85 * 20 / total, "Z": 0.85 * 1e6 / total, "USFR": 0.15},
    )
    assert result.weights["Z"] > 0.8499
    assert result.notes == ("zero volatility for Z (σ=0 ≤ vol_floor 1e-06); policy floor",)


def test_zero_vol_equal_weight_splits_the_basket_evenly() -> None:
    """policy equal_weight: each of the three basket funds gets 0.85/3 today."""
    result = zero_vol_result("equal_weight")
    assert_weights(result, {"A": 0.85 / 3, "B": 0.85 / 3, "Z": 0.85 / 3, "USFR": 0.15})
    assert result.notes == ("zero volatility for Z (σ=0 ≤ vol_floor 1e-06); policy equal_weight",)


def test_zero_vol_exclude_drops_the_fund_and_renormalises() -> None:
    """policy exclude: Z = 0 (still listed so the engine sells it); A:B = 10:20 of 0.85."""
    result = zero_vol_result("exclude")
    assert_weights(result, {"A": 0.85 * 10 / 30, "B": 0.85 * 20 / 30, "Z": 0.0, "USFR": 0.15})
    assert sum(result.weights.values()) == pytest.approx(1.0)
    assert len(result.notes) == 1
    assert "Z" in result.notes[0]
    assert "exclude" in result.notes[0]


def test_zero_vol_exclude_with_every_fund_flat_declines() -> None:
    """If exclude would leave nothing to weight, there is no decision (not a 0.85 cash hole)."""
    closes = frame({"Y": [3, 3, 3], "Z": [4, 4, 4], "USFR": [5, 5, 5]})
    strategy = InverseVolatility(basket=("Y", "Z"), zero_vol_policy="exclude")
    with pytest.raises(NoDecisionError, match="Y, Z"):
        strategy.target_weights(closes, day(DAYS[2]))


def test_zero_vol_threshold_is_inclusive_of_the_floor() -> None:
    """A σ below the floor but above 0 (returns +1e-7 apart) still counts as zero volatility."""
    near_flat = {**ZERO_VOL, "Z": [40.0, 40.0, 40.0 * (1 + 2e-7)]}
    strategy = InverseVolatility(basket=("A", "B", "Z"), zero_vol_policy="equal_weight")
    result = strategy.target_weights(frame(near_flat), day(DAYS[2]))
    assert result.weights["Z"] == pytest.approx(0.85 / 3)
    assert "Z" in result.notes[0]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"zero_vol_policy": "previous_weights"}, "zero_vol_policy"),
        ({"lookback_days": 1}, "lookback_days"),
        ({"lookback_days": 0}, "lookback_days"),
        ({"vol_floor": 0.0}, "vol_floor"),
        ({"basket_weight": math.nan}, "basket_weight"),
        ({"fixed": {"USFR": math.nan}}, "finite"),
        ({"fixed": {"A": 0.15}}, "both in the basket"),
    ],
)
def test_inverse_vol_rejects_bad_configuration(kwargs: dict[str, object], message: str) -> None:
    """Unknown policies, a lookback under 2 and similar mistakes fail at construction."""
    with pytest.raises(ValueError, match=message):
        all_in(**kwargs)


def test_inverse_vol_rejects_empty_or_duplicate_basket() -> None:
    """An empty basket or a symbol listed twice is a configuration error."""
    with pytest.raises(ValueError, match="at least one"):
        InverseVolatility(basket=())
    with pytest.raises(ValueError, match="twice"):
        InverseVolatility(basket=("A", "A"))


def test_inverse_vol_weights_sum_to_basket_plus_fixed() -> None:
    """With a 0.6 basket and a 0.1 + 0.2 sleeve, weights sum to 0.9 and cash is 0.1."""
    strategy = InverseVolatility(
        basket=("A", "B", "C"), basket_weight=0.6, fixed={"X": 0.1, "Y": 0.2}
    )
    closes = frame({"A": A_CLOSES, "B": B_CLOSES, "C": C_CLOSES, "X": [1, 1, 1], "Y": [2, 2, 2]})
    result = strategy.target_weights(closes, day(DAYS[2]))
    assert sum(result.weights.values()) == pytest.approx(0.9)
    assert result.cash == pytest.approx(0.1)
    assert result.weights["B"] == pytest.approx(0.6 * 4 / 7)


# --------------------------------------------------------------------------- ModifiedSharpeMix


def closes_from_returns(returns: Sequence[float], start: float = 100.0) -> list[float]:
    """Closes that realise ``returns`` exactly (up to float rounding)."""
    out = [start]
    for r in returns:
        out.append(out[-1] * (1 + r))
    return out


def brute_force(
    leg_returns: Sequence[Sequence[float]], step: float, f: float, ddof: int, kind: str
) -> tuple[tuple[float, ...], float]:
    """Best mix by plain loops: every lex-ordered composition, score mean/std^f, tie → lower std.

    Written independently of the strategy: itertools.product for the grid, statistics for the
    moments, math.log1p for log returns.
    """
    units = round(1 / step)
    days = range(len(leg_returns[0]))
    best: tuple[tuple[float, ...], float, float] | None = None
    for counts in itertools.product(range(units + 1), repeat=len(leg_returns)):
        if sum(counts) != units:
            continue
        mix = tuple(c / units for c in counts)
        series = [sum(w * leg[t] for w, leg in zip(mix, leg_returns, strict=True)) for t in days]
        if kind == "log":
            series = [math.log1p(r) for r in series]
        sd = statistics.pstdev(series) if ddof == 0 else statistics.stdev(series)
        score = statistics.fmean(series) / sd**f
        if (
            best is None
            or score > best[1] + 1e-9 * abs(best[1])
            or (math.isclose(score, best[1], rel_tol=1e-9) and sd < best[2])
        ):
            best = (mix, score, sd)
    assert best is not None
    return best[0], best[1]


# Five hand-written daily returns per leg (SPXL-like, TMF-like, GLD) for brute-force checks.
SPXL_R = [0.030, -0.020, 0.025, -0.010, 0.015]
TMF_R = [-0.010, 0.020, -0.005, 0.015, -0.002]
GLD_R = [0.004, 0.002, -0.003, 0.005, 0.001]
UIS_CLOSES = {
    "SPXL": closes_from_returns(SPXL_R),
    "TMF": closes_from_returns(TMF_R, 50.0),
    "GLD": closes_from_returns(GLD_R, 180.0),
}
UIS_LEGS = (Leg("SPXL", "SPXL", 1.0), Leg("TMF", "TMF", 1.0), Leg("gold", "GLD", 3.0))


@pytest.mark.parametrize(
    ("f", "ddof", "kind"),
    [
        (2.5, 0, "simple"),
        (1.0, 0, "simple"),
        (0.0, 0, "simple"),
        (2.5, 1, "simple"),
        (2.5, 0, "log"),
        (0.5, 1, "log"),
    ],
)
def test_optimiser_matches_brute_force_and_maps_gold_to_3x_gld(
    f: float, ddof: Literal[0, 1], kind: ReturnsKind
) -> None:
    """On a 0.25 grid of SPXL, TMF and 3×GLD the choice is the brute-force best; GLD = 3·w_gold."""
    strategy = ModifiedSharpeMix(
        legs=UIS_LEGS,
        step=0.25,
        lookback_days=5,
        f=f,
        std_ddof=ddof,
        returns_kind=kind,
    )
    legs = [SPXL_R, TMF_R, [3 * r for r in GLD_R]]
    (w_spxl, w_tmf, w_gold), _ = brute_force(legs, 0.25, f, ddof, kind)
    result = strategy.target_weights(frame(UIS_CLOSES), day(DAYS[5]))
    assert_weights(result, {"SPXL": w_spxl, "TMF": w_tmf, "GLD": 3 * w_gold})
    assert result.notes[-1].startswith(f"mix SPXL={w_spxl:.4g} TMF={w_tmf:.4g} gold={w_gold:.4g}")


def test_optimiser_default_data_uses_the_gold_leg() -> None:
    """Fixture sanity: the default-setting best mix holds gold, so the 3x mapping is exercised."""
    legs = [SPXL_R, TMF_R, [3 * r for r in GLD_R]]
    (_, _, w_gold), _ = brute_force(legs, 0.25, 2.5, 0, "simple")
    assert w_gold > 0
    result = ModifiedSharpeMix(legs=UIS_LEGS, step=0.25, lookback_days=5).target_weights(
        frame(UIS_CLOSES), day(DAYS[5])
    )
    assert result.weights["GLD"] == pytest.approx(3 * w_gold)
    assert result.cash == pytest.approx(1 - (1 + 2 * w_gold))


def test_optimiser_ugl_half_multiplier_maps_to_1_5x() -> None:
    """The ugl_1_5x gold implementation holds UGL at 1.5 × the gold leg weight (all gold here).

    GLD-like UGL rising 1%, 2%, 1% while X falls every day: with f = 0 the score is the mean, so
    the best mix is 100% gold and UGL's weight is 1.5.
    """
    closes = frame(
        {
            "X": closes_from_returns([-0.01, -0.02, -0.01]),
            "UGL": closes_from_returns([0.01, 0.02, 0.01]),
        }
    )
    strategy = ModifiedSharpeMix(
        legs=(Leg("X", "X", 1.0), Leg("gold", "UGL", 1.5)), step=0.5, lookback_days=3, f=0.0
    )
    assert_weights(strategy.target_weights(closes, day(DAYS[3])), {"X": 0.0, "UGL": 1.5})


def test_optimiser_short_vxz_leg_is_a_negative_weight_with_cash_above_longs() -> None:
    """The ZIV proxy −1×VXZ held at 0.5 is VXZ = −0.5; cash = 1 − Σw = 1.0 > 1 − longs = 0.5.

    ziv leg r = −VXZ r = +0.03, −0.01, +0.02; UBT r = −0.01, +0.03, 0.00.
    50/50 mix: r = 0.01, 0.01, 0.01 → std 0 (or float noise) and mean 0.01 → best by far.
    Pure legs: mean 0.0133 / 0.0067 with std ≈ 0.017 → finite scores.
    """
    closes = frame(
        {
            "VXZ": closes_from_returns([-0.03, 0.01, -0.02]),
            "UBT": closes_from_returns([-0.01, 0.03, 0.0]),
        }
    )
    strategy = ModifiedSharpeMix(
        legs=(Leg("ziv", "VXZ", -1.0), Leg("UBT", "UBT", 1.0)), step=0.5, lookback_days=3
    )
    result = strategy.target_weights(closes, day(DAYS[3]))
    assert_weights(result, {"VXZ": -0.5, "UBT": 0.5})
    longs = sum(w for w in result.weights.values() if w > 0)
    assert result.cash == pytest.approx(1.0)
    assert result.cash > 1 - longs


# X: r = +0.01, +0.03 (mean 0.02, σ 0.01); Y: r = +0.02, −0.02 (mean 0, σ 0.02).
# With f = 1: X alone scores 0.02/0.01 = 2; 50/50 (r = 0.015, 0.005) scores 0.01/0.005 = 2; Y = 0.
TIE_CLOSES = {"X": [100.0, 101.0, 104.03], "Y": [100.0, 102.0, 99.96]}


def test_optimiser_tie_goes_to_lower_variance() -> None:
    """X alone and 50/50 both score 2 with f = 1; the 50/50 mix has half the std, so it wins."""
    strategy = ModifiedSharpeMix(
        legs=(Leg("X", "X", 1.0), Leg("Y", "Y", 1.0)), step=0.5, lookback_days=2, f=1.0
    )
    assert_weights(strategy.target_weights(frame(TIE_CLOSES), day(DAYS[2])), {"X": 0.5, "Y": 0.5})


def test_optimiser_exact_tie_goes_to_grid_order_and_shared_symbol_aggregates() -> None:
    """Two legs on the same symbol give identical mixes; the first grid mix (a=0, b=1) is taken."""
    closes = frame({"X": [100.0, 101.0, 104.03]})
    strategy = ModifiedSharpeMix(
        legs=(Leg("a", "X", 1.0), Leg("b", "X", 1.0)), step=0.5, lookback_days=2
    )
    result = strategy.target_weights(closes, day(DAYS[2]))
    assert strategy.symbols == ("X",)
    assert_weights(result, {"X": 1.0})
    assert result.notes[-1].startswith("mix a=0 b=1 ")


def test_optimiser_shared_symbol_weights_add_multipliers() -> None:
    """Legs X×1 and X×2 on one symbol: f = 0 maximises the mean, so all in b → X = 2·1."""
    closes = frame({"X": [100.0, 101.0, 104.03]})
    strategy = ModifiedSharpeMix(
        legs=(Leg("a", "X", 1.0), Leg("b", "X", 2.0)), step=0.5, lookback_days=2, f=0.0
    )
    assert_weights(strategy.target_weights(closes, day(DAYS[2])), {"X": 2.0})


# Every mix loses: X r = −0.01, −0.03 (mean −0.02, σ 0.01); Y r = −0.001, −0.003 (σ 0.001).
# f = 2.5: X = −0.02/0.01^2.5 = −2000; 50/50 = −0.011/0.0055^2.5 ≈ −4903; Y = −0.002/0.001^2.5
# ≈ −63246. The arg-max is the MOST volatile mix, X.
LOSING_CLOSES = {"X": [100.0, 99.0, 96.03], "Y": [100.0, 99.9, 99.6003]}


def losing(policy: str) -> TargetWeights:
    """Weights on the all-negative-mean data under ``policy``."""
    strategy = ModifiedSharpeMix(
        legs=(Leg("X", "X", 1.0), Leg("Y", "Y", 1.0)),
        step=0.5,
        lookback_days=2,
        negative_mean_policy=policy,  # type: ignore[arg-type]
    )
    return strategy.target_weights(frame(LOSING_CLOSES), day(DAYS[2]))


def test_all_negative_as_published_keeps_the_arg_max_with_a_note() -> None:
    """as_published (default) holds the arg-max X, the most volatile mix, and says so."""
    result = losing("as_published")
    assert_weights(result, {"X": 1.0, "Y": 0.0})
    assert any("negative mean" in n and "as_published" in n for n in result.notes)


def test_all_negative_min_variance_takes_the_calmest_mix() -> None:
    """min_variance picks Y alone (σ 0.001, the smallest) and notes the policy."""
    result = losing("min_variance")
    assert_weights(result, {"X": 0.0, "Y": 1.0})
    assert any("negative mean" in n and "min_variance" in n for n in result.notes)


def test_all_negative_cash_holds_nothing() -> None:
    """cash returns zero for every symbol (so the engine sells) and notes the policy."""
    result = losing("cash")
    assert_weights(result, {"X": 0.0, "Y": 0.0})
    assert result.cash == 1.0
    assert any("negative mean" in n and "cash" in n for n in result.notes)


def test_one_positive_mix_means_no_negative_note() -> None:
    """The policy only fires when EVERY mix has a negative mean."""
    result = ModifiedSharpeMix(legs=UIS_LEGS, step=0.25, lookback_days=5).target_weights(
        frame(UIS_CLOSES), day(DAYS[5])
    )
    assert not any("negative mean" in n for n in result.notes)


LEG_R = np.array([[0.01, 0.03], [0.02, -0.02]])
MIXES = np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]])


def test_score_mixes_hand_values() -> None:
    """Mix returns: (1,0) → .01,.03; (.5,.5) → .015,.005; (0,1) → .02,−.02.

    Population std: .01, .005, .02; sample std is √2 times larger; means .02, .01, 0.
    """
    f1 = score_mixes(LEG_R, MIXES, 1.0, 0, "simple")
    assert f1 == pytest.approx([2.0, 2.0, 0.0])
    f2 = score_mixes(LEG_R, MIXES, 2.0, 0, "simple")
    assert f2 == pytest.approx([0.02 / 0.01**2, 0.01 / 0.005**2, 0.0])
    sample = score_mixes(LEG_R, MIXES, 1.0, 1, "simple")
    assert sample == pytest.approx([math.sqrt(2), math.sqrt(2), 0.0])


def test_score_mixes_log_uses_log_of_the_mix_gross_return() -> None:
    """returns_kind=log scores log(1 + r_mix), e.g. (1,0): log 1.01, log 1.03."""
    scores = score_mixes(LEG_R, MIXES, 1.0, 0, "log")
    expected = []
    for series in ([0.01, 0.03], [0.015, 0.005], [0.02, -0.02]):
        logs = [math.log(1 + r) for r in series]
        expected.append(statistics.fmean(logs) / statistics.pstdev(logs))
    assert scores == pytest.approx(expected)


@pytest.mark.parametrize(("r", "expected"), [(0.01, math.inf), (-0.01, -math.inf), (0.0, 0.0)])
def test_score_mixes_zero_std_does_not_crash(r: float, expected: float) -> None:
    """A riskless mix scores +inf if it gains, −inf if it loses and 0 if flat."""
    scores = score_mixes(np.array([[r, r, r]]), np.array([[1.0]]), 2.5, 0, "simple")
    assert scores[0] == expected


def test_score_mixes_log_wipeout_scores_minus_inf() -> None:
    """A mix losing ≥ 100% in one day has no log return; it ranks last instead of crashing."""
    scores = score_mixes(np.array([[-1.2, 0.1]]), np.array([[1.0]]), 2.5, 0, "log")
    assert scores[0] == -math.inf


def test_grid_has_66_mixes_for_three_legs_at_ten_percent() -> None:
    """C(10 + 2, 2) = 66 distinct compositions, each exactly 10 tenths (1 within float rounding)."""
    grid = mix_grid(3, 0.10)
    assert grid.shape == (66, 3)
    assert math.comb(12, 2) == 66
    units = np.round(grid * 10)
    assert np.allclose(grid * 10, units, rtol=0, atol=1e-12)
    assert np.all(units.sum(axis=1) == 10)
    assert np.allclose(grid.sum(axis=1), 1.0, rtol=0, atol=1e-15)
    assert len({tuple(row) for row in units}) == 66
    assert ModifiedSharpeMix(legs=UIS_LEGS).grid.shape == (66, 3)


def test_grid_order_runs_from_zero_to_all_in_the_first_leg() -> None:
    """Two legs at 0.5: (0, 1), (0.5, 0.5), (1, 0) — the order that breaks exact ties."""
    assert mix_grid(2, 0.5).tolist() == [[0.0, 1.0], [0.5, 0.5], [1.0, 0.0]]


@pytest.mark.parametrize("step", [0.3, 0.15, 0.0, -0.1, 1.5, math.nan])
def test_step_that_does_not_divide_one_is_rejected(step: float) -> None:
    """A step that does not split 1 into whole parts has no grid summing to 1."""
    with pytest.raises(ValueError, match="step"):
        ModifiedSharpeMix(legs=UIS_LEGS, step=step)


def test_optimiser_history_and_symbols() -> None:
    """history_closes = lookback_days + 1; symbols are the distinct leg symbols in order."""
    strategy = ModifiedSharpeMix(legs=UIS_LEGS)
    assert strategy.history_closes == 73
    assert strategy.symbols == ("SPXL", "TMF", "GLD")


def test_optimiser_late_listing_is_insufficient_history() -> None:
    """A leg symbol with fewer than lookback+1 closes raises, naming the symbol."""
    closes = frame(UIS_CLOSES)
    closes.loc[pd.Timestamp(DAYS[0]), "GLD"] = math.nan
    with pytest.raises(InsufficientHistoryError, match="GLD"):
        ModifiedSharpeMix(legs=UIS_LEGS, step=0.25, lookback_days=5).target_weights(
            closes, day(DAYS[5])
        )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lookback_days": 1}, "lookback_days"),
        ({"f": -1.0}, "f must"),
        ({"returns_kind": "cagr"}, "returns_kind"),
        ({"std_ddof": 2}, "std_ddof"),
        ({"negative_mean_policy": "all_hedge"}, "negative_mean_policy"),
        ({"legs": ()}, "legs"),
        ({"legs": (Leg("a", "X", 1.0), Leg("a", "Y", 1.0))}, "unique"),
    ],
)
def test_optimiser_rejects_bad_configuration(kwargs: dict[str, object], message: str) -> None:
    """Unknown settings and impossible lookbacks fail at construction."""
    settings: dict[str, object] = {"legs": UIS_LEGS, **kwargs}
    with pytest.raises(ValueError, match=message):
        ModifiedSharpeMix(**settings)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "symbol", "multiplier"),
    [("", "X", 1.0), ("a", " ", 1.0), ("a", "X", 0.0), ("a", "X", math.inf)],
)
def test_leg_rejects_blank_names_and_null_multipliers(
    name: str, symbol: str, multiplier: float
) -> None:
    """A leg must name a symbol and actually hold it (finite, non-zero multiplier)."""
    with pytest.raises(ValueError, match="Leg"):
        Leg(name, symbol, multiplier)


def test_optimiser_on_seeded_random_data_matches_brute_force() -> None:
    """On 72 seeded random days of three legs at step 0.1 the choice equals the loop brute force."""
    rng = np.random.default_rng(20240115)
    returns = rng.normal(0.0005, 0.01, size=(72, 3)) * np.array([3.0, 3.0, 1.0])
    closes = pd.DataFrame(
        100 * np.cumprod(np.vstack([np.ones(3), 1 + returns]), axis=0),
        index=pd.bdate_range("2024-01-01", periods=73),
        columns=["SPXL", "TMF", "GLD"],
    )
    legs = [list(returns[:, 0]), list(returns[:, 1]), list(3 * returns[:, 2])]
    (w_spxl, w_tmf, w_gold), _ = brute_force(legs, 0.1, 2.5, 0, "simple")
    result = ModifiedSharpeMix(legs=UIS_LEGS).target_weights(closes, closes.index[-1].date())
    assert_weights(result, {"SPXL": w_spxl, "TMF": w_tmf, "GLD": 3 * w_gold})


def test_the_batch_population_std_matches_the_statistics_module() -> None:
    """inverse_vol's window σ (one return at a time, for speed) against statistics.pstdev."""
    rng = np.random.default_rng(5)
    returns = rng.normal(0.0, 0.03, size=(40, 4, 3))
    sigma = _population_std(returns)
    for day in range(40):
        for asset in range(3):
            expected = statistics.pstdev(returns[day, :, asset].tolist())
            assert sigma[day, asset] == pytest.approx(expected, rel=1e-12)
