"""Marks for plain functions that numba may compile: the fast backtester's loop and what it calls.

A marked function stays the plain Python function it was: importing a module of marked functions
imports neither numba nor anything else, so the daemon and ``bot backtest`` never pay for it.
``bot.backtest.compiled`` builds the numba-compiled twin of those modules on request (the
``backtest`` extra: ``pip install 'letf-rebalancer[backtest]'``); both run the same code.

Rules for marked code: what numba's ``nopython`` mode accepts (numbers, numpy arrays, tuples,
``math``), and calls to other marked functions by their module-level names (``_equity(...)`` or
``rules.floor_nano(...)`` for a module listed in ``bot.backtest.compiled.MODULES``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

MARK = "__numba_options__"  # the attribute holding numba.njit's options for a marked function


def compiled(function: F) -> F:
    """An entry point called from Python: compiled on its own (cached on disk)."""
    setattr(function, MARK, {"nogil": True})
    return function


def inlined(function: F) -> F:
    """Compiled into each caller: a call passing arrays costs reference counting per array,
    which on the per-day path costs more than the work."""
    setattr(function, MARK, {"nogil": True, "inline": "always"})
    return function


def numba_options(value: object) -> dict[str, Any] | None:
    """The options ``value`` was marked with, or None when it is not a marked function."""
    options = getattr(value, MARK, None) if callable(value) else None
    return dict(options) if isinstance(options, dict) else None
