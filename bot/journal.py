"""What the journal records, as values: the kinds of event and the rows read back.

No storage here (``bot/tracker.py`` keeps them in SQLite; the core reaches it through the
``Journal`` port in ``bot/ports.py``), so the core can name an event without importing sqlite3.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any


class EventKind(StrEnum):
    """Every kind of state change the bot records."""

    CYCLE_STARTED = "cycle_started"
    BARS_LOADED = "bars_loaded"
    TARGETS_COMPUTED = "targets_computed"
    DRIFT_MEASURED = "drift_measured"
    DECISION = "decision"
    ORDERS_PLANNED = "orders_planned"
    ORDER_SUBMITTING = "order_submitting"  # the journal entry, written before the order is sent
    ORDER_SUBMITTED = "order_submitted"
    ORDER_FILLED = "order_filled"
    ORDER_REJECTED = "order_rejected"
    ORDER_FOUND = "order_found"  # looked up at the broker instead of being re-sent
    ORDER_RETRY = "order_retry"  # a submit failed and the lookup proved it never arrived
    ORDER_CANCEL_REQUESTED = "order_cancel_requested"
    ORDER_CANCELED = "order_canceled"  # confirmed final after a cancel (may hold a partial fill)
    CHECK_FAILED = "check_failed"  # a pre-trade check refused to trade
    POSITIONS = "positions"  # the strategy's holdings as the cycle left them
    EXTERNAL_CHANGE = "external_change"  # holdings changed by someone else since the last cycle
    SPLIT_DETECTED = "split_detected"  # a held fund split between two wakes (bot/splits.py)
    SPLIT_ADJUSTED = "split_adjusted"  # unadjusted bars restated for a known split (#780)
    ALERT_QUEUED = "alert_queued"  # an alert handed to delivery (sent at the next start if lost)
    ALERT_SENT = "alert_sent"  # one alert delivered on one channel (never sent twice)
    ALERT_FAILED = "alert_failed"  # a channel gave up on an alert after its retries
    DAEMON_STARTED = "daemon_started"
    DAEMON_STOPPED = "daemon_stopped"
    MISSED_RUN = "missed_run"  # a market day's cycle did not complete by its wake + margin
    REBALANCE_DONE = "rebalance_done"
    NETTING_PLANNED = "netting_planned"  # a portfolio's netted orders and who wants what
    LEDGER_POSTED = "ledger_posted"  # a change to the portfolio's ledgers (one atomic posting)
    RECONCILE_FAILED = "reconcile_failed"  # the ledgers do not add up to the account's positions
    CYCLE_FINISHED = "cycle_finished"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class EventRow:
    """One recorded event as read back."""

    id: int
    at: str
    run_id: str
    strategy: str
    kind: str
    payload: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class EquityRow:
    """One equity snapshot as read back."""

    at: str
    session: date
    strategy: str
    equity: Decimal
    sleeve_equity: Decimal


def _json_default(value: object) -> str:
    if type(value) is Decimal:  # by far the most common: quantities, prices, weights
        return str(value)
    if isinstance(value, Decimal | date | datetime):
        return str(value) if isinstance(value, Decimal) else value.isoformat()
    msg = f"cannot record {type(value).__name__} in the tracker"
    raise TypeError(msg)


# One encoder for every event (json.dumps would build one per call): the same text.
_ENCODER = json.JSONEncoder(default=_json_default, sort_keys=True)


def encode_payload(payload: Mapping[str, Any]) -> str:
    """An event's payload as the journal stores it: JSON with sorted keys, Decimal as its exact
    text, dates and times in ISO format. Any journal (SQLite or memory) stores this text, so
    what is read back is the same whichever keeps it; anything else raises TypeError."""
    return _ENCODER.encode(payload)
