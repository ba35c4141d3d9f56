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
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.domain import (
    OrderReport,
    OrderRequest,
    OrderStatus,
    PlannedOrder,
    client_order_id,
)
from bot.errors import BotError, BrokerError
from bot.ports import Broker, Clock
from bot.tracker import EventKind, Tracker

Recorder = Callable[..., None]
MAX_ATTEMPTS = 99  # "-a99" keeps the longest id within Alpaca's 48 characters


@dataclass(frozen=True, slots=True)
class ExecutionPolicy:
    """How long to wait for fills: bounded polls, and a deadline (close − margin) to cancel at."""

    deadline: datetime
    poll_interval: timedelta = timedelta(seconds=1)
    max_polls: int = 120


class Execution:
    """Sends one rebalance's orders for one strategy, confirms them, and records every step."""

    def __init__(
        self,
        broker: Broker,
        tracker: Tracker,
        record: Recorder,
        key: str,
        reports: list[OrderReport],
        *,
        clock: Clock,
        policy: ExecutionPolicy,
    ) -> None:
        self._broker = broker
        self._tracker = tracker
        self._record = record
        self._key = key
        self.reports = reports  # every order sent or adopted, appended as it is confirmed
        self._clock = clock
        self._policy = policy

    def cancel_own_open_orders(self, strategy: str) -> tuple[list[OrderReport], bool]:
        """Cancel this strategy's orders still open from an earlier run, and confirm each.

        Returns everyone else's open orders (for the wash-trade check) and whether anything of
        ours was cancelled (then the account must be read again).
        """
        own_prefix = f"{strategy}-"
        open_orders = self._broker.open_orders()
        own = [o for o in open_orders if o.client_order_id.startswith(own_prefix)]
        for order in own:
            self._cancel(order, why="stale open order from an earlier run")
        others = [o for o in open_orders if not o.client_order_id.startswith(own_prefix)]
        return others, bool(own)

    def send(self, orders: Iterable[PlannedOrder], strategy: str) -> None:
        """Send one phase's orders, then confirm each; stop at a rejection.

        A partial fill cancelled at the deadline is kept (the next phase is sized from what the
        account actually holds); an order that ends with nothing filled stops the rebalance.
        """
        journal = self._tracker.journaled_order_ids(strategy, f"{strategy}-{self._key}-")
        sent: list[tuple[PlannedOrder, OrderReport]] = []
        failure: BrokerError | None = None
        for order in orders:
            if self._clock.now() >= self._policy.deadline:
                failure = BrokerError("too close to the close: the remaining orders were not sent")
                break
            try:
                cid = client_order_id(strategy, self._key, order)
                sent.append((order, self._send_one(order, cid, journal)))
            except BrokerError as exc:
                failure = exc
                break
            if sent[-1][1].status.is_final and sent[-1][1].status is not OrderStatus.FILLED:
                break
        for index, (order, report) in enumerate(sent):
            try:
                final = self._confirm(report)
            except BotError:
                self._cancel_quietly([r for _, r in sent[index + 1 :]])
                raise
            self.reports.append(final)
            if final.filled_qty == 0 and final.status is not OrderStatus.FILLED:
                failure = failure or BrokerError(
                    f"order {final.client_order_id} ({order.leg.value} {order.qty} "
                    f"{order.symbol}) ended {final.status.value}: {final.reason or 'no reason'}"
                    "; the rest of this rebalance was not sent"
                )
        if failure is not None:
            raise failure

    def _cancel_quietly(self, reports: list[OrderReport]) -> None:
        """After a failure while confirming: do not leave the other sent orders working."""
        for report in reports:
            if report.status.is_final:
                continue
            try:
                self._cancel(report, why="a sibling order could not be confirmed")
            except BotError as exc:
                self._record(
                    EventKind.ERROR, error=type(exc).__name__, message=f"cancel failed: {exc}"
                )

    def _confirm(self, report: OrderReport) -> OrderReport:
        polls = 0
        while not report.status.is_final:
            if polls >= self._policy.max_polls or self._clock.now() >= self._policy.deadline:
                return self._cancel(report, why="not filled by the deadline")
            self._clock.sleep_until(self._clock.now() + self._policy.poll_interval)
            report = self._broker.get_order(report.client_order_id) or report
            polls += 1
        if report.status is OrderStatus.FILLED:
            self._record(EventKind.ORDER_FILLED, **_payload(report))
        elif report.filled_qty == 0:
            self._record(EventKind.ORDER_REJECTED, **_payload(report))
        return report

    def _cancel(self, report: OrderReport, why: str) -> OrderReport:
        cid = report.client_order_id
        self._record(EventKind.ORDER_CANCEL_REQUESTED, client_order_id=cid, reason=why)
        self._broker.cancel(cid)
        for _ in range(self._policy.max_polls):
            found = self._broker.get_order(cid)
            if found is not None and found.status.is_final:
                self._record(EventKind.ORDER_CANCELED, **_payload(found), why=why)
                return found
            self._clock.sleep_until(self._clock.now() + self._policy.poll_interval)
        msg = f"cancel of {cid} was not confirmed; the order may still be working"
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
        except BrokerError as exc:
            # Whatever happened (timeout, 504, 422 40010001), the broker is the truth.
            found = self._broker.get_order(cid)
            if found is None:
                raise
            self._record(EventKind.ORDER_FOUND, **_payload(found), after=str(exc))
            return found
        self._record(EventKind.ORDER_SUBMITTED, **_payload(report))
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
