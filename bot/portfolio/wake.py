"""One wake of a portfolio: several strategies in one account, one netted order per fund.

    settle what an earlier wake left → read the ledgers and the account → reconcile
    → each strategy's own cycle on its sleeve, in propose mode (its rules, calendar, checks)
    → net the proposals per fund → journal the netting → send (sells first, then buys)
    → post the fills to the ledgers, exactly → finish each strategy's cycle (residual check)

Each strategy keeps its journal, its rebalance keys and its tracker lines under its own name;
the account-level events (netting, postings, reconciliation, the netted orders) are recorded
under the portfolio's name. The ledgers (``bot.portfolio.ledger``) are postings in the journal:
a posting is one event, so a crash never leaves half of one. A crash between the netting and its
posting is settled by the next wake, from the journaled orders and the broker's answers, before
anything else; nothing is sent twice (the execution's journal and ids, ``bot.execution``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

import structlog

from bot.checks import account_problems, asset_problems, wash_trade_problems
from bot.cycle import (
    NEW_YORK,
    Adapters,
    CycleResult,
    ExecutionSettings,
    StrategyRuntime,
    add_in_rounds,
    finish_proposal,
    new_run_id,
    run_cycle,
    session_of,
)
from bot.domain import EXACT_COSTS, Account, Leg, OrderCosts, OrderReport, PlannedOrder, Side
from bot.errors import BotError, BrokerError, DataError, PlanningError, PreTradeCheckError
from bot.execution import Execution, PhaseOutcome
from bot.journal import EventKind, EventRow
from bot.logs import bind_cycle
from bot.planner import Plan, PlannerRules, plan_moves
from bot.portfolio import ledger as book
from bot.portfolio.ledger import UNALLOCATED, Change, Ledger, Posting
from bot.portfolio.sleeve_broker import SleeveBroker
from bot.ports import Journal
from bot.rules import NANO
from bot.splits import Split, explain_changes

log = structlog.get_logger()
ZERO = Decimal(0)
Outcome = Literal["traded", "held", "error", "closed", "planned"]


@dataclass(frozen=True, slots=True)
class Sleeve:
    """One strategy of the portfolio and its share of the account's cash at the opening."""

    share: Decimal
    runtime: StrategyRuntime

    @property
    def name(self) -> str:
        """The strategy's name: its ledger's, its journal's and its orders'."""
        return self.runtime.name


@dataclass(frozen=True, slots=True)
class PortfolioRuntime:
    """Everything a portfolio's wake needs: its strategies, and the account-level rules of the
    netted orders (minimum order, headroom; the broker's costs are set per wake)."""

    name: str
    sleeves: tuple[Sleeve, ...]
    unallocated: Decimal = ZERO
    rules: PlannerRules = field(default_factory=PlannerRules)
    execution: ExecutionSettings = field(default_factory=ExecutionSettings)

    @property
    def funds(self) -> tuple[str, ...]:
        """Every fund any strategy of the portfolio may hold."""
        return tuple(
            sorted({s for sleeve in self.sleeves for s in sleeve.runtime.strategy.symbols})
        )


@dataclass(frozen=True, slots=True)
class PortfolioResult:
    """What one wake did, for the account and for each strategy."""

    run_id: str
    portfolio: str
    session: date
    outcome: Outcome
    reason: str
    sleeves: tuple[CycleResult, ...] = ()
    orders: tuple[OrderReport, ...] = ()
    planned: tuple[PlannedOrder, ...] = ()
    equity: Decimal | None = None
    wanted_turnover: Decimal = ZERO  # what the strategies' own orders would have traded ($)
    sent_turnover: Decimal = ZERO  # what the netted orders traded ($, at the same prices)
    differences: Mapping[str, Decimal] = field(default_factory=dict)  # fund → shares unexplained


class ReconcileError(BotError):
    """The ledgers do not add up to the account's positions: someone else traded a fund."""


def run_portfolio_wake(
    adapters: Adapters, portfolio: PortfolioRuntime, *, force: bool = False, dry_run: bool = False
) -> PortfolioResult:
    """Run one wake of the whole portfolio (errors are recorded and returned, not raised)."""
    today = adapters.clock.now().astimezone(NEW_YORK).date()
    wake = _Wake(adapters, portfolio, today, new_run_id(today))
    with bind_cycle(wake.run_id, portfolio.name):
        wake.record(EventKind.CYCLE_STARTED, session=today, force=force, dry_run=dry_run)
        try:
            result = wake.run(force=force, dry_run=dry_run)
        except ReconcileError as exc:
            result = wake.result("error", str(exc), differences=wake.differences)
        except BotError as exc:
            wake.record(EventKind.ERROR, error=type(exc).__name__, message=str(exc))
            result = wake.result("error", str(exc))
        wake.record(EventKind.CYCLE_FINISHED, outcome=result.outcome, reason=result.reason)
        return result


class _Wake:
    """One wake's state: the portfolio, the session, the run id, the ledgers."""

    def __init__(
        self, adapters: Adapters, portfolio: PortfolioRuntime, today: date, run_id: str
    ) -> None:
        self.adapters = adapters
        self.portfolio = portfolio
        self.today = today
        self.run_id = run_id
        self.key = f"{today:%Y%m%d}"
        self.ledgers: dict[str, Ledger] = {}
        self.differences: dict[str, Decimal] = {}
        self.sleeve_results: list[CycleResult] = []
        self.reports: list[OrderReport] = []
        self.dry_run = False
        self._today_prices: dict[str, Decimal] | None = None
        self.read_mark = 0  # the journal's last event id before the latest account read

    def _read_account(self) -> Account:
        """Read the account for a plan, marking where the journal stood just before (an order
        another run journals after the mark is not in this read: ``bot.execution``)."""
        self.read_mark = self.adapters.tracker.last_event_id()
        return self.adapters.broker.account()

    # --- recording ---

    def record(self, kind: EventKind, **payload: Any) -> None:
        self.adapters.tracker.record(
            self.adapters.clock.now(), self.run_id, self.portfolio.name, kind, **payload
        )

    def result(self, outcome: Outcome, reason: str, **extra: Any) -> PortfolioResult:
        return PortfolioResult(
            self.run_id,
            self.portfolio.name,
            self.today,
            outcome,
            reason,
            sleeves=tuple(self.sleeve_results),
            orders=tuple(self.reports),
            **extra,
        )

    def post(self, posting: Posting, **extra: Any) -> None:
        """Record one posting (atomically: one event) and apply it; a dry run applies it in
        memory only (it sees what a wake would, and leaves the ledgers as they were)."""
        self._record_unless_dry(EventKind.LEDGER_POSTED, **posting.payload(), **extra)
        self.ledgers = book.apply(self.ledgers, posting)

    def _record_unless_dry(self, kind: EventKind, **payload: Any) -> None:
        if not self.dry_run:
            self.record(kind, **payload)

    # --- the wake ---

    def run(self, *, force: bool, dry_run: bool) -> PortfolioResult:
        sessions = self.adapters.calendar.sessions(
            self.today - timedelta(days=10), self.today + timedelta(days=10)
        )
        if self.today not in sessions:
            self.record(EventKind.DECISION, trade=False, reason="market closed today")
            return self.result("closed", f"{self.today} is not a trading day")
        self.dry_run = dry_run  # postings then change the ledgers in memory only
        execution = self._execution()
        if not dry_run:
            execution.cancel_own_open_orders(self.portfolio.name)
        self.ledgers = load_ledgers(self.adapters.tracker, self.portfolio.name)
        self._settle_pending()
        account = self._read_account()
        if not self.ledgers:
            self._open(account)
        self._reconcile(account)
        # A fund without a usable price today stops only the strategies that hold or want it
        # (their own cycles refuse the day); the others trade.
        prices = self._prices(strict=False)
        proposals = [self._propose(s, prices, force, dry_run) for s in self.portfolio.sleeves]
        wanted = {p.strategy: _deltas(p.planned) for p in proposals if p.outcome == "planned"}
        if dry_run:
            plan, _ = self._netted_plan(wanted, prices, account)
            self.sleeve_results = proposals
            why = f"dry run: {len(plan.orders)} netted orders planned, none sent"
            turnover = _turnover(wanted, prices)
            return self.result("planned", why, planned=plan.orders, wanted_turnover=turnover)
        proposing = [p for p in proposals if p.outcome == "planned"]
        self.sleeve_results = [p for p in proposals if p.outcome != "planned"]
        try:
            problem = self._net_and_send(wanted, prices, account, execution)
        except BotError as exc:  # checks, an unknown order state, a stop: nothing posted
            self.record(EventKind.ERROR, error=type(exc).__name__, message=str(exc))
            self._finish(proposing, prices, f"the netted orders did not complete: {exc}")
            return self.result("error", str(exc), wanted_turnover=_turnover(wanted, prices))
        return self._settle(wanted, prices, proposing, problem)

    def _net_and_send(
        self,
        wanted: Mapping[str, Mapping[str, int]],
        prices: Mapping[str, Decimal],
        account: Account,
        execution: Execution,
    ) -> str | None:
        """Net, check, journal the netting, send. Returns what was refused, or None."""
        plan, targets = self._netted_plan(wanted, prices, account)
        if not plan.orders:
            return None
        self._check_orders(plan)
        self.record(
            EventKind.NETTING_PLANNED,
            key=self.key,
            wanted={s: dict(d) for s, d in wanted.items()},
            prices={s: str(p) for s, p in prices.items()},
            orders=[_order_payload(o) for o in plan.orders],
        )
        return self._send(plan, targets, prices, execution)

    def _settle(
        self,
        wanted: Mapping[str, Mapping[str, int]],
        prices: Mapping[str, Decimal],
        proposing: list[CycleResult],
        problem: str | None,
    ) -> PortfolioResult:
        """Post the fills, finish each strategy's cycle, snapshot the account."""
        wanted_turnover = _turnover(wanted, prices)
        if self.reports or any(wanted.values()):
            self.post(_fills_posting(wanted, self.reports, prices), settles=self.run_id)
        self._finish(proposing, prices, None)
        equity = self._snapshot(prices)
        sent = sum((abs(r.filled_qty) * prices[r.symbol] for r in self.reports), ZERO)
        traded = self.reports or any(r.outcome == "traded" for r in self.sleeve_results)
        outcome: Outcome = "traded" if traded else "held"
        errors = [r for r in self.sleeve_results if r.outcome == "error"]
        reason = _reason(self.sleeve_results, wanted_turnover, sent)
        if problem is not None or errors:
            outcome = "error"
            reason = "; ".join(
                [*([problem] if problem else []), *(f"{r.strategy}: {r.reason}" for r in errors)]
            )
        return self.result(
            outcome, reason, equity=equity, wanted_turnover=wanted_turnover, sent_turnover=sent
        )

    def _finish(
        self, proposing: list[CycleResult], prices: Mapping[str, Decimal], problem: str | None
    ) -> None:
        """Each proposing strategy's cycle, finished against its ledger after the postings."""
        sleeves = {s.name: s for s in self.portfolio.sleeves}
        account = self.adapters.broker.account() if problem is None else None
        for proposal in proposing:
            sleeve = sleeves[proposal.strategy]
            adapters = self._sleeve_adapters(sleeve, prices, account)
            finished = finish_proposal(adapters, sleeve.runtime, proposal, prices, problem)
            self.sleeve_results.append(finished)

    # --- ledgers ---

    def _open(self, account: Account) -> None:
        """The first wake: the account's cash is shared among the strategies by their shares
        (the unallocated part stays in its own ledger); the funds they trade must not be held
        already, since no ledger could say whose they are."""
        held = {s: q for s, q in account.positions.items() if s in self.portfolio.funds and q}
        if held:
            shown = ", ".join(f"{q} {s}" for s, q in sorted(held.items()))
            msg = (
                f"the account already holds {shown}: a portfolio opens its ledgers on cash, and "
                "cannot tell which strategy owns these; sell them (or run the strategy that "
                "bought them alone) before the portfolio's first wake"
            )
            raise PlanningError(msg)
        shares = {s.name: s.share for s in self.portfolio.sleeves}
        if self.portfolio.unallocated:
            shares[UNALLOCATED] = self.portfolio.unallocated
        cash = book.split_money(account.cash, shares)
        posting = Posting("opened on the account's cash", {n: Change(c) for n, c in cash.items()})
        self.post(posting)
        if not self.dry_run:
            log.info("ledgers_opened", portfolio=self.portfolio.name, cash=str(account.cash))

    def _reconcile(self, account: Account) -> None:
        """The ledgers must add up to the account: every share of every fund the portfolio
        trades, exactly. A difference nobody can explain (a manual trade, a liquidation) stops
        the wake with an error naming the fund; cash differences (dividends, interest, fees
        the broker books later) are shared among the ledgers by their equity."""
        positions = {s: _nano(q) for s, q in account.positions.items()}
        funds = self.portfolio.funds
        differences = book.differences(self.ledgers, positions, funds)
        if differences:
            self._post_splits(differences, positions)
            differences = book.differences(self.ledgers, positions, funds)
        if differences:
            self.differences = {s: Decimal(n) / NANO for s, n in differences.items()}
            by_ledgers = book.held(self.ledgers)
            self._record_unless_dry(
                EventKind.RECONCILE_FAILED,
                differences={s: str(q) for s, q in self.differences.items()},
                ledgers={s: str(Decimal(by_ledgers.get(s, 0)) / NANO) for s in differences},
                account={s: str(account.positions.get(s, ZERO)) for s in differences},
            )
            shown = ", ".join(
                f"{s} {q:+} shares (account {account.positions.get(s, ZERO)}, ledgers "
                f"{Decimal(by_ledgers.get(s, 0)) / NANO})"
                for s, q in self.differences.items()
            )
            msg = (
                f"the account does not match the strategies' ledgers: {shown}; someone else "
                "traded these funds — no order sent until `bot ledger accept` books the "
                "difference, or the position is restored"
            )
            raise ReconcileError(msg)
        gap = account.cash - sum((ledger.cash for ledger in self.ledgers.values()), ZERO)
        if gap:
            self._share_cash(gap)

    def _post_splits(self, differences: Mapping[str, int], positions: Mapping[str, int]) -> None:
        """Differences that are splits (the quantity changed by a clean ratio, and the prices of
        the last wake and today's agree with it): each ledger's shares times the ratio, toward
        zero, and the nano-shares left (or a broker's cash-in-lieu rounding) shared by holding,
        so the ledgers again sum exactly to the account."""
        last = self.adapters.tracker.last_event(self.portfolio.name, EventKind.POSITIONS)
        if last is None:
            return
        by_ledgers = book.held(self.ledgers)
        found = explain_changes(
            {s: Decimal(by_ledgers.get(s, 0)) / NANO for s in differences},
            {s: Decimal(positions.get(s, 0)) / NANO for s in differences},
            {str(s): float(p) for s, p in last.payload.get("prices", {}).items()},
            {s: float(p) for s, p in self._prices(strict=False).items()},
            after=session_of(last.at),
            through=self.today,
        )
        for split in found.splits:
            self._record_unless_dry(EventKind.SPLIT_DETECTED, **split.payload())
            self.post(_split_posting(self.ledgers, split, positions.get(split.symbol, 0)))
            log.warning("split_posted", portfolio=self.portfolio.name, symbol=split.symbol)

    def _share_cash(self, gap: Decimal) -> None:
        prices = self._prices(strict=False)
        weights = {
            n: max(_priced_equity(ledger, prices), ZERO) for n, ledger in self.ledgers.items()
        }
        parts = book.split_money(gap, weights)
        why = "cash the ledgers did not explain (dividends, interest, fees), shared by equity"
        self.post(Posting(why, {n: Change(c) for n, c in parts.items() if c}))

    def _settle_pending(self) -> None:
        """Post the fills of an earlier wake that ended between its netting and its posting
        (a crash, a stop, an order whose state was unknown)."""
        for netting in unsettled_nettings(self.adapters.tracker, self.portfolio.name):
            reports = self._final_reports(netting)
            wanted = {
                s: {f: int(n) for f, n in d.items()} for s, d in netting.payload["wanted"].items()
            }
            prices = {s: Decimal(p) for s, p in netting.payload["prices"].items()}
            posting = _fills_posting(wanted, reports, prices)
            posting = replace(posting, why=f"fills of the wake {netting.run_id}, settled late")
            self.post(posting, settles=netting.run_id)

    def _final_reports(self, netting: EventRow) -> list[OrderReport]:
        """The broker's final word on every order a wake journaled (none for an order that
        never reached it); an order still open after the cancels stops the wake."""
        ids = sorted(  # every order the wake touched: journaled, re-sent, found or filled
            {
                str(e.payload["client_order_id"])
                for e in self.adapters.tracker.run_events(netting.run_id)
                if e.kind.startswith("order_") and "client_order_id" in e.payload
            }
        )
        reports = []
        for cid in ids:
            report = self.adapters.broker.get_order(cid)
            if report is None:
                continue
            if not report.status.is_final:
                msg = f"order {cid} of the wake {netting.run_id} is still {report.status.value}"
                raise BrokerError(msg)
            reports.append(report)
        return reports

    # --- the strategies ---

    def _prices(self, *, strict: bool = True) -> dict[str, Decimal]:
        """Today's closes of every fund: the prices the strategies plan at and cross at (read
        once a wake: on Alpaca each read is a request)."""
        funds = self.portfolio.funds
        if self._today_prices is None:
            closes = self.adapters.market.closes(funds, self.today, 1)
            self._today_prices = {}
            fresh = len(closes) and closes.index[-1].date() == self.today
            for symbol in funds:
                if fresh and symbol in closes.columns:
                    value = float(closes[symbol].iloc[-1])
                    if value > 0:
                        self._today_prices[symbol] = Decimal(repr(value))
        prices = dict(self._today_prices)
        missing = [s for s in funds if s not in prices and book.held(self.ledgers).get(s)]
        if strict and missing:
            msg = f"no usable price today ({self.today}) for {', '.join(missing)}, held"
            raise DataError(msg)
        return prices

    def _sleeve_adapters(
        self, sleeve: Sleeve, prices: Mapping[str, Decimal], account: Account | None = None
    ) -> Adapters:
        whole = account or self.adapters.broker.account()
        broker = SleeveBroker(
            sleeve.name,
            self.ledgers.get(sleeve.name, Ledger()),
            prices,
            self.adapters.broker,
            whole.multiplier,
            account_equity=whole.equity,
        )
        return replace(self.adapters, broker=broker)

    def _propose(
        self, sleeve: Sleeve, prices: Mapping[str, Decimal], force: bool, dry_run: bool
    ) -> CycleResult:
        """The strategy's own cycle on its sleeve: it proposes its orders (a dry run finishes
        on its own, as ``planned``)."""
        adapters = self._sleeve_adapters(sleeve, prices)
        run_id = new_run_id(self.today)
        try:
            if dry_run:
                return run_cycle(adapters, sleeve.runtime, force=force, dry_run=True, run_id=run_id)
            return run_cycle(adapters, sleeve.runtime, force=force, propose=True, run_id=run_id)
        except Exception as exc:  # a bug in one strategy must not stop the others
            log.exception("strategy_crashed", portfolio=self.portfolio.name, strategy=sleeve.name)
            why = f"the strategy's cycle crashed ({exc!r}): nothing proposed for it"
            return CycleResult(run_id, sleeve.name, self.today, "error", why)

    # --- netting and sending ---

    def _netted_plan(
        self,
        wanted: Mapping[str, Mapping[str, int]],
        prices: Mapping[str, Decimal],
        account: Account,
    ) -> tuple[Plan, dict[str, Decimal]]:
        """The account's orders: for each fund, from what the account holds to that plus the
        strategies' net. A short at the account, and a fund that is not fractionable, is whole
        shares, rounded back toward what is held: the order is never larger than the net (what
        it falls short of is taken back from the strategies that wanted it)."""
        rules = self._rules()
        targets: dict[str, Decimal] = {}
        for symbol, change in book.net(wanted).items():
            if change == 0:
                continue
            held = _nano(account.positions.get(symbol, ZERO))
            target = held + change
            if target < 0 or symbol in rules.not_fractionable:
                target = _whole_toward(target, held)
            if target == held:
                continue
            targets[symbol] = Decimal(target) / NANO
        moves = plan_moves(targets, account, {s: prices[s] for s in targets}, rules)
        return moves, targets

    def _rules(self) -> PlannerRules:
        rules = replace(self.portfolio.rules, costs=self.adapters.broker.order_costs)
        assets = self.adapters.broker.assets(self.portfolio.funds)
        whole = {s for s, a in assets.items() if not a.fractionable}
        return replace(rules, not_fractionable=rules.not_fractionable | whole)

    def _check_orders(self, plan: Plan) -> None:
        """The account-level rules on the netted orders: the account may trade (and short, for
        a netted short), every fund trades (a short is shortable), no wash trade."""
        traded = {o.symbol for o in plan.orders}
        shorts = sorted({o.symbol for o in plan.orders if o.leg is Leg.ADD_SHORT})
        account = self.adapters.broker.account()
        problems = account_problems(self.adapters.broker.account_state(), account.equity, shorts)
        problems += asset_problems(self.adapters.broker.assets(traded), traded, shorts)
        others = self.adapters.broker.open_orders()
        problems += wash_trade_problems(others, plan.orders)
        if not self.adapters.broker.market_open():
            problems.append("the market is closed now: a market order would wait")
        if problems:
            self.record(EventKind.CHECK_FAILED, problems=problems)
            raise PreTradeCheckError("pre-trade checks failed: " + "; ".join(problems))

    def _send(
        self,
        plan: Plan,
        targets: Mapping[str, Decimal],
        prices: Mapping[str, Decimal],
        execution: Execution,
    ) -> str | None:
        """Sells and covers first; then the buys and shorts, sized from the account after the
        sells and sent in rounds as a strategy's cycle sends them (``cycle.add_in_rounds``:
        re-sized after a buying-power refusal, topped up on a collared broker). Returns what was
        refused or not sent in the end (its shortfall is taken back from the strategies that
        wanted it), or None."""
        name = self.portfolio.name
        priced = {s: prices[s] for s in targets}
        rules = self._rules()
        reducing = execution.send(plan.exposure_reducing, name)
        first = plan
        if plan.exposure_reducing and plan.exposure_adding:
            first = plan_moves(targets, self._read_account(), priced, rules)

        def replan(costs: OrderCosts, _phase: str) -> Plan:
            return plan_moves(targets, self._read_account(), priced, replace(rules, costs=costs))

        collared = rules.costs != EXACT_COSTS
        rounds = add_in_rounds(
            execution, name, first, rules.costs, collared=collared, replan=replan
        )
        standing = () if rounds.refused is None else (rounds.refused,)
        outcomes = [reducing, PhaseOutcome(standing, rounds.failed)]
        problems = [p.describe() for o in outcomes for p in (*o.refused, *o.failed)]
        return "; ".join(problems) if problems else None

    def _execution(self) -> Execution:
        policy = self.portfolio.execution.policy(self.adapters.calendar.session_close(self.today))
        return Execution(
            self.adapters.broker,
            self.adapters.tracker,
            self.record,
            self.key,
            self.reports,
            clock=self.adapters.clock,
            policy=policy,
            stop=self.adapters.stop,
            run_id=self.run_id,
            read_mark=lambda: self.read_mark,
        )

    def _snapshot(self, prices: Mapping[str, Decimal]) -> Decimal:
        """The account's funds and equity after the wake, with the prices it saw (the next
        wake tells a split from a trade by them)."""
        account = self.adapters.broker.account()
        funds = set(self.portfolio.funds)
        held = {s: q for s, q in account.positions.items() if s in funds and q}
        self.record(
            EventKind.POSITIONS,
            positions=held,
            prices={s: float(p) for s, p in sorted(prices.items())},
        )
        self.adapters.tracker.snapshot_equity(
            at=self.adapters.clock.now(),
            session=self.today,
            run_id=self.run_id,
            strategy=self.portfolio.name,
            equity=account.equity,
            sleeve_equity=account.equity,
        )
        return account.equity


# --- pure helpers -----------------------------------------------------------------------------


def unsettled_nettings(tracker: Journal, portfolio: str) -> list[EventRow]:
    """The nettings no posting settled yet: their orders' fills are still to be booked."""
    settled = {e.payload.get("settles") for e in tracker.events(portfolio, EventKind.LEDGER_POSTED)}
    return [
        e for e in tracker.events(portfolio, EventKind.NETTING_PLANNED) if e.run_id not in settled
    ]


def load_ledgers(tracker: Journal, portfolio: str) -> dict[str, Ledger]:
    """The portfolio's ledgers: every posting it recorded, in order."""
    events = tracker.events(portfolio, EventKind.LEDGER_POSTED)
    return book.replay(Posting.from_payload(e.payload) for e in events)


def _nano(quantity: Decimal) -> int:
    nano = quantity * NANO
    if nano != nano.to_integral_value():
        msg = f"a quantity of {quantity} is finer than a billionth of a share"
        raise DataError(msg)
    return int(nano)


def _deltas(orders: tuple[PlannedOrder, ...]) -> dict[str, int]:
    """A strategy's proposed change per fund (nano-shares): buys and covers add, sales and
    short sales take away."""
    change: dict[str, int] = {}
    for order in orders:
        sign = 1 if order.side is Side.BUY else -1
        change[order.symbol] = change.get(order.symbol, 0) + sign * _nano(order.qty)
    return {s: n for s, n in sorted(change.items()) if n}


def _fills_posting(
    wanted: Mapping[str, Mapping[str, int]],
    reports: list[OrderReport],
    prices: Mapping[str, Decimal],
) -> Posting:
    """The ledgers' part of what the netted orders did: per fund, the executed quantity settled
    among the strategies that wanted it (``settle_fund``), and the cash at the reference price
    plus the fills' difference from it (``settle_cash``)."""
    executed: dict[str, int] = {}
    flow: dict[str, Decimal] = {}
    for report in reports:
        if not report.filled_qty:
            continue
        sign = 1 if report.side is Side.BUY else -1
        price = report.filled_avg_price or ZERO
        executed[report.symbol] = executed.get(report.symbol, 0) + sign * _nano(report.filled_qty)
        amount = -sign * report.filled_qty * price - report.fees
        flow[report.symbol] = flow.get(report.symbol, ZERO) + amount
    changes: dict[str, dict[str, Any]] = {}
    funds = sorted({f for d in wanted.values() for f in d} | set(executed))
    for fund in funds:
        by_strategy = {s: d.get(fund, 0) for s, d in wanted.items() if d.get(fund, 0)}
        received = book.settle_fund(by_strategy, executed.get(fund, 0))
        cash = book.settle_cash(received, prices[fund], flow.get(fund, ZERO), executed.get(fund, 0))
        for name, quantity in received.items():
            entry = changes.setdefault(name, {"cash": ZERO, "positions": {}})
            entry["cash"] += cash[name]
            if quantity:
                entry["positions"][fund] = quantity
    return Posting(
        "fills of the netted orders",
        {n: Change(e["cash"], e["positions"]) for n, e in sorted(changes.items())},
    )


def _split_posting(ledgers: Mapping[str, Ledger], split: Split, account: int) -> Posting:
    """Every ledger's shares of the split fund times the ratio (toward zero); what is left to
    reach the account's new position — the nano-shares the rounding dropped, or a fraction the
    broker paid in cash — is shared by holding (``split_integer``)."""
    symbol, ratio = split.symbol, split.ratio
    holdings = {
        n: x.positions.get(symbol, 0) for n, x in ledgers.items() if x.positions.get(symbol)
    }
    scaled = {n: _toward_zero(q * ratio.new, ratio.old) for n, q in holdings.items()}
    rest = book.split_integer(
        account - sum(scaled.values()), {n: abs(q) for n, q in holdings.items()}
    )
    changes = {n: Change(ZERO, {symbol: scaled[n] + rest[n] - q}) for n, q in holdings.items()}
    return Posting(f"{symbol} split {ratio}", changes)


def _priced_equity(ledger: Ledger, prices: Mapping[str, Decimal]) -> Decimal:
    """A ledger's equity at the prices there are (a fund without one counts as nothing): the
    weight by which unexplained cash is shared, never a reason to stop."""
    return ledger.cash + sum(
        (Decimal(n) / NANO * prices[s] for s, n in ledger.positions.items() if s in prices), ZERO
    )


def _whole_toward(target: int, held: int) -> int:
    """``target`` (nano-shares) in whole shares, rounded toward ``held``: a buy rounds down, a
    sale up, so the order to reach it never exceeds the change asked for."""
    if target >= held:
        return target // NANO * NANO
    return -((-target) // NANO) * NANO


def _toward_zero(numerator: int, denominator: int) -> int:
    quotient = abs(numerator) // denominator
    return quotient if numerator >= 0 else -quotient


def _order_payload(order: PlannedOrder) -> dict[str, Any]:
    return {"symbol": order.symbol, "leg": order.leg.value, "qty": str(order.qty)}


def _turnover(wanted: Mapping[str, Mapping[str, int]], prices: Mapping[str, Decimal]) -> Decimal:
    """What the strategies' own orders would have traded, in dollars at the reference prices."""
    return sum(
        (Decimal(abs(n)) / NANO * prices[f] for d in wanted.values() for f, n in d.items()), ZERO
    )


def _plan_turnover(plan: Plan) -> Decimal:
    return sum((o.qty * o.price for o in plan.orders), ZERO)


def _reason(results: list[CycleResult], wanted: Decimal, sent: Decimal) -> str:
    traded = sorted(r.strategy for r in results if r.outcome == "traded")
    if not traded:
        return "no strategy traded"
    saved = wanted - sent
    share = f" ({saved / wanted:.0%})" if wanted else ""
    return (
        f"{', '.join(traded)} rebalanced; netting traded ${sent:,.2f} of the ${wanted:,.2f} the "
        f"strategies wanted alone: ${saved:,.2f} less turnover{share}"
    )
