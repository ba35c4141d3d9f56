"""Alerts: what the unattended daemon tells a human, delivered without getting in trading's way.

Why it is shaped like this:

* **Never raises, never blocks.** An alert is a side effect of trading, not a step of it: a dead
  Slack webhook or a slow SMTP server must not delay or abort a cycle, nor each other. Deliveries
  therefore run on one daemon worker thread per channel, each fed by its own queue, and every
  failure ends up recorded and logged instead of raised.
* **At most once per (strategy, key, channel), across restarts.** The tracker is the only memory
  the bot has (no second source of truth): a delivery is recorded as ``ALERT_SENT`` and a key
  already recorded for a channel is skipped, so a restarted daemon does not repeat the start-up
  banner or a cycle's trades. (A crash between the delivery and its record can still repeat one
  message: a duplicate is preferred to a lost alert.)
* **Nothing queued is lost.** Each alert is recorded as ``ALERT_QUEUED`` (with its text) before
  delivery starts; one still undelivered when the process stops (killed, or the 30 s shutdown
  flush ran out) is delivered at the next start by :meth:`AlertDispatcher.resend_unsent`.
* **Retried with backoff, per channel.** A channel is tried ``attempts`` times with exponential
  backoff; only the outcome is recorded (``ALERT_SENT`` or ``ALERT_FAILED``), each failed attempt
  is logged. One channel failing never stops the others.
* **No secrets.** The webhook URL (it holds the token) and the SMTP password never reach a log
  line, a tracker row or an error message: channels raise :class:`AlertDeliveryError` with
  sanitised text, and any other exception is recorded by its type only.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

from bot.alert_port import Alert, AlertDeliveryError, Channel, Severity
from bot.errors import StateError
from bot.ports import Clock
from bot.tracker import EventKind, EventRow, Tracker

# The values live in bot.alert_port (the channels import them from there); they are re-exported
# here for the callers that think of them as "the alerts".
__all__ = [
    "EXIT_FLUSH_SECONDS",
    "Alert",
    "AlertDeliveryError",
    "AlertDispatcher",
    "Channel",
    "Severity",
    "channel_health",
]

log = structlog.get_logger()
NO_CHANNEL_HINT = (
    "no alert channel is configured: set SLACK_WEBHOOK_URL or the SMTP settings to receive "
    "alerts (further ones are logged at debug level)"
)

EXIT_FLUSH_SECONDS = 30.0  # what is still queued when a command ends gets this long (then: resent)
STOP_FLUSH_SECONDS = 10.0  # … or this long after a SIGTERM, which has 60 s for everything


@dataclass(slots=True)
class _Worker:
    """A delivery thread and the queue only it reads (``None`` in the queue stops it)."""

    thread: threading.Thread
    inbox: queue.SimpleQueue[Alert | None]


class AlertDispatcher:
    """Delivers alerts to every channel, deduplicated, retried and recorded in the tracker.

    With ``background=True`` (the daemon) ``send`` only enqueues; one daemon worker thread per
    channel delivers, each through its own tracker connection on the same file (SQLite connections
    belong to the thread that opened them), so one slow channel delays no other. With
    ``background=False`` (tests, CLI one-shots) delivery runs inline, channel after channel.
    """

    def __init__(
        self,
        tracker: Tracker,
        channels: Sequence[Channel],
        clock: Clock,
        *,
        attempts: int = 3,
        backoff_seconds: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        background: bool = True,
    ) -> None:
        _check_channel_names(channels)
        if attempts < 1:
            msg = f"alert attempts must be at least 1, not {attempts}"
            raise ValueError(msg)
        self._tracker = tracker
        self._channels = tuple(channels)
        self._clock = clock
        self._attempts = attempts
        self._backoff = backoff_seconds
        self._sleep = sleep
        self._background = background
        self._lock = threading.Lock()
        self._idle = threading.Condition()
        self._pending = 0
        self._workers: dict[str, _Worker] = {}  # one per channel
        self._said_no_channel = False

    def _no_channel(self, alert: Alert) -> None:
        """Without a channel, alerts go nowhere: said once (at info, with how to get them),
        then each alert at debug — a simulated year must not print hundreds of these lines."""
        level = log.debug if self._said_no_channel else log.info
        hint = "" if self._said_no_channel else NO_CHANNEL_HINT
        level("alert.no_channel", key=alert.key, title=alert.title, hint=hint, **_context(alert))
        self._said_no_channel = True

    @property
    def channel_names(self) -> tuple[str, ...]:
        """The configured channels, in delivery order."""
        return tuple(channel.name for channel in self._channels)

    def send(self, alert: Alert) -> None:
        """Deliver ``alert`` to every channel; never raises, and never blocks in background mode."""
        try:
            if not self._channels:
                self._no_channel(alert)
                return
            self._remember(alert)
            self._dispatch(alert)
        except Exception as exc:  # the last guard: an alert must never break trading
            log.warning("alert.dispatch_failed", key=alert.key, error=type(exc).__name__)

    def resend_unsent(self) -> int:
        """Deliver the alerts recorded as queued that some channel neither sent nor gave up on
        (the process stopped first). Call once at start-up; returns how many were resent."""
        if not self._channels:
            return 0
        try:
            lost = _unsent(self._tracker, self.channel_names)
        except StateError as exc:
            log.warning("alert.resend_unavailable", error=str(exc))
            return 0
        for alert in lost:
            log.info("alert.resending", key=alert.key, **_context(alert))
            self._dispatch(alert)
        return len(lost)

    def _remember(self, alert: Alert) -> None:
        """Record the alert before delivery starts, so a stop before delivery does not lose it.
        A failure to record is logged and delivery goes ahead (the alert matters more)."""
        try:
            self._record(
                self._tracker,
                alert,
                EventKind.ALERT_QUEUED,
                ",".join(self.channel_names),
                severity=alert.severity.value,
                title=alert.title,
                text=alert.text,
            )
        except Exception as exc:
            log.warning("alert.not_recorded", key=alert.key, error=type(exc).__name__)

    def _dispatch(self, alert: Alert) -> None:
        try:
            if self._background:
                self._enqueue(alert)
            else:
                self._deliver_all(alert, self._tracker)
        except Exception as exc:  # the last guard: an alert must never break trading
            log.warning("alert.dispatch_failed", key=alert.key, error=type(exc).__name__)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued alert was handled; False if ``timeout`` passed first."""
        with self._idle:
            done = self._idle.wait_for(lambda: self._pending == 0, timeout)
        if not done:
            log.warning("alert.flush_timeout", pending=self._pending, timeout=timeout)
        return done

    def close(self, timeout: float = 10.0) -> bool:
        """Flush, then let the workers exit (a later ``send`` starts new ones); for shutdown."""
        done = self.flush(timeout)
        with self._lock:
            workers, self._workers = list(self._workers.values()), {}
        for worker in workers:
            worker.inbox.put(None)
        if done:
            for worker in workers:
                worker.thread.join(timeout)
        return done

    def health(self) -> dict[str, dict[str, object]]:
        """Per channel: last success, last failure and its error, consecutive failed alerts.

        Read from the tracker, so ``bot status`` (another process) sees what the daemon did.
        """
        return channel_health(self._tracker, self.channel_names)

    # --- background worker -------------------------------------------------------------------

    def _enqueue(self, alert: Alert) -> None:
        """One delivery per channel, each on that channel's own worker: a hanging Slack never
        holds up the email."""
        for channel in self._channels:
            with self._idle:
                self._pending += 1
            try:
                with self._lock:
                    self._live_worker(channel).inbox.put(alert)
            except BaseException:
                self._done()
                raise

    def _live_worker(self, channel: Channel) -> _Worker:
        """The channel's worker, started on first use (an unused dispatcher costs no thread)."""
        worker = self._workers.get(channel.name)
        if worker is None or not worker.thread.is_alive():
            inbox: queue.SimpleQueue[Alert | None] = queue.SimpleQueue()
            thread = threading.Thread(
                target=self._run,
                args=(inbox, channel),
                name=f"alert-{channel.name}",
                daemon=True,
            )
            worker = self._workers[channel.name] = _Worker(thread, inbox)
            thread.start()
        return worker

    def _run(self, inbox: queue.SimpleQueue[Alert | None], channel: Channel) -> None:
        tracker = self._open_tracker()
        try:
            while (alert := inbox.get()) is not None:
                try:
                    self._deliver(alert, channel, tracker)
                except Exception as exc:
                    log.warning("alert.dispatch_failed", key=alert.key, error=type(exc).__name__)
                finally:
                    self._done()
        finally:
            if tracker is not None:
                tracker.close()

    def _open_tracker(self) -> Tracker | None:
        try:
            return Tracker(self._tracker.path)
        except Exception as exc:  # deliver anyway: a duplicate beats a lost alert
            log.warning("alert.tracker_unavailable", error=str(exc))
            return None

    def _done(self) -> None:
        with self._idle:
            self._pending -= 1
            if self._pending == 0:
                self._idle.notify_all()

    # --- delivery ------------------------------------------------------------------------------

    def _deliver_all(self, alert: Alert, tracker: Tracker | None) -> None:
        for channel in self._channels:
            self._deliver(alert, channel, tracker)

    def _deliver(self, alert: Alert, channel: Channel, tracker: Tracker | None) -> None:
        if _already_sent(tracker, alert, channel.name):
            log.debug("alert.already_sent", key=alert.key, channel=channel.name, **_context(alert))
            return
        error = self._try(alert, channel)
        if error is None:
            self._record(
                tracker,
                alert,
                EventKind.ALERT_SENT,
                channel.name,
                title=alert.title,
                severity=alert.severity.value,
            )
            log.info("alert.sent", key=alert.key, channel=channel.name, **_context(alert))
        else:
            self._record(tracker, alert, EventKind.ALERT_FAILED, channel.name, error=error)
            log.warning(
                "alert.failed",
                key=alert.key,
                channel=channel.name,
                error=error,
                attempts=self._attempts,
                **_context(alert),
            )

    def _try(self, alert: Alert, channel: Channel) -> str | None:
        """Up to ``attempts`` deliveries with exponential backoff; the last error, or None."""
        error = ""
        for attempt in range(self._attempts):
            if attempt:
                self._sleep(self._backoff * 2 ** (attempt - 1))
            error = _attempt(alert, channel)
            if not error:
                return None
            log.info(
                "alert.attempt_failed",
                key=alert.key,
                channel=channel.name,
                attempt=attempt + 1,
                error=error,
                **_context(alert),
            )
        return error

    def _record(
        self, tracker: Tracker | None, alert: Alert, kind: EventKind, channel: str, **extra: Any
    ) -> None:
        if tracker is None:
            log.warning("alert.not_recorded", key=alert.key, channel=channel, kind=kind.value)
            return
        try:
            tracker.record(
                self._clock.now(),
                alert.run_id,
                alert.strategy,
                kind,
                key=alert.key,
                channel=channel,
                **extra,
            )
        except StateError as exc:
            log.warning("alert.not_recorded", key=alert.key, channel=channel, error=str(exc))


def _attempt(alert: Alert, channel: Channel) -> str:
    """One delivery: "" on success, else an error text that is safe to record."""
    try:
        channel.send(alert)
    except AlertDeliveryError as exc:
        return str(exc) or type(exc).__name__
    except Exception as exc:  # a channel bug: its message could hold anything, so only the type
        return f"unexpected {type(exc).__name__} in the {channel.name} channel"
    return ""


def _already_sent(tracker: Tracker | None, alert: Alert, channel: str) -> bool:
    """True if the tracker holds ALERT_SENT for this key on this channel (a tracker error: no)."""
    if tracker is None:
        return False
    try:
        rows = tracker.events(strategy=alert.strategy, kind=EventKind.ALERT_SENT)
    except StateError as exc:  # better a duplicate than a silent alert
        log.warning("alert.dedupe_unavailable", key=alert.key, error=str(exc))
        return False
    return any(
        r.payload.get("key") == alert.key and r.payload.get("channel") == channel for r in rows
    )


def _unsent(tracker: Tracker, channels: Sequence[str]) -> list[Alert]:
    """Queued alerts that a channel they were queued for (and still configured) has no outcome
    for: neither sent nor given up. A channel added since is not sent the old alerts."""
    done = {
        (r.payload.get("key"), r.payload.get("channel"))
        for kind in (EventKind.ALERT_SENT, EventKind.ALERT_FAILED)
        for r in tracker.events(kind=kind)
    }
    lost: dict[str, Alert] = {}
    for row in tracker.events(kind=EventKind.ALERT_QUEUED):
        key = str(row.payload.get("key", ""))
        wanted = [c for c in str(row.payload.get("channel", "")).split(",") if c in channels]
        if key and any((key, channel) not in done for channel in wanted):
            lost[key] = Alert(
                key=key,
                severity=Severity(row.payload.get("severity", Severity.INFO.value)),
                title=f"[delayed from {row.at[:16]}] {row.payload.get('title', '')}",
                text=str(row.payload.get("text", "")),
                strategy=row.strategy,
                run_id=row.run_id,
            )
    return list(lost.values())


def _context(alert: Alert) -> dict[str, str]:
    return {"strategy": alert.strategy, "run_id": alert.run_id}


def _check_channel_names(channels: Sequence[Channel]) -> None:
    """Dedupe and health are keyed by channel name, so two channels may not share one."""
    names = [channel.name for channel in channels]
    if len(set(names)) != len(names):
        msg = f"alert channel names must be unique, got {names}"
        raise ValueError(msg)


# --- health ------------------------------------------------------------------------------------


def channel_health(tracker: Tracker, names: Iterable[str]) -> dict[str, dict[str, object]]:
    """Per channel name, from the tracker: ``last_success_at``, ``last_failure_at``,
    ``last_error`` and ``consecutive_failures`` (alerts that failed after all retries since the
    last success). Usable without a dispatcher, e.g. by ``bot status``."""
    rows = sorted(
        tracker.events(kind=EventKind.ALERT_SENT) + tracker.events(kind=EventKind.ALERT_FAILED),
        key=lambda row: row.id,
    )
    return {name: _health([r for r in rows if r.payload.get("channel") == name]) for name in names}


def _health(rows: list[EventRow]) -> dict[str, object]:
    successes = [r for r in rows if r.kind == EventKind.ALERT_SENT.value]
    failures = [r for r in rows if r.kind == EventKind.ALERT_FAILED.value]
    last_ok = successes[-1] if successes else None
    last_bad = failures[-1] if failures else None
    return {
        "last_success_at": last_ok.at if last_ok else None,
        "last_failure_at": last_bad.at if last_bad else None,
        "last_error": last_bad.payload.get("error") if last_bad else None,
        "consecutive_failures": sum(1 for r in failures if last_ok is None or r.id > last_ok.id),
    }
