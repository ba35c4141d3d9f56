"""A held fund splits between two wakes, on the fake Alpaca, through the real alpaca-py clients.

The fake books a split as Alpaca does overnight (``FakeBroker.split``: quantity × ratio,
average price ÷ ratio), serves bars adjusted for it when asked ``adjustment=all``, or raw
anyway with ``unadjusted_bars`` (alpaca-py#780), and lists a SPLIT activity.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import ROUND_DOWN, Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from alpaca.data.enums import Adjustment, DataFeed
from alpaca.data.historical.stock import StockHistoricalDataClient
from alpaca.data.models import BarSet
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.client import TradingClient

from bot.alerting import cycle_alert, external_change_alert
from bot.alerts import Alert, Severity
from bot.check_command import _data_section, _Report
from bot.cycle import CycleResult
from bot.tracker import EventKind, Tracker
from tests.alpaca_world import KEY, SECRET, TODAY, AlpacaWorld, alpaca_config, start_world

NEXT, AFTER = date(2026, 9, 22), date(2026, 9, 23)  # the sessions after TODAY (2026-09-21)
ALL_IN = ["TECL", "BITU", "TMF", "RSST", "DFEN", "UTSL", "VXUS", "UGL", "USFR"]


def payloads(world: AlpacaWorld, result: CycleResult, kind: EventKind) -> list[dict[str, object]]:
    """One run's events of one kind."""
    tracker = Tracker(world.state_dir / "tracker.sqlite3")
    try:
        return [dict(e.payload) for e in tracker.run_events(result.run_id) if e.kind == kind]
    finally:
        tracker.close()


def alerts(world: AlpacaWorld, result: CycleResult) -> tuple[Alert | None, Alert | None]:
    """What the daemon would send for this result: the change alert and the cycle alert."""
    tracker = Tracker(world.state_dir / "tracker.sqlite3")
    try:
        return external_change_alert(result, tracker), cycle_alert(result, tracker)
    finally:
        tracker.close()


def close_session(world: AlpacaWorld, day: date, prices: dict[str, float]) -> None:
    """``day``'s session is over: its closes become bars (as traded), and the given prices are
    the next session's latest trades."""
    for symbol, closes in world.closes.items():
        closes[day] = float(world.fake.price_of(symbol))
        world.fake.set_bars(symbol, dict(closes))
    for symbol, price in prices.items():
        world.fake.set_price(symbol, Decimal(repr(price)))


@pytest.fixture
def hfea(tmp_path: Path) -> Iterator[AlpacaWorld]:
    """HFEA rebalanced on TODAY, with UPRO $100 and TMF $50 on every session (by hand)."""
    world = start_world(tmp_path, ["UPRO", "TMF"])
    for symbol, price in (("UPRO", 100.0), ("TMF", 50.0)):
        world.closes[symbol] = {d: price for d in world.closes[symbol] if d < TODAY}
        world.fake.set_bars(symbol, world.closes[symbol])
        world.fake.set_price(symbol, Decimal(repr(price)))
    first = world.run(alpaca_config("hfea"))
    assert first.outcome == "traded", first.reason
    yield world
    world.fake.stop()
    assert world.fake.errors == []


@pytest.mark.parametrize("unadjusted", [False, True], ids=["adjusted", "unadjusted (#780)"])
def test_a_one_for_ten_reverse_split_of_tmf_holds_normally_with_one_split_alert(
    hfea: AlpacaWorld, unadjusted: bool
) -> None:
    """TMF 1-for-10 from 2026-09-22, priced $505 that day (+1% on $50 × 10), UPRO $101. The
    wake holds (HFEA trades on quarter starts): nothing refused, nothing sent, no outside-change
    warning, one INFO alert naming the split; the fake's TMF is a tenth of what it was.
    Unadjusted bars ($50 on 09-21 against $505) are restated before any check sees them."""
    held = hfea.fake.positions["TMF"].qty
    close_session(hfea, TODAY, {"UPRO": 101.0})
    hfea.fake.split("TMF", Fraction(1, 10), NEXT)
    hfea.fake.set_price("TMF", Decimal("505"))
    hfea.fake.unadjusted_bars = unadjusted
    hfea.at(NEXT)
    posts = hfea.fake.count("POST /v2/orders")

    result = hfea.run(alpaca_config("hfea"))

    assert result.outcome == "held", result.reason
    assert hfea.fake.count("POST /v2/orders") == posts
    assert hfea.fake.positions["TMF"].qty == (held / 10).quantize(Decimal("1e-9"), ROUND_DOWN)
    assert payloads(hfea, result, EventKind.EXTERNAL_CHANGE) == []
    assert payloads(hfea, result, EventKind.CHECK_FAILED) == []
    [split] = payloads(hfea, result, EventKind.SPLIT_DETECTED)
    assert (split["symbol"], split["ratio"], split["reverse"]) == ("TMF", "1-for-10", True)
    assert Decimal(str(split["qty_before"])) == held
    assert Decimal(str(split["qty_after"])) == hfea.fake.positions["TMF"].qty
    assert (split["price_before"], split["price_after"]) == (50.0, 505.0)
    assert split["effective"] == ("2026-09-22" if unadjusted else None)
    restated = payloads(hfea, result, EventKind.SPLIT_ADJUSTED)
    assert [(p["symbol"], p["before"]) for p in restated] == (
        [("TMF", "2026-09-22")] if unadjusted else []
    )
    change, cycle = alerts(hfea, result)
    assert cycle is None  # a held day sends no cycle alert
    assert change is not None
    assert change.severity is Severity.INFO
    assert change.title == "hfea: TMF 1-for-10 reverse split (seen 2026-09-22)"


def test_an_unexplained_ten_fold_jump_is_still_a_bad_print(hfea: AlpacaWorld) -> None:
    """TMF prints $505 against yesterday's $50 but no split was booked (the position did not
    change): the jump is unexplained, so no order, an error naming the bad print, an ERROR
    alert and no split alert."""
    close_session(hfea, TODAY, {"UPRO": 101.0, "TMF": 505.0})
    hfea.at(NEXT)
    posts = hfea.fake.count("POST /v2/orders")

    result = hfea.run(alpaca_config("hfea"))

    assert result.outcome == "error"
    assert "TMF: +910.0% on 2026-09-22 is beyond the 50% bad-print limit" in result.reason
    assert hfea.fake.count("POST /v2/orders") == posts
    assert payloads(hfea, result, EventKind.SPLIT_DETECTED) == []
    change, cycle = alerts(hfea, result)
    assert change is None
    assert cycle is not None
    assert cycle.severity is Severity.ERROR


def test_a_two_for_one_split_of_upro_on_unadjusted_bars_holds(hfea: AlpacaWorld) -> None:
    """UPRO 2-for-1 from 2026-09-22 at $50.50 (+1% on $100 ÷ 2), bars unadjusted: the −49.5%
    jump is restated, the split recorded from the bars and the position, and the wake holds."""
    held = hfea.fake.positions["UPRO"].qty
    close_session(hfea, TODAY, {"TMF": 50.5})
    hfea.fake.split("UPRO", 2, NEXT)
    hfea.fake.set_price("UPRO", Decimal("50.5"))
    hfea.fake.unadjusted_bars = True
    hfea.at(NEXT)

    result = hfea.run(alpaca_config("hfea"))

    assert result.outcome == "held", result.reason
    [split] = payloads(hfea, result, EventKind.SPLIT_DETECTED)
    assert (split["symbol"], split["ratio"], split["reverse"]) == ("UPRO", "2-for-1", False)
    assert Decimal(str(split["qty_after"])) == held * 2
    assert [p["symbol"] for p in payloads(hfea, result, EventKind.SPLIT_ADJUSTED)] == ["UPRO"]
    change, _ = alerts(hfea, result)
    assert change is not None
    assert change.title == "hfea: UPRO 2-for-1 split (seen 2026-09-22)"


def test_all_in_trades_alike_on_adjusted_and_unadjusted_bars(tmp_path: Path) -> None:
    """Two fake accounts run All In on the same seeded market; TMF splits 1-for-10 from
    2026-09-22. One serves adjusted bars, the other raw ones (#780). On 09-22 and 09-23 (the
    jump stays in All In's 4-row window) both decide the same targets and send the same
    orders, neither refuses a day, each alerts the split once (on 09-22)."""
    worlds = [start_world(tmp_path / name, ALL_IN) for name in ("adjusted", "raw")]
    try:
        for world in worlds:
            assert world.run(alpaca_config("all_in")).outcome == "traded"
        moves = {s: 1 + 0.004 * (i - 4) for i, s in enumerate(ALL_IN)}  # −1.6% … +1.6%
        for world in worlds:
            close_session(world, TODAY, {s: world.closes[s][TODAY] * moves[s] for s in ALL_IN})
            world.fake.split("TMF", Fraction(1, 10), NEXT)
            world.fake.set_price(
                "TMF", Decimal(repr(round(world.closes["TMF"][TODAY] * 10 * moves["TMF"], 4)))
            )
        worlds[1].fake.unadjusted_bars = True
        outcomes = []
        for day in (NEXT, AFTER):
            for world in worlds:
                world.at(day)
            adjusted, raw = (w.run(alpaca_config("all_in")) for w in worlds)

            assert adjusted.outcome in {"traded", "held"}, adjusted.reason
            outcomes.append(adjusted.outcome)
            assert (raw.outcome, raw.reason) == (adjusted.outcome, adjusted.reason)
            targets = [
                payloads(w, r, EventKind.TARGETS_COMPUTED)
                for w, r in zip(worlds, (adjusted, raw), strict=True)
            ]
            assert targets[0] == targets[1]
            assert [(o.symbol, o.side) for o in raw.orders] == [
                (o.symbol, o.side) for o in adjusted.orders
            ]
            assert len(payloads(worlds[1], raw, EventKind.SPLIT_ADJUSTED)) == 1
            changes = [alerts(w, r)[0] for w, r in zip(worlds, (adjusted, raw), strict=True)]
            if day == NEXT:
                assert [c.severity if c else None for c in changes] == [
                    Severity.INFO,
                    Severity.INFO,
                ]
            else:
                assert changes == [None, None]
            for world in worlds:
                close_session(
                    world, day, {s: float(world.fake.price_of(s)) * moves[s] for s in ALL_IN}
                )
        assert "traded" in outcomes  # the seeded market moves enough for the 1-point corridor
    finally:
        for world in worlds:
            world.fake.stop()
    for world in worlds:
        assert world.fake.errors == []


# -------------------------------------------------------------- the fake's split, directly


def _bars(fake_url: str) -> dict[str, dict[Adjustment, list[float]]]:
    client = StockHistoricalDataClient(KEY, SECRET, url_override=fake_url)
    client._session.trust_env = False
    found: dict[str, dict[Adjustment, list[float]]] = {}
    for adjustment in (Adjustment.RAW, Adjustment.SPLIT, Adjustment.ALL):
        request = StockBarsRequest(
            symbol_or_symbols=["TMF"],
            timeframe=TimeFrame.Day,
            start=datetime(2026, 9, 17, tzinfo=UTC),
            end=datetime(2026, 9, 23, tzinfo=UTC),
            adjustment=adjustment,
            feed=DataFeed.IEX,
        )
        barset = client.get_stock_bars(request)
        assert isinstance(barset, BarSet)
        found.setdefault("TMF", {})[adjustment] = [b.close for b in barset.data["TMF"]]
    client._session.close()
    return found


def test_the_fake_books_a_split_adjusts_bars_on_request_and_lists_the_activity(
    tmp_path: Path,
) -> None:
    """1-for-10 from 09-22 on 40 TMF bought at $50: 4 TMF at $500 average, the price $50 →
    $500, cash unchanged. Bars as traded (50, 50, 505): raw stays; split/all give 500, 500,
    505; with ``unadjusted_bars`` all three are raw. GET /v2/account/activities/SPLIT lists it."""
    world = start_world(tmp_path, ["TMF"])
    fake = world.fake
    try:
        fake.set_price("TMF", Decimal(50))
        fake.set_position("TMF", Decimal(40), Decimal(50))
        fake.set_bars("TMF", {date(2026, 9, 18): 50.0, TODAY: 50.0, NEXT: 505.0})
        cash = fake.cash

        fake.split("TMF", Fraction(1, 10), NEXT)

        position = fake.positions["TMF"]
        assert (position.qty, position.avg_entry_price) == (Decimal(4), Decimal(500))
        assert fake.price_of("TMF") == Decimal(500)
        assert fake.cash == cash
        bars = _bars(fake.url)["TMF"]
        assert bars[Adjustment.RAW] == [50.0, 50.0, 505.0]
        assert bars[Adjustment.SPLIT] == bars[Adjustment.ALL] == [500.0, 500.0, 505.0]
        fake.unadjusted_bars = True
        assert set(map(tuple, _bars(fake.url)["TMF"].values())) == {(50.0, 50.0, 505.0)}
        trading = TradingClient(KEY, SECRET, paper=True, url_override=fake.url)
        trading._session.trust_env = False
        activities = trading.get("/account/activities/SPLIT")
        trading._session.close()
    finally:
        fake.stop()

    assert isinstance(activities, list)
    [activity] = activities
    assert {k: activity[k] for k in ("activity_type", "symbol", "date", "qty")} == {
        "activity_type": "SPLIT",
        "symbol": "TMF",
        "date": "2026-09-22",
        "qty": "4.000000000",
    }
    assert Decimal(activity["per_share_amount"]) == Decimal("0.1")


@pytest.mark.parametrize("recorded", [False, True], ids=["seen by check first", "after a wake"])
def test_check_does_not_call_a_corroborated_split_a_bad_print(
    hfea: AlpacaWorld, recorded: bool
) -> None:
    """`bot check` reads the same unadjusted bars (#780) after TMF's 1-for-10: its data
    section restates them as the cycle does — from the position change before any wake has
    recorded the split, or from the recorded split after one — and reports no bad print. A
    check records nothing: the split is still the next wake's to record."""
    close_session(hfea, TODAY, {"UPRO": 101.0})
    hfea.fake.split("TMF", Fraction(1, 10), NEXT)
    hfea.fake.set_price("TMF", Decimal("505"))
    hfea.fake.unadjusted_bars = True
    hfea.at(NEXT)
    if recorded:
        assert hfea.run(alpaca_config("hfea")).outcome == "held"
    bot = hfea.bot(alpaca_config("hfea"))
    try:
        before = len(bot.adapters.tracker.events())
        report = _Report()
        _data_section(bot, report)
        after = len(bot.adapters.tracker.events())
    finally:
        bot.adapters.tracker.close()

    assert report.problems == []
    assert after == before
