"""Constant target weights, e.g. HEDGEFUNDIE's Excellent Adventure (55% UPRO / 45% TMF).

The weights never depend on prices, but the strategy still asks for today's close of every symbol
so that a missing or broken price stops the trade instead of letting the engine size orders from it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType

import numpy as np
import pandas as pd

from strategies.base import BoolArray, FloatArray, TargetWeights, window_values

MAX_GROSS_EXPOSURE = 5.0
"""Σ|w| above this is treated as a configuration typo (e.g. 55 meant as 0.55), not a strategy."""


@dataclass(frozen=True, slots=True)
class FixedWeights:
    """Hold the same weights on every rebalance (HFEA: ``{"UPRO": 0.55, "TMF": 0.45}``)."""

    weights: Mapping[str, float]

    def __post_init__(self) -> None:
        """Reject weights that could only come from a typo, and freeze them against mutation."""
        validate_weights(self.weights, what="fixed weights")
        object.__setattr__(self, "weights", MappingProxyType(dict(self.weights)))

    @property
    def symbols(self) -> tuple[str, ...]:
        """The held symbols, in the order they were given."""
        return tuple(self.weights)

    @property
    def history_closes(self) -> int:
        """Only today's close: enough to prove every symbol has a usable price."""
        return 1

    def target_weights(self, closes: pd.DataFrame, as_of: date) -> TargetWeights:
        """Return the configured weights once today's closes are known to be usable."""
        window_values(closes, self.symbols, self.history_closes, as_of)
        return TargetWeights(weights=dict(self.weights))

    def batch_targets(self, prices: FloatArray) -> tuple[FloatArray, BoolArray]:
        """The same weights on every row; never declines."""
        n = len(prices)
        row = np.array([self.weights[s] for s in self.symbols], dtype=float)
        return np.tile(row, (n, 1)), np.zeros(n, dtype=bool)


def validate_weights(weights: Mapping[str, float], *, what: str) -> None:
    """Raise ``ValueError`` for empty or blank symbols, non-finite weights or an absurd gross.

    Shared with the inverse-volatility fixed sleeve, so both reject the same typos.
    """
    if not weights:
        msg = f"{what}: at least one symbol is required"
        raise ValueError(msg)
    for symbol, weight in weights.items():
        if not isinstance(symbol, str) or not symbol.strip():
            msg = f"{what}: symbol names must be non-empty strings, got {symbol!r}"
            raise ValueError(msg)
        if not math.isfinite(weight):
            msg = f"{what}: weight for {symbol} is {weight}, not a finite number"
            raise ValueError(msg)
    gross = sum(abs(w) for w in weights.values())
    if gross > MAX_GROSS_EXPOSURE:
        msg = (
            f"{what}: gross exposure Σ|w| = {gross:g} exceeds {MAX_GROSS_EXPOSURE:g}; "
            "weights are fractions (0.55), not percent (55)"
        )
        raise ValueError(msg)
