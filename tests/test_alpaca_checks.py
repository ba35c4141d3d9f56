"""Each failed pre-trade check: a clear error naming the cause, a check_failed event, no order.

And the API secret never shows: not in logs, tracker rows, results or error messages.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import asdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import MarketOrderRequest

from bot.bootstrap import build_bot
from bot.cycle import NEW_YORK, CycleResult, run_cycle
from bot.logs import configure_logging
from bot.tracker import EventKind, Tracker
from tests.alpaca_world import KEY, SECRET, TODAY, AlpacaWorld, alpaca_config, start_world

MAX_YIELD = ["VXZ", "UBT", "UGL"]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[AlpacaWorld]:
    """A fake account with UPRO and TMF, fresh data, both clocks at 15:45 on a session."""
    world = start_world(tmp_path, ["UPRO", "TMF"])
    yield world
    world.fake.stop()


def assert_refused(world: AlpacaWorld, result: CycleResult, cause: str) -> None:
    """The cycle failed naming ``cause``, recorded it, and sent nothing."""
    assert result.outcome == "error"
    assert cause in result.reason
    failed = Tracker(world.state_dir / "tracker.sqlite3").events(kind=EventKind.CHECK_FAILED)
    assert any(cause in problem for problem in failed[-1].payload["problems"])
    assert world.fake.count("POST /v2/orders") == 0


@pytest.mark.parametrize(
    ("breakage", "cause"),
    [
        (lambda w: setattr(w.fake, "account_status", "INACTIVE"), "is INACTIVE, not ACTIVE"),
        (lambda w: setattr(w.fake, "trading_blocked", True), "trading is blocked"),
        (lambda w: setattr(w.fake, "account_blocked", True), "the account is blocked"),
        (lambda w: w.fake.add_asset("TMF", tradable=False), "TMF: not tradable"),
        (lambda w: w.fake.add_asset("TMF", status="inactive"), "TMF: not tradable"),
    ],
)
def test_account_and_asset_checks_refuse_to_trade(
    world: AlpacaWorld, breakage: Callable[[AlpacaWorld], None], cause: str
) -> None:
    """An inactive or blocked account, or an untradable asset: no orders."""
    breakage(world)

    assert_refused(world, world.run(alpaca_config("hfea")), cause)


def test_an_unknown_asset_refuses_to_trade(tmp_path: Path) -> None:
    """The broker does not know TMF: no orders."""
    world = start_world(tmp_path, ["UPRO", "TMF"], unknown=("TMF",))
    try:
        assert_refused(world, world.run(alpaca_config("hfea")), "TMF: the broker does not know")
    finally:
        world.fake.stop()


def test_a_missing_previous_session_bar_refuses_to_trade(world: AlpacaWorld) -> None:
    """UPRO's daily bars stop two sessions ago: the data is stale."""
    bars = {d: p for d, p in world.closes["UPRO"].items() if d < date(2026, 9, 18)}
    world.fake.set_bars("UPRO", bars)

    result = world.run(alpaca_config("hfea"))

    assert_refused(world, result, "UPRO: no daily bar for the previous session 2026-09-18")


def test_a_stale_latest_price_refuses_to_trade(world: AlpacaWorld) -> None:
    """Today's price printed an hour before the bot looks (limit 30 minutes): no orders."""
    world.fake.set_clock(datetime.combine(TODAY, time(14, 40), NEW_YORK))
    world.clock.sleep_until(datetime.combine(TODAY, time(15, 45), NEW_YORK))

    assert_refused(world, world.run(alpaca_config("hfea")), "today's price is from")


def test_a_bad_print_refuses_to_trade(world: AlpacaWorld) -> None:
    """TMF prints at 30% of yesterday's close today: a −70% move is beyond the 50% limit."""
    yesterday = world.closes["TMF"][date(2026, 9, 18)]
    world.fake.set_price("TMF", Decimal(repr(round(yesterday * 0.3, 4))))

    assert_refused(world, world.run(alpaca_config("hfea")), "beyond the 50% bad-print limit")


def test_an_open_opposite_order_is_a_wash_trade_and_refused(world: AlpacaWorld) -> None:
    """Someone's open sell of UPRO: our UPRO buy would be a wash trade, so nothing is sent."""
    world.fake.set_position("UPRO", Decimal(10))
    world.fake.fill_policy = "never"
    client = TradingClient(KEY, SECRET, paper=True, url_override=world.fake.url)
    client._session.trust_env = False
    client.submit_order(
        MarketOrderRequest(
            symbol="UPRO",
            qty=5,
            side=OrderSide.SELL,
            time_in_force=TimeInForce.DAY,
            client_order_id="manual-open-sell",
        )
    )
    posts_before = world.fake.count("POST /v2/orders")

    result = world.run(alpaca_config("hfea"))

    assert result.outcome == "error"
    assert "wash trade" in result.reason
    assert world.fake.count("POST /v2/orders") == posts_before


@pytest.mark.parametrize(
    ("cash", "shorting", "etb", "cause"),
    [
        ("100000", False, True, "shorting is not enabled"),
        ("1500", True, True, "shorting is not enabled"),  # Alpaca disables it under $2,000
        ("100000", True, False, "VXZ: cannot be sold short"),
    ],
)
def test_short_checks_refuse_to_trade(
    tmp_path: Path, cash: str, shorting: bool, etb: bool, cause: str
) -> None:
    """Max Yield's VXZ short needs shorting, $2,000 of equity, and a shortable ETB asset."""
    world = start_world(tmp_path, MAX_YIELD, cash=cash)
    world.fake.shorting_enabled = shorting
    world.fake.add_asset("VXZ", easy_to_borrow=etb)
    try:
        result = world.run(alpaca_config("max_yield"), force=True)
        weights = (
            Tracker(world.state_dir / "tracker.sqlite3")
            .events(kind=EventKind.TARGETS_COMPUTED)[-1]
            .payload["weights"]
        )
        if weights["VXZ"] >= 0:
            pytest.skip("the seeded market chose no VXZ short on this day")
        assert_refused(world, result, cause)
    finally:
        world.fake.stop()


def test_the_secret_never_appears_in_logs_tracker_results_or_errors(
    world: AlpacaWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    """A full traded cycle and a failed-auth cycle: the secret is nowhere we write."""
    configure_logging()
    traded = world.run(alpaca_config("hfea"))
    wrong = world.settings(secret="wrong-" + SECRET)
    bot = build_bot(
        alpaca_config("hfea"),
        wrong,
        clock=world.clock,
        tracker=Tracker(world.state_dir / "tracker.sqlite3"),
    )
    world.at(TODAY + timedelta(days=1))
    denied = run_cycle(bot.adapters, bot.runtime, force=True)

    captured = capsys.readouterr()
    rows = (
        sqlite3.connect(world.state_dir / "tracker.sqlite3")
        .execute("SELECT payload FROM events UNION ALL SELECT equity FROM equity")
        .fetchall()
    )
    written = "\n".join(
        [
            captured.out,
            captured.err,
            *(r[0] for r in rows),
            json.dumps(asdict(traded), default=str),
            json.dumps(asdict(denied), default=str),
            repr(world.settings()),
            str(world.settings()),
        ]
    )
    assert traded.outcome == "traded"
    assert denied.outcome == "error"
    assert "APCA_API_SECRET_KEY" in denied.reason or "unauthorized" in denied.reason
    assert SECRET not in written
    assert SECRET not in str(bot.adapters.broker.__dict__)  # no secret in the adapter's repr
