"""What is wrong with one symbol's daily closes, day by day: the checks of ``bot data fetch``.

- a **gap**: an XNYS session between the first close and the end of the fetch without a row
  (after the last row it is a stale or delisted fund);
- a row on a day that is **not an XNYS session**;
- a close that is **not a positive finite number** (zero, negative, empty);
- a **move beyond 50%** between two consecutive closes: a bad print or an unadjusted split (the
  split ratio is named when exactly one clean ratio fits, as in the live bot's check).

Each problem is dated, so a refetch can tell which ones it repaired. Nothing here changes a
close: the caller decides what to do about a problem, and says so.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from bot.market.sessions import calendar_range, is_session, xnys_sessions
from bot.splits import price_ratios

MAX_MOVE = 0.5  # the live bot's default [checks] max_daily_move
NAMED_SPLIT_TOLERANCE = 0.1  # as the live bad-print check names a suspected split


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    """One thing wrong with the closes, on ``day`` (the first day it concerns); ``kind`` is
    one of ``gap``, ``stale``, ``calendar``, ``value``, ``move``."""

    day: date
    kind: str
    text: str

    @property
    def key(self) -> tuple[date, str]:
        """What tells one problem from another across two fetches (the text may differ: an
        empty cell read back from a file is the zero Alpaca served)."""
        return self.day, self.kind

    def __str__(self) -> str:
        return self.text


def problems(closes: Mapping[date, float], end: date) -> tuple[Problem, ...]:
    """Every problem of ``closes`` (a symbol's rows, by day) for a fetch that ends on ``end``,
    in date order."""
    if not closes:
        return ()
    days = sorted(closes)
    found = [*_gaps(days, end), *_off_calendar(days), *_bad_values(closes), *_moves(closes)]
    return tuple(sorted(found))


def _gaps(days: Sequence[date], end: date) -> list[Problem]:
    first, last = calendar_range()
    low, high = max(days[0], first), min(max(end, days[-1]), last)
    if low > high:
        return []
    sessions = xnys_sessions(low, high)
    present = set(days)
    missing = [i for i, day in enumerate(sessions) if day not in present]
    found = []
    for run in _runs(missing):
        start, stop = sessions[run[0]], sessions[run[-1]]
        if start > days[-1]:
            text = (
                f"no bar after {days[-1]}: the {_sessions(len(run))} up to {stop} are missing "
                "(stale, or no longer traded?)"
            )
            found.append(Problem(start, "stale", text))
        elif len(run) == 1:
            found.append(Problem(start, "gap", f"no bar for the session {start}"))
        else:
            text = f"no bars for the {_sessions(len(run))} {start}..{stop}"
            found.append(Problem(start, "gap", text))
    return found


def _runs(indices: Sequence[int]) -> list[list[int]]:
    """Consecutive indices grouped: [1, 2, 5] → [[1, 2], [5]]."""
    runs: list[list[int]] = []
    for index in indices:
        if runs and runs[-1][-1] == index - 1:
            runs[-1].append(index)
        else:
            runs.append([index])
    return runs


def _sessions(count: int) -> str:
    return "session" if count == 1 else f"{count} sessions"


def _off_calendar(days: Sequence[date]) -> list[Problem]:
    first, last = calendar_range()
    return [
        Problem(day, "calendar", f"a bar on {day}, which is not an XNYS session")
        for day in days
        if first <= day <= last and not is_session(day)
    ]


def _bad_values(closes: Mapping[date, float]) -> list[Problem]:
    found = []
    for day, close in closes.items():
        if math.isnan(close):
            found.append(Problem(day, "value", f"no close on {day} (an empty cell: missing)"))
        elif not math.isfinite(close) or close <= 0:
            text = f"close {close} on {day} is not a positive price (written as a missing close)"
            found.append(Problem(day, "value", text))
    return found


def _moves(closes: Mapping[date, float]) -> list[Problem]:
    known = [(d, c) for d, c in sorted(closes.items()) if math.isfinite(c) and c > 0]
    found = []
    for (_, before), (day, after) in itertools.pairwise(known):
        move = after / before - 1
        if abs(move) > MAX_MOVE:
            text = (
                f"{move:+.1%} on {day} (from {before} to {after}) is beyond the {MAX_MOVE:.0%} "
                f"limit: {_suspect(before, after)}"
            )
            found.append(Problem(day, "move", text))
    return found


def _suspect(before: float, after: float) -> str:
    ratios = price_ratios(before, after, tolerance=NAMED_SPLIT_TOLERANCE)
    if len(ratios) == 1:
        return f"a bad print, or an unadjusted {ratios[0].describe()}?"
    return "a bad print, or an unadjusted split?"
