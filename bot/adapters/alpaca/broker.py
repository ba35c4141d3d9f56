"""The Alpaca broker behind the Broker port: alpaca-py's TradingClient, hardened.

Money arrives from Alpaca as strings and becomes Decimal here; quantities leave as floats (what
alpaca-py sends) quantized to 9 decimals first. Reads are retried; ``submit`` never is: any
failure on submit is left to the caller, who looks the order up by client_order_id.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, QueryOrderStatus, TimeInForce
from alpaca.trading.models import Order, Position, TradeAccount
from alpaca.trading.requests import GetOrdersRequest, MarketOrderRequest

from bot.adapters.alpaca.transport import RetryPolicy, translated, with_retries
from bot.domain import (
    QTY_STEP,
    Account,
    AccountState,
    AssetInfo,
    OrderReport,
    OrderRequest,
    OrderStatus,
    Side,
)
from bot.errors import BrokerError

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


def _decimal(value: Any, default: Decimal = ZERO) -> Decimal:
    return default if value is None or value == "" else Decimal(str(value))


def order_report(order: Order) -> OrderReport:
    """Our view of an alpaca-py Order."""
    status = STATUS.get(str(getattr(order.status, "value", order.status)), OrderStatus.ACCEPTED)
    price = order.filled_avg_price
    side = Side.BUY if str(getattr(order.side, "value", order.side)) == "buy" else Side.SELL
    return OrderReport(
        client_order_id=order.client_order_id,
        symbol=str(order.symbol),
        side=side,
        qty=_decimal(order.qty),
        status=status,
        filled_qty=_decimal(order.filled_qty),
        filled_avg_price=None if price is None else _decimal(price),
        reason=str(getattr(order.status, "value", order.status)),
    )


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

    def _read(self, what: str, call: Any) -> Any:
        return with_retries(what, call, self._retry)

    def _trade_account(self) -> TradeAccount:
        if self._account is not None and time.monotonic() - self._account[0] < ACCOUNT_TTL:
            return self._account[1]
        account: TradeAccount = self._read("read the account", self._reads.get_account)
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
        positions: list[Position] = self._read("read positions", self._reads.get_all_positions)
        short_value = abs(_decimal(account.short_market_value))
        return Account(
            cash=_decimal(account.cash),
            equity=_decimal(account.equity),
            buying_power=_decimal(account.buying_power),
            positions={p.symbol: _decimal(p.qty) for p in positions},
            multiplier=_decimal(account.multiplier, Decimal(1)),
            gross_exposure=_decimal(account.long_market_value) + short_value,
        )

    def account_state(self) -> AccountState:
        """Status flags for the pre-trade checks (the configuration's no_shorting included)."""
        account = self._trade_account()
        config = self._for_today(
            "configuration",
            lambda: self._read(
                "read the account configuration", self._reads.get_account_configurations
            ),
        )
        return AccountState(
            account_number=str(account.account_number),
            status=str(getattr(account.status, "value", account.status)),
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
        try:
            asset = self._read(f"read asset {symbol}", lambda: self._reads.get_asset(symbol))
        except BrokerError as exc:
            if isinstance(exc.__cause__, APIError) and exc.__cause__.status_code == 404:
                return None
            raise
        return AssetInfo(
            symbol=symbol,
            tradable=bool(asset.tradable),
            fractionable=bool(asset.fractionable),
            shortable=bool(asset.shortable),
            easy_to_borrow=bool(asset.easy_to_borrow),
            active=str(getattr(asset.status, "value", asset.status)) == "active",
        )

    def submit(self, order: OrderRequest) -> OrderReport:
        """POST one market day order; never retried here (see bot.execution)."""
        request = MarketOrderRequest(
            symbol=order.symbol,
            qty=float(order.qty.quantize(QTY_STEP)),
            side=OrderSide.BUY if order.side is Side.BUY else OrderSide.SELL,
            time_in_force=TimeInForce.DAY,
            client_order_id=order.client_order_id,
        )
        self._account = None
        with translated(f"submit {order.client_order_id}"):
            placed = self._orders.submit_order(request)
        if not isinstance(placed, Order):
            msg = f"submit {order.client_order_id}: unexpected answer {placed!r}"
            raise BrokerError(msg)
        return order_report(placed)

    def get_order(self, client_order_id: str) -> OrderReport | None:
        """The order with this client_order_id, or None if Alpaca never received it (404)."""
        try:
            order = self._read(
                f"look up {client_order_id}",
                lambda: self._reads.get_order_by_client_id(client_order_id),
            )
        except BrokerError as exc:
            if isinstance(exc.__cause__, APIError) and exc.__cause__.status_code == 404:
                return None
            raise
        return order_report(order)

    def market_open(self) -> bool:
        """Alpaca's clock: is the market open right now?"""
        clock = self._read("read the market clock", self._reads.get_clock)
        return bool(clock.is_open)

    def open_orders(self) -> list[OrderReport]:
        """Every open order on the account (up to 500; a rebalancer never has that many)."""
        request = GetOrdersRequest(status=QueryOrderStatus.OPEN, limit=500)
        orders = self._read("list open orders", lambda: self._reads.get_orders(request))
        return [order_report(o) for o in orders]

    def cancel(self, client_order_id: str) -> None:
        """Request a cancel; confirmation comes from polling ``get_order``."""
        order = self._read(
            f"look up {client_order_id}",
            lambda: self._reads.get_order_by_client_id(client_order_id),
        )
        self._account = None
        try:
            with translated(f"cancel {client_order_id}"):
                self._reads.cancel_order_by_id(order.id)
        except BrokerError as exc:
            # 422 "not cancelable": it already filled or ended; the caller re-reads it.
            if not (isinstance(exc.__cause__, APIError) and exc.__cause__.status_code == 422):
                raise
