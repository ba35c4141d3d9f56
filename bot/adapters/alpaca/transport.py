"""alpaca-py clients made safe to run unattended, and its errors translated at the boundary.

alpaca-py (0.44) has three traps (ALPACA.md §2): no timeouts, a built-in retry that re-POSTs an
order after a 504, and raw transport exceptions. Here every client gets a (connect, read)
timeout and its own retry switched off; reads are retried by :func:`with_retries` (backoff with
jitter on transport errors, 429 and 5xx), and order submission is never retried at all.
"""

from __future__ import annotations

import functools
import json
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

import requests
from alpaca.common.exceptions import APIError
from alpaca.common.rest import RESTClient
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.trading.client import TradingClient

from bot.errors import (
    BrokerAuthError,
    BrokerError,
    DuplicateOrderError,
    OrderRejectedError,
    TransientBrokerError,
)

T = TypeVar("T")
DUPLICATE_CLIENT_ORDER_ID = 40010001


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Where the clients talk to; ``None`` means alpaca-py's default (paper unless ``live``)."""

    key_id: str = field(repr=False)
    secret_key: str = field(repr=False)  # never in a repr, a log line or a traceback's locals
    live: bool = False
    trading_url: str | None = None
    data_url: str | None = None
    connect_timeout: float = 3.05
    read_timeout: float = 20.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retries for idempotent reads: exponential backoff with full jitter."""

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    sleep: Callable[[float], None] = time.sleep


def harden(client: RESTClient, endpoints: Endpoints) -> None:
    """Give the client a timeout, switch its own retries off, ignore proxy settings on loopback."""
    timeout = (endpoints.connect_timeout, endpoints.read_timeout)
    client._session.request = functools.partial(  # type: ignore[method-assign]
        client._session.request, timeout=timeout
    )
    client._retry = 0  # our own retries for reads; never for order submission
    client._retry_codes = []
    urls = f"{endpoints.trading_url or ''} {endpoints.data_url or ''}"
    if "127.0.0.1" in urls or "localhost" in urls:
        client._session.trust_env = False


def trading_client(endpoints: Endpoints) -> TradingClient:
    """A hardened TradingClient on the paper endpoint unless ``live`` (or the URL override)."""
    client = TradingClient(
        endpoints.key_id,
        endpoints.secret_key,
        paper=not endpoints.live,
        url_override=_strip(endpoints.trading_url),
    )
    harden(client, endpoints)
    return client


def data_client(endpoints: Endpoints) -> StockHistoricalDataClient:
    """A hardened StockHistoricalDataClient (the data URL override, if any)."""
    client = StockHistoricalDataClient(
        endpoints.key_id, endpoints.secret_key, url_override=_strip(endpoints.data_url)
    )
    harden(client, endpoints)
    return client


def _strip(url: str | None) -> str | None:
    # A trailing slash would give '//v2/...' (ALPACA.md §1).
    return url.rstrip("/") if url else None


def error_code(exc: APIError) -> int | None:
    """The Alpaca error code, or None for bodies without one (HTML 502, a bare 401)."""
    try:
        code = json.loads(str(exc)).get("code")
    except (ValueError, AttributeError):
        return None
    return code if isinstance(code, int) else None


def _status(exc: APIError) -> int | None:
    try:
        value = exc.status_code
    except AttributeError:
        return None
    return int(value) if value is not None else None


def _message(exc: APIError) -> str:
    try:
        message = json.loads(str(exc)).get("message")
    except (ValueError, AttributeError):
        message = None
    return str(message) if message else str(exc)[:200]


@contextmanager
def translated(what: str) -> Iterator[None]:
    """Turn alpaca-py and requests exceptions into the bot's BrokerError family."""
    try:
        yield
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
        msg = f"{what}: no answer from Alpaca ({type(exc).__name__})"
        raise TransientBrokerError(msg) from exc
    except APIError as exc:
        raise _classify(what, exc) from exc
    except requests.exceptions.RequestException as exc:
        msg = f"{what}: request failed ({type(exc).__name__})"
        raise TransientBrokerError(msg) from exc


def _classify(what: str, exc: APIError) -> BrokerError:
    status, code, message = _status(exc), error_code(exc), _message(exc)
    text = f"{what}: Alpaca answered {status} {code or ''} {message}".replace("  ", " ")
    if code == DUPLICATE_CLIENT_ORDER_ID:
        return DuplicateOrderError(text)
    if status == 429 or (status is not None and status >= 500):
        return TransientBrokerError(text)
    if status == 401:
        return BrokerAuthError(f"{text}; check APCA_API_KEY_ID and APCA_API_SECRET_KEY")
    if status in (400, 403, 422):
        return OrderRejectedError(text)
    return BrokerError(text)


def with_retries(what: str, call: Callable[[], T], policy: RetryPolicy) -> T:
    """Run an idempotent read, retrying transient failures with backoff and jitter."""
    for attempt in range(policy.attempts):
        try:
            with translated(what):
                return call()
        except TransientBrokerError:
            if attempt == policy.attempts - 1:
                raise
            delay = min(policy.max_delay, policy.base_delay * 2**attempt)
            policy.sleep(random.uniform(0, delay))  # jitter, not cryptography
    msg = f"{what}: no attempts configured"
    raise TransientBrokerError(msg)
