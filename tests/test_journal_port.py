"""The core reaches the tracker through the Journal port (bot/ports.py), never SQLite itself.

Proved three ways: no core module imports sqlite3 or bot.tracker (statically, and at run time),
the SQLite tracker has every method of the port with the port's signature, and the cycle engine
run on a plain in-memory journal (a list and brute-force filters, written here) records exactly
what it records in the SQLite tracker and ends with the same equity.
"""

from __future__ import annotations

import ast
import inspect
import json
import subprocess
import sys
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.frame_market import FrameMarketData
from bot.adapters.sim_broker import CloseTable, SimulatedBroker
from bot.adapters.xnys_calendar import XnysCalendar
from bot.bootstrap import build_runtime
from bot.clock import SimulatedClock
from bot.config import load_config
from bot.cycle import NEW_YORK, Adapters, run_cycle
from bot.journal import EquityRow, EventKind, EventRow
from bot.market.sessions import xnys_sessions
from bot.market.synthetic import synthetic_closes
from bot.ports import Journal
from bot.tracker import Tracker

ROOT = Path(__file__).resolve().parents[1]
# The trading core: decides, plans, sends and journals, on ports only (modules or packages).
CORE = [
    "bot.cycle",
    "bot.execution",
    "bot.daemon",
    "bot.alerting",
    "bot.planner",
    "bot.triggers",
    "bot.domain",
    "bot.checks",
    "bot.splits",
    "bot.ports",
    "bot.journal",
    "bot.report",
]


def source_files(module: str) -> list[Path]:
    """The module's file, or every file of the package."""
    path = ROOT.joinpath(*module.split("."))
    return sorted(path.rglob("*.py")) if path.is_dir() else [path.with_suffix(".py")]


def imported_modules(path: Path) -> set[str]:
    """Every module a source file imports, at any depth of its syntax tree."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            found.add(node.module)
    return found


@pytest.mark.parametrize("module", CORE)
def test_no_core_module_imports_sqlite_or_the_tracker(module: str) -> None:
    """The core names events through bot.journal and the journal through bot.ports."""
    files = source_files(module)
    imported = set().union(*(imported_modules(path) for path in files))

    assert files
    assert "sqlite3" not in imported
    assert "bot.tracker" not in imported


@pytest.mark.parametrize("modules", [pytest.param(CORE, id="core")])
def test_importing_the_core_does_not_load_sqlite(modules: list[str]) -> None:
    """Not even through another module: a fresh interpreter importing the core has no sqlite3."""
    script = (
        f"import importlib, sys\nfor name in {modules!r}:\n    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if 'sqlite' in m or m == 'bot.tracker'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )

    assert done.stdout.strip() == "[]"


def test_the_sqlite_tracker_implements_the_port_with_its_signatures() -> None:
    """Every method of Journal exists on Tracker with the same parameters (mypy checks the
    types wherever a Tracker is passed as a Journal)."""
    port = {
        name: member
        for name, member in vars(Journal).items()
        if callable(member) and not name.startswith("_")
    }
    assert {"record", "journaled_order_ids", "refused_order_ids", "journal_entry"} <= set(port)
    for name, member in port.items():
        expected = inspect.signature(member)
        actual = inspect.signature(getattr(Tracker, name))
        assert list(actual.parameters.values()) == list(expected.parameters.values()), name


def _stored(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    msg = f"cannot record {type(value).__name__}"
    raise TypeError(msg)


class MemoryJournal:
    """The port on a Python list: every query a brute-force filter over every event."""

    def __init__(self) -> None:
        self.rows: list[EventRow] = []
        self.equity: list[EquityRow] = []

    def record(
        self, at: datetime, run_id: str, strategy: str, kind: EventKind, **payload: Any
    ) -> None:
        stored = json.loads(json.dumps(payload, default=_stored, sort_keys=True))
        row = EventRow(len(self.rows) + 1, at.isoformat(), run_id, strategy, kind.value, stored)
        self.rows.append(row)

    def snapshot_equity(
        self,
        *,
        at: datetime,
        session: date,
        run_id: str,
        strategy: str,
        equity: Decimal,
        sleeve_equity: Decimal,
    ) -> None:
        del run_id
        self.equity.append(EquityRow(at.isoformat(), session, strategy, equity, sleeve_equity))

    def events(self, strategy: str | None = None, kind: EventKind | None = None) -> list[EventRow]:
        return [
            e
            for e in self.rows
            if strategy in {None, e.strategy} and (kind is None or e.kind == kind.value)
        ]

    def last_event(self, strategy: str, kind: EventKind) -> EventRow | None:
        rows = self.events(strategy, kind)
        return rows[-1] if rows else None

    def run_events(self, run_id: str) -> list[EventRow]:
        return [e for e in self.rows if e.run_id == run_id]

    def last_event_id(self) -> int:
        return len(self.rows)

    def last_rebalance_key(self, strategy: str) -> str | None:
        done = [
            e
            for e in self.events(strategy, EventKind.REBALANCE_DONE)
            if not e.payload.get("forced")
        ]
        return str(done[-1].payload["rebalance_key"]) if done else None

    def finished_cycle_on(self, strategy: str, session: date) -> bool:
        return any(
            e.run_id.startswith(f"{session:%Y%m%d}-") and e.payload.get("outcome") != "planned"
            for e in self.events(strategy, EventKind.CYCLE_FINISHED)
        )

    def first_cycle_session(self, strategy: str) -> date | None:
        started = self.events(strategy, EventKind.CYCLE_STARTED)
        if not started:
            return None
        return datetime.strptime(started[0].run_id[:8], "%Y%m%d").date()  # noqa: DTZ007

    def _ids(self, strategy: str, kind: EventKind, prefix: str) -> list[EventRow]:
        return [
            e
            for e in self.events(strategy, kind)
            if isinstance(e.payload.get("client_order_id"), str)
            and e.payload["client_order_id"].startswith(prefix)
        ]

    def journaled_order_ids(self, strategy: str, prefix: str = "") -> set[str]:
        return {
            e.payload["client_order_id"]
            for e in self._ids(strategy, EventKind.ORDER_SUBMITTING, prefix)
        }

    def refused_order_ids(self, strategy: str, prefix: str = "") -> set[str]:
        rejected = self._ids(strategy, EventKind.ORDER_REJECTED, prefix)
        return {
            e.payload["client_order_id"]
            for e in rejected
            if e.payload.get("refused_at_submit") is True
        }

    def journal_entry(self, strategy: str, client_order_id: str) -> tuple[int, str] | None:
        for e in self._ids(strategy, EventKind.ORDER_SUBMITTING, client_order_id):
            if e.payload["client_order_id"] == client_order_id:
                return e.id, e.run_id
        return None

    def equity_history(self, strategy: str | None = None) -> list[EquityRow]:
        return [r for r in self.equity if strategy in {None, r.strategy}]

    def close(self) -> None:
        pass


def run_days(journal: Journal, name: str, days: int) -> list[Decimal]:
    """The cycle engine on ``journal``: ``days`` sessions of synthetic closes, one cycle each at
    15:45 New York on the simulated broker; the equity after each."""
    runtime = build_runtime(load_config(ROOT / "config" / f"{name}.toml"))
    symbols = list(runtime.strategy.symbols)
    sessions = xnys_sessions(date(2023, 1, 3), date(2023, 12, 29))
    closes = synthetic_closes(symbols, sessions, seed=5)
    clock = SimulatedClock(datetime.combine(sessions[0], time(9), NEW_YORK))
    broker = SimulatedBroker(CloseTable(closes, clock), Decimal(100_000))
    adapters = Adapters(broker, FrameMarketData(closes), XnysCalendar(), journal, clock)
    equity = []
    for day in sessions[-days:]:
        clock.sleep_until(datetime.combine(day, time(15, 45), NEW_YORK))
        run_cycle(adapters, runtime, run_id=f"{day:%Y%m%d}-test")
        equity.append(broker.account().equity)
    return equity


@pytest.mark.parametrize(("name", "days"), [("hfea", 70), ("all_in", 30)])
def test_the_cycle_on_a_plain_memory_journal_records_what_it_records_in_sqlite(
    name: str, days: int, tmp_path: Path
) -> None:
    """Same events (kind, run, payload, in order), same equity snapshots, same equity curve:
    nothing the cycle does depends on the journal being SQLite."""
    memory = MemoryJournal()
    tracker = Tracker(tmp_path / "tracker.sqlite3")
    try:
        on_memory = run_days(memory, name, days)
        on_sqlite = run_days(tracker, name, days)
        recorded = tracker.events()
        snapshots = tracker.equity_history()
    finally:
        tracker.close()

    assert on_memory == on_sqlite
    assert [(e.run_id, e.strategy, e.kind, e.payload) for e in memory.rows] == [
        (e.run_id, e.strategy, e.kind, e.payload) for e in recorded
    ]
    kinds = {e.kind for e in recorded}
    assert {EventKind.ORDER_SUBMITTING.value, EventKind.REBALANCE_DONE.value} <= kinds
    assert [(r.session, r.equity) for r in memory.equity] == [
        (r.session, r.equity) for r in snapshots
    ]
