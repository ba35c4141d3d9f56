"""The backtest: the trading cycle itself, run day by day over history on the simulated broker.

There is no second implementation of the strategy, trigger or planner to drift out of step with
the bot: each session the clock jumps to the wake, ``run_cycle`` decides on that day's closes and
fills at that day's close (as Composer and Logical Invest backtest), and the account's equity at
the close is the curve. Days the cycle refuses (missing or stale data, a bad print, a fund not
listed yet) are kept and reported, never filled in.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import cast

import pandas as pd

from bot.adapters.frame_market import FrameMarketData
from bot.adapters.sim_broker import CloseTable, FeeSchedule, SimulatedBroker
from bot.adapters.xnys_calendar import XnysCalendar
from bot.clock import SimulatedClock
from bot.cycle import NEW_YORK, Adapters, StrategyRuntime, run_cycle
from bot.tracker import Tracker


@dataclass(frozen=True, slots=True)
class BacktestCosts:
    """What trading costs in the simulation."""

    initial_cash: Decimal = Decimal(100_000)
    slippage_bps: Decimal = Decimal(1)
    fees: FeeSchedule = field(default_factory=FeeSchedule)
    margin_multiplier: Decimal = Decimal(1)


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
    holdings: dict[date, dict[str, Decimal]]  # positions at each close, after that day's trades


def run_backtest(
    runtime: StrategyRuntime,
    closes: pd.DataFrame,
    start: date,
    end: date,
    *,
    costs: BacktestCosts | None = None,
) -> BacktestResult:
    """Run ``runtime`` on every session of ``closes`` between ``start`` and ``end``."""
    sessions = [ts.date() for ts in closes.index if start <= ts.date() <= end]
    if not sessions:
        msg = f"no data between {start} and {end}"
        raise ValueError(msg)
    costs = costs or BacktestCosts()
    clock = SimulatedClock(datetime.combine(sessions[0], time(9, 0), NEW_YORK))
    broker = SimulatedBroker(
        CloseTable(closes, clock),
        costs.initial_cash,
        slippage_bps=costs.slippage_bps,
        fees=costs.fees,
        margin_multiplier=costs.margin_multiplier,
    )
    tracker = Tracker(Path(":memory:"))  # the journal is not kept: the result is the curve
    adapters = Adapters(broker, FrameMarketData(closes), XnysCalendar(), tracker, clock)
    calendar = XnysCalendar()
    equity: dict[pd.Timestamp, float] = {}
    holdings: dict[date, dict[str, Decimal]] = {}
    outcomes: Counter[str] = Counter()
    errors: list[tuple[date, str]] = []
    trades, notional, fees, slippage = 0, Decimal(0), Decimal(0), Decimal(0)
    for day in sessions:
        clock.sleep_until(calendar.session_close(day) - timedelta(minutes=15))
        result = run_cycle(adapters, runtime, run_id=f"{day:%Y%m%d}-backtest")
        outcomes[result.outcome] += 1
        if result.outcome == "error":
            errors.append((day, result.reason))
        for order in result.orders:
            if order.filled_qty > 0 and order.filled_avg_price is not None:
                close = Decimal(
                    repr(float(cast(float, closes.at[pd.Timestamp(day), order.symbol])))
                )
                trades += 1
                notional += order.filled_qty * order.filled_avg_price
                fees += order.fees
                slippage += order.filled_qty * abs(order.filled_avg_price - close)
        account = broker.account()
        equity[pd.Timestamp(day)] = float(account.equity)
        holdings[day] = dict(account.positions)
    tracker.close()
    curve = pd.Series(equity, name=runtime.name)
    return BacktestResult(curve, outcomes, errors, trades, notional, fees, slippage, holdings)
