"""The two backtests our engine is compared and timed against bt on (issue: "Against bt").

Both sides run the same rules on the same closes without costs: no slippage, no fees, no cash
buffer, no minimum order, no headroom, fractional shares, a cash (1×) account.

* HFEA: 55% UPRO / 45% TMF, rebalanced on the first trading day of each quarter.
* An inverse-volatility basket (All In's funds that trade since 2017: TECL, TMF, DFEN, UTSL, VXUS,
  UGL at 85%, USFR fixed at 15%) with the 1-point absolute corridor.

Two differences of setup, not of rules:

* the bot refuses a day whose previous session it has not seen (a data check), so it cannot trade
  on the very first row of a table: our engine is given one row more at the start than bt, and
  both curves start on the same day;
* the bot refuses to trade on a move beyond its bad-print limit (50%), which bt does not know:
  DFEN's glitch print of 2024-06-03 would stop it for four days. The parity runs lift the limit
  (``NO_BAD_PRINT_CHECK``); with it, the bot's curve ends about 2% away from bt's.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd

from bot.adapters.sim_broker import NO_FEES
from bot.backtest.engine import BacktestCosts
from bot.checks import CheckSettings
from bot.cycle import StrategyRuntime
from bot.planner import PlannerRules
from bot.triggers import CalendarRule, DriftRule, Schedule
from strategies.fixed import FixedWeights
from strategies.inverse_vol import InverseVolatility

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT.parent / "shared" / "data" / "etf_adjclose"

HFEA_WEIGHTS = {"UPRO": 0.55, "TMF": 0.45}
BASKET = ("TECL", "TMF", "DFEN", "UTSL", "VXUS", "UGL")
FIXED = {"USFR": 0.15}
HFEA_RANGE = (date(2009, 6, 25), date(2026, 7, 14))
BASKET_RANGE = (date(2017, 6, 1), date(2026, 7, 14))

FRICTIONLESS_RULES = PlannerRules(
    cash_buffer=Decimal(0), min_order_usd=Decimal(0), funds_headroom=Decimal(0)
)
NO_BAD_PRINT_CHECK = CheckSettings(max_daily_move=1e12)
FRICTIONLESS = BacktestCosts(
    initial_cash=Decimal(100_000),
    slippage_bps=Decimal(0),
    fees=NO_FEES,
    margin_multiplier=Decimal(1),
)


def hfea_runtime() -> StrategyRuntime:
    """HFEA with frictionless rules."""
    return StrategyRuntime(
        "hfea",
        FixedWeights(HFEA_WEIGHTS),
        CalendarRule(Schedule.QUARTER_START),
        FRICTIONLESS_RULES,
        checks=NO_BAD_PRINT_CHECK,
    )


def basket_runtime(basket: tuple[str, ...] = BASKET) -> StrategyRuntime:
    """The inverse-volatility basket with the 1-point corridor, frictionless."""
    strategy = InverseVolatility(basket=basket, lookback_days=2, basket_weight=0.85, fixed=FIXED)
    return StrategyRuntime(
        "basket",
        strategy,
        DriftRule(Decimal("0.01")),
        FRICTIONLESS_RULES,
        checks=NO_BAD_PRINT_CHECK,
    )


def with_rules(runtime: StrategyRuntime, **changes: object) -> StrategyRuntime:
    """The runtime with some planner rules changed."""
    return replace(runtime, rules=replace(runtime.rules, **changes))  # type: ignore[arg-type]


def common_closes(closes: pd.DataFrame, start: date, end: date) -> pd.DataFrame:
    """Rows from ``start`` to ``end`` where every column has a close (bt needs no gaps)."""
    window = closes.loc[pd.Timestamp(start) : pd.Timestamp(end)]
    return window.dropna()
