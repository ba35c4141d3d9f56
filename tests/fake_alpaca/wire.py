"""Wire formats shared by the fake's modules: decimals, timestamps, query values, API errors.

Trading endpoints carry decimals as JSON strings (ALPACA.md §4); requests carry them as JSON
numbers (§3). Errors are ``{"code": <8 digits>, "message": ...}`` bodies (§6), raised inside the
fake as :class:`AlpacaError` and turned into responses at the HTTP boundary.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")

JsonObject = dict[str, object]


class AlpacaError(Exception):
    """An Alpaca error response: HTTP status plus JSON body (``None`` for an empty body)."""

    def __init__(self, status: int, body: JsonObject | None) -> None:
        super().__init__(f"{status} {body}")
        self.status = status
        self.body = body


def failure(status: int, code: int | None, message: str, **extra: object) -> AlpacaError:
    """Build an :class:`AlpacaError` with Alpaca's body layout; ``code=None`` omits the code."""
    body: JsonObject = {} if code is None else {"code": code}
    body["message"] = message
    body.update(extra)
    return AlpacaError(status, body)


def not_found(message: str = "not found") -> AlpacaError:
    """404 with Alpaca's generic not-found code."""
    return failure(404, 40410000, message)


def invalid(message: str) -> AlpacaError:
    """422 with 40010001, the code Alpaca uses for malformed order fields."""
    return failure(422, 40010001, message)


def dec(value: Decimal) -> str:
    """Render a decimal as Alpaca does: plain notation, no exponent, no trailing zeros."""
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


def dec_or_none(value: Decimal | None) -> str | None:
    """:func:`dec`, passing ``None`` through (JSON ``null``)."""
    return None if value is None else dec(value)


def stamp(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds and a ``Z`` suffix (order and account timestamps)."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def stamp_or_none(moment: datetime | None) -> str | None:
    """:func:`stamp`, passing ``None`` through."""
    return None if moment is None else stamp(moment)


def bar_stamp(moment: datetime) -> str:
    """Market-data timestamps: whole seconds, UTC, ``Z`` (``2026-09-17T04:00:00Z``)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_decimal(value: object, field: str) -> Decimal:
    """Parse a JSON number or numeric string; bools, NaN and infinities are refused with 422."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise invalid(f"{field} is invalid")
    if isinstance(value, float) and not math.isfinite(value):
        raise invalid(f"{field} is invalid")
    try:
        parsed = Decimal(str(value))
    except InvalidOperation:
        raise invalid(f"{field} is invalid") from None
    if not parsed.is_finite():
        raise invalid(f"{field} is invalid")
    return parsed


def parse_time(text: str, field: str) -> datetime:
    """Parse an RFC 3339 timestamp or a bare date (midnight UTC), as the APIs accept both.

    A ``+`` that reached us unencoded arrives as a space after query decoding, so it is restored.
    """
    cleaned = text.strip().replace(" ", "+")
    try:
        if len(cleaned) == 10:
            return datetime.combine(date.fromisoformat(cleaned), time(0), UTC)
        parsed = datetime.fromisoformat(cleaned)
    except ValueError:
        raise failure(422, 42210000, f"invalid {field}: {text}") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def parse_day(text: str, field: str) -> date:
    """Parse a ``YYYY-MM-DD`` query value (or the date part of a timestamp), 422 if malformed."""
    try:
        return date.fromisoformat(text.strip()[:10])
    except ValueError:
        raise failure(422, 42210000, f"invalid {field}: {text}") from None


def parse_bool(text: str | None) -> bool:
    """alpaca-py sends query booleans as ``str(bool)`` (``True``): compare case-insensitively."""
    return text is not None and text.strip().lower() == "true"


def parse_int(text: str | None, field: str, default: int) -> int:
    """Parse an integer query value, 422 if malformed."""
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise failure(422, 42210000, f"invalid {field}: {text}") from None
