"""The reference backtest: the trading cycle itself, run day by day on the simulated broker.

Each session the clock jumps to the wake, ``run_cycle`` decides on that day's closes and fills at
that day's close (as Composer and Logical Invest backtest), and the account's equity at the close
is the curve. Days the cycle refuses (missing or stale data, a bad print, a fund not listed yet)
are kept and reported, never filled in. It costs about 0.6 ms a session for HFEA and 3.4 ms for
All In (``python -m benchmarks.cycle_benchmark --skip-alpaca``); ``fast`` reaches the same result
some thousands of times faster and is proven equal to this one by tests (``bot backtest --engine
cycle`` runs this one). The journal is kept in Python lists (``bot/adapters/memory_journal.py``):
the result is the curve, and a live run's tracker still commits every event to SQLite.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from bot import rules
from bot.adapters.sim_broker import FeeSchedule
from bot.backtest.progress import Progress
from bot.bootstrap import BacktestWorld, build_backtest_world
from bot.cycle import NEW_YORK, StrategyRuntime, run_cycle
from bot.market.sessions import is_session

if TYPE_CHECKING:
    from bot.adapters.sim_broker import SimulatedBroker
    from bot.ports import MarketCalendar

OUTCOMES = ["held", "traded", "error", "closed"]  # what run_cycle can conclude about a session


@dataclass(frozen=True, slots=True)
class BacktestCosts:
    """What trading costs in the simulation."""

    initial_cash: Decimal = Decimal(100_000)
    slippage_bps: Decimal = Decimal(1)
    fees: FeeSchedule = field(default_factory=FeeSchedule)
    margin_multiplier: Decimal = Decimal(1)
    borrow_rate: Decimal = Decimal(0)  # a year, on the market value of shorts (calendar days/360)
    margin_rate: Decimal = Decimal(0)  # a year, on gross exposure above equity (days/360)
    round_cents: bool = False  # the daemon's simulated broker books cents; a backtest need not

    def __post_init__(self) -> None:
        """Refuse costs that would make every figure meaningless (NaN, negative, no money)."""
        for name in (
            "initial_cash",
            "slippage_bps",
            "margin_multiplier",
            "borrow_rate",
            "margin_rate",
        ):
            value = getattr(self, name)
            if not value.is_finite() or value < 0:
                msg = f"{name} must be a finite number ≥ 0, got {value}"
                raise ValueError(msg)
        if not self.initial_cash > 0:
            msg = f"initial_cash must be positive, got {self.initial_cash}"
            raise ValueError(msg)
        if self.margin_multiplier < 1:
            msg = f"margin_multiplier must be ≥ 1, got {self.margin_multiplier}"
            raise ValueError(msg)


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """The equity curve at each close, and what the cycles did to get there."""

    equity: pd.Series
    outcomes: Counter[str]
    errors: list[tuple[date, str]]
    trades: int
    traded_notional: Decimal
    fees: Decimal
    slippage: Decimal
    positions: pd.DataFrame  # shares at each close, after that day's trades
    outcome_by_day: pd.Series  # one of OUTCOMES per session (categorical)
    financing: Decimal = Decimal(0)  # borrow fees and margin interest paid
    scaled: int = 0  # rebalances whose targets were scaled down to fit the margin


def run_backtest(
    runtime: StrategyRuntime,
    closes: pd.DataFrame,
    start: date,
    end: date,
    *,
    costs: BacktestCosts | None = None,
    progress: Progress | None = None,
) -> BacktestResult:
    """Run ``runtime`` on every session of ``closes`` between ``start`` and ``end``."""
    closes = validated_closes(closes)
    sessions, chosen = backtest_sessions(closes, start, end)
    costs = costs or BacktestCosts()
    world = backtest_world(closes, sessions[0], costs)
    adapters, broker, clock, tracker = world.adapters, world.broker, world.clock, world.tracker
    calendar = adapters.calendar
    rows = dict(zip(sessions, np.flatnonzero(chosen).tolist(), strict=True))
    columns = {str(s): closes[s].to_numpy(dtype=float) for s in closes.columns}
    equity: dict[pd.Timestamp, float] = {}
    holdings: dict[pd.Timestamp, dict[str, float]] = {}
    by_day: dict[pd.Timestamp, str] = {}
    errors: list[tuple[date, str]] = []
    trades, notional, fees, slippage = 0, Decimal(0), Decimal(0), Decimal(0)
    financing, pending, scaled = Decimal(0), Decimal(0), 0
    for number, day in enumerate(sessions):
        clock.sleep_until(wake_time(calendar, day))
        if pending:
            broker.charge(pending, "borrow fee and margin interest")
            financing += pending
        run_id = f"{day:%Y%m%d}-backtest"
        result = run_cycle(adapters, runtime, run_id=run_id)
        stamp = pd.Timestamp(day)
        by_day[stamp] = result.outcome
        scaled += tracker.run_has_key(run_id, "scaled_by")
        if result.outcome == "error":
            errors.append((day, result.reason))
        for order in result.orders:
            if order.filled_qty > 0 and order.filled_avg_price is not None:
                close = Decimal(repr(float(columns[order.symbol][rows[day]])))
                trades += 1
                notional += order.filled_qty * order.filled_avg_price
                fees += order.fees
                slippage += order.filled_qty * abs(order.filled_avg_price - close)
        account = broker.account()
        equity[stamp] = float(account.equity)
        holdings[stamp] = {s: float(q) for s, q in account.positions.items()}
        if number + 1 < len(sessions):
            pending = financing_due(broker, costs, (sessions[number + 1] - day).days)
        if progress is not None:
            progress(number + 1, len(sessions))
    tracker.close()
    curve = pd.Series(equity, name=runtime.name)
    positions = pd.DataFrame.from_dict(holdings, orient="index").reindex(
        index=curve.index, columns=list(runtime.strategy.symbols)
    )
    outcome_by_day = pd.Series(
        pd.Categorical(list(by_day.values()), categories=OUTCOMES),
        index=curve.index,
        name="outcome",
    )
    return BacktestResult(
        curve,
        Counter(by_day.values()),
        errors,
        trades,
        notional,
        fees,
        slippage,
        positions.fillna(0.0),
        outcome_by_day,
        financing,
        scaled,
    )


def backtest_sessions(
    closes: pd.DataFrame, start: date, end: date
) -> tuple[list[date], npt.NDArray[np.bool_]]:
    """The rows of (validated) ``closes`` from ``start`` to ``end``: their dates, and which rows."""
    days = closes.index.to_numpy().astype("datetime64[D]")  # midnights, as validated
    chosen = (days >= np.datetime64(start, "D")) & (days <= np.datetime64(end, "D"))
    sessions: list[date] = days[chosen].tolist()
    if not sessions:
        msg = f"no data between {start} and {end}"
        raise ValueError(msg)
    return sessions, chosen


def backtest_world(closes: pd.DataFrame, first: date, costs: BacktestCosts) -> BacktestWorld:
    """The simulated broker, clock and in-memory journal a backtest runs on (its result is the
    curve, not the journal)."""
    return build_backtest_world(
        closes,
        first,
        initial_cash=costs.initial_cash,
        slippage_bps=costs.slippage_bps,
        fees=costs.fees,
        margin_multiplier=costs.margin_multiplier,
        round_cents=costs.round_cents,
    )


def validated_closes(closes: pd.DataFrame) -> pd.DataFrame:
    """Daily closes both engines accept: one row per date (naive midnight), in date order.

    A duplicated date, a time of day or a time zone would make "today's close" ambiguous, so
    they are refused here rather than read one way by one engine and another by the other."""
    index = closes.index
    if not isinstance(index, pd.DatetimeIndex):
        msg = f"closes need a DatetimeIndex of trading days, got {type(index).__name__}"
        raise ValueError(msg)
    stamps = index.to_numpy()
    days = stamps.astype("datetime64[D]")
    if index.tz is not None or not (days == stamps).all():
        msg = "closes must be indexed by dates (midnight, no time zone), one row per trading day"
        raise ValueError(msg)
    if len(days) > 1 and not (days[1:] > days[:-1]).all():  # not strictly increasing
        if index.has_duplicates:
            shown = ", ".join(str(d.date()) for d in index[index.duplicated()][:3])
            msg = f"closes have more than one row for {shown}"
            raise ValueError(msg)
        return closes.sort_index()
    return closes


def wake_time(calendar: MarketCalendar, day: date) -> datetime:
    """15 minutes before the close; a row on a non-trading day (bad data) is still visited,
    and the cycle reports the market closed."""
    if not is_session(day):
        return datetime.combine(day, time(15, 45), NEW_YORK)
    return calendar.session_close(day) - timedelta(minutes=15)


def financing_due(broker: SimulatedBroker, costs: BacktestCosts, days: int) -> Decimal:
    """Borrow fee on shorts and margin interest on gross exposure above equity, for the
    ``days`` calendar days until the next session (charged then, on today's closing book)."""
    if not (costs.borrow_rate or costs.margin_rate):
        return Decimal(0)
    shorts, over = broker.financing_base()
    return rules.financing(shorts, over, costs.borrow_rate, costs.margin_rate, days)
