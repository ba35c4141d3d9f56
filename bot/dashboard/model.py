"""The dashboard's numbers, as pure functions of recorded values: equity series, drawdowns, the
benchmark rebased to the account, positions inside their corridor, and the implementation
shortfall (the account against the strategy's own backtest of the same days).

Nothing here reads a file or the time: the shell (``bot.dashboard.state``) passes in what the
tracker recorded and what the backtest produced, so every figure on the page can be checked by
hand from the same inputs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from bot.journal import EquityRow

Point = tuple[date, float]


def daily_equity(rows: Iterable[EquityRow], *, sleeve: bool) -> list[Point]:
    """One value per session, the last snapshot of that session (a re-run of a day after a
    restart records a second snapshot; the later one is what the account ended the day with).
    ``sleeve``: the strategy's own share, else the whole account's equity."""
    by_day: dict[date, float] = {}
    for row in rows:
        by_day[row.session] = float(row.sleeve_equity if sleeve else row.equity)
    return sorted(by_day.items())


def as_rows(points: Sequence[Point], strategy: str) -> list[EquityRow]:
    """Points as equity rows (for ``bot.report.quarterly_lines``, the forum-style lines)."""
    return [
        EquityRow(day.isoformat(), day, strategy, Decimal(repr(v)), Decimal(repr(v)))
        for day, v in points
    ]


def drawdown(values: Sequence[float]) -> list[float]:
    """DD_t = V_t / max_{s≤t} V_s − 1: how far below its best the account stands each day."""
    out, peak = [], float("-inf")
    for value in values:
        peak = max(peak, value)
        out.append(value / peak - 1 if peak > 0 else 0.0)
    return out


def max_drawdown(points: Sequence[Point]) -> tuple[float, date | None, date | None]:
    """The deepest drawdown, the peak day it fell from and the day it was reached."""
    worst, worst_day, peak_day, best, best_day = 0.0, None, None, float("-inf"), None
    for day, value in points:
        if value > best:
            best, best_day = value, day
        depth = value / best - 1 if best > 0 else 0.0
        if depth < worst:
            worst, worst_day, peak_day = depth, day, best_day
    return worst, peak_day, worst_day


def rebased(points: Sequence[Point], closes: Mapping[date, float]) -> list[Point]:
    """A buy-and-hold of the benchmark with the account's first equity, on the account's days
    that have a close (a day without one is left out, never filled in)."""
    days = [(day, closes[day]) for day, _ in points if day in closes]
    if not points or not days:
        return []
    start_value, start_close = points[0][1], days[0][1]
    return [(day, start_value * close / start_close) for day, close in days]


@dataclass(frozen=True, slots=True)
class PositionRow:
    """One fund: its target, where it stands, and the corridor it may drift in."""

    symbol: str
    target: float | None
    current: float | None
    drift: float | None
    qty: str
    lower: float | None  # the corridor's edges around the target (None without a corridor)
    upper: float | None
    outside: bool  # beyond the corridor now: the next wake trades (a corridor trigger)


def corridor_rows(
    symbols: Iterable[Mapping[str, object]], width: float | None, *, relative: bool = False
) -> list[PositionRow]:
    """Each symbol's row of ``bot status`` with its corridor: target ± ``width`` (absolute
    points), or target × (1 ± ``width``) for a relative corridor."""
    rows = []
    for row in symbols:
        target = _num(row.get("target"))
        current = _num(row.get("current"))
        drift = _num(row.get("drift"))
        lower = upper = None
        if width is not None and target is not None:
            band = abs(target) * width if relative else width
            lower, upper = target - band, target + band
        outside = (
            lower is not None
            and upper is not None
            and current is not None
            and not lower <= current <= upper
        )
        rows.append(
            PositionRow(
                str(row["symbol"]), target, current, drift, str(row.get("qty", "0")), lower, upper,
                outside,
            )
        )  # fmt: skip
    return rows


def _num(value: object) -> float | None:
    return None if value is None else float(str(value))


# --- live against backtest ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fill:
    """One fill the account recorded: the day, the fund, buy or sell, shares, price, fees."""

    day: date
    symbol: str
    side: str
    qty: float
    price: float
    fees: float


def fills_away_from_close(fills: Iterable[Fill], closes: Mapping[tuple[date, str], float]) -> float:
    """What the fills cost against filling at that day's close, in dollars (positive: worse
    than the close): a buy above it or a sell below it. A fill without a close is left out."""
    cost = 0.0
    for fill in fills:
        close = closes.get((fill.day, fill.symbol))
        if close is None:
            continue
        away = fill.price - close if fill.side == "buy" else close - fill.price
        cost += fill.qty * away
    return cost


@dataclass(frozen=True, slots=True)
class Shortfall:
    """The gap between the account and its backtest at the last common day, split into what
    is known: fills away from the close and fees (each the account's minus the backtest's,
    as a gain to the account: negative when live did worse), and the rest (timing: days
    skipped, late or traded differently; the cash held; rounding to whole cents and shares)."""

    day: date
    live: float
    backtest: float
    gap: float
    fills: float
    fees: float
    other: float
    live_fill_cost: float
    backtest_fill_cost: float
    live_fees: float
    backtest_fees: float

    def as_dict(self) -> dict[str, object]:
        """JSON-ready values."""
        return {
            "day": self.day.isoformat(),
            "live": self.live,
            "backtest": self.backtest,
            "gap": self.gap,
            "gap_pct": self.gap / self.backtest if self.backtest else None,
            "causes": {
                "fills_away_from_close": self.fills,
                "fees": self.fees,
                "other": self.other,
            },
            "live_fill_cost": self.live_fill_cost,
            "backtest_fill_cost": self.backtest_fill_cost,
            "live_fees": self.live_fees,
            "backtest_fees": self.backtest_fees,
        }


def shortfall(
    live: Sequence[Point],
    backtest: Sequence[Point],
    *,
    live_fill_cost: float,
    backtest_fill_cost: float,
    live_fees: float,
    backtest_fees: float,
) -> Shortfall | None:
    """The implementation shortfall on the last day both curves have (None if they share
    none). The known causes are dollars paid, not compounded; what they do not explain is
    ``other``, so the parts always add up to the gap."""
    backtest_by_day = dict(backtest)
    common = [(day, value) for day, value in live if day in backtest_by_day]
    if not common:
        return None
    day, live_end = common[-1]
    bt_end = backtest_by_day[day]
    gap = live_end - bt_end
    fills = -(live_fill_cost - backtest_fill_cost)
    fees = -(live_fees - backtest_fees)
    return Shortfall(
        day, live_end, bt_end, gap, fills, fees, gap - fills - fees,
        live_fill_cost, backtest_fill_cost, live_fees, backtest_fees,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class DayDifference:
    """A day on which the account and its backtest did not do the same thing."""

    day: date
    live: str  # the account's outcome: traded, held, error, planned, or "no cycle"
    backtest: str
    late: bool

    def describe(self) -> str:
        """One line for the page."""
        late = " (late)" if self.late else ""
        return f"{self.day}: live {self.live}{late}, backtest {self.backtest}"


def day_differences(
    live: Mapping[date, str], backtest: Mapping[date, str], late: Iterable[date] = ()
) -> list[DayDifference]:
    """The backtest's days on which the account skipped, failed or traded differently, and
    the days the account traded late (a missed scheduled rebalance caught up)."""
    late_days = set(late)
    found = []
    for day in sorted(backtest):
        ours = live.get(day, "no cycle")
        if ours != backtest[day] or day in late_days:
            found.append(DayDifference(day, ours, backtest[day], day in late_days))
    return found


def cash_share(
    equity: Mapping[date, float],
    holdings: Mapping[date, Mapping[str, float]],
    closes: Mapping[tuple[date, str], float],
) -> float | None:
    """The average share of equity held as cash over the days with holdings and every close
    (cash = equity − Σ shares × close): the cash buffer and anything not invested."""
    shares = []
    for day, held in holdings.items():
        value = equity.get(day)
        if not value:
            continue
        try:
            invested = sum(q * closes[(day, s)] for s, q in held.items() if q)
        except KeyError:
            continue
        shares.append((value - invested) / value)
    return sum(shares) / len(shares) if shares else None
