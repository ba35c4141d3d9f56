"""Alpaca's pre-trade checks against account state (ALPACA.md §6, §7).

Run in this order, the first failure wins: account flags, asset, fractionability, wash trade,
quantity (closing orders) or short eligibility (opening sells), buying power (buys and short
sells).
Every check answers with the status, code and message Alpaca documents.
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
    _check_wash_trade(broker, ticket)
    intent = position_intent(broker, ticket)
    if intent == "sell_to_open":
        _check_short(broker, asset, ticket)
    elif intent.endswith("_to_close"):
        _check_available(broker, ticket)
    if ticket.is_buy or intent == "sell_to_open":
        _check_buying_power(broker, ticket)
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


def _check_wash_trade(broker: FakeBroker, ticket: Ticket) -> None:
    if any(order.side != ticket.side for order in broker.open_orders(ticket.symbol)):
        raise failure(403, 40310000, "potential wash trade detected. use complex orders")


def _check_short(broker: FakeBroker, asset: FakeAsset, ticket: Ticket) -> None:
    if ticket.fractional:
        raise failure(422, 42210000, "fractional orders are not allowed to short")
    if not broker.shorting_enabled or broker.no_shorting:
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


def _check_buying_power(broker: FakeBroker, ticket: Ticket) -> None:
    price = broker.price_of(ticket.symbol)
    cost = broker.order_cost(ticket.type, ticket.qty, ticket.notional, ticket.limit_price, price)
    buying_power = broker.buying_power()
    if cost > buying_power:
        raise failure(
            403,
            40310000,
            "insufficient buying power",
            buying_power=dec(buying_power),
            cost_basis=dec(cost),
        )
