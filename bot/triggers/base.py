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
from typing import Protocol, runtime_checkable

DRIFT_PRECISION = Decimal("0.000000001")  # drift is compared at 1e-9 so 0.56 − 0.55 is 0.01


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
    """A trigger that trades when a weight drifts beyond ``width``: absolute weight points,
    or (``relative``) a fraction of the weight's own target. The fast backtester's loop
    measures both the same way as :func:`max_drift` and ``max_relative_drift``."""

    @property
    def width(self) -> Decimal:
        """The corridor's half-width."""
        ...

    @property
    def inclusive(self) -> bool:
        """True: a drift of exactly ``width`` trades too."""
        ...

    @property
    def relative(self) -> bool:
        """True: ``width`` is a fraction of each target, not weight points."""
        ...


def current_weights(
    positions: Mapping[str, Decimal], prices: Mapping[str, Decimal], sleeve_equity: Decimal
) -> dict[str, Decimal]:
    """Weights of the given positions in the sleeve; a symbol with no position weighs 0."""
    return {s: q * prices[s] / sleeve_equity for s, q in positions.items() if q != 0}


def max_drift(current: Mapping[str, Decimal], target: Mapping[str, Decimal]) -> tuple[str, Decimal]:
    """Return the symbol with the largest |current − target| and that drift, rounded to 1e-9."""
    symbols = sorted(set(current) | set(target))
    if not symbols:
        return "", Decimal(0)
    drifts = {
        s: abs(current.get(s, Decimal(0)) - target.get(s, Decimal(0))).quantize(
            DRIFT_PRECISION, rounding=ROUND_HALF_EVEN
        )
        for s in symbols
    }
    worst = max(symbols, key=lambda s: (drifts[s], s))
    return worst, drifts[worst]
