"""`bot status`: every section built from a hand-written tracker at a fixed time, the text and
JSON forms, and the one-line error without state. No broker is involved anywhere."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.xnys_calendar import XnysCalendar
from bot.config import BotConfig
from bot.health import Heartbeat
from bot.status import build_status, next_wake_at, render_status, status_command, wake_section
from bot.tracker import EventKind, Tracker

RUN_A = "20261124-aaaaaaaa"  # traded
RUN_B = "20261125-bbbbbbbb"  # a dry run (bot check) after it
RUN_C = "20261125-cccccccc"  # failed on stale data
NOW = datetime(2026, 11, 25, 21, 0, tzinfo=UTC)  # Wednesday 16:00 New York, after the close


class FixedClock:
    """A clock that always says the same time."""

    def __init__(self, now: datetime) -> None:
        self.moment = now

    def now(self) -> datetime:
        """The fixed time."""
        return self.moment


def hfea(**clock: Any) -> BotConfig:
    """The HFEA config: 55/45 UPRO/TMF, quarterly, wall clock unless ``clock`` says otherwise."""
    raw: dict[str, Any] = {
        "name": "hfea",
        "strategy": {"kind": "fixed", "weights": {"UPRO": 0.55, "TMF": 0.45}},
        "trigger": {"kind": "calendar", "schedule": "quarter_start"},
        "broker": {"kind": "alpaca"},
    }
    if clock:
        raw["clock"] = clock
    if clock.get("kind") == "simulated":
        raw["broker"] = {"kind": "simulated"}
    return BotConfig.model_validate(raw)


def utc(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    """A time in 2026, UTC."""
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@pytest.fixture
def tracker(tmp_path: Path) -> Iterator[Tracker]:
    """An empty tracker."""
    t = Tracker(tmp_path / "state" / "tracker.sqlite3")
    yield t
    t.close()


def record_history(t: Tracker) -> None:
    """Three hfea runs and alerts on two channels, written as the bot would have written them.

    Run A (Nov 24) measured UPRO 58% / TMF 40% against 55/45, rebalanced (0.1 pp left) and held
    10 UPRO and 20.5 TMF. Run B (Nov 25, noon) was a dry run. Run C (Nov 25, 15:45) failed on
    stale data. Slack delivered, then gave up; email gave up, then delivered.
    """
    a, c = utc(24, 20, 45), utc(25, 20, 45)
    t.record(a, RUN_A, "hfea", EventKind.CYCLE_STARTED, session="2026-11-24")
    t.record(a, RUN_A, "hfea", EventKind.TARGETS_COMPUTED, weights={"UPRO": 0.55, "TMF": 0.45})
    t.record(
        a,
        RUN_A,
        "hfea",
        EventKind.DRIFT_MEASURED,
        current={"UPRO": 0.58, "TMF": 0.40},
        max_drift=Decimal("0.05"),
        symbol="TMF",
    )
    t.record(a, RUN_A, "hfea", EventKind.REBALANCE_DONE, residual_drift=Decimal("0.001"))
    t.record(a, RUN_A, "hfea", EventKind.POSITIONS, positions={"UPRO": Decimal(10), "TMF": "20.5"})
    t.record(a, RUN_A, "hfea", EventKind.CYCLE_FINISHED, outcome="traded", reason="quarter start")
    t.record(a, RUN_A, "hfea", EventKind.ALERT_SENT, channel="slack", key="trades-A")
    t.record(a, RUN_A, "hfea", EventKind.ALERT_FAILED, channel="email", error="535 auth failed")
    t.record(utc(25, 17), RUN_B, "hfea", EventKind.CYCLE_STARTED, session="2026-11-25")
    t.record(utc(25, 17), RUN_B, "hfea", EventKind.CYCLE_FINISHED, outcome="planned", reason="-")
    t.record(c, RUN_C, "hfea", EventKind.CYCLE_STARTED, session="2026-11-25")
    t.record(c, RUN_C, "hfea", EventKind.ERROR, error="DataError", message="stale data: TMF")
    t.record(c, RUN_C, "hfea", EventKind.CYCLE_FINISHED, outcome="error", reason="stale data: TMF")
    t.record(c, RUN_C, "hfea", EventKind.ALERT_FAILED, channel="slack", error="HTTP 500")
    t.record(c, "x", "all_in", EventKind.ALERT_SENT, channel="email", key="error-x")
    t.record(c, "x", "all_in", EventKind.ERROR, error="BrokerError", message="not hfea's")


def test_last_cycle_is_the_last_real_run_and_skips_dry_runs(tracker: Tracker) -> None:
    """The dry run B finished after A but is not 'the last cycle'; C, which failed, is."""
    record_history(tracker)

    status = build_status(tracker, hfea(), NOW)

    assert status["last_cycle"] == {
        "run_id": RUN_C,
        "session": "2026-11-25",
        "outcome": "error",
        "reason": "stale data: TMF",
        "started_at": "2026-11-25T20:45:00+00:00",
        "finished_at": "2026-11-25T20:45:00+00:00",
    }
    assert status["unfinished_cycle"] is None


def test_a_cycle_started_but_never_finished_is_reported(tracker: Tracker) -> None:
    """A run killed mid-cycle (started, no finish) shows up next to the last finished one."""
    record_history(tracker)
    tracker.record(utc(27, 17, 45), "20261127-dddd", "hfea", EventKind.CYCLE_STARTED, session="x")

    status = build_status(tracker, hfea(), NOW)

    assert status["last_cycle"]["run_id"] == RUN_C
    assert status["unfinished_cycle"] == {
        "run_id": "20261127-dddd",
        "session": "x",
        "started_at": "2026-11-27T17:45:00+00:00",
    }


def test_positions_show_target_measured_weight_drift_and_quantity(tracker: Tracker) -> None:
    """Run C failed before measuring, so every source is run A: UPRO 58% vs 55% is +3 pp,
    TMF 40% vs 45% is −5 pp; the rebalance left 0.1 pp."""
    record_history(tracker)

    positions = build_status(tracker, hfea(), NOW)["positions"]

    assert positions["symbols"] == [
        {"symbol": "TMF", "target": 0.45, "current": 0.40, "drift": -0.05, "qty": "20.5"},
        {"symbol": "UPRO", "target": 0.55, "current": 0.58, "drift": 0.03, "qty": "10"},
    ]
    assert positions["targets"] == {"run_id": RUN_A, "at": "2026-11-24T20:45:00+00:00"}
    assert positions["holdings"] == {"run_id": RUN_A, "at": "2026-11-24T20:45:00+00:00"}
    assert positions["measured"] == {
        "run_id": RUN_A,
        "at": "2026-11-24T20:45:00+00:00",
        "max_drift": 0.05,
        "max_drift_symbol": "TMF",
        "residual_drift_after_orders": 0.001,
    }
    assert "before that run's orders" in positions["note"]


def test_a_symbol_held_but_no_longer_targeted_counts_as_target_zero(tracker: Tracker) -> None:
    """A held symbol outside the targets has target 0, so its whole weight is drift."""
    tracker.record(NOW, "r", "hfea", EventKind.TARGETS_COMPUTED, weights={"UPRO": 1.0})
    tracker.record(NOW, "r", "hfea", EventKind.DRIFT_MEASURED, current={"UPRO": 0.75, "TMF": 0.25})

    rows = build_status(tracker, hfea(), NOW)["positions"]["symbols"]

    assert rows == [
        {"symbol": "TMF", "target": 0.0, "current": 0.25, "drift": 0.25, "qty": "0"},
        {"symbol": "UPRO", "target": 1.0, "current": 0.75, "drift": -0.25, "qty": "0"},
    ]


def test_last_error_is_the_strategys_own_latest(tracker: Tracker) -> None:
    """all_in's later error is not hfea's; hfea's is run C's, the last cycle."""
    record_history(tracker)

    error = build_status(tracker, hfea(), NOW)["last_error"]

    assert error == {
        "at": "2026-11-25T20:45:00+00:00",
        "run_id": RUN_C,
        "error": "DataError",
        "message": "stale data: TMF",
        "in_last_cycle": True,
    }


def test_alert_channel_health_follows_each_channels_latest_outcome(tracker: Tracker) -> None:
    """Slack sent then failed: failing, one alert lost since. Email failed then sent (for
    another strategy, same channel): ok, with the old failure still shown."""
    record_history(tracker)

    alerts = build_status(tracker, hfea(), NOW)["alerts"]

    assert alerts == {
        "email": {
            "ok": True,
            "last_success_at": "2026-11-25T20:45:00+00:00",
            "last_failure_at": "2026-11-24T20:45:00+00:00",
            "last_error": "535 auth failed",
            "consecutive_failures": 0,
        },
        "slack": {
            "ok": False,
            "last_success_at": "2026-11-24T20:45:00+00:00",
            "last_failure_at": "2026-11-25T20:45:00+00:00",
            "last_error": "HTTP 500",
            "consecutive_failures": 1,
        },
    }


def test_a_configured_channel_that_never_sent_is_listed(tracker: Tracker) -> None:
    """A channel set up in the environment but not yet used still shows, as never sent."""
    alerts = build_status(tracker, hfea(), NOW, alert_channel_names=["email"])["alerts"]

    assert alerts == {
        "email": {
            "ok": True,
            "last_success_at": None,
            "last_failure_at": None,
            "last_error": None,
            "consecutive_failures": 0,
        }
    }


@pytest.mark.parametrize(
    ("now", "wake", "seconds"),
    [
        # Before today's wake: 15:45 New York the same day.
        (utc(25, 20), utc(25, 20, 45), 45 * 60),
        # Wednesday after the close: Thanksgiving is closed, Friday closes early at 13:00, so
        # 12:45 EST = 17:45 UTC; 44 h 45 min later.
        (NOW, utc(27, 17, 45), 44 * 3600 + 45 * 60),
        # Friday 16:00 EST before the DST switch (Sunday 8 March): Monday 15:45 EDT = 19:45 UTC.
        (utc(6, 21, month=3), utc(9, 19, 45, month=3), 3 * 86400 - 75 * 60),
    ],
)
def test_next_wake_from_a_fixed_time(now: datetime, wake: datetime, seconds: int) -> None:
    """The next wake on the XNYS calendar, 15 minutes before the close, holidays and DST
    included."""
    result = next_wake_at(XnysCalendar(), now, timedelta(minutes=15))

    assert result["at"] == wake.isoformat()
    assert result["in_seconds"] == seconds


def test_next_wake_uses_the_configs_offset(tracker: Tracker) -> None:
    """wake_before_close_minutes = 30 puts the Friday wake at 12:30 New York."""
    config = hfea(wake_before_close_minutes=30)

    wake = build_status(tracker, config, NOW)["next_wake"]

    assert wake == {
        "clock": "wall",
        "calendar": "XNYS",
        "at": "2026-11-27T17:30:00+00:00",
        "new_york": "2026-11-27 12:30 EST",
        "in_seconds": 44 * 3600 + 30 * 60,
    }


def test_a_simulated_clock_resumes_after_the_last_cycle_and_ends_with_its_period(
    tracker: Tracker,
) -> None:
    """A simulated daemon's next wake is its own: the first session of the period, and none
    once the last day of the period has run (whatever the wall clock says)."""
    config = hfea(kind="simulated", start="2026-01-02", end="2026-01-05")

    first = wake_section(config, tracker, NOW, XnysCalendar())
    tracker.record(utc(5, 20, 45, month=1), "r", "hfea", EventKind.CYCLE_FINISHED, outcome="held")
    done = wake_section(config, tracker, NOW, XnysCalendar())

    assert first["at"] == "2026-01-02T20:45:00+00:00"
    assert "in_seconds" not in first
    assert done["at"] is None
    assert done["note"] == "the simulated period ended on 2026-01-05"


def test_heartbeat_section_reports_age_and_freshness(tracker: Tracker, tmp_path: Path) -> None:
    """A beat 90 s before ``now`` is fresh against the 10-minute default."""
    path = tmp_path / "heartbeat.json"
    Heartbeat(path, FixedClock(NOW - timedelta(seconds=90))).beat(strategies=["hfea"])

    beat = build_status(tracker, hfea(), NOW, heartbeat_file=path)["heartbeat"]
    missing = build_status(tracker, hfea(), NOW)["heartbeat"]

    assert beat["ok"] is True
    assert beat["age_seconds"] == 90
    assert beat["at"] == "2026-11-25T20:58:30+00:00"
    assert beat["strategies"] == ["hfea"]
    assert missing == {"configured": False, "file": None}


def test_an_empty_tracker_gives_empty_sections(tracker: Tracker) -> None:
    """Before the first cycle every record-based section says 'nothing yet'."""
    status = build_status(tracker, hfea(), NOW)

    assert status["last_cycle"] is None
    assert status["positions"] is None
    assert status["last_error"] is None
    assert status["alerts"] == {}


def test_text_rendering_names_each_section(tracker: Tracker, tmp_path: Path) -> None:
    """The text form: times in New York, weights in percent, drift in points."""
    record_history(tracker)
    path = tmp_path / "heartbeat.json"
    Heartbeat(path, FixedClock(NOW - timedelta(minutes=20))).beat()

    text = render_status(build_status(tracker, hfea(), NOW, heartbeat_file=path))

    lines = text.splitlines()
    assert lines[0] == "hfea: status at 2026-11-25 16:00 EST"
    assert lines[1] == "daemon: never started in this state directory (`bot run`)"
    assert lines[2] == (
        f"last cycle: 2026-11-25 error — stale data: TMF (run {RUN_C},"
        " finished 2026-11-25 15:45 EST)"
    )
    assert lines[3] == "next wake: 2026-11-27 12:45 EST (in 1d 20h)"
    assert "  TMF      45.00%   40.00%   -5.00 pp           20.5" in lines
    assert "  UPRO     55.00%   58.00%   +3.00 pp             10" in lines
    assert "  that run rebalanced: worst drift left 0.10 pp" in lines
    assert "last error: 2026-11-25 15:45 EST in the last cycle: DataError: stale data: TMF" in lines
    assert (
        "  slack: FAILING — last sent 2026-11-24 15:45 EST;"
        " last failure 2026-11-25 15:45 EST: HTTP 500; 1 failed alert since the last success"
    ) in lines
    assert lines[-1].startswith("heartbeat: STALE, last 20m 0s ago (pid ")


# ---- the command -----------------------------------------------------------------------------


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """BOT_STATE_DIR for the command, in a directory without a stray .env."""
    state = tmp_path / "state"
    monkeypatch.setenv("BOT_STATE_DIR", str(state))
    for name in ("BOT_HEARTBEAT_FILE", "SLACK_WEBHOOK_URL", "SMTP_HOST", "ALERT_EMAIL_TO"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return state


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    """HFEA on an Alpaca account: no keys are set, and status must not need them."""
    path = tmp_path / "hfea.toml"
    path.write_text(
        'name = "hfea"\n[strategy]\nkind = "fixed"\nweights = { UPRO = 0.55, TMF = 0.45 }\n'
        '[trigger]\nkind = "calendar"\nschedule = "quarter_start"\n[broker]\nkind = "alpaca"\n'
    )
    return path


def test_status_without_a_tracker_is_one_line_and_exit_2(
    state_dir: Path, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No state yet: one 'error:' line naming where it looked, and nothing created there."""
    code = status_command(argparse.Namespace(config=config_file, json=False))

    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"error: no tracker at {state_dir / 'tracker.sqlite3'}")
    assert not state_dir.exists()


def test_status_json_is_one_object_with_every_section(
    state_dir: Path, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--json` prints one JSON object; the sections hold what the tracker says (the next
    wake is from the real clock here, so only its shape is checked)."""
    t = Tracker(state_dir / "tracker.sqlite3")
    record_history(t)
    t.close()

    code = status_command(argparse.Namespace(config=config_file, json=True))

    status = json.loads(capsys.readouterr().out)
    assert code == 0
    assert set(status) == {
        "strategy",
        "now",
        "daemon",
        "last_cycle",
        "unfinished_cycle",
        "next_wake",
        "positions",
        "last_error",
        "alerts",
        "heartbeat",
    }
    assert status["last_cycle"]["run_id"] == RUN_C
    assert status["alerts"]["slack"]["ok"] is False
    assert status["heartbeat"]["file"] == str(state_dir / "heartbeat.json")
    assert status["heartbeat"]["ok"] is False  # no daemon has written it
    now = datetime.fromisoformat(status["now"])
    assert datetime.fromisoformat(status["next_wake"]["at"]) > now
    assert status["next_wake"]["in_seconds"] > 0


def test_a_daemon_stopped_by_sigterm_is_reported_stopped_not_alive(
    tracker: Tracker, tmp_path: Path
) -> None:
    """The daemon recorded its stop 10 minutes before ``now`` (15:50 New York) and wrote its
    last beat then: a beat 10 minutes old is within the 10-minute limit, yet the daemon is
    stopped, has no next wake, and the heartbeat is not ok."""
    record_history(tracker)
    tracker.record(utc(24, 14), "daemon", "", EventKind.DAEMON_STARTED, strategies=["hfea"])
    tracker.record(utc(25, 20, 50), "daemon", "", EventKind.DAEMON_STOPPED, reason="SIGTERM")
    path = tmp_path / "heartbeat.json"
    Heartbeat(path, FixedClock(utc(25, 20, 50))).beat(stopped=True, reason="SIGTERM")

    status = build_status(tracker, hfea(), NOW, heartbeat_file=path)
    lines = render_status(status).splitlines()

    assert status["daemon"] == {
        "state": "stopped",
        "started_at": "2026-11-24T14:00:00+00:00",
        "strategies": ["hfea"],
        "runs_this_strategy": True,
        "stopped_at": "2026-11-25T20:50:00+00:00",
        "reason": "SIGTERM",
    }
    assert status["heartbeat"]["ok"] is False
    assert status["heartbeat"]["age_seconds"] == 600
    assert lines[1] == (
        "daemon: STOPPED at 2026-11-25 15:50 EST (SIGTERM); nothing runs until `bot run` starts"
        " it again"
    )
    assert "next wake: none while the daemon is stopped (it would be 2026-11-27 12:45 EST)" in lines
    assert lines[-1] == (
        f"heartbeat: STOPPED, the daemon's last beat at its stop 10m 0s ago ({path})"
    )


def test_a_running_daemon_is_reported_started_and_a_restart_clears_the_stop(
    tracker: Tracker,
) -> None:
    """Started, stopped, started again: the last start wins; the next wake is shown again."""
    tracker.record(utc(23, 14), "daemon", "", EventKind.DAEMON_STARTED, strategies=["hfea"])
    tracker.record(utc(24, 14), "daemon", "", EventKind.DAEMON_STOPPED, reason="SIGINT")
    tracker.record(utc(25, 14), "daemon", "", EventKind.DAEMON_STARTED, strategies=["all_in"])

    status = build_status(tracker, hfea(), NOW)
    lines = render_status(status).splitlines()

    assert status["daemon"]["state"] == "started"
    assert lines[1] == "daemon: started 2026-11-25 09:00 EST without hfea (it runs all_in)"
    assert lines[3] == "next wake: 2026-11-27 12:45 EST (in 1d 20h)"


def test_after_a_trade_current_is_the_weights_the_orders_left(tracker: Tracker) -> None:
    """Run A measured 58/40 before its orders and left 55.1/44.8 after them (recorded with
    rebalance_done): status shows 55.1/44.8, drift +0.10 and -0.20 pp, and says so."""
    a = utc(24, 20, 45)
    tracker.record(
        a, RUN_A, "hfea", EventKind.TARGETS_COMPUTED, weights={"UPRO": 0.55, "TMF": 0.45}
    )
    tracker.record(
        a, RUN_A, "hfea", EventKind.DRIFT_MEASURED, current={"UPRO": 0.58, "TMF": 0.40},
        max_drift=Decimal("0.05"), symbol="TMF",
    )  # fmt: skip
    tracker.record(
        a, RUN_A, "hfea", EventKind.REBALANCE_DONE, residual_drift=Decimal("0.002"),
        weights={"UPRO": 0.551, "TMF": 0.448},
    )  # fmt: skip
    tracker.record(a, RUN_A, "hfea", EventKind.POSITIONS, positions={"UPRO": "11", "TMF": "21"})

    status = build_status(tracker, hfea(), NOW)
    positions = status["positions"]
    lines = render_status(status).splitlines()

    assert positions["after_orders"] is True
    assert {r["symbol"]: (r["current"], r["drift"]) for r in positions["symbols"]} == {
        "TMF": (0.448, -0.002),
        "UPRO": (0.551, 0.001),
    }
    assert "after that run's orders" in positions["note"]
    assert "  TMF      45.00%   44.80%   -0.20 pp             21" in lines
    assert "  UPRO     55.00%   55.10%   +0.10 pp             11" in lines
    assert "  that run rebalanced: worst drift left 0.20 pp" in lines
