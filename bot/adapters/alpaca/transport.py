"""alpaca-py clients made safe to run unattended, and its errors translated at the boundary.

alpaca-py (0.44) has three traps (ALPACA.md §2): no timeouts, a built-in retry that re-POSTs an
order after a 504, and raw transport exceptions. Here every client gets a (connect, read)
timeout and its own retry switched off; reads are retried by :func:`with_retries` (backoff with
jitter on transport errors, 429 and 5xx), and order submission is never retried at all.

An answer that does not parse (a 2xx that is not JSON, a missing field, a field of the wrong type,
a number that is not one) becomes one BrokerError naming what was being done and the endpoint. It
is not retried: Alpaca would most likely send the same again. On an order submission it means the
order may exist, so it is a TransientBrokerError and the caller looks the order up by its
client_order_id (bot.execution does). Messages are built from field names and exception types,
never from the payload or the exception's own text, so no value (a key, a secret) can leak.
"""

from __future__ import annotations

import functools
import json
import random
import re
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
from pydantic import ValidationError

from bot.errors import (
    BrokerAuthError,
    BrokerError,
    DuplicateOrderError,
    OrderRejectedError,
    TransientBrokerError,
    UnexpectedAnswerError,
    UnknownOutcomeError,
)
from bot.logs import redact_text, register_secret

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
    stopped: Callable[[], bool] = lambda: False  # a stop request ends the retries at once


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
    register_secret(endpoints.secret_key)  # redacted from every log line and error message
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
    register_secret(endpoints.secret_key)
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


class BadFieldError(ValueError):
    """Raised by our own conversions: a field of Alpaca's answer is missing or unusable.

    Carries the field's name and what is wrong, never its value; :func:`translated` turns it
    into a BrokerError.
    """

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"field {name}: {problem}")
        self.name = name
        self.problem = problem


# Exceptions that mean "the answer was not what alpaca-py or our conversions expected".
# pydantic's ValidationError, json.JSONDecodeError and decimal.InvalidOperation are among them
# (ValueError, ValueError, ArithmeticError); KeyError and IndexError are LookupErrors.
MALFORMED = (LookupError, TypeError, AttributeError, ValueError, ArithmeticError)
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,39}")  # a JSON field name: never a key id or a secret
_MODEL = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,59}")  # a pydantic model's (class) name
_MAX_NAMES = 5


@contextmanager
def translated(
    what: str, *, endpoint: str | None = None, outcome_unknown: bool = False
) -> Iterator[None]:
    """Turn alpaca-py, requests and parsing exceptions into the bot's BrokerError family.

    ``what`` says what was being done ("read the account"), ``endpoint`` where
    ("GET /v2/account"). An unparsable answer is a plain BrokerError (not retried), unless
    ``outcome_unknown``: a request that changes state was sent and may have taken effect, so it
    is a TransientBrokerError and the caller must find out what happened.
    """
    try:
        yield
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
        msg = f"{what}: no answer from Alpaca ({type(exc).__name__})"
        raise TransientBrokerError(msg) from exc
    except APIError as exc:
        raise _classify(what, exc) from exc
    except UnicodeEncodeError:
        # http.client encodes headers as Latin-1: a key with another character fails before
        # anything is sent. The exception holds the header's value: never show it.
        msg = (
            f"{what}: the Alpaca key or secret contains a character that cannot be sent in an "
            "HTTP header; check APCA_API_KEY_ID and APCA_API_SECRET_KEY (printable ASCII only)"
        )
        raise BrokerAuthError(msg) from None
    except json.JSONDecodeError as exc:  # requests' JSONDecodeError too (checked before below)
        raise unexpected_answer(what, exc, endpoint, outcome_unknown=outcome_unknown) from exc
    except requests.exceptions.RequestException as exc:
        msg = f"{what}: request failed ({type(exc).__name__})"
        raise TransientBrokerError(msg) from exc
    except MALFORMED as exc:
        raise unexpected_answer(what, exc, endpoint, outcome_unknown=outcome_unknown) from exc


def unexpected_answer(
    what: str, exc: BaseException, endpoint: str | None = None, *, outcome_unknown: bool = False
) -> BrokerError:
    """One clear error for an answer that does not parse; never quotes the answer itself."""
    to = f" to {endpoint}" if endpoint else ""
    text = f"{what}: Alpaca sent an unexpected answer{to} ({describe(exc)})"
    if outcome_unknown:
        return UnknownOutcomeError(f"{text}; the outcome is unknown")
    return UnexpectedAnswerError(text)


def describe(exc: BaseException) -> str:
    """What was wrong, in field names and exception types only (no values, no payload)."""
    if isinstance(exc, ValidationError):
        return _describe_validation(exc)
    if isinstance(exc, json.JSONDecodeError):
        return "not JSON"
    if isinstance(exc, BadFieldError):
        return f"field {_safe_name(exc.name)}: {exc.problem}"
    if isinstance(exc, KeyError):
        key = exc.args[0] if exc.args else None
        return f"missing field {_safe_name(key)}"
    if isinstance(exc, AttributeError) and exc.name is not None:
        return f"missing field {_safe_name(exc.name)}"
    return type(exc).__name__


def _describe_validation(exc: ValidationError) -> str:
    missing: list[str] = []
    wrong: list[str] = []
    for error in exc.errors(include_url=False, include_context=False, include_input=False):
        field = _location(error["loc"])
        if error["type"] == "missing":
            missing.append(field)
        else:
            wrong.append(f"{field} ({_safe_name(error['type'])})")
    parts = []
    if missing:
        parts.append(f"missing field {_names(missing)}")
    if wrong:
        parts.append(f"wrong field {_names(wrong)}")
    model = exc.title if _MODEL.fullmatch(exc.title) else "?"
    return f"{model}: {'; '.join(parts) or 'invalid'}"


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        name = _safe_name(part)
        text += name if name.startswith("[") or not text else f".{name}"
    return text or "(top level)"


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:_MAX_NAMES])
    more = len(names) - _MAX_NAMES
    return f"{shown} and {more} more" if more > 0 else shown


def _safe_name(part: object) -> str:
    """A field name or list index as is; anything else (it could be a value) as '?'."""
    if isinstance(part, int) and not isinstance(part, bool):
        return f"[{part}]"
    if isinstance(part, str) and _NAME.fullmatch(part):
        return part
    return "?"


def _classify(what: str, exc: APIError) -> BrokerError:
    status, code, message = _status(exc), error_code(exc), redact_text(_message(exc))
    # "read account: Alpaca answered 401: unauthorized" (Alpaca's own text, its full stop off,
    # so that what we add after it reads as one sentence).
    text = f"{what}: Alpaca answered {status}" + (f" (code {code})" if code else "")
    if message.strip(" ."):
        text += f": {message.strip().rstrip('.')}"
    if code == DUPLICATE_CLIENT_ORDER_ID:
        return DuplicateOrderError(text)
    if status == 429 or (status is not None and status >= 500):
        return TransientBrokerError(text)
    if status == 401:
        return BrokerAuthError(
            f"{text} — the key was refused: check APCA_API_KEY_ID and APCA_API_SECRET_KEY "
            "(paper and live accounts have different keys)"
        )
    if status in (400, 403, 422):
        return OrderRejectedError(text)
    return BrokerError(text)


def with_retries(
    what: str, call: Callable[[], T], policy: RetryPolicy, *, endpoint: str | None = None
) -> T:
    """Run an idempotent read, retrying transient failures with backoff and jitter (an answer
    that does not parse is not transient: it is raised at once)."""
    for attempt in range(policy.attempts):
        try:
            with translated(what, endpoint=endpoint):
                return call()
        except TransientBrokerError:
            if attempt == policy.attempts - 1 or policy.stopped():
                raise  # a SIGTERM must not wait out a flaky broker's retries
            delay = min(policy.max_delay, policy.base_delay * 2**attempt)
            policy.sleep(random.uniform(0, delay))  # jitter, not cryptography
    msg = f"{what}: no attempts configured"
    raise TransientBrokerError(msg)
