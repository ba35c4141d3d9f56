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

from decimal import Decimal
from typing import TypeVar

from bot.compilable import inlined

NANO = 1_000_000_000  # nano-shares per share
Number = TypeVar("Number", float, Decimal)  # the live path's Decimal, the loop's float


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


# Sizing: the same formula for both number types (the Decimal path computes it exactly, the
# loop in floats, numba compiles the float form); quantities end in integer nano-shares.


@inlined
def investable(equity: Number, fraction: Number, buffer: Number) -> Number:
    """What the strategy puts to work: its share of the equity less the cash buffer."""
    return equity * fraction * (1 - buffer)


@inlined
def capacity(equity: Number, multiplier: Number, headroom: Number) -> Number:
    """The gross exposure the margin allows, with room for slippage and fees kept aside."""
    return max(equity * multiplier, equity - equity) / (1 + headroom)


@inlined
def position_target(nano_toward_zero: int, whole: bool) -> int:
    """A target position from the exact one (nano-shares, cut toward zero): a short is whole
    shares toward the smaller short (Alpaca refuses fractional shorts), a long of a fund that is
    not fractionable whole shares down, any other long as it is."""
    if nano_toward_zero < 0:
        return -((-nano_toward_zero) // NANO * NANO)
    if whole:
        return nano_toward_zero // NANO * NANO
    return nano_toward_zero


@inlined
def buys_scale(
    by_value: Number, by_quantity: Number, available: Number, headroom: Number
) -> Number:
    """The share of the planned buys and short sales the funds allow: all of them (1) when they
    fit, else the available funds over what they need with room kept on the orders sized by
    quantity (whose fills move: slippage and fees); orders sent by value need no room."""
    needed = by_value + by_quantity
    with_room = by_value + by_quantity * (1 + headroom)
    if with_room <= available or needed == 0:
        return needed - needed + 1
    return max(available, needed - needed) / with_room


@inlined
def send_order(reduces: bool, sells: bool) -> int:
    """Which orders go first: those that reduce exposure (they free the funds the others use),
    and within each phase sells before buys; then by symbol (the caller's tie-break)."""
    return (0 if reduces else 2) + (0 if sells else 1)


# Fills and financing.


@inlined
def fill_price(close: Number, slippage: Number, sell: bool) -> Number:
    """A market order's fill in a simulation: the close, worse by the slippage."""
    return close * (1 - slippage) if sell else close * (1 + slippage)


@inlined
def financing(
    shorts: Number, over: Number, borrow_rate: Number, margin_rate: Number, nights: int
) -> Number:
    """Borrow fee on the short market value and margin interest on the gross exposure above
    equity, for ``nights`` calendar nights on a 360-day year."""
    return (shorts * borrow_rate + over * margin_rate) * nights / 360


# Money. The fees are whole units (cents per million dollars, millionths of a dollar per share,
# cents), so a fee is an exact integer of cents; each engine converts its notional to integer
# micro-dollars at one place (Decimal exactly, the loop's floats to the nearest micro-dollar).
MICRO = 1_000_000  # micro-dollars per dollar


@inlined
def ceil_div(numerator: int, denominator: int) -> int:
    """⌈numerator / denominator⌉ in integers, for a positive denominator."""
    return -((-numerator) // denominator)


@inlined
def sec_fee_cents(notional_micro: int, cents_per_million: int) -> int:
    """The SEC fee on a sale of ``notional_micro`` micro-dollars, rounded up to the cent.

    cents = notional × rate / 10¹² in micro-dollars; split at 10¹² so the product stays inside
    64 bits for any sale (the compiled loop's integers) and any rate under $92,000 a million."""
    whole, rest = divmod(notional_micro, 10**12)
    return whole * cents_per_million + ceil_div(rest * cents_per_million, 10**12)


@inlined
def taf_cents(nano_shares: int, micro_per_share: int, cap_cents: int) -> int:
    """FINRA's trading activity fee on a sale of ``nano_shares``, rounded up to the cent, capped
    per trade. cents = nano-shares × micro-dollars / 10¹³, split as ``sec_fee_cents``."""
    whole, rest = divmod(nano_shares, 10**13)
    return min(whole * micro_per_share + ceil_div(rest * micro_per_share, 10**13), cap_cents)


@inlined
def sell_fees_cents(
    nano_shares: int, notional_micro: int, sec_cents_per_million: int, taf_micro: int, cap: int
) -> int:
    """The regulatory fees on one sell (a sale of a long or a short sale): SEC plus TAF."""
    return sec_fee_cents(notional_micro, sec_cents_per_million) + taf_cents(
        nano_shares, taf_micro, cap
    )


@inlined
def reaches_minimum(notional_micro: int, minimum_micro: int) -> bool:
    """An order is sent when its value reaches the minimum order (closing a position is always
    sent, whatever its value: the caller decides that)."""
    return notional_micro >= minimum_micro
