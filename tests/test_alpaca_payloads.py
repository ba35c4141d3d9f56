"""Answers Alpaca should never send, notional buys, and keys that cannot be sent.

Everything goes through the real alpaca-py clients against the fake server. An unexpected answer
(a 200 ``{}``, a field of the wrong type, a body that is not JSON) must be one BrokerError naming
what was being done and the endpoint, never a traceback; on ``POST /v2/orders`` it means the
order may exist, so the bot looks it up by client_order_id and never sends it twice.

The fake's fault kinds ``empty_json`` / ``accepted_empty`` / ``bad_json_fields`` are used when
the fake has them; until then :func:`answer` patches the fake's reply for one route (our own fake:
patching it is fine; alpaca-py is never patched).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.models import TradeAccount

from bot.adapters.alpaca.broker import AlpacaBroker
from bot.adapters.alpaca.transport import (
    BadFieldError,
    Endpoints,
    RetryPolicy,
    trading_client,
    translated,
)
from bot.cli import main
from bot.cycle import NEW_YORK
from bot.domain import Leg, OrderRequest, OrderStatus, Side
from bot.errors import (
    BrokerAuthError,
    BrokerError,
    ConfigError,
    OrderRejectedError,
    TransientBrokerError,
)
from bot.market.sessions import xnys_sessions
from bot.settings import Settings
from tests.alpaca_world import TODAY, AlpacaWorld, alpaca_config, start_world
from tests.fake_alpaca import FakeAlpaca
from tests.fake_alpaca.routes import Reply, json_reply, route_key
from tests.fake_alpaca.server import _Outcome

ROOT = Path(__file__).resolve().parent.parent
KEY, SECRET = "test-key", "test-secret-DO-NOT-LEAK-5e1b"
ACCOUNT_ROUTE = "GET /v2/account"


def patch_answer(
    fake: FakeAlpaca,
    monkeypatch: pytest.MonkeyPatch,
    route: str,
    make: Callable[[Callable[[], Reply]], Reply],
    *,
    times: int | None = 1,
) -> None:
    """Answer the next ``times`` (None: every) requests to ``route`` with ``make(process)``;
    ``process()`` runs the request through the fake and returns its real reply. For answers the
    fake's faults do not script (a body that is not JSON, a specific field changed)."""
    respond = fake._respond
    left = [times]

    def patched(request: Any, headers: dict[str, str], fault: str | None, *rest: Any) -> _Outcome:
        if fault is not None or route_key(request.method, request.path) != route or left[0] == 0:
            return respond(request, headers, fault, *rest)
        if left[0] is not None:
            left[0] -= 1

        def process() -> Reply:
            reply = respond(request, headers, None, *rest).reply
            assert reply is not None
            return reply

        return _Outcome(make(process))

    monkeypatch.setattr(fake, "_respond", patched)


def edit_answer(
    fake: FakeAlpaca,
    monkeypatch: pytest.MonkeyPatch,
    route: str,
    edit: Callable[[Any], Any],
    *,
    times: int | None = 1,
) -> None:
    """The request is processed; its JSON answer goes through ``edit`` (status kept)."""

    def make(process: Callable[[], Reply]) -> Reply:
        reply = process()
        return json_reply(edit(json.loads(reply.body)), reply.status)

    patch_answer(fake, monkeypatch, route, make, times=times)


def not_json(_process: Callable[[], Reply]) -> Reply:
    """A 200 HTML page (a captive portal, a misrouted proxy); nothing processed."""
    return Reply(200, b"<html><body>OK</body></html>", "text/html")


def set_field(path: tuple[str | int, ...], value: object) -> Callable[[Any], Any]:
    """An edit that sets one field (by its path in the JSON answer) to ``value``."""

    def edit(payload: Any) -> Any:
        target = payload
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value
        return payload

    return edit


def drop_field(name: str) -> Callable[[Any], Any]:
    def edit(payload: Any) -> Any:
        items = payload if isinstance(payload, list) else [payload]
        for item in items:
            del item[name]
        return payload

    return edit


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture
def fake() -> Iterator[FakeAlpaca]:
    """UPRO at $100 and TMF at $40, the clock at 15:45 New York on TODAY (a session)."""
    with FakeAlpaca(key=KEY, secret=SECRET) as server:
        server.set_clock(datetime.combine(TODAY, time(15, 45), NEW_YORK))
        for symbol, price in (("UPRO", "100"), ("TMF", "40")):
            server.add_asset(symbol)
            server.set_price(symbol, Decimal(price))
        yield server
        assert server.errors == []


def broker_for(fake: FakeAlpaca) -> AlpacaBroker:
    endpoints = Endpoints(KEY, SECRET, trading_url=fake.url, data_url=fake.url)
    fast = RetryPolicy(sleep=lambda _seconds: None)
    return AlpacaBroker(trading_client(endpoints), trading_client(endpoints), retry=fast)


def buy(cid: str, symbol: str, qty: str, notional: str | None = None) -> OrderRequest:
    amount = None if notional is None else Decimal(notional)
    return OrderRequest(cid, symbol, Side.BUY, Decimal(qty), Leg.ADD_LONG, notional=amount)


# ------------------------------------------------------- translated(): unit level, no server


def _validation_error() -> Exception:
    try:
        TradeAccount(**{"id": SECRET, "account_number": 7})
    except ValueError as exc:  # pydantic's ValidationError; its text quotes the input
        return exc
    raise AssertionError


def _decimal_error() -> Exception:
    try:
        Decimal(SECRET)
    except InvalidOperation as exc:
        return exc
    raise AssertionError


MALFORMED: dict[str, Callable[[], BaseException]] = {
    "validation": _validation_error,
    "json": lambda: json.JSONDecodeError("Expecting value", SECRET, 0),
    "requests_json": lambda: requests.exceptions.JSONDecodeError("Expecting value", SECRET, 0),
    "key": lambda: KeyError(SECRET),
    "index": lambda: IndexError(SECRET),
    "type": lambda: TypeError(SECRET),
    "attribute": lambda: AttributeError(SECRET, name=SECRET),
    "value": lambda: ValueError(SECRET),
    "decimal": _decimal_error,
    "bad_field": lambda: BadFieldError("equity", "not a number"),
}


def _raise(exc: BaseException) -> None:
    raise exc


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_a_malformed_read_is_one_broker_error_that_is_not_retried(name: str) -> None:
    with pytest.raises(BrokerError) as caught, translated("read the account", endpoint="GET /x"):
        _raise(MALFORMED[name]())

    assert not isinstance(caught.value, TransientBrokerError)  # with_retries would retry it
    assert str(caught.value).startswith(
        "read the account: Alpaca sent an unexpected answer to GET /x ("
    )
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_a_malformed_answer_to_a_submit_means_the_outcome_is_unknown(name: str) -> None:
    with (
        pytest.raises(TransientBrokerError) as caught,
        translated("submit c1", endpoint="POST /v2/orders", outcome_unknown=True),
    ):
        _raise(MALFORMED[name]())

    assert str(caught.value).endswith("; the outcome is unknown")


def test_the_message_names_the_fields_not_their_values() -> None:
    """TradeAccount with the secret as its id, account_number 7 and no status: the three fields
    are named, the id's value is not."""
    with pytest.raises(BrokerError) as caught, translated("read the account", endpoint="GET /a"):
        _raise(_validation_error())

    assert str(caught.value) == (
        "read the account: Alpaca sent an unexpected answer to GET /a (TradeAccount: missing "
        "field status; wrong field id (uuid_parsing), account_number (string_type))"
    )


def _api_error() -> APIError:
    response = requests.Response()
    response.status_code = 500
    request = requests.Request("GET", "http://x", headers={"APCA-API-SECRET-KEY": SECRET})
    http_error = requests.HTTPError(response=response, request=request.prepare())
    return APIError(json.dumps({"code": 50010000, "message": f"echo {SECRET}"}), http_error)


EVERY_PATH: dict[str, Callable[[], BaseException]] = {
    **MALFORMED,
    "connection": lambda: requests.exceptions.ConnectionError(SECRET),
    "timeout": lambda: requests.exceptions.ReadTimeout(SECRET),
    "request": lambda: requests.exceptions.TooManyRedirects(SECRET),
    "api": _api_error,
    "header": lambda: UnicodeEncodeError("latin-1", SECRET + "€", len(SECRET), 29, "bad"),
}


@pytest.mark.parametrize("outcome_unknown", [False, True])
@pytest.mark.parametrize("name", sorted(EVERY_PATH))
def test_no_path_through_translated_puts_the_secret_in_the_message(
    name: str, outcome_unknown: bool
) -> None:
    """Each exception carries the secret (text, input, document, request header); the message
    never does. The API error echoes it in its body: the registered secret is redacted."""
    trading_client(Endpoints(KEY, SECRET, trading_url="http://127.0.0.1:1"))  # registers it

    with (
        pytest.raises(BrokerError) as caught,
        translated("read", endpoint="GET /x", outcome_unknown=outcome_unknown),
    ):
        _raise(EVERY_PATH[name]())

    assert SECRET not in str(caught.value)
    assert SECRET[:12] not in str(caught.value)


def test_a_key_that_cannot_be_sent_is_a_credentials_error_without_its_chain() -> None:
    with pytest.raises(BrokerAuthError) as caught, translated("read the account"):
        _raise(UnicodeEncodeError("latin-1", "sécret€", 6, 7, "ordinal not in range(256)"))

    assert "APCA_API_SECRET_KEY" in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


# --------------------------------------------------------- the broker against the fake server


def test_an_empty_account_is_one_error_naming_the_endpoint_and_is_not_retried(
    fake: FakeAlpaca,
) -> None:
    fake.inject(ACCOUNT_ROUTE, "empty_json")

    with pytest.raises(BrokerError) as caught:
        broker_for(fake).account()

    assert not isinstance(caught.value, TransientBrokerError)
    assert str(caught.value) == (
        "read the account: Alpaca sent an unexpected answer to GET /v2/account (TradeAccount: "
        "missing field id, account_number, status)"
    )
    assert fake.count(ACCOUNT_ROUTE) == 1


def test_equity_that_is_not_a_number_is_named(fake: FakeAlpaca) -> None:
    """ "equity": "not-a-number" is a string, so alpaca-py passes it; our Decimal refuses it."""
    fake.inject(ACCOUNT_ROUTE, "bad_json_fields")

    with pytest.raises(BrokerError) as caught:
        broker_for(fake).account()

    assert str(caught.value) == (
        "read the account: Alpaca sent an unexpected answer to GET /v2/account "
        "(field equity: not a number)"
    )


def test_a_money_field_sent_as_a_number_is_named(
    fake: FakeAlpaca, monkeypatch: pytest.MonkeyPatch
) -> None:
    """equity as the JSON number 100000.0, not the string Alpaca sends: alpaca-py refuses it."""
    edit_answer(fake, monkeypatch, ACCOUNT_ROUTE, set_field(("equity",), 1e5))

    with pytest.raises(BrokerError) as caught:
        broker_for(fake).account()

    assert str(caught.value) == (
        "read the account: Alpaca sent an unexpected answer to GET /v2/account "
        "(TradeAccount: wrong field equity (string_type))"
    )


def test_a_position_qty_that_is_not_a_number_is_named(fake: FakeAlpaca) -> None:
    fake.set_position("UPRO", Decimal("3"))
    fake.inject("GET /v2/positions", "bad_json_fields")

    with pytest.raises(BrokerError) as caught:
        broker_for(fake).account()

    assert str(caught.value) == (
        "read positions: Alpaca sent an unexpected answer to GET /v2/positions "
        "(field qty: not a number)"
    )


def test_an_answer_that_is_not_json_is_named_and_not_retried(
    fake: FakeAlpaca, monkeypatch: pytest.MonkeyPatch
) -> None:
    patch_answer(fake, monkeypatch, "GET /v2/positions", not_json)

    with pytest.raises(BrokerError) as caught:
        broker_for(fake).account()

    assert not isinstance(caught.value, TransientBrokerError)
    assert str(caught.value) == (
        "read positions: Alpaca sent an unexpected answer to GET /v2/positions (not JSON)"
    )
    assert fake.count("GET /v2/positions") == 1


def test_an_asset_flag_of_the_wrong_type_is_named(fake: FakeAlpaca) -> None:
    """ "fractionable": "maybe"."""
    fake.inject("GET /v2/assets/{symbol}", "bad_json_fields")

    with pytest.raises(BrokerError) as caught:
        broker_for(fake).assets(["UPRO"])

    assert str(caught.value) == (
        "read asset UPRO: Alpaca sent an unexpected answer to GET /v2/assets/UPRO "
        "(Asset: wrong field fractionable (bool_parsing))"
    )


def test_an_asset_without_its_fractionable_flag_is_named(
    fake: FakeAlpaca, monkeypatch: pytest.MonkeyPatch
) -> None:
    edit_answer(fake, monkeypatch, "GET /v2/assets/{symbol}", drop_field("fractionable"))

    with pytest.raises(BrokerError) as caught:
        broker_for(fake).assets(["UPRO"])

    assert str(caught.value) == (
        "read asset UPRO: Alpaca sent an unexpected answer to GET /v2/assets/UPRO "
        "(Asset: missing field fractionable)"
    )


def test_an_order_without_a_side_is_refused_not_read_as_a_sell(
    fake: FakeAlpaca, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Order.side is Optional to alpaca-py: a missing side must not become "sell"."""
    broker = broker_for(fake)
    fake.set_clock(datetime.combine(TODAY, time(8, 0), NEW_YORK))  # before the open: it waits
    broker.submit(buy("c-side", "UPRO", "1"))
    edit_answer(fake, monkeypatch, "GET /v2/orders", drop_field("side"))

    with pytest.raises(BrokerError) as caught:
        broker.open_orders()

    assert str(caught.value) == (
        "list open orders: Alpaca sent an unexpected answer to GET /v2/orders "
        "(field side: missing or neither buy nor sell)"
    )


def test_a_clock_that_does_not_parse_is_named(fake: FakeAlpaca) -> None:
    fake.inject("GET /v2/clock", "bad_json_fields")

    with pytest.raises(BrokerError) as caught:
        broker_for(fake).market_open()

    assert str(caught.value) == (
        "read the market clock: Alpaca sent an unexpected answer to GET /v2/clock "
        "(Clock: wrong field next_open (datetime_from_date_parsing))"
    )


def test_a_notional_buy_is_sent_in_dollars_rounded_down_and_fills(fake: FakeAlpaca) -> None:
    """$500.759 → "notional": 500.75 and no qty; at $100 that is 5.0075 shares."""
    report = broker_for(fake).submit(buy("c-notional", "UPRO", "5", notional="500.759"))

    [post] = [r for r in fake.requests if r.route == "POST /v2/orders"]
    assert post.body == {
        "symbol": "UPRO",
        "notional": 500.75,
        "side": "buy",
        "type": "market",
        "time_in_force": "day",
        "client_order_id": "c-notional",
    }
    assert report.status is OrderStatus.FILLED
    assert (report.qty, report.filled_qty) == (Decimal("5.0075"), Decimal("5.0075"))
    assert report.filled_avg_price == Decimal("100")
    assert fake.positions["UPRO"].qty == Decimal("5.0075")


def test_a_notional_order_not_yet_filled_reports_zero_qty(fake: FakeAlpaca) -> None:
    """Before the open the order waits: Alpaca's qty is null, so ours is what filled: 0."""
    fake.set_clock(datetime.combine(TODAY, time(8, 0), NEW_YORK))
    broker = broker_for(fake)
    broker.submit(buy("c-wait", "TMF", "2", notional="80"))

    found = broker.get_order("c-wait")

    assert found is not None
    assert (found.status, found.qty, found.filled_qty) == (
        OrderStatus.ACCEPTED,
        Decimal(0),
        Decimal(0),
    )
    assert found.filled_avg_price is None


def test_a_notional_below_a_cent_is_refused_before_sending(fake: FakeAlpaca) -> None:
    with pytest.raises(OrderRejectedError, match=r"notional \$0\.00 is not positive"):
        broker_for(fake).submit(buy("c-tiny", "UPRO", "0", notional="0.009"))

    assert fake.count("POST /v2/orders") == 0


def test_an_empty_answer_to_an_accepted_order_is_an_unknown_outcome(fake: FakeAlpaca) -> None:
    fake.inject("POST /v2/orders", "accepted_empty")
    broker = broker_for(fake)

    with pytest.raises(TransientBrokerError) as caught:
        broker.submit(buy("c-unknown", "UPRO", "2"))

    assert str(caught.value).startswith(
        "submit c-unknown: Alpaca sent an unexpected answer to POST /v2/orders (Order: missing"
    )
    found = broker.get_order("c-unknown")  # the order exists: what the lookup is for
    assert found is not None
    assert (found.status, found.filled_qty) == (OrderStatus.FILLED, Decimal("2"))


def test_a_spoiled_field_in_an_accepted_order_is_an_unknown_outcome(fake: FakeAlpaca) -> None:
    """ "filled_qty": "not-a-number" on the POST's answer: the order exists, the answer is
    unusable, so the caller must look it up (never treat it as refused)."""
    fake.inject("POST /v2/orders", "bad_json_fields")

    with pytest.raises(TransientBrokerError) as caught:
        broker_for(fake).submit(buy("c-spoiled", "UPRO", "2"))

    assert str(caught.value) == (
        "submit c-spoiled: Alpaca sent an unexpected answer to POST /v2/orders "
        "(field filled_qty: not a number); the outcome is unknown"
    )
    assert fake.order_by_client_id("c-spoiled") is not None


# ------------------------------------------------------------------------- a whole cycle


@pytest.fixture
def world(tmp_path: Path) -> Iterator[AlpacaWorld]:
    world = start_world(tmp_path, ["UPRO", "TMF"])
    yield world
    world.fake.stop()
    assert world.fake.errors == []


def test_an_empty_answer_to_an_order_post_is_looked_up_and_never_sent_twice(
    world: AlpacaWorld,
) -> None:
    """The first POST is processed and answered {}: the next request is the lookup of that
    client_order_id, the order is adopted, and each intent reaches the fake exactly once."""
    world.fake.inject("POST /v2/orders", "accepted_empty")

    result = world.run(alpaca_config("hfea"))

    assert result.outcome == "traded", result.reason
    log = world.fake.requests
    first = next(i for i, r in enumerate(log) if r.route == "POST /v2/orders")
    assert log[first].body is not None
    lookup = log[first + 1]
    assert lookup.route == "GET /v2/orders:by_client_order_id"
    assert lookup.query["client_order_id"] == log[first].body["client_order_id"]
    posts = [r.body for r in log if r.route == "POST /v2/orders" and r.body]
    assert sorted(b["symbol"] for b in posts) == ["TMF", "UPRO"]
    assert len({b["client_order_id"] for b in posts}) == 2
    assert len(world.fake.orders) == 2


def test_an_empty_answer_to_a_post_that_was_not_processed_is_looked_up_first(
    world: AlpacaWorld,
) -> None:
    """A 200 {} and no order at the fake: the next request is the lookup, which finds none
    (404). Whatever execution then does (stop, or send again later), a resend reuses the same
    client_order_id and the fake never holds two orders for one intent."""
    world.fake.inject("POST /v2/orders", "empty_json")

    world.run(alpaca_config("hfea"))

    log = world.fake.requests
    first = next(i for i, r in enumerate(log) if r.route == "POST /v2/orders")
    assert log[first].body is not None
    cid = log[first].body["client_order_id"]
    assert log[first + 1].route == "GET /v2/orders:by_client_order_id"
    assert (log[first + 1].query["client_order_id"], log[first + 1].status) == (cid, 404)
    posts = [r.body for r in log if r.route == "POST /v2/orders" and r.body]
    cids_by_symbol: dict[str, set[str]] = {}
    for body in posts:
        cids_by_symbol.setdefault(body["symbol"], set()).add(body["client_order_id"])
    assert all(len(cids) == 1 for cids in cids_by_symbol.values()), cids_by_symbol
    orders = world.fake.orders
    assert len({o.client_order_id for o in orders}) == len(orders) <= 2


def test_a_latest_trade_with_a_bad_price_stops_the_cycle_before_any_order(
    world: AlpacaWorld,
) -> None:
    world.fake.inject("GET /v2/stocks/trades/latest", "bad_json_fields")

    result = world.run(alpaca_config("hfea"))

    assert result.outcome == "error"
    assert result.reason == (
        "load latest trades: Alpaca sent an unexpected answer to GET /v2/stocks/trades/latest "
        "(Trade: wrong field price (float_parsing))"
    )
    assert world.fake.count("POST /v2/orders") == 0
    assert world.fake.count("GET /v2/stocks/trades/latest") == 1  # not retried


# --------------------------------------------------------------------------- the command line


def _today() -> date:
    return datetime.now(UTC).astimezone(NEW_YORK).date()


@pytest.fixture
def live_fake() -> Iterator[FakeAlpaca]:
    """For the CLI (wall clock): bars up to the session before today, prices now."""
    today = _today()
    sessions = [d for d in xnys_sessions(today - timedelta(days=200), today) if d < today]
    with FakeAlpaca(key=KEY, secret=SECRET) as server:
        server.set_clock(datetime.now(UTC))
        for symbol, first in (("UPRO", 80.0), ("TMF", 40.0)):
            server.add_asset(symbol)
            server.set_bars(symbol, {day: first + i / 100 for i, day in enumerate(sessions)})
            server.set_price(symbol, Decimal(repr(first)))
        yield server
        assert server.errors == []


@pytest.fixture
def env(live_fake: FakeAlpaca, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keys and the fake's URL in the environment, an empty state directory, and the config."""
    monkeypatch.chdir(tmp_path)  # no stray .env
    for name in ("BOT_ALLOW_LIVE_TRADING", "APCA_API_DATA_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    monkeypatch.setenv("APCA_API_BASE_URL", live_fake.url)
    monkeypatch.setenv("BOT_STATE_DIR", str(tmp_path / "state"))
    text = (ROOT / "config" / "hfea.toml").read_text()
    text = re.sub(r"\[broker\]\n(?:[^\[\n].*\n)*", "", text)
    text += '\n[broker]\nkind = "alpaca"\nconnect_timeout_seconds = 1\nread_timeout_seconds = 5\n'
    config = tmp_path / "hfea_alpaca.toml"
    config.write_text(text)
    return config


def _error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error:")]


def test_once_with_an_empty_account_is_one_error_line(
    env: Path, live_fake: FakeAlpaca, capsys: pytest.CaptureFixture[str]
) -> None:
    live_fake.inject(ACCOUNT_ROUTE, "empty_json")

    code = main(["once", "--config", str(env)])
    out, err = capsys.readouterr()

    assert code == 2
    assert _error_lines(err) == [
        "error: read the account: Alpaca sent an unexpected answer to GET /v2/account "
        "(TradeAccount: missing field id, account_number, status)"
    ]
    assert "Traceback" not in out + err
    assert live_fake.count(ACCOUNT_ROUTE) == 1
    assert live_fake.count("POST /v2/orders") == 0


def test_once_with_a_bad_bar_is_one_line_naming_the_bars_endpoint(
    env: Path,
    live_fake: FakeAlpaca,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A close that is not a number in the daily bars. Whatever today is, the fake's calendar
    is made to list it as a session, so the cycle loads bars."""
    today = _today()

    def with_today(days: list[dict[str, str]]) -> list[dict[str, str]]:
        if days and days[0]["date"] <= today.isoformat() <= days[-1]["date"]:
            others = [d for d in days if d["date"] != today.isoformat()]
            days = sorted(
                [*others, {**days[0], "date": today.isoformat()}], key=lambda d: d["date"]
            )
        return days

    edit_answer(live_fake, monkeypatch, "GET /v2/calendar", with_today, times=None)
    live_fake.inject("GET /v2/stocks/bars", "bad_json_fields")  # every close is "abc"

    code = main(["once", "--config", str(env)])
    out, err = capsys.readouterr()

    assert code == 2
    banner, *rest = out.splitlines()
    assert banner.startswith("ALPACA PAPER account")
    [line] = rest
    assert (
        ": error — load daily bars: Alpaca sent an unexpected answer to GET /v2/stocks/bars "
        "(Bar: wrong field close (float_parsing)) (0 orders)"
    ) in line
    assert "Traceback" not in out + err
    assert live_fake.count("GET /v2/stocks/bars") == 1
    assert live_fake.count("POST /v2/orders") == 0


@pytest.mark.parametrize("command", ["once", "check"])
@pytest.mark.parametrize("bad", ["test-secrét-DO-NOT-LEAK", "test-secret-€-DO-NOT-LEAK"])
def test_a_secret_with_a_non_ascii_character_is_one_line_that_never_shows_it(
    env: Path,
    live_fake: FakeAlpaca,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    *,
    command: str,
    bad: str,
) -> None:
    monkeypatch.setenv("APCA_API_SECRET_KEY", bad)

    code = main([command, "--config", str(env)])
    out, err = capsys.readouterr()

    assert code == 2
    assert err.splitlines() == [
        "error: invalid setting: APCA_API_SECRET_KEY contains a non-ASCII character (pasted "
        "from a formatted page?): an Alpaca key is printable ASCII without whitespace"
    ]
    assert out == ""
    for text in (out, err):
        assert bad not in text
        assert "DO-NOT-LEAK" not in text
    assert live_fake.requests == []  # refused before any request


# ------------------------------------------------------------------------------ settings


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("abc\u00e9def", "contains a non-ASCII character"),
        ("abc def", "contains whitespace"),
        ("abcdef\n", "contains whitespace"),
        ("abc\x7fdef", "contains a control character"),
    ],
)
@pytest.mark.parametrize("variable", ["APCA_API_KEY_ID", "APCA_API_SECRET_KEY"])
def test_settings_refuse_a_key_that_cannot_be_a_header_without_quoting_it(
    variable: str, value: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings(_env_file=None, **{variable: value})

    message = str(caught.value)
    assert message.startswith(f"invalid setting: {variable} {problem}")
    assert value not in message
    assert value.strip() not in message
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_an_empty_key_counts_as_unset_and_a_good_one_is_kept() -> None:
    settings = Settings(_env_file=None, APCA_API_KEY_ID="", APCA_API_SECRET_KEY="Ab1-_.~!")

    assert settings.api_key_id is None
    assert settings.api_secret_key is not None
    assert settings.api_secret_key.get_secret_value() == "Ab1-_.~!"


def test_another_invalid_setting_is_a_config_error_too() -> None:
    with pytest.raises(ConfigError, match=r"^invalid setting: SMTP_PORT is invalid: "):
        Settings(_env_file=None, SMTP_PORT="twenty-five")
