"""What the dashboard shows, read from the state directory: the tracker, the heartbeat file and
the configs (and closes, for the backtest and the benchmark). Each function returns one page's
view model as JSON-ready values; the JSON API serves them as they are and the pages render them,
so the page and the API can never disagree.

The time is passed in (``now``); the broker is never contacted (a stopped bot's history is still
there, and the dashboard never needs a key).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from bot.bootstrap import build_runtime, fee_schedule, heartbeat_path, load_market, offline_calendar
from bot.config import AlpacaBrokerConfig, BotConfig, DriftTriggerConfig, SimulatedBrokerConfig
from bot.cycle import NEW_YORK
from bot.dashboard import model
from bot.errors import BotError
from bot.health import DEFAULT_MAX_AGE
from bot.journal import EquityRow, EventKind, EventRow
from bot.report import quarterly_lines
from bot.settings import Settings
from bot.status import (
    alert_channels,
    cycle_sections,
    daemon_section,
    heartbeat_section,
    last_error,
    positions_section,
    wake_section,
)
from bot.tracker import Tracker
from bot.triggers import CalendarRule

BENCHMARK = "SPY"
ACCOUNT = "account"
Section = dict[str, Any]


@dataclass(frozen=True)
class Source:
    """Where the dashboard reads from: the settings (state directory, heartbeat), the configs
    by strategy name (none when started without ``--config``), a CSV directory of closes, and
    the alert channels the environment sets up (names only)."""

    settings: Settings
    configs: Mapping[str, BotConfig] = field(default_factory=dict)
    data_dir: Path | None = None
    channels: tuple[str, ...] = ()
    config_path: Path | None = None  # as given to --config, for the backtest command shown


def strategy_names(tracker: Tracker, source: Source) -> list[str]:
    """The strategies with equity or events, then any configured one not seen yet."""
    seen = [name for name in tracker.strategies() if name]
    return seen + [name for name in source.configs if name not in seen]


def overview(tracker: Tracker, source: Source, now: datetime) -> Section:
    """The front page: the account, each strategy's latest figures, and what needs a look."""
    names = strategy_names(tracker, source)
    cards = []
    for name in names:
        points = model.daily_equity(tracker.equity_history(name), sleeve=True)
        last, _ = cycle_sections(tracker, name)
        cards.append(
            {
                "strategy": name,
                "equity": points[-1][1] if points else None,
                "as_of": points[-1][0].isoformat() if points else None,
                "return_since_start": (
                    points[-1][1] / points[0][1] - 1 if points and points[0][1] else None
                ),  # none from a first snapshot of $0 (a wake on an unfunded account)
                "last_cycle": last,
                "last_error": last_error(tracker, name),
            }
        )
    return {
        "now": now.isoformat(),
        "strategies": cards,
        "account": account(tracker, source),
        "health": health(tracker, source, now),
    }


def account(tracker: Tracker, source: Source) -> Section:
    """The whole account: its equity each session (the latest snapshot of any strategy that
    day), the drawdown and the quarterly tracker lines."""
    points = model.daily_equity(tracker.equity_history(), sleeve=False)
    return _equity_section(points, ACCOUNT, _benchmark_closes(source, points))


def strategy(tracker: Tracker, source: Source, name: str, now: datetime) -> Section:
    """One strategy: its equity (its own share of the account), benchmark, drawdown, tracker
    lines, positions against targets with the corridor, and what the next wake will do."""
    config = source.configs.get(name)
    rows = tracker.equity_history(name)
    points = model.daily_equity(rows, sleeve=True)
    # The tracker lines from the rows themselves, as `bot tracker` prints them (the account's
    # equity at each session's first snapshot), whatever the chart's daily points keep.
    section = _equity_section(points, name, _benchmark_closes(source, points, config), rows)
    section["positions"] = positions(tracker, name, config)
    section["next_wake"] = next_action(tracker, name, config, now, section["positions"])
    section["configured"] = config is not None
    return section


def _equity_section(
    points: list[model.Point],
    name: str,
    benchmark: tuple[Mapping[date, float], str] | None,
    tracker_rows: list[EquityRow] | None = None,
) -> Section:
    lines = quarterly_lines(
        tracker_rows if tracker_rows is not None else model.as_rows(points, name)
    )
    worst, peak_day, worst_day = model.max_drawdown(points)
    closes, label = benchmark if benchmark else ({}, "")
    bench = model.rebased(points, closes)
    return {
        "strategy": name,
        "equity": _series(points),
        "drawdown": _series(_drawdown(points)),
        "benchmark": {"symbol": label, "equity": _series(bench)} if bench else None,
        "tracker_lines": [
            {
                "period": line.period,
                "session": line.session.isoformat(),
                "equity": float(line.equity),
                "return_since_start": line.return_since_start,
                "latest": line.latest,
                "text": line.render(),
            }
            for line in lines
        ],
        "max_drawdown": {
            "depth": worst,
            "peak": None if peak_day is None else peak_day.isoformat(),
            "trough": None if worst_day is None else worst_day.isoformat(),
        },
    }  # fmt: skip


def _drawdown(points: list[model.Point]) -> list[model.Point]:
    depths = model.drawdown([value for _, value in points])
    return [(day, depth) for (day, _), depth in zip(points, depths, strict=True)]


def _series(points: list[model.Point]) -> list[list[Any]]:
    return [[day.isoformat(), value] for day, value in points]


def points_of(series: list[list[Any]]) -> list[model.Point]:
    """A JSON series back as points (the pages draw from the same view model)."""
    return [(date.fromisoformat(str(day)), float(value)) for day, value in series]


def positions(tracker: Tracker, name: str, config: BotConfig | None) -> Section | None:
    """``bot status``'s positions against targets, with each target's corridor when the
    strategy trades on drift."""
    section = positions_section(tracker, name)
    if section is None:
        return None
    width, relative = _corridor(config)
    rows = model.corridor_rows(section["symbols"], width, relative=relative)
    return {
        "note": section["note"],
        "measured": section["measured"],
        "corridor": None if width is None else {"width": width, "relative": relative},
        "symbols": [
            {
                "symbol": r.symbol,
                "target": r.target,
                "current": r.current,
                "drift": r.drift,
                "qty": r.qty,
                "lower": r.lower,
                "upper": r.upper,
                "outside": r.outside,
            }
            for r in rows
        ],
    }


def _corridor(config: BotConfig | None) -> tuple[float | None, bool]:
    if config is None or config.trigger.kind == "calendar":
        return None, False
    width = float(getattr(config.trigger, "width", 0.0))
    return width, not isinstance(config.trigger, DriftTriggerConfig)


def next_action(
    tracker: Tracker, name: str, config: BotConfig | None, now: datetime, held: Section | None
) -> Section | None:
    """When the bot wakes next and what that wake will do: the next scheduled rebalance date
    (a calendar trigger) or the corridor test (a drift trigger)."""
    if config is None:
        return None
    calendar = offline_calendar()
    wake = wake_section(config, tracker, now, calendar)
    section: Section = {"wake": wake, "trigger": config.trigger.kind}
    width, relative = _corridor(config)
    if width is not None:
        outside = [row["symbol"] for row in (held or {}).get("symbols", []) if row["outside"]]
        band = f"{width:.0%} of each target" if relative else f"{width * 100:g} pp"
        section["plan"] = (
            f"corridor: the next wake trades the whole book back to target if any weight is "
            f"more than {band} off"
            + (f"; outside now: {', '.join(outside)}" if outside else "; all inside now")
        )
        return section
    runtime = build_runtime(config)
    rule = runtime.trigger
    if not isinstance(rule, CalendarRule):
        return section | {"plan": f"{config.trigger.kind} trigger"}
    day = now.astimezone(NEW_YORK).date() if wake.get("at") is None else _wake_day(wake)
    sessions = calendar.sessions(day - timedelta(days=100), day + timedelta(days=200))
    done = tracker.last_rebalance_key(name)
    upcoming = [(d, key) for d, key in rule.rebalance_dates(sessions) if d >= day and key != done]
    if upcoming:
        section["next_rebalance"] = upcoming[0][0].isoformat()
        section["plan"] = f"calendar: next rebalance on {upcoming[0][0]} ({rule.schedule.value})"
    return section


def _wake_day(wake: Section) -> date:
    return datetime.fromisoformat(str(wake["at"])).astimezone(NEW_YORK).date()


# --- health ------------------------------------------------------------------------------------


def health(tracker: Tracker, source: Source, now: datetime) -> Section:
    """Heartbeat, the daemon, last and next wake per strategy, alert channels, data freshness
    and the data problems (bad prints, stale or missing prices) of the last errors."""
    per_strategy = []
    for name in strategy_names(tracker, source):
        last, unfinished = cycle_sections(tracker, name)
        config = source.configs.get(name)
        per_strategy.append(
            {
                "strategy": name,
                "last_wake": last,
                "unfinished": unfinished,
                "next_wake": None
                if config is None
                else wake_section(config, tracker, now, offline_calendar()),
                "data": _freshness(tracker, name),
                "last_error": last_error(tracker, name),
            }
        )
    beat = heartbeat_section(heartbeat_path(source.settings), now, DEFAULT_MAX_AGE)
    beat.pop("file", None)  # a path on the server says nothing to the reader
    return {
        "now": now.isoformat(),
        "heartbeat": beat,
        "daemon": daemon_section(tracker, ""),
        "strategies": per_strategy,
        "alerts": alert_channels(tracker, source.channels),
        "data_flags": data_flags(tracker),
    }


def _freshness(tracker: Tracker, name: str) -> Section | None:
    """The last bars the strategy loaded: the day of its last bar against its run's session."""
    bars = tracker.last_event(name, EventKind.BARS_LOADED)
    if bars is None:
        return None
    session = _session_of(bars)
    last_bar = bars.payload.get("last_bar")
    return {
        "run_id": bars.run_id,
        "session": None if session is None else session.isoformat(),
        "last_bar": last_bar,
        "fresh": session is not None and last_bar == session.isoformat(),
    }


DATA_ERRORS = {"DataError", "PreTradeCheckError", "MarketDataError"}


def data_flags(tracker: Tracker, limit: int = 10) -> list[Section]:
    """The latest refusals for the data's sake (a bad print, a stale or missing price, a
    failed pre-trade check), newest first."""
    found = [
        e for e in tracker.events(kind=EventKind.ERROR) if e.payload.get("error") in DATA_ERRORS
    ]
    found += tracker.events(kind=EventKind.CHECK_FAILED)
    found.sort(key=lambda e: e.id, reverse=True)
    return [_event(e) for e in found[:limit]]


# --- the journal -------------------------------------------------------------------------------

JOURNAL_KINDS = {
    EventKind.CYCLE_STARTED, EventKind.DECISION, EventKind.ORDER_SUBMITTING,
    EventKind.ORDER_FILLED, EventKind.ORDER_REJECTED, EventKind.ORDER_CANCELED,
    EventKind.ORDER_FOUND, EventKind.ORDER_RETRY, EventKind.CHECK_FAILED,
    EventKind.EXTERNAL_CHANGE, EventKind.SPLIT_DETECTED, EventKind.ALERT_QUEUED,
    EventKind.ALERT_SENT, EventKind.ALERT_FAILED, EventKind.MISSED_RUN,
    EventKind.REBALANCE_DONE, EventKind.RECONCILE_FAILED, EventKind.CYCLE_FINISHED,
    EventKind.ERROR,
}  # fmt: skip
PROBLEMS = (EventKind.ERROR, EventKind.ORDER_REJECTED, EventKind.ALERT_FAILED, EventKind.MISSED_RUN)


def journal(
    tracker: Tracker, source: Source, day: date | None, strategy_name: str | None
) -> Section:
    """One day's cycles, orders (with their client_order_id), fills, refusals, errors and
    alerts, optionally of one strategy; the latest recorded day when none is asked for. The
    latest problems (errors, refusals, failed alerts, missed runs) are listed whatever the day."""
    days = recorded_days(tracker)
    chosen = day or (days[0] if days else None)
    events = [] if chosen is None else tracker.events_on(chosen, strategy_name)
    problems = [
        e for kind in PROBLEMS for e in tracker.events(kind=kind)
        if strategy_name is None or e.strategy in (strategy_name, "")
    ]  # fmt: skip
    problems.sort(key=lambda e: e.id, reverse=True)
    return {
        "day": None if chosen is None else chosen.isoformat(),
        "strategy": strategy_name,
        "days": [d.isoformat() for d in days],
        "strategies": strategy_names(tracker, source),
        "events": [_event(e) for e in events if e.kind in JOURNAL_KINDS],
        "problems": [_event(e) for e in problems[:20]],
    }


def recorded_days(tracker: Tracker) -> list[date]:
    """Every session with a snapshot or a cycle, newest first: a day whose only wake failed
    (no equity recorded) is in the list too, it is the one a reader looks for."""
    days = set(tracker.sessions_recorded())
    for event in tracker.events(kind=EventKind.CYCLE_STARTED):
        day = _session_of(event)
        if day is not None:
            days.add(day)
    return sorted(days, reverse=True)


def _event(event: EventRow) -> Section:
    payload = event.payload
    return {
        "id": event.id,
        "at": event.at,
        "run_id": event.run_id,
        "strategy": event.strategy,
        "kind": event.kind,
        "summary": summarize(event.kind, payload),
        "client_order_id": payload.get("client_order_id"),
    }


def summarize(kind: str, payload: Mapping[str, Any]) -> str:
    """One readable line of an event's payload (the fields a person looks for)."""
    if kind.startswith("order_"):
        return _order_summary(payload)
    special = _SUMMARIES.get(kind)
    if special is not None:
        return special(payload)
    for key in ("reason", "message", "title", "error"):
        if payload.get(key):
            return str(payload[key])
    return ", ".join(
        f"{k}={v}" for k, v in list(payload.items())[:4] if not isinstance(v, dict | list)
    )


def _order_summary(payload: Mapping[str, Any]) -> str:
    parts = [str(payload.get(k)) for k in ("side", "symbol") if payload.get(k)]
    qty = payload.get("filled_qty") or payload.get("qty") or payload.get("notional")
    if qty:
        parts.append(f"qty {qty}")
    if payload.get("filled_avg_price"):
        parts.append(f"@ {payload['filled_avg_price']}")
    if payload.get("fees") not in (None, "0"):
        parts.append(f"fees {payload['fees']}")
    parts += [str(payload[key]) for key in ("status", "reason", "message") if payload.get(key)]
    return " ".join(parts)


def _rebalance_summary(payload: Mapping[str, Any]) -> str:
    residual = float(str(payload.get("residual_drift") or 0)) * 100
    forced = " (forced)" if payload.get("forced") else ""
    return f"landed{forced}: worst drift left {residual:.2f} pp ({payload.get('symbol')})"


_SUMMARIES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    EventKind.ERROR: lambda p: f"{p.get('error')}: {p.get('message')}",
    EventKind.CYCLE_FINISHED: lambda p: f"{p.get('outcome')} — {p.get('reason')}",
    EventKind.CYCLE_STARTED: lambda p: (
        f"session {p.get('session')}" + (" (dry run)" if p.get("dry_run") else "")
    ),
    EventKind.REBALANCE_DONE: _rebalance_summary,
}


def _session_of(event: EventRow) -> date | None:
    head = event.run_id[:8]
    if not head.isdigit():
        return None
    return date(int(head[:4]), int(head[4:6]), int(head[6:8]))


# --- live against backtest ---------------------------------------------------------------------


def live_vs_backtest(tracker: Tracker, source: Source, name: str) -> Section:
    """The account's equity next to what ``bot backtest`` of the same strategy over the same
    days produces (same closes, its default costs), and the gap split into its causes."""
    config = source.configs.get(name)
    points = model.daily_equity(tracker.equity_history(name), sleeve=True)
    base: Section = {"strategy": name, "live": _series(points)}
    if config is None:
        return base | {"note": "start the dashboard with --config FILE to compare with a backtest"}
    if not points:
        return base | {"note": "no equity recorded yet"}
    first, last = points[0][0], points[-1][0]
    try:
        closes, synthetic = closes_for(config, source.data_dir, first, last)
        run = _backtest(config, closes, first, last, live_start(tracker, name, config))
    except (BotError, ValueError, KeyError) as exc:
        return base | {"note": f"no backtest: {exc}"}
    return base | _comparison(tracker, name, points, run, closes, synthetic, config, source)


@dataclass(frozen=True)
class _Run:
    equity: list[model.Point]
    fill_cost: float
    fees: float
    outcomes: dict[date, str]
    holdings: dict[date, dict[str, float]]
    costs: str


def _comparison(  # noqa: PLR0917 - one call site, every input named there
    tracker: Tracker,
    name: str,
    points: list[model.Point],
    run: _Run,
    closes: pd.DataFrame,
    synthetic: bool,
    config: BotConfig,
    source: Source,
) -> Section:
    days = {d for d, _ in points}
    table = {
        (_day(ts), str(symbol)): float(value)
        for symbol in closes.columns
        for ts, value in closes[symbol].items()
        if _day(ts) in days and pd.notna(value)
    }
    fills = live_fills(tracker, name)
    live_cost = model.fills_away_from_close(fills, table)
    live_fees = sum(f.fees for f in fills)
    gap = model.shortfall(
        points, run.equity, live_fill_cost=live_cost, backtest_fill_cost=run.fill_cost,
        live_fees=live_fees, backtest_fees=run.fees,
    )  # fmt: skip
    outcomes, late = live_outcomes(tracker, name)
    differences = model.day_differences(outcomes, run.outcomes, late)
    live_holdings = live_positions(tracker, name)
    first, last = points[0][0], points[-1][0]
    data = f" --data {source.data_dir}" if source.data_dir else ""
    config_file = source.config_path or "FILE"
    return {
        "backtest": _series(run.equity),
        "command": f"bot backtest --config {config_file}{data} --start {first} --end {last}",
        "costs": run.costs,
        "synthetic": synthetic,
        "shortfall": None if gap is None else gap.as_dict(),
        "gap": _series([(d, v - b) for (d, v), (_, b) in _aligned(points, run.equity)]),
        "days": [d.describe() for d in differences],
        "cash": {
            "live": model.cash_share(dict(points), live_holdings, table),
            "backtest": model.cash_share(dict(run.equity), run.holdings, table),
            "buffer": config.sizing.cash_buffer,
        },
        "fills": len(fills),
    }


def _aligned(a: list[model.Point], b: list[model.Point]) -> list[tuple[model.Point, model.Point]]:
    other = dict(b)
    return [((d, v), (d, other[d])) for d, v in a if d in other]


def closes_for(
    config: BotConfig, data_dir: Path | None, first: date, last: date
) -> tuple[pd.DataFrame, bool]:
    """The closes a backtest of ``config`` reads: ``data_dir`` (``--data``), else the config's
    own market (its CSV directory, or the seeded synthetic market over the period the demo's
    simulated clock ran). An Alpaca strategy without either needs ``bot data fetch`` first."""
    runtime = build_runtime(config)
    symbols = tuple(runtime.strategy.symbols)
    own_market = config.market.source == "csv" or (
        not isinstance(config.broker, AlpacaBrokerConfig) and config.clock.kind == "simulated"
    )
    if data_dir is None and not own_market:
        msg = (
            "give the closes with --data DIR (bot data fetch --config FILE --to DIR downloads them)"
        )
        raise BotError(msg)
    start = config.clock.start or first
    end = config.clock.end or last
    frame, synthetic = load_market(config, symbols, start, end, data_dir)
    return frame, synthetic


def _backtest(
    config: BotConfig, closes: pd.DataFrame, first: date, last: date, start: float | None
) -> _Run:
    """``bot backtest``'s run over the days; scaled to the account's starting equity when that
    is not the backtest's initial cash (``bot backtest`` starts every account at the simulated
    broker's cash, or $100,000): a $25,000 account is compared with $25,000 of the strategy.
    """
    from bot.backtest.command import non_positive_as_missing  # noqa: PLC0415 - on use
    from bot.backtest.fast import run_fast_backtest  # noqa: PLC0415

    runtime = build_runtime(config)
    symbols = list(runtime.strategy.symbols)
    frame, _ = non_positive_as_missing(closes[symbols])
    costs = backtest_costs(config)
    result = run_fast_backtest(runtime, frame, first, last, costs=costs)
    cash = float(costs.initial_cash)
    scale = 1.0 if start is None or abs(start - cash) < 0.005 else start / cash
    equity = [(_day(ts), float(v) * scale) for ts, v in result.equity.items()]
    holdings = {
        _day(ts): {str(s): float(q) * scale for s, q in row.items()}
        for ts, row in result.positions.iterrows()
    }
    outcomes = {_day(ts): str(v) for ts, v in result.outcome_by_day.items()}
    described = (
        f"initial cash ${costs.initial_cash:,.0f}, slippage {costs.slippage_bps} bp, "
        "current SEC/TAF fees (bot backtest's defaults)"
    )
    if scale != 1.0:
        described += f"; scaled ×{scale:.6g} to the account's starting ${start:,.2f}"
    return _Run(
        equity,
        float(result.slippage) * scale,
        float(result.fees) * scale,
        outcomes,
        holdings,
        described,
    )


def live_start(tracker: Tracker, name: str, config: BotConfig) -> float | None:
    """What the strategy had to invest at its first wake, before any order: the account's
    equity then (recorded with the first drift measurement) times its capital fraction."""
    measured = tracker.events(name, EventKind.DRIFT_MEASURED)
    if not measured or measured[0].payload.get("equity") is None:
        return None
    return float(str(measured[0].payload["equity"])) * config.sizing.capital_fraction


def backtest_costs(config: BotConfig) -> Any:
    """``bot backtest``'s costs with its default options: 1 bp slippage, today's fees, no
    financing; the simulated broker's initial cash and margin, else $100,000 and 2×."""
    from bot.backtest.engine import BacktestCosts  # noqa: PLC0415 - pandas-heavy, on use

    broker = config.broker if isinstance(config.broker, SimulatedBrokerConfig) else None
    return BacktestCosts(
        initial_cash=Decimal(repr(broker.initial_cash)) if broker else Decimal(100_000),
        slippage_bps=Decimal(repr(1.0)),
        fees=fee_schedule("current"),
        margin_multiplier=Decimal(repr(broker.margin_multiplier)) if broker else Decimal(2),
    )


FILL_KINDS = (EventKind.ORDER_FILLED, EventKind.ORDER_CANCELED)


def live_fills(tracker: Tracker, name: str) -> list[model.Fill]:
    """Every fill the strategy's runs recorded (a cancelled order's partial fill too)."""
    fills = []
    for kind in FILL_KINDS:
        for event in tracker.events(name, kind):
            p = event.payload
            qty, price, day = p.get("filled_qty"), p.get("filled_avg_price"), _session_of(event)
            if not qty or price is None or day is None or Decimal(str(qty)) <= 0:
                continue
            fills.append(
                model.Fill(
                    day, str(p.get("symbol")), str(p.get("side")), float(qty), float(price),
                    float(p.get("fees") or 0),
                )
            )  # fmt: skip
    return fills


def live_outcomes(tracker: Tracker, name: str) -> tuple[dict[date, str], list[date]]:
    """Each session's outcome of the strategy's real cycles (the last one that day), and the
    sessions whose decision was a late (caught-up) rebalance."""
    outcomes: dict[date, str] = {}
    for event in tracker.events(name, EventKind.CYCLE_FINISHED):
        day = _session_of(event)
        outcome = str(event.payload.get("outcome"))
        if day is not None and outcome != "planned":
            outcomes[day] = outcome
    late = [
        day
        for event in tracker.events(name, EventKind.DECISION)
        if event.payload.get("late") and (day := _session_of(event)) is not None
    ]
    return outcomes, late


def live_positions(tracker: Tracker, name: str) -> dict[date, dict[str, float]]:
    """The shares each session's last cycle left (``positions`` events)."""
    held: dict[date, dict[str, float]] = {}
    for event in tracker.events(name, EventKind.POSITIONS):
        day = _session_of(event)
        if day is not None:
            held[day] = {s: float(q) for s, q in event.payload.get("positions", {}).items()}
    return held


def _benchmark_closes(
    source: Source, points: list[model.Point], config: BotConfig | None = None
) -> tuple[Mapping[date, float], str] | None:
    """The benchmark's closes on the account's days, from ``--data`` or the (first) config's
    market; None when there are none (the page then says so)."""
    if not points:
        return None
    config = config or next(iter(source.configs.values()), None)
    return _benchmark_closes_of(source.data_dir, config, points[0][0], points[-1][0])


def _benchmark_closes_of(
    data_dir: Path | None, config: BotConfig | None, first: date, last: date
) -> tuple[Mapping[date, float], str] | None:
    try:
        if config is None:
            if data_dir is None:
                return None
            from bot.market.csv_source import load_closes_dir  # noqa: PLC0415

            frame, synthetic = load_closes_dir(data_dir, [BENCHMARK]), False
        else:
            start, end = config.clock.start or first, config.clock.end or last
            if (
                data_dir is None
                and config.market.source != "csv"
                and config.clock.kind != "simulated"
            ):
                return None
            frame, synthetic = load_market(config, (BENCHMARK,), start, end, data_dir)
    except (BotError, ValueError, OSError):
        return None
    closes = {_day(ts): float(v) for ts, v in frame[BENCHMARK].items() if pd.notna(v)}
    return closes, f"{BENCHMARK} (synthetic)" if synthetic else BENCHMARK


def _day(stamp: object) -> date:
    """A frame's index label (a Timestamp) as a date."""
    return pd.Timestamp(str(stamp)).date() if not isinstance(stamp, pd.Timestamp) else stamp.date()
