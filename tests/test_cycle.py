"""run_cycle end to end on the simulated broker: decisions, orders, journal, failures."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from bot.cycle import Adapters, StrategyRuntime, run_cycle
from bot.daemon import run_daemon
from bot.domain import Account, OrderReport, OrderRequest, OrderStatus, Side
from bot.domain import Leg as OrderLeg
from bot.errors import BrokerError, TransientBrokerError
from bot.market.sessions import xnys_sessions
from bot.market.synthetic import synthetic_closes
from bot.planner import PlannerRules
from bot.stopping import StopToken
from bot.tracker import EventKind
from bot.triggers import CalendarRule, DriftRule, Schedule
from strategies import FixedWeights, InverseVolatility, Leg, ModifiedSharpeMix
from tests.conftest import World

HFEA = StrategyRuntime(
    "hfea",
    FixedWeights({"UPRO": 0.55, "TMF": 0.45}),
    CalendarRule(Schedule.QUARTER_START),
    PlannerRules(),
)
ALL_IN_BASKET = ("TECL", "BITU", "TMF", "RSST", "DFEN", "UTSL", "VXUS", "UGL")
ALL_IN = StrategyRuntime(
    "all_in",
    InverseVolatility(ALL_IN_BASKET),
    DriftRule(Decimal("0.01")),
    PlannerRules(),
)


def flat_closes(prices: dict[str, float], start: date, end: date) -> pd.DataFrame:
    """Constant closes on every XNYS session in [start, end]."""
    index = pd.DatetimeIndex([pd.Timestamp(d) for d in xnys_sessions(start, end)])
    return pd.DataFrame({s: [p] * len(index) for s, p in prices.items()}, index=index)


def kinds(world: World, run_id: str) -> list[str]:
    """The event kinds one run recorded, in order."""
    return [e.kind for e in world.tracker.events() if e.run_id == run_id]


def test_hfea_from_cash_reaches_55_45_with_one_order_per_symbol(
    make_world: Callable[..., World],
) -> None:
    """$100k cash, UPRO $100, TMF $50, buffer 0.1%: buy 549.45 UPRO and 899.1 TMF, record all."""
    world = make_world(
        flat_closes({"UPRO": 100.0, "TMF": 50.0}, date(2026, 3, 2), date(2026, 4, 30))
    )
    world.at(date(2026, 4, 1))

    result = run_cycle(world.adapters, HFEA)

    # investable = 100,000 × (1 − 0.001) = 99,900; 0.55 × 99,900 / 100 = 549.45; 0.45 × 99,900 / 50
    assert result.outcome == "traded"
    assert {(o.symbol, o.filled_qty) for o in result.orders} == {
        ("UPRO", Decimal("549.45")),
        ("TMF", Decimal("899.1")),
    }
    account = world.broker.account()
    assert account.positions == {"UPRO": Decimal("549.45"), "TMF": Decimal("899.1")}
    assert account.cash == Decimal("100")
    assert abs(Decimal("54945") / account.equity - Decimal("0.55")) < Decimal("0.005")
    assert kinds(world, result.run_id) == [
        "cycle_started",
        "bars_loaded",
        "targets_computed",
        "drift_measured",
        "decision",
        "orders_planned",
        "order_submitting",
        "order_submitted",
        "order_submitting",
        "order_submitted",
        "order_filled",
        "order_filled",
        "rebalance_done",
        "positions",
        "cycle_finished",
    ]
    assert world.tracker.last_rebalance_key("hfea") == "2026Q2"


def test_hfea_daemon_trades_only_on_quarter_starts(make_world: Callable[..., World]) -> None:
    """Over 2026-01-02..2026-07-31 HFEA trades on 01-02, 04-01 and 07-01 and holds otherwise."""
    closes = synthetic_closes(["UPRO", "TMF"], xnys_sessions(date(2025, 12, 1), date(2026, 7, 31)))
    world = make_world(closes, start=date(2026, 1, 2))

    summary = run_daemon(
        world.adapters, [HFEA], before_close=timedelta(minutes=15), until=date(2026, 7, 31)
    )

    traded = [
        e.at[:10]
        for e in world.tracker.events(kind=EventKind.CYCLE_FINISHED)
        if e.payload["outcome"] == "traded"
    ]
    assert traded == ["2026-01-02", "2026-04-01", "2026-07-01"]
    assert summary.cycles == len(xnys_sessions(date(2026, 1, 2), date(2026, 7, 31)))
    assert summary.outcomes["held"] == summary.cycles - 3


def test_all_in_trades_exactly_when_drift_exceeds_one_point(
    make_world: Callable[..., World],
) -> None:
    """Each day's decision is 'trade' iff the recorded max drift is strictly above 1 pp."""
    symbols = [*ALL_IN_BASKET, "USFR"]
    closes = synthetic_closes(symbols, xnys_sessions(date(2025, 12, 1), date(2026, 2, 27)))
    world = make_world(closes, start=date(2026, 1, 2))

    run_daemon(
        world.adapters, [ALL_IN], before_close=timedelta(minutes=15), until=date(2026, 2, 27)
    )

    drifts = [
        Decimal(e.payload["max_drift"]) for e in world.tracker.events(kind=EventKind.DRIFT_MEASURED)
    ]
    trades = [e.payload["trade"] for e in world.tracker.events(kind=EventKind.DECISION)]
    assert len(drifts) == len(trades) == len(xnys_sessions(date(2026, 1, 2), date(2026, 2, 27)))
    assert trades == [d > Decimal("0.01") for d in drifts]
    assert any(trades)


def test_all_in_holds_when_inside_the_corridor(make_world: Callable[..., World]) -> None:
    """Flat prices after the first rebalance: weights stay on target, so the next day holds."""
    prices = {s: 10.0 + i for i, s in enumerate((*ALL_IN_BASKET, "USFR"))}
    closes = flat_closes(prices, date(2026, 3, 2), date(2026, 3, 31))
    # Alternate the basket prices so that every σ is non-zero and identical day after day.
    for i, symbol in enumerate(ALL_IN_BASKET):
        closes[symbol] = [
            prices[symbol] * (1.01 if k % 2 else 1.0) ** (1 + i % 3) for k in range(len(closes))
        ]
    world = make_world(closes)
    world.at(date(2026, 3, 10))
    first = run_cycle(world.adapters, ALL_IN)
    world.at(date(2026, 3, 12))  # same parity as 03-10: same prices, same σ, same targets

    second = run_cycle(world.adapters, ALL_IN)

    assert first.outcome == "traded"
    assert second.outcome == "held"
    assert second.orders == ()


@pytest.mark.parametrize(
    ("symbol", "bad"), [("TMF", float("nan")), ("UPRO", 0.0), ("UPRO", -5.0), ("TMF", float("inf"))]
)
def test_bad_price_today_gives_an_error_and_no_orders(
    make_world: Callable[..., World], symbol: str, bad: float
) -> None:
    """A NaN, zero, negative or infinite price today stops the cycle, naming the symbol."""
    closes = flat_closes({"UPRO": 100.0, "TMF": 50.0}, date(2026, 3, 2), date(2026, 4, 1))
    closes.loc[pd.Timestamp("2026-04-01"), symbol] = bad
    world = make_world(closes)
    world.at(date(2026, 4, 1))

    result = run_cycle(world.adapters, HFEA)

    assert result.outcome == "error"
    assert symbol in result.reason
    assert world.broker.account().positions == {}
    errors = world.tracker.events(kind=EventKind.ERROR)
    assert len(errors) == 1
    assert symbol in errors[0].payload["message"]
    assert world.tracker.events(kind=EventKind.ORDER_SUBMITTING) == []


def test_missing_symbol_gives_an_error_and_no_orders(make_world: Callable[..., World]) -> None:
    """A symbol absent from the data is named; nothing is traded."""
    world = make_world(flat_closes({"UPRO": 100.0}, date(2026, 3, 2), date(2026, 4, 1)))
    world.at(date(2026, 4, 1))

    result = run_cycle(world.adapters, HFEA)

    assert result.outcome == "error"
    assert "TMF" in result.reason
    assert world.tracker.events(kind=EventKind.ORDER_SUBMITTING) == []
    # The failed cycle still snapshots the (untouched) account for the tracker.
    assert [row.equity for row in world.tracker.equity_history("hfea")] == [Decimal("100000.00")]


def test_stale_data_gives_an_error_and_no_orders(make_world: Callable[..., World]) -> None:
    """Data that ends yesterday is stale: no decision on yesterday's prices."""
    world = make_world(
        flat_closes({"UPRO": 100.0, "TMF": 50.0}, date(2026, 3, 2), date(2026, 3, 31))
    )
    world.at(date(2026, 4, 1))

    result = run_cycle(world.adapters, HFEA)

    assert result.outcome == "error"
    assert "stale" in result.reason
    assert "2026-03-31" in result.reason
    assert world.broker.account().positions == {}


def test_too_little_history_gives_an_error_and_no_orders(make_world: Callable[..., World]) -> None:
    """BITU listed yesterday: the 2-return lookback needs 3 closes, so All In does not trade."""
    prices = dict.fromkeys((*ALL_IN_BASKET, "USFR"), 20.0)
    closes = flat_closes(prices, date(2026, 3, 2), date(2026, 3, 31))
    closes.loc[: pd.Timestamp("2026-03-27"), "BITU"] = np.nan
    world = make_world(closes)
    world.at(date(2026, 3, 31))

    result = run_cycle(world.adapters, ALL_IN)

    assert result.outcome == "error"
    assert "BITU" in result.reason
    assert world.tracker.events(kind=EventKind.ORDER_SUBMITTING) == []


def test_zero_volatility_holds_by_default(make_world: Callable[..., World]) -> None:
    """Three identical closes (a stale feed) make σ = 0: the default policy holds, with a reason."""
    prices = dict.fromkeys((*ALL_IN_BASKET, "USFR"), 20.0)
    world = make_world(flat_closes(prices, date(2026, 3, 2), date(2026, 3, 31)))
    world.at(date(2026, 3, 31))

    result = run_cycle(world.adapters, ALL_IN)

    assert result.outcome == "held"
    decision = world.tracker.events(kind=EventKind.DECISION)[-1]
    assert decision.payload["trade"] is False
    assert "zero volatility" in decision.payload["reason"] or "stale" in decision.payload["reason"]
    assert world.broker.account().positions == {}


def test_missed_quarter_start_is_caught_up_and_flagged_late(
    make_world: Callable[..., World],
) -> None:
    """Down over 2026-04-01: the next run (04-06) trades the 2026Q2 rebalance, flagged late."""
    world = make_world(
        flat_closes({"UPRO": 100.0, "TMF": 50.0}, date(2025, 12, 1), date(2026, 4, 30)),
        start=date(2026, 1, 2),
    )
    world.at(date(2026, 1, 2))
    run_cycle(world.adapters, HFEA)
    world.at(date(2026, 4, 6))

    result = run_cycle(world.adapters, HFEA)

    assert result.outcome == "traded"
    decision = world.tracker.events(kind=EventKind.DECISION)[-1].payload
    assert decision["late"] is True
    assert decision["rebalance_key"] == "2026Q2"
    assert world.tracker.last_rebalance_key("hfea") == "2026Q2"


def test_a_new_need_after_a_filled_attempt_goes_out_under_a_new_suffix(
    make_world: Callable[..., World],
) -> None:
    """Same day, after a manual sale: the filled UPRO buy is over, so the new buy is '-a2'."""
    world = make_world(
        flat_closes({"UPRO": 100.0, "TMF": 50.0}, date(2026, 3, 2), date(2026, 4, 30))
    )
    runtime = StrategyRuntime(
        "hfea_drift", HFEA.strategy, DriftRule(Decimal("0.01")), PlannerRules()
    )
    world.at(date(2026, 4, 2))
    run_cycle(world.adapters, runtime)
    world.broker.submit(
        OrderRequest("manual-1", "UPRO", Side.SELL, Decimal(100), OrderLeg.REDUCE_LONG)
    )

    run_cycle(world.adapters, runtime)
    third = run_cycle(world.adapters, runtime)

    submitting = [
        e.payload["client_order_id"] for e in world.tracker.events(kind=EventKind.ORDER_SUBMITTING)
    ]
    assert submitting == [
        "hfea_drift-20260402-TMF-buy",
        "hfea_drift-20260402-UPRO-buy",
        "hfea_drift-20260402-UPRO-buy-a2",
    ]
    assert world.broker.account().positions["UPRO"] == Decimal("549.45")  # back on target
    assert third.outcome == "held"


def test_an_order_journaled_but_never_sent_is_sent_once_under_the_same_id(
    make_world: Callable[..., World],
) -> None:
    """A crash between journal and send: the restart sends that id (not '-a2'), exactly once."""
    world = make_world(
        flat_closes({"UPRO": 100.0, "TMF": 50.0}, date(2026, 3, 2), date(2026, 4, 30))
    )
    world.at(date(2026, 4, 1))
    world.tracker.record(
        world.clock.now(),
        "crashed-run",
        "hfea",
        EventKind.ORDER_SUBMITTING,
        client_order_id="hfea-2026Q2-TMF-buy",
    )

    result = run_cycle(world.adapters, HFEA)

    assert result.outcome == "traded", result.reason
    submitting = [
        (e.run_id == "crashed-run", e.payload["client_order_id"], e.payload.get("resent", False))
        for e in world.tracker.events(kind=EventKind.ORDER_SUBMITTING)
    ]
    # the same id again, journaled in this run as a re-send (a portfolio's settlement of this
    # run finds it there), never a new '-a2'
    assert submitting == [
        (True, "hfea-2026Q2-TMF-buy", False),
        (False, "hfea-2026Q2-TMF-buy", True),
        (False, "hfea-2026Q2-UPRO-buy", False),
    ]
    # (the simulated broker refuses a used id with 40010001: a second send would have failed)
    report = world.broker.get_order("hfea-2026Q2-TMF-buy")
    assert report is not None
    assert report.filled_qty == Decimal("899.1")


class NeverFillsBroker:
    """Our Broker port over the simulated one: orders stay open until cancelled."""

    def __init__(self, inner: object, *, fill_new: bool = False) -> None:
        self.inner = inner
        self.orders: dict[str, OrderReport] = {}
        self.cancels: list[str] = []
        self.fill_new = fill_new  # True: new orders go to the simulated broker and fill

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def get_order(self, client_order_id: str) -> OrderReport | None:
        return self.orders.get(client_order_id)

    def open_orders(self) -> list[OrderReport]:
        return [o for o in self.orders.values() if not o.status.is_final]

    def cancel(self, client_order_id: str) -> None:
        self.cancels.append(client_order_id)
        self.orders[client_order_id] = replace(
            self.orders[client_order_id], status=OrderStatus.CANCELED
        )

    def submit(self, order: OrderRequest) -> OrderReport:
        if self.fill_new:
            report = self.inner.submit(order)  # type: ignore[attr-defined]
        else:
            report = OrderReport(
                order.client_order_id, order.symbol, order.side, order.qty, OrderStatus.ACCEPTED
            )
        self.orders[order.client_order_id] = report
        return report  # type: ignore[no-any-return]


def test_an_order_still_open_at_the_deadline_is_cancelled_and_confirmed(
    make_world: Callable[..., World],
) -> None:
    """An order that never fills is polled (bounded), cancelled, confirmed; the run is an error
    and nothing else is sent after it."""
    world = make_world(
        flat_closes({"UPRO": 100.0, "TMF": 50.0}, date(2026, 3, 2), date(2026, 4, 30))
    )
    slow = NeverFillsBroker(world.broker)
    adapters = Adapters(
        slow, world.adapters.market, world.adapters.calendar, world.tracker, world.clock
    )
    world.at(date(2026, 4, 1))

    result = run_cycle(adapters, HFEA)

    assert result.outcome == "error"
    assert "ended canceled" in result.reason
    assert slow.cancels == ["hfea-2026Q2-TMF-buy", "hfea-2026Q2-UPRO-buy"]
    kinds_seen = [e.kind for e in world.tracker.events(kind=EventKind.ORDER_CANCELED)]
    assert len(kinds_seen) == 2


def test_a_stale_open_order_is_cancelled_before_anything_is_sent(
    make_world: Callable[..., World],
) -> None:
    """An order of ours left open by a crashed run is cancelled (and confirmed) first; the need
    it stood for then goes out under '-a2', never alongside the open one."""
    world = make_world(
        flat_closes({"UPRO": 100.0, "TMF": 50.0}, date(2026, 3, 2), date(2026, 4, 30))
    )
    broker = NeverFillsBroker(world.broker, fill_new=True)
    stale = "hfea-2026Q2-TMF-buy"
    broker.orders[stale] = OrderReport(stale, "TMF", Side.BUY, Decimal(10), OrderStatus.ACCEPTED)
    world.tracker.record(
        world.clock.now(), "crashed", "hfea", EventKind.ORDER_SUBMITTING, client_order_id=stale
    )
    adapters = Adapters(
        broker, world.adapters.market, world.adapters.calendar, world.tracker, world.clock
    )
    world.at(date(2026, 4, 1))

    result = run_cycle(adapters, HFEA)

    assert result.outcome == "traded"
    assert broker.cancels == ["hfea-2026Q2-TMF-buy"]
    events = [e.kind for e in world.tracker.events() if e.run_id == result.run_id]
    assert events.index("order_canceled") < events.index("order_submitting")
    sent = [
        e.payload["client_order_id"] for e in world.tracker.events(kind=EventKind.ORDER_SUBMITTING)
    ]
    assert sent[1:] == ["hfea-2026Q2-TMF-buy-a2", "hfea-2026Q2-UPRO-buy"]


class AckLostBroker:
    """Our Broker port over the simulated one: the order reaches the broker, the reply is lost."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.submits = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def account(self) -> Account:
        return self.inner.account()  # type: ignore[attr-defined,no-any-return]

    def get_order(self, client_order_id: str) -> OrderReport | None:
        return self.inner.get_order(client_order_id)  # type: ignore[attr-defined,no-any-return]

    def submit(self, order: OrderRequest) -> OrderReport:
        self.submits += 1
        self.inner.submit(order)  # type: ignore[attr-defined]
        msg = "read timeout"
        raise BrokerError(msg)


def test_a_lost_reply_is_resolved_by_lookup_not_by_resending(
    make_world: Callable[..., World],
) -> None:
    """Every submit times out after the broker accepted it: each order is sent once and found."""
    world = make_world(
        flat_closes({"UPRO": 100.0, "TMF": 50.0}, date(2026, 3, 2), date(2026, 4, 30))
    )
    flaky = AckLostBroker(world.broker)
    adapters = world.adapters.__class__(
        flaky, world.adapters.market, world.adapters.calendar, world.tracker, world.clock
    )
    world.at(date(2026, 4, 1))

    result = run_cycle(adapters, HFEA)

    assert result.outcome == "traded"
    assert flaky.submits == 2
    assert len(world.tracker.events(kind=EventKind.ORDER_FOUND)) == 2
    assert set(world.broker.account().positions) == {"UPRO", "TMF"}


def test_dry_run_plans_and_records_but_sends_nothing(make_world: Callable[..., World]) -> None:
    """--dry-run: orders_planned is recorded, the broker sees no order, no rebalance is marked."""
    world = make_world(
        flat_closes({"UPRO": 100.0, "TMF": 50.0}, date(2026, 3, 2), date(2026, 4, 30))
    )
    world.at(date(2026, 4, 1))

    result = run_cycle(world.adapters, HFEA, dry_run=True)

    assert result.outcome == "planned"
    planned = world.tracker.events(kind=EventKind.ORDERS_PLANNED)
    assert len(planned) == 1
    assert len(planned[0].payload["orders"]) == 2
    assert world.broker.account().positions == {}
    assert world.tracker.last_rebalance_key("hfea") is None


def test_a_sleeve_strategy_leaves_other_holdings_untouched(
    make_world: Callable[..., World],
) -> None:
    """capital_fraction 0.15 of $100k: HFEA buys $15k worth and never touches the SPY held."""
    closes = flat_closes(
        {"UPRO": 100.0, "TMF": 50.0, "SPY": 500.0}, date(2026, 3, 2), date(2026, 4, 30)
    )
    world = make_world(closes)
    world.at(date(2026, 3, 31))
    world.broker.submit(
        OrderRequest("manual-spy", "SPY", Side.BUY, Decimal(100), OrderLeg.ADD_LONG)
    )
    sleeve = StrategyRuntime(
        "hfea15", HFEA.strategy, HFEA.trigger, PlannerRules(capital_fraction=Decimal("0.15"))
    )
    world.at(date(2026, 4, 1))

    run_cycle(world.adapters, sleeve)

    positions = world.broker.account().positions
    assert positions["SPY"] == Decimal(100)
    # sleeve = 0.15 × 100,000 = 15,000; investable 14,985; UPRO 0.55 × 14,985 / 100 = 82.4175
    assert positions["UPRO"] == Decimal("82.4175")
    assert positions["TMF"] == Decimal("134.865")  # 0.45 × 14,985 / 50


def test_max_yield_shorts_vxz_in_whole_shares_and_keeps_the_notional_in_cash(
    make_world: Callable[..., World],
) -> None:
    """A forced Max Yield trade opens a whole-share VXZ short; its proceeds stay as cash."""
    closes = synthetic_closes(
        ["VXZ", "UBT", "UGL"], xnys_sessions(date(2025, 10, 1), date(2026, 4, 30))
    )
    world = make_world(closes)
    runtime = StrategyRuntime(
        "max_yield",
        ModifiedSharpeMix(
            (Leg("ziv", "VXZ", -1.0), Leg("ubt", "UBT", 1.0), Leg("ugl", "UGL", 1.0)),
            negative_mean_policy="as_published",
        ),
        CalendarRule(Schedule.TWICE_MONTHLY),
        PlannerRules(allow_shorts=True),
    )
    world.at(date(2026, 4, 15))

    result = run_cycle(world.adapters, runtime, force=True)

    targets = world.tracker.events(kind=EventKind.TARGETS_COMPUTED)[-1].payload["weights"]
    account = world.broker.account()
    assert result.outcome == "traded"
    if targets["VXZ"] < 0:
        short = account.positions["VXZ"]
        assert short < 0
        assert short == short.to_integral_value()
        # The short's proceeds stay in cash: cash/equity ≈ 1 − Σw (within buffer and rounding).
        cash_target = 1 - sum(targets.values())
        assert abs(float(account.cash / account.equity) - cash_target) < 0.003
    long_value = sum(
        (
            q * Decimal(repr(float(closes.loc["2026-04-15", s])))
            for s, q in account.positions.items()
            if q > 0
        ),
        Decimal(0),
    )
    assert long_value <= account.equity


def test_a_forced_rebalance_does_not_reset_the_quarterly_schedule(
    make_world: Callable[..., World],
) -> None:
    """Q1 done on 01-02, forced on 01-15: on 01-16 HFEA holds (no repeated 'catch-up' of Q1)."""
    world = make_world(
        flat_closes({"UPRO": 100.0, "TMF": 50.0}, date(2026, 1, 2), date(2026, 1, 30))
    )
    world.at(date(2026, 1, 2))
    run_cycle(world.adapters, HFEA)
    world.at(date(2026, 1, 15))
    forced = run_cycle(world.adapters, HFEA, force=True)
    world.at(date(2026, 1, 16))

    after = run_cycle(world.adapters, HFEA)

    assert forced.outcome == "traded"
    assert after.outcome == "held"
    assert "2026Q1 already done" in after.reason
    assert world.tracker.last_rebalance_key("hfea") == "2026Q1"


def test_an_incomplete_rebalance_is_an_error_and_is_not_marked_done(
    make_world: Callable[..., World],
) -> None:
    """$1,000 into 50% of a $900 share that trades only whole: TMF fills, UPRO cannot (0 shares),
    so UPRO stays 50 pp off. The cycle is an error, the TMF fill is reported, the key stays due."""
    world = make_world(
        flat_closes({"UPRO": 900.0, "TMF": 50.0}, date(2026, 3, 2), date(2026, 4, 30)), cash="1000"
    )
    world.at(date(2026, 4, 1))
    whole = StrategyRuntime(
        "whole",
        FixedWeights({"UPRO": 0.5, "TMF": 0.5}),
        HFEA.trigger,
        PlannerRules(not_fractionable=frozenset({"UPRO"})),
    )

    result = run_cycle(world.adapters, whole)

    assert result.outcome == "error"
    assert "incomplete: UPRO is still 50.00 pp off" in result.reason
    assert [o.symbol for o in result.orders] == ["TMF"]  # the fill is reported, not hidden
    assert world.tracker.last_rebalance_key("whole") is None


def test_targets_beyond_the_margin_are_scaled_in_proportion(
    make_world: Callable[..., World],
) -> None:
    """150/50 UPRO/TMF (gross 2×) on a 1× account: every weight scaled by the same factor.

    Capacity = equity × 1 / (1 + 0.0005) = 100,000 / 1.0005; wanted = 2 × 99,900 (buffer 0.1%);
    scale = 100,000 / (1.0005 × 199,800) ≈ 0.500250. The book keeps the 3:1 mix and is done.
    """
    world = make_world(
        flat_closes({"UPRO": 100.0, "TMF": 50.0}, date(2026, 3, 2), date(2026, 4, 30))
    )
    world.at(date(2026, 4, 1))
    greedy = StrategyRuntime(
        "greedy", FixedWeights({"UPRO": 1.5, "TMF": 0.5}), HFEA.trigger, PlannerRules()
    )

    result = run_cycle(world.adapters, greedy)

    scale = 100_000 / (1.0005 * 199_800)
    scaled = world.tracker.events(kind=EventKind.TARGETS_COMPUTED)[-1].payload
    assert result.outcome == "traded"
    assert scaled["scaled_by"] == pytest.approx(scale, rel=1e-12)
    assert scaled["weights"] == pytest.approx({"UPRO": 1.5 * scale, "TMF": 0.5 * scale})
    positions = world.broker.account().positions
    assert float(positions["UPRO"] * 100 / (positions["TMF"] * 50)) == pytest.approx(3.0, rel=1e-6)
    assert world.tracker.last_rebalance_key("greedy") == "2026Q2"


def test_over_capacity_skip_refuses_to_trade(make_world: Callable[..., World]) -> None:
    """With over_capacity = 'skip' an unholdable target is an error and nothing is sent."""
    world = make_world(
        flat_closes({"UPRO": 100.0, "TMF": 50.0}, date(2026, 3, 2), date(2026, 4, 30))
    )
    world.at(date(2026, 4, 1))
    strict = StrategyRuntime(
        "strict",
        FixedWeights({"UPRO": 1.5, "TMF": 0.5}),
        HFEA.trigger,
        PlannerRules(over_capacity="skip"),
    )

    result = run_cycle(world.adapters, strict)

    assert result.outcome == "error"
    assert "margin allows" in result.reason
    assert world.tracker.events(kind=EventKind.ORDER_SUBMITTING) == []


def test_a_manual_trade_between_cycles_is_recorded_as_an_external_change(
    make_world: Callable[..., World],
) -> None:
    """Someone sells 100 UPRO between two cycles: the next cycle records who had what."""
    world = make_world(
        flat_closes({"UPRO": 100.0, "TMF": 50.0}, date(2026, 3, 2), date(2026, 4, 30))
    )
    world.at(date(2026, 4, 1))
    run_cycle(world.adapters, HFEA)
    world.broker.submit(
        OrderRequest("manual-2", "UPRO", Side.SELL, Decimal(100), OrderLeg.REDUCE_LONG)
    )
    world.at(date(2026, 4, 2))

    run_cycle(world.adapters, HFEA)

    changes = world.tracker.events(kind=EventKind.EXTERNAL_CHANGE)
    assert len(changes) == 1
    change = changes[0].payload["changes"]
    assert list(change) == ["UPRO"]
    assert Decimal(change["UPRO"]["was"]) == Decimal("549.45")
    assert Decimal(change["UPRO"]["now"]) == Decimal("449.45")


def test_no_order_is_sent_after_the_deadline_before_the_close(
    make_world: Callable[..., World],
) -> None:
    """At 15:56 New York (the cancel deadline is 15:55) the cycle sends nothing and says why."""
    world = make_world(
        flat_closes({"UPRO": 100.0, "TMF": 50.0}, date(2026, 3, 2), date(2026, 4, 30))
    )
    world.at(date(2026, 4, 1), 15, 56)

    result = run_cycle(world.adapters, HFEA)

    assert result.outcome == "error"
    assert "too close to the close" in result.reason
    assert world.tracker.events(kind=EventKind.ORDER_SUBMITTING) == []


class RacingRunBroker:
    """Our Broker port over the simulated one: while this run reads the account, another run
    (same state directory, a different run id) journals and fills the TMF buy. The account this
    run gets back is the one from before that fill — the race of two `bot once` at once."""

    def __init__(self, inner: object, world: World) -> None:
        self.inner = inner
        self.world = world
        self.reads = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def account(self) -> Account:
        before = self.inner.account()  # type: ignore[attr-defined]
        self.reads += 1
        if self.reads == 2:  # the read the plan is made from (after the open-order listing)
            cid = "hfea-2026Q2-TMF-buy"
            self.world.tracker.record(
                self.world.clock.now(), "other-run", "hfea", EventKind.ORDER_SUBMITTING,
                client_order_id=cid,
            )
            self.inner.submit(  # type: ignore[attr-defined]
                OrderRequest(cid, "TMF", Side.BUY, Decimal("899.1"), OrderLeg.ADD_LONG)
            )
        return before  # type: ignore[no-any-return]


def test_a_plan_is_never_sent_from_an_account_read_older_than_another_runs_fill(
    make_world: Callable[..., World],
) -> None:
    """The other run's TMF buy filled after this run read the account: this run finds the id
    journaled and filled, and must not send '-a2' at the stale quantity (that doubled the book:
    TMF 89.9%). It stops with an error instead; the broker holds one TMF buy."""
    world = make_world(
        flat_closes({"UPRO": 100.0, "TMF": 50.0}, date(2026, 3, 2), date(2026, 4, 30))
    )
    racing = RacingRunBroker(world.broker, world)
    adapters = Adapters(
        racing, world.adapters.market, world.adapters.calendar, world.tracker, world.clock
    )
    world.at(date(2026, 4, 1))

    result = run_cycle(adapters, HFEA)

    assert result.outcome == "error"
    assert "another run" in result.reason
    assert world.broker.get_order("hfea-2026Q2-TMF-buy-a2") is None
    assert world.broker.account().positions["TMF"] == Decimal("899.1")


class DeafToCancelsBroker(NeverFillsBroker):
    """Orders stay open and cancels are never confirmed; the first poll sets the stop token."""

    def __init__(self, inner: object, stop: StopToken) -> None:
        super().__init__(inner)
        self.stop = stop
        self.polls = 0

    def get_order(self, client_order_id: str) -> OrderReport | None:
        self.polls += 1
        self.stop.request("SIGTERM")
        return self.orders.get(client_order_id)

    def cancel(self, client_order_id: str) -> None:
        self.cancels.append(client_order_id)  # acknowledged, never confirmed


def test_a_stop_cancels_unfilled_orders_within_one_time_budget(
    make_world: Callable[..., World],
) -> None:
    """SIGTERM while two orders are open and the broker never confirms a cancel: both cancels
    are requested and journaled, the confirmations share one 20 s budget (the process has 60 s
    before it is killed), and the cycle ends as stopped — not after 120 polls per order."""
    world = make_world(
        flat_closes({"UPRO": 100.0, "TMF": 50.0}, date(2026, 3, 2), date(2026, 4, 30))
    )
    stop = StopToken()
    deaf = DeafToCancelsBroker(world.broker, stop)
    adapters = Adapters(
        deaf, world.adapters.market, world.adapters.calendar, world.tracker, world.clock, stop
    )
    world.at(date(2026, 4, 1))
    started = world.clock.now()

    result = run_cycle(adapters, HFEA)

    assert result.outcome == "error"
    assert result.reason.startswith("stopped (SIGTERM)")
    assert sorted(deaf.cancels) == ["hfea-2026Q2-TMF-buy", "hfea-2026Q2-UPRO-buy"]
    requested = world.tracker.events(kind=EventKind.ORDER_CANCEL_REQUESTED)
    assert len(requested) == 2
    # One poll (which stops), then 1 s polls until the 20 s budget is spent: 21 s in all.
    assert world.clock.now() - started <= timedelta(seconds=21)


class FirstPostLostBroker:
    """Our Broker port over the simulated one: the first POST never reaches it (a timeout)."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.submits = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def submit(self, order: OrderRequest) -> OrderReport:
        self.submits += 1
        if self.submits == 1:
            msg = "submit: no answer from Alpaca (ReadTimeout)"
            raise TransientBrokerError(msg)
        return self.inner.submit(order)  # type: ignore[attr-defined,no-any-return]


class SignalDuringSleepClock:
    """The cycle's clock; SIGTERM arrives while it sleeps (the retry's backoff)."""

    def __init__(self, inner: object, stop: StopToken) -> None:
        self.inner, self.stop = inner, stop

    def now(self) -> datetime:
        return self.inner.now()  # type: ignore[attr-defined,no-any-return]

    def sleep_until(self, moment: datetime) -> None:
        self.stop.request("SIGTERM")
        self.inner.sleep_until(moment)  # type: ignore[attr-defined]


def test_a_stop_during_a_submit_retry_never_posts_again(
    make_world: Callable[..., World],
) -> None:
    """The first POST times out and the lookup proves it never arrived; SIGTERM wakes the
    backoff sleep. The order is not POSTed again after the signal, nothing else is sent."""
    world = make_world(
        flat_closes({"UPRO": 100.0, "TMF": 50.0}, date(2026, 3, 2), date(2026, 4, 30))
    )
    stop = StopToken()
    lost = FirstPostLostBroker(world.broker)
    clock = SignalDuringSleepClock(world.clock, stop)
    adapters = Adapters(
        lost, world.adapters.market, world.adapters.calendar, world.tracker, clock, stop  # type: ignore[arg-type]
    )
    world.at(date(2026, 4, 1))

    result = run_cycle(adapters, HFEA)

    assert result.outcome == "error"
    assert result.reason.startswith("stopped (SIGTERM)")
    assert lost.submits == 1
    assert world.broker.account().positions == {}


class LostSecondOrderBroker(NeverFillsBroker):
    """The first order is accepted and stays open; the second POST times out and its lookup
    fails too: that order's state is unknown."""

    def submit(self, order: OrderRequest) -> OrderReport:
        if self.orders:
            msg = "submit: no answer from Alpaca (ReadTimeout)"
            raise TransientBrokerError(msg)
        return super().submit(order)

    def get_order(self, client_order_id: str) -> OrderReport | None:
        if client_order_id not in self.orders:
            msg = f"look up {client_order_id}: no answer from Alpaca (ReadTimeout)"
            raise TransientBrokerError(msg)
        return super().get_order(client_order_id)


def test_an_order_of_unknown_state_stops_the_phase_and_cancels_what_was_sent(
    make_world: Callable[..., World],
) -> None:
    """TMF is sent and working; UPRO's POST and its lookup both fail. Nothing more is sent,
    the cycle ends in error naming UPRO, and the working TMF order is cancelled and journaled
    rather than left unwatched until the next run."""
    world = make_world(
        flat_closes({"UPRO": 100.0, "TMF": 50.0}, date(2026, 3, 2), date(2026, 4, 30))
    )
    lost = LostSecondOrderBroker(world.broker)
    adapters = Adapters(
        lost, world.adapters.market, world.adapters.calendar, world.tracker, world.clock
    )
    world.at(date(2026, 4, 1))

    result = run_cycle(adapters, HFEA)

    assert result.outcome == "error"
    assert "hfea-2026Q2-UPRO-buy" in result.reason
    assert "nothing else is sent" in result.reason
    assert lost.cancels == ["hfea-2026Q2-TMF-buy"]
    assert len(world.tracker.events(kind=EventKind.ORDER_CANCEL_REQUESTED)) == 1
