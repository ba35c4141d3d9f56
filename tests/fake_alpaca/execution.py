"""Order lifecycle: creation, the fill policy, fills, expiry and cancellation.

Time-driven steps happen on submission, on ``set_clock`` and on ``fill_open_orders``; poll-driven
steps happen when a test's client GETs an order (by id, by client order id, or in a list).

- Outside regular hours a ``day`` order waits as ``accepted``; when the clock enters a session it
  becomes ``new``.
- ``immediate``: fills as soon as the market is open (the rest of a partial fill on the next poll).
  If the clock jumped past the order's session close it fills at the current price instead of
  expiring (it would have filled at that session's open).
- ``on_poll``: fills on the ``fill_after_polls``-th in-hours poll; ``never``: only
  ``fill_open_orders`` fills it. Under both, a ``day`` order still open at its close expires.
- Partial fills (``partial_fill`` symbols): the first fill is half the quantity (whole shares when
  the quantity is whole), the remainder fills on the next poll.
- A short sell waiting as ``accepted`` whose asset is no longer shortable and easy to borrow when
  the session opens is canceled before it can fill (ALPACA.md §7, "Easy-to-borrow only").
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING

from .hours import is_open, next_close
from .model import FakeFill, FakeOrder, floor_qty, new_id
from .tickets import Ticket
from .wire import failure, not_found

if TYPE_CHECKING:
    from .broker import FakeBroker


def create_order(broker: FakeBroker, ticket: Ticket, intent: str) -> FakeOrder:
    """A new order record for an accepted ticket; not yet stored or filled."""
    now = broker.now
    return FakeOrder(
        id=new_id(),
        client_order_id=ticket.client_order_id or new_id(),
        symbol=ticket.symbol,
        asset_id=broker.require_asset(ticket.symbol).id,
        side=ticket.side,
        type=ticket.type,
        time_in_force=ticket.time_in_force,
        position_intent=intent,
        qty=ticket.qty,
        notional=ticket.notional,
        limit_price=ticket.limit_price,
        extended_hours=ticket.extended_hours,
        created_at=now,
        expires_at=next_close(now) if ticket.time_in_force == "day" else None,
        status="new" if is_open(now) else "accepted",
        updated_at=now,
    )


def advance(broker: FakeBroker, order: FakeOrder, *, poll: bool) -> None:
    """Move ``order`` along according to the clock and the fill policy (see module docstring)."""
    if not order.is_open:
        return
    past_close = order.expires_at is not None and broker.now >= order.expires_at
    if past_close and broker.fill_policy != "immediate":
        _expire(broker, order)
        return
    if not (is_open(broker.now) or past_close):
        return
    if order.status == "accepted" and _borrow_lost(broker, order):
        _cancel(broker, order)
        return
    _activate(broker, order)
    _apply_policy(broker, order, poll=poll, past_close=past_close)
    if past_close and order.is_open:
        _expire(broker, order)


def fill_now(broker: FakeBroker, order: FakeOrder) -> None:
    """Fill the whole remainder of an open order at the current price, hours and policy aside."""
    if order.is_open:
        _activate(broker, order)
        execute(broker, order, complete=True)


def _apply_policy(broker: FakeBroker, order: FakeOrder, *, poll: bool, past_close: bool) -> None:
    if broker.fill_policy == "immediate":
        if order.filled_qty == 0 or poll or past_close:
            execute(broker, order, complete=past_close)
    elif broker.fill_policy == "on_poll" and poll:
        order.polls += 1
        if order.polls >= broker.fill_after_polls:
            execute(broker, order, complete=False)


def _borrow_lost(broker: FakeBroker, order: FakeOrder) -> bool:
    """A queued short whose asset can no longer be borrowed."""
    if order.position_intent != "sell_to_open":
        return False
    asset = broker.require_asset(order.symbol)
    return not (asset.shortable and asset.easy_to_borrow)


def _activate(broker: FakeBroker, order: FakeOrder) -> None:
    if order.status == "accepted":
        order.status = "new"
        order.updated_at = broker.now


def _expire(broker: FakeBroker, order: FakeOrder) -> None:
    order.status = "expired"
    order.expired_at = order.updated_at = broker.now


def execute(broker: FakeBroker, order: FakeOrder, *, complete: bool) -> None:
    """Fill the next chunk of ``order`` at the current price, if a limit allows it."""
    price = broker.price_of(order.symbol)
    if not _marketable(order, price):
        return
    remaining = order.remaining_qty(price)
    chunk = remaining
    if not complete and order.filled_qty == 0 and broker.wants_partial(order.symbol):
        chunk = _half(remaining)
    if chunk > 0:
        _record_fill(broker, order, chunk, price, final=chunk == remaining)
    else:
        _finish(broker, order)


def _marketable(order: FakeOrder, price: Decimal) -> bool:
    if order.limit_price is None:
        return True
    return price <= order.limit_price if order.is_buy else price >= order.limit_price


def _half(remaining: Decimal) -> Decimal:
    if remaining % 1 == 0:
        half = (remaining / 2).to_integral_value(rounding=ROUND_DOWN)
    else:
        half = floor_qty(remaining / 2)
    return half if half > 0 else remaining


def _record_fill(
    broker: FakeBroker, order: FakeOrder, qty: Decimal, price: Decimal, *, final: bool
) -> None:
    now = broker.now
    broker.apply_trade(order.symbol, qty if order.is_buy else -qty, price)
    order.filled_qty += qty
    order.filled_value += qty * price
    order.status = "filled" if final else "partially_filled"
    order.updated_at = now
    if final:
        order.filled_at = now
    broker.record_fill(_fill_record(order, qty, price, now))


def _fill_record(order: FakeOrder, qty: Decimal, price: Decimal, now: datetime) -> FakeFill:
    leaves = Decimal(0) if order.status == "filled" else order.remaining_qty(price)
    return FakeFill(
        id=f"{now:%Y%m%d%H%M%S%f}::{new_id()}",
        order_id=order.id,
        symbol=order.symbol,
        side=order.side,
        qty=qty,
        price=price,
        time=now,
        cum_qty=order.filled_qty,
        leaves_qty=leaves,
        order_status=order.status,
    )


def _finish(broker: FakeBroker, order: FakeOrder) -> None:
    """A notional order whose remainder rounds to zero shares is done."""
    order.status = "filled" if order.filled_qty > 0 else "canceled"
    order.updated_at = broker.now
    if order.filled_qty > 0:
        order.filled_at = broker.now
    else:
        order.canceled_at = broker.now


def cancel(broker: FakeBroker, order_id: str) -> None:
    """``DELETE /v2/orders/{id}``: 404 if unknown, 422 if no longer open, else canceled now."""
    order = broker.find_order(order_id)
    if order is None:
        raise not_found("order not found")
    if not order.is_open:
        raise failure(422, 42210000, "order is not cancelable")
    _cancel(broker, order)


def _cancel(broker: FakeBroker, order: FakeOrder) -> None:
    order.status = "canceled"
    order.canceled_at = order.updated_at = broker.now
