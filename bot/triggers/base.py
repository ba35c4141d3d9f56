"""What every trigger shares: the decision it returns, what it decides from, and drift.

A trigger answers one question, from values only: given today, the sessions around it, the
sleeve's weights now and the targets, and the last rebalance done, trade now or not, and under
which rebalance key. Each kind is one module of this package implementing :class:`Trigger`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Protocol, TypeVar, runtime_checkable

DRIFT_PRECISION = Decimal("0.000000001")  # drift is compared at 1e-9 so 0.56 − 0.55 is 0.01
INFINITE = Decimal("Infinity")
ZERO = Decimal(0)

Number = TypeVar("Number", float, Decimal)
Measure = Callable[[Number, Number], Number]
"""How far one weight is from its target: ``measure(current, target) ≥ 0``, or ``math.inf``.

A corridor's measure is a plain function of two numbers, written once in the trigger's module:
the cycle calls it with Decimals (:func:`worst_drift`), the fast backtester's loop with floats,
and numba compiles it for the compiled loop (``bot.backtest.compiled.measure``), so it may use
only arithmetic, comparisons, ``abs`` and ``math``."""


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether to trade now, the rebalance key that names the trade, and a readable reason."""

    trade: bool
    reason: str
    rebalance_key: str
    late: bool = False
    forced: bool = False  # a manual --force: never counts as the schedule's rebalance


@dataclass(frozen=True, slots=True)
class TriggerInput:
    """Everything a trigger may decide from. ``last_done_key`` is asked only by the triggers
    that need it (a journal lookup), so a corridor costs nothing for it."""

    today: date
    sessions: Sequence[date]  # sorted trading days around today, extending past it
    current: Mapping[str, Decimal]  # the sleeve's weights now (a symbol not held is absent)
    target: Mapping[str, Decimal]
    last_done_key: Callable[[], str | None]


class Trigger(Protocol):
    """When a strategy trades. Pure: the same input gives the same decision."""

    @property
    def kind(self) -> str:
        """The config's ``[trigger] kind`` this rule comes from."""
        ...

    def decide(self, now: TriggerInput) -> Decision:
        """Trade now or not, and why."""
        ...


@runtime_checkable
class Scheduled(Protocol):
    """A trigger that trades on dates known in advance: the fast backtester lays them out."""

    def rebalance_dates(self, sessions: Sequence[date]) -> list[tuple[date, str]]:
        """(session, rebalance key) of every scheduled rebalance within ``sessions``."""
        ...


@runtime_checkable
class Corridor(Protocol):
    """A trigger that trades when any weight drifts beyond ``width`` by its :data:`Measure`
    (rounded to 1e-9), strictly unless ``inclusive``. The cycle and the fast backtester's loop
    call the same ``measure``: a new corridor kind is its module, its config and its tests."""

    @property
    def width(self) -> Decimal:
        """The corridor's half-width."""
        ...

    @property
    def inclusive(self) -> bool:
        """True: a drift of exactly ``width`` trades too."""
        ...

    @property
    def measure(self) -> Measure[float]:
        """How far one weight is from its target (see :data:`Measure`)."""
        ...


def current_weights(
    positions: Mapping[str, Decimal], prices: Mapping[str, Decimal], sleeve_equity: Decimal
) -> dict[str, Decimal]:
    """Weights of the given positions in the sleeve; a symbol with no position weighs 0."""
    return {s: q * prices[s] / sleeve_equity for s, q in positions.items() if q != 0}


def max_drift(current: Mapping[str, Decimal], target: Mapping[str, Decimal]) -> tuple[str, Decimal]:
    """Return the symbol with the largest |current − target| and that drift, rounded to 1e-9."""
    return worst_drift(current, target, absolute_drift)


def absolute_drift(current: Number, target: Number) -> Number:
    """Weight points: |current − target| (the drift corridor's measure, and the residual's)."""
    return abs(current - target)


def worst_drift(
    current: Mapping[str, Decimal], target: Mapping[str, Decimal], measure: Measure[Decimal]
) -> tuple[str, Decimal]:
    """The symbol farthest from its target by ``measure`` and that distance, rounded to 1e-9
    half to even (infinite stays infinite); a symbol not held weighs 0. Ties go to the last
    symbol by name, as in the fast backtester."""
    symbols = sorted(set(current) | set(target))
    if not symbols:
        return "", Decimal(0)
    drifts = {s: _rounded(measure(current.get(s, ZERO), target.get(s, ZERO))) for s in symbols}
    worst = max(symbols, key=lambda s: (drifts[s], s))
    return worst, drifts[worst]


def _rounded(value: Decimal | float) -> Decimal:
    drift = value if isinstance(value, Decimal) else Decimal(value)  # math.inf from a measure
    if not drift.is_finite():
        return INFINITE
    return drift.quantize(DRIFT_PRECISION, rounding=ROUND_HALF_EVEN)
