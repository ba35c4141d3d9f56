"""The fast backtester's view of history: every day's checks and targets, computed at once.

``run_cycle`` asks, each day, "is today's data usable, and what does the strategy want?". Most of
those answers do not depend on the account, so they are computed here for every day in one go:

* a vectorised *screen* marks the days that are certainly clean (an XNYS session, every close in
  the loaded window finite and positive, the previous row is the previous session, no move beyond
  the bad-print limit). It is deliberately stricter than the cycle's checks;
* every other day gets the cycle's own verdict, from the cycle's own functions (``check_fresh``,
  ``target_weights``, ``data_problems``) on the same window the cycle would load;
* targets on clean days come from the strategy's batch methods, which ``target_weights`` itself
  calls with a single day, so both agree bit for bit (tests/test_fast_backtest.py proves it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import pandas as pd

from bot.adapters.frame_market import closes_window
from bot.backtest.engine import validated_closes
from bot.checks import data_problems
from bot.cycle import StrategyRuntime, check_fresh, check_weights
from bot.errors import BotError
from bot.market.sessions import calendar_range, xnys_sessions
from bot.protocols import conforms
from strategies.base import BatchStrategy, NoDecisionError, StrategyError, WindowStrategy

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the cycle's read-and-check steps conclude about one day, before the account."""

    status: str  # "ok", "declined" (the strategy chose not to decide), "error", "closed"
    reason: str = ""
    weights: tuple[float, ...] | None = None


def _columns(frame: pd.DataFrame, symbols: tuple[str, ...]) -> FloatArray:
    """The closes of ``symbols`` as one float array, NaN for a symbol the table lacks."""
    position = {str(c): i for i, c in enumerate(frame.columns)}  # a dict: pandas' look-up
    values = frame.to_numpy(dtype=float)  # costs more than these few columns
    table: FloatArray = np.full((len(frame), len(symbols)), np.nan)
    for j, symbol in enumerate(symbols):
        if symbol in position:
            table[:, j] = values[:, position[symbol]]
    return table


class History:
    """Closes of the strategy's symbols as arrays, the day screen, and targets on demand."""

    def __init__(
        self, runtime: StrategyRuntime, closes: pd.DataFrame, start: date, end: date
    ) -> None:
        self.runtime = runtime
        self.symbols = tuple(runtime.strategy.symbols)
        frame = validated_closes(closes)
        self._frame = frame
        self.days = frame.index.to_numpy(dtype="datetime64[D]")
        self.prices: FloatArray = _columns(frame, self.symbols)
        self.marks = _forward_filled(self.prices)
        first = int(np.searchsorted(self.days, np.datetime64(start), "left"))
        stop = int(np.searchsorted(self.days, np.datetime64(end), "right"))
        self.rows = np.arange(first, stop)
        if not len(self.rows):
            msg = f"no data between {start} and {end}"
            raise ValueError(msg)
        first_known, last_known = calendar_range()  # rows beyond it are never visited
        last_visited = as_date(self.days[stop - 1])
        self.sessions, self.session_days = _sessions(
            max(as_date(self.days[0]) - timedelta(days=130), first_known),
            min(last_visited + timedelta(days=45), last_known),
        )
        self._history = runtime.strategy.history_closes
        strategy = runtime.strategy
        self._window = strategy if conforms(strategy, WindowStrategy) else None  # type: ignore[type-abstract]
        self.clean = self._screen()
        self._targets, self._declined = self._batch_targets()
        self._cache: dict[int, Verdict] = {}

    def verdict(self, row: int) -> Verdict:
        """The cycle's conclusion for the day at ``row``: fast on clean days, exact on others."""
        if self.clean[row]:
            if self._declined is not None and self._declined[row]:
                return Verdict("declined", "the strategy declined to decide today")
            if self._targets is not None:
                return Verdict("ok", weights=tuple(self._targets[row].tolist()))
        if row not in self._cache:
            self._cache[row] = self._cycle_verdict(row) if not self.clean[row] else self._lazy(row)
        return self._cache[row]

    def quiet_targets(self) -> tuple[FloatArray | None, BoolArray | None]:
        """Targets and declined flags of every row when the strategy has a batch form."""
        return self._targets, self._declined

    def _screen(self) -> BoolArray:
        """True where the cycle's checks certainly pass (a stricter test than theirs)."""
        n, h = len(self.days), self._history
        good = _every_column(np.isfinite(self.prices) & (self.prices > 0))
        bad_so_far = np.concatenate([[0], np.cumsum(~good)])
        rows = np.arange(n)
        start = np.maximum(rows - h, 0)
        # the cycle loads h + 1 rows (fewer at the very start of the table); the strategy needs h
        window_good = (rows >= h - 1) & (bad_so_far[rows + 1] - bad_so_far[start] == 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            moves = np.abs(self.prices[1:] / self.prices[:-1] - 1.0)
        too_big = moves > self.runtime.checks.max_daily_move
        big = np.concatenate([[False], ~_every_column(~too_big)])
        big_so_far = np.concatenate([[0], np.cumsum(big)])
        no_big_move = big_so_far[rows + 1] - big_so_far[np.maximum(rows - h + 1, 0)] == 0
        session_days, days = self.session_days, self.days
        position = np.searchsorted(session_days, days)
        is_session = session_days[np.minimum(position, len(session_days) - 1)] == days
        previous = session_days[np.maximum(position - 1, 0)]
        prev_row_ok = np.concatenate([[False], days[:-1] == previous[1:]])
        clean: BoolArray = is_session & window_good & no_big_move & prev_row_ok
        return clean

    def _batch_targets(self) -> tuple[FloatArray | None, BoolArray | None]:
        """Every day's targets at once, for the strategies that have a batch form."""
        strategy = self.runtime.strategy
        batch = (
            strategy.batch_targets(self.prices)
            if conforms(strategy, BatchStrategy)  # type: ignore[type-abstract]
            else None
        )
        if batch is None:
            return None, None
        table, declined = batch
        usable = declined | np.isfinite(table).all(axis=1)
        self.clean = self.clean & usable  # a non-finite weight goes through the cycle's own check
        return table, declined

    def _lazy(self, row: int) -> Verdict:
        """A clean day of a strategy without a batch form: its own code on a numpy window."""
        strategy = self._window
        if strategy is not None:
            targets = strategy.window_targets(self.prices[row - self._history + 1 : row + 1])
            return Verdict("ok", weights=tuple(targets.weights.get(s, 0.0) for s in self.symbols))
        return self._cycle_verdict(row)

    def _cycle_verdict(self, row: int) -> Verdict:
        """The cycle's own steps on the window it would load: fresh, targets, data checks."""
        day = as_date(self.days[row])
        position = int(np.searchsorted(self.session_days, self.days[row]))
        if position >= len(self.sessions) or self.sessions[position] != day:
            return Verdict("closed", f"{day} is not a trading day")
        nearby = self._frame.iloc[max(row - self._history - 1, 0) : row + 1]  # a small frame
        window = closes_window(nearby, self.symbols, day, self._history + 1)
        try:
            check_fresh(window, self.symbols, day)
            targets = self.runtime.strategy.target_weights(window, day)
            check_weights(targets.weights)
        except NoDecisionError:
            return Verdict("declined", "the strategy declined to decide today")
        except (BotError, StrategyError) as exc:
            return Verdict("error", str(exc))
        problems = data_problems(
            window,
            symbols=self.symbols,
            today=day,
            previous_session=self.sessions[position - 1],
            price_times={},
            now=datetime.combine(day, datetime.min.time(), UTC),
            settings=self.runtime.checks,
        )
        if problems:
            return Verdict("error", "pre-trade checks failed: " + "; ".join(problems))
        return Verdict("ok", weights=tuple(targets.weights.get(s, 0.0) for s in self.symbols))


def _every_column(mask: BoolArray) -> BoolArray:
    """Row-wise ``all`` over a handful of columns (numpy's ``all(axis=1)`` is slow on a narrow
    table: it pays per row)."""
    result: BoolArray = mask[:, 0].copy()
    for column in range(1, mask.shape[1]):
        result &= mask[:, column]
    return result


def _forward_filled(prices: FloatArray) -> FloatArray:
    """The broker's marks: each symbol's last close on or before the day (pandas ``ffill``)."""
    present = ~np.isnan(prices)
    if present.all():
        return prices
    index = np.where(present, np.arange(len(prices))[:, None], -1)
    np.maximum.accumulate(index, axis=0, out=index)
    marks: FloatArray = prices[np.maximum(index, 0), np.arange(prices.shape[1])]
    marks[index < 0] = np.nan
    return marks


@lru_cache(maxsize=8)
def _sessions(start: date, end: date) -> tuple[tuple[date, ...], npt.NDArray[np.datetime64]]:
    """XNYS sessions as dates and as an array; cached, since a parameter sweep asks for the
    same range every run."""
    sessions = xnys_sessions(start, end)
    days = np.array(sessions, dtype="datetime64[D]")
    days.setflags(write=False)
    return sessions, days


def as_date(day: np.datetime64) -> date:
    """A numpy day as a ``date`` (the engines' tables use datetime64; the cycle uses dates)."""
    value: date = day.astype("datetime64[D]").item()
    return value
