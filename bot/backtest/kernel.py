"""The fast backtester's path-dependent core: drift, trigger, orders and fills, day by day.

Everything here depends on the account, so it cannot be vectorised; it is instead a tight loop
over plain numbers. Imported, it is plain Python (what ``bot backtest`` runs); numba compiles
the same functions on request (``bot.backtest.compiled``). Each step mirrors one of
``run_cycle`` on the simulated broker, in the same order (``bot.cycle``, ``bot.planner``,
``bot.adapters.sim_broker``):

* before the day: the financing charge for the nights since the last session;
* a short target needs $2,000 of equity (``checks.account_problems``);
* the trigger: drift beyond the corridor by the trigger's own ``measure`` (the function the
  cycle calls, rounded to 1e-9 as ``triggers.worst_drift``), or a scheduled rebalance that is
  due and not done;
* targets beyond the margin are scaled down (``planner.fit_to_capacity``) or refused;
* the plan (``planner.plan_orders``): whole-share shorts toward the smaller short, longs floored
  to 1e-9 shares (integer nano-shares here, as exact as the Decimal path), legs that never cross
  zero, the minimum order, buys scaled to the funds with headroom, sells first;
* the sells fill, the buys are re-planned from what the sells raised, then fill in order; a buy
  beyond the buying power is rejected, the other buys still fill, and the refused ones are
  re-planned from the account and sent again, at most ``MAX_RESIZES`` times, then an error;
* fills at the close ± slippage, SEC and TAF fees on sells (``rules.sell_fees_cents``);
* the residual check: a rebalance that missed its targets is an error and is retried.

Money is float here and Decimal there; quantities are integer nano-shares in both. Where a rule
is integer (legs, fees, the minimum order: ``bot.rules``) both engines call the same function,
each converting its numbers at one place (``_micro`` here, ``domain.to_micro`` there); the two
agree to ~1e-12 (tests/test_fast_backtest.py). Errors come back as codes; ``fast`` words them.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from bot import rules
from bot.compilable import compiled, inlined

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Measure = Callable[[float, float], float]  # a corridor's measure (``bot.triggers.base``)

NANO = 1_000_000_000

# Day status from the screen, and outcome codes the loop writes.
OK, DECLINED, ERROR, CLOSED = 0, 1, 2, 3
HELD, TRADED = 0, 1  # outcome codes index engine.OUTCOMES: held, traded, error, closed

# Legs (as bot.domain.Leg) and the loop's own error codes.
REDUCE, COVER, BUY, SHORT = 0, 1, 2, 3
E_NONE, E_SHORT_EQUITY, E_NO_EQUITY, E_SHORTS_NOT_ALLOWED, E_OVER_CAPACITY = 0, 1, 2, 3, 4
E_REJECTED, E_RESIDUAL = 5, 6
MAX_RESIZES = 3  # as bot.cycle.MAX_RESIZES: a refused buy is re-sized this many times
ROUNDING_SLACK = 1e-9  # as bot.planner.ROUNDING_SLACK: float sums a hair above capacity fit
RESIZE_MARKUP = 0.025  # as bot.cycle.RESIZE_MARKUP: each re-size values buys this much higher

# Indices of the parameter vector. Money rules in whole units (``bot.rules``): the minimum
# order in micro-dollars, the SEC fee in cents per million dollars, the TAF in millionths of a
# dollar per share and its cap in cents.
P_CF, P_BUFFER, P_MIN_ORDER_MICRO, P_ALLOW_SHORTS, P_HEADROOM, P_SCALE_OVER = 0, 1, 2, 3, 4, 5
P_RESIDUAL, P_MARGIN, P_SLIP, P_SEC_CENTS, P_TAF_MICRO, P_TAF_CAP_CENTS = range(6, 12)
P_BORROW, P_MARGIN_RATE, P_CORRIDOR, P_WIDTH, P_INCLUSIVE, P_MIN_EQUITY_SHORT = range(12, 18)
P_RESIZE_MARKUP = 18  # 0, or the extra markup of a re-sized plan after a refusal
N_PARAMS = 19

# Indices of the state vector (kept between calls: the loop stops when it needs targets).
S_CASH, S_TRADES, S_NOTIONAL, S_FEES, S_SLIPPAGE, S_FINANCING, S_PENDING, S_LAST_KEY = range(8)
S_SCALED = 8
N_STATE = 9


@inlined
def _equity(cash: float, nano: IntArray, prices: FloatArray) -> float:
    total = cash
    for k in range(len(nano)):
        if nano[k] != 0:
            total += nano[k] / NANO * prices[k]
    return total


@inlined
def _gross(nano: IntArray, prices: FloatArray) -> float:
    total = 0.0
    for k in range(len(nano)):
        if nano[k] != 0:
            total += abs(nano[k] / NANO * prices[k])
    return total


@inlined
def _drift(
    nano: IntArray, prices: FloatArray, weights: FloatArray, sleeve: float, measure: Measure
) -> float:
    """The worst drift by the corridor's ``measure``, rounded to 1e-9 as the cycle rounds it
    (rounding is monotonic: the rounded maximum is the maximum of the rounded); a symbol not
    held weighs 0."""
    worst = 0.0
    for k in range(len(nano)):
        current = (nano[k] / NANO * prices[k]) / sleeve if nano[k] != 0 else 0.0
        worst = max(worst, measure(current, weights[k]))
    return worst if math.isinf(worst) else _round9(worst)


@inlined
def _round9(value: float) -> float:
    """Round to 1e-9 as ``triggers.max_drift`` quantizes drift: half to even. A value within
    binary noise of a half step is a tie (0.0100000005 → 0.010000000, held at a 1 pp corridor)."""
    scaled = value * 1e9
    lower = math.floor(scaled)
    if abs(scaled - lower - 0.5) < 1e-6:
        return (lower if lower % 2 == 0 else lower + 1) / 1e9
    return math.floor(scaled + 0.5) / 1e9


@inlined
def _micro(money: float) -> int:
    """Dollars to whole micro-dollars (nearest; ``domain.to_micro`` rounds exact halves up):
    where the loop's floats meet ``bot.rules``."""
    return math.floor(money * 1e6 + 0.5)


@inlined
def _nano_toward_zero(shares: float) -> int:
    """A float quantity in nano-shares, cut toward zero: where ``bot.rules.position_target`` takes
    the loop's numbers. Where the Decimal path has exactly 1000 shares, binary arithmetic may
    have 999.9999999999999: a slack of a thousandth of a nano-share (and the float's own relative
    error on large quantities) keeps the two on the same nano-share."""
    scaled = abs(shares) * NANO
    cut = math.floor(scaled + 1e-3 + scaled * 1e-15)
    return cut if shares >= 0 else -cut


@inlined
def _big_enough(nano: int, price: float, params: FloatArray) -> bool:
    """``rules.reaches_minimum`` for ``nano`` shares at ``price``."""
    return rules.reaches_minimum(_micro(nano / NANO * price), int(params[P_MIN_ORDER_MICRO]))


@inlined
def _plan(
    weights: FloatArray,
    prices: FloatArray,
    nano: IntArray,
    cash: float,
    params: FloatArray,
    whole: npt.NDArray[np.bool_],
    rank: IntArray,
    sym: IntArray,
    leg: IntArray,
    qty: IntArray,
    keys: IntArray,
) -> int:
    """``planner.plan_orders``; fills (sym, leg, qty) in sending order, returns their count."""
    equity = _equity(cash, nano, prices)
    money = rules.investable(equity, params[P_CF], params[P_BUFFER])
    count = 0
    for k in range(len(weights)):
        held = nano[k]
        if weights[k] == 0 and held == 0:
            continue
        target = rules.position_target(_nano_toward_zero(weights[k] * money / prices[k]), whole[k])
        moves = (
            (REDUCE, rules.reduce_long(held, target), target <= 0),
            (COVER, rules.cover_short(held, target), target >= 0),
            (BUY, rules.add_long(held, target), False),
            (SHORT, rules.add_short(held, target), False),
        )
        for kind, amount, closes in moves:
            if amount > 0 and (closes or _big_enough(amount, prices[k], params)):
                sym[count], leg[count], qty[count] = k, kind, amount
                count += 1
    count = _fit_buys(count, prices, nano, cash, params, whole, sym, leg, qty)
    _sort(count, rank, sym, leg, qty, keys)
    return count


@inlined
def _fit_buys(
    count: int,
    prices: FloatArray,
    nano: IntArray,
    cash: float,
    params: FloatArray,
    whole: npt.NDArray[np.bool_],
    sym: IntArray,
    leg: IntArray,
    qty: IntArray,
) -> int:
    """``planner._fit_buys_to_funds``: scale the adding orders down to the funds available."""
    freed, needed = 0.0, 0.0
    for j in range(count):
        value = qty[j] / NANO * prices[sym[j]]
        if leg[j] <= COVER:
            freed += value
        else:
            needed += value
    equity = _equity(cash, nano, prices)
    available = max(0.0, equity * params[P_MARGIN] - _gross(nano, prices)) + freed
    by_quantity = needed * (1 + params[P_RESIZE_MARKUP])  # no buy goes out by value here
    scale = rules.buys_scale(0.0, by_quantity, available, params[P_HEADROOM])
    if scale >= 1:
        return count
    kept = 0
    for j in range(count):
        amount = qty[j]
        if leg[j] > COVER:
            if leg[j] == SHORT:  # a short sale's size: whole shares, down
                amount = -rules.position_target(-_nano_toward_zero(amount / NANO * scale), True)
            else:
                amount = rules.position_target(
                    _nano_toward_zero(amount / NANO * scale), whole[sym[j]]
                )
            if amount <= 0 or not _big_enough(amount, prices[sym[j]], params):
                continue
        sym[kept], leg[kept], qty[kept] = sym[j], leg[j], amount
        kept += 1
    return kept


@inlined
def _sort(
    count: int, rank: IntArray, sym: IntArray, leg: IntArray, qty: IntArray, keys: IntArray
) -> None:
    """Reducing legs first, sells before buys within each phase, then by symbol name."""
    for j in range(count):
        sells = leg[j] == REDUCE or leg[j] == SHORT
        keys[j] = rules.send_order(leg[j] <= COVER, sells) * len(rank) + rank[sym[j]]
    for j in range(1, count):  # insertion sort: a handful of orders
        key, s, g, q = keys[j], sym[j], leg[j], qty[j]
        i = j - 1
        while i >= 0 and keys[i] > key:
            keys[i + 1], sym[i + 1], leg[i + 1], qty[i + 1] = keys[i], sym[i], leg[i], qty[i]
            i -= 1
        keys[i + 1], sym[i + 1], leg[i + 1], qty[i + 1] = key, s, g, q


@inlined
def _fill(
    k: int,
    kind: int,
    amount: int,
    prices: FloatArray,
    nano: IntArray,
    state: FloatArray,
    params: FloatArray,
) -> None:
    """The simulated broker's fill: close ± slippage, cash, position, fees on sells."""
    sell = kind == REDUCE or kind == SHORT
    direction = -1.0 if sell else 1.0
    close = prices[k]
    price = rules.fill_price(close, params[P_SLIP], sell)
    shares = amount / NANO
    notional = shares * price
    fees = 0.0
    if sell and (params[P_SEC_CENTS] != 0 or params[P_TAF_MICRO] != 0):
        cents = rules.sell_fees_cents(
            amount,
            _micro(notional),
            int(params[P_SEC_CENTS]),
            int(params[P_TAF_MICRO]),
            int(params[P_TAF_CAP_CENTS]),
        )
        fees = cents / 100.0
    state[S_CASH] -= direction * notional + fees
    nano[k] += -amount if sell else amount
    state[S_TRADES] += 1
    state[S_NOTIONAL] += notional
    state[S_FEES] += fees
    state[S_SLIPPAGE] += shares * abs(price - close)


@inlined
def _add_exposure(
    count: int,
    goal: FloatArray,
    prices: FloatArray,
    nano: IntArray,
    state: FloatArray,
    params: FloatArray,
    whole: npt.NDArray[np.bool_],
    rank: IntArray,
    detail: FloatArray,
    work: IntArray,
) -> bool:
    """``cycle._add_exposure``: fill the buys in order; a buy beyond the buying power is
    refused (the first refusal of a round goes to ``detail``) and the others still fill; the
    refused ones are re-planned from the account, at most ``MAX_RESIZES`` times. False when a
    refusal still stands."""
    sym, leg, qty, keys = work[0], work[1], work[2], work[3]
    for resize in range(MAX_RESIZES + 1):
        refused = False
        for j in range(count):
            if leg[j] <= COVER:
                continue
            needed = qty[j] / NANO * prices[sym[j]] * (1 + params[P_SLIP])
            equity = _equity(state[S_CASH], nano, prices)
            if needed > max(0.0, equity * params[P_MARGIN] - _gross(nano, prices)):
                if not refused:
                    detail[0], detail[1], detail[2] = qty[j] / NANO, sym[j], leg[j]
                refused = True
                continue
            _fill(sym[j], leg[j], qty[j], prices, nano, state, params)
        if not refused:
            return True
        if resize == MAX_RESIZES:
            return False
        params[P_RESIZE_MARKUP] = RESIZE_MARKUP * (resize + 1)
        count = _plan(goal, prices, nano, state[S_CASH], params, whole, rank, sym, leg, qty, keys)
        params[P_RESIZE_MARKUP] = 0.0
        adding = False
        for j in range(count):
            if leg[j] > COVER:
                adding = True
        if not adding:
            return False
    return False


@inlined
def _rebalance(
    weights: FloatArray,
    prices: FloatArray,
    nano: IntArray,
    state: FloatArray,
    params: FloatArray,
    whole: npt.NDArray[np.bool_],
    rank: IntArray,
    detail: FloatArray,
    work: IntArray,
    goal: FloatArray,
) -> int:
    """Trade to ``weights``; returns an error code (E_NONE when the targets were reached).

    ``work`` (4 × 2k integers) and ``goal`` (k floats) are scratch space, allocated once."""
    equity = _equity(state[S_CASH], nano, prices)
    if not equity > 0:
        detail[0] = equity
        return E_NO_EQUITY
    gross_weight = 0.0
    for k in range(len(weights)):
        gross_weight += abs(weights[k])
    sleeve = equity * params[P_CF] * (1 - params[P_BUFFER])
    capacity = rules.capacity(equity, params[P_MARGIN], params[P_HEADROOM])
    wanted = gross_weight * sleeve
    goal[:] = weights
    if wanted > capacity * (1 + ROUNDING_SLACK) and wanted != 0:
        scale = capacity / wanted
        if params[P_SCALE_OVER] == 0:
            detail[0] = scale
            return E_OVER_CAPACITY
        for k in range(len(goal)):
            goal[k] = weights[k] * scale
        state[S_SCALED] += 1
    for k in range(len(weights)):  # the planner refuses shorts after the capacity scaling
        if weights[k] < 0 and params[P_ALLOW_SHORTS] == 0:
            detail[1] = k
            return E_SHORTS_NOT_ALLOWED
    sym, leg, qty, keys = work[0], work[1], work[2], work[3]
    count = _plan(goal, prices, nano, state[S_CASH], params, whole, rank, sym, leg, qty, keys)
    sold = False
    adding = False
    for j in range(count):
        if leg[j] <= COVER:
            _fill(sym[j], leg[j], qty[j], prices, nano, state, params)
            sold = True
        else:
            adding = True
    if sold and adding:
        count = _plan(goal, prices, nano, state[S_CASH], params, whole, rank, sym, leg, qty, keys)
    if not _add_exposure(count, goal, prices, nano, state, params, whole, rank, detail, work):
        return E_REJECTED
    sleeve = _equity(state[S_CASH], nano, prices) * params[P_CF]
    worst, worst_k = -1.0, 0
    for k in range(len(goal)):
        current = (nano[k] / NANO * prices[k]) / sleeve if nano[k] != 0 else 0.0
        off = _round9(abs(current - goal[k]))
        if off > worst or (off == worst and rank[k] > rank[worst_k]):
            worst, worst_k = off, k
    if worst > params[P_RESIDUAL]:
        detail[0], detail[1] = worst, worst_k
        return E_RESIDUAL
    return E_NONE


@compiled
def run_days(
    first: int,
    prices: FloatArray,
    marks: FloatArray,
    status: npt.NDArray[np.int8],
    targets: FloatArray,
    known: npt.NDArray[np.bool_],
    due: IntArray,
    nights: IntArray,
    params: FloatArray,
    whole: npt.NDArray[np.bool_],
    rank: IntArray,
    state: FloatArray,
    nano: IntArray,
    out_cash: FloatArray,
    out_nano: IntArray,
    out_code: npt.NDArray[np.int8],
    out_error: npt.NDArray[np.int8],
    out_detail: FloatArray,
    measure: Measure,
) -> int:
    """Run sessions ``first``.. until the end, or until a day needs targets not yet ``known``
    (returns that day, with the state saved; the caller computes them and calls again).
    ``measure`` is the corridor trigger's (any measure for a scheduled one: it is not called)."""
    n = len(status)
    financed = params[P_BORROW] != 0 or params[P_MARGIN_RATE] != 0
    calendar = params[P_CORRIDOR] == 0
    work = np.empty((4, 2 * len(nano)), dtype=np.int64)
    goal = np.empty(len(nano))
    for i in range(first, n):
        if state[S_PENDING] != 0:
            state[S_CASH] -= state[S_PENDING]
            state[S_FINANCING] += state[S_PENDING]
            state[S_PENDING] = 0.0
        if status[i] == OK and not known[i] and _needs_targets(i, marks, due, params, state, nano):
            return i
        quiet = status[i] == OK and calendar and (due[i] < 0 or due[i] == state[S_LAST_KEY])
        if quiet and known[i]:  # written out here: a call per day costs more than the test
            for k in range(targets.shape[1]):
                if targets[i, k] < 0:  # a short target: the $2,000 equity rule applies today
                    quiet = _equity(state[S_CASH], nano, marks[i]) >= params[P_MIN_EQUITY_SHORT]
                    break
        if status[i] == OK and not known[i]:
            out_code[i] = HELD  # nothing can happen today whatever the targets are
        elif quiet:
            out_code[i] = HELD  # a calendar strategy's ordinary day: no rebalance due
        else:
            _day(
                i, prices, marks, status, targets, due, params, whole, rank, state, nano,
                out_code, out_error, out_detail, work, goal, measure,
            )  # fmt: skip
        out_cash[i] = state[S_CASH]
        for k in range(len(nano)):
            out_nano[i, k] = nano[k]
        if financed and i + 1 < n:
            state[S_PENDING] = _financing(nano, marks[i], state[S_CASH], params, nights[i])
    return n


@inlined
def _needs_targets(
    i: int, marks: FloatArray, due: IntArray, params: FloatArray, state: FloatArray, nano: IntArray
) -> bool:
    """Whether today's targets can change what happens: a drift test, a rebalance due, or a
    short target's equity floor. Strategies that compute on demand are asked only then."""
    if params[P_CORRIDOR] != 0 or (due[i] >= 0 and due[i] != state[S_LAST_KEY]):
        return True
    # the cycle refuses a short target below $2,000 of equity whether or not shorts are allowed
    return bool(_equity(state[S_CASH], nano, marks[i]) < params[P_MIN_EQUITY_SHORT])


@inlined
def _day(
    i: int,
    prices: FloatArray,
    marks: FloatArray,
    status: npt.NDArray[np.int8],
    targets: FloatArray,
    due: IntArray,
    params: FloatArray,
    whole: npt.NDArray[np.bool_],
    rank: IntArray,
    state: FloatArray,
    nano: IntArray,
    out_code: npt.NDArray[np.int8],
    out_error: npt.NDArray[np.int8],
    out_detail: FloatArray,
    work: IntArray,
    goal: FloatArray,
    measure: Measure,
) -> None:
    """One session of ``run_cycle`` after the data checks (the screen's verdict)."""
    if status[i] != OK:
        out_code[i] = status[i] if status[i] != DECLINED else HELD
        return
    weights = targets[i]
    equity = _equity(state[S_CASH], nano, marks[i])
    for k in range(len(weights)):
        if weights[k] < 0 and equity < params[P_MIN_EQUITY_SHORT]:
            out_code[i], out_error[i], out_detail[i, 0] = ERROR, E_SHORT_EQUITY, equity
            return
    if params[P_CORRIDOR] != 0:
        sleeve = equity * params[P_CF]
        drift = _drift(nano, prices[i], weights, sleeve, measure) if sleeve > 0 else 1.0
        trade = drift >= params[P_WIDTH] if params[P_INCLUSIVE] != 0 else drift > params[P_WIDTH]
    else:
        trade = due[i] >= 0 and due[i] != state[S_LAST_KEY]
    if not trade:
        out_code[i] = HELD
        return
    error = _rebalance(
        weights, prices[i], nano, state, params, whole, rank, out_detail[i], work, goal
    )
    if error != E_NONE:
        out_code[i], out_error[i] = ERROR, error
        return
    out_code[i] = TRADED
    if params[P_CORRIDOR] == 0:
        state[S_LAST_KEY] = due[i]


@inlined
def _financing(
    nano: IntArray, marks: FloatArray, cash: float, params: FloatArray, nights: int
) -> float:
    """Borrow fee on shorts, margin interest on gross exposure above equity, for ``nights``."""
    shorts, gross, net = 0.0, 0.0, 0.0
    for k in range(len(nano)):
        if nano[k] != 0:
            value = nano[k] / NANO * marks[k]
            net += value
            gross += abs(value)
            if value < 0:
                shorts -= value
    over = max(gross - (cash + net), 0.0)
    return float(rules.financing(shorts, over, params[P_BORROW], params[P_MARGIN_RATE], nights))
