"""The daemon's loop: sleep until the next market-day wake, run every strategy's cycle, repeat.

With the wall clock it waits for real; with a simulated clock the same loop jumps from one wake
to the next, which is how the demo runs months of market days in seconds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import structlog

from bot.cycle import NEW_YORK, Adapters, CycleResult, StrategyRuntime, run_cycle
from bot.ports import MarketCalendar

log = structlog.get_logger()


@dataclass(frozen=True, slots=True)
class DaemonSummary:
    """How many cycles ended how, over one daemon run."""

    cycles: int
    outcomes: Counter[str]
    last_session: date | None


def next_wake(calendar: MarketCalendar, after: datetime, before_close: timedelta) -> datetime:
    """The first session wake (close − ``before_close``) strictly after ``after``."""
    day = after.astimezone(NEW_YORK).date()
    for session in calendar.sessions(day, day + timedelta(days=14)):
        wake = calendar.session_close(session) - before_close
        if wake > after:
            return wake
    msg = f"no trading session in the two weeks after {day}"
    raise RuntimeError(msg)


def run_daemon(
    adapters: Adapters,
    runtimes: Sequence[StrategyRuntime],
    *,
    before_close: timedelta,
    until: date | None = None,
    on_cycle: Callable[[CycleResult], None] | None = None,
) -> DaemonSummary:
    """Wake each market day and run each strategy; one strategy's failure never stops another."""
    outcomes: Counter[str] = Counter()
    last: date | None = None
    while True:
        wake = next_wake(adapters.calendar, adapters.clock.now(), before_close)
        if until is not None and wake.astimezone(NEW_YORK).date() > until:
            return DaemonSummary(sum(outcomes.values()), outcomes, last)
        adapters.clock.sleep_until(wake)
        for runtime in runtimes:
            result = _run_one(adapters, runtime)
            outcomes[result.outcome if result else "crashed"] += 1
            if result is not None:
                last = result.session
                if on_cycle is not None:
                    on_cycle(result)


def _run_one(adapters: Adapters, runtime: StrategyRuntime) -> CycleResult | None:
    try:
        result = run_cycle(adapters, runtime)
    except Exception:
        log.exception("cycle_crashed", strategy=runtime.name)
        return None
    log.info(
        "cycle_done",
        run_id=result.run_id,
        strategy=result.strategy,
        session=str(result.session),
        outcome=result.outcome,
        reason=result.reason,
        orders=len(result.orders),
        equity=None if result.equity is None else f"{result.equity:.2f}",
    )
    return result
