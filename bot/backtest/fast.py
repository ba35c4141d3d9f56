"""The fast backtester: ``run_cycle``'s decisions over history without its per-day shell.

``engine.run_backtest`` runs the real cycle each day (tracker, broker port, Decimal planner): the
reference, about 2 ms a day. This engine reaches the same decisions and the same equity from the
same strategy code, fast enough to sweep parameters and to beat bt by two orders of magnitude:

* what does not depend on the account is computed for every day at once (``screen.History``):
  the data checks, and the targets through the strategies' own batch methods;
* what does (drift, trigger, orders, fills, financing) is ``kernel.run_days``, a tight loop
  that mirrors the cycle, the planner and the simulated broker step for step: plain Python, or
  compiled by numba when asked (``compiled=True``, ``bot.backtest.compiled``).

tests/test_fast_backtest.py proves the two engines equal: the same outcome every day, the same
refusals, and equity within 1e-9 relative, on synthetic histories built to hit every rule and on
the real funds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import pandas as pd

from bot import messages
from bot.backtest import kernel
from bot.backtest.compiled import measure as compiled_measure
from bot.backtest.compiled import run_days as compiled_run_days
from bot.backtest.engine import OUTCOMES, BacktestCosts, BacktestResult
from bot.backtest.progress import Progress
from bot.backtest.screen import FloatArray, History, Verdict, as_date
from bot.checks import MIN_EQUITY_TO_SHORT
from bot.cycle import StrategyRuntime
from bot.domain import Leg, to_micro
from bot.errors import StateError
from bot.protocols import conforms
from bot.triggers import Corridor, Scheduled, absolute_drift

# The kernel's leg codes (REDUCE, COVER, BUY, SHORT = 0…3) as the domain's legs.
OUTCOME_DTYPE = pd.CategoricalDtype(OUTCOMES)  # built once: validating categories costs
KERNEL_LEGS = (Leg.REDUCE_LONG, Leg.COVER_SHORT, Leg.ADD_LONG, Leg.ADD_SHORT)

STATUS = {
    "ok": kernel.OK,
    "declined": kernel.DECLINED,
    "error": kernel.ERROR,
    "closed": kernel.CLOSED,
}


def run_fast_backtest(
    runtime: StrategyRuntime,
    closes: pd.DataFrame,
    start: date,
    end: date,
    *,
    costs: BacktestCosts | None = None,
    progress: Progress | None = None,
    compiled: bool = False,
) -> BacktestResult:
    """Backtest ``runtime`` on the sessions of ``closes`` between ``start`` and ``end``.

    ``compiled``: run the loop compiled by numba (the ``backtest`` extra), for many backtests in
    one process; the first call in a process costs about 1 s (``bot.backtest.compiled``). The
    plain loop gives the same numbers and suits one backtest."""
    loop = compiled_run_days() if compiled else kernel.run_days
    costs = costs or BacktestCosts()
    if costs.round_cents:
        msg = "the fast engine keeps money at full precision: use run_backtest to book cents"
        raise ValueError(msg)
    history = History(runtime, closes, start, end)
    fast = _FastRun(runtime, history, costs)
    return fast.run(progress, loop, _measure(fast.corridor, compiled))


class _FastRun:
    """The arrays ``kernel.run_days`` reads and writes, and the words for what it did."""

    def __init__(self, runtime: StrategyRuntime, history: History, costs: BacktestCosts) -> None:
        self.runtime, self.h = runtime, history
        trigger = runtime.trigger
        self.corridor = trigger if conforms(trigger, Corridor) else None  # type: ignore[type-abstract]
        self.scheduled = trigger if conforms(trigger, Scheduled) else None  # type: ignore[type-abstract]
        if self.corridor is None and self.scheduled is None:
            msg = (
                f"the fast backtester has no form of the {trigger.kind!r} trigger (neither a "
                "schedule nor a corridor): run it with --engine cycle"
            )
            raise ValueError(msg)
        rows = slice(int(history.rows[0]), int(history.rows[-1]) + 1)  # consecutive rows
        self.days = history.days[rows]
        n, k = len(history.rows), len(history.symbols)
        self.prices = np.ascontiguousarray(history.prices[rows])
        self.marks = np.ascontiguousarray(history.marks[rows])
        self.status = np.zeros(n, dtype=np.int8)
        self.targets = np.zeros((n, k))
        self.known = np.zeros(n, dtype=bool)
        self.reasons: dict[int, str] = {}
        self._fill_verdicts()
        self.keys, self.due = self._due_keys()
        nights = (self.days[1:] - self.days[:-1]).astype(np.int64)
        self.nights = np.concatenate([nights, [0]]).astype(np.int64)
        self.params = _params(runtime, costs, self.corridor)
        self.whole = np.array([s in runtime.rules.not_fractionable for s in history.symbols])
        order = sorted(range(k), key=lambda j: history.symbols[j])
        self.rank = np.empty(k, dtype=np.int64)
        self.rank[order] = np.arange(k)
        self.state = np.zeros(kernel.N_STATE)
        self.state[kernel.S_CASH] = float(costs.initial_cash)
        self.state[kernel.S_LAST_KEY] = -1
        self.nano = np.zeros(k, dtype=np.int64)
        self.out_cash = np.zeros(n)
        self.out_nano = np.zeros((n, k), dtype=np.int64)
        self.out_code = np.zeros(n, dtype=np.int8)
        self.out_error = np.zeros(n, dtype=np.int8)
        self.out_detail = np.zeros((n, 3))

    def _fill_verdicts(self) -> None:
        """Status and targets per day: batch where the screen passed, the cycle's own verdict
        where it did not, and left unknown for strategies that compute on demand."""
        clean = self.h.clean[self.h.rows]
        batch, declined = self.h.quiet_targets()
        if batch is not None and declined is not None:
            self.targets[:] = np.nan_to_num(batch[self.h.rows])
            self.status[declined[self.h.rows]] = kernel.DECLINED
            self.known[clean] = True
        for i in np.flatnonzero(~clean):
            self._set(int(i), self.h.verdict(int(self.h.rows[i])))

    def _set(self, i: int, verdict: Verdict) -> None:
        self.status[i] = STATUS[verdict.status]
        self.known[i] = True
        if verdict.weights is not None:
            self.targets[i] = verdict.weights
        if verdict.status == "error":
            self.reasons[i] = verdict.reason

    def _due_keys(self) -> tuple[list[str], np.ndarray]:
        """For each session, the latest scheduled rebalance due on or before it (-1: none)."""
        rule = self.scheduled
        due = np.full(len(self.days), -1, dtype=np.int64)
        if rule is None:
            return [], due
        keys, when = _schedule(self.h.sessions, rule)  # type: ignore[arg-type] # frozen: hashable
        due[:] = np.searchsorted(when, self.days, side="right") - 1
        return keys, due

    def run(
        self, progress: Progress | None, loop: Callable[..., int], measure: object
    ) -> BacktestResult:
        """Call the kernel until the last session, computing on-demand targets in between."""
        n, first = len(self.days), 0
        while first < n:
            first = loop(
                first, self.prices, self.marks, self.status, self.targets, self.known,
                self.due, self.nights, self.params, self.whole, self.rank, self.state,
                self.nano, self.out_cash, self.out_nano, self.out_code, self.out_error,
                self.out_detail, measure,
            )  # fmt: skip
            if first < n:
                self._set(first, self.h.verdict(int(self.h.rows[first])))
            if progress is not None:
                progress(first, n)
        return self._result()

    def _check_marks(self) -> None:
        """A position that cannot be valued (its last close is zero or negative) stops the
        backtest, as it stops the simulated broker: equity would be a made-up number."""
        held = self.out_nano != 0
        held[1:] |= held[:-1].copy()  # held going into the day, or coming out of it
        unpriced = held & ~(self.marks > 0)
        if unpriced.any():
            day, column = np.argwhere(unpriced)[0]
            symbol = self.h.symbols[int(column)]
            msg = (
                f"simulated broker has no price to value {symbol} on {as_date(self.days[day])} "
                f"(its last close is {self.marks[day, column]})"
            )
            raise StateError(msg)

    def _result(self) -> BacktestResult:
        self._check_marks()
        quantities = self.out_nano / kernel.NANO
        held = np.where(self.out_nano != 0, quantities * self.marks, 0.0)
        index = pd.DatetimeIndex(self.days)
        outcomes = pd.Categorical.from_codes(self.out_code, dtype=OUTCOME_DTYPE, validate=False)
        counts = np.bincount(self.out_code, minlength=len(OUTCOMES))
        errors = [
            (as_date(self.days[i]), self.reasons.get(i) or self._reason(i))
            for i in np.flatnonzero(self.out_code == kernel.ERROR).tolist()
        ]
        state = self.state
        return BacktestResult(
            equity=pd.Series(self.out_cash + held.sum(axis=1), index=index, name=self.runtime.name),
            outcomes=Counter({str(n): int(c) for n, c in zip(OUTCOMES, counts, strict=True) if c}),
            errors=errors,
            trades=int(state[kernel.S_TRADES]),
            traded_notional=_decimal(state[kernel.S_NOTIONAL]),
            fees=_decimal(state[kernel.S_FEES]),
            slippage=_decimal(state[kernel.S_SLIPPAGE]),
            positions=pd.DataFrame(quantities, index=index, columns=list(self.h.symbols)),
            outcome_by_day=pd.Series(outcomes, index=index, name="outcome"),
            financing=_decimal(state[kernel.S_FINANCING]),
            scaled=int(state[kernel.S_SCALED]),
        )

    def _reason(self, i: int) -> str:
        """The words for an error code of the kernel (as the cycle would have said it)."""
        code, detail = int(self.out_error[i]), self.out_detail[i]
        symbol = self.h.symbols[int(detail[1])]
        if code == kernel.E_SHORT_EQUITY:
            return messages.pre_trade_failed([messages.short_equity(detail[0])])
        if code == kernel.E_NO_EQUITY:
            return messages.no_equity(detail[0])
        if code == kernel.E_SHORTS_NOT_ALLOWED:
            return messages.shorts_not_allowed([symbol])
        if code == kernel.E_OVER_CAPACITY:
            return messages.over_capacity_skipped(detail[0])
        if code == kernel.E_REJECTED:
            leg = KERNEL_LEGS[int(detail[2])].value
            cid = messages.client_order_id(self.runtime.name, self._key(i), symbol, leg)
            why = messages.INSUFFICIENT_BUYING_POWER
            order = messages.order_ended(
                cid, leg, detail[0], symbol, ended="ended rejected", reason=why
            )
            return messages.still_refused(order, kernel.MAX_RESIZES)
        return messages.incomplete(
            self._key(i), symbol, detail[0], self.runtime.rules.residual_tolerance
        )

    def _key(self, i: int) -> str:
        if self.corridor is not None:
            return f"{as_date(self.days[i]):%Y%m%d}"
        return self.keys[int(self.due[i])]


@lru_cache(maxsize=16)
def _schedule(
    sessions: tuple[date, ...], rule: Scheduled
) -> tuple[list[str], npt.NDArray[np.datetime64]]:
    """The scheduled rebalances (keys, days) over ``sessions``; cached for parameter sweeps."""
    scheduled = rule.rebalance_dates(sessions)
    when = np.array([d for d, _ in scheduled], dtype="datetime64[D]")
    return [key for _, key in scheduled], when


def _params(
    runtime: StrategyRuntime, costs: BacktestCosts, corridor: Corridor | None
) -> FloatArray:
    """The kernel's parameter vector: the strategy's rules and the backtest's costs."""
    rules, fees = runtime.rules, costs.fees
    params = np.zeros(kernel.N_PARAMS)
    for index, value in (
        (kernel.P_CF, rules.capital_fraction),
        (kernel.P_BUFFER, rules.cash_buffer),
        (kernel.P_MIN_ORDER_MICRO, to_micro(rules.min_order_usd)),
        (kernel.P_ALLOW_SHORTS, rules.allow_shorts),
        (kernel.P_HEADROOM, rules.funds_headroom),
        (kernel.P_SCALE_OVER, rules.over_capacity == "scale"),
        (kernel.P_RESIDUAL, rules.residual_tolerance),
        (kernel.P_MARGIN, costs.margin_multiplier),
        (kernel.P_SLIP, costs.slippage_bps / Decimal(10_000)),
        (kernel.P_SEC_CENTS, fees.sec_cents_per_million),
        (kernel.P_TAF_MICRO, fees.taf_micro_per_share),
        (kernel.P_TAF_CAP_CENTS, fees.taf_cap_cents),
        (kernel.P_BORROW, costs.borrow_rate),
        (kernel.P_MARGIN_RATE, costs.margin_rate),
        (kernel.P_CORRIDOR, corridor is not None),
        (kernel.P_WIDTH, 0 if corridor is None else corridor.width),
        (kernel.P_INCLUSIVE, corridor is not None and corridor.inclusive),
        (kernel.P_MIN_EQUITY_SHORT, MIN_EQUITY_TO_SHORT),
    ):
        params[index] = float(value)
    return params


def _measure(corridor: Corridor | None, compiled: bool) -> object:
    """The corridor's own measure for the loop (compiled when the loop is); a scheduled trigger
    never measures drift, but the loop's signature wants one."""
    measure = absolute_drift if corridor is None else corridor.measure
    return compiled_measure(measure) if compiled else measure


def _decimal(value: float) -> Decimal:
    return Decimal(repr(float(value)))
