"""A stop request that a signal handler sets and the cycle honours between broker calls.

SIGTERM must not wait for minutes of order polling: the handler sets the token, the wall clock's
sleeps wake at once, and the execution loop sees ``requested`` before its next poll, cancels what
is still unfilled, journals it and ends the cycle with an error. A restart resumes from the
journal. The token is a value the shell injects (``Adapters.stop``); the core never installs
signal handlers itself.
"""

from __future__ import annotations

import threading

from bot.errors import BotError


class StopRequested(BotError):  # noqa: N818 - a request, not a fault of the bot
    """Raised inside a cycle when a stop was requested, after its unfilled orders were cancelled
    and journalled; the cycle ends with an error and a restart resumes from the journal."""


class StopToken:
    """Set once (by a signal handler or a test); read by the cycle and by sleeping clocks."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    def request(self, reason: str = "stop requested") -> None:
        """Ask every cycle using this token to wind down (safe from a signal handler)."""
        self.reason = self.reason or reason
        self._event.set()

    @property
    def requested(self) -> bool:
        """True once a stop was requested."""
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; return early (True) when a stop is requested."""
        return self._event.wait(max(seconds, 0.0))
