"""Clock adapters: the wall clock for the daemon, a simulated clock for the demo and tests."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from bot.stopping import StopToken

WIND_DOWN_PACE_SECONDS = 0.25  # the longest sleep once a stop was requested


class WallClock:
    """The real time; sleeping really waits, unless a stop is requested.

    ``stop`` is the token SIGTERM sets. A sleep in progress (an order poll's, say) then returns
    at once, and the caller, which checks the token after each sleep, winds down. A sleep begun
    after the stop lasts at most ``WIND_DOWN_PACE_SECONDS``: the winding down (confirming the
    cancels) still polls the broker, and must pace its requests rather than spin. Without a
    token the clock has a private one that nobody sets.
    """

    def __init__(self, stop: StopToken | None = None) -> None:
        self.stop = stop or StopToken()

    def now(self) -> datetime:
        """Current UTC time."""
        return datetime.now(UTC)

    def sleep_until(self, moment: datetime) -> None:
        """Block until ``moment`` (in slices, so a changed system clock is noticed); a stop
        request ends the sleep at once (see the class docstring)."""
        if self.stop.requested:
            time.sleep(max(0.0, min((moment - self.now()).total_seconds(), WIND_DOWN_PACE_SECONDS)))
            return
        while (remaining := (moment - self.now()).total_seconds()) > 0:
            if self.stop.wait(min(remaining, 60.0)):
                return


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
