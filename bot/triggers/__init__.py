"""When to trade. One module per kind of trigger, each a pure :class:`Trigger`:

* ``calendar`` — scheduled rebalances (quarter start, month end, twice a month), caught up
  when missed;
* ``corridor`` — the absolute drift corridor (any weight more than ``width`` points off);
* ``relative`` — the relative corridor (any weight more than ``width`` of its own target off).
"""

from __future__ import annotations

from bot.triggers.base import (
    DRIFT_PRECISION,
    Corridor,
    Decision,
    Scheduled,
    Trigger,
    TriggerInput,
    absolute_drift,
    current_weights,
    max_drift,
    worst_drift,
)
from bot.triggers.calendar import CalendarRule, Schedule, calendar_decision, scheduled_rebalances
from bot.triggers.corridor import DriftRule, drift_decision
from bot.triggers.relative import RelativeDriftRule, max_relative_drift, relative_drift

__all__ = [
    "DRIFT_PRECISION",
    "CalendarRule",
    "Corridor",
    "Decision",
    "DriftRule",
    "RelativeDriftRule",
    "Schedule",
    "Scheduled",
    "Trigger",
    "TriggerInput",
    "absolute_drift",
    "calendar_decision",
    "current_weights",
    "drift_decision",
    "max_drift",
    "max_relative_drift",
    "relative_drift",
    "scheduled_rebalances",
    "worst_drift",
]
