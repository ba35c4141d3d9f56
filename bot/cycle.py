"""``run_cycle``: one wake of the bot for one strategy. The same function serves the simulated
broker, backtests, paper and live trading; only the adapters differ.

read (bars, account) -> decide (targets, drift, trigger: pure) -> record -> act (orders) -> record

Every step is appended to the tracker before the next one starts, so a crash leaves a journal
that says exactly how far the cycle got. Any error stops the strategy's cycle with an error
event and no further orders; doing nothing is always safer than a wrong trade.
"""

from __future__ import annotations

import math
import uuid
from bisect import bisect_left
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import structlog

from bot import messages
from bot.checks import (
    CheckSettings,
    account_problems,
    asset_problems,
    data_problems,
    wash_trade_problems,
)
from bot.closes import ClosesArrays
from bot.domain import (
    EXACT_COSTS,
    Account,
    Leg,
    OrderCosts,
    OrderReport,
    PlannedOrder,
    to_decimal,
)
from bot.errors import BotError, BrokerError, DataError, PlanningError, PreTradeCheckError
from bot.execution import Execution, ExecutionPolicy, PhaseOutcome, Refusal
from bot.journal import EventKind
from bot.logs import bind_cycle
from bot.planner import Plan, PlannerRules, capacity_shortfall, fit_to_capacity, plan_orders
from bot.ports import Broker, Clock, Journal, MarketCalendar, MarketData
from bot.splits import (
    Jump,
    KnownSplit,
    Split,
    explain_changes,
    restate,
    split_from_bars,
    split_shaped_jumps,
)
from bot.stopping import StopToken
from bot.triggers import (
    Decision,
    Trigger,
    TriggerInput,
    current_weights,
    max_drift,
)
from strategies.base import NoDecisionError, Strategy, StrategyError, TargetWeights

NEW_YORK = ZoneInfo("America/New_York")
MAX_RESIZES = 3  # a refused buy is re-sized from a fresh account read at most this many times
RESIZE_MARKUP = Decimal("0.025")  # each re-size values buys this much higher again
log = structlog.get_logger()
Outcome = Literal["traded", "held", "error", "closed", "planned"]


@dataclass(frozen=True, slots=True)
class ExecutionSettings:
    """Order confirmation: poll every ``poll_interval`` at most ``max_polls`` times, and cancel
    what is still open ``cancel_before_close`` before the close."""

    poll_interval: timedelta = timedelta(seconds=1)
    max_polls: int = 120
    cancel_before_close: timedelta = timedelta(minutes=5)

    def policy(self, close: datetime) -> ExecutionPolicy:
        """The execution policy of a session closing at ``close``."""
        return ExecutionPolicy(
            deadline=close - self.cancel_before_close,
            poll_interval=self.poll_interval,
            max_polls=self.max_polls,
        )


@dataclass(frozen=True, slots=True)
class StrategyRuntime:
    """Everything the cycle needs to know about one configured strategy."""

    name: str
    strategy: Strategy
    trigger: Trigger
    rules: PlannerRules
    execution: ExecutionSettings = field(default_factory=ExecutionSettings)
    checks: CheckSettings = field(default_factory=CheckSettings)


@dataclass(frozen=True, slots=True)
class Adapters:
    """The imperative shell: swap these to go from simulation to paper to live."""

    broker: Broker
    market: MarketData
    calendar: MarketCalendar
    tracker: Journal
    clock: Clock
    stop: StopToken = field(default_factory=StopToken)  # set by SIGTERM: cancel, journal, end


@dataclass(frozen=True, slots=True)
class CycleResult:
    """What one cycle did, for the CLI and the daemon."""

    run_id: str
    strategy: str
    session: date
    outcome: Outcome
    reason: str
    orders: tuple[OrderReport, ...] = field(default=())
    equity: Decimal | None = None
    planned: tuple[PlannedOrder, ...] = field(default=())  # what a dry run would have sent
    decision: Decision | None = None  # why it traded or held, when it got that far
    targets: Mapping[str, float] = field(default_factory=dict)  # the weights it traded toward


def new_run_id(session: date) -> str:
    """A unique, sortable run id: the session date plus a random suffix."""
    return f"{session:%Y%m%d}-{uuid.uuid4().hex[:8]}"


def run_cycle(
    adapters: Adapters,
    runtime: StrategyRuntime,
    *,
    force: bool = False,
    dry_run: bool = False,
    run_id: str | None = None,
    propose: bool = False,
) -> CycleResult:
    """Run one full cycle for one strategy and return what happened (errors are recorded).

    ``propose``: a strategy of a portfolio (``bot.portfolio``) plans as a dry run does, and the
    cycle stays open — no equity snapshot, no ``cycle_finished`` — for the portfolio to finish
    once the netted orders are done (``finish_proposal``)."""
    today = adapters.clock.now().astimezone(NEW_YORK).date()
    cycle = _Cycle(adapters, runtime, today, run_id or new_run_id(today), propose=propose)
    with bind_cycle(cycle.run_id, runtime.name):  # every log line names its run and strategy
        return _run(cycle, force=force, dry_run=dry_run or propose)


def _run(cycle: _Cycle, *, force: bool, dry_run: bool) -> CycleResult:
    cycle.record(EventKind.CYCLE_STARTED, session=cycle.today, force=force, dry_run=dry_run)
    try:
        result = cycle.run(force=force, dry_run=dry_run)
        if cycle.propose and result.outcome == "planned":
            return result  # the portfolio finishes it
    except (BotError, StrategyError) as exc:
        cycle.record(EventKind.ERROR, error=type(exc).__name__, message=str(exc))
        result = cycle.result("error", str(exc), cycle.snapshot_if_possible())
    except Exception as exc:
        cycle.record(EventKind.ERROR, error=type(exc).__name__, message=repr(exc))
        cycle.record(EventKind.CYCLE_FINISHED, outcome="error", reason=repr(exc))
        raise
    cycle.record(EventKind.CYCLE_FINISHED, outcome=result.outcome, reason=result.reason)
    return result


def finish_proposal(
    adapters: Adapters,
    runtime: StrategyRuntime,
    proposal: CycleResult,
    prices: Mapping[str, Decimal],
    problem: str | None = None,
) -> CycleResult:
    """Finish a cycle run with ``propose=True`` once the portfolio has executed the netted
    orders and posted their fills to the ledgers (``adapters.broker`` reads the sleeve after
    them): the residual check at ``prices`` records the rebalance done or an error, then the
    sleeve's positions and equity, then ``cycle_finished``. ``problem``: the netted orders
    failed, the rebalance stays due."""
    cycle = _Cycle(adapters, runtime, proposal.session, proposal.run_id)
    with bind_cycle(cycle.run_id, runtime.name):
        result: CycleResult
        try:
            if problem is not None:
                raise BrokerError(problem)
            if proposal.decision is None:
                msg = "a proposal without a decision cannot be finished"
                raise BrokerError(msg)
            account = adapters.broker.account()
            cycle.conclude(account, prices, proposal.targets, proposal.decision)
            reason = proposal.decision.reason
            result = cycle.result("traded", reason, cycle.snapshot_if_possible())
        except BotError as exc:
            cycle.record(EventKind.ERROR, error=type(exc).__name__, message=str(exc))
            result = cycle.result("error", str(exc), cycle.snapshot_if_possible())
        cycle.record(EventKind.CYCLE_FINISHED, outcome=result.outcome, reason=result.reason)
        return replace(result, decision=proposal.decision, targets=proposal.targets)


class _Cycle:
    """One cycle's state: which strategy, which session, which run id."""

    def __init__(
        self,
        adapters: Adapters,
        runtime: StrategyRuntime,
        today: date,
        run_id: str,
        *,
        propose: bool = False,
    ) -> None:
        self.adapters = adapters
        self.propose = propose
        self.decision: Decision | None = None
        self.targets: Mapping[str, float] = {}
        self.runtime = runtime
        self.today = today
        self.run_id = run_id
        self.reports: list[OrderReport] = []
        # How the broker values orders, and (later) whole-share symbols from its asset flags.
        self.rules = replace(runtime.rules, costs=adapters.broker.order_costs)
        self.planned: tuple[PlannedOrder, ...] = ()
        self.scaled_note = ""  # set when the targets were scaled to the margin (configured)
        self.read_mark = 0  # the journal's last event id before the latest account read

    def record(self, kind: EventKind, **payload: Any) -> None:
        self.adapters.tracker.record(
            self.adapters.clock.now(), self.run_id, self.runtime.name, kind, **payload
        )

    def result(self, outcome: Outcome, reason: str, equity: Decimal | None = None) -> CycleResult:
        return CycleResult(
            self.run_id,
            self.runtime.name,
            self.today,
            outcome,
            reason,
            tuple(self.reports),
            equity,
            self.planned,
            self.decision,
            self.targets,
        )

    def run(self, *, force: bool, dry_run: bool) -> CycleResult:
        sessions = self.adapters.calendar.sessions(
            self.today - timedelta(days=130), self.today + timedelta(days=45)
        )
        if self.today not in sessions:
            self.record(EventKind.DECISION, trade=False, reason="market closed today")
            return self.result("closed", f"{self.today} is not a trading day")
        closes, latest, arrays = self._load_bars()
        targets = self._targets(closes)
        if targets is None:
            return self._finish("held", "the strategy declined to decide today")
        prices = {s: to_decimal(p, f"price of {s}") for s, p in latest.items()}
        account = self._read_account()
        self._notice_external_changes(account)
        self._check_account_and_data(closes, arrays, targets, account, sessions)
        decision = self._decide(sessions, targets, prices, account, force)
        self.decision, self.targets = decision, targets.weights
        if not decision.trade:
            return self._finish("held", decision.reason)
        targets = self._reachable(targets, prices, account)
        execution = self._execution(decision.rebalance_key)
        if not dry_run and not self.adapters.broker.market_open():
            self._refuse_if(
                ["the market is closed now: a market order would wait for the next session"]
            )
        if dry_run:
            others = self.adapters.broker.open_orders()
        else:
            others, _ = execution.cancel_own_open_orders(self.runtime.name)
            # Read again *after* listing the open orders: an order of an earlier (crashed) run
            # that filled before the listing is in this read, one still open was just cancelled.
            # The first read may predate such a fill: planning from it would buy it twice.
            account = self._read_account()
            targets = self._reachable(targets, prices, account)
        self.targets = targets.weights
        plan = self._checked_plan(targets, prices, account, others)
        if self.propose:
            self.planned = plan.orders
            why = f"{len(plan.orders)} orders proposed to the portfolio's netting"
            return self.result("planned", why)
        if dry_run:
            self.planned = plan.orders
            return self._finish("planned", f"dry run: {len(plan.orders)} orders planned, none sent")
        account = self._trade(plan, targets, prices, decision, execution)
        return self._finish("traded", decision.reason + self.scaled_note, account)

    def _read_account(self) -> Account:
        """Read the account for a plan, and mark where the journal stood just before: an
        attempt another run journals after this mark is not in this account read."""
        self.read_mark = self.adapters.tracker.last_event_id()
        return self.adapters.broker.account()

    def _check_account_and_data(
        self,
        closes: pd.DataFrame,
        arrays: ClosesArrays,
        targets: TargetWeights,
        account: Account,
        sessions: tuple[date, ...],
    ) -> None:
        shorts = [s for s, w in targets.weights.items() if w < 0]
        state = self.adapters.broker.account_state()
        before_today = bisect_left(sessions, self.today)  # sorted, and today is one of them
        if not before_today:
            msg = f"the market calendar has no session before {self.today}"
            raise DataError(msg)
        previous = sessions[before_today - 1]
        problems = account_problems(state, account.shorting_equity, shorts) + data_problems(
            closes,
            symbols=self.runtime.strategy.symbols,
            today=self.today,
            previous_session=previous,
            price_times=self.adapters.market.price_times(),
            now=self.adapters.clock.now(),
            settings=self.runtime.checks,
            arrays=arrays,
        )
        self._refuse_if(problems)

    def _refuse_if(self, problems: list[str]) -> None:
        if problems:
            self.record(EventKind.CHECK_FAILED, problems=problems)
            msg = messages.pre_trade_failed(problems)
            raise PreTradeCheckError(msg)

    def _execution(self, key: str) -> Execution:
        policy = self.runtime.execution.policy(self.adapters.calendar.session_close(self.today))
        return Execution(
            self.adapters.broker,
            self.adapters.tracker,
            self.record,
            key,
            self.reports,
            clock=self.adapters.clock,
            policy=policy,
            stop=self.adapters.stop,
            run_id=self.run_id,
            read_mark=lambda: self.read_mark,
        )

    def _checked_plan(
        self,
        targets: TargetWeights,
        prices: Mapping[str, Decimal],
        account: Account,
        open_orders: list[OrderReport],
    ) -> Plan:
        """Plan, then check the assets it trades; whole shares where the broker says so."""
        plan = self._plan(targets, prices, account, phase="all")
        traded = {o.symbol for o in plan.orders}
        shorts = {o.symbol for o in plan.orders if o.leg is Leg.ADD_SHORT}
        assets = self.adapters.broker.assets(traded)
        whole = {s for s, a in assets.items() if not a.fractionable} - self.rules.not_fractionable
        if whole:
            self.rules = replace(self.rules, not_fractionable=self.rules.not_fractionable | whole)
            plan = self._plan(targets, prices, account, phase="all (whole shares)")
        problems = asset_problems(assets, traded, shorts) + wash_trade_problems(
            open_orders, plan.orders
        )
        self._refuse_if(problems)
        return plan

    def _load_bars(self) -> tuple[pd.DataFrame, dict[str, float], ClosesArrays]:
        """The closes the strategy decides on (splits undone), today's close of each symbol (a
        restatement changes only the days before a split, never today's row), and the arrays
        the checks read, derived once."""
        strategy = self.runtime.strategy
        # One row more than the strategy needs: the pre-trade check looks at the previous session.
        closes = self.adapters.market.closes(
            strategy.symbols, self.today, strategy.history_closes + 1
        )
        arrays = ClosesArrays.of(closes)
        latest = check_fresh(closes, strategy.symbols, self.today, arrays)
        self.record(
            EventKind.BARS_LOADED,
            symbols=list(strategy.symbols),
            rows=len(closes),
            last_bar=self.today,  # check_fresh: the latest bar is today's
            prices=latest,  # for bot/splits.py
        )
        adjusted = self._split_adjusted(closes, arrays)
        if adjusted is not closes:
            arrays = ClosesArrays.of(adjusted)
        return adjusted, latest, arrays

    def _split_adjusted(self, closes: pd.DataFrame, arrays: ClosesArrays) -> pd.DataFrame:
        """The closes with every corroborated split undone, for bars that came back unadjusted
        (alpaca-py#780): the strategy and the bad-print check then see one price scale.

        A split-shaped jump is corroborated by a split recorded earlier, or by the position
        changing by the same ratio since the last wake (the account is read only on a day with
        such a jump). Any other jump is left as it is, for the bad-print check to refuse."""
        jumps = split_shaped_jumps(closes, self.runtime.strategy.symbols, arrays=arrays)
        if not jumps:
            return closes
        known, new = find_splits(
            self.adapters.tracker,
            self.runtime.name,
            jumps,
            lambda: self._own_positions(self.adapters.broker.account()),
            self.today,
        )
        for split in new:
            self._record_split(split)
        restated = restate(closes, jumps, known)
        for done in restated.adjustments:
            log.warning(
                "split_restated",
                run_id=self.run_id,
                strategy=self.runtime.name,
                symbol=done.symbol,
                ratio=str(done.ratio),
                before=str(done.day),
            )
            self.record(
                EventKind.SPLIT_ADJUSTED,
                symbol=done.symbol,
                ratio=str(done.ratio),
                before=done.day,
                rows=done.rows,
                why="the bars came back unadjusted (alpaca-py#780)",
            )
        for jump in restated.unconfirmed:
            log.warning(
                "split_unconfirmed",
                run_id=self.run_id,
                strategy=self.runtime.name,
                symbol=jump.symbol,
                day=str(jump.day),
            )
        return restated.closes

    def _record_split(self, split: Split) -> None:
        log.info(
            "split_detected",
            run_id=self.run_id,
            strategy=self.runtime.name,
            symbol=split.symbol,
            ratio=str(split.ratio),
        )
        self.record(EventKind.SPLIT_DETECTED, **split.payload())

    def _targets(self, closes: pd.DataFrame) -> TargetWeights | None:
        try:
            targets = self.runtime.strategy.target_weights(closes, self.today)
        except NoDecisionError as exc:
            log.warning(
                "strategy_declined", run_id=self.run_id, strategy=self.runtime.name, reason=str(exc)
            )
            self.record(EventKind.DECISION, trade=False, reason=f"no decision: {exc}")
            return None
        for note in targets.notes:
            log.info("strategy_note", run_id=self.run_id, strategy=self.runtime.name, note=note)
        check_weights(targets.weights)
        self.record(
            EventKind.TARGETS_COMPUTED,
            weights=dict(targets.weights),
            cash=targets.cash,
            notes=list(targets.notes),
        )
        return targets

    def _decide(
        self,
        sessions: tuple[date, ...],
        targets: TargetWeights,
        prices: Mapping[str, Decimal],
        account: Account,
        force: bool,
    ) -> Decision:
        sleeve = account.equity * self.runtime.rules.capital_fraction
        held = {s: q for s, q in account.positions.items() if s in prices}
        current = current_weights(held, prices, sleeve) if sleeve > 0 else {}
        wanted = {s: to_decimal(w, f"target weight of {s}") for s, w in targets.weights.items()}
        worst, drift = max_drift(current, wanted)
        self.record(
            EventKind.DRIFT_MEASURED,
            current={s: round(float(w), 6) for s, w in current.items()},
            max_drift=drift,
            symbol=worst,
            equity=account.equity,
        )
        name, journal = self.runtime.name, self.adapters.tracker
        decision = self.runtime.trigger.decide(
            TriggerInput(
                today=self.today,
                sessions=sessions,
                current=current,
                target=wanted,
                last_done_key=lambda: journal.last_rebalance_key(name),
            )
        )
        if force and not decision.trade:
            decision = Decision(
                True, f"forced ({decision.reason})", f"{self.today:%Y%m%d}F", forced=True
            )
        self.record(
            EventKind.DECISION,
            trade=decision.trade,
            reason=decision.reason,
            rebalance_key=decision.rebalance_key,
            late=decision.late,
        )
        return decision

    def _reachable(
        self, targets: TargetWeights, prices: Mapping[str, Decimal], account: Account
    ) -> TargetWeights:
        """Targets the account can hold: a gross exposure beyond its margin is scaled or refused
        as configured; capacity used up by other holdings is a shortfall and refused."""
        weights, scale = fit_to_capacity(targets.weights, account, self.rules)
        shortfall = capacity_shortfall(weights, account, prices, self.rules)
        if shortfall is not None:
            msg = f"buying power short: {shortfall}; no trade (the rebalance stays due)"
            raise PlanningError(msg)
        if scale >= 1.0:
            return targets
        if self.rules.over_capacity != "scale":
            raise PlanningError(messages.over_capacity_skipped(scale))
        note = f"{messages.OVER_CAPACITY}: every weight scaled by {scale:.4f}"
        self.scaled_note = (
            f"; targets scaled to {scale:.1%} to fit the account's margin"
            f" ({account.multiplier}×; over_capacity = 'scale')"
        )
        log.warning("targets_scaled", run_id=self.run_id, strategy=self.runtime.name, scale=scale)
        self.record(
            EventKind.TARGETS_COMPUTED,
            weights=weights,
            cash=1 - sum(weights.values()),
            notes=[*targets.notes, note],
            scaled_by=scale,
        )
        return TargetWeights(weights, (*targets.notes, note))

    def _plan(
        self,
        targets: TargetWeights,
        prices: Mapping[str, Decimal],
        account: Account,
        phase: str,
    ) -> Plan:
        plan = plan_orders(
            targets.weights, self.runtime.strategy.symbols, account, prices, self.rules
        )
        self._record_plan(plan, phase)
        return plan

    def _record_plan(self, plan: Plan, phase: str) -> None:
        self.record(
            EventKind.ORDERS_PLANNED,
            phase=phase,
            sleeve_equity=plan.sleeve_equity,
            orders=[
                {"symbol": o.symbol, "leg": o.leg.value, "qty": o.qty, "price": o.price}
                for o in plan.orders
            ],
            notes=list(plan.notes),
        )

    def _trade(
        self,
        plan: Plan,
        targets: TargetWeights,
        prices: Mapping[str, Decimal],
        decision: Decision,
        execution: Execution,
    ) -> Account:
        reducing = execution.send(plan.exposure_reducing, self.runtime.name)
        _raise_if_unsent(reducing, "the buys of this rebalance were not sent")
        first = plan
        if plan.exposure_reducing and plan.exposure_adding:
            # Size the buys from what the sells actually raised, not from the estimate.
            first = self._plan(targets, prices, self._read_account(), phase="add")
        unresolved, resized = self._add_exposure(first, targets, prices, execution)
        account = self.adapters.broker.account()
        if unresolved is not None:
            worst, residual, _ = self._residual(account, prices, targets.weights)
            off = f"{worst} is {residual * 100:.2f} pp off target"
            if resized:
                raise BrokerError(messages.still_refused(unresolved.describe(), resized, off))
            raise BrokerError(f"{unresolved.describe()}; {off}; the rebalance stays due")
        self.conclude(account, prices, targets.weights, decision)
        return account

    def _residual(
        self, account: Account, prices: Mapping[str, Decimal], targets: Mapping[str, float]
    ) -> tuple[str, Decimal, dict[str, Decimal]]:
        """The symbol furthest from its target after the orders, how far, and the weights."""
        sleeve = account.equity * self.runtime.rules.capital_fraction
        held = {s: q for s, q in account.positions.items() if s in prices}
        wanted = {s: to_decimal(w, s) for s, w in targets.items()}
        after = current_weights(held, prices, sleeve) if sleeve > 0 else {}
        worst, residual = max_drift(after, wanted)
        return worst, residual, after

    def conclude(
        self,
        account: Account,
        prices: Mapping[str, Decimal],
        targets: Mapping[str, float],
        decision: Decision,
    ) -> None:
        """The residual check of a rebalance whose orders are done: within the tolerance it is
        recorded done, beyond it an error (the rebalance stays due)."""
        key = decision.rebalance_key
        worst, residual, after = self._residual(account, prices, targets)
        tolerance = self.runtime.rules.residual_tolerance
        if residual > tolerance:
            raise BrokerError(messages.incomplete(key, worst, residual, tolerance))
        self.record(
            EventKind.REBALANCE_DONE,
            rebalance_key=key,
            residual_drift=residual,
            symbol=worst,
            forced=decision.forced,
            weights={s: round(float(w), 6) for s, w in after.items()},  # after the orders
        )

    def _add_exposure(
        self,
        plan: Plan,
        targets: TargetWeights,
        prices: Mapping[str, Decimal],
        execution: Execution,
    ) -> tuple[Refusal | None, int]:
        """Send the buys and new shorts in rounds (``add_in_rounds``). Returns the refusal
        still standing, if any, and how many times the buys were re-sized for it."""

        def replan(costs: OrderCosts, phase: str) -> Plan:
            account = self._read_account()
            symbols = self.runtime.strategy.symbols
            again = plan_orders(
                targets.weights, symbols, account, prices, replace(self.rules, costs=costs)
            )
            self._record_plan(again, phase=phase)
            return again

        collared = self.rules.costs != EXACT_COSTS
        rounds = add_in_rounds(
            execution, self.runtime.name, plan, self.rules.costs, collared=collared, replan=replan
        )
        if rounds.refused is None:
            _raise_if_unsent(PhaseOutcome((), rounds.failed), "the rest of the plan was sent")
            self._note_scaled_buys(rounds.scaled)
        return rounds.refused, rounds.resized

    def _note_scaled_buys(self, scaled: bool) -> None:
        """Say so in the result when the last buys were scaled down to the funds left."""
        if scaled:
            self.scaled_note += "; buys scaled down to the buying power left"

    def _finish(self, outcome: Outcome, reason: str, account: Account | None = None) -> CycleResult:
        return self.result(outcome, reason, self._snapshot(account))

    def _notice_external_changes(self, account: Account) -> None:
        """Compare holdings with what the last cycle left: a difference is someone else's doing
        (a manual trade, a liquidation, a split). It is recorded and reported, not fought
        silently; the strategy's own rules then decide what to do about it."""
        last = self.adapters.tracker.last_event(self.runtime.name, EventKind.POSITIONS)
        if last is None:
            return
        before = {s: Decimal(q) for s, q in last.payload["positions"].items()}
        now = self._own_positions(account)
        changed = {
            s: {"was": before.get(s, Decimal(0)), "now": now.get(s, Decimal(0))}
            for s in sorted(set(before) | set(now))
            if before.get(s, Decimal(0)) != now.get(s, Decimal(0))
        }
        if changed:  # a split is recorded as one (bot/splits.py), not as someone else's trade
            changed = self._not_splits(changed, last.run_id, session_of(last.at))
        if changed:
            log.warning(
                "external_change",
                run_id=self.run_id,
                strategy=self.runtime.name,
                symbols=sorted(changed),
            )
            self.record(EventKind.EXTERNAL_CHANGE, changes=changed, since_run=last.run_id)

    def _not_splits(
        self, changed: dict[str, dict[str, Decimal]], last_run: str, after: date
    ) -> dict[str, dict[str, Decimal]]:
        """The changes that are not splits. A split is one the bars showed this run, or one the
        prices of the two wakes confirm (each wake records its prices with its bars)."""
        tracker = self.adapters.tracker
        mine = tracker.run_events(self.run_id)
        seen = {e.payload["symbol"] for e in mine if e.kind == EventKind.SPLIT_DETECTED.value}
        rest = {s: moved for s, moved in changed.items() if s not in seen}
        found = explain_changes(
            {s: moved["was"] for s, moved in rest.items()},
            {s: moved["now"] for s, moved in rest.items()},
            _bar_prices(tracker.run_events(last_run)),
            _bar_prices(mine),
            after=after,
            through=self.today,
        )
        for split in found.splits:
            self._record_split(split)
        return {s: rest[s] for s in found.unexplained}

    def _own_positions(self, account: Account) -> dict[str, Decimal]:
        universe = set(self.runtime.strategy.symbols)
        return {s: q for s, q in account.positions.items() if s in universe and q != 0}

    def _snapshot(self, account: Account | None = None) -> Decimal:
        account = account or self.adapters.broker.account()
        self.record(EventKind.POSITIONS, positions=self._own_positions(account))
        sleeve = account.equity * self.runtime.rules.capital_fraction
        self.adapters.tracker.snapshot_equity(
            at=self.adapters.clock.now(),
            session=self.today,
            run_id=self.run_id,
            strategy=self.runtime.name,
            equity=account.equity,
            sleeve_equity=sleeve,
        )
        return account.equity

    def snapshot_if_possible(self) -> Decimal | None:
        """Snapshot equity after a failed cycle too, unless the broker is what failed."""
        try:
            return self._snapshot()
        except BotError as exc:
            self.record(EventKind.ERROR, error=type(exc).__name__, message=f"no equity: {exc}")
            return None


@dataclass(frozen=True, slots=True)
class AddingRounds:
    """How the rounds of buys and new shorts ended (``add_in_rounds``)."""

    refused: Refusal | None = None  # a refusal still standing
    resized: int = 0  # how many times the buys were re-sized for it
    failed: tuple[Refusal, ...] = ()  # orders transient faults kept from the broker
    scaled: bool = False  # the last buys sent were scaled down to the funds left


def add_in_rounds(
    execution: Execution,
    name: str,
    plan: Plan,
    costs: OrderCosts,
    *,
    collared: bool,
    replan: Callable[[OrderCosts, str], Plan],
) -> AddingRounds:
    """Send a plan's buys and new shorts in rounds: the one mechanism of a strategy's cycle and
    of a portfolio's netted orders. ``replan(costs, phase)`` plans again from a fresh account.

    * A buy refused for buying power is re-sized, valued ``RESIZE_MARKUP`` higher each time, and
      sent under the next journaled suffix, at most ``MAX_RESIZES`` times: the broker values it
      above our model, and sending the same order again would be refused again, every run,
      forever. Any other refusal (not fractionable, a wash trade) is final for this run.
    * On a broker that holds more than an order's value while it is open (Alpaca's collar,
      ``collared``), buys that had to be scaled to the funds leave that hold behind in cash once
      they fill: a top-up round buys what is still missing (at most ``MAX_RESIZES`` rounds in
      all). The simulated broker holds exactly the fill, so it never tops up.
    """
    adding, scaled = plan.exposure_adding, bool(plan.notes)
    for round_ in range(MAX_RESIZES + 1):
        outcome = execution.send(adding, name)
        refused = outcome.refused
        if refused and not any(messages.INSUFFICIENT_BUYING_POWER in r.reason for r in refused):
            return AddingRounds(refused[0], 0, outcome.failed)  # re-sizing cannot help
        if not refused and (outcome.failed or not (scaled and collared) or round_ == MAX_RESIZES):
            return AddingRounds(failed=outcome.failed, scaled=scaled)
        if round_ == MAX_RESIZES:
            return AddingRounds(refused[0], MAX_RESIZES, outcome.failed)
        if refused:
            widened = costs.widened(RESIZE_MARKUP * (round_ + 1))
            again = replan(widened, f"add, re-sized after {refused[0].client_order_id}")
        else:
            again = replan(costs, "add, topped up after the fills released the collar's hold")
        adding, scaled = again.exposure_adding, bool(again.notes)
        if not adding:
            return AddingRounds(refused[0], round_ + 1) if refused else AddingRounds()
    return AddingRounds()  # pragma: no cover - the loop always returns


def _raise_if_unsent(outcome: PhaseOutcome, consequence: str) -> None:
    """A refused or unsent order ends the cycle in error once its phase is done."""
    problems = [*outcome.refused, *outcome.failed]
    if problems:
        described = "; ".join(p.describe() for p in problems)
        raise BrokerError(f"{described}; {consequence}")


def check_fresh(
    closes: pd.DataFrame,
    symbols: tuple[str, ...],
    today: date,
    arrays: ClosesArrays | None = None,
) -> dict[str, float]:
    """Refuse to decide on data that does not include today's price for every symbol; return
    today's close of each (``arrays``: the frame's, when the caller has them)."""
    columns = set(closes.columns)
    missing = [s for s in symbols if s not in columns]
    if missing:
        msg = f"no price data for {', '.join(missing)}"
        raise DataError(msg)
    last = _last_day(closes)
    if last != today:
        msg = f"stale data: the latest bar is {last or 'nothing'}, expected today's price ({today})"
        raise DataError(msg)
    latest = _latest_floats(closes, symbols, arrays)
    stale = [s for s in symbols if not math.isfinite(latest[s]) or latest[s] <= 0]
    if stale:
        msg = f"no usable price today ({today}) for {', '.join(stale)}"
        raise DataError(msg)
    return latest


def _last_day(closes: pd.DataFrame) -> date | None:
    """The date of the frame's last row (None when empty), read from the integers under a
    plain index: a pandas Timestamp costs more than the rest of the freshness check."""
    index = closes.index
    if not len(index):
        return None
    if isinstance(index, pd.DatetimeIndex) and index.tz is None:
        return index.values[-1].astype("datetime64[D]").item()  # type: ignore[no-any-return]
    return index[-1].date()  # type: ignore[no-any-return]


def check_weights(weights: Mapping[str, float]) -> None:
    bad = [s for s, w in weights.items() if not np.isfinite(w)]
    if bad:
        msg = f"the strategy produced non-finite weights for {', '.join(bad)}"
        raise DataError(msg)


def find_splits(
    tracker: Journal,
    strategy: str,
    jumps: Sequence[Jump],
    positions: Callable[[], Mapping[str, Decimal]],
    today: date,
) -> tuple[list[KnownSplit], list[Split]]:
    """Splits that explain split-shaped jumps in the bars: those recorded earlier, and new ones
    that a position change since the last wake corroborates (``positions`` is read only when a
    jump is left unexplained). Returns (every known split, the new ones to record)."""
    known = [
        KnownSplit.from_payload(e.payload)
        for e in tracker.events(strategy, EventKind.SPLIT_DETECTED)
    ]
    unexplained = [j for j in jumps if not any(k.explains(j) for k in known)]
    last = tracker.last_event(strategy, EventKind.POSITIONS)
    if not unexplained or last is None:
        return known, []
    before = {s: Decimal(q) for s, q in last.payload["positions"].items()}
    now = positions()
    found = (
        split_from_bars(
            symbol,
            before.get(symbol, Decimal(0)),
            now.get(symbol, Decimal(0)),
            unexplained,
            after=session_of(last.at),
            through=today,
        )
        for symbol in sorted({j.symbol for j in unexplained})
    )
    new = [split for split in found if split is not None]
    return known + [KnownSplit.of(split) for split in new], new


def session_of(at: str) -> date:
    """The New York date of a recorded event's time (stored as UTC ISO text)."""
    return pd.Timestamp(at).tz_convert(NEW_YORK).date()


def _bar_prices(events: list[Any]) -> dict[str, float]:
    """The prices a run saw with its bars (its BARS_LOADED event); none if it saw no bars."""
    loaded = [e.payload for e in events if e.kind == EventKind.BARS_LOADED.value]
    prices = loaded[-1].get("prices", {}) if loaded else {}
    return {str(s): float(p) for s, p in prices.items()}


def _latest_floats(
    closes: pd.DataFrame, symbols: tuple[str, ...], arrays: ClosesArrays | None = None
) -> dict[str, float]:
    """The last row's closes of ``symbols`` (read from the array: a pandas row costs more than
    the rest of a quiet day's checks)."""
    if arrays is not None and arrays.values is not None:
        position, row = arrays.position, arrays.values[-1]
    else:
        position = {str(c): i for i, c in enumerate(closes.columns)}  # pandas' look-up is slower
        row = closes.to_numpy(dtype=float)[-1]
    return {s: float(row[position[s]]) if s in position else math.nan for s in symbols}
