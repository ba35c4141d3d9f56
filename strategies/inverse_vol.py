"""Composer "All In": an inverse-volatility basket (85%) plus a fixed sleeve (15% USFR).

Rules (docs/STRATEGIES.md): σ_i is the standard deviation of the last ``lookback_days`` simple
daily returns (``lookback_days + 1`` closes, counted in trading rows, never calendar days) and
w_i = basket_weight · (1/σ_i) / Σ_j (1/σ_j). Population std is used; the choice cancels out of the
weights and matters only for the ``vol_floor`` comparison.

With a 2-day lookback σ = |r₁ − r₂| / 2, so two equal returns (typically a stale, repeated close)
give σ = 0 and an unbounded weight. Composer does not document what it does then, so the reaction is
a setting, ``zero_vol_policy``, and every firing is recorded in ``TargetWeights.notes``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt
import pandas as pd

from strategies.base import (
    BoolArray,
    NoDecisionError,
    TargetWeights,
    validate_lookback,
    window_values,
)
from strategies.fixed import validate_weights

ZeroVolPolicy = Literal["skip_day", "floor", "equal_weight", "exclude"]
ZERO_VOL_POLICIES: tuple[str, ...] = get_args(ZeroVolPolicy)

FloatArray = npt.NDArray[np.float64]


def _default_fixed() -> Mapping[str, float]:
    return MappingProxyType({"USFR": 0.15})


@dataclass(frozen=True, slots=True)
class InverseVolatility:
    """Inverse-volatility weights over ``basket`` scaled to ``basket_weight``, plus ``fixed``.

    ``zero_vol_policy`` decides what a σ ≤ ``vol_floor`` means:

    * ``skip_day`` (default): raise :class:`NoDecisionError`; the engine holds. A flat price is
      more often a stale feed than a real asset, so not trading is the safe reading.
    * ``floor``: use σ = ``vol_floor`` (Composer-like; can put ~85% into that one fund).
    * ``equal_weight``: weight the basket equally today.
    * ``exclude``: give that asset 0 today and renormalise the rest of the basket.
    """

    basket: tuple[str, ...]
    lookback_days: int = 2
    basket_weight: float = 0.85
    fixed: Mapping[str, float] = field(default_factory=_default_fixed)
    vol_floor: float = 1e-6
    zero_vol_policy: ZeroVolPolicy = "skip_day"

    def __post_init__(self) -> None:
        """Fail at construction, not on a trading day, when the configuration cannot work."""
        self._validate_basket()
        if self.fixed:
            validate_weights(self.fixed, what="fixed sleeve")
        object.__setattr__(self, "fixed", MappingProxyType(dict(self.fixed)))
        validate_lookback(self.lookback_days)
        if not (math.isfinite(self.basket_weight) and self.basket_weight >= 0):
            msg = f"basket_weight must be a finite number ≥ 0, got {self.basket_weight}"
            raise ValueError(msg)
        if not (math.isfinite(self.vol_floor) and self.vol_floor > 0):
            msg = f"vol_floor must be a finite number > 0, got {self.vol_floor}"
            raise ValueError(msg)
        if self.zero_vol_policy not in ZERO_VOL_POLICIES:
            msg = f"zero_vol_policy {self.zero_vol_policy!r} is not one of {ZERO_VOL_POLICIES}"
            raise ValueError(msg)

    def _validate_basket(self) -> None:
        if not self.basket:
            msg = "basket must name at least one symbol"
            raise ValueError(msg)
        if any(not isinstance(s, str) or not s.strip() for s in self.basket):
            msg = f"basket symbols must be non-empty strings, got {self.basket!r}"
            raise ValueError(msg)
        if len(set(self.basket)) != len(self.basket):
            msg = f"basket lists a symbol twice: {self.basket!r}"
            raise ValueError(msg)
        overlap = sorted(set(self.basket) & set(self.fixed))
        if overlap:
            msg = f"{', '.join(overlap)} both in the basket and the fixed sleeve"
            raise ValueError(msg)

    @property
    def symbols(self) -> tuple[str, ...]:
        """Basket symbols, then fixed-sleeve symbols."""
        return (*self.basket, *self.fixed)

    @property
    def history_closes(self) -> int:
        """``lookback_days`` returns need one more close than that."""
        return self.lookback_days + 1

    def target_weights(self, closes: pd.DataFrame, as_of: date) -> TargetWeights:
        """Return basket inverse-vol weights plus the fixed sleeve, or raise if unusable.

        The fixed sleeve only needs a usable close today; the basket needs the whole lookback.
        """
        window = window_values(closes, self.basket, self.history_closes, as_of)
        if self.fixed:
            window_values(closes, tuple(self.fixed), 1, as_of)
        sigma, scores = self.basket_scores(window[None])
        zero = sigma[0] <= self.vol_floor
        notes = tuple(
            f"zero volatility for {s} (σ={sd:.3g} ≤ vol_floor {self.vol_floor:g}); "
            f"policy {self.zero_vol_policy}"
            for s, sd, z in zip(self.basket, sigma[0], zero, strict=True)
            if z
        )
        if np.isnan(scores[0]).any():
            names = [s for s, z in zip(self.basket, zero, strict=True) if z]
            raise NoDecisionError(self._no_decision_message(names, as_of))
        basket = self.basket_weights(scores)[0]
        weights = {s: float(w) for s, w in zip(self.basket, basket, strict=True)}
        weights.update(self.fixed)
        return TargetWeights(weights=weights, notes=notes)

    def basket_scores(self, windows: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Return (σ, 1/σ scores after ``zero_vol_policy``) for a stack of close windows.

        ``windows`` is (days × (lookback_days + 1) closes × basket symbols). The backtester
        passes every day at once and ``target_weights`` passes one: the same arithmetic, so
        the two agree bit for bit. A row the policy declines to decide is all NaN.
        """
        sigma = _population_std(windows[:, 1:] / windows[:, :-1] - 1.0)
        zero = sigma <= self.vol_floor
        with np.errstate(divide="ignore"):
            inverse = 1.0 / np.where(zero, 1.0, sigma)
        any_zero = zero.any(axis=1, keepdims=True)
        if self.zero_vol_policy == "floor":
            scores = np.where(zero, 1.0 / self.vol_floor, inverse)
        elif self.zero_vol_policy == "equal_weight":
            scores = np.where(any_zero, 1.0, inverse)
        elif self.zero_vol_policy == "exclude":
            scores = np.where(zero.all(axis=1, keepdims=True), np.nan, np.where(zero, 0.0, inverse))
        else:
            scores = np.where(any_zero, np.nan, inverse)
        return sigma, scores

    def batch_targets(self, prices: FloatArray) -> tuple[FloatArray, BoolArray] | None:
        """Every day's weights at once, from sliding windows of the basket's closes: the same
        ``basket_scores`` and ``basket_weights`` as :meth:`target_weights`. A day whose scores
        are undefined (the zero-volatility policy declines) is flagged declined."""
        n, h, k = len(prices), self.history_closes, len(self.basket)
        if n < h:
            return None
        views = np.lib.stride_tricks.sliding_window_view(prices[:, :k], h, axis=0)
        windows = np.ascontiguousarray(views.transpose(0, 2, 1))  # (n - h + 1, h, k)
        with np.errstate(divide="ignore", invalid="ignore"):
            _, scores = self.basket_scores(windows)
            weights = self.basket_weights(scores)
        fixed = np.array([self.fixed[s] for s in self.symbols[k:]], dtype=float)
        table = np.full((n, len(self.symbols)), np.nan)
        table[h - 1 :, :k] = weights
        table[:, k:] = fixed
        declined = np.zeros(n, dtype=bool)
        declined[h - 1 :] = np.isnan(scores).any(axis=1)
        return table, declined

    def basket_weights(self, scores: FloatArray) -> FloatArray:
        """Scores (days × basket) normalised to ``basket_weight`` per day."""
        weights: FloatArray = self.basket_weight * scores / scores.sum(axis=1, keepdims=True)
        return weights

    def _no_decision_message(self, names: list[str], as_of: date) -> str:
        """Explain why there is no decision, and what the engine will do about it."""
        if self.zero_vol_policy == "exclude":
            return (
                f"every basket asset has zero volatility on {as_of} ({', '.join(names)}); "
                "nothing left to weight under policy exclude; the engine will hold"
            )
        return (
            f"zero volatility for {', '.join(names)} over the last {self.lookback_days} returns "
            f"up to {as_of} (σ ≤ vol_floor {self.vol_floor:g}); two identical closes usually "
            "mean a stale price, so policy skip_day declines to decide; the engine will hold"
        )


def _population_std(returns: FloatArray) -> FloatArray:
    """``returns.std(axis=1, ddof=0)`` for (days × returns × assets), the same operations in the
    same order (so the same bits), summed one return at a time: with two or three returns per
    window numpy's generic reduction costs several times more than the arithmetic."""
    count = returns.shape[1]
    total = returns[:, 0].copy()
    for j in range(1, count):
        total += returns[:, j]
    mean = total / count
    squares = np.zeros_like(mean)
    for j in range(count):
        deviation = returns[:, j] - mean
        squares += deviation * deviation
    sigma: FloatArray = np.sqrt(squares / count)
    return sigma
