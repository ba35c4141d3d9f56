"""Several strategies in one account (bot/portfolio): per-strategy ledgers, one netted order per
fund, exact fills back to the ledgers, and a refusal when someone else traded a fund — on the
simulated broker with hand-computed numbers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pandas as pd

from bot.cycle import StrategyRuntime
from bot.domain import Leg as OrderLeg
from bot.domain import OrderRequest, Side
from bot.journal import EventKind
from bot.planner import PlannerRules
from bot.portfolio.ledger import Ledger, held
from bot.portfolio.wake import PortfolioRuntime, Sleeve, load_ledgers, run_portfolio_wake
from bot.triggers import CalendarRule, DriftRule, Schedule
from strategies import FixedWeights
from strategies.base import TargetWeights
from tests.conftest import World
from tests.test_cycle import flat_closes

NANO = 10**9


@dataclass(frozen=True)
class Scripted:
    """A strategy of our own for the tests: these weights until ``switch``, those after."""

    before: Mapping[str, float]
    after: Mapping[str, float]
    switch: date

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.before) | set(self.after)))

    @property
    def history_closes(self) -> int:
        return 1

    def target_weights(self, closes: pd.DataFrame, as_of: date) -> TargetWeights:
        return TargetWeights(dict(self.before if as_of < self.switch else self.after))


def sleeve(name: str, share: str, strategy: object, trigger: object) -> Sleeve:
    return Sleeve(Decimal(share), StrategyRuntime(name, strategy, trigger, PlannerRules()))  # type: ignore[arg-type]


def portfolio(*sleeves: Sleeve) -> PortfolioRuntime:
    return PortfolioRuntime("seeds", sleeves)


def assert_ledgers_sum_to_the_account(world: World, name: str = "seeds") -> dict[str, Ledger]:
    ledgers = load_ledgers(world.tracker, name)
    account = world.broker.account()
    assert held(ledgers) == {s: int(q * NANO) for s, q in account.positions.items() if q}
    assert sum((x.cash for x in ledgers.values()), Decimal(0)) == account.cash
    return ledgers


QUARTERLY = CalendarRule(Schedule.QUARTER_START)


def test_two_strategies_open_on_the_cash_and_buy_with_one_order_per_fund(
    make_world: Callable[..., World],
) -> None:
    """$100k; HFEA 60% (55/45 UPRO/TMF), a bond sleeve 40% (100% TMF); UPRO $100, TMF $50,
    buffer 0.1%. HFEA: 0.55 × 59,940 / 100 = 329.67 UPRO, 0.45 × 59,940 / 50 = 539.46 TMF;
    bond: 39,960 / 50 = 799.2 TMF. The account buys 329.67 UPRO and 1,338.66 TMF: two orders."""
    world = make_world(
        flat_closes({"UPRO": 100.0, "TMF": 50.0}, date(2026, 3, 2), date(2026, 4, 30))
    )
    world.at(date(2026, 4, 1))
    seeds = portfolio(
        sleeve("hfea", "0.6", FixedWeights({"UPRO": 0.55, "TMF": 0.45}), QUARTERLY),
        sleeve("bond", "0.4", FixedWeights({"TMF": 1.0}), QUARTERLY),
    )

    result = run_portfolio_wake(world.adapters, seeds)

    assert result.outcome == "traded", result.reason
    assert sorted((o.symbol, o.side, o.filled_qty) for o in result.orders) == [
        ("TMF", Side.BUY, Decimal("1338.66")),
        ("UPRO", Side.BUY, Decimal("329.67")),
    ]
    ledgers = assert_ledgers_sum_to_the_account(world)
    assert ledgers["hfea"] == Ledger(
        Decimal(60), {"UPRO": 32967 * NANO // 100, "TMF": 53946 * NANO // 100}
    )
    assert ledgers["bond"] == Ledger(Decimal(40), {"TMF": 7992 * NANO // 10})
    assert [r.outcome for r in result.sleeves] == ["traded", "traded"]
    done = world.tracker.events("hfea", EventKind.REBALANCE_DONE)
    assert [e.payload["rebalance_key"] for e in done] == ["2026Q2"]


def test_opposite_strategies_cross_inside_the_account_without_an_order(
    make_world: Callable[..., World],
) -> None:
    """flip holds TMF then wants UPRO; flop the reverse. Day 1: each buys its fund with 99.9% of
    $50,000 (999 TMF, 499.5 UPRO). Day 2, flat prices: flip sells 999 TMF and buys 499.5 UPRO,
    flop the opposite: the nets are zero, nothing is sent, the ledgers swap holdings."""
    world = make_world(
        flat_closes({"UPRO": 100.0, "TMF": 50.0}, date(2026, 3, 2), date(2026, 4, 30))
    )
    switch = date(2026, 4, 6)
    corridor = DriftRule(Decimal("0.01"))
    seeds = portfolio(
        sleeve("flip", "0.5", Scripted({"TMF": 1.0}, {"UPRO": 1.0}, switch), corridor),
        sleeve("flop", "0.5", Scripted({"UPRO": 1.0}, {"TMF": 1.0}, switch), corridor),
    )
    world.at(date(2026, 4, 1))
    first = run_portfolio_wake(world.adapters, seeds)
    assert len(first.orders) == 2
    world.at(switch)

    second = run_portfolio_wake(world.adapters, seeds)

    assert second.outcome == "traded", second.reason
    assert second.orders == ()
    assert [r.outcome for r in second.sleeves] == ["traded", "traded"]
    assert second.wanted_turnover == Decimal(199800)  # 999 × 50 + 499.5 × 100, twice
    assert second.sent_turnover == 0
    ledgers = assert_ledgers_sum_to_the_account(world)
    assert ledgers["flip"] == Ledger(Decimal(50), {"UPRO": 4995 * NANO // 10})
    assert ledgers["flop"] == Ledger(Decimal(50), {"TMF": 999 * NANO})


def test_fills_away_from_the_close_are_charged_to_the_strategies_that_traded(
    make_world: Callable[..., World],
) -> None:
    """10 bps of slippage: 999 TMF fill at $50.05, 499.5 UPRO at $100.10. flip pays 999 × 50.05 =
    $49,999.95 and keeps $0.05; flop the same for UPRO."""
    world = make_world(
        flat_closes({"UPRO": 100.0, "TMF": 50.0}, date(2026, 3, 2), date(2026, 4, 30)),
        slippage_bps="10",
    )
    corridor = DriftRule(Decimal("0.01"))
    seeds = portfolio(
        sleeve("flip", "0.5", Scripted({"TMF": 1.0}, {"UPRO": 1.0}, date(2026, 4, 6)), corridor),
        sleeve("flop", "0.5", Scripted({"UPRO": 1.0}, {"TMF": 1.0}, date(2026, 4, 6)), corridor),
    )
    world.at(date(2026, 4, 1))

    run_portfolio_wake(world.adapters, seeds)

    ledgers = assert_ledgers_sum_to_the_account(world)
    assert ledgers["flip"].cash == Decimal("0.05")
    assert ledgers["flop"].cash == Decimal("0.05")


def test_a_trade_by_someone_else_in_a_shared_fund_stops_the_portfolio(
    make_world: Callable[..., World],
) -> None:
    """After the first wake someone sells 100 TMF by hand: the next wakes refuse to trade, name
    TMF and the 100 shares, and send nothing; the ledgers are not charged for it."""
    world = make_world(
        flat_closes({"UPRO": 100.0, "TMF": 50.0}, date(2026, 3, 2), date(2026, 4, 30))
    )
    seeds = portfolio(
        sleeve("hfea", "0.6", FixedWeights({"UPRO": 0.55, "TMF": 0.45}), QUARTERLY),
        sleeve("bond", "0.4", FixedWeights({"TMF": 1.0}), QUARTERLY),
    )
    world.at(date(2026, 4, 1))
    run_portfolio_wake(world.adapters, seeds)
    before = load_ledgers(world.tracker, "seeds")
    world.broker.submit(
        OrderRequest("by-hand-1", "TMF", Side.SELL, Decimal(100), OrderLeg.REDUCE_LONG)
    )
    world.at(date(2026, 4, 2))

    results = [run_portfolio_wake(world.adapters, seeds, force=True) for _ in range(2)]

    for result in results:
        assert result.outcome == "error"
        assert result.differences == {"TMF": Decimal(-100)}
        assert "TMF -100" in result.reason
        assert result.orders == ()
    assert load_ledgers(world.tracker, "seeds") == before
    assert len(world.tracker.events("seeds", EventKind.RECONCILE_FAILED)) == 2


def test_a_split_of_a_shared_fund_is_shared_by_holding_not_refused(
    make_world: Callable[..., World],
) -> None:
    """TMF splits 2-for-1 after the first wake (the broker doubles the position, the price
    halves from $50 to $25): the next wake books each strategy's TMF times two — HFEA 539.46 →
    1,078.92, bond 799.2 → 1,598.4 — and trades on; nobody is charged, nothing is refused."""
    closes = flat_closes({"UPRO": 100.0, "TMF": 50.0}, date(2026, 3, 2), date(2026, 4, 30))
    closes.loc[closes.index >= pd.Timestamp(2026, 4, 2), "TMF"] = 25.0
    world = make_world(closes)
    seeds = portfolio(
        sleeve("hfea", "0.6", FixedWeights({"UPRO": 0.55, "TMF": 0.45}), QUARTERLY),
        sleeve("bond", "0.4", FixedWeights({"TMF": 1.0}), QUARTERLY),
    )
    world.at(date(2026, 4, 1))
    run_portfolio_wake(world.adapters, seeds)
    world.broker.split("TMF", 2, 1)
    world.at(date(2026, 4, 2))

    result = run_portfolio_wake(world.adapters, seeds)

    assert result.outcome != "error", result.reason
    ledgers = assert_ledgers_sum_to_the_account(world)
    assert ledgers["hfea"].positions["TMF"] == 107892 * NANO // 100
    assert ledgers["bond"].positions["TMF"] == 15984 * NANO // 10
    assert ledgers["hfea"].cash == Decimal(60)
    assert world.tracker.events("seeds", EventKind.SPLIT_DETECTED)
