"""What the ``bad_json_fields`` fault does to each route's real answer: the right shape, one field
of the wrong type.

The request is processed normally; then, if the answer is a 2xx JSON body, the field below is
replaced in it (in every item, for lists; an empty list stays empty). Error answers pass through
unchanged. Routes without a JSON body (``DELETE /v2/orders/{id}``, a 204) have no entry, and
``inject`` refuses the fault for them.

Some replacements are strings where alpaca-py expects a string (``equity``, ``qty``,
``filled_qty``): the client parses them and hands the bot a value it must not trust. The others
break alpaca-py's own parsing (a pydantic ``ValidationError``, or ``ValueError`` for the
calendar), as a bad body from a proxy or an API change would.

=====================================  =====================================================
``GET /v2/account``                    ``"equity": "not-a-number"``
``GET /v2/account/configurations``     ``"max_margin_multiplier": "not-a-number"``
``GET /v2/account/activities/FILL``    each fill ``"qty": "not-a-number"``
``GET /v2/positions``                  each position ``"qty": "not-a-number"``
``GET /v2/positions/{symbol}``         ``"qty": "not-a-number"``
``DELETE /v2/positions``               each result ``"status": "ok"`` (alpaca-py wants an int)
``DELETE /v2/positions/{symbol}``      the closing order's ``"filled_qty": "not-a-number"``
``GET /v2/assets/{symbol}``            ``"fractionable": "maybe"`` (alpaca-py wants a bool)
``GET /v2/clock``                      ``"next_open": "not-a-time"``
``GET /v2/calendar``                   each day ``"open": "9:30am"`` (not ``HH:MM``)
``POST /v2/orders``                    ``"filled_qty": "not-a-number"`` (the order exists)
``GET /v2/orders``                     each order ``"filled_qty": "not-a-number"``
``GET /v2/orders:by_client_order_id``  ``"filled_qty": "not-a-number"``
``GET /v2/orders/{id}``                ``"filled_qty": "not-a-number"``
``DELETE /v2/orders``                  each result ``"status": "ok"``
``GET /v2/stocks/bars``                every bar ``"c": "abc"`` (alpaca-py wants a number)
``GET /v2/stocks/trades/latest``       every trade ``"p": "abc"``
=====================================  =====================================================
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

NAN_TEXT = "not-a-number"

Corruption = Callable[[Any], Any]


def _field(name: str, value: object) -> Corruption:
    def corrupt(payload: Any) -> Any:
        return {**payload, name: value}

    return corrupt


def _each(name: str, value: object) -> Corruption:
    def corrupt(payload: Any) -> Any:
        return [{**item, name: value} for item in payload]

    return corrupt


def _each_in(wrapper: str, name: str, value: object) -> Corruption:
    """Inside ``{wrapper: {symbol: item or [items]}}``: every item."""

    def one(item: Any) -> Any:
        if isinstance(item, list):
            return [{**bar, name: value} for bar in item]
        return {**item, name: value}

    def corrupt(payload: Any) -> Any:
        inner = {symbol: one(items) for symbol, items in payload[wrapper].items()}
        return {**payload, wrapper: inner}

    return corrupt


_ORDER = _field("filled_qty", NAN_TEXT)

CORRUPTIONS: dict[str, Corruption] = {
    "GET /v2/account": _field("equity", NAN_TEXT),
    "GET /v2/account/configurations": _field("max_margin_multiplier", NAN_TEXT),
    "GET /v2/account/activities/FILL": _each("qty", NAN_TEXT),
    "GET /v2/positions": _each("qty", NAN_TEXT),
    "GET /v2/positions/{symbol}": _field("qty", NAN_TEXT),
    "DELETE /v2/positions": _each("status", "ok"),
    "DELETE /v2/positions/{symbol}": _ORDER,
    "GET /v2/assets/{symbol}": _field("fractionable", "maybe"),
    "GET /v2/clock": _field("next_open", "not-a-time"),
    "GET /v2/calendar": _each("open", "9:30am"),
    "POST /v2/orders": _ORDER,
    "GET /v2/orders": _each("filled_qty", NAN_TEXT),
    "GET /v2/orders:by_client_order_id": _ORDER,
    "GET /v2/orders/{id}": _ORDER,
    "DELETE /v2/orders": _each("status", "ok"),
    "GET /v2/stocks/bars": _each_in("bars", "c", "abc"),
    "GET /v2/stocks/trades/latest": _each_in("trades", "p", "abc"),
}


def corrupt(route: str, payload: Any) -> Any:
    """``payload`` (a route's real JSON answer) with the field of the table replaced."""
    corruption = CORRUPTIONS.get(route)
    return payload if corruption is None else corruption(payload)
