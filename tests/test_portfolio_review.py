"""Review findings on the portfolio feature (bot/portfolio), as reproductions."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import date
from decimal import Decimal

from bot.alerting import portfolio_alerts
from bot.cycle import StrategyRuntime
from bot.domain import Leg, OrderRequest, Side
from bot.journal import EventKind
from bot.planner import PlannerRules
from bot.portfolio import wake as wake_module
from bot.portfolio.ledger import held
from bot.portfolio.wake import PortfolioRuntime, Sleeve, load_ledgers, run_portfolio_wake
from bot.portfolio_commands import unsettled_nettings
from bot.triggers import DriftRule
from strategies import FixedWeights
from tests.conftest import World
from tests.test_cycle import flat_closes
from tests.test_portfolio import QUARTERLY, Scripted, portfolio, sleeve

CORRIDOR = DriftRule(Decimal("0.01"))
SHORTS = PlannerRules(allow_shorts=True)


def test_short_sleeve_and_long_sleeve_in_one_fund(make_world: Callable[..., World]) -> None:
    world = make_world(
        flat_closes({"X": 33.0, "Y": 10.0}, date(2026, 3, 2), date(2026, 4, 30)), margin="2"
    )
    switch = date(2026, 4, 6)
    seeds = PortfolioRuntime(
        "seeds",
        (
            Sleeve(
                Decimal("0.5"),
                StrategyRuntime(
                    "longx", Scripted({"X": 0.1}, {"X": 0.1}, switch), CORRIDOR, PlannerRules()
                ),
            ),
            Sleeve(
                Decimal("0.5"),
                StrategyRuntime(
                    "shortx",
                    Scripted({"X": -0.2, "Y": 0.2}, {"X": -0.15, "Y": 0.2}, switch),
                    CORRIDOR,
                    SHORTS,
                ),
            ),
        ),
        rules=SHORTS,
    )
    world.at(date(2026, 4, 1))
    first = run_portfolio_wake(world.adapters, seeds)
    print(
        "day1",
        first.outcome,
        first.reason,
        [(o.symbol, o.side, o.filled_qty) for o in first.orders],
    )
    print("ledgers", load_ledgers(world.tracker, "seeds"), world.broker.account().positions)
    world.at(switch)
    try:
        run_portfolio_wake(world.adapters, seeds)
    except ValueError as exc:
        print("day2 crashed:", exc)
    print(
        "account",
        world.broker.account().positions,
        "ledgers sum",
        held(load_ledgers(world.tracker, "seeds")),
    )
    world.at(date(2026, 4, 7))
    try:
        third = run_portfolio_wake(world.adapters, seeds)
        print("day3", third.outcome, third.reason)
    except ValueError as exc:
        print("day3 crashed:", exc)
        raise


def test_dry_run_after_a_crashed_wake_reports_a_false_outside_trade(
    make_world: Callable[..., World], monkeypatch
) -> None:

    world = make_world(
        flat_closes({"UPRO": 100.0, "TMF": 50.0}, date(2026, 3, 2), date(2026, 4, 30))
    )
    world.at(date(2026, 4, 1))
    seeds = portfolio(
        sleeve("hfea", "0.6", FixedWeights({"UPRO": 0.55, "TMF": 0.45}), QUARTERLY),
        sleeve("bond", "0.4", FixedWeights({"TMF": 1.0}), QUARTERLY),
    )

    def crash(*a, **k):
        raise RuntimeError("kill -9 after the fills, before the posting")

    monkeypatch.setattr(wake_module._Wake, "_settle", crash)
    with contextlib.suppress(RuntimeError):
        run_portfolio_wake(world.adapters, seeds)
    monkeypatch.undo()
    dry = run_portfolio_wake(world.adapters, seeds, dry_run=True)
    print("dry run:", dry.outcome, dry.differences)
    print("alerts:", [a.title for a in portfolio_alerts(dry)])
    print(
        "RECONCILE_FAILED recorded:", len(world.tracker.events("seeds", EventKind.RECONCILE_FAILED))
    )
    real = run_portfolio_wake(world.adapters, seeds)
    print("real wake:", real.outcome, real.reason)
    assert not dry.differences  # a crash of our own is not someone else's trade


def test_accept_after_a_dry_runs_false_difference_double_books_the_crashed_fills(
    make_world: Callable[..., World], monkeypatch
) -> None:

    world = make_world(
        flat_closes({"UPRO": 100.0, "TMF": 50.0}, date(2026, 3, 2), date(2026, 4, 30))
    )
    switch = date(2026, 4, 6)
    seeds = PortfolioRuntime(
        "seeds",
        (
            Sleeve(
                Decimal("0.5"),
                StrategyRuntime(
                    "a",
                    Scripted({"TMF": 0.5, "UPRO": 0.5}, {"TMF": 0.3, "UPRO": 0.7}, switch),
                    CORRIDOR,
                    PlannerRules(),
                ),
            ),
            Sleeve(
                Decimal("0.5"),
                StrategyRuntime(
                    "b",
                    Scripted({"TMF": 0.5, "UPRO": 0.5}, {"TMF": 0.5, "UPRO": 0.5}, switch),
                    CORRIDOR,
                    PlannerRules(),
                ),
            ),
        ),
    )
    world.at(date(2026, 4, 1))
    run_portfolio_wake(world.adapters, seeds)
    world.at(switch)
    monkeypatch.setattr(
        wake_module._Wake, "_settle", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("killed"))
    )
    with contextlib.suppress(RuntimeError):
        run_portfolio_wake(world.adapters, seeds)
    monkeypatch.undo()
    dry = run_portfolio_wake(world.adapters, seeds, dry_run=True)  # bot check
    # the dry run settles the crashed wake in memory: no false difference, nothing recorded
    assert not dry.differences, dry.reason
    assert world.tracker.last_event("seeds", EventKind.RECONCILE_FAILED) is None
    # and `bot ledger --accept` would refuse while a netting is unsettled
    assert unsettled_nettings(world.tracker, "seeds")
    real = run_portfolio_wake(world.adapters, seeds)
    assert real.outcome != "error", real.reason
    assert not unsettled_nettings(world.tracker, "seeds")
    account = world.broker.account().positions
    assert held(load_ledgers(world.tracker, "seeds")) == {
        s: int(q * 10**9) for s, q in account.items() if q
    }


def test_the_2000_rule_is_applied_to_the_sleeve_not_the_account(
    make_world: Callable[..., World],
) -> None:
    world = make_world(
        flat_closes({"X": 33.0, "Y": 10.0}, date(2026, 3, 2), date(2026, 4, 30)),
        cash="10000",
        margin="2",
    )
    seeds = PortfolioRuntime(
        "seeds",
        (
            Sleeve(
                Decimal("0.85"),
                StrategyRuntime(
                    "longy",
                    Scripted({"Y": 1.0}, {"Y": 1.0}, date(2027, 1, 1)),
                    CORRIDOR,
                    PlannerRules(),
                ),
            ),
            Sleeve(
                Decimal("0.15"),
                StrategyRuntime(
                    "shortx",
                    Scripted({"X": -0.5, "Y": 0.5}, {"X": -0.5}, date(2027, 1, 1)),
                    CORRIDOR,
                    SHORTS,
                ),
            ),
        ),
        rules=SHORTS,
    )
    world.at(date(2026, 4, 1))
    result = run_portfolio_wake(world.adapters, seeds)
    print("account equity", world.broker.account().equity)
    for r in result.sleeves:
        print("sleeve", r.strategy, r.outcome, r.reason)
    assert all(r.outcome == "traded" for r in result.sleeves)


class Boom:
    symbols = ("Y",)
    history_closes = 1

    def target_weights(self, closes, as_of):
        return {"Y": 1.0 / 0}


def test_one_strategys_unexpected_exception_stops_every_strategy(
    make_world: Callable[..., World],
) -> None:
    world = make_world(flat_closes({"X": 33.0, "Y": 10.0}, date(2026, 3, 2), date(2026, 4, 30)))
    seeds = PortfolioRuntime(
        "seeds",
        (
            Sleeve(
                Decimal("0.5"),
                StrategyRuntime(
                    "good",
                    Scripted({"X": 1.0}, {"X": 1.0}, date(2027, 1, 1)),
                    CORRIDOR,
                    PlannerRules(),
                ),
            ),
            Sleeve(Decimal("0.5"), StrategyRuntime("boom", Boom(), CORRIDOR, PlannerRules())),
        ),
    )
    world.at(date(2026, 4, 1))
    try:
        r = run_portfolio_wake(world.adapters, seeds)
        print("result", r.outcome, [(s.strategy, s.outcome) for s in r.sleeves])
    except ZeroDivisionError as exc:
        print("whole wake crashed:", repr(exc), "account", world.broker.account().positions)
        raise


def test_a_failed_dry_run_counts_as_the_days_finished_wake(
    make_world: Callable[..., World],
) -> None:

    world = make_world(flat_closes({"X": 33.0, "Y": 10.0}, date(2026, 3, 2), date(2026, 4, 30)))
    seeds = PortfolioRuntime(
        "seeds",
        (
            Sleeve(
                Decimal("1"),
                StrategyRuntime(
                    "good",
                    Scripted({"X": 1.0}, {"X": 1.0}, date(2027, 1, 1)),
                    CORRIDOR,
                    PlannerRules(),
                ),
            ),
        ),
    )
    world.at(date(2026, 4, 1))
    run_portfolio_wake(world.adapters, seeds)
    world.at(date(2026, 4, 2))
    world.broker.submit(OrderRequest("manual-1", "X", Side.SELL, Decimal("10"), Leg.REDUCE_LONG))
    dry = run_portfolio_wake(world.adapters, seeds, dry_run=True)
    print(
        "dry:",
        dry.outcome,
        "finished_cycle_on:",
        world.tracker.finished_cycle_on("seeds", date(2026, 4, 2)),
    )
    assert not world.tracker.finished_cycle_on("seeds", date(2026, 4, 2))


def test_two_crashes_lose_the_fills_of_a_resent_journaled_order(
    make_world: Callable[..., World], monkeypatch
) -> None:

    world = make_world(
        flat_closes({"UPRO": 100.0, "TMF": 50.0}, date(2026, 3, 2), date(2026, 4, 30))
    )
    world.at(date(2026, 4, 1))
    seeds = portfolio(sleeve("hfea", "1", FixedWeights({"UPRO": 0.55, "TMF": 0.45}), QUARTERLY))
    real_submit = world.broker.submit
    # kill -9 between the journal entry and the POST of the first order
    monkeypatch.setattr(
        world.broker, "submit", lambda r: (_ for _ in ()).throw(RuntimeError("killed"))
    )
    with contextlib.suppress(RuntimeError):
        run_portfolio_wake(world.adapters, seeds)
    monkeypatch.setattr(world.broker, "submit", real_submit)
    # restart; kill -9 after the orders filled, before their posting
    monkeypatch.setattr(
        wake_module._Wake, "_settle", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("killed"))
    )
    with contextlib.suppress(RuntimeError):
        run_portfolio_wake(world.adapters, seeds)
    monkeypatch.undo()
    third = run_portfolio_wake(world.adapters, seeds)
    print("third wake:", third.outcome, third.reason[:160])
    print(
        "ledgers",
        held(load_ledgers(world.tracker, "seeds")),
        "account",
        world.broker.account().positions,
    )
    assert third.outcome != "error"
