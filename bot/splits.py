"""Splits and reverse splits of held funds: recognise them, and undo them in unadjusted bars.

Leveraged ETFs reverse-split often (1-for-4, 1-for-10, 1-for-20). Overnight the account then
holds a tenth of the shares at ten times the price. Nothing of value happened, but the bot sees
two alarming things: its holdings changed without an order (an "outside change"), and, when
Alpaca serves the bars unadjusted although the bot asks for ``adjustment=all`` (alpaca-py#780),
yesterday's close is a tenth of today's price: a +900% bad print that refuses the day, and goes
on refusing every day for as long as the jump stays inside the window the strategy reads.

These pure functions decide, from numbers alone, whether a change is a split. All three must hold:

* **A clean ratio.** The quantity went from ``q`` to ``q × new/old``, where one side of
  ``new:old`` is 1 and the other is in :data:`CLEAN_FACTORS`: exactly (to Alpaca's 9-decimal
  step), or truncated to whole shares (the fraction paid in cash). A hand trade almost never
  lands on such a number, and when it does, the price test below tells it apart.
* **The price agrees.** Over the same interval the price moved by the inverse ratio, within
  :data:`PRICE_TOLERANCE`: ``|p_after × new/old ÷ p_before − 1| ≤ 0.25``, i.e. the move once the
  split is taken out is a believable day (a 3× fund can move 25% in a day; nothing it holds can
  move 100% and look like a 1-for-2 split). The prices are those the two wakes saw, or the two
  closes either side of a jump in unadjusted bars.
* **One answer.** Exactly one clean ratio passes both tests; two (possible for tiny positions
  truncated to whole shares) mean "don't know", and the change is not taken for a split.

A jump in the bars is undone (the closes before it multiplied by ``old/new``) only when a split
corroborates it: the position changed by the same ratio since the last wake, or a split with
that ratio was recorded earlier for a window that contains the jump. A jump that nothing
corroborates is left alone, so the bad-print check refuses the day: doing nothing is safer than
trading on a price history the bot cannot explain.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from bot.closes import ClosesArrays

# Splits seen in US-listed (leveraged) ETFs, n-for-1 and 1-for-n. Deliberately small: every
# extra factor is one more way for a coincidence to pass for a split.
CLEAN_FACTORS: tuple[int, ...] = (2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 100)
PRICE_TOLERANCE = 0.25  # the split-free move between the two prices may be at most ±25%
QTY_STEP = Decimal("0.000000001")  # Alpaca's quantity step; a split result is exact to it


@dataclass(frozen=True, slots=True)
class SplitRatio:
    """``new`` shares for every ``old`` one: a 2-for-1 split is (2, 1), a 1-for-10 reverse
    split (1, 10). Quantities are multiplied by ``new/old``, prices by ``old/new``."""

    new: int
    old: int

    @property
    def reverse(self) -> bool:
        """A reverse split: fewer shares, each worth more."""
        return self.new < self.old

    @property
    def shares(self) -> Fraction:
        """What a quantity is multiplied by."""
        return Fraction(self.new, self.old)

    def __str__(self) -> str:
        return f"{self.new}-for-{self.old}"

    def describe(self) -> str:
        """``"1-for-10 reverse split"`` or ``"2-for-1 split"``."""
        return f"{self} reverse split" if self.reverse else f"{self} split"


CLEAN_RATIOS: tuple[SplitRatio, ...] = tuple(
    ratio for n in CLEAN_FACTORS for ratio in (SplitRatio(n, 1), SplitRatio(1, n))
)
_FACTORS = np.array([r.new / r.old for r in CLEAN_RATIOS])  # what a price move is scaled by
# Moves strictly between these two are shaped like no split (|move × factor − 1| > tolerance for
# every factor), with a hair of margin so that rounding at an edge falls to the full test.
_PLAIN_BELOW = min((1 - PRICE_TOLERANCE) / f for f in _FACTORS if f < 1) * (1 - 1e-9)
_PLAIN_ABOVE = max((1 + PRICE_TOLERANCE) / f for f in _FACTORS if f > 1) * (1 + 1e-9)


@dataclass(frozen=True, slots=True)
class Split:
    """A recognised split of one fund, with the numbers that show it.

    ``after`` and ``through`` bound when it happened: after the session of the last wake that
    saw the old shares, on or before the session that saw the new ones. ``effective`` is the
    first session at the new price when the bars show the jump (None when they are adjusted)."""

    symbol: str
    ratio: SplitRatio
    qty_before: Decimal
    qty_after: Decimal
    price_before: float
    price_after: float
    after: date
    through: date
    effective: date | None = None

    def payload(self) -> dict[str, Any]:
        """What the tracker records (SPLIT_DETECTED), and what :class:`KnownSplit` reads back."""
        return {
            "symbol": self.symbol,
            "ratio": str(self.ratio),
            "new": self.ratio.new,
            "old": self.ratio.old,
            "reverse": self.ratio.reverse,
            "qty_before": self.qty_before,
            "qty_after": self.qty_after,
            "price_before": self.price_before,
            "price_after": self.price_after,
            "after": self.after,
            "through": self.through,
            "effective": self.effective,
        }


@dataclass(frozen=True, slots=True)
class KnownSplit:
    """A split recorded earlier: enough to recognise its jump if the bars show it again."""

    symbol: str
    ratio: SplitRatio
    after: date
    through: date
    effective: date | None = None

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> KnownSplit:
        """Read back a SPLIT_DETECTED payload (see :meth:`Split.payload`)."""
        effective = payload.get("effective")
        return cls(
            str(payload["symbol"]),
            SplitRatio(int(payload["new"]), int(payload["old"])),
            date.fromisoformat(str(payload["after"])),
            date.fromisoformat(str(payload["through"])),
            None if effective is None else date.fromisoformat(str(effective)),
        )

    @classmethod
    def of(cls, split: Split) -> KnownSplit:
        """The part of a fresh split that later days need."""
        return cls(split.symbol, split.ratio, split.after, split.through, split.effective)

    def explains(self, jump: Jump) -> bool:
        """Same fund, a jump inside the split's window (on its day, when known), and the
        jump's size is this ratio's."""
        if jump.symbol != self.symbol or not self.after < jump.day <= self.through:
            return False
        if self.effective is not None and jump.day != self.effective:
            return False
        return price_agrees(self.ratio, jump.close_before, jump.close_after)


@dataclass(frozen=True, slots=True)
class Jump:
    """A close-to-close move in the bars that some clean split ratio would explain."""

    symbol: str
    day: date  # the first close at the new level
    close_before: float
    close_after: float


@dataclass(frozen=True, slots=True)
class Changes:
    """Holdings that changed between two wakes: the splits among them, and the rest."""

    splits: tuple[Split, ...]
    unexplained: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Adjustment:
    """One split undone in the bars: ``symbol``'s closes before ``day`` times ``old/new``."""

    symbol: str
    ratio: SplitRatio
    day: date
    rows: int


@dataclass(frozen=True, slots=True)
class Restated:
    """The closes after undoing every corroborated jump, what was undone, and the jumps left
    as they were (nothing corroborates them: the bad-print check decides about those)."""

    closes: pd.DataFrame
    adjustments: tuple[Adjustment, ...]
    unconfirmed: tuple[Jump, ...]


def quantity_ratios(before: Decimal, after: Decimal) -> tuple[SplitRatio, ...]:
    """Every clean ratio that turns ``before`` shares into ``after``.

    Exact to Alpaca's 9-decimal step, or truncated toward zero to whole shares (a broker pays
    the fraction in cash). Both must be non-zero with the same sign: a split never closes or
    flips a position."""
    if before == 0 or after == 0 or (before > 0) != (after > 0):
        return ()
    found = []
    for ratio in CLEAN_RATIOS:
        exact = before * ratio.new / ratio.old
        whole = exact.to_integral_value(rounding=ROUND_DOWN)
        if abs(after - exact) <= QTY_STEP or (whole != exact and after == whole):
            found.append(ratio)
    return tuple(found)


def price_agrees(
    ratio: SplitRatio, before: float, after: float, tolerance: float = PRICE_TOLERANCE
) -> bool:
    """Does a price going from ``before`` to ``after`` fit ``ratio``? Yes when the move left
    once the split is taken out is within ``tolerance`` (unknown prices never fit)."""
    if not (np.isfinite(before) and np.isfinite(after) and before > 0 and after > 0):
        return False
    return abs(after / before * (ratio.new / ratio.old) - 1) <= tolerance  # as in the scan


def price_ratios(
    before: float, after: float, tolerance: float = PRICE_TOLERANCE
) -> tuple[SplitRatio, ...]:
    """The clean ratios a price move fits (usually none; a jump may fit two neighbours)."""
    return tuple(r for r in CLEAN_RATIOS if price_agrees(r, before, after, tolerance))


def recognise(
    symbol: str,
    qty_before: Decimal,
    qty_after: Decimal,
    price_before: float,
    price_after: float,
    *,
    after: date,
    through: date,
) -> Split | None:
    """The split that explains a position change, when exactly one clean ratio fits both the
    quantities and the prices; None otherwise (a trade, a liquidation, or "don't know")."""
    fits = [
        r
        for r in quantity_ratios(qty_before, qty_after)
        if price_agrees(r, price_before, price_after)
    ]
    if len(fits) != 1:
        return None
    return Split(symbol, fits[0], qty_before, qty_after, price_before, price_after, after, through)


def explain_changes(
    before: Mapping[str, Decimal],
    now: Mapping[str, Decimal],
    prices_before: Mapping[str, float],
    prices_now: Mapping[str, float],
    *,
    after: date,
    through: date,
) -> Changes:
    """Sort the symbols whose quantity changed into splits and unexplained changes.

    ``prices_before`` are the prices the earlier wake saw (as traded then), ``prices_now``
    today's: a missing price means the change cannot be shown to be a split."""
    splits: list[Split] = []
    unexplained: list[str] = []
    zero = Decimal(0)
    for symbol in sorted(set(before) | set(now)):
        was, held = before.get(symbol, zero), now.get(symbol, zero)
        if was == held:
            continue
        split = recognise(
            symbol,
            was,
            held,
            prices_before.get(symbol, float("nan")),
            prices_now.get(symbol, float("nan")),
            after=after,
            through=through,
        )
        if split is None:
            unexplained.append(symbol)
        else:
            splits.append(split)
    return Changes(tuple(splits), tuple(unexplained))


def split_shaped_jumps(
    closes: pd.DataFrame,
    symbols: Iterable[str],
    tolerance: float = PRICE_TOLERANCE,
    arrays: ClosesArrays | None = None,
) -> tuple[Jump, ...]:
    """Moves between consecutive known closes (as the bad-print check measures them) that some
    clean split ratio would explain. Cheap enough to run every cycle: most days find none.
    ``arrays``: the frame's, when the caller has derived them already."""
    values = None
    if arrays is not None and arrays.values is not None:
        present = [s for s in sorted(set(symbols)) if s in arrays.position]
        values = arrays.select(present)
    else:
        position = {str(c): i for i, c in enumerate(closes.columns)}
        present = [s for s in sorted(set(symbols)) if s in position]
    if not present or len(closes) < 2:
        return ()
    if values is None:
        values = closes.to_numpy(dtype=float)[:, [position[s] for s in present]]
    plain = np.isfinite(values).all() and (values > 0).all()
    if plain and _no_split_shape(values[1:] / values[:-1], tolerance):
        return ()  # the usual day: one vectorised test
    jumps: list[Jump] = []
    for column, symbol in enumerate(present):
        known = np.isfinite(values[:, column]) & (values[:, column] > 0)
        prices = values[known, column]
        moves = prices[1:] / prices[:-1]
        shaped = (np.abs(moves[:, None] * _FACTORS - 1) <= tolerance).any(axis=1)
        if not shaped.any():
            continue
        when = closes.index[known]
        for index in np.flatnonzero(shaped):
            jumps.append(
                Jump(
                    symbol,
                    when[int(index) + 1].date(),
                    float(prices[index]),
                    float(prices[index + 1]),
                )
            )
    return tuple(jumps)


def _no_split_shape(moves: npt.NDArray[np.float64], tolerance: float) -> bool:
    """True when no move is within ``tolerance`` of a split's scale: at the usual tolerance,
    when every move lies between the split shapes nearest 1 (½ and 2), without multiplying
    each move by every factor."""
    if tolerance == PRICE_TOLERANCE and moves.min() > _PLAIN_ABOVE and moves.max() < _PLAIN_BELOW:
        return True
    return not bool((np.abs(moves[..., None] * _FACTORS - 1) <= tolerance).any())


def split_from_bars(
    symbol: str,
    qty_before: Decimal,
    qty_after: Decimal,
    jumps: Sequence[Jump],
    *,
    after: date,
    through: date,
) -> Split | None:
    """A position change that a jump in unadjusted bars corroborates: exactly one (clean ratio,
    jump) pair where the quantities fit the ratio and the jump, inside ``(after, through]``,
    fits it too. The jump's two closes are the prices before and after."""
    found = [
        Split(
            symbol,
            ratio,
            qty_before,
            qty_after,
            jump.close_before,
            jump.close_after,
            after,
            through,
            jump.day,
        )
        for ratio in quantity_ratios(qty_before, qty_after)
        for jump in jumps
        if jump.symbol == symbol
        and after < jump.day <= through
        and price_agrees(ratio, jump.close_before, jump.close_after)
    ]
    return found[0] if len(found) == 1 else None


def restate(closes: pd.DataFrame, jumps: Sequence[Jump], known: Sequence[KnownSplit]) -> Restated:
    """Undo every jump that a known split explains: ``symbol``'s closes before the jump's day
    are multiplied by ``old/new`` (1-for-10: × 10), the price they would have had in today's
    shares. A jump is undone only when every known split that explains it agrees on the ratio
    (one split recorded twice is still one split); conflicting ratios leave it alone."""
    restated = closes
    adjustments: list[Adjustment] = []
    unconfirmed: list[Jump] = []
    for jump in jumps:
        ratios = {k.ratio for k in known if k.explains(jump)}
        if len(ratios) != 1:
            unconfirmed.append(jump)
            continue
        ratio = ratios.pop()
        if restated is closes:
            restated = closes.copy()
        earlier = restated.index < pd.Timestamp(jump.day)
        restated.loc[earlier, jump.symbol] = (
            restated.loc[earlier, jump.symbol] * ratio.old / ratio.new
        )
        rows = int(restated.loc[earlier, jump.symbol].notna().sum())
        adjustments.append(Adjustment(jump.symbol, ratio, jump.day, rows))
    return Restated(restated, tuple(adjustments), tuple(unconfirmed))
