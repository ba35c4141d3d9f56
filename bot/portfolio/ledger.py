"""Per-strategy ledgers of one shared account, and the exact arithmetic that keeps them summing to
it. Pure: values in, values out; the tracker stores the postings (``bot.portfolio.wake``).

A ledger is one strategy's slice of the account: its cash (Decimal dollars) and its positions
(integer nano-shares, as ``bot.rules``). The account's position in a fund is the sum of the
ledgers: the bot owns every share of every fund its strategies trade. Every change is a
:class:`Posting` — an opening, the fills of a netted rebalance, a split, a cash difference —
applied to all ledgers at once, and built so that no share, nano-share or cent is created or
lost: each allocation below splits an integer (or a Decimal) into integer parts that sum to it
exactly (largest remainder, ties by name).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from bot.errors import StateError
from bot.rules import NANO

ZERO = Decimal(0)
MICRO_DOLLAR = Decimal("0.000001")
UNALLOCATED = "unallocated"  # the ledger of the account's cash no strategy owns


class LedgerError(StateError):
    """Fills that the strategies' wanted changes cannot explain: nothing is posted, and the
    wake stops with this error (an alert) rather than guess whose they are."""


@dataclass(frozen=True, slots=True)
class Ledger:
    """One strategy's cash and positions (nano-shares) in the shared account."""

    cash: Decimal = ZERO
    positions: Mapping[str, int] = field(default_factory=dict)

    def quantity(self, symbol: str) -> Decimal:
        """The position in shares."""
        return Decimal(self.positions.get(symbol, 0)) / NANO

    def equity(self, prices: Mapping[str, Decimal]) -> Decimal:
        """Cash plus the positions at ``prices``."""
        return self.cash + sum(
            (Decimal(n) / NANO * prices[s] for s, n in self.positions.items() if n), ZERO
        )

    def shares(self) -> dict[str, Decimal]:
        """Every non-zero position in shares."""
        return {s: Decimal(n) / NANO for s, n in sorted(self.positions.items()) if n}


@dataclass(frozen=True, slots=True)
class Change:
    """One ledger's part of a posting: cash and nano-shares added (negative: removed)."""

    cash: Decimal = ZERO
    positions: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Posting:
    """Changes to several ledgers at once, and why: stored as one journal event, atomically."""

    why: str
    changes: Mapping[str, Change]

    def payload(self) -> dict[str, Any]:
        """The journal's form (JSON): cash as exact decimal text, positions as integers."""
        return {
            "why": self.why,
            "changes": {
                name: {
                    "cash": str(change.cash),
                    "positions": {s: n for s, n in sorted(change.positions.items()) if n},
                }
                for name, change in sorted(self.changes.items())
            },
        }

    @staticmethod
    def from_payload(payload: Mapping[str, Any]) -> Posting:
        """Read back what :meth:`payload` wrote."""
        return Posting(
            str(payload["why"]),
            {
                str(name): Change(
                    Decimal(str(part["cash"])),
                    {str(s): int(n) for s, n in part["positions"].items()},
                )
                for name, part in payload["changes"].items()
            },
        )


def apply(ledgers: Mapping[str, Ledger], posting: Posting) -> dict[str, Ledger]:
    """The ledgers after ``posting`` (a ledger it names for the first time starts empty)."""
    result = dict(ledgers)
    for name, change in posting.changes.items():
        before = result.get(name, Ledger())
        positions = dict(before.positions)
        for symbol, nano in change.positions.items():
            positions[symbol] = positions.get(symbol, 0) + nano
            if positions[symbol] == 0:
                del positions[symbol]
        result[name] = Ledger(before.cash + change.cash, positions)
    return result


def replay(postings: Iterable[Posting]) -> dict[str, Ledger]:
    """The ledgers the postings add up to."""
    ledgers: dict[str, Ledger] = {}
    for posting in postings:
        ledgers = apply(ledgers, posting)
    return ledgers


def held(ledgers: Mapping[str, Ledger]) -> dict[str, int]:
    """The account's position per fund as the ledgers add up (nano-shares), zeros left out."""
    total: dict[str, int] = {}
    for ledger in ledgers.values():
        for symbol, nano in ledger.positions.items():
            total[symbol] = total.get(symbol, 0) + nano
    return {s: n for s, n in sorted(total.items()) if n}


# --- exact splits -----------------------------------------------------------------------------


def split_integer(total: int, weights: Mapping[str, int]) -> dict[str, int]:
    """``total`` in integer parts proportional to the (non-negative) ``weights``, summing to it
    exactly: each part floored toward zero, the units left over one each to the largest
    remainders (ties: the larger weight, then the name). All weights zero: nothing is split."""
    names = sorted(n for n, w in weights.items() if w > 0)
    whole = sum(weights[n] for n in names)
    if total == 0 or whole == 0:
        return dict.fromkeys(weights, 0)
    sign, size = (1 if total > 0 else -1), abs(total)
    parts = {n: size * weights[n] // whole for n in names}
    rests = {n: size * weights[n] % whole for n in names}
    left = size - sum(parts.values())
    for name in sorted(names, key=lambda n: (-rests[n], -weights[n], n))[:left]:
        parts[name] += 1
    return {n: sign * parts.get(n, 0) for n in weights}


def split_money(total: Decimal, weights: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """``total`` dollars in parts proportional to the (non-negative) ``weights``, in whole
    micro-dollars except the sub-micro rest of ``total`` itself, which goes to the first part
    of largest weight: the parts sum to ``total`` exactly."""
    names = sorted(n for n, w in weights.items() if w > 0)
    if not names or total == 0:
        return dict.fromkeys(weights, ZERO)
    micro = (total / MICRO_DOLLAR).to_integral_value(rounding=ROUND_FLOOR)
    rest = total - micro * MICRO_DOLLAR
    scale = Decimal(10) ** 12  # weights to integers: Decimal dollars or shares, to 1e-12
    integer_weights = {n: int((weights[n] * scale).to_integral_value()) for n in names}
    if not any(integer_weights.values()):
        integer_weights = dict.fromkeys(names, 1)
    parts = split_integer(int(micro), integer_weights)
    result = {n: Decimal(parts.get(n, 0)) * MICRO_DOLLAR for n in weights}
    largest = max(names, key=lambda n: (weights[n], n))
    result[largest] += rest
    return result


# --- netting ----------------------------------------------------------------------------------


def net(deltas: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    """The account's change per fund: the sum of every strategy's wanted change (nano-shares)."""
    total: dict[str, int] = {}
    for wanted in deltas.values():
        for symbol, nano in wanted.items():
            total[symbol] = total.get(symbol, 0) + nano
    return dict(sorted(total.items()))


def settle_fund(wanted: Mapping[str, int], executed: int) -> dict[str, int]:
    """What each strategy gets of one fund when the account's net change came to ``executed``.

    Strategies on the two sides of the net cross inside the account: a seller's shares go to the
    buyers without reaching the broker. What the broker did not do — the net itself (``wanted``
    summed) minus ``executed``: an order under the minimum, a whole-share short, buys scaled to
    the buying power, an order refused or never filled — is taken back from the strategies on
    the net's side, in proportion to what each wanted. Sums to ``executed`` exactly."""
    total = sum(wanted.values())
    if (executed != 0 and (executed > 0) != (total > 0)) or abs(executed) > abs(total):
        msg = f"a fill of {executed} nano-shares against a netted order of {total}"
        raise LedgerError(msg)
    missing = total - executed
    side = {n: abs(d) for n, d in wanted.items() if d != 0 and (d > 0) == (total > 0)}
    taken = split_integer(missing, side)
    return {n: d - taken.get(n, 0) for n, d in wanted.items()}


def settle_cash(
    received: Mapping[str, int],
    reference: Decimal,
    cash_flow: Decimal,
    executed: int,
) -> dict[str, Decimal]:
    """Each strategy's cash for what it ``received`` of one fund (nano-shares; negative: gave).

    Shares that cross inside the account change hands at the ``reference`` price (the close the
    plans were made at). What the broker's fills cost beyond that — the account's ``cash_flow``
    for the fund (negative for buys, fees included) against ``executed`` shares at the reference —
    falls to the strategies on the fills' side, in proportion to what each received. Sums to
    ``cash_flow`` exactly."""
    at_reference = {n: -Decimal(q) / NANO * reference for n, q in received.items()}
    beyond = cash_flow + Decimal(executed) / NANO * reference
    side = {n: Decimal(abs(q)) for n, q in received.items() if q and (q > 0) == (executed > 0)}
    if executed == 0:
        side = {}
    shares = split_money(beyond, side) if side else dict.fromkeys(received, ZERO)
    if not side and beyond != 0:
        msg = f"a cash flow of {cash_flow} for a fund with no fill"
        raise LedgerError(msg)
    return {n: at_reference[n] + shares.get(n, ZERO) for n in received}


def differences(
    ledgers: Mapping[str, Ledger], account: Mapping[str, int], funds: Iterable[str]
) -> dict[str, int]:
    """Per fund of ``funds`` (every fund a strategy of the portfolio may trade), the account's
    position minus the ledgers' sum (nano-shares), where they differ. ``account`` holds the
    broker's positions in nano-shares."""
    by_ledgers = held(ledgers)
    return {
        s: account.get(s, 0) - by_ledgers.get(s, 0)
        for s in sorted(set(funds) | set(by_ledgers))
        if account.get(s, 0) != by_ledgers.get(s, 0)
    }
