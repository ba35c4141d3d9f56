"""The calendar trigger: HFEA's quarters, UISx3's month-ends, Max Yield's twice a month.

A calendar trigger never asks "is today the day?" alone: it asks "which scheduled rebalance is
the latest one due, and has it been done?". That single question covers the normal case, a
missed rebalance (the bot was down: catch up on the next run, flagged late), and a first start.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import lru_cache

from bot.triggers.base import Decision, TriggerInput


class Schedule(StrEnum):
    """The calendar rules the seeds use."""

    QUARTER_START = "quarter_start"  # HFEA
    MONTH_END = "month_end"  # UISx3
    TWICE_MONTHLY = "twice_monthly"  # Maximum Yield: mid-month and month-end


@dataclass(frozen=True, slots=True)
class CalendarRule:
    """A schedule and its configurable anchors (docs/STRATEGIES.md)."""

    schedule: Schedule
    quarter_anchor: str = "first_trading_day"  # or "last_trading_day_prev_quarter"
    mid_month_day: int = 15
    mid_month_rule: str = "on_or_before"  # or "on_or_after"

    @property
    def kind(self) -> str:
        """``[trigger] kind = "calendar"``."""
        return "calendar"

    def decide(self, now: TriggerInput) -> Decision:
        """The latest scheduled rebalance due on or before today, unless it was done."""
        return calendar_decision(now.sessions, now.today, self, now.last_done_key())

    def rebalance_dates(self, sessions: Sequence[date]) -> list[tuple[date, str]]:
        """Every scheduled rebalance within ``sessions`` (the fast backtester's form)."""
        return scheduled_rebalances(sessions, self)


def scheduled_rebalances(sessions: Sequence[date], rule: CalendarRule) -> list[tuple[date, str]]:
    """List (session, rebalance key) pairs of the schedule within ``sessions``.

    ``sessions`` must be sorted trading days covering whole months: a month cut at either end of
    the list would make its first or last listed day look like a month boundary. A month's
    entries depend on that month's sessions alone, so they are remembered per month: a
    backtest's cycle asks for the same months day after day, in a window that slides.
    """
    entries = [entry for month in _months(sessions) for entry in _month_entries(month, rule)]
    return sorted(entries) if rule.schedule is Schedule.TWICE_MONTHLY else entries


def _months(sessions: Sequence[date]) -> Iterator[tuple[date, ...]]:
    """The sorted sessions cut into calendar months."""
    start = 0
    for index in range(1, len(sessions)):
        before, day = sessions[index - 1], sessions[index]
        if day.month != before.month or day.year != before.year:
            yield tuple(sessions[start:index])
            start = index
    if sessions:
        yield tuple(sessions[start:])


@lru_cache(maxsize=512)
def _month_entries(month: tuple[date, ...], rule: CalendarRule) -> tuple[tuple[date, str], ...]:
    """One month's scheduled rebalances, in date order."""
    if rule.schedule is Schedule.QUARTER_START:
        return tuple(_quarter_starts([list(month)], rule.quarter_anchor))
    if rule.schedule is Schedule.MONTH_END:
        return ((month[-1], f"{month[-1]:%Y-%m}"),)
    middle = _mid_month(list(month), rule)
    end = (month[-1], f"{month[-1]:%Y-%m}E")
    return tuple(sorted([end] if middle is None else [middle, end]))


def _quarter_starts(months: list[list[date]], anchor: str) -> list[tuple[date, str]]:
    if anchor == "first_trading_day":
        return [(m[0], _quarter_key(m[0])) for m in months if m[0].month in (1, 4, 7, 10)]
    if anchor == "last_trading_day_prev_quarter":
        return [(m[-1], _next_quarter_key(m[-1])) for m in months if m[-1].month in (3, 6, 9, 12)]
    msg = f"unknown quarter_anchor {anchor!r}"
    raise ValueError(msg)


def _quarter_key(day: date) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def _next_quarter_key(day: date) -> str:
    return f"{day.year + 1}Q1" if day.month == 12 else f"{day.year}Q{day.month // 3 + 1}"


def _mid_month(month: list[date], rule: CalendarRule) -> tuple[date, str] | None:
    day = rule.mid_month_day
    if rule.mid_month_rule == "on_or_before":
        candidates = [d for d in month if d.day <= day]
        chosen = candidates[-1] if candidates else None
    elif rule.mid_month_rule == "on_or_after":
        chosen = next((d for d in month if d.day >= day), None)
    else:
        msg = f"unknown mid_month_rule {rule.mid_month_rule!r}"
        raise ValueError(msg)
    return None if chosen is None else (chosen, f"{chosen:%Y-%m}M")


def _due(sessions: Sequence[date], today: date, rule: CalendarRule) -> list[tuple[date, str]]:
    """The scheduled rebalances on or before ``today``: first among the sessions from four
    months back (every schedule has an entry in any four whole months), cut at a month's start
    so that each month is the one the whole list has; the whole list when that finds none."""
    month = today.year * 12 + today.month - 1 - 4
    since = bisect_left(sessions, date(month // 12, month % 12 + 1, 1))
    recent = [(d, k) for d, k in scheduled_rebalances(sessions[since:], rule) if d <= today]
    if recent or not since:
        return recent
    return [(d, k) for d, k in scheduled_rebalances(sessions, rule) if d <= today]


def calendar_decision(
    sessions: Sequence[date], today: date, rule: CalendarRule, last_done_key: str | None
) -> Decision:
    """Decide from the latest scheduled rebalance due on or before ``today``.

    ``sessions`` must extend past ``today`` (to know whether today ends a month). A due
    rebalance that was never done is traded now; if its date has passed, it is flagged late.
    """
    if not sessions or sessions[-1] <= today:
        msg = f"the market calendar must extend past {today} to know today's schedule"
        raise ValueError(msg)
    due = _due(sessions, today, rule)
    if not due:
        return Decision(False, "no scheduled rebalance yet", "")
    day, key = due[-1]
    if key == last_done_key:
        return Decision(False, f"rebalance {key} already done", key)
    if last_done_key is None and day < today:
        return Decision(True, f"initial rebalance: none recorded yet (last due {key})", key)
    if day < today:
        return Decision(True, f"missed rebalance {key} due {day}: catching up", key, late=True)
    return Decision(True, f"scheduled rebalance {key}", key)
