"""The trading arithmetic that the live planner and the fast backtester's loop share, written
once: plain functions over integer nano-shares (1e-9 of a share, Alpaca's finest quantity), so
the Decimal path (``bot.planner``) and the compiled loop (``bot.backtest.kernel``) call the same
code and cannot drift apart. Marked for numba (``bot.compilable``); importing this module imports
nothing else.

Legs: an order never crosses zero. Moving a position from ``held`` to ``target`` (signed nano-
shares) takes at most two legs, one that reduces what is held (a sale of a long, a cover of a
short) and one that adds (a buy of a long, a short sale); each function below returns one leg's
size, 0 when that leg is not needed.
"""

from __future__ import annotations

from bot.compilable import inlined

NANO = 1_000_000_000  # nano-shares per share


@inlined
def reduce_long(held: int, target: int) -> int:
    """Sell part or all of a long: down to the target, or to zero when the target is short."""
    return held - max(target, 0) if held > 0 and target < held else 0


@inlined
def cover_short(held: int, target: int) -> int:
    """Buy back part or all of a short: up to the target, or to zero when the target is long."""
    return min(target, 0) - held if held < 0 and target > held else 0


@inlined
def add_long(held: int, target: int) -> int:
    """Buy to open or add to a long (from zero when a short is covered first)."""
    return target - max(held, 0) if target > 0 and target > held else 0


@inlined
def add_short(held: int, target: int) -> int:
    """Sell short to open or add to a short (from zero when a long is sold first)."""
    return min(held, 0) - target if target < 0 and target < held else 0
