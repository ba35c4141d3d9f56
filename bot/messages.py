"""What the bot says when it refuses or fails a rebalance, and the form of its order ids.

Defined once: the cycle (``bot.cycle``, ``bot.planner``, ``bot.checks``, ``bot.execution``) and
the fast backtester (``bot.backtest.fast``, which words the kernel's error codes) both call these,
so a backtest's refused days read exactly like the live bot's, and the id a backtest reports is
the id the live bot would have sent. Pure string formatting; no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

MAX_ID_LENGTH = 48  # Alpaca's documented limit on client_order_id
MIN_EQUITY_TO_SHORT = Decimal(2000)  # Alpaca: a margin account with less cannot short


def client_order_id(strategy: str, rebalance_key: str, symbol: str, leg: str) -> str:
    """``{strategy}-{rebalance key}-{symbol}-{leg}``: derived from the intent alone, so a retry
    or a restart can never mint a new id for the same need."""
    return f"{strategy}-{rebalance_key}-{symbol}-{leg}"


def attempt_id(base_id: str, attempt: int) -> str:
    """The id of a later attempt of one intent (``-a2``, ``-a3`` …): a broker never accepts a
    used id again, so a new need after a finished attempt goes out under the next suffix."""
    return f"{base_id}-a{attempt}"


def pre_trade_failed(problems: Iterable[str]) -> str:
    """The one line for a cycle stopped by its pre-trade checks."""
    return "pre-trade checks failed: " + "; ".join(problems)


def short_equity(equity: Decimal | float) -> str:
    """Shorts need $2,000 of equity (a smaller margin account is 1× and cannot short)."""
    return f"shorting needs equity ≥ $2,000; the account has ${equity:,.2f}"


def no_equity(equity: Decimal | float) -> str:
    """Nothing to size a rebalance against."""
    return f"account equity is {equity}: nothing to rebalance"


def shorts_not_allowed(symbols: Iterable[str]) -> str:
    """The strategy's targets short something its sizing does not allow."""
    return f"target shorts {', '.join(symbols)} but shorts are not allowed for this strategy"


INSUFFICIENT_BUYING_POWER = "insufficient buying power"  # Alpaca's words, and the simulator's
OVER_CAPACITY = "the targets need more gross exposure than the account's margin allows"


def over_capacity_skipped(scale: float) -> str:
    """``over_capacity = 'skip'``: the targets would fit only scaled down, so no trade."""
    return f"{OVER_CAPACITY} (they would fit at {scale:.1%}); over_capacity = 'skip': no trade"


def order_ended(cid: str, leg: str, qty: object, symbol: str, *, ended: str, reason: str) -> str:
    """``order ID (leg QTY SYMBOL) ended rejected: reason`` — how every order outcome reads."""
    return f"order {cid} ({leg} {qty} {symbol}) {ended}: {reason}"


def still_refused(order: str, resizes: int, off: str = "") -> str:
    """A buy the broker refused after every re-size; ``off`` says how far the book is left."""
    where = f": {off}" if off else ""
    return (
        f"{order}; re-sized and sent again up to {resizes} times and still refused{where}; "
        "the rebalance stays due"
    )


def incomplete(key: str, symbol: str, residual: Decimal | float, tolerance: Decimal) -> str:
    """A rebalance whose worst weight is still beyond the residual tolerance after its orders."""
    return (
        f"rebalance {key} incomplete: {symbol} is still {residual * 100:.2f} pp off target"
        f" (tolerance {tolerance * 100} pp); it will be retried on the next run"
    )
