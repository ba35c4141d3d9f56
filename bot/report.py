"""The account tracker, printed the way the HFEA forum thread does: one line per quarter.

    2019-02: $100,000  (+0.0% since start)
    2019-05: $115,210  (+15.2% since start)

Lines fall every three months from the first recorded month, at the first cycle of that month;
the latest snapshot closes the list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from bot.journal import EquityRow


@dataclass(frozen=True, slots=True)
class TrackerLine:
    """One line of the account tracker."""

    period: str  # "2019-02", or the date of the latest snapshot
    session: date
    equity: Decimal
    return_since_start: float
    latest: bool = False

    def render(self) -> str:
        """The forum-style text line."""
        suffix = "  (latest)" if self.latest else ""
        return (
            f"{self.period}: ${self.equity:,.0f}  "
            f"({self.return_since_start:+.1%} since start){suffix}"
        )


def quarterly_lines(rows: Sequence[EquityRow]) -> list[TrackerLine]:
    """Quarterly tracker lines from equity snapshots (in recorded order)."""
    if not rows:
        return []
    start = rows[0]
    lines: list[TrackerLine] = []
    last_used: EquityRow | None = None
    year, month = start.session.year, start.session.month
    for row in rows:
        while (row.session.year, row.session.month) > (year, month):
            year, month = _add_months(year, month, 3)
        if (row.session.year, row.session.month) == (year, month) and (
            not lines or lines[-1].period != f"{year}-{month:02d}"
        ):
            lines.append(_line(f"{year}-{month:02d}", row, start.equity))
            last_used = row
    last = rows[-1]
    if last is not last_used:
        lines.append(_line(last.session.isoformat(), last, start.equity, latest=True))
    return lines


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def _line(period: str, row: EquityRow, first: Decimal, *, latest: bool = False) -> TrackerLine:
    change = float(row.equity / first - 1) if first > 0 else 0.0
    return TrackerLine(period, row.session, row.equity, change, latest)
