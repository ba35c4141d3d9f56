"""``conforms``: ``isinstance`` against a runtime-checkable protocol, asked once per type.

Python (3.11) checks every member of a protocol on each ``isinstance`` call — tens of
microseconds, more than a whole compiled HFEA backtest spends per year of days. The answer
depends on the class alone for the frozen dataclasses this project checks (their members are
methods, properties and declared fields), so it is kept per (type, protocol).
"""

from __future__ import annotations

from typing import TypeGuard, TypeVar

T = TypeVar("T")

_ANSWERS: dict[tuple[type, type], bool] = {}


def conforms(value: object, protocol: type[T]) -> TypeGuard[T]:
    """``isinstance(value, protocol)``, remembered for ``type(value)``. (mypy wants a concrete
    class for ``type[T]``: callers passing a protocol say ``# type: ignore[type-abstract]``.)"""
    key = (type(value), protocol)
    answer = _ANSWERS.get(key)
    if answer is None:
        answer = _ANSWERS[key] = isinstance(value, protocol)
    return answer
