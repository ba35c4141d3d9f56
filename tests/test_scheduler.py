"""The daemon's schedule: wakes on XNYS sessions at close − 15 min New York time (holidays,
early closes and DST included), catch-up after an outage, and the dead-man check."""

from __future__ import annotations

import signal
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from apscheduler.events import EVENT_JOB_EXECUTED

from bot.adapters.frame_market import FrameMarketData
from bot.adapters.sim_broker import NO_FEES, CloseTable, SimulatedBroker
from bot.adapters.xnys_calendar import XnysCalendar
from bot.alerts import Alert, Severity
from bot.clock import SimulatedClock
from bot.cycle import NEW_YORK, Adapters, StrategyRuntime
from bot.daemon import Daemon, Member
from bot.domain import Leg, OrderRequest, Side
from bot.market.sessions import xnys_sessions
from bot.market.synthetic import synthetic_closes
from bot.planner import PlannerRules
from bot.scheduler import JOB_DEFAULTS, MarketWakeTrigger, build_scheduler, run_forever
from bot.stopping import StopToken
from bot.tracker import EventKind, Tracker
from bot.triggers import CalendarRule, DriftRule, Schedule
from strategies import FixedWeights, InverseVolatility

FIFTEEN = timedelta(minutes=15)
HFEA = StrategyRuntime(
    "hfea",
    FixedWeights({"UPRO": 0.55, "TMF": 0.45}),
    CalendarRule(Schedule.QUARTER_START),
    PlannerRules(),
)
BASKET = ("TECL", "BITU", "TMF", "RSST", "DFEN", "UTSL", "VXUS", "UGL")
ALL_IN = StrategyRuntime(
    "all_in", InverseVolatility(BASKET), DriftRule(Decimal("0.01")), PlannerRules()
)


class RecordingAlerts:
    """Our AlertSender port, recording what the daemon sends."""

    def __init__(self) -> None:
        self.sent: list[Alert] = []

    def send(self, alert: Alert) -> None:
        self.sent.append(alert)


def wakes(start: datetime, end: datetime) -> list[datetime]:
    """The trigger's fire times from ``start`` until ``end``, as APScheduler would ask."""
    trigger = MarketWakeTrigger(XnysCalendar(), FIFTEEN)
    fired: list[datetime] = []
    previous = None
    now = start
    while True:
        fire = trigger.get_next_fire_time(previous, now)
        assert fire is not None
        if fire > end:
            return fired
        fired.append(fire)
        previous, now = fire, fire + timedelta(seconds=30)  # the job ran at its time


def test_wakes_fire_once_per_session_fifteen_minutes_before_the_close() -> None:
    """Q4 2026: one wake per XNYS session; 15:45 New York, 12:45 on the early closes."""
    start = datetime(2026, 10, 1, 0, 0, tzinfo=NEW_YORK)
    fired = wakes(start, datetime(2026, 12, 31, 23, 0, tzinfo=NEW_YORK))

    days = [f.astimezone(NEW_YORK).date() for f in fired]
    assert days == list(xnys_sessions(date(2026, 10, 1), date(2026, 12, 31)))
    assert date(2026, 11, 26) not in days  # Thanksgiving
    assert date(2026, 12, 25) not in days  # Christmas
    local = {f.astimezone(NEW_YORK).date(): f.astimezone(NEW_YORK).time() for f in fired}
    assert local[date(2026, 11, 27)] == time(12, 45)  # early close 13:00
    assert local[date(2026, 12, 24)] == time(12, 45)
    assert {t for d, t in local.items() if d not in (date(2026, 11, 27), date(2026, 12, 24))} == {
        time(15, 45)
    }


def test_wakes_follow_new_york_across_both_dst_switches() -> None:
    """In UTC the 15:45 New York wake moves by an hour at each DST switch."""
    spring = wakes(
        datetime(2026, 3, 5, tzinfo=NEW_YORK), datetime(2026, 3, 10, 23, tzinfo=NEW_YORK)
    )
    autumn = wakes(
        datetime(2026, 10, 29, tzinfo=NEW_YORK), datetime(2026, 11, 3, 23, tzinfo=NEW_YORK)
    )

    utc = {f.astimezone(UTC).date(): f.astimezone(UTC).time() for f in spring + autumn}
    assert utc[date(2026, 3, 6)] == time(20, 45)  # EST: 15:45 + 5 h
    assert utc[date(2026, 3, 9)] == time(19, 45)  # EDT from 2026-03-08: + 4 h
    assert utc[date(2026, 10, 30)] == time(19, 45)  # EDT
    assert utc[date(2026, 11, 2)] == time(20, 45)  # EST from 2026-11-01


def test_jobs_coalesce_never_overlap_and_have_a_misfire_grace(tmp_path: Path) -> None:
    """The scheduler's jobs: wake and dead-man, each coalescing with one instance at most."""
    daemon = Daemon([], Tracker(tmp_path / "t.sqlite3"), FIFTEEN)

    scheduler = build_scheduler(daemon, XnysCalendar())

    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {"wake", "dead_man"}
    assert JOB_DEFAULTS == {"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600}
    dead_man = jobs["dead_man"].trigger
    assert isinstance(dead_man, MarketWakeTrigger)
    first = dead_man.get_next_fire_time(None, datetime(2026, 11, 27, 9, 0, tzinfo=NEW_YORK))
    assert first == datetime(2026, 11, 27, 12, 55, tzinfo=NEW_YORK)  # wake 12:45 + 10 min


def _members(
    tmp_path: Path, runtimes: list[StrategyRuntime], start: datetime, tracker: Tracker
) -> list[Member]:
    symbols = sorted({s for r in runtimes for s in r.strategy.symbols})
    closes = synthetic_closes(symbols, xnys_sessions(date(2026, 6, 1), date(2027, 1, 29)))
    clock = SimulatedClock(start)
    members = []
    for runtime in runtimes:
        broker = SimulatedBroker(
            CloseTable(closes, clock),
            Decimal(100_000),
            fees=NO_FEES,
            book_path=tmp_path / f"{runtime.name}.jsonl",
        )
        adapters = Adapters(broker, FrameMarketData(closes), XnysCalendar(), tracker, clock)
        members.append(Member(runtime, adapters))
    return members


def test_a_quarter_of_wakes_hfea_on_the_quarter_start_all_in_every_day(tmp_path: Path) -> None:
    """Q4 2026 on the simulated clock: HFEA trades only on 2026-10-01; All In decides daily."""
    tracker = Tracker(tmp_path / "t.sqlite3")
    start = datetime(2026, 10, 1, 9, 0, tzinfo=NEW_YORK)
    daemon = Daemon(_members(tmp_path, [HFEA, ALL_IN], start, tracker), tracker, FIFTEEN)

    daemon.run_simulated(until=date(2026, 12, 31))

    sessions = xnys_sessions(date(2026, 10, 1), date(2026, 12, 31))
    hfea = tracker.events("hfea", EventKind.CYCLE_FINISHED)
    assert [e.at[:10] for e in hfea if e.payload["outcome"] == "traded"] == ["2026-10-01"]
    assert len(hfea) == len(sessions)
    all_in = tracker.events("all_in", EventKind.DECISION)
    starts = [datetime.fromisoformat(e.at).astimezone(NEW_YORK) for e in all_in]
    assert [s.date() for s in starts] == list(sessions)
    assert {
        s.time() for s in starts if s.date() not in (date(2026, 11, 27), date(2026, 12, 24))
    } == {time(15, 45)}
    assert tracker.events(kind=EventKind.MISSED_RUN) == []


def test_a_daemon_down_over_a_quarter_start_catches_up_and_alerts(tmp_path: Path) -> None:
    """Running until 09-30, down on 10-01 and 10-02, restarted on 10-05: the missed 2026Q4
    rebalance runs at start-up (the market is open), flagged late, with alerts for it and for
    the unfinished 10-02."""
    tracker = Tracker(tmp_path / "t.sqlite3")
    first = Daemon(
        _members(tmp_path, [HFEA], datetime(2026, 9, 28, 9, 0, tzinfo=NEW_YORK), tracker),
        tracker,
        FIFTEEN,
    )
    first.start()
    first.run_simulated(until=date(2026, 9, 30))
    alerts = RecordingAlerts()
    restarted = Daemon(
        _members(tmp_path, [HFEA], datetime(2026, 10, 5, 10, 0, tzinfo=NEW_YORK), tracker),
        tracker,
        FIFTEEN,
        alerts=alerts,
    )

    restarted.start()

    decisions = tracker.events("hfea", EventKind.DECISION)
    assert decisions[-1].payload["rebalance_key"] == "2026Q4"
    assert decisions[-1].payload["late"] is True
    assert tracker.last_rebalance_key("hfea") == "2026Q4"
    titles = [a.title for a in alerts.sent]
    assert any("2026-10-02" in t and "did not complete" in t for t in titles)
    assert any("2026Q4 is late: catching up now" in t for t in titles)
    assert any(t.startswith("hfea: 2 orders on 2026-10-05") for t in titles) or any(
        "orders on 2026-10-05" in t for t in titles
    )


def test_the_dead_man_check_alerts_a_day_without_a_finished_cycle(tmp_path: Path) -> None:
    """No cycle finished on 2026-10-01: the check records a missed run and alerts once."""
    tracker = Tracker(tmp_path / "t.sqlite3")
    alerts = RecordingAlerts()
    members = _members(tmp_path, [HFEA], datetime(2026, 10, 1, 16, 0, tzinfo=NEW_YORK), tracker)
    daemon = Daemon(members, tracker, FIFTEEN, alerts=alerts)

    missing = daemon.check_completed(date(2026, 10, 1))

    assert missing == ["hfea"]
    assert len(tracker.events("hfea", EventKind.MISSED_RUN)) == 1
    assert [a.key for a in alerts.sent] == [
        "missed:hfea:2026-10-01:the day's cycle did not complete"
    ]


class SoonCalendar:
    """A calendar whose only session closes 15 minutes and one second from now (wall clock),
    so the scheduler's wake fires in about a second."""

    def __init__(self) -> None:
        self.close = datetime.now(UTC) + FIFTEEN + timedelta(seconds=1)

    def sessions(self, start: date, end: date) -> tuple[date, ...]:
        day = self.close.astimezone(NEW_YORK).date()
        days = (day, day + timedelta(days=1))  # a second session, a day later, never reached
        return tuple(d for d in days if start <= d <= end)

    def session_close(self, day: date) -> datetime:
        first = self.close.astimezone(NEW_YORK).date()
        return self.close + (day - first)


def test_a_scheduled_wake_really_runs_the_cycle_through_apscheduler(tmp_path: Path) -> None:
    """The wake job fired by APScheduler runs the cycle in the thread that owns the tracker
    (a real BlockingScheduler, stopped by a listener after the first wake)."""
    tracker = Tracker(tmp_path / "t.sqlite3")
    members = _members(tmp_path, [HFEA], datetime(2026, 10, 1, 15, 45, tzinfo=NEW_YORK), tracker)
    daemon = Daemon(members, tracker, FIFTEEN)
    scheduler = build_scheduler(daemon, SoonCalendar())
    scheduler.add_listener(lambda _event: scheduler.request_stop(), EVENT_JOB_EXECUTED)

    scheduler.start()  # blocks until the wake has run

    finished = tracker.events("hfea", EventKind.CYCLE_FINISHED)
    assert [e.payload["outcome"] for e in finished] == ["traded"]
    assert daemon.outcomes == {"traded": 1}
    assert not scheduler.running


def test_a_manual_trade_between_wakes_is_alerted_once_as_a_warning(tmp_path: Path) -> None:
    """Someone sells 100 UPRO by hand after the 2026-10-01 rebalance: the next day's cycle
    sees it, and the daemon sends one WARNING naming the symbol, before and after."""
    tracker = Tracker(tmp_path / "t.sqlite3")
    alerts = RecordingAlerts()
    start = datetime(2026, 10, 1, 9, 0, tzinfo=NEW_YORK)
    members = _members(tmp_path, [HFEA], start, tracker)
    daemon = Daemon(members, tracker, FIFTEEN, alerts=alerts)
    daemon.run_simulated(until=date(2026, 10, 1))
    broker = members[0].adapters.broker
    held = broker.account().positions["UPRO"]
    broker.submit(OrderRequest("by-hand-1", "UPRO", Side.SELL, Decimal(100), Leg.REDUCE_LONG))

    daemon.run_simulated(until=date(2026, 10, 5))

    warnings = [a for a in alerts.sent if a.key.startswith("external:")]
    assert len(warnings) == 1
    assert warnings[0].severity is Severity.WARNING
    assert "outside the bot" in warnings[0].title
    assert f"UPRO: was {held}, now {held - 100}" in warnings[0].text


class SignallingBeat:
    """A heartbeat that records each beat and, at the first one (the daemon's start), sends
    this process a real SIGTERM, as `kill` or `docker stop` would."""

    def __init__(self) -> None:
        self.beats: list[dict[str, object]] = []

    def beat(self, **info: object) -> None:
        self.beats.append(info)
        if len(self.beats) == 1:
            signal.raise_signal(signal.SIGTERM)


def test_a_sigterm_stop_is_recorded_in_the_tracker_and_the_last_heartbeat(tmp_path: Path) -> None:
    """SIGTERM ends `run_forever` cleanly and says so: a daemon_stopped event with the signal,
    and a last beat marked stopped (what `bot status` and `bot health` read)."""
    tracker = Tracker(tmp_path / "t.sqlite3")
    saturday = datetime(2026, 10, 3, 12, 0, tzinfo=NEW_YORK)  # no session: nothing to catch up
    beat = SignallingBeat()
    daemon = Daemon(_members(tmp_path, [HFEA], saturday, tracker), tracker, FIFTEEN, heartbeat=beat)

    run_forever(daemon, XnysCalendar(), "banner", StopToken())

    (stopped,) = tracker.events(kind=EventKind.DAEMON_STOPPED)
    assert stopped.payload == {"reason": "SIGTERM"}
    assert stopped.at == saturday.astimezone(UTC).isoformat()
    assert beat.beats[-1] == {"stopped": True, "reason": "SIGTERM"}
    assert daemon.stop_requested
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is put back


def test_every_job_has_a_name_a_person_can_read(tmp_path: Path) -> None:
    """APScheduler logs jobs by name: `heartbeat`, not `build_scheduler.<locals>.<lambda>`."""
    daemon = Daemon([], Tracker(tmp_path / "t.sqlite3"), FIFTEEN, heartbeat=SignallingBeat())

    scheduler = build_scheduler(daemon, XnysCalendar())

    names = {job.id: job.name for job in scheduler.get_jobs()}
    assert names == {"wake": "wake", "dead_man": "dead-man check", "heartbeat": "heartbeat"}
