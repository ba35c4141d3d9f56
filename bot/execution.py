"""Sending orders without ever sending one twice.

Each order's client_order_id is derived from its intent (strategy, rebalance key, symbol, leg).
The id is journaled in the tracker *before* the order is sent; an id that is already in the
journal is looked up at the broker instead of being sent again. An id whose order ended
unfilled (rejected, cancelled, expired) gets a new, journaled attempt suffix (``-a2``), because a
broker never accepts a used id again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from bot.domain import (
    OrderReport,
    OrderRequest,
    OrderStatus,
    PlannedOrder,
    client_order_id,
)
from bot.errors import BrokerError
from bot.ports import Broker
from bot.tracker import EventKind, Tracker

Recorder = Callable[..., None]
MAX_ATTEMPTS = 9


class Execution:
    """Sends one rebalance's orders for one strategy and records every step."""

    def __init__(self, broker: Broker, tracker: Tracker, record: Recorder, key: str) -> None:
        self._broker = broker
        self._tracker = tracker
        self._record = record
        self._key = key

    def send(self, orders: Iterable[PlannedOrder], strategy: str) -> list[OrderReport]:
        """Send ``orders`` in order; stop with BrokerError at the first one not filled."""
        journal = self._tracker.journaled_order_ids(strategy)
        reports = []
        for order in orders:
            report = self._send_one(order, client_order_id(strategy, self._key, order), journal)
            reports.append(report)
            if report.status is not OrderStatus.FILLED:
                msg = (
                    f"order {report.client_order_id} ({order.leg.value} {order.qty} "
                    f"{order.symbol}) ended {report.status.value}: {report.reason or 'no reason'}"
                    "; the rest of this rebalance was not sent"
                )
                raise BrokerError(msg)
        return reports

    def _send_one(self, order: PlannedOrder, base_id: str, journal: set[str]) -> OrderReport:
        cid = base_id
        for attempt in range(2, MAX_ATTEMPTS + 2):
            if cid not in journal:
                return self._submit(order, cid, journal)
            found = self._broker.get_order(cid)
            if found is None:
                # Journaled but never seen by the broker (a crash between journal and send).
                return self._submit(order, cid, journal, journaled=True)
            self._record(EventKind.ORDER_FOUND, **_payload(found))
            if found.status is OrderStatus.FILLED or not found.status.is_final:
                return found
            cid = f"{base_id}-a{attempt}"
        msg = f"{base_id} failed {MAX_ATTEMPTS} times; not retrying again"
        raise BrokerError(msg)

    def _submit(
        self, order: PlannedOrder, cid: str, journal: set[str], *, journaled: bool = False
    ) -> OrderReport:
        request = OrderRequest(cid, order.symbol, order.side, order.qty, order.leg)
        if not journaled:
            self._record(
                EventKind.ORDER_SUBMITTING,
                client_order_id=cid,
                symbol=order.symbol,
                side=order.side.value,
                leg=order.leg.value,
                qty=order.qty,
                price=order.price,
            )
            journal.add(cid)
        try:
            report = self._broker.submit(request)
        except BrokerError:
            # Whatever happened, the broker is the truth: did it get the order?
            found = self._broker.get_order(cid)
            if found is None:
                raise
            self._record(EventKind.ORDER_FOUND, **_payload(found))
            return found
        kind = (
            EventKind.ORDER_FILLED
            if report.status is OrderStatus.FILLED
            else (EventKind.ORDER_REJECTED if report.status.is_final else EventKind.ORDER_SUBMITTED)
        )
        self._record(kind, **_payload(report))
        return report


def _payload(report: OrderReport) -> dict[str, Any]:
    return {
        "client_order_id": report.client_order_id,
        "symbol": report.symbol,
        "side": report.side.value,
        "qty": report.qty,
        "status": report.status.value,
        "filled_qty": report.filled_qty,
        "filled_avg_price": report.filled_avg_price,
        "fees": report.fees,
        "reason": report.reason,
    }
