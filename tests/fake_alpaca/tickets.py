"""Parse and shape-check a ``POST /v2/orders`` body, before any account state is consulted.

alpaca-py sends ``model_dump(exclude_none=True)``: quantities as JSON floats, enums as values
(ALPACA.md §3). The checks here are the ones Alpaca makes on the request alone (§6, §7).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .model import CENT, QTY_STEP
from .wire import JsonObject, failure, invalid, parse_decimal

SIDES = frozenset({"buy", "sell"})
ORDER_TYPES = frozenset({"market", "limit", "stop", "stop_limit", "trailing_stop"})
SUPPORTED_TYPES = frozenset({"market", "limit"})
TIME_IN_FORCE = frozenset({"day", "gtc", "opg", "cls", "ioc", "fok"})
SUPPORTED_TIF = frozenset({"day", "gtc"})
MAX_CLIENT_ORDER_ID = 128


@dataclass(frozen=True)
class Ticket:
    """A well-formed order request."""

    symbol: str
    side: str
    type: str
    time_in_force: str
    qty: Decimal | None
    notional: Decimal | None
    limit_price: Decimal | None
    extended_hours: bool
    client_order_id: str | None

    @property
    def fractional(self) -> bool:
        """Notional, or a qty with a fractional part: Alpaca's fractional-order rules apply."""
        return self.notional is not None or (self.qty is not None and self.qty % 1 != 0)

    @property
    def is_buy(self) -> bool:
        """``side == "buy"``."""
        return self.side == "buy"


def parse_ticket(body: object) -> Ticket:
    """Turn a request body into a :class:`Ticket`, raising Alpaca's 400/422 errors."""
    if not isinstance(body, dict):
        raise failure(400, 40010000, "request body format is invalid")
    qty, notional = _amounts(body)
    ticket = Ticket(
        symbol=_text(body, "symbol").upper(),
        side=_choice(body, "side", SIDES),
        type=_choice(body, "type", ORDER_TYPES),
        time_in_force=_choice(body, "time_in_force", TIME_IN_FORCE),
        qty=qty,
        notional=notional,
        limit_price=_optional_decimal(body, "limit_price"),
        extended_hours=body.get("extended_hours") is True,
        client_order_id=_client_order_id(body),
    )
    _check_shape(ticket)
    return ticket


def _text(body: JsonObject, field: str) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value:
        raise invalid(f"{field} is required")
    return value


def _choice(body: JsonObject, field: str, allowed: frozenset[str]) -> str:
    value = _text(body, field)
    if value not in allowed:
        raise invalid(f"invalid {field}: {value}")
    return value


def _optional_decimal(body: JsonObject, field: str) -> Decimal | None:
    value = body.get(field)
    return None if value is None else parse_decimal(value, field)


def _amounts(body: JsonObject) -> tuple[Decimal | None, Decimal | None]:
    qty = _optional_decimal(body, "qty")
    notional = _optional_decimal(body, "notional")
    if qty is not None and notional is not None:
        raise failure(400, 40010000, "qty and notional cannot both be specified")
    if qty is None and notional is None:
        raise invalid("qty or notional is required")
    _check_amount(qty, "qty", QTY_STEP)
    _check_amount(notional, "notional", CENT)
    return qty, notional


def _check_amount(value: Decimal | None, field: str, step: Decimal) -> None:
    if value is None:
        return
    if value <= 0:
        raise failure(422, 42210000, f"{field} must be > 0")
    if value != value.quantize(step):
        raise invalid(f"{field} has more decimal places than allowed ({step})")


def _client_order_id(body: JsonObject) -> str | None:
    value = body.get("client_order_id")
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise invalid("client_order_id is invalid")
    if len(value) > MAX_CLIENT_ORDER_ID:
        raise invalid(f"client_order_id must be at most {MAX_CLIENT_ORDER_ID} characters")
    return value


def _check_shape(ticket: Ticket) -> None:
    if ticket.type not in SUPPORTED_TYPES or ticket.time_in_force not in SUPPORTED_TIF:
        raise invalid(
            "the fake supports market/limit orders with day/gtc only, got "
            f"type={ticket.type} time_in_force={ticket.time_in_force}"
        )
    if ticket.type == "limit" and ticket.limit_price is None:
        raise invalid("limit_price is required for limit orders")
    if ticket.type == "market" and ticket.limit_price is not None:
        raise invalid("limit_price must not be set for market orders")
    if ticket.fractional and ticket.time_in_force != "day":
        raise failure(422, 42210000, "fractional orders must be DAY orders")
    if ticket.extended_hours and (ticket.type != "limit" or ticket.time_in_force != "day"):
        raise failure(422, 42210000, "extended hours order must be DAY limit orders")
