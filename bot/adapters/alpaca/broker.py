"""The Alpaca broker behind the Broker port: alpaca-py's TradingClient, hardened.

Money arrives from Alpaca as strings and becomes Decimal here; quantities leave as floats (what
alpaca-py sends) quantized to 9 decimals first, notionals rounded down to the cent. Reads are
retried; ``submit`` never is: any failure on submit is left to the caller, who looks the order up
by client_order_id. An answer that does not parse is one BrokerError naming the endpoint (see
:func:`bot.adapters.alpaca.transport.translated`); on submit it is a TransientBrokerError, since
the order may exist.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, QueryOrderStatus, TimeInForce
from alpaca.trading.models import Order, Position, TradeAccount
from alpaca.trading.requests import GetOrdersRequest, MarketOrderRequest
from pydantic import ValidationError

from bot.adapters.alpaca.transport import (
    BadFieldError,
    RetryPolicy,
    describe,
    translated,
    with_retries,
)
from bot.domain import (
    ALPACA_COSTS,
    CENT,
    QTY_STEP,
    Account,
    AccountState,
    AssetInfo,
    OrderCosts,
    OrderReport,
    OrderRequest,
    OrderStatus,
    Side,
)
from bot.errors import BrokerError, OrderRejectedError

ZERO = Decimal(0)
ACCOUNT_TTL = 2.0  # seconds
STATUS = {
    "filled": OrderStatus.FILLED,
    "partially_filled": OrderStatus.PARTIALLY_FILLED,
    "canceled": OrderStatus.CANCELED,
    "replaced": OrderStatus.CANCELED,
    "expired": OrderStatus.EXPIRED,
    "done_for_day": OrderStatus.EXPIRED,  # no more fills today: as good as expired for a cycle
    "rejected": OrderStatus.REJECTED,
    "suspended": OrderStatus.REJECTED,
    "new": OrderStatus.NEW,
}


ACCOUNT = "GET /v2/account"
POSITIONS = "GET /v2/positions"
ORDERS = "POST /v2/orders"
BY_CLIENT_ID = "GET /v2/orders:by_client_order_id"


def _decimal(value: Any, name: str, default: Decimal = ZERO) -> Decimal:
    """A finite Decimal from one of Alpaca's fields (a string or a number); ``default`` if it
    is null or empty. Anything else is a :class:`BadFieldError` naming the field."""
    if value is None or value == "":
        return default
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise BadFieldError(name, f"a {type(value).__name__}, not a number")
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise BadFieldError(name, "not a number") from None
    if not result.is_finite():
        raise BadFieldError(name, "not a finite number")
    return result


def _multiplier(value: Any) -> Decimal:
    """Alpaca's margin multiplier: "1" (cash, IRA, under $2,000), "2" (overnight margin) or "4".
    A missing or out-of-range value is refused, never defaulted: sizing on a wrong one would
    scale every target (to 0 for "0") or silently cap a margin account at 1×."""
    multiplier = _decimal(value, "multiplier", Decimal(-1))
    if not Decimal(1) <= multiplier <= Decimal(4):
        raise BadFieldError("multiplier", "missing or outside 1 to 4")
    return multiplier


def _enum_value(value: Any) -> str:
    return str(getattr(value, "value", value))


def order_report(order: object) -> OrderReport:
    """Our view of an alpaca-py Order.

    A notional order has no qty in Alpaca's answer: its qty is what filled so far (0 before).
    A missing symbol or side is refused (never guessed: a side defaulting to "sell" would be a
    wrong report of a real order).
    """
    if not isinstance(order, Order):
        raise BadFieldError("order", f"a {type(order).__name__}, not an order")
    raw_status = _enum_value(order.status)
    status = STATUS.get(raw_status, OrderStatus.ACCEPTED)
    raw_side = _enum_value(order.side)
    if raw_side not in ("buy", "sell"):
        raise BadFieldError("side", "missing or neither buy nor sell")
    if not order.symbol:
        raise BadFieldError("symbol", "missing")
    filled_qty = _decimal(order.filled_qty, "filled_qty")
    price = order.filled_avg_price
    return OrderReport(
        client_order_id=order.client_order_id,
        symbol=str(order.symbol),
        side=Side(raw_side),
        qty=_decimal(order.qty, "qty", filled_qty),
        status=status,
        filled_qty=filled_qty,
        filled_avg_price=None if price is None else _decimal(price, "filled_avg_price"),
        reason=raw_status,
    )


def market_order(order: OrderRequest) -> MarketOrderRequest:
    """The market day order alpaca-py sends: by notional (dollars rounded down to the cent) when
    the request carries one, else by quantity (9 decimals). Refused here if it cannot be sent."""
    side = OrderSide.BUY if order.side is Side.BUY else OrderSide.SELL
    try:
        if order.notional is not None:
            notional = order.notional.quantize(CENT, rounding=ROUND_DOWN)
            if notional <= 0:
                msg = f"submit {order.client_order_id}: notional ${notional} is not positive"
                raise OrderRejectedError(msg)
            return MarketOrderRequest(
                symbol=order.symbol,
                notional=float(notional),
                side=side,
                time_in_force=TimeInForce.DAY,
                client_order_id=order.client_order_id,
            )
        return MarketOrderRequest(
            symbol=order.symbol,
            qty=float(order.qty.quantize(QTY_STEP)),
            side=side,
            time_in_force=TimeInForce.DAY,
            client_order_id=order.client_order_id,
        )
    except (ValidationError, ArithmeticError, ValueError) as exc:
        msg = f"submit {order.client_order_id}: the order cannot be sent ({describe(exc)})"
        raise OrderRejectedError(msg) from exc


class AlpacaBroker:
    """Account, positions, assets and market orders on an Alpaca (paper or live) account."""

    def __init__(
        self,
        reads: TradingClient,
        orders: TradingClient,
        *,
        live: bool = False,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._reads = reads
        self._orders = orders  # a separate client: its only job is POST /v2/orders, never retried
        self._live = live
        self._retry = retry or RetryPolicy()
        # Reads reused within one cycle: the account for ACCOUNT_TTL seconds unless we acted
        # since, the configuration and asset flags for the day (they change overnight at most).
        self._account: tuple[float, TradeAccount] | None = None
        self._daily: dict[tuple[date, str], Any] = {}

    def _read(self, what: str, call: Any, endpoint: str | None = None) -> Any:
        return with_retries(what, call, self._retry, endpoint=endpoint)

    def _trade_account(self) -> TradeAccount:
        if self._account is not None and time.monotonic() - self._account[0] < ACCOUNT_TTL:
            return self._account[1]
        account: TradeAccount = self._read("read the account", self._reads.get_account, ACCOUNT)
        self._account = (time.monotonic(), account)
        return account

    def _for_today(self, key: str, load: Any) -> Any:
        cache_key = (datetime.now(UTC).date(), key)  # the adapter may read the clock
        if cache_key not in self._daily:
            self._daily = {k: v for k, v in self._daily.items() if k[0] == cache_key[0]}
            self._daily[cache_key] = load()
        return self._daily[cache_key]

    def account(self) -> Account:
        """Cash, equity, buying power, margin multiplier, gross exposure and positions."""
        self._account = None  # a fresh read: the account after whatever just happened
        account = self._trade_account()
        positions: list[Position] = self._read(
            "read positions", self._reads.get_all_positions, POSITIONS
        )
        with translated("read positions", endpoint=POSITIONS):
            held = {str(p.symbol): _decimal(p.qty, "qty") for p in positions}
        with translated("read the account", endpoint=ACCOUNT):
            short_value = abs(_decimal(account.short_market_value, "short_market_value"))
            return Account(
                cash=_decimal(account.cash, "cash"),
                equity=_decimal(account.equity, "equity"),
                buying_power=_decimal(account.buying_power, "buying_power"),
                positions=held,
                multiplier=_multiplier(account.multiplier),
                gross_exposure=_decimal(account.long_market_value, "long_market_value")
                + short_value,
            )

    def account_state(self) -> AccountState:
        """Status flags for the pre-trade checks (the configuration's no_shorting included)."""
        account = self._trade_account()
        config = self._for_today(
            "configuration",
            lambda: self._read(
                "read the account configuration",
                self._reads.get_account_configurations,
                "GET /v2/account/configurations",
            ),
        )
        with translated("read the account", endpoint=ACCOUNT):
            return AccountState(
                account_number=str(account.account_number),
                status=_enum_value(account.status),
                trading_blocked=bool(account.trading_blocked),
                account_blocked=bool(account.account_blocked),
                trade_suspended=bool(account.trade_suspended_by_user)
                or bool(getattr(config, "suspend_trade", False)),
                shorting_enabled=bool(account.shorting_enabled)
                and not bool(getattr(config, "no_shorting", False)),
                live=self._live,
            )

    def assets(self, symbols: Iterable[str]) -> dict[str, AssetInfo]:
        """Asset flags per symbol; unknown symbols (404) are left out."""
        found: dict[str, AssetInfo] = {}
        for symbol in symbols:
            asset = self._asset(symbol)
            if asset is not None:
                found[symbol] = asset
        return found

    def _asset(self, symbol: str) -> AssetInfo | None:
        return self._for_today(f"asset {symbol}", lambda: self._asset_uncached(symbol))  # type: ignore[no-any-return]

    def _asset_uncached(self, symbol: str) -> AssetInfo | None:
        what, endpoint = f"read asset {symbol}", f"GET /v2/assets/{symbol}"
        try:
            asset = self._read(what, lambda: self._reads.get_asset(symbol), endpoint)
        except BrokerError as exc:
            if isinstance(exc.__cause__, APIError) and exc.__cause__.status_code == 404:
                return None
            raise
        with translated(what, endpoint=endpoint):
            return AssetInfo(
                symbol=symbol,
                tradable=bool(asset.tradable),
                fractionable=bool(asset.fractionable),
                shortable=bool(asset.shortable),
                easy_to_borrow=bool(asset.easy_to_borrow),
                active=_enum_value(asset.status) == "active",
            )

    def submit(self, order: OrderRequest) -> OrderReport:
        """POST one market day order (by notional when the request has one); never retried
        here (see bot.execution).

        An answer that does not parse raises TransientBrokerError: the order may exist, and the
        caller looks it up by client_order_id before anything else.
        """
        request = market_order(order)
        self._account = None
        what = f"submit {order.client_order_id}"
        with translated(what, endpoint=ORDERS, outcome_unknown=True):
            return order_report(self._orders.submit_order(request))

    def get_order(self, client_order_id: str) -> OrderReport | None:
        """The order with this client_order_id, or None if Alpaca never received it (404)."""
        what = f"look up {client_order_id}"
        try:
            order = self._read(
                what, lambda: self._reads.get_order_by_client_id(client_order_id), BY_CLIENT_ID
            )
        except BrokerError as exc:
            if isinstance(exc.__cause__, APIError) and exc.__cause__.status_code == 404:
                return None
            raise
        with translated(what, endpoint=BY_CLIENT_ID):
            return order_report(order)

    @property
    def order_costs(self) -> OrderCosts:
        """Alpaca's valuation: market buys by quantity at +2.5% (+4% under $50), market short
        sales at +3%, notional buys at the notional (ALPACA.md §7)."""
        return ALPACA_COSTS

    def market_open(self) -> bool:
        """Alpaca's clock: is the market open right now?"""
        what, endpoint = "read the market clock", "GET /v2/clock"
        clock = self._read(what, self._reads.get_clock, endpoint)
        with translated(what, endpoint=endpoint):
            return bool(clock.is_open)

    def open_orders(self) -> list[OrderReport]:
        """Every open order on the account (up to 500; a rebalancer never has that many)."""
        request = GetOrdersRequest(status=QueryOrderStatus.OPEN, limit=500)
        what, endpoint = "list open orders", "GET /v2/orders"
        orders = self._read(what, lambda: self._reads.get_orders(request), endpoint)
        with translated(what, endpoint=endpoint):
            return [order_report(o) for o in orders]

    def cancel(self, client_order_id: str) -> None:
        """Request a cancel; confirmation comes from polling ``get_order``."""
        what = f"look up {client_order_id}"
        order = self._read(
            what, lambda: self._reads.get_order_by_client_id(client_order_id), BY_CLIENT_ID
        )
        with translated(what, endpoint=BY_CLIENT_ID):
            order_id = order.id
        self._account = None
        try:
            with translated(f"cancel {client_order_id}", endpoint="DELETE /v2/orders/{id}"):
                self._reads.cancel_order_by_id(order_id)
        except BrokerError as exc:
            # 422 "not cancelable": it already filled or ended; the caller re-reads it.
            if not (isinstance(exc.__cause__, APIError) and exc.__cause__.status_code == 422):
                raise
