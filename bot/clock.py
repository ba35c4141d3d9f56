"""Clock adapters: the wall clock for the daemon, a simulated clock for the demo and tests."""

from __future__ import annotations

import time
from datetime import UTC, datetime


class WallClock:
    """The real time; sleeping really waits."""

    def now(self) -> datetime:
        """Current UTC time."""
        return datetime.now(UTC)

    def sleep_until(self, moment: datetime) -> None:
        """Block until ``moment`` (in slices, so a changed system clock is noticed)."""
        while (remaining := (moment - self.now()).total_seconds()) > 0:
            time.sleep(min(remaining, 60.0))


class SimulatedClock:
    """A clock that only moves when told to: sleeping jumps straight to the wake-up time."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            msg = "SimulatedClock needs a timezone-aware start"
            raise ValueError(msg)
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        """The simulated current time."""
        return self._now

    def sleep_until(self, moment: datetime) -> None:
        """Jump to ``moment``; a simulated clock never goes backwards."""
        self._now = max(self._now, moment.astimezone(UTC))
