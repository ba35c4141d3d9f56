"""A portfolio's backtest: the same wake (``run_portfolio_wake``) on every session, day by day, on
the simulated broker — the netting, the ledgers and each strategy's own cycle, as traded.

Each strategy's equity curve is its ledger valued at each close; the account's is the broker's.
Run beside each strategy alone on its share of the money (``run_backtest``), the difference is
what sharing the account changed: the fees and slippage the netting saved.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd

from bot.backtest.engine import (
    BacktestCosts,
    backtest_sessions,
    backtest_world,
    financing_due,
    validated_closes,
    wake_time,
)
from bot.backtest.progress import Progress
from bot.portfolio.wake import PortfolioRuntime, load_ledgers, run_portfolio_wake

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class PortfolioBacktest:
    """The account's curve, each strategy's, and what the netted orders cost."""

    equity: pd.Series  # the account at each close
    sleeves: pd.DataFrame  # each strategy's ledger at each close (a column per strategy)
    outcomes: Counter[str]  # per strategy and session: traded, held, error …
    errors: list[tuple[date, str, str]]  # (session, strategy or the portfolio, why)
    trades: int
    traded_notional: Decimal
    fees: Decimal
    slippage: Decimal
    wanted_turnover: Decimal  # what the strategies' own orders would have traded
    sent_turnover: Decimal  # what the netted orders traded (same prices)


def run_portfolio_backtest(
    portfolio: PortfolioRuntime,
    closes: pd.DataFrame,
    start: date,
    end: date,
    *,
    costs: BacktestCosts | None = None,
    progress: Progress | None = None,
) -> PortfolioBacktest:
    """Run ``portfolio`` on every session of ``closes`` between ``start`` and ``end``."""
    closes = validated_closes(closes)
    sessions, chosen = backtest_sessions(closes, start, end)
    costs = costs or BacktestCosts()
    world = backtest_world(closes, sessions[0], costs)
    broker, clock, tracker = world.broker, world.clock, world.tracker
    names = [s.name for s in portfolio.sleeves]
    columns = {str(s): closes[s].to_numpy(dtype=float) for s in closes.columns}
    marks = {str(s): closes[s].ffill().to_numpy(dtype=float) for s in closes.columns}
    rows = dict(zip(sessions, np.flatnonzero(chosen).tolist(), strict=True))
    equity: dict[pd.Timestamp, float] = {}
    sleeves: dict[pd.Timestamp, dict[str, float]] = {}
    outcomes: Counter[str] = Counter()
    errors: list[tuple[date, str, str]] = []
    trades, notional, fees, slippage = 0, ZERO, ZERO, ZERO
    wanted, sent, pending = ZERO, ZERO, ZERO
    for number, day in enumerate(sessions):
        clock.sleep_until(wake_time(world.adapters.calendar, day))
        if pending:
            broker.charge(pending, "borrow fee and margin interest")
        result = run_portfolio_wake(world.adapters, portfolio)
        wanted += result.wanted_turnover
        sent += result.sent_turnover
        for sleeve in result.sleeves:
            outcomes[sleeve.outcome] += 1
            if sleeve.outcome == "error":
                errors.append((day, sleeve.strategy, sleeve.reason))
        if result.outcome == "error" and not result.sleeves:
            errors.append((day, portfolio.name, result.reason))
        for order in result.orders:
            if order.filled_qty > 0 and order.filled_avg_price is not None:
                close = Decimal(repr(float(columns[order.symbol][rows[day]])))
                trades += 1
                notional += order.filled_qty * order.filled_avg_price
                fees += order.fees
                slippage += order.filled_qty * abs(order.filled_avg_price - close)
        stamp = pd.Timestamp(day)
        equity[stamp] = float(broker.account().equity)
        prices = {s: Decimal(repr(float(v[rows[day]]))) for s, v in marks.items()}
        ledgers = load_ledgers(tracker, portfolio.name)
        sleeves[stamp] = {n: float(ledgers[n].equity(prices)) for n in names if n in ledgers}
        if number + 1 < len(sessions):
            pending = financing_due(broker, costs, (sessions[number + 1] - day).days)
        if progress is not None:
            progress(number + 1, len(sessions))
    tracker.close()
    curve = pd.Series(equity, name=portfolio.name)
    table = pd.DataFrame.from_dict(sleeves, orient="index").reindex(
        index=curve.index, columns=names
    )
    return PortfolioBacktest(
        curve, table, outcomes, errors, trades, notional, fees, slippage, wanted, sent
    )
