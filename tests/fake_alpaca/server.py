"""The HTTP side of the fake: a stdlib threaded server on 127.0.0.1, request log, scripted faults.

Framing follows ALPACA.md §10: HTTP/1.1 with keep-alive, an exact ``Content-Length`` on every
response, ``Content-Type: application/json`` (``text/html`` for the HTML fault bodies), never a
redirect. Every request is recorded before anything else happens, so a test can count what
alpaca-py really sent, retries included.

Faults (``inject(route, fault, times)``) are consumed one per matching request, route first,
then the wildcard ``"*"``:

==================  ============================================================================
``ok``              no fault: the request passes untouched (to aim a later fault at the n-th call)
``429``             ``{"code":42910000,"message":"rate limit exceeded"}``, nothing processed
``500``/``502``     JSON error body, nothing processed
``503``             empty body, nothing processed
``504_before``      HTML 504, nothing processed
``html_502``        HTML 502 (``APIError.code`` then raises ``JSONDecodeError``), nothing processed
``504_after_accept`` the request is processed (an order is created and filled per the policy),
                    then the answer is an HTML 504
``hang``            processed at once, the answer is sent after ``hang_seconds``
``drop``            processed, then the socket is closed without any answer
``empty_json``      200 with the body ``{}``, nothing processed (alpaca-py then raises a
                    pydantic ``ValidationError``: a ``{}`` is neither a model nor a list)
``accepted_empty``  the request is processed (``POST /v2/orders`` creates the order and the fill
                    policy acts on it; a DELETE cancels), then the answer is 200 ``{}`` whatever
                    the real outcome was
``bad_json_fields`` the request is processed; a 2xx JSON answer keeps its shape but one field
                    gets a wrong type or value (``"equity": "not-a-number"`` on the account,
                    ``"c": "abc"`` on bars, ...: the table per route is in
                    :mod:`.corruptions`); an error answer passes through unchanged. Refused by
                    ``inject`` for a route with no JSON body; with ``"*"`` such routes answer
                    normally
==================  ============================================================================
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass, replace
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, get_args
from urllib.parse import parse_qs, unquote, urlsplit

from .broker import AccountKind, FakeBroker
from .corruptions import CORRUPTIONS, corrupt
from .routes import (
    ROUTES,
    ApiRequest,
    Reply,
    failure_reply,
    json_reply,
    resolve,
    route_key,
    unknown_route,
)
from .wire import AlpacaError

Fault = Literal[
    "ok",
    "429",
    "500",
    "502",
    "503",
    "504_after_accept",
    "504_before",
    "hang",
    "drop",
    "html_502",
    "empty_json",
    "accepted_empty",
    "bad_json_fields",
]
FAULTS: frozenset[str] = frozenset(get_args(Fault))
AFTER_PROCESSING: frozenset[str] = frozenset(
    {"504_after_accept", "hang", "drop", "accepted_empty", "bad_json_fields"}
)
ANY_ROUTE = "*"

_HTML = "<html><head><title>{0}</title></head><body><center><h1>{0}</h1></center></body></html>"


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it (``body`` is the parsed JSON object, if any).

    ``status`` is the HTTP status the fake answered with (``None`` until answered, and for a
    ``drop``).
    """

    method: str
    path: str
    query: dict[str, str]
    body: dict[str, Any] | None
    headers: dict[str, str]
    route: str
    status: int | None = None


@dataclass(frozen=True)
class _Outcome:
    reply: Reply | None  # None: drop the connection
    delay: float = 0.0


class _InvalidJson:
    """Marker for a request body that is not JSON."""


def fault_reply(fault: str) -> Reply:
    """The canned response of a fault that answers without processing (or after, for 504 and
    ``accepted_empty``)."""
    if fault == "429":
        return json_reply({"code": 42910000, "message": "rate limit exceeded"}, 429)
    if fault in {"500", "502"}:
        status = int(fault)
        message = "internal server error" if status == 500 else "bad gateway"
        return json_reply({"code": status * 100000 + 10000, "message": message}, status)
    if fault == "503":
        return Reply(503)
    if fault in {"empty_json", "accepted_empty"}:
        return json_reply({})
    status, title = (
        (502, "502 Bad Gateway") if fault == "html_502" else (504, "504 Gateway Time-out")
    )
    return Reply(status, _HTML.format(title).encode(), "text/html")


class FakeAlpaca(FakeBroker):
    """A fake Alpaca (trading + stock data) on ``127.0.0.1`` for the real alpaca-py clients.

    Use as a context manager or call :meth:`start`/:meth:`stop`. State, rules and test controls
    are inherited from :class:`~tests.fake_alpaca.broker.FakeBroker`::

        with FakeAlpaca(cash=Decimal("50000")) as fake:
            fake.add_asset("SSO")
            fake.set_price("SSO", Decimal("100"))
            fake.inject("POST /v2/orders", "504_after_accept")
            client = TradingClient("test-key", "test-secret", url_override=fake.url)
            client._session.trust_env = False  # and client._retry_wait = 0
            ...
            assert fake.count("POST /v2/orders") == 2

    ``account_kind`` (``"margin"``, ``"cash"``, ``"ira"``) and the market-buy collar
    (``collar``, on by default) are described in :mod:`tests.fake_alpaca.broker`.

    Extra knobs: ``hang_seconds`` (default 3.0), ``max_page_size`` (bars page cap),
    ``sip_delay`` (recent SIP bars refused, :mod:`.market_data`; ``None`` for a paid plan),
    ``errors`` (tracebacks of bugs inside the fake: assert it stays empty).
    """

    def __init__(
        self,
        *,
        cash: Decimal = Decimal("100000"),
        multiplier: Decimal | None = None,
        shorting_enabled: bool | None = None,
        account_kind: AccountKind = "margin",
        key: str = "test-key",
        secret: str = "test-secret",
    ) -> None:
        super().__init__(
            cash=cash,
            multiplier=multiplier,
            shorting_enabled=shorting_enabled,
            account_kind=account_kind,
        )
        self.key = key
        self.secret = secret
        self.hang_seconds = 3.0
        self.errors: list[str] = []
        self._requests: list[RecordedRequest] = []
        self._faults: dict[str, deque[str]] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, no trailing slash (valid after :meth:`start`)."""
        if self._server is None:
            msg = "FakeAlpaca is not started"
            raise RuntimeError(msg)
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        """Bind an ephemeral port and serve in a daemon thread."""
        if self._server is not None:
            return
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, close the port and any open keep-alive connections."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.close_connections()
        if thread is not None:
            thread.join()

    def __enter__(self) -> FakeAlpaca:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------- log and faults

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in arrival order (a copy)."""
        with self.lock:
            return list(self._requests)

    def count(self, route: str) -> int:
        """How many requests hit ``route`` (a key such as ``"POST /v2/orders"``)."""
        return sum(1 for r in self.requests if r.route == route)

    def inject(self, route: str, fault: Fault, times: int = 1) -> None:
        """Make the next ``times`` requests to ``route`` (or ``"*"``: any route) fail so."""
        if fault not in FAULTS:
            msg = f"unknown fault {fault!r}; one of {sorted(FAULTS)}"
            raise ValueError(msg)
        if route != ANY_ROUTE and route not in {r.key for r in ROUTES}:
            msg = f"unknown route {route!r}; one of {[r.key for r in ROUTES]}"
            raise ValueError(msg)
        if fault == "bad_json_fields" and route != ANY_ROUTE and route not in CORRUPTIONS:
            msg = f"{route!r} answers no JSON body: bad_json_fields has nothing to corrupt"
            raise ValueError(msg)
        with self.lock:
            self._faults.setdefault(route, deque()).extend([fault] * times)

    def _take_fault(self, route: str) -> str | None:
        for key in (route, ANY_ROUTE):
            queue = self._faults.get(key)
            if queue:
                fault = queue.popleft()
                return None if fault == "ok" else fault  # "ok": this one passes untouched
        return None

    # --------------------------------------------------------------------------- serving

    def dispatch(self, method: str, target: str, headers: dict[str, str], raw: bytes) -> _Outcome:
        """Record, apply any fault, authenticate, route; called on the handler's thread."""
        split = urlsplit(target)
        path = unquote(split.path)
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        body = _parse_body(raw)
        route = route_key(method, path)
        with self.lock:
            recorded = body if isinstance(body, dict) else None
            self._requests.append(RecordedRequest(method, path, query, recorded, headers, route))
            index = len(self._requests) - 1
            fault = self._take_fault(route)
        outcome = self._respond(ApiRequest(method, path, query, body), headers, fault, route)
        if outcome.reply is not None:
            with self.lock:
                self._requests[index] = replace(self._requests[index], status=outcome.reply.status)
        return outcome

    def _respond(
        self, request: ApiRequest, headers: dict[str, str], fault: str | None, route: str
    ) -> _Outcome:
        if fault is not None and fault not in AFTER_PROCESSING:
            return _Outcome(fault_reply(fault))
        reply = self._process(request, headers)
        if fault == "drop":
            return _Outcome(None)
        if fault == "hang":
            return _Outcome(reply, self.hang_seconds)
        if fault == "bad_json_fields":
            return _Outcome(_corrupted(reply, route))
        return _Outcome(fault_reply(fault) if fault else reply)

    def _process(self, request: ApiRequest, headers: dict[str, str]) -> Reply:
        if not self._authorized(headers):
            return json_reply({"message": "unauthorized."}, 401)
        if isinstance(request.body, _InvalidJson):
            return json_reply({"code": 40010000, "message": "request body format is invalid"}, 400)
        found = resolve(request.method, request.path)
        if found is None:
            return failure_reply(unknown_route())
        route, params = found
        with self.lock:
            try:
                return route.handler(self, request, params)
            except AlpacaError as error:
                return failure_reply(error)
            except Exception as error:  # a bug in the fake or the test setup: surface it
                self.errors.append(traceback.format_exc())
                message = f"fake internal error: {error!r}"
                return json_reply({"code": 50010000, "message": message}, 500)

    def _authorized(self, headers: dict[str, str]) -> bool:
        lowered = {k.lower(): v for k, v in headers.items()}
        return (
            lowered.get("apca-api-key-id") == self.key
            and lowered.get("apca-api-secret-key") == self.secret
        )


def _corrupted(reply: Reply, route: str) -> Reply:
    """``reply`` with the ``bad_json_fields`` change of its route, if it is a 2xx JSON body."""
    if not 200 <= reply.status < 300 or not reply.body or route not in CORRUPTIONS:
        return reply
    return json_reply(corrupt(route, json.loads(reply.body)), reply.status)


def _parse_body(raw: bytes) -> object | None:
    if not raw.strip():
        return None
    try:
        parsed: object = json.loads(raw)
    except ValueError:
        return _InvalidJson()
    return parsed


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, fake: FakeAlpaca) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def track(self, connection: socket.socket, *, open_: bool) -> None:
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the peer
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes; without this, Nagle + delayed ACK cost ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, open_=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, open_=False)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = dict(self.headers.items())
        outcome = self.server.fake.dispatch(self.command, self.path, headers, raw)
        if outcome.delay:
            time.sleep(outcome.delay)
        if outcome.reply is None:
            self.close_connection = True
            return
        self._send(outcome.reply)

    def _send(self, reply: Reply) -> None:
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except OSError:  # the client gave up (a 'hang' past its timeout) or the fake stopped
            self.close_connection = True
