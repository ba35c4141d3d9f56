"""Alpaca's pre-trade checks against account state (ALPACA.md §6, §7).

Run in this order, the first failure wins; every check answers with the status, code and message
Alpaca documents:

==========================  =====================================================================
account flags               403 40310000 (status not ACTIVE, blocked, suspended)
asset                       422 42210000 unknown, inactive or not tradable
fractionability             422 42210000 ``requested asset is not fractionable``
opposite open order         403 40310000 ``cannot open a long buy while a short sell order is
                            open`` for a buy that would open long against an open short sell
                            (Alpaca-API#82), else ``potential wash trade detected. use complex
                            orders`` for any order opposite an open order in the symbol
notional while closing      403 40310000 ``unable to open new notional orders while having open
                            closing position orders`` (ALPACA.md §7; the status is assumed, and
                            the fake applies it at all hours, not only outside them)
short eligibility           ``sell_to_open`` only: 422 for a fractional or notional short; 403 if
                            the account may not short (cash, IRA, ``shorting_enabled`` false,
                            ``no_shorting``, equity under $2,000) or the asset is not shortable
                            or not easy to borrow
held quantity               ``*_to_close`` only: 403 ``insufficient qty available for order``
                            with ``symbol``, ``existing_qty``, ``held_for_orders``,
                            ``available``, ``related_orders``; also refuses crossing zero
buying power                buys (covers included) and short sells: 403 ``insufficient buying
                            power`` with ``buying_power`` and ``cost_basis``, the cost valued
                            with the collar (:mod:`.broker`) against what open orders left
==========================  =====================================================================

``client_order_id`` uniqueness is checked before these (:meth:`FakeBroker.submit`): an id is
taken forever once sent, whether it created an order or was refused here — ALPACA.md §7: "any
reuse, even of a canceled or rejected order's id, gives 422 40010001".
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from .model import FakeAsset, floor_qty
from .tickets import Ticket
from .wire import dec, failure

if TYPE_CHECKING:
    from .broker import FakeBroker

SHORT_MIN_EQUITY = Decimal(2000)


def vet(broker: FakeBroker, ticket: Ticket) -> str:
    """Check ``ticket`` against the account; return its ``position_intent`` or raise."""
    _check_account(broker)
    asset = _check_asset(broker, ticket.symbol)
    if ticket.fractional and not asset.fractionable:
        raise failure(422, 42210000, "requested asset is not fractionable")
    _check_opposite_orders(broker, ticket)
    _check_notional_while_closing(broker, ticket)
    intent = position_intent(broker, ticket)
    if intent == "sell_to_open":
        _check_short(broker, asset, ticket)
    elif intent.endswith("_to_close"):
        _check_available(broker, ticket)
    if ticket.is_buy or intent == "sell_to_open":
        _check_buying_power(broker, ticket, intent)
    return intent


def position_intent(broker: FakeBroker, ticket: Ticket) -> str:
    """Buys against a short close it; sells against a long close it; anything else opens."""
    held = broker.position_qty(ticket.symbol)
    if ticket.is_buy:
        return "buy_to_close" if held < 0 else "buy_to_open"
    return "sell_to_close" if held > 0 else "sell_to_open"


def _check_account(broker: FakeBroker) -> None:
    if broker.account_status != "ACTIVE":
        raise failure(403, 40310000, f"account is not active (status {broker.account_status})")
    if broker.account_blocked:
        raise failure(403, 40310000, "account is blocked")
    if broker.trading_blocked:
        raise failure(403, 40310000, "trading is blocked for this account")
    if broker.trade_suspended_by_user:
        raise failure(403, 40310000, "trading is suspended by the account owner")


def _check_asset(broker: FakeBroker, symbol: str) -> FakeAsset:
    asset = broker.asset(symbol)
    if asset is None:
        raise failure(422, 42210000, f'asset "{symbol}" not found')
    if asset.status != "active":
        raise failure(422, 42210000, f'asset "{symbol}" is not active')
    if not asset.tradable:
        raise failure(422, 42210000, f'asset "{symbol}" is not tradable')
    return asset


def _check_opposite_orders(broker: FakeBroker, ticket: Ticket) -> None:
    """No order may face an open order of the other side in the same symbol."""
    opposite = [o for o in broker.open_orders(ticket.symbol) if o.side != ticket.side]
    if not opposite:
        return
    opens_long = ticket.is_buy and broker.position_qty(ticket.symbol) >= 0
    if opens_long and any(o.position_intent == "sell_to_open" for o in opposite):
        raise failure(403, 40310000, "cannot open a long buy while a short sell order is open")
    raise failure(403, 40310000, "potential wash trade detected. use complex orders")


def _check_notional_while_closing(broker: FakeBroker, ticket: Ticket) -> None:
    if ticket.notional is not None and any(o.closes for o in broker.open_orders(ticket.symbol)):
        raise failure(
            403,
            40310000,
            "unable to open new notional orders while having open closing position orders",
        )


def _check_short(broker: FakeBroker, asset: FakeAsset, ticket: Ticket) -> None:
    if ticket.fractional:
        raise failure(422, 42210000, "fractional orders are not allowed to short")
    if not broker.is_margin or not broker.shorting_enabled or broker.no_shorting:
        raise failure(403, 40310000, "account is not allowed to short")
    if broker.equity() < SHORT_MIN_EQUITY:
        raise failure(403, 40310000, "account is not allowed to short: equity below $2,000")
    if not asset.shortable:
        raise failure(403, 40310000, f'asset "{asset.symbol}" is not shortable')
    if not asset.easy_to_borrow:
        raise failure(403, 40310000, f'asset "{asset.symbol}" is not easy to borrow')


def _check_available(broker: FakeBroker, ticket: Ticket) -> None:
    """Closing orders may not exceed ``qty_available``; this also refuses crossing zero."""
    requested = _requested_qty(broker, ticket)
    available = abs(broker.qty_available(ticket.symbol))
    if requested <= available:
        return
    raise failure(
        403,
        40310000,
        f"insufficient qty available for order (requested: {dec(requested)}, "
        f"available: {dec(available)})",
        symbol=ticket.symbol,
        existing_qty=dec(broker.position_qty(ticket.symbol)),
        held_for_orders=dec(broker.held_for_orders(ticket.symbol)),
        available=dec(available),
        related_orders=[o.id for o in broker.open_orders(ticket.symbol) if o.closes],
    )


def _requested_qty(broker: FakeBroker, ticket: Ticket) -> Decimal:
    if ticket.qty is not None:
        return ticket.qty
    assert ticket.notional is not None
    return floor_qty(ticket.notional / broker.price_of(ticket.symbol))


def _check_buying_power(broker: FakeBroker, ticket: Ticket, intent: str) -> None:
    """The order's cost, collar included, against buying power left by open orders."""
    cost = broker.order_cost(
        intent=intent,
        order_type=ticket.type,
        qty=ticket.qty,
        notional=ticket.notional,
        limit_price=ticket.limit_price,
        price=broker.price_of(ticket.symbol),
    )
    buying_power = broker.buying_power()
    if cost > buying_power:
        raise failure(
            403,
            40310000,
            "insufficient buying power",
            buying_power=dec(buying_power),
            cost_basis=dec(cost),
        )
