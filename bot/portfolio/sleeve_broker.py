"""A strategy's view of the shared account: its own ledger, as if it were the whole account.

The portfolio runs each strategy's own ``run_cycle`` (its rules, calendar, drift, checks and
journal) against this adapter in *propose* mode: the cycle reads its sleeve here and plans its
orders, and the portfolio nets the plans of every strategy into one order per fund
(``bot.portfolio.wake``). Nothing is ever sent from here; what the account's broker says about
the account itself (its state, which assets trade, whether the market is open) is asked of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

from bot.domain import (
    EXACT_COSTS,
    Account,
    AccountState,
    AssetInfo,
    OrderCosts,
    OrderReport,
    OrderRequest,
)
from bot.errors import BrokerError, StateError
from bot.portfolio.ledger import Ledger
from bot.ports import Broker

ZERO = Decimal(0)


class SleeveBroker:
    """The ``Broker`` port over one strategy's ledger, valued at the wake's prices."""

    def __init__(
        self,
        name: str,
        ledger: Ledger,
        prices: Mapping[str, Decimal],
        account: Broker,
        multiplier: Decimal,
        *,
        account_equity: Decimal | None = None,
    ) -> None:
        self._name = name
        self._ledger = ledger
        self._prices = prices
        self._account = account
        self._multiplier = multiplier
        self._account_equity = account_equity  # the whole account's, for the short-sale rule

    @property
    def order_costs(self) -> OrderCosts:
        """A sleeve's plan is valued at the prices it was made at; the account's broker values
        the netted orders (``bot.portfolio.wake``)."""
        return EXACT_COSTS

    def account(self) -> Account:
        """The sleeve as an account: its cash, its positions, its equity at the wake's prices,
        and the account's margin multiplier applied to the sleeve alone."""
        values = {s: q * self._price(s) for s, q in self._ledger.shares().items()}
        equity = self._ledger.cash + sum(values.values(), ZERO)
        gross = sum((abs(v) for v in values.values()), ZERO)
        return Account(
            cash=self._ledger.cash,
            equity=equity,
            buying_power=max(equity * self._multiplier - gross, ZERO),
            positions=self._ledger.shares(),
            multiplier=self._multiplier,
            account_equity=self._account_equity,
        )

    def _price(self, symbol: str) -> Decimal:
        price = self._prices.get(symbol)
        if price is None or not price > 0:
            msg = f"{self._name} holds {symbol} but there is no usable price for it today"
            raise StateError(msg)
        return price

    def submit(self, order: OrderRequest) -> OrderReport:
        """Never: a sleeve only proposes (the portfolio sends one netted order per fund)."""
        msg = (
            f"{self._name}: {order.client_order_id} not sent: a sleeve of a portfolio proposes "
            "its orders, the portfolio sends them netted"
        )
        raise BrokerError(msg)

    def get_order(self, client_order_id: str) -> OrderReport | None:  # noqa: ARG002 - the port
        """A sleeve has no orders of its own."""
        return None

    def account_state(self) -> AccountState:
        """The account's flags: a blocked account blocks every sleeve."""
        return self._account.account_state()

    def assets(self, symbols: Iterable[str]) -> dict[str, AssetInfo]:
        """What the broker allows for each symbol (fractionable, shortable …)."""
        return self._account.assets(symbols)

    def open_orders(self) -> list[OrderReport]:
        """A sleeve has no orders of its own; the account's are the portfolio's."""
        return []

    def cancel(self, client_order_id: str) -> None:
        """Nothing to cancel."""

    def market_open(self) -> bool:
        """The account's market."""
        return self._account.market_open()
