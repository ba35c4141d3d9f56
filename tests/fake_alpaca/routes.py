"""Route table and handlers: each handler turns a parsed request into a :class:`Reply`.

Routes are matched in table order, so ``/v2/orders:by_client_order_id`` precedes
``/v2/orders/{id}``. A route's *key* (``"GET /v2/orders/{id}"``) names it for fault injection and
request counting. Handlers run under the broker's lock and raise ``AlpacaError`` for errors.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_DOWN
from functools import cache

from . import market_data
from .broker import FakeBroker
from .hours import calendar_json, clock_json
from .model import FakeFill, FakeOrder, FakePosition, floor_qty
from .shapes import (
    account_json,
    asset_json,
    configurations_json,
    fill_json,
    order_json,
    position_json,
)
from .wire import (
    NEW_YORK,
    AlpacaError,
    JsonObject,
    dec,
    failure,
    invalid,
    not_found,
    parse_bool,
    parse_day,
    parse_decimal,
    parse_int,
    parse_time,
)

ORDER_LIST_DEFAULT = 50
ORDER_LIST_MAX = 500
FILL_PAGE_MAX = 100


@dataclass(frozen=True)
class ApiRequest:
    """What a handler sees: method, path, last value of each query key, parsed JSON body."""

    method: str
    path: str
    query: dict[str, str]
    body: object | None


@dataclass(frozen=True)
class Reply:
    """An HTTP response to send: status, body bytes, content type."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"


def json_reply(payload: object, status: int = 200) -> Reply:
    """Compact JSON, as Alpaca sends it."""
    return Reply(status, json.dumps(payload, separators=(",", ":")).encode())


def failure_reply(error: AlpacaError) -> Reply:
    """The response for an :class:`AlpacaError` (an empty body if it has none)."""
    if error.body is None:
        return Reply(error.status)
    return json_reply(error.body, error.status)


Params = dict[str, str]
Handler = Callable[[FakeBroker, ApiRequest, Params], Reply]


@dataclass(frozen=True)
class Route:
    """One endpoint: ``key`` is ``"<METHOD> <template>"``."""

    method: str
    template: str
    handler: Handler

    @property
    def key(self) -> str:
        """The route key used by ``inject`` and ``count``."""
        return f"{self.method} {self.template}"

    def match(self, method: str, path: str) -> Params | None:
        """Path parameters if this route serves ``method path``."""
        if method != self.method:
            return None
        found = _pattern(self.template).fullmatch(path)
        return None if found is None else found.groupdict()


@cache
def _pattern(template: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template)))


def resolve(method: str, path: str) -> tuple[Route, Params] | None:
    """The first route serving ``method path``, with its path parameters."""
    for route in ROUTES:
        params = route.match(method, path)
        if params is not None:
            return route, params
    return None


def route_key(method: str, path: str) -> str:
    """The key of the route serving ``method path`` (or ``"METHOD path"`` if none does)."""
    found = resolve(method, path)
    return f"{method} {path}" if found is None else found[0].key


# --------------------------------------------------------------------------- account


def get_account(broker: FakeBroker, request: ApiRequest, params: Params) -> Reply:
    """``GET /v2/account``."""
    return json_reply(account_json(broker))


def get_configurations(broker: FakeBroker, request: ApiRequest, params: Params) -> Reply:
    """``GET /v2/account/configurations``."""
    return json_reply(configurations_json(broker))


def get_fill_activities(broker: FakeBroker, request: ApiRequest, params: Params) -> Reply:
    """``GET /v2/account/activities/FILL``: date/after/until, direction, page_size, page_token."""
    query = request.query
    fills = [f for f in broker.fills if _fill_matches(f, query)]
    if query.get("direction", "desc") == "desc":
        fills.reverse()
    token = query.get("page_token")
    if token:
        ids = [f.id for f in fills]
        fills = fills[ids.index(token) + 1 :] if token in ids else []
    size = min(parse_int(query.get("page_size"), "page_size", FILL_PAGE_MAX), FILL_PAGE_MAX)
    return json_reply([fill_json(f) for f in fills[:size]])


def get_split_activities(broker: FakeBroker, request: ApiRequest, params: Params) -> Reply:
    """``GET /v2/account/activities/SPLIT``: the splits applied with ``FakeBroker.split``
    (``date`` filters, ``direction`` orders; no paging: a test has a handful)."""
    query = request.query
    splits = broker.split_activities()
    if "date" in query:
        splits = [s for s in splits if s.day == parse_day(query["date"], "date")]
    if query.get("direction", "desc") == "desc":
        splits.reverse()
    return json_reply([s.activity_json() for s in splits])


def _fill_matches(fill: FakeFill, query: dict[str, str]) -> bool:
    if "date" in query and fill.time.astimezone(NEW_YORK).date() != parse_day(
        query["date"], "date"
    ):
        return False
    if "after" in query and not fill.time > parse_time(query["after"], "after"):
        return False
    return "until" not in query or fill.time < parse_time(query["until"], "until")


# ------------------------------------------------------------------------- positions


def get_positions(broker: FakeBroker, request: ApiRequest, params: Params) -> Reply:
    """``GET /v2/positions``: ``[]`` when flat."""
    return json_reply([position_json(broker, p) for p in broker.position_list()])


def get_position(broker: FakeBroker, request: ApiRequest, params: Params) -> Reply:
    """``GET /v2/positions/{symbol}``: 404 when flat."""
    return json_reply(position_json(broker, _position(broker, params["symbol"])))


def _position(broker: FakeBroker, key: str) -> FakePosition:
    asset = broker.asset_by_key(key)
    position = None if asset is None else broker.positions_by_symbol().get(asset.symbol)
    if position is None:
        raise not_found("position does not exist")
    return position


def delete_position(broker: FakeBroker, request: ApiRequest, params: Params) -> Reply:
    """``DELETE /v2/positions/{symbol}?qty=|percentage=``: a closing market order."""
    position = _position(broker, params["symbol"])
    return json_reply(order_json(_close(broker, position, request.query)))


def _close(broker: FakeBroker, position: FakePosition, query: dict[str, str]) -> FakeOrder:
    size = abs(position.qty)
    if "qty" in query and "percentage" in query:
        raise invalid("only one of qty or percentage may be given")
    if "qty" in query:
        size = parse_decimal(query["qty"], "qty")
    elif "percentage" in query:
        size = floor_qty(size * parse_decimal(query["percentage"], "percentage") / 100)
        if not broker.require_asset(position.symbol).fractionable:
            size = size.to_integral_value(rounding=ROUND_DOWN)
    side = "sell" if position.qty > 0 else "buy"
    body = {"symbol": position.symbol, "qty": dec(size), "side": side}
    return broker.submit(body | {"type": "market", "time_in_force": "day"})


def delete_positions(broker: FakeBroker, request: ApiRequest, params: Params) -> Reply:
    """``DELETE /v2/positions[?cancel_orders=True]``: 207 with one result per position."""
    if parse_bool(request.query.get("cancel_orders")):
        _cancel_all(broker)
    results: list[JsonObject] = []
    for position in broker.position_list():
        try:
            order = _close(broker, position, {})
        except AlpacaError as error:
            results.append({"symbol": position.symbol, "status": error.status, "body": error.body})
        else:
            entry = {"symbol": position.symbol, "status": 200, "order_id": order.id}
            results.append(entry | {"body": order_json(order)})
    return json_reply(results, 207)


# ------------------------------------------------------------------ assets and time


def get_asset(broker: FakeBroker, request: ApiRequest, params: Params) -> Reply:
    """``GET /v2/assets/{symbol}`` (symbol or asset id): 404 if unknown."""
    asset = broker.asset_by_key(params["symbol"])
    if asset is None:
        raise not_found("asset not found")
    return json_reply(asset_json(asset))


def get_clock(broker: FakeBroker, request: ApiRequest, params: Params) -> Reply:
    """``GET /v2/clock`` from the fake's clock and the XNYS calendar."""
    return json_reply(clock_json(broker.now))


def get_calendar(broker: FakeBroker, request: ApiRequest, params: Params) -> Reply:
    """``GET /v2/calendar?start&end``; defaults: today and a year later (a documented gap)."""
    today = broker.now.astimezone(NEW_YORK).date()
    start = parse_day(request.query["start"], "start") if "start" in request.query else today
    default_end = start + timedelta(days=365)
    end = parse_day(request.query["end"], "end") if "end" in request.query else default_end
    return json_reply(calendar_json(start, end))


# ----------------------------------------------------------------------------- orders


def post_order(broker: FakeBroker, request: ApiRequest, params: Params) -> Reply:
    """``POST /v2/orders``."""
    return json_reply(order_json(broker.submit(request.body)))


def get_orders(broker: FakeBroker, request: ApiRequest, params: Params) -> Reply:
    """``GET /v2/orders``: status, limit, after/until, direction, side, symbols."""
    query = request.query
    status = query.get("status", "open")
    if status not in {"open", "closed", "all"}:
        raise invalid(f"invalid status: {status}")
    limit = min(parse_int(query.get("limit"), "limit", ORDER_LIST_DEFAULT), ORDER_LIST_MAX)
    symbols = {s for s in query.get("symbols", "").split(",") if s}
    candidates = [o for o in broker.all_orders() if not symbols or o.symbol in symbols]
    broker.observe(o for o in candidates if o.is_open)
    selected = [o for o in candidates if _order_matches(o, query, status)]
    if query.get("direction", "desc") == "desc":
        selected.reverse()
    return json_reply([order_json(o) for o in selected[:limit]])


def _order_matches(order: FakeOrder, query: dict[str, str], status: str) -> bool:
    if status != "all" and order.is_open != (status == "open"):
        return False
    if "side" in query and order.side != query["side"]:
        return False
    if "after" in query and not order.created_at > parse_time(query["after"], "after"):
        return False
    return "until" not in query or order.created_at < parse_time(query["until"], "until")


def get_order_by_client_id(broker: FakeBroker, request: ApiRequest, params: Params) -> Reply:
    """``GET /v2/orders:by_client_order_id?client_order_id=``: 404 if unknown."""
    order = broker.find_by_client_id(request.query.get("client_order_id", ""))
    return _observed(broker, order)


def get_order(broker: FakeBroker, request: ApiRequest, params: Params) -> Reply:
    """``GET /v2/orders/{id}``: 404 if unknown."""
    return _observed(broker, broker.find_order(params["id"]))


def _observed(broker: FakeBroker, order: FakeOrder | None) -> Reply:
    if order is None:
        raise not_found("order not found")
    broker.observe([order])
    return json_reply(order_json(order))


def delete_order(broker: FakeBroker, request: ApiRequest, params: Params) -> Reply:
    """``DELETE /v2/orders/{id}``: 204 with an empty body."""
    broker.cancel(params["id"])
    return Reply(204)


def delete_orders(broker: FakeBroker, request: ApiRequest, params: Params) -> Reply:
    """``DELETE /v2/orders``: 207, one ``{"id","status":200}`` per canceled order."""
    return json_reply(_cancel_all(broker), 207)


def _cancel_all(broker: FakeBroker) -> list[JsonObject]:
    results: list[JsonObject] = []
    for order in broker.open_orders():
        broker.cancel(order.id)
        results.append({"id": order.id, "status": 200})
    return results


# ------------------------------------------------------------------------ market data


def get_bars(broker: FakeBroker, request: ApiRequest, params: Params) -> Reply:
    """``GET /v2/stocks/bars`` with paging."""
    return json_reply(market_data.bars_page(broker, request.query))


def get_latest_trades(broker: FakeBroker, request: ApiRequest, params: Params) -> Reply:
    """``GET /v2/stocks/trades/latest``."""
    return json_reply(market_data.latest_trades(broker, request.query))


def unknown_route() -> AlpacaError:
    """What any unrouted request gets."""
    return failure(404, 40410000, "not found")


ROUTES: tuple[Route, ...] = (
    Route("GET", "/v2/account", get_account),
    Route("GET", "/v2/account/configurations", get_configurations),
    Route("GET", "/v2/account/activities/FILL", get_fill_activities),
    Route("GET", "/v2/account/activities/SPLIT", get_split_activities),
    Route("GET", "/v2/positions", get_positions),
    Route("GET", "/v2/positions/{symbol}", get_position),
    Route("DELETE", "/v2/positions", delete_positions),
    Route("DELETE", "/v2/positions/{symbol}", delete_position),
    Route("GET", "/v2/assets/{symbol}", get_asset),
    Route("GET", "/v2/clock", get_clock),
    Route("GET", "/v2/calendar", get_calendar),
    Route("POST", "/v2/orders", post_order),
    Route("GET", "/v2/orders", get_orders),
    Route("DELETE", "/v2/orders", delete_orders),
    Route("GET", "/v2/orders:by_client_order_id", get_order_by_client_id),
    Route("GET", "/v2/orders/{id}", get_order),
    Route("DELETE", "/v2/orders/{id}", delete_order),
    Route("GET", "/v2/stocks/bars", get_bars),
    Route("GET", "/v2/stocks/trades/latest", get_latest_trades),
)
