"""The backtest's in-memory journal answers every Journal question as the SQLite tracker does.

Both are fed the same random histories (Hypothesis): events of a few strategies, kinds and runs
whose payloads carry the values the queries read (order ids with shared prefixes, refusals,
forced rebalances, dry runs, planned outcomes, nulls, booleans, Decimals, nested values); then
every query of the port is asked of both, with every prefix and session the history could
match, and the answers must be equal. The SQLite tracker is the reference: its SQL is the
independent method here.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.adapters.memory_journal import MemoryJournal
from bot.journal import EventKind
from bot.tracker import Tracker

STRATEGIES = ["hfea", "all_in"]
KINDS = [
    EventKind.CYCLE_STARTED,
    EventKind.CYCLE_FINISHED,
    EventKind.REBALANCE_DONE,
    EventKind.ORDER_SUBMITTING,
    EventKind.ORDER_REJECTED,
    EventKind.POSITIONS,
    EventKind.SPLIT_DETECTED,
]
DAYS = [date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 10)]
ORDER_IDS = ["hfea-2026Q1-UPRO-0", "hfea-2026Q1-UPRO-1", "hfea-2026Q1-TMF-0", "hfea-2026Q2-TMF-0"]
PREFIXES = ["", "hfea-", "hfea-2026Q1-", "hfea-2026Q1-UPRO", "hfea-2026Q2-TMF-0", "x"]

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 2),
    st.sampled_from(["planned", "rebalanced", "quiet", "", "1"]),
    st.decimals(min_value=-10, max_value=10, places=3, allow_nan=False),
    st.lists(st.integers(0, 3), max_size=2),
    st.dictionaries(st.sampled_from(["a", "b"]), st.integers(0, 3), max_size=2),
)
payloads = st.fixed_dictionaries(
    {},
    optional={
        "client_order_id": st.one_of(st.sampled_from(ORDER_IDS), values),
        "refused_at_submit": values,
        "forced": values,
        "rebalance_key": st.one_of(st.sampled_from(["2026Q1", "2026Q2"]), values),
        "outcome": values,
        "dry_run": values,
        "scaled_by": values,
        "positions": st.just({"UPRO": "1.5"}),
    },
)
events = st.tuples(
    st.sampled_from(STRATEGIES),
    st.sampled_from(KINDS),
    st.sampled_from(DAYS),
    st.sampled_from(["backtest", "once", "dry"]),
    payloads,
)


def _feed(journal: Any, history: list[tuple[str, EventKind, date, str, dict[str, Any]]]) -> None:
    at = datetime(2026, 3, 1, 14, 0, tzinfo=UTC)
    for number, (strategy, kind, day, run, payload) in enumerate(history):
        at += timedelta(minutes=1)
        journal.record(at, f"{day:%Y%m%d}-{run}", strategy, kind, **payload)
        if number % 3 == 0:
            journal.snapshot_equity(
                at=at,
                session=day,
                run_id=f"{day:%Y%m%d}-{run}",
                strategy=strategy,
                equity=Decimal("100000.10") + number,
                sleeve_equity=Decimal("50000.05"),
            )


def _answers(journal: Any) -> list[object]:
    found: list[object] = [journal.last_event_id(), journal.strategies(), journal.events()]
    found.append(journal.equity_history())
    for strategy in [*STRATEGIES, "nobody"]:
        found += [
            journal.events(strategy),
            journal.equity_history(strategy),
            journal.last_rebalance_key(strategy),
            journal.first_cycle_session(strategy),
            journal.last_finished_at(strategy),
        ]
        for kind in KINDS:
            found += [journal.events(strategy, kind), journal.last_event(strategy, kind)]
        for prefix in PREFIXES:
            found += [
                sorted(journal.journaled_order_ids(strategy, prefix)),
                sorted(journal.refused_order_ids(strategy, prefix)),
            ]
        for order_id in ORDER_IDS:
            found.append(journal.journal_entry(strategy, order_id))
        for day in DAYS:
            found.append(journal.finished_cycle_on(strategy, day))
    for kind in KINDS:
        found.append(journal.events(kind=kind))
    for day in DAYS:
        for run in ["backtest", "once", "dry", "never"]:
            run_id = f"{day:%Y%m%d}-{run}"
            found.append(journal.run_events(run_id))
            found += [journal.run_has_key(run_id, key) for key in ["scaled_by", "forced", "nope"]]
    return found


@settings(max_examples=150, deadline=None)
@given(st.lists(events, max_size=25))
def test_every_question_gets_the_sqlite_trackers_answer(
    history: list[tuple[str, EventKind, date, str, dict[str, Any]]],
) -> None:
    reference = Tracker(Path(":memory:"))
    memory = MemoryJournal()
    try:
        _feed(reference, history)
        _feed(memory, history)
        assert _answers(memory) == _answers(reference)
    finally:
        reference.close()


def test_a_hand_made_history_reads_back_as_written() -> None:
    """Independent of the tracker: the values a backtest relies on, worked out by hand."""
    journal = MemoryJournal()
    at = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
    journal.record(at, "20260302-backtest", "hfea", EventKind.CYCLE_STARTED, dry_run=False)
    journal.record(
        at, "20260302-backtest", "hfea", EventKind.ORDER_SUBMITTING, client_order_id="h-Q1-UPRO-0"
    )
    journal.record(
        at,
        "20260302-backtest",
        "hfea",
        EventKind.ORDER_REJECTED,
        client_order_id="h-Q1-UPRO-0",
        refused_at_submit=True,
    )
    journal.record(
        at, "20260302-backtest", "hfea", EventKind.ORDER_SUBMITTING, client_order_id="h-Q1-UPRO-1"
    )
    journal.record(at, "20260302-backtest", "hfea", EventKind.REBALANCE_DONE, rebalance_key="Q1")
    journal.record(
        at, "20260303-once", "hfea", EventKind.REBALANCE_DONE, rebalance_key="Q2", forced=True
    )
    journal.record(at, "20260302-backtest", "hfea", EventKind.CYCLE_FINISHED, outcome="rebalanced")
    journal.record(at, "20260302-backtest", "hfea", EventKind.POSITIONS, qty=Decimal("1.50"))

    assert journal.journaled_order_ids("hfea", "h-Q1-") == {"h-Q1-UPRO-0", "h-Q1-UPRO-1"}
    assert journal.refused_order_ids("hfea") == {"h-Q1-UPRO-0"}
    assert journal.journal_entry("hfea", "h-Q1-UPRO-1") == (4, "20260302-backtest")
    assert journal.last_rebalance_key("hfea") == "Q1"  # the forced one does not count
    assert journal.finished_cycle_on("hfea", date(2026, 3, 2))
    assert not journal.finished_cycle_on("hfea", date(2026, 3, 3))
    assert journal.first_cycle_session("hfea") == date(2026, 3, 2)
    last = journal.last_event("hfea", EventKind.POSITIONS)
    assert last is not None
    assert last.payload == {"qty": "1.50"}
    assert journal.last_event_id() == 8
    assert journal.run_has_key("20260303-once", "forced")
    assert not journal.run_has_key("20260302-backtest", "forced")


def test_a_value_the_journal_cannot_store_is_refused_when_recorded() -> None:
    journal = MemoryJournal()
    at = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
    with pytest.raises(TypeError, match="cannot record object"):
        journal.record(at, "r", "hfea", EventKind.POSITIONS, bad=object())
    assert journal.last_event_id() == 0


def test_a_row_read_back_is_the_callers_to_change() -> None:
    journal = MemoryJournal()
    at = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
    journal.record(at, "r", "hfea", EventKind.POSITIONS, positions={"UPRO": "1"})
    first = journal.last_event("hfea", EventKind.POSITIONS)
    assert first is not None
    first.payload["positions"]["UPRO"] = "999"  # type: ignore[index]
    again = journal.last_event("hfea", EventKind.POSITIONS)
    assert again is not None
    assert again.payload == {"positions": {"UPRO": "1"}}
