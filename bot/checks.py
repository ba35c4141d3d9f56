"""Pre-trade checks: pure functions that list every reason not to trade now.

Run every cycle before any order. A non-empty list means no orders for the strategy, an error
event naming each problem, and a non-zero exit for ``bot once``. They exist because each of these
is something other bots only discovered as a rejection, or worse, as a fill (FIELD-NOTES.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import numpy as np
import numpy.typing as npt
import pandas as pd

from bot import messages
from bot.closes import ClosesArrays
from bot.domain import AccountState, AssetInfo, OrderReport, PlannedOrder
from bot.splits import price_ratios

MIN_EQUITY_TO_SHORT = messages.MIN_EQUITY_TO_SHORT


@dataclass(frozen=True, slots=True)
class CheckSettings:
    """Limits for the data checks (``[checks]`` in a config file)."""

    max_daily_move: float = 0.5
    max_price_age: timedelta = timedelta(minutes=30)


def account_problems(state: AccountState, equity: Decimal, shorts: Iterable[str]) -> list[str]:
    """The account may trade at all, and may short if the targets need it."""
    problems = []
    if state.status != "ACTIVE":
        problems.append(f"account {state.account_number} is {state.status}, not ACTIVE")
    for flag, text in (
        (state.trading_blocked, "trading is blocked"),
        (state.account_blocked, "the account is blocked"),
        (state.trade_suspended, "trading is suspended"),
    ):
        if flag:
            problems.append(f"account {state.account_number}: {text}")
    short_list = sorted(shorts)
    if short_list and not state.shorting_enabled:
        problems.append(f"targets short {', '.join(short_list)} but shorting is not enabled")
    if short_list and equity < MIN_EQUITY_TO_SHORT:
        problems.append(messages.short_equity(equity))
    return problems


def asset_problems(
    assets: Mapping[str, AssetInfo], symbols: Iterable[str], shorts: Iterable[str]
) -> list[str]:
    """Every symbol to trade exists, is active and tradable; every short is shortable and ETB."""
    problems = []
    for symbol in sorted(symbols):
        asset = assets.get(symbol)
        if asset is None:
            problems.append(f"{symbol}: the broker does not know this asset")
        elif not (asset.active and asset.tradable):
            problems.append(f"{symbol}: not tradable at the broker")
    for symbol in sorted(shorts):
        asset = assets.get(symbol)
        if asset is not None and not (asset.shortable and asset.easy_to_borrow):
            problems.append(f"{symbol}: cannot be sold short (shortable/easy_to_borrow is false)")
    return problems


def data_problems(
    closes: pd.DataFrame,
    *,
    symbols: Iterable[str],
    today: date,
    previous_session: date,
    price_times: Mapping[str, datetime],
    now: datetime,
    settings: CheckSettings,
    arrays: ClosesArrays | None = None,
) -> list[str]:
    """Yesterday's bar is the previous session, today's price is recent, and no bad prints.
    ``arrays``: the frame's, when the caller has derived them already."""
    problems = []
    arrays = arrays or ClosesArrays.of(closes)
    days = arrays.days
    before = days < np.datetime64(today)
    ordered = sorted(symbols)
    values = arrays.select(ordered)
    fresh = _all_seen_on(values, days, before, previous_session)
    for symbol in ordered:
        if not fresh:  # else the usual day, found at once: every last bar is the previous session
            problems += _missed_session(closes, symbol, days, before, previous_session)
        stamp = price_times.get(symbol)
        if stamp is not None and now - stamp > settings.max_price_age:
            problems.append(f"{symbol}: today's price is from {stamp:%Y-%m-%d %H:%M} UTC (stale)")
    return problems + bad_prints(closes, symbols, settings.max_daily_move, values)


def bad_prints(
    closes: pd.DataFrame,
    symbols: Iterable[str],
    limit: float,
    values: npt.NDArray[np.float64] | None = None,
) -> list[str]:
    """Close-to-close moves beyond ``limit`` in the window: a glitch or an unadjusted split.

    Moves are between consecutive known closes (a missing day is skipped, not a zero). The cycle
    undoes the jump of a split it can corroborate before this check runs (bot/splits.py), so a
    jump still here is unexplained; when one split ratio fits it, the problem names it. ``values``:
    the symbols' columns (sorted by name) when the caller has them already."""
    problems: list[str] = []
    present = sorted(s for s in symbols if s in closes)
    arrays = None
    if values is None or values.shape[1] != len(present):
        arrays = ClosesArrays.of(closes)
        values = arrays.select(present)
    if _no_big_moves(values, limit):  # the usual day, found with one array test
        return problems
    days = (arrays or ClosesArrays.of(closes)).days
    for symbol in present:
        column = closes[symbol].to_numpy(dtype=float)
        known = ~np.isnan(column)
        prices, when = column[known], days[known]
        with np.errstate(divide="ignore", invalid="ignore"):
            moves = prices[1:] / prices[:-1] - 1
        for index in np.flatnonzero(np.abs(moves) > limit):
            problems.append(
                f"{symbol}: {moves[index]:+.1%} on {when[index + 1].astype(date)} is beyond the "
                f"{limit:.0%} bad-print limit ({_suspects(prices[index], prices[index + 1])})"
            )
    return problems


def _missed_session(
    closes: pd.DataFrame,
    symbol: str,
    days: npt.NDArray[np.datetime64],
    before: npt.NDArray[np.bool_],
    previous_session: date,
) -> list[str]:
    """The problem when ``symbol``'s last bar before today is not the previous session."""
    if symbol in closes:
        values = closes[symbol].to_numpy(dtype=float)
        seen = days[before & ~np.isnan(values)]
    else:
        seen = days[:0]
    last = seen[-1].astype(date) if len(seen) else None
    if last == previous_session:
        return []
    return [
        f"{symbol}: no daily bar for the previous session {previous_session} "
        f"(stale or missing data; last seen {last or 'none in the window'})"
    ]


def _all_seen_on(
    values: npt.NDArray[np.float64] | None,
    days: npt.NDArray[np.datetime64],
    before: npt.NDArray[np.bool_],
    previous_session: date,
) -> bool:
    """True when the last row before today (in the frame's order) is the previous session and
    prices every symbol: each symbol's last bar before today is then that session, and the
    column-by-column search would find nothing wrong."""
    rows = np.flatnonzero(before)
    if not len(rows) or days[rows[-1]].astype(date) != previous_session:
        return False
    return values is not None and not np.isnan(values[rows[-1]]).any()


def _no_big_moves(values: npt.NDArray[np.float64] | None, limit: float) -> bool:
    """True when no symbol's closes (``values``, from ``ClosesArrays.select``) miss a day and
    no move between consecutive closes is beyond ``limit``: the column-by-column search would
    then find nothing."""
    if values is None or np.isnan(values).any():
        return False
    with np.errstate(divide="ignore", invalid="ignore"):
        moves = values[1:] / values[:-1] - 1
    return not (np.abs(moves) > limit).any()


def _suspects(before: float, after: float) -> str:
    # Named only when one ratio fits within 10% (neighbours such as 1-for-10 and 1-for-12
    # overlap at the looser tolerance the cycle uses to look for corroboration).
    ratios = price_ratios(before, after, tolerance=0.1)
    if len(ratios) != 1:
        return "a glitch or an unadjusted split?"
    return (
        f"a glitch, or an unadjusted {ratios[0].describe()} that no position change or "
        "recorded split confirms"
    )


def wash_trade_problems(
    open_orders: Iterable[OrderReport], planned: Iterable[PlannedOrder]
) -> list[str]:
    """An order opposite to an open order in the same symbol is refused by the broker (403)."""
    sides = {(o.symbol, o.side) for o in open_orders if not o.status.is_final}
    return [
        f"{p.symbol}: an open {o_side.value} order exists; a {p.side.value} now would be a "
        "wash trade"
        for p in planned
        for (symbol, o_side) in sides
        if symbol == p.symbol and o_side is not p.side
    ]
