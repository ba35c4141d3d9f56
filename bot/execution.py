"""Sending orders without ever sending one twice, and landing them despite transient faults.

Each order's client_order_id is derived from its intent (strategy, rebalance key, symbol, leg).
The id is journaled in the tracker *before* the order is sent. When a planned order's id is
already in the journal, the broker is asked first:

* never seen by the broker (a crash between journal and send) -> send it under that same id;
* still open at the broker -> adopt it; nothing new is sent;
* final (filled, rejected, cancelled) -> that attempt is over and its effect is already in the
  positions the plan was computed from, so what is planned now is a new need: it goes out under
  the next journaled attempt suffix (``-a2``, ``-a3`` ...), because a broker never accepts a used
  id again;
* refused at submit (a 403 such as insufficient buying power, journaled as such) -> never sent
  again under that id: a re-sized order takes the next suffix.

After any error or timeout on submit, the order is looked up by id before anything else. Found:
adopted. Not found after a transient fault (429, 5xx, a dropped link, a timeout, a malformed
answer): it never arrived, so it is resent under the same id, with backoff, within the cycle's
deadline, and the rest of the phase carries on whatever the outcome. Not found after a refusal:
the refusal is journaled and reported to the cycle, which may re-size. If the lookup itself fails,
nothing else is sent (:class:`UnknownOrderStateError`).

A stop request (SIGTERM) is honoured before each send and each poll: what is still unfilled is
cancelled and journaled, and the cycle ends; a restart resumes from the journal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot import messages
from bot.domain import (
    MAX_ID_LENGTH,
    OrderReport,
    OrderRequest,
    OrderStatus,
    PlannedOrder,
    client_order_id,
)
from bot.errors import (
    BotError,
    BrokerError,
    DuplicateOrderError,
    TransientBrokerError,
    UnknownOrderStateError,
)
from bot.journal import EventKind
from bot.ports import Broker, Clock, Journal
from bot.stopping import StopRequested, StopToken

Recorder = Callable[..., None]
STOP_CANCEL_WAIT = timedelta(seconds=20)  # for all cancels together, once a stop was requested
MAX_ATTEMPTS = 9999  # attempt suffixes "-a2" … as long as the id stays within 48 characters


@dataclass(frozen=True, slots=True)
class ExecutionPolicy:
    """How long to wait for fills (bounded polls, a deadline of close − margin to cancel at) and
    how often to resend an order that a transient fault kept from reaching the broker."""

    deadline: datetime
    poll_interval: timedelta = timedelta(seconds=1)
    max_polls: int = 120
    submit_attempts: int = 4
    retry_backoff: timedelta = timedelta(seconds=2)  # doubled after each failed attempt


@dataclass(frozen=True, slots=True)
class Refusal:
    """An order the broker refused, or that could not be sent, and why."""

    order: PlannedOrder
    client_order_id: str
    reason: str
    ended: str = "ended rejected"  # or "was not sent" (transient faults through every retry)

    def describe(self) -> str:
        """``order ID (leg QTY SYMBOL) ended rejected: reason`` — the wording of every report."""
        order = self.order
        return messages.order_ended(
            self.client_order_id,
            order.leg.value,
            order.qty,
            order.symbol,
            ended=self.ended,
            reason=self.reason,
        )


@dataclass(frozen=True, slots=True)
class PhaseOutcome:
    """What one phase's orders came to: refusals (the cycle may re-size) and failures (orders
    that transient faults kept from the broker through every retry)."""

    refused: tuple[Refusal, ...] = ()
    failed: tuple[Refusal, ...] = ()


class _RefusedError(BrokerError):
    """Internal: the broker refused this order at submit (journaled)."""

    def __init__(self, client_order_id: str, reason: str) -> None:
        super().__init__(reason)
        self.client_order_id = client_order_id
        self.reason = reason


class _NotSentError(BrokerError):
    """Internal: transient faults kept this order from the broker through every retry."""

    def __init__(self, client_order_id: str, reason: str) -> None:
        super().__init__(reason)
        self.client_order_id = client_order_id
        self.reason = reason


class Execution:
    """Sends one rebalance's orders for one strategy, confirms them, and records every step."""

    def __init__(
        self,
        broker: Broker,
        tracker: Journal,
        record: Recorder,
        key: str,
        reports: list[OrderReport],
        *,
        clock: Clock,
        policy: ExecutionPolicy,
        stop: StopToken | None = None,
        run_id: str = "",
        read_mark: Callable[[], int] = lambda: 0,
    ) -> None:
        self._broker = broker
        self._tracker = tracker
        self._record = record
        self._key = key
        self.reports = reports  # every order sent or adopted, appended as it is confirmed
        self._clock = clock
        self._policy = policy
        self._stop = stop or StopToken()
        self._run_id = run_id  # this cycle's run: its own journal entries are never another's
        self._read_mark = read_mark  # the journal's last event id when the plan's account was read
        self._strategy = ""
        self._stop_give_up: datetime | None = None

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

    def send(self, orders: Iterable[PlannedOrder], strategy: str) -> PhaseOutcome:
        """Send one phase's orders, then confirm each.

        A refusal or an order that could not be sent does not stop the others (they are
        independent intents); the outcome lists them for the cycle to decide. A partial fill
        cancelled at the deadline is kept (the next phase is sized from what the account
        actually holds).
        """
        self._strategy = strategy
        sent: list[tuple[PlannedOrder, OrderReport]] = []
        refused: list[Refusal] = []
        failed: list[Refusal] = []
        try:
            self._send_all(orders, strategy, sent, refused, failed)
            self._confirm_all(sent, refused, failed)
        except StopRequested:
            self._cancel_quietly([r for _, r in sent], why=f"stop requested ({self._stop.reason})")
            raise
        return PhaseOutcome(tuple(refused), tuple(failed))

    def _send_all(
        self,
        orders: Iterable[PlannedOrder],
        strategy: str,
        sent: list[tuple[PlannedOrder, OrderReport]],
        refused: list[Refusal],
        failed: list[Refusal],
    ) -> None:
        """Send each order (journaled first); refusals and unsent orders are listed."""
        prefix = f"{strategy}-{self._key}-"
        journal = self._tracker.journaled_order_ids(strategy, prefix)
        refused_ids = self._tracker.refused_order_ids(strategy, prefix)
        for order in orders:
            self._check_stop()
            cid = client_order_id(strategy, self._key, order)
            if self._clock.now() >= self._policy.deadline:
                failed.append(Refusal(order, cid, "too close to the close", "was not sent"))
                continue
            try:
                sent.append((order, self._send_one(order, cid, journal, refused_ids)))
            except _RefusedError as exc:
                refused.append(Refusal(order, exc.client_order_id, exc.reason))
            except _NotSentError as exc:
                failed.append(Refusal(order, exc.client_order_id, exc.reason, "was not sent"))
            except StopRequested:
                raise
            except BotError:
                # An order whose state is unknown stops the phase: the ones already sent must
                # not keep working unwatched until the next run finds them.
                why = "a sibling order's state is unknown"
                self._cancel_quietly([r for _, r in sent], why=why)
                raise

    def _confirm_all(
        self,
        sent: list[tuple[PlannedOrder, OrderReport]],
        refused: list[Refusal],
        failed: list[Refusal],
    ) -> None:
        """Wait for each sent order to end; one that ends unfilled is listed."""
        for index, (order, report) in enumerate(sent):
            try:
                final = self._confirm(report)
            except StopRequested:
                raise
            except BotError:
                self._cancel_quietly([r for _, r in sent[index + 1 :]])
                raise
            sent[index] = (order, final)
            self.reports.append(final)
            if final.filled_qty == 0 and final.status is not OrderStatus.FILLED:
                why = final.reason or "no reason given"
                if final.status is OrderStatus.REJECTED:
                    refused.append(Refusal(order, final.client_order_id, why))
                else:  # cancelled or expired unfilled: re-sizing would not help
                    failed.append(
                        Refusal(order, final.client_order_id, why, f"ended {final.status.value}")
                    )

    def _check_stop(self) -> None:
        if self._stop.requested:
            msg = f"stopped ({self._stop.reason}): unfilled orders cancelled; a restart resumes"
            raise StopRequested(msg)

    def _cancel_quietly(
        self, reports: list[OrderReport], why: str = "a sibling order could not be confirmed"
    ) -> None:
        """After a failure or a stop: do not leave the other sent orders working."""
        for report in reports:
            if report.status.is_final:
                continue
            try:
                self._cancel(report, why=why)
            except BotError as exc:
                self._record(
                    EventKind.ERROR, error=type(exc).__name__, message=f"cancel failed: {exc}"
                )

    def _confirm(self, report: OrderReport) -> OrderReport:
        polls = 0
        while not report.status.is_final:
            self._check_stop()
            if polls >= self._policy.max_polls or self._clock.now() >= self._policy.deadline:
                return self._cancel(report, why="not filled by the deadline")
            self._clock.sleep_until(self._clock.now() + self._policy.poll_interval)
            self._check_stop()
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
        # Stopping: the process has a grace period (60 s) for every order together, so the
        # cancels share one time budget from the first of them.
        give_up = None
        if self._stop.requested:
            self._stop_give_up = self._stop_give_up or self._clock.now() + STOP_CANCEL_WAIT
            give_up = self._stop_give_up
        for _ in range(self._policy.max_polls):
            found = self._broker.get_order(cid)
            if found is not None and found.status.is_final:
                self._record(EventKind.ORDER_CANCELED, **_payload(found), why=why)
                return found
            if give_up is not None and self._clock.now() >= give_up:
                break
            self._clock.sleep_until(self._clock.now() + self._policy.poll_interval)
        msg = f"cancel of {cid} was not confirmed; the order may still be working"
        raise BrokerError(msg)

    def _send_one(
        self, order: PlannedOrder, base_id: str, journal: set[str], refused: set[str]
    ) -> OrderReport:
        cid = base_id
        for attempt in range(2, MAX_ATTEMPTS + 2):
            if cid in refused:
                cid = messages.attempt_id(base_id, attempt)  # refused at submit: never again
                if len(cid) > MAX_ID_LENGTH:
                    break
                continue
            if cid not in journal:
                return self._submit(order, cid, journal, refused)
            found = self._broker.get_order(cid)
            if found is None:
                # Journaled but never seen by the broker (a crash between journal and send).
                return self._submit(order, cid, journal, refused, journaled=True)
            self._record(EventKind.ORDER_FOUND, **_payload(found))
            if not found.status.is_final:
                return found  # still working at the broker: adopt it, never send a second
            if found.filled_qty > 0:
                self._refuse_if_filled_after_the_read(cid)
            cid = messages.attempt_id(base_id, attempt)
            if len(cid) > MAX_ID_LENGTH:
                break
        msg = f"{base_id} was attempted {attempt - 1} times; not retrying again"
        raise BrokerError(msg)

    def _refuse_if_filled_after_the_read(self, cid: str) -> None:
        """A final, filled attempt counts as already in the positions the plan was computed
        from — unless another run journaled it after this plan's account was read (two
        processes on one state directory): then the plan is stale and sending the next attempt
        would trade the same need twice."""
        entry = self._tracker.journal_entry(self._strategy, cid)
        if entry is None:
            return
        event_id, run_id = entry
        if event_id > self._read_mark() and run_id != self._run_id:
            msg = (
                f"{cid} was sent and filled by another run ({run_id}) after this plan's account "
                "read; the plan is stale and nothing more is sent"
            )
            raise UnknownOrderStateError(msg)

    def _submit(
        self,
        order: PlannedOrder,
        cid: str,
        journal: set[str],
        refused: set[str],
        *,
        journaled: bool = False,
    ) -> OrderReport:
        notional = order.send_notional if order.by_notional else None
        request = OrderRequest(cid, order.symbol, order.side, order.qty, order.leg, notional)
        # Journaled in this run too when an earlier run journaled it and never sent it: whoever
        # settles this run's orders (a portfolio's next wake) finds it among them.
        self._record(
            EventKind.ORDER_SUBMITTING,
            client_order_id=cid,
            symbol=order.symbol,
            side=order.side.value,
            leg=order.leg.value,
            qty=order.qty,
            price=order.price,
            notional=notional,
            **({"resent": True} if journaled else {}),
        )
        journal.add(cid)
        backoff = self._policy.retry_backoff
        for attempt in range(1, self._policy.submit_attempts + 1):
            try:
                report = self._broker.submit(request)
            except BrokerError as exc:
                found = self._look_up_after(cid, exc)
                if found is not None:
                    self._record(EventKind.ORDER_FOUND, **_payload(found), after=str(exc))
                    return found
                if isinstance(exc, DuplicateOrderError):
                    # "client_order_id must be unique" proves the order exists, yet the lookup
                    # cannot find it: its state is unknown, so nothing else may be sent.
                    msg = f"{cid}: {exc}, but the lookup does not find it; nothing else is sent"
                    raise UnknownOrderStateError(msg) from exc
                if not isinstance(exc, TransientBrokerError):
                    self._record_refusal(order, cid, exc)
                    refused.add(cid)
                    raise _RefusedError(cid, _reason(exc)) from exc
                retry_at = self._clock.now() + backoff
                last = attempt == self._policy.submit_attempts
                if last or retry_at >= self._policy.deadline or self._stop.requested:
                    raise _NotSentError(cid, f"{attempt} attempts failed, the last: {exc}") from exc
                self._record(
                    EventKind.ORDER_RETRY, client_order_id=cid, attempt=attempt, after=str(exc)
                )
                self._clock.sleep_until(retry_at)
                if self._stop.requested:  # woken by the stop: never POST after a SIGTERM
                    raise _NotSentError(cid, f"stopped ({self._stop.reason})") from exc
                backoff *= 2
                continue
            self._record(EventKind.ORDER_SUBMITTED, **_payload(report))
            return report
        raise _NotSentError(cid, "no submit attempts configured")  # pragma: no cover - attempts ≥ 1

    def _look_up_after(self, cid: str, failure: BrokerError) -> OrderReport | None:
        """The broker is the truth after a failed submit; if it cannot be asked, stop."""
        try:
            return self._broker.get_order(cid)
        except BrokerError as exc:
            msg = (
                f"{cid}: the submit failed ({failure}) and the order could not be looked up "
                f"({exc}); nothing else is sent until it is known"
            )
            raise UnknownOrderStateError(msg) from exc

    def _record_refusal(self, order: PlannedOrder, cid: str, exc: BrokerError) -> None:
        self._record(
            EventKind.ORDER_REJECTED,
            client_order_id=cid,
            symbol=order.symbol,
            side=order.side.value,
            qty=order.qty,
            status=OrderStatus.REJECTED.value,
            filled_qty=0,
            reason=_reason(exc),
            refused_at_submit=True,
        )


def _reason(exc: BrokerError) -> str:
    """The broker's words without our 'submit <id>:' prefix."""
    text = str(exc)
    return text.split(": ", 1)[1] if text.startswith("submit ") and ": " in text else text


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
