"""Logical Invest's modified-Sharpe grid optimiser, shared by UISx3 and Maximum Yield Rotation.

Rules (docs/STRATEGIES.md): score every composition of the legs in multiples of ``step`` by
mean(r) / std(r)^f of the daily-rebalanced mix's daily returns over the last ``lookback_days``
trading days, and hold the arg-max. No risk-free rate: LI says the score is only used for ranking.

A leg is a symbol times a multiplier, which is how both published universes are expressed today:

* UISx3's gold leg was UGLD (3x gold, delisted 2020); LI now holds a triple position in GLD, i.e.
  ``Leg("gold", "GLD", 3.0)`` (or ``Leg("gold", "UGL", 1.5)``), so gross exposure exceeds 100%.
* Maximum Yield's ZIV (−1x mid-term VIX, delisted 2020) is replaced by a short VXZ of the same
  notional, ``Leg("ziv", "VXZ", -1.0)``; the short's notional stays in cash.

HYPOTHESIS for Maximum Yield (§3.3, [INFER]): LI does not publish MYRS's engine. Using this
optimiser on {−1×VXZ, UBT, UGL} with step 0.10, 72 days and f = 2.5 is our reading of the published
allocations, not a documented rule; fit and verify it against LI's monthly returns.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt
import pandas as pd

from strategies.base import TargetWeights, validate_lookback, window_values

ReturnsKind = Literal["simple", "log"]
NegativeMeanPolicy = Literal["as_published", "min_variance", "cash"]
RETURNS_KINDS: tuple[str, ...] = get_args(ReturnsKind)
NEGATIVE_MEAN_POLICIES: tuple[str, ...] = get_args(NegativeMeanPolicy)

TIE_RTOL = 1e-12
"""Scores this close (relative) are ties: float noise must not decide between equal mixes."""

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Leg:
    """One optimiser input: ``multiplier`` × ``symbol``'s daily simple return.

    Holding the leg at mix weight w means holding ``symbol`` at ``multiplier`` × w, so a negative
    multiplier is a short whose notional stays in cash.
    """

    name: str
    symbol: str
    multiplier: float

    def __post_init__(self) -> None:
        """Reject legs that would silently hold nothing or an unnamed symbol."""
        for label, value in (("name", self.name), ("symbol", self.symbol)):
            if not isinstance(value, str) or not value.strip():
                msg = f"Leg {label} must be a non-empty string, got {value!r}"
                raise ValueError(msg)
        if not math.isfinite(self.multiplier) or self.multiplier == 0:
            msg = f"Leg {self.name}: multiplier must be finite and non-zero, got {self.multiplier}"
            raise ValueError(msg)


def grid_units(step: float) -> int:
    """Return n = 1/step, raising ``ValueError`` unless it is a whole number (within 1e-9)."""
    if not (math.isfinite(step) and 0 < step <= 1):
        msg = f"step must be in (0, 1], got {step}"
        raise ValueError(msg)
    units = round(1.0 / step)
    if abs(1.0 / step - units) > 1e-9:
        msg = f"step {step} does not divide 1 into a whole number of parts"
        raise ValueError(msg)
    return units


def _compositions(total: int, parts: int) -> Iterator[tuple[int, ...]]:
    """Yield the non-negative int tuples of length ``parts`` summing to ``total``, in lex order."""
    if parts == 1:
        yield (total,)
        return
    for first in range(total + 1):
        for rest in _compositions(total - first, parts - 1):
            yield (first, *rest)


def mix_grid(n_legs: int, step: float) -> FloatArray:
    """Return every mix (rows, summing to exactly 1) of ``n_legs`` legs in multiples of ``step``.

    Built from integer units so no mix drifts off the grid (0.1 + 0.2 ≠ 0.3 in floats). Row order is
    lexicographic in the first leg's weight ("0/100 to 100/0"), which is the last tie-breaker.
    """
    if n_legs < 1:
        msg = f"need at least one leg, got {n_legs}"
        raise ValueError(msg)
    return _cached_grid(n_legs, grid_units(step)).copy()


@lru_cache(maxsize=32)
def _cached_grid(n_legs: int, units: int, max_held: int | None = None) -> FloatArray:
    """The grid, built once per shape: a parameter sweep asks for it thousands of times. With
    ``max_held`` only the mixes with at most that many non-zero legs, in the same order."""
    rows = [c for c in _compositions(units, n_legs) if max_held is None or
            sum(1 for part in c if part) <= max_held]  # fmt: skip
    grid: FloatArray = np.array(rows, dtype=float) / units
    grid.setflags(write=False)
    return grid


def _mix_stats(
    leg_returns: FloatArray, mixes: FloatArray, ddof: int, returns_kind: str
) -> tuple[FloatArray, FloatArray]:
    """Return (mean, std) of each mix's daily returns; a mix losing ≥ 100% in a day is −inf/NaN."""
    if returns_kind not in RETURNS_KINDS:
        msg = f"returns_kind {returns_kind!r} is not one of {RETURNS_KINDS}"
        raise ValueError(msg)
    simple = mixes @ leg_returns
    if returns_kind == "simple":
        series = simple
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            series = np.where(simple > -1.0, np.log1p(np.maximum(simple, -1.0)), -np.inf)
    with np.errstate(invalid="ignore"):
        return series.mean(axis=1), series.std(axis=1, ddof=ddof)


def _scores(mean: FloatArray, std: FloatArray, f: float) -> FloatArray:
    """mean / std^f; a zero denominator scores +inf, −inf or 0 by the sign of the mean."""
    denom = std**f
    with np.errstate(divide="ignore", invalid="ignore"):
        raw = mean / denom
        riskless = np.where(mean == 0, 0.0, np.sign(mean) * np.inf)
    scores = np.where(denom == 0, riskless, raw)
    return np.where(np.isnan(scores), -np.inf, scores)


def score_mixes(
    leg_returns: FloatArray, mixes: FloatArray, f: float, ddof: int, returns_kind: str
) -> FloatArray:
    """Return mean(r_mix) / std(r_mix, ddof)^f for each mix (row of ``mixes``).

    ``leg_returns`` is (n_legs × T) simple daily returns; the mix's return is the daily-rebalanced
    Σ w·r (``mixes`` is n_mixes × n_legs). With ``returns_kind="log"`` the series is log(1 + r_mix).
    A mix with std 0 scores +inf if its mean is positive, −inf if negative and 0 if zero, so a
    riskless gain wins and a riskless loss loses. A log-series mix that loses ≥ 100% in a day
    (gross ≤ 0) scores −inf.
    """
    mean, std = _mix_stats(leg_returns, mixes, ddof, returns_kind)
    return _scores(mean, std, f)


def _pick(candidates: npt.NDArray[np.bool_], std: FloatArray) -> int:
    """Among ``candidates`` take the lowest std (within TIE_RTOL), then the first in grid order."""
    masked = np.where(candidates & ~np.isnan(std), std, np.inf)
    least = masked.min()
    return int(np.argmax(candidates & (masked <= least + TIE_RTOL * abs(least))))


def best_mix(scores: FloatArray, std: FloatArray) -> int:
    """Return the arg-max of ``scores``; ties go to the lower variance, then to grid order."""
    top = scores.max()
    if math.isinf(top):
        return _pick(scores == top, std)
    return _pick(scores >= top - TIE_RTOL * abs(top), std)


@dataclass(frozen=True, slots=True)
class ModifiedSharpeMix:
    """Hold the grid mix of ``legs`` with the best mean/std^f over the last ``lookback_days``.

    Defaults follow TuringTrader/Kipnis (§2.2): 10% steps, 72 days, f = 2.5, population std.
    ``negative_mean_policy`` covers the unpublished case where every mix lost money: with f > 1 the
    arg-max then prefers the *most volatile* mix. ``as_published`` keeps it (LI, TuringTrader and
    Kipnis do), ``min_variance`` takes the calmest mix, ``cash`` holds nothing. Each is noted.
    """

    legs: tuple[Leg, ...]
    step: float = 0.10
    lookback_days: int = 72
    f: float = 2.5
    returns_kind: ReturnsKind = "simple"
    std_ddof: Literal[0, 1] = 0
    negative_mean_policy: NegativeMeanPolicy = "as_published"
    max_held_legs: int | None = None  # None: any mix; 2: mixes of at most two legs

    def __post_init__(self) -> None:
        """Fail at construction, not on a rebalance day, when the configuration cannot work."""
        self._validate_legs()
        grid_units(self.step)
        validate_lookback(self.lookback_days)
        if not (math.isfinite(self.f) and self.f >= 0):
            msg = f"f must be a finite number ≥ 0, got {self.f}"
            raise ValueError(msg)
        self._validate_choices()
        if self.max_held_legs is not None and not 1 <= self.max_held_legs <= len(self.legs):
            msg = f"max_held_legs must be between 1 and {len(self.legs)}, got {self.max_held_legs}"
            raise ValueError(msg)

    def _validate_legs(self) -> None:
        if not self.legs or not all(isinstance(leg, Leg) for leg in self.legs):
            msg = f"legs must be a non-empty tuple of Leg, got {self.legs!r}"
            raise ValueError(msg)
        names = [leg.name for leg in self.legs]
        if len(set(names)) != len(names):
            msg = f"leg names must be unique, got {names}"
            raise ValueError(msg)

    def _validate_choices(self) -> None:
        if self.returns_kind not in RETURNS_KINDS:
            msg = f"returns_kind {self.returns_kind!r} is not one of {RETURNS_KINDS}"
            raise ValueError(msg)
        if self.std_ddof not in (0, 1):
            msg = f"std_ddof must be 0 or 1, got {self.std_ddof!r}"
            raise ValueError(msg)
        if self.negative_mean_policy not in NEGATIVE_MEAN_POLICIES:
            msg = (
                f"negative_mean_policy {self.negative_mean_policy!r} "
                f"is not one of {NEGATIVE_MEAN_POLICIES}"
            )
            raise ValueError(msg)

    @property
    def symbols(self) -> tuple[str, ...]:
        """Distinct leg symbols in leg order (two legs may share one)."""
        return tuple(dict.fromkeys(leg.symbol for leg in self.legs))

    @property
    def history_closes(self) -> int:
        """``lookback_days`` returns need one more close than that."""
        return self.lookback_days + 1

    @property
    def grid(self) -> FloatArray:
        """Every candidate mix, one row per mix, one column per leg (only the mixes of at most
        ``max_held_legs`` legs when that is set: the "pairs only" reading of UISx3's "uses TMF
        and UGLD to hedge SPXL", after the two-fund UIS it extends)."""
        return _cached_grid(len(self.legs), grid_units(self.step), self.max_held_legs)

    def leg_returns(self, closes: pd.DataFrame, as_of: date) -> FloatArray:
        """Return the (n_legs × lookback_days) leg returns ending at ``as_of``, validated."""
        window = window_values(closes, self.symbols, self.history_closes, as_of)
        return self.leg_returns_from_closes(window)

    def leg_returns_from_closes(self, closes: FloatArray) -> FloatArray:
        """Leg returns from a validated window of closes (rows = days, columns = ``symbols``).

        Shared with the backtester, which slices windows out of one array instead of a frame.
        """
        columns = [self.symbols.index(leg.symbol) for leg in self.legs]
        prices = closes[:, columns]
        multipliers = np.array([leg.multiplier for leg in self.legs], dtype=float)
        returns: FloatArray = multipliers[:, None] * (prices[1:] / prices[:-1] - 1.0).T
        return returns

    def target_weights(self, closes: pd.DataFrame, as_of: date) -> TargetWeights:
        """Return per-symbol weights of the chosen mix, with notes on how it was chosen."""
        return self.weights_from_returns(self.leg_returns(closes, as_of))

    def window_targets(self, window: FloatArray) -> TargetWeights:
        """The same choice from a plain array of the last ``history_closes`` closes."""
        return self.weights_from_returns(self.leg_returns_from_closes(window))

    def weights_from_returns(self, returns: FloatArray) -> TargetWeights:
        """Score every mix on ``returns`` (n_legs × lookback_days) and return the best one."""
        mixes = self.grid
        mean, std = _mix_stats(returns, mixes, self.std_ddof, self.returns_kind)
        scores = _scores(mean, std, self.f)
        index, notes = self._choose(scores, mean, std)
        if index is None:
            return TargetWeights(weights=dict.fromkeys(self.symbols, 0.0), notes=notes)
        chosen = mixes[index]
        detail = " ".join(f"{leg.name}={w:.4g}" for leg, w in zip(self.legs, chosen, strict=True))
        note = f"mix {detail} score={scores[index]:.6g} mean={mean[index]:.6g} std={std[index]:.6g}"
        return TargetWeights(weights=self._symbol_weights(chosen), notes=(*notes, note))

    def _choose(
        self, scores: FloatArray, mean: FloatArray, std: FloatArray
    ) -> tuple[int | None, tuple[str, ...]]:
        """Apply ``negative_mean_policy``; ``None`` means hold cash."""
        if not (mean < 0).all():
            return best_mix(scores, std), ()
        note = (
            f"every mix has a negative mean {self.returns_kind} return over the last "
            f"{self.lookback_days} days; policy {self.negative_mean_policy}"
        )
        if self.negative_mean_policy == "cash":
            return None, (f"{note}: holding cash",)
        if self.negative_mean_policy == "min_variance":
            return _pick(np.ones_like(std, dtype=bool), std), (f"{note}: minimum-variance mix",)
        return best_mix(scores, std), (f"{note}: arg-max kept (f > 1 favours volatile mixes)",)

    def _symbol_weights(self, mix: FloatArray) -> dict[str, float]:
        """Σ over legs of multiplier × leg weight, per symbol (snapping −0.0 and 1e-17 to 0)."""
        weights = dict.fromkeys(self.symbols, 0.0)
        for leg, w in zip(self.legs, mix, strict=True):
            weights[leg.symbol] += leg.multiplier * float(w)
        return {s: (0.0 if abs(w) < 1e-15 else w) for s, w in weights.items()}
