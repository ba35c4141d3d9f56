"""The drift corridor (All In): trade the whole book when any weight is more than ``width``
(absolute weight points) from its target — strictly, unless ``inclusive``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from bot.triggers.base import Decision, Measure, TriggerInput, absolute_drift, worst_drift


@dataclass(frozen=True, slots=True)
class DriftRule:
    """The drift corridor: absolute weight points, strictly greater unless ``inclusive``."""

    width: Decimal
    inclusive: bool = False

    @property
    def kind(self) -> str:
        """``[trigger] kind = "drift"``."""
        return "drift"

    @property
    def measure(self) -> Measure[float]:
        """Absolute weight points."""
        return absolute_drift

    def decide(self, now: TriggerInput) -> Decision:
        """Trade when the worst absolute drift is beyond the corridor."""
        worst, drift = worst_drift(now.current, now.target, absolute_drift)
        return drift_decision(worst, drift, self.width, now.today, self.inclusive)


def drift_decision(
    symbol: str, drift: Decimal, width: Decimal, today: date, inclusive: bool = False
) -> Decision:
    """Trade the whole book when the worst drift is beyond the corridor (strictly, by default)."""
    key = f"{today:%Y%m%d}"
    beyond = drift >= width if inclusive else drift > width
    if beyond:
        return Decision(
            True, f"{symbol} drifted {drift * 100:.3f} pp (corridor {width * 100} pp)", key
        )
    return Decision(
        False, f"max drift {drift * 100:.3f} pp ({symbol}) within {width * 100} pp", key
    )
