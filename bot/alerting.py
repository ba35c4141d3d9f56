"""What the daemon tells the user: the alerts composed from cycles and from the daemon itself.

Every alert has a deterministic key (strategy, run id, session, period), so the dispatcher can
refuse to send one twice, across restarts too. Composition is pure apart from reading the
tracker; what an alert is lives in ``bot.alert_port``, its delivery (Slack, email, retries) in
``bot.alerts`` and ``bot.adapters``.
"""

from __future__ import annotations

import os
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from bot.alert_port import Alert, Severity
from bot.cycle import CycleResult
from bot.journal import EventKind
from bot.portfolio.wake import PortfolioResult
from bot.ports import Journal
from bot.report import quarterly_lines
from bot.splits import SplitRatio


class AlertSender(Protocol):
    """Anything that accepts alerts: the dispatcher, or a recording fake in tests."""

    def send(self, alert: Alert) -> None:
        """Deliver (or queue) one alert; never raises."""
        ...


def started_alert(now: datetime, banner: str, strategies: list[str]) -> Alert:
    """The start-up banner: which account, which strategies."""
    return Alert(
        key=f"started:{now.isoformat()}:{os.getpid()}",  # every start is announced
        severity=Severity.INFO,
        title=f"bot started: {', '.join(strategies)}",
        text=banner or "simulated broker",
    )


def missed_alert(strategy: str, day: date, why: str) -> Alert:
    """A market day whose cycle did not complete on time (or at all)."""
    return Alert(
        key=f"missed:{strategy}:{day}:{why}",
        severity=Severity.WARNING,
        title=f"{strategy}: {day} — {why}",
        text=f"{why}. Check the logs and `bot status`; the tracker has the details.",
        strategy=strategy,
    )


def cycle_alert(result: CycleResult, tracker: Journal) -> Alert | None:
    """One message per run that traded or failed: targets, fills and the drift left after."""
    if result.outcome == "error":
        return Alert(
            key=f"error:{result.strategy}:{result.run_id}",
            severity=Severity.ERROR,
            title=f"{result.strategy}: cycle failed on {result.session}",
            text=f"{result.reason}\nNo further orders were sent. Run id {result.run_id}.",
            strategy=result.strategy,
        )
    if result.outcome != "traded":
        return None
    events = tracker.run_events(result.run_id)
    targets = _last_payload(events, EventKind.TARGETS_COMPUTED).get("weights", {})
    done = _last_payload(events, EventKind.REBALANCE_DONE)
    decision = _last_payload(events, EventKind.DECISION)
    lines = [f"why: {result.reason}" + (" (LATE)" if decision.get("late") else "")]
    lines += [f"target {s}: {float(w):.2%}" for s, w in targets.items()]
    lines += [
        f"{o.side.value} {o.filled_qty} {o.symbol} @ {o.filled_avg_price} ({o.status.value})"
        for o in result.orders
    ]
    if done:
        lines.append(
            f"largest drift after: {Decimal(str(done['residual_drift'])):.4%} "
            f"({done.get('symbol', '')})"
        )
    if result.equity is not None:
        lines.append(f"equity: ${result.equity:,.2f}")
    return Alert(
        key=f"trades:{result.strategy}:{result.run_id}",
        severity=Severity.INFO,
        title=f"{result.strategy}: {len(result.orders)} orders on {result.session}",
        text="\n".join(lines),
        strategy=result.strategy,
    )


def external_change_alert(result: CycleResult, tracker: Journal) -> Alert | None:
    """Holdings that changed since the bot's last cycle: a manual trade, a liquidation, a
    split. The cycle records it and its rules carry on; the user must hear about it.

    A recognised split (bot/splits.py) is no cause for alarm: alone, it is one INFO alert
    naming it; alongside an outside change, the WARNING names it too. Either way, one alert."""
    events = tracker.run_events(result.run_id)
    change = _last_payload(events, EventKind.EXTERNAL_CHANGE)
    splits = [dict(e.payload) for e in events if e.kind == EventKind.SPLIT_DETECTED.value]
    if not change:
        return _split_alert(result, splits) if splits else None
    lines = [
        f"{symbol}: was {moved['was']}, now {moved['now']}"
        for symbol, moved in change.get("changes", {}).items()
    ]
    lines.append(
        "The bot did not make these changes. Its next rebalance trades from what is held now; "
        "check the account if you did not expect this."
    )
    lines += [f"Also recognised as a split, not a trade: {_split_line(s)}" for s in splits]
    return Alert(
        key=f"external:{result.strategy}:{result.run_id}",
        severity=Severity.WARNING,
        title=f"{result.strategy}: positions changed outside the bot (seen {result.session})",
        text="\n".join(lines),
        strategy=result.strategy,
    )


def _split_name(split: dict) -> str:  # type: ignore[type-arg]
    ratio = SplitRatio(int(split["new"]), int(split["old"]))
    return f"{split['symbol']} {ratio.describe()}"


def _split_line(split: dict) -> str:  # type: ignore[type-arg]
    price_before, price_after = float(split["price_before"]), float(split["price_after"])
    before, after = (Decimal(str(split[k])).normalize() for k in ("qty_before", "qty_after"))
    return (
        f"{_split_name(split)}: {before:f} shares → {after:f} "
        f"(price ${price_before:,.2f} → ${price_after:,.2f})"
    )


def _split_alert(result: CycleResult, splits: list[dict]) -> Alert:  # type: ignore[type-arg]
    names = ", ".join(_split_name(s) for s in splits)
    return Alert(
        key=f"split:{result.strategy}:{result.run_id}",
        severity=Severity.INFO,
        title=f"{result.strategy}: {names} (seen {result.session})",
        text="\n".join(
            [
                *(_split_line(s) for s in splits),
                "The position's value did not change. The bot recorded the split, adjusts the "
                "price history for it if the bars come back unadjusted, and carries on.",
            ]
        ),
        strategy=result.strategy,
    )


def cycle_alerts(result: CycleResult, tracker: Journal) -> list[Alert]:
    """Everything one finished cycle has to say, in order: holdings changed outside the bot,
    the cycle's trades or failure, and the latest quarter's tracker line. The daemon and
    ``bot once`` send the same ones; their keys make a repeat a no-op."""
    found = [
        external_change_alert(result, tracker),
        cycle_alert(result, tracker),
        quarter_alert(result.strategy, tracker),
    ]
    return [alert for alert in found if alert is not None]


def quarter_alert(strategy: str, tracker: Journal) -> Alert | None:
    """The forum-style tracker line of the latest quarter, once per quarter."""
    lines = [line for line in quarterly_lines(tracker.equity_history(strategy)) if not line.latest]
    if not lines:
        return None
    line = lines[-1]
    return Alert(
        key=f"tracker:{strategy}:{line.period}",
        severity=Severity.INFO,
        title=f"{strategy} tracker {line.period}",
        text=line.render(),
        strategy=strategy,
    )


def _last_payload(events: list, kind: EventKind) -> dict:  # type: ignore[type-arg]
    matching = [e for e in events if e.kind == kind.value]
    return dict(matching[-1].payload) if matching else {}


def portfolio_alerts(result: PortfolioResult) -> list[Alert]:
    """What a portfolio's wake says beyond its strategies' own alerts: the netted orders it
    sent, or why it sent none. A difference between the account and the ledgers is alerted once
    per difference, however many wakes it stops (the key names the funds and the shares)."""
    name = result.portfolio
    if result.differences:
        shown = ", ".join(f"{s} {q:+}" for s, q in sorted(result.differences.items()))
        return [
            Alert(
                key=f"reconcile:{name}:{shown}",
                severity=Severity.ERROR,
                title=f"{name}: the account does not match the strategies' ledgers ({shown})",
                text=f"{result.reason}\nRun id {result.run_id}.",
                strategy=name,
            )
        ]
    if result.outcome == "error":
        return [
            Alert(
                key=f"error:{name}:{result.run_id}",
                severity=Severity.ERROR,
                title=f"{name}: wake failed on {result.session}",
                text=f"{result.reason}\nRun id {result.run_id}.",
                strategy=name,
            )
        ]
    if not result.orders:
        return []
    lines = [result.reason]
    lines += [
        f"{o.side.value} {o.filled_qty} {o.symbol} @ {o.filled_avg_price} ({o.status.value})"
        for o in result.orders
    ]
    if result.equity is not None:
        lines.append(f"account equity: ${result.equity:,.2f}")
    return [
        Alert(
            key=f"traded:{name}:{result.run_id}",
            severity=Severity.INFO,
            title=f"{name}: {len(result.orders)} netted orders on {result.session}",
            text="\n".join(lines),
            strategy=name,
        )
    ]
