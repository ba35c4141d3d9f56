"""APScheduler 3.x wiring for the wall clock: wakes, dead-man checks, heartbeats, signals.

The state directory's lock (one bot process per directory) lives in ``bot.state_lock``.

APScheduler only calls the daemon; when to wake is :class:`MarketWakeTrigger`, a pure function
of the market calendar (holidays, early closes and DST come from it), the same ``next_wake`` the
simulated loop uses. Jobs coalesce, never overlap, and have a generous misfire grace: the 1-second
default silently skips a run after a stall (FIELD-NOTES.md §4).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from threading import TIMEOUT_MAX
from types import FrameType

import structlog
from apscheduler.events import EVENT_JOB_MISSED
from apscheduler.executors.debug import DebugExecutor
from apscheduler.schedulers.base import STATE_STOPPED
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.cycle import NEW_YORK
from bot.daemon import Daemon, next_wake
from bot.ports import MarketCalendar
from bot.stopping import StopToken

log = structlog.get_logger()
JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600}
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class DaemonScheduler(BlockingScheduler):
    """A BlockingScheduler that can be asked to stop from inside a job or a signal handler.

    Jobs run in this (main) thread; shutting the scheduler down while one runs would pull its job
    store from under it. ``request_stop`` only flags and wakes the loop, which ends between jobs,
    and ``start`` then shuts down cleanly.
    """

    stop_requested = False

    def request_stop(self) -> None:
        """Stop after the running job (if any) completes."""
        self.stop_requested = True
        if self._event is not None:
            self._event.set()

    def start(self, *args: object, **kwargs: object) -> None:
        """Run jobs until ``request_stop``."""
        super().start(*args, **kwargs)
        if self.running:
            self.shutdown(wait=True)

    def _main_loop(self) -> None:
        wait_seconds = TIMEOUT_MAX
        while self.state != STATE_STOPPED and not self.stop_requested:
            self._event.wait(wait_seconds)
            self._event.clear()
            if self.stop_requested:
                return
            wait_seconds = self._process_jobs()


class MarketWakeTrigger(BaseTrigger):
    """Fires ``before_close`` before each session's close (plus ``offset``, for the dead man)."""

    def __init__(
        self,
        calendar: MarketCalendar,
        before_close: timedelta,
        offset: timedelta = timedelta(0),
    ) -> None:
        self.calendar = calendar
        self.before_close = before_close - offset

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        """The first wake after the previous one, never before ``now`` minus a second."""
        after = now - timedelta(seconds=1)
        if previous_fire_time is not None:
            after = max(after, previous_fire_time)
        return next_wake(self.calendar, after, self.before_close).astimezone(NEW_YORK)

    def __str__(self) -> str:
        return f"market-wake[{self.before_close} before close]"


def build_scheduler(daemon: Daemon, calendar: MarketCalendar) -> DaemonScheduler:
    """A scheduler with the wake, the dead-man check and the heartbeat.

    Jobs run one at a time in the scheduler's own (main) thread: the tracker's SQLite connection
    belongs to that thread, the dead-man check queues behind a wake that is still confirming
    orders, and a signal lets the running job finish before the loop exits.
    """
    scheduler = DaemonScheduler(
        timezone=NEW_YORK, job_defaults=JOB_DEFAULTS, executors={"default": DebugExecutor()}
    )
    scheduler.add_listener(
        lambda event: daemon.missed_job(str(event.job_id), event.scheduled_run_time),
        EVENT_JOB_MISSED,
    )
    scheduler.add_job(
        daemon.wake, MarketWakeTrigger(calendar, daemon.before_close), id="wake", name="wake"
    )
    scheduler.add_job(
        lambda: daemon.check_completed(daemon.today()),
        MarketWakeTrigger(calendar, daemon.before_close, offset=daemon.dead_man_margin),
        id="dead_man",
        name="dead-man check",
    )
    if daemon.heartbeat is not None:
        beat = daemon.heartbeat
        scheduler.add_job(
            lambda: beat.beat(alive=True),
            IntervalTrigger(seconds=60),
            id="heartbeat",
            name="heartbeat",  # not APScheduler's default, build_scheduler.<locals>.<lambda>
        )
    return scheduler


@contextmanager
def stop_on_signals(stop: StopToken, *also: Callable[[], None]) -> Iterator[None]:
    """While the block runs, SIGTERM and SIGINT request ``stop`` (and call each of ``also``)
    instead of ending the process: sleeping order polls wake, the cycle cancels what is unfilled,
    journals it and ends; the command then exits. The previous handlers come back afterwards.

    Only the main thread may install handlers; elsewhere (a test's thread) this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        # Only ask: the code interrupted by the handler resumes and winds down by itself.
        name = signal.Signals(signum).name
        stop.request(name)
        for callback in also:
            callback()
        # Last, and guarded: the handler may have interrupted a write to stderr, and a nested
        # write there raises (a reentrant call); a log line must never break a stop.
        with contextlib.suppress(Exception):
            log.info("stop_requested", signal=name)

    previous = {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def run_forever(
    daemon: Daemon, calendar: MarketCalendar, banner: str = "", stop: StopToken | None = None
) -> None:
    """Start the daemon and block; SIGTERM/SIGINT set ``stop`` (the token every strategy's
    adapters share, so a cycle in progress cancels its unfilled orders and ends within seconds),
    start no further cycle, and end the loop."""
    scheduler = build_scheduler(daemon, calendar)
    stop = stop or StopToken()

    def stop_daemon() -> None:
        daemon.stop_requested = True
        scheduler.request_stop()

    reason = "the scheduler ended"
    try:
        with stop_on_signals(stop, stop_daemon):
            daemon.start(banner)
            if not daemon.stop_requested:
                log.info("daemon_scheduling", jobs=[str(job) for job in scheduler.get_jobs()])
                scheduler.start()
    except BaseException as exc:
        reason = f"crashed ({type(exc).__name__})"
        raise
    finally:
        daemon.stopped(stop.reason if stop.requested else reason)
