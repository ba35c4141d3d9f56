"""``bot status --config FILE [--json]``: how is the unattended bot doing, from its records alone.

Everything comes from the tracker, the config and the heartbeat file; the broker is never
contacted, because the moment someone runs ``bot status`` is often the moment the broker (or the
network, or the keys) is the problem. The answer is built as a plain dict (``build_status``, given
the time) and only then printed, as text or as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.alerts import channel_health
from bot.bootstrap import (
    build_clock,
    channels_from_settings,
    heartbeat_path,
    offline_calendar,
    open_tracker,
    wall_clock,
)
from bot.cli_support import EXIT_ERROR, jsonable
from bot.config import BotConfig, load_config
from bot.cycle import NEW_YORK
from bot.daemon import next_wake
from bot.errors import BotError, ConfigError
from bot.health import DEFAULT_MAX_AGE, heartbeat_status
from bot.ports import MarketCalendar
from bot.settings import Settings
from bot.tracker import EventKind, EventRow, Tracker

CURRENT_NOTE = (
    "current = the sleeve's weights measured at decision time, before that run's orders;"
    " qty = holdings as that run left them"
)
AFTER_ORDERS_NOTE = (
    "current = the sleeve's weights after that run's orders, at its prices;"
    " qty = holdings as that run left them"
)
Section = dict[str, Any]


def status_command(args: argparse.Namespace) -> int:
    """Print the status of the strategy in ``args.config`` (exit 2, one line, without state)."""
    try:
        config = load_config(args.config)
        settings = Settings()
        if not settings.tracker_path.exists():
            msg = f"no tracker at {settings.tracker_path}: run the bot first, or set BOT_STATE_DIR"
            raise BotError(msg)
        tracker = open_tracker(settings)
        try:
            status = build_status(
                tracker,
                config,
                wall_clock().now(),
                heartbeat_file=heartbeat_path(settings),
                alert_channel_names=configured_channels(settings),
            )
        finally:
            tracker.close()
    except BotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    print(json.dumps(status, indent=2) if args.json else render_status(status))
    return 0


def build_status(
    tracker: Tracker,
    config: BotConfig,
    now: datetime,
    *,
    heartbeat_file: Path | None = None,
    heartbeat_max_age: timedelta = DEFAULT_MAX_AGE,
    calendar: MarketCalendar | None = None,
    alert_channel_names: Iterable[str] = (),
) -> Section:
    """Every section of the status as JSON-ready values; ``now`` is passed in so the answer is
    a function of the records and the time alone."""
    name = config.name
    last, unfinished = cycle_sections(tracker, name)
    error = last_error(tracker, name)
    if error is not None:
        error["in_last_cycle"] = last is not None and error["run_id"] == last["run_id"]
    status = {
        "strategy": name,
        "now": now.isoformat(),
        "daemon": daemon_section(tracker, name),
        "last_cycle": last,
        "unfinished_cycle": unfinished,
        "next_wake": wake_section(config, tracker, now, calendar or offline_calendar()),
        "positions": positions_section(tracker, name),
        "last_error": error,
        "alerts": alert_channels(tracker, alert_channel_names),
        "heartbeat": heartbeat_section(heartbeat_file, now, heartbeat_max_age),
    }
    result: Section = jsonable(status)
    return result


def daemon_section(tracker: Tracker, strategy: str) -> Section:
    """Whether a daemon was started for this state directory and whether it recorded its stop
    (``Daemon.stopped``: a signal, a crash, the end of a simulated period). A daemon killed
    outright records no stop: its heartbeat goes stale instead."""
    started = tracker.last_event("", EventKind.DAEMON_STARTED)
    stopped = tracker.last_event("", EventKind.DAEMON_STOPPED)
    if started is None:
        return {"state": "never started"}
    section: Section = {
        "state": "started",
        "started_at": started.at,
        "strategies": list(started.payload.get("strategies", [])),
    }
    section["runs_this_strategy"] = strategy in section["strategies"]
    if stopped is not None and stopped.id > started.id:
        section |= {
            "state": "stopped",
            "stopped_at": stopped.at,
            "reason": stopped.payload.get("reason") or "no reason recorded",
        }
    return section


def cycle_sections(tracker: Tracker, strategy: str) -> tuple[Section | None, Section | None]:
    """The last finished real cycle (dry runs are left out: a ``bot check`` must not hide how
    the daemon's own run went), and a cycle started after it that never finished (running now,
    or killed mid-way)."""
    started = tracker.events(strategy, EventKind.CYCLE_STARTED)
    finished = tracker.events(strategy, EventKind.CYCLE_FINISHED)
    real = [e for e in finished if e.payload.get("outcome") != "planned"]
    last = None if not real else _finished_cycle(real[-1], _start_of(started, real[-1].run_id))
    done = {e.run_id for e in finished}
    open_run = started[-1] if started and started[-1].run_id not in done else None
    unfinished = None
    if open_run is not None:
        unfinished = {
            "run_id": open_run.run_id,
            "session": open_run.payload.get("session"),
            "started_at": open_run.at,
        }
    return last, unfinished


def _start_of(started: list[EventRow], run_id: str) -> EventRow | None:
    return next((e for e in reversed(started) if e.run_id == run_id), None)


def _finished_cycle(end: EventRow, start: EventRow | None) -> Section:
    return {
        "run_id": end.run_id,
        "session": None if start is None else start.payload.get("session"),
        "outcome": end.payload.get("outcome"),
        "reason": end.payload.get("reason"),
        "started_at": None if start is None else start.at,
        "finished_at": end.at,
    }


def next_wake_at(calendar: MarketCalendar, now: datetime, before_close: timedelta) -> Section:
    """The daemon's next wake after ``now``, in UTC and New York time, and how far away."""
    wake = next_wake(calendar, now, before_close)
    return {
        "at": wake.isoformat(),
        "new_york": _new_york(wake),
        "in_seconds": int((wake - now).total_seconds()),
    }


def wake_section(
    config: BotConfig, tracker: Tracker, now: datetime, calendar: MarketCalendar
) -> Section:
    """The next wake: from ``now`` on the wall clock; a simulated clock instead resumes after
    the last finished cycle (as ``bot run`` would), so its wake is a simulated time."""
    before_close = timedelta(minutes=config.clock.wake_before_close_minutes)
    section: Section = {"clock": config.clock.kind, "calendar": "XNYS"}
    try:
        if config.clock.kind == "wall":
            return section | next_wake_at(calendar, now, before_close)
        wake = next_wake(calendar, build_clock(config, tracker).now(), before_close)
    except RuntimeError as exc:
        return section | {"at": None, "note": str(exc)}
    if config.clock.end is not None and wake.astimezone(NEW_YORK).date() > config.clock.end:
        return section | {"at": None, "note": f"the simulated period ended on {config.clock.end}"}
    return section | {"at": wake.isoformat(), "new_york": _new_york(wake)}


def positions_section(tracker: Tracker, strategy: str) -> Section | None:
    """Per symbol: the latest target weight, the weight measured at the latest decision, the
    drift between them, and the quantity held; each source names its run, since a failed cycle
    can leave them from different runs."""
    targets = tracker.last_event(strategy, EventKind.TARGETS_COMPUTED)
    measured = tracker.last_event(strategy, EventKind.DRIFT_MEASURED)
    held = tracker.last_event(strategy, EventKind.POSITIONS)
    if targets is None and measured is None and held is None:
        return None
    weights = None if targets is None else dict(targets.payload.get("weights", {}))
    current = None if measured is None else dict(measured.payload.get("current", {}))
    after = _weights_after_orders(tracker, strategy, measured)
    if after is not None:
        current = after
    quantities = {} if held is None else dict(held.payload.get("positions", {}))
    symbols = sorted(set(weights or {}) | set(current or {}) | set(quantities))
    return {
        "note": CURRENT_NOTE if after is None else AFTER_ORDERS_NOTE,
        "after_orders": after is not None,
        "targets": _source(targets),
        "measured": _measured(tracker, strategy, measured),
        "holdings": _source(held),
        "symbols": [_symbol_row(s, weights, current, quantities) for s in symbols],
    }


def _weights_after_orders(
    tracker: Tracker, strategy: str, measured: EventRow | None
) -> dict[str, float] | None:
    """The weights the last decision's run left once its rebalance landed (recorded with
    ``rebalance_done``); None when that run did not trade, or did not land."""
    done = tracker.last_event(strategy, EventKind.REBALANCE_DONE)
    if measured is None or done is None or done.run_id != measured.run_id:
        return None
    weights = done.payload.get("weights")
    return None if weights is None else dict(weights)


def _symbol_row(
    symbol: str,
    targets: dict[str, float] | None,
    current: dict[str, float] | None,
    quantities: dict[str, str],
) -> Section:
    target = None if targets is None else float(targets.get(symbol, 0.0))
    weight = None if current is None else float(current.get(symbol, 0.0))
    drift = None if target is None or weight is None else round(weight - target, 6)
    return {
        "symbol": symbol,
        "target": target,
        "current": weight,
        "drift": drift,
        "qty": str(quantities.get(symbol, "0")),
    }


def _source(event: EventRow | None) -> Section | None:
    return None if event is None else {"run_id": event.run_id, "at": event.at}


def _measured(tracker: Tracker, strategy: str, event: EventRow | None) -> Section | None:
    """When and where the weights were measured, the worst drift then, and, if that run went
    on to rebalance, the worst drift its orders left."""
    if event is None:
        return None
    done = tracker.last_event(strategy, EventKind.REBALANCE_DONE)
    residual = done.payload.get("residual_drift") if done and done.run_id == event.run_id else None
    return {
        "run_id": event.run_id,
        "at": event.at,
        "max_drift": _float_or_none(event.payload.get("max_drift")),
        "max_drift_symbol": event.payload.get("symbol"),
        "residual_drift_after_orders": _float_or_none(residual),
    }


def _float_or_none(value: object) -> float | None:
    return None if value is None else float(str(value))


def last_error(tracker: Tracker, strategy: str) -> Section | None:
    """The latest error event of the strategy: when, which run, what."""
    event = tracker.last_event(strategy, EventKind.ERROR)
    if event is None:
        return None
    return {
        "at": event.at,
        "run_id": event.run_id,
        "error": event.payload.get("error"),
        "message": event.payload.get("message"),
    }


def alert_channels(tracker: Tracker, configured: Iterable[str] = ()) -> Section:
    """Per alert channel (configured, or seen in the tracker: a channel is shared by every
    strategy), its last success and failure as ``bot.alerts.channel_health`` reads them, and
    ``ok`` unless alerts have failed since the last success."""
    seen = {
        str(event.payload.get("channel", "unknown"))
        for kind in (EventKind.ALERT_SENT, EventKind.ALERT_FAILED)
        for event in tracker.events(kind=kind)
    }
    health = channel_health(tracker, sorted(seen | set(configured)))
    return {
        name: {"ok": state["consecutive_failures"] == 0, **state} for name, state in health.items()
    }


def configured_channels(settings: Settings) -> list[str]:
    """The alert channels the environment sets up (none when it is half set up: ``bot run``
    reports that; status still shows what the tracker knows)."""
    try:
        return [channel.name for channel in channels_from_settings(settings)]
    except ConfigError:
        return []


def heartbeat_section(path: Path | None, now: datetime, max_age: timedelta) -> Section:
    """The daemon's last heartbeat and its age, when a heartbeat file is configured."""
    if path is None:
        return {"configured": False, "file": None}
    return {"configured": True, "file": str(path)} | heartbeat_status(path, now, max_age)


# ---- text rendering -------------------------------------------------------------------------


def render_status(status: Section) -> str:
    """The status as the lines a person reads."""
    lines = [f"{status['strategy']}: status at {_new_york(_parse(status['now']))}"]
    lines += _daemon_lines(status["daemon"], status["strategy"])
    lines += _cycle_lines(status["last_cycle"], status["unfinished_cycle"])
    lines += _wake_lines(status["next_wake"], status["daemon"])
    lines += _position_lines(status["positions"])
    lines += _error_lines(status["last_error"])
    lines += _alert_lines(status["alerts"])
    lines += _heartbeat_lines(status["heartbeat"])
    return "\n".join(lines)


def _cycle_lines(last: Section | None, unfinished: Section | None) -> list[str]:
    lines = ["last cycle: none recorded"]
    if last is not None:
        lines = [
            f"last cycle: {last['session']} {last['outcome']} — {last['reason']}"
            f" (run {last['run_id']}, finished {_new_york(_parse(last['finished_at']))})"
        ]
    if unfinished is not None:
        lines.append(
            f"unfinished cycle: run {unfinished['run_id']} started"
            f" {_new_york(_parse(unfinished['started_at']))} (running now, or interrupted)"
        )
    return lines


def _daemon_lines(daemon: Section, strategy: str) -> list[str]:
    state = daemon["state"]
    if state == "never started":
        return ["daemon: never started in this state directory (`bot run`)"]
    if state == "stopped":
        return [
            f"daemon: STOPPED at {_new_york(_parse(daemon['stopped_at']))} ({daemon['reason']});"
            " nothing runs until `bot run` starts it again"
        ]
    started = f"started {_new_york(_parse(daemon['started_at']))}"
    if not daemon["runs_this_strategy"]:
        others = ", ".join(daemon["strategies"]) or "no strategy"
        return [f"daemon: {started} without {strategy} (it runs {others})"]
    return [f"daemon: {started}, no stop recorded (the heartbeat says whether it is alive)"]


def _wake_lines(wake: Section, daemon: Section) -> list[str]:
    if wake["at"] is None:
        return [f"next wake: none ({wake['note']})"]
    if daemon["state"] == "stopped":
        return [f"next wake: none while the daemon is stopped (it would be {wake['new_york']})"]
    when = f"next wake: {wake['new_york']}"
    if "in_seconds" in wake:
        return [f"{when} (in {_span(timedelta(seconds=wake['in_seconds']))})"]
    return [f"{when} (simulated clock)"]


def _position_lines(positions: Section | None) -> list[str]:
    if positions is None:
        return ["positions: none recorded"]
    measured = positions["measured"]
    run = "-" if measured is None else f"run {measured['run_id']}"
    lines = [
        f"positions vs targets (measured in {run}):",
        f"  {positions['note']}",
        f"  {'symbol':6} {'target':>8} {'current':>8} {'drift':>10} {'qty':>14}",
    ]
    lines += [_position_line(row) for row in positions["symbols"]]
    if measured and measured["residual_drift_after_orders"] is not None:
        residual = measured["residual_drift_after_orders"]
        lines.append(f"  that run rebalanced: worst drift left {residual * 100:.2f} pp")
    return lines


def _position_line(row: Section) -> str:
    target = "-" if row["target"] is None else f"{row['target']:.2%}"
    current = "-" if row["current"] is None else f"{row['current']:.2%}"
    drift = "-" if row["drift"] is None else f"{row['drift'] * 100:+.2f} pp"
    return f"  {row['symbol']:6} {target:>8} {current:>8} {drift:>10} {row['qty']:>14}"


def _error_lines(error: Section | None) -> list[str]:
    if error is None:
        return ["last error: none"]
    where = "the last cycle" if error["in_last_cycle"] else f"run {error['run_id']}"
    return [
        f"last error: {_new_york(_parse(error['at']))} in {where}:"
        f" {error['error']}: {error['message']}"
    ]


def _alert_lines(channels: Section) -> list[str]:
    if not channels:
        return ["alerts: none recorded"]
    return ["alerts:"] + [_alert_line(name, health) for name, health in channels.items()]


def _alert_line(name: str, health: Section) -> str:
    sent, failed = health["last_success_at"], health["last_failure_at"]
    parts = [f"last sent {_new_york(_parse(sent))}" if sent else "never sent"]
    if failed:
        parts.append(f"last failure {_new_york(_parse(failed))}: {health['last_error']}")
    if lost := health["consecutive_failures"]:
        parts.append(f"{lost} failed alert{'s' if lost != 1 else ''} since the last success")
    return f"  {name}: {'ok' if health['ok'] else 'FAILING'} — {'; '.join(parts)}"


def _heartbeat_lines(beat: Section) -> list[str]:
    if not beat["configured"]:
        return ["heartbeat: not configured (BOT_HEARTBEAT_FILE)"]
    if beat["age_seconds"] is None:
        return [f"heartbeat: none readable at {beat['file']}"]
    age = _span(timedelta(seconds=beat["age_seconds"]))
    if beat.get("stopped"):
        return [
            f"heartbeat: STOPPED, the daemon's last beat at its stop {age} ago ({beat['file']})"
        ]
    state = "fresh" if beat["ok"] else "STALE"
    return [f"heartbeat: {state}, last {age} ago (pid {beat.get('pid')}, {beat['file']})"]


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _new_york(moment: datetime) -> str:
    return moment.astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M %Z")


def _span(span: timedelta) -> str:
    """``2d 3h``, ``5m 6s`` or ``7s``: the two largest units, enough to judge a wait or an age."""
    seconds = int(abs(span.total_seconds()))
    units = [
        ("d", seconds // 86400),
        ("h", seconds % 86400 // 3600),
        ("m", seconds % 3600 // 60),
        ("s", seconds % 60),
    ]
    while len(units) > 1 and units[0][1] == 0:
        units.pop(0)
    text = " ".join(f"{value}{unit}" for unit, value in units[:2])
    return f"-{text}" if span.total_seconds() < 0 else text
