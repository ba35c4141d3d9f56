"""JSON bodies in the exact shapes of ALPACA.md §5 (decimals as strings, UUID ids, ``""`` class)."""

from __future__ import annotations

from decimal import Decimal

from .broker import FakeBroker
from .model import FakeAsset, FakeFill, FakeOrder, FakePosition
from .wire import NEW_YORK, JsonObject, dec, dec_or_none, stamp, stamp_or_none

ACCOUNT_ID = "e6fe16f3-64a4-4921-8928-cadf02f92f98"
ACCOUNT_NUMBER = "PA3FAKE00001"
ACCOUNT_CREATED = "2024-01-02T15:04:05.123456Z"


def account_json(broker: FakeBroker) -> JsonObject:
    """``GET /v2/account`` (TradeAccount).

    ``multiplier`` and ``shorting_enabled`` are the effective ones: "1" and false on a cash or
    IRA account, and on a margin account under $2,000 of equity. alpaca-py's ``TradeAccount`` has
    no account-type field, so the kind shows only through these (and the configurations).
    """
    equity = broker.equity()
    buying_power = broker.buying_power()
    values = [broker.market_value(p) for p in broker.position_list()]
    gross = broker.gross_exposure()
    cash_power = max(Decimal(0), min(broker.cash, buying_power))
    return {
        "id": ACCOUNT_ID,
        "account_number": ACCOUNT_NUMBER,
        "status": broker.account_status,
        "crypto_status": "ACTIVE",
        "currency": "USD",
        "cash": dec(broker.cash),
        "portfolio_value": dec(equity),
        "equity": dec(equity),
        "last_equity": dec(equity),
        "long_market_value": dec(sum((v for v in values if v > 0), Decimal(0))),
        "short_market_value": dec(sum((v for v in values if v < 0), Decimal(0))),
        "buying_power": dec(buying_power),
        "regt_buying_power": dec(buying_power),
        "non_marginable_buying_power": dec(cash_power),
        "options_buying_power": dec(cash_power),
        "initial_margin": dec(gross / 2),
        "maintenance_margin": dec(gross * Decimal("0.3")),
        "last_maintenance_margin": dec(gross * Decimal("0.3")),
        "sma": "0",
        "multiplier": dec(broker.effective_multiplier()),
        "shorting_enabled": broker.shorting_allowed(),
        "trading_blocked": broker.trading_blocked,
        "transfers_blocked": False,
        "account_blocked": broker.account_blocked,
        "trade_suspended_by_user": broker.trade_suspended_by_user,
        "accrued_fees": "0",
        "pending_transfer_in": "0",
        "pending_transfer_out": "0",
        "created_at": ACCOUNT_CREATED,
        "balance_asof": broker.now.astimezone(NEW_YORK).date().isoformat(),
        "intraday_adjustments": "0",
        "options_approved_level": 0,
        "options_trading_level": 0,
    }


def configurations_json(broker: FakeBroker) -> JsonObject:
    """``GET /v2/account/configurations``: a cash or IRA account is long-only at 1×."""
    return {
        "no_shorting": broker.no_shorting or not broker.is_margin,
        "suspend_trade": broker.trade_suspended_by_user,
        "fractional_trading": True,
        "max_margin_multiplier": dec(broker.multiplier) if broker.is_margin else "1",
        "trade_confirm_email": "all",
        "ptp_no_exception_entry": False,
        "max_options_trading_level": 0,
    }


def asset_json(asset: FakeAsset) -> JsonObject:
    """``GET /v2/assets/{symbol}`` (Asset)."""
    return {
        "id": asset.id,
        "class": "us_equity",
        "exchange": asset.exchange,
        "symbol": asset.symbol,
        "name": f"{asset.symbol} (fake)",
        "status": asset.status,
        "tradable": asset.tradable,
        "marginable": asset.marginable,
        "shortable": asset.shortable,
        "easy_to_borrow": asset.easy_to_borrow,
        "fractionable": asset.fractionable,
        "maintenance_margin_requirement": 30,
        "margin_requirement_long": "30",
        "margin_requirement_short": "100",
        "attributes": ["fractional_eh_enabled"] if asset.fractionable else [],
    }


def position_json(broker: FakeBroker, position: FakePosition) -> JsonObject:
    """``GET /v2/positions[/{symbol}]`` (Position); P&L is against the average entry price."""
    asset = broker.require_asset(position.symbol)
    price = broker.mark(position)
    value = position.qty * price
    cost = position.qty * position.avg_entry_price
    pnl = value - cost
    return {
        "asset_id": asset.id,
        "symbol": position.symbol,
        "exchange": asset.exchange,
        "asset_class": "us_equity",
        "asset_marginable": asset.marginable,
        "qty": dec(position.qty),
        "qty_available": dec(broker.qty_available(position.symbol)),
        "avg_entry_price": dec(position.avg_entry_price),
        "side": position.side,
        "market_value": dec(value),
        "cost_basis": dec(cost),
        "unrealized_pl": dec(pnl),
        "unrealized_plpc": dec(pnl / abs(cost)) if cost else "0",
        "unrealized_intraday_pl": dec(pnl),
        "unrealized_intraday_plpc": dec(pnl / abs(cost)) if cost else "0",
        "current_price": dec(price),
        "lastday_price": dec(price),
        "change_today": "0",
    }


def order_json(order: FakeOrder) -> JsonObject:
    """An Order (§5.3): ``order_class`` is ``""``, never ``null``."""
    return {
        "id": order.id,
        "client_order_id": order.client_order_id,
        "created_at": stamp(order.created_at),
        "updated_at": stamp(order.updated_at),
        "submitted_at": stamp(order.created_at),
        "filled_at": stamp_or_none(order.filled_at),
        "expired_at": stamp_or_none(order.expired_at),
        "canceled_at": stamp_or_none(order.canceled_at),
        "failed_at": None,
        "replaced_at": None,
        "replaced_by": None,
        "replaces": None,
        "asset_id": order.asset_id,
        "symbol": order.symbol,
        "asset_class": "us_equity",
        "notional": dec_or_none(order.notional),
        "qty": dec_or_none(order.qty),
        "filled_qty": dec(order.filled_qty),
        "filled_avg_price": dec_or_none(order.filled_avg_price),
        "order_class": "",
        "order_type": order.type,
        "type": order.type,
        "side": order.side,
        "position_intent": order.position_intent,
        "time_in_force": order.time_in_force,
        "limit_price": dec_or_none(order.limit_price),
        "stop_price": None,
        "status": order.status,
        "extended_hours": order.extended_hours,
        "legs": None,
        "trail_percent": None,
        "trail_price": None,
        "hwm": None,
        "expires_at": stamp_or_none(order.expires_at),
        "subtag": None,
        "source": None,
    }


def fill_json(fill: FakeFill) -> JsonObject:
    """A FILL activity (§5.6)."""
    return {
        "id": fill.id,
        "activity_type": "FILL",
        "transaction_time": stamp(fill.time),
        "type": "fill" if fill.order_status == "filled" else "partial_fill",
        "price": dec(fill.price),
        "qty": dec(fill.qty),
        "side": fill.side,
        "symbol": fill.symbol,
        "leaves_qty": dec(fill.leaves_qty),
        "order_id": fill.order_id,
        "cum_qty": dec(fill.cum_qty),
        "order_status": fill.order_status,
    }
