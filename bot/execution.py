"""Sending orders without ever sending one twice.

Each order's client_order_id is derived from its intent (strategy, rebalance key, symbol, leg).
The id is journaled in the tracker *before* the order is sent. When a planned order's id is
already in the journal, the broker is asked first:

* never seen by the broker (a crash between journal and send) -> send it under that same id;
* still open at the broker -> adopt it; nothing new is sent;
* final (filled, rejected, cancelled) -> that attempt is over and its effect is already in the
  positions the plan was computed from, so what is planned now is a new need: it goes out under
  the next journaled attempt suffix (``-a2``, ``-a3`` ...), because a broker never accepts a used
  id again.

After an error or timeout on submit, the order is looked up by id before anything else.
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
MAX_ATTEMPTS = 99  # "-a99" keeps the longest id within Alpaca's 48 characters


class Execution:
    """Sends one rebalance's orders for one strategy and records every step."""

    def __init__(
        self,
        broker: Broker,
        tracker: Tracker,
        record: Recorder,
        key: str,
        reports: list[OrderReport],
    ) -> None:
        self._broker = broker
        self._tracker = tracker
        self._record = record
        self._key = key
        self.reports = reports  # every order sent or adopted, appended as it happens

    def send(self, orders: Iterable[PlannedOrder], strategy: str) -> None:
        """Send ``orders`` in order; stop with BrokerError at the first one not filled."""
        journal = self._tracker.journaled_order_ids(strategy)
        for order in orders:
            report = self._send_one(order, client_order_id(strategy, self._key, order), journal)
            self.reports.append(report)
            if report.status is not OrderStatus.FILLED:
                msg = (
                    f"order {report.client_order_id} ({order.leg.value} {order.qty} "
                    f"{order.symbol}) ended {report.status.value}: {report.reason or 'no reason'}"
                    "; the rest of this rebalance was not sent"
                )
                raise BrokerError(msg)

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
            if not found.status.is_final:
                return found  # still working at the broker: adopt it, never send a second
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
