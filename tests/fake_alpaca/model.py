"""The fake's records: assets, positions, orders and fills, held as plain mutable dataclasses.

Quantities are signed ``Decimal`` (a short position has a negative ``qty``); money is ``Decimal``.
Tests read copies of these through :class:`~tests.fake_alpaca.broker.FakeBroker`'s properties.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from uuid import uuid4

ZERO = Decimal(0)
QTY_STEP = Decimal("0.000000001")  # Alpaca accepts up to 9 decimals of a share
CENT = Decimal("0.01")

OPEN_STATUSES = frozenset({"new", "accepted", "partially_filled", "pending_new"})


def new_id() -> str:
    """A fresh UUID string, the id format of orders and assets."""
    return str(uuid4())


def floor_qty(value: Decimal) -> Decimal:
    """Round a share quantity down to Alpaca's 9-decimal step."""
    return value.quantize(QTY_STEP, rounding=ROUND_DOWN)


@dataclass
class FakeAsset:
    """An asset as ``GET /v2/assets/{symbol}`` describes it."""

    symbol: str
    tradable: bool = True
    shortable: bool = True
    easy_to_borrow: bool = True
    fractionable: bool = True
    status: str = "active"
    exchange: str = "ARCA"
    marginable: bool = True
    id: str = field(default_factory=new_id)


@dataclass
class FakePosition:
    """A position: signed quantity and average entry price."""

    symbol: str
    qty: Decimal
    avg_entry_price: Decimal

    @property
    def side(self) -> str:
        """``long`` or ``short``, as Alpaca reports it."""
        return "short" if self.qty < 0 else "long"


@dataclass
class FakeOrder:
    """An order and its fill progress; ``filled_value`` is Σ fill qty × fill price."""

    id: str
    client_order_id: str
    symbol: str
    asset_id: str
    side: str
    type: str
    time_in_force: str
    position_intent: str
    qty: Decimal | None
    notional: Decimal | None
    limit_price: Decimal | None
    extended_hours: bool
    created_at: datetime
    expires_at: datetime | None
    status: str
    updated_at: datetime
    filled_qty: Decimal = ZERO
    filled_value: Decimal = ZERO
    filled_at: datetime | None = None
    canceled_at: datetime | None = None
    expired_at: datetime | None = None
    polls: int = 0

    @property
    def is_open(self) -> bool:
        """Still working: may fill, may be canceled."""
        return self.status in OPEN_STATUSES

    @property
    def is_buy(self) -> bool:
        """``side == "buy"``."""
        return self.side == "buy"

    @property
    def closes(self) -> bool:
        """``buy_to_close``/``sell_to_close``: holds position quantity while open."""
        return self.position_intent.endswith("_to_close")

    @property
    def consumes_buying_power(self) -> bool:
        """Open buys (covers included) and short sells hold buying power (ALPACA.md §7)."""
        return self.is_buy or self.position_intent == "sell_to_open"

    @property
    def filled_avg_price(self) -> Decimal | None:
        """Volume-weighted fill price, ``None`` before the first fill."""
        return None if self.filled_qty == 0 else self.filled_value / self.filled_qty

    def remaining_qty(self, price: Decimal) -> Decimal:
        """Shares still to fill; a notional order's remainder is estimated at ``price``."""
        if self.qty is not None:
            return self.qty - self.filled_qty
        assert self.notional is not None
        return floor_qty((self.notional - self.filled_value) / price)

    def remaining_value(self, price: Decimal) -> Decimal:
        """Dollars still to fill at ``price`` (a notional order: its unfilled notional)."""
        if self.notional is not None:
            return self.notional - self.filled_value
        return self.remaining_qty(price) * price


@dataclass(frozen=True)
class FakeFill:
    """One execution, as ``GET /v2/account/activities/FILL`` reports it."""

    id: str
    order_id: str
    symbol: str
    side: str
    qty: Decimal
    price: Decimal
    time: datetime
    cum_qty: Decimal
    leaves_qty: Decimal
    order_status: str
