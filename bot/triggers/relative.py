"""The relative corridor: trade the whole book when any weight is more than ``width`` *of its
own target* away from it — 0.25 means a 40% target may move between 30% and 50%, a 10% target
between 7.5% and 12.5%. A symbol wanted but not held at all is infinitely off, so whatever the
width, a position is opened from cash.

An absolute corridor treats every fund alike, so a small weight can halve before it trades while
a large one trades on noise; a relative one scales with the weight (Swedroe's 5/25 rule uses
both). A symbol held with a zero target is off by all of itself: it always trades.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from bot.triggers.base import INFINITE, Decision, Measure, Number, TriggerInput, worst_drift


@dataclass(frozen=True, slots=True)
class RelativeDriftRule:
    """Trade when |weight − target| / |target| exceeds ``width`` (strictly, unless
    ``inclusive``) for any symbol of the strategy."""

    width: Decimal
    inclusive: bool = False

    @property
    def kind(self) -> str:
        """``[trigger] kind = "relative_drift"``."""
        return "relative_drift"

    @property
    def measure(self) -> Measure[float]:
        """A fraction of each target."""
        return relative_drift

    def decide(self, now: TriggerInput) -> Decision:
        """Trade when the worst relative drift is beyond the corridor."""
        key = f"{now.today:%Y%m%d}"
        symbol, drift = max_relative_drift(now.current, now.target)
        beyond = drift >= self.width if self.inclusive else drift > self.width
        corridor = f"corridor {self.width * 100}% of target"
        if not beyond:
            return Decision(
                False, f"max drift {drift * 100:.3f}% of target ({symbol}) within {corridor}", key
            )
        if drift == INFINITE and now.current.get(symbol, Decimal(0)) != 0:
            return Decision(True, f"{symbol} is held but its target is 0 ({corridor})", key)
        if drift == INFINITE:
            return Decision(True, f"{symbol} has a target but is not held ({corridor})", key)
        why = f"{symbol} drifted {drift * 100:.3f}% of its target ({corridor})"
        return Decision(True, why, key)


def max_relative_drift(
    current: Mapping[str, Decimal], target: Mapping[str, Decimal]
) -> tuple[str, Decimal]:
    """The symbol with the largest |current − target| / |target|, and that drift rounded to
    1e-9 — infinite for a symbol held with a zero target, or wanted and not held at all (so a
    corridor of any width opens a position from cash); 0 for one neither held nor wanted."""
    return worst_drift(current, target, relative_drift)


def relative_drift(current: Number, target: Number) -> Number:
    """|current − target| / |target|: the relative corridor's measure (see ``Measure``)."""
    if target == 0 or current == 0:  # held but not wanted, or wanted but not held at all
        return current - target if current == target else math.inf  # type: ignore[return-value]
    return abs(current - target) / abs(target)
