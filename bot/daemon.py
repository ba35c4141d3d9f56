"""The daemon: wake each market day, run every strategy's cycle, alert, and watch itself.

One :class:`Daemon` serves both clocks. With a simulated clock :meth:`Daemon.run_simulated`
jumps from one wake to the next (the demo runs months in seconds); with the wall clock
``bot.scheduler`` drives the same :meth:`Daemon.wake` and :meth:`Daemon.check_completed` from
APScheduler. Start-up (:meth:`Daemon.start`) is where restarts and outages are caught up.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol

import structlog

from bot.alert_port import Alert
from bot.alerting import (
    AlertSender,
    cycle_alerts,
    missed_alert,
    portfolio_alerts,
    started_alert,
)
from bot.cycle import NEW_YORK, Adapters, CycleResult, StrategyRuntime, run_cycle
from bot.journal import EventKind
from bot.portfolio.wake import PortfolioRuntime, run_portfolio_wake
from bot.ports import Clock, Journal, MarketCalendar
from bot.triggers import Trigger, TriggerInput

log = structlog.get_logger()
DEAD_MAN_MARGIN = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class DaemonSummary:
    """How many cycles ended how, over one daemon run."""

    cycles: int
    outcomes: Counter[str]
    last_session: date | None


@dataclass(frozen=True, slots=True)
class Member:
    """One strategy in the daemon, with its own adapters (its own account or sleeve)."""

    runtime: StrategyRuntime
    adapters: Adapters

    @property
    def name(self) -> str:
        """The name its cycles are recorded under."""
        return self.runtime.name

    def run(self) -> tuple[list[CycleResult], list[Alert]]:
        """One wake: the strategy's cycle (its alerts are composed from the result)."""
        return [run_cycle(self.adapters, self.runtime)], []

    def triggers(self) -> list[tuple[str, Trigger]]:
        """(name, trigger) of each strategy it runs, for the late-rebalance check."""
        return [(self.runtime.name, self.runtime.trigger)]


@dataclass(frozen=True, slots=True)
class PortfolioMember:
    """Several strategies in one account (``bot.portfolio``), woken as one."""

    portfolio: PortfolioRuntime
    adapters: Adapters

    @property
    def name(self) -> str:
        """The portfolio's name: its wake's cycle is recorded under it."""
        return self.portfolio.name

    def run(self) -> tuple[list[CycleResult], list[Alert]]:
        """One wake of the portfolio: each strategy's result, and the account's own alerts (a
        reconciliation failure, the netted orders' failure)."""
        result = run_portfolio_wake(self.adapters, self.portfolio)
        return list(result.sleeves), portfolio_alerts(result)

    def triggers(self) -> list[tuple[str, Trigger]]:
        """Every strategy's trigger."""
        return [(s.name, s.runtime.trigger) for s in self.portfolio.sleeves]


AnyMember = Member | PortfolioMember


class Beat(Protocol):
    """The heartbeat the daemon writes after each wake (see bot.health)."""

    def beat(self, **info: object) -> None:
        """Record that the daemon is alive."""
        ...


def next_wake(calendar: MarketCalendar, after: datetime, before_close: timedelta) -> datetime:
    """The first session wake (close − ``before_close``) strictly after ``after``."""
    day = after.astimezone(NEW_YORK).date()
    for session in calendar.sessions(day, day + timedelta(days=14)):
        wake = calendar.session_close(session) - before_close
        if wake > after:
            return wake
    msg = f"no trading session in the two weeks after {day}"
    raise RuntimeError(msg)


@dataclass
class Daemon:
    """Every configured strategy, woken together each market day."""

    members: Sequence[AnyMember]
    tracker: Journal
    before_close: timedelta
    alerts: AlertSender | None = None
    heartbeat: Beat | None = None
    dead_man_margin: timedelta = DEAD_MAN_MARGIN
    on_cycle: Callable[[CycleResult], None] | None = None
    outcomes: Counter[str] = field(default_factory=Counter)
    last_session: date | None = None
    stop_requested: bool = False  # set by a signal: wind the current cycle down, start no other

    @property
    def _clock(self) -> Clock:
        """The clock every member shares."""
        return self.members[0].adapters.clock

    @property
    def _calendar(self) -> MarketCalendar:
        return self.members[0].adapters.calendar

    def today(self) -> date:
        """The current New York date."""
        return self._clock.now().astimezone(NEW_YORK).date()

    def start(self, banner: str = "") -> None:
        """Record the start, alert it, and catch up what an outage or a crash left undone."""
        now = self._clock.now()
        names = [m.name for m in self.members]
        self._record("", EventKind.DAEMON_STARTED, strategies=names, banner=banner)
        self._send(started_alert(now, banner, names))
        if self.heartbeat is not None:
            self.heartbeat.beat(started=now.isoformat())  # healthy from the first minute
        self._catch_up(now)

    def stopped(self, reason: str) -> None:
        """Record a stop the daemon lived to see (a signal, the end of a simulated period, a
        crash): a DAEMON_STOPPED event and a last heartbeat marked ``stopped``, so ``bot status``
        and ``bot health`` say "stopped" instead of taking the last beat for a live daemon."""
        self._record("", EventKind.DAEMON_STOPPED, reason=reason)
        if self.heartbeat is not None:
            self.heartbeat.beat(stopped=True, reason=reason)

    def wake(self) -> list[CycleResult]:
        """Run every strategy's cycle (each isolated from the others' failures) and alert."""
        results = []
        for member in self.members:
            if self.stop_requested:
                break
            results += self._run_one(member)
        if self.heartbeat is not None:
            self.heartbeat.beat(last_wake=self._clock.now().isoformat(), cycles=len(results))
        return results

    def check_completed(self, day: date) -> list[str]:
        """The dead-man check: strategies without a finished cycle for ``day`` are alerted."""
        missing = [m.name for m in self.members if not self._finished_on(m, day)]
        for name in missing:
            self._record(name, EventKind.MISSED_RUN, session=day, why="no finished cycle")
            self._send(missed_alert(name, day, "the day's cycle did not complete"))
        return missing

    def missed_job(self, job_id: str, scheduled: datetime) -> None:
        """APScheduler dropped a run (the machine stalled past the grace): say so, loudly."""
        day = scheduled.astimezone(NEW_YORK).date()
        for member in self.members:
            name = member.name
            self._record(name, EventKind.MISSED_RUN, session=day, why=f"{job_id} job missed")
            self._send(missed_alert(name, day, f"the {job_id} at {scheduled:%H:%M} was missed"))

    def run_simulated(self, until: date | None) -> DaemonSummary:
        """The loop for a simulated clock: jump to each wake, run, check, until ``until`` (or
        until a stop is requested)."""
        while not self.stop_requested:
            wake = next_wake(self._calendar, self._clock.now(), self.before_close)
            if until is not None and wake.astimezone(NEW_YORK).date() > until:
                return self.summary()
            self._clock.sleep_until(wake)
            self.wake()
            self.check_completed(wake.astimezone(NEW_YORK).date())
        return self.summary()

    def summary(self) -> DaemonSummary:
        """Outcome counts so far."""
        return DaemonSummary(sum(self.outcomes.values()), self.outcomes, self.last_session)

    # ---------------------------------------------------------------------------- internals

    def _run_one(self, member: AnyMember) -> list[CycleResult]:
        try:
            results, alerts = member.run()
        except Exception:
            log.exception("cycle_crashed", strategy=member.name)
            self.outcomes["crashed"] += 1
            self._send(missed_alert(member.name, self.today(), "the cycle crashed"))
            return []
        for alert in alerts:
            self._send(alert)
        for result in results:
            self._report(result)
        return results

    def _report(self, result: CycleResult) -> None:
        self.outcomes[result.outcome] += 1
        self.last_session = result.session
        log.info(
            "cycle_done",
            run_id=result.run_id,
            strategy=result.strategy,
            session=str(result.session),
            outcome=result.outcome,
            reason=result.reason,
            orders=len(result.orders),
            equity=None if result.equity is None else f"{result.equity:.2f}",
        )
        try:
            for alert in cycle_alerts(result, self.tracker):
                self._send(alert)
        except Exception:  # an alert must never cost another strategy its cycle
            log.exception("alert_compose_failed", strategy=result.strategy)
        if self.on_cycle is not None:
            self.on_cycle(result)

    def _catch_up(self, now: datetime) -> None:
        """After an outage: alert the previous session if it never completed, and run today's
        cycle now if its wake has passed without one (the market must still be open)."""
        sessions = self._calendar.sessions(self.today() - timedelta(days=10), self.today())
        past = [d for d in sessions if d < self.today()]
        if past:
            self._check_previous_session(past[-1])
        if self.today() not in sessions:
            return
        wake = self._calendar.session_close(self.today()) - self.before_close
        for member in self.members:
            if self.stop_requested:
                return
            self._catch_up_member(member, now, wake)

    def _check_previous_session(self, day: date) -> None:
        """Alert a session without a finished cycle, for strategies that were running before it
        (a strategy added today, or a first start, has nothing to miss)."""
        for member in self.members:
            first = self.tracker.first_cycle_session(member.name)
            if first is not None and first < day and not self._finished_on(member, day):
                name = member.name
                self._record(name, EventKind.MISSED_RUN, session=day, why="daemon was down")
                self._send(missed_alert(name, day, "the day's cycle did not complete"))

    def _catch_up_member(self, member: AnyMember, now: datetime, wake: datetime) -> None:
        """A late calendar rebalance, or today's missed wake: run now if the market is open
        (prices are live), else say it waits for the next wake. Either way it is recorded."""
        name = member.name
        late_rebalance = self._late_calendar_key(member)
        missed_today = now >= wake and not self._finished_on(member, self.today())
        if not (late_rebalance or missed_today):
            return
        why = f"rebalance {late_rebalance} is late" if late_rebalance else "today's wake passed"
        if member.adapters.broker.market_open():
            self._record(name, EventKind.MISSED_RUN, session=self.today(), why=why, action="now")
            self._send(missed_alert(name, self.today(), f"{why}: catching up now"))
            self._run_one(member)
        else:
            self._record(name, EventKind.MISSED_RUN, session=self.today(), why=why, action="next")
            self._send(missed_alert(name, self.today(), f"{why}: catching up at the next wake"))

    def _late_calendar_key(self, member: AnyMember) -> str | None:
        today = self.today()
        sessions = self._calendar.sessions(today - timedelta(days=130), today + timedelta(days=45))
        if today not in sessions:
            return None
        for name, trigger in member.triggers():
            # Only a schedule can be late: with no weights to compare, a corridor never trades.
            done = functools.partial(self.tracker.last_rebalance_key, name)
            decision = trigger.decide(TriggerInput(today, sessions, {}, {}, done))
            if decision.trade and decision.late:
                return decision.rebalance_key
        return None

    def _finished_on(self, member: AnyMember, day: date) -> bool:
        return self.tracker.finished_cycle_on(member.name, day)

    def _record(self, strategy: str, kind: EventKind, **payload: object) -> None:
        self.tracker.record(self._clock.now(), "daemon", strategy, kind, **payload)

    def _send(self, alert: Alert | None) -> None:
        if self.alerts is not None and alert is not None:
            self.alerts.send(alert)


def run_daemon(
    adapters: Adapters,
    runtimes: Sequence[StrategyRuntime],
    *,
    before_close: timedelta,
    until: date | None = None,
    on_cycle: Callable[[CycleResult], None] | None = None,
) -> DaemonSummary:
    """Run strategies sharing one set of adapters on a simulated clock (the demo, tests)."""
    members = [Member(runtime, adapters) for runtime in runtimes]
    daemon = Daemon(members, adapters.tracker, before_close, on_cycle=on_cycle)
    return daemon.run_simulated(until)
