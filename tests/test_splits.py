"""Splits and reverse splits: the pure rules of bot/splits.py with hand-computed numbers, then
whole cycles on the simulated broker (bars adjusted, bars unadjusted as in alpaca-py#780, no
corroboration), and the daemon's one alert naming the split."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.adapters.frame_market import FrameMarketData
from bot.adapters.sim_broker import NO_FEES, CloseTable, SimulatedBroker
from bot.adapters.xnys_calendar import XnysCalendar
from bot.alerting import cycle_alert, external_change_alert
from bot.alerts import Alert, Severity
from bot.checks import bad_prints
from bot.clock import SimulatedClock
from bot.cycle import NEW_YORK, Adapters, CycleResult, StrategyRuntime, run_cycle
from bot.daemon import Daemon, Member
from bot.domain import Leg, OrderRequest, Side
from bot.market.sessions import xnys_sessions
from bot.market.synthetic import synthetic_closes
from bot.splits import (
    CLEAN_RATIOS,
    PRICE_TOLERANCE,
    Jump,
    KnownSplit,
    SplitRatio,
    _no_split_shape,  # the shortcut, checked by its test
    explain_changes,
    price_agrees,
    quantity_ratios,
    recognise,
    restate,
    split_from_bars,
    split_shaped_jumps,
)
from bot.tracker import EventKind, Tracker
from tests.test_cycle import ALL_IN, HFEA

D = Decimal
ONE_FOR_TEN = SplitRatio(1, 10)
TWO_FOR_ONE = SplitRatio(2, 1)
ONE_FOR_THREE = SplitRatio(1, 3)
APR_1, APR_2, APR_6 = date(2026, 4, 1), date(2026, 4, 2), date(2026, 4, 6)  # 04-03: Good Friday
FIFTEEN = timedelta(minutes=15)


# --------------------------------------------------------------------- the rules, by hand


def test_quantity_ratios_are_exact_or_whole_shares_with_cash_in_lieu() -> None:
    """549.45 × 2 = 1098.9; 899.1 ÷ 10 = 89.91; 900 ÷ 3 = 300; 1000 ÷ 3 = 333.33 → 333 whole
    shares (the 0.33 paid in cash); a short splits too (−40 ÷ 10 = −4). Whole-share truncation
    widens the net: 30 → 3 fits 1-for-10 and 1-for-8 (3.75 → 3); the price decides."""
    assert quantity_ratios(D("549.45"), D("1098.9")) == (TWO_FOR_ONE,)
    assert quantity_ratios(D("899.1"), D("89.91")) == (ONE_FOR_TEN,)
    assert quantity_ratios(D(900), D(300)) == (ONE_FOR_THREE,)
    assert quantity_ratios(D(1000), D(333)) == (ONE_FOR_THREE,)
    assert quantity_ratios(D(-40), D(-4)) == (ONE_FOR_TEN,)
    assert quantity_ratios(D(30), D(3)) == (SplitRatio(1, 8), ONE_FOR_TEN)


def test_no_ratio_for_a_trade_a_liquidation_or_a_flip() -> None:
    """549.45 → 449.45 (100 sold) is ×0.818: no clean ratio; closing or flipping is no split."""
    assert quantity_ratios(D("549.45"), D("449.45")) == ()
    assert quantity_ratios(D("549.45"), D(0)) == ()
    assert quantity_ratios(D(0), D(10)) == ()
    assert quantity_ratios(D(10), D(-10)) == ()


def test_price_agrees_once_the_split_is_taken_out() -> None:
    """1-for-10, $20.00 → $206.00: 206 × 1 ÷ (20 × 10) = 1.03, a 3% day: agrees. $20.00 →
    $20.60 is the same 3% without a split: 20.6 ÷ 200 = 0.103, 89.7% off: disagrees. The limit
    is 25%: $20 → $250 (1.25) agrees, $20 → $251 (1.255) does not."""
    assert price_agrees(ONE_FOR_TEN, 20.0, 206.0)
    assert not price_agrees(ONE_FOR_TEN, 20.0, 20.6)
    assert price_agrees(ONE_FOR_TEN, 20.0, 250.0)
    assert not price_agrees(ONE_FOR_TEN, 20.0, 251.0)
    assert not price_agrees(ONE_FOR_TEN, float("nan"), 206.0)


def test_a_forward_two_for_one_split_is_recognised() -> None:
    """UPRO 549.45 → 1098.9 shares, $100.00 → $51.00: 51 × 2 ÷ 100 = 1.02, a 2% day."""
    split = recognise("UPRO", D("549.45"), D("1098.9"), 100.0, 51.0, after=APR_1, through=APR_2)

    assert split is not None
    assert split.ratio == TWO_FOR_ONE
    assert not split.ratio.reverse
    assert split.ratio.describe() == "2-for-1 split"


def test_a_one_for_ten_reverse_split_is_recognised() -> None:
    """TMF 899.1 → 89.91 shares, $20.00 → $206.00: 1-for-10, and a 3% day once taken out."""
    split = recognise("TMF", D("899.1"), D("89.91"), 20.0, 206.0, after=APR_1, through=APR_2)

    assert split is not None
    assert split.ratio == ONE_FOR_TEN
    assert split.ratio.describe() == "1-for-10 reverse split"
    assert (split.qty_before, split.qty_after) == (D("899.1"), D("89.91"))


def test_a_one_for_three_reverse_split_is_recognised() -> None:
    """900 → 300 shares, $10.00 → $29.40: 29.4 ÷ 30 = 0.98, a −2% day."""
    split = recognise("DFEN", D(900), D(300), 10.0, 29.4, after=APR_1, through=APR_2)

    assert split is not None
    assert split.ratio == ONE_FOR_THREE


def test_a_twelve_percent_move_is_not_a_split() -> None:
    """$100 → $112 is +12%: no clean ratio fits it (the nearest, 1-for-2, needs ×2 ± 25%), so
    the bars hold no split-shaped jump; and half the shares sold by hand on that day is no
    1-for-2 split either (112 × 1 ÷ (100 × 2) = 0.56, 44% off)."""
    closes = pd.DataFrame(
        {"UPRO": [100.0, 112.0]}, index=pd.DatetimeIndex([pd.Timestamp(APR_1), pd.Timestamp(APR_2)])
    )

    assert split_shaped_jumps(closes, ["UPRO"]) == ()
    assert recognise("UPRO", D(600), D(300), 100.0, 112.0, after=APR_1, through=APR_2) is None


def test_two_ratios_that_fit_mean_do_not_know() -> None:
    """7 → 1 whole share fits 1-for-4 (1.75 → 1), 1-for-5 (1.4 → 1) and 1-for-6 (1.17 → 1);
    $10 → $55 (×5.5) fits 1-for-5 (1.1) and 1-for-6 (0.917), not 1-for-4 (1.375): two answers,
    so it is not taken for a split."""
    assert quantity_ratios(D(7), D(1)) == (SplitRatio(1, 4), SplitRatio(1, 5), SplitRatio(1, 6))

    assert recognise("X", D(7), D(1), 10.0, 55.0, after=APR_1, through=APR_2) is None


def test_explain_changes_separates_a_split_from_a_hand_trade() -> None:
    """TMF split 1-for-10 ($20 → $203, +1.5%) while someone sold 100 UPRO: TMF is a split, UPRO
    is an outside change; a change whose earlier price is unknown stays unexplained."""
    changes = explain_changes(
        {"UPRO": D("549.45"), "TMF": D("899.1"), "UGL": D(10)},
        {"UPRO": D("449.45"), "TMF": D("89.91"), "UGL": D(1)},
        {"UPRO": 100.0, "TMF": 20.0},
        {"UPRO": 101.0, "TMF": 203.0, "UGL": 400.0},
        after=APR_1,
        through=APR_2,
    )

    assert [(s.symbol, s.ratio) for s in changes.splits] == [("TMF", ONE_FOR_TEN)]
    assert changes.unexplained == ("UGL", "UPRO")


def _frame(columns: dict[str, list[float]], start: date, end: date) -> pd.DataFrame:
    index = pd.DatetimeIndex([pd.Timestamp(d) for d in xnys_sessions(start, end)])
    return pd.DataFrame(columns, index=index)


def test_an_unadjusted_jump_corroborated_by_the_position_is_restated() -> None:
    """TMF closes 20, 20.4, 20.2, 20.5 then 205 on 2026-04-02 (×10: the 1-for-10 split, flat
    once taken out). The position went 899.1 → 89.91 since 2026-04-01: the closes before the
    split become 200, 204, 202, 205, and the move is 0%."""
    closes = _frame({"TMF": [20.0, 20.4, 20.2, 20.5, 205.0]}, date(2026, 3, 27), APR_2)
    jumps = split_shaped_jumps(closes, ["TMF"])
    assert jumps == (Jump("TMF", APR_2, 20.5, 205.0),)

    split = split_from_bars("TMF", D("899.1"), D("89.91"), jumps, after=APR_1, through=APR_2)
    assert split is not None
    assert (split.ratio, split.effective) == (ONE_FOR_TEN, APR_2)
    assert (split.price_before, split.price_after) == (20.5, 205.0)

    restated = restate(closes, jumps, [KnownSplit.of(split)])

    assert restated.closes["TMF"].tolist() == [200.0, 204.0, 202.0, 205.0, 205.0]
    assert [(a.symbol, a.ratio, a.day, a.rows) for a in restated.adjustments] == [
        ("TMF", ONE_FOR_TEN, APR_2, 4)
    ]
    assert restated.unconfirmed == ()
    assert bad_prints(restated.closes, ["TMF"], 0.5) == []


def test_a_forward_split_jump_is_restated_too() -> None:
    """UPRO 100, 102 then 51 (2-for-1, flat once taken out): −50% is no bad print at the 50%
    limit (not strictly beyond), but the strategy must not see it: 100 → 50, 102 → 51."""
    closes = _frame({"UPRO": [100.0, 102.0, 51.0]}, date(2026, 3, 31), APR_2)
    jumps = split_shaped_jumps(closes, ["UPRO"])
    split = split_from_bars("UPRO", D("549.45"), D("1098.9"), jumps, after=APR_1, through=APR_2)
    assert split is not None

    restated = restate(closes, jumps, [KnownSplit.of(split)])

    assert restated.closes["UPRO"].tolist() == [50.0, 51.0, 51.0]


def test_a_split_sized_jump_without_corroboration_is_still_refused() -> None:
    """The same ×10 TMF jump, but the position did not change (or changed by another ratio,
    or the jump is before the last wake): nothing is restated, and the bad-print check refuses
    it, naming the split it looks like."""
    closes = _frame({"TMF": [20.0, 20.4, 20.2, 20.5, 205.0]}, date(2026, 3, 27), APR_2)
    jumps = split_shaped_jumps(closes, ["TMF"])

    assert split_from_bars("TMF", D("899.1"), D("899.1"), jumps, after=APR_1, through=APR_2) is None
    assert split_from_bars("TMF", D(900), D(450), jumps, after=APR_1, through=APR_2) is None
    assert split_from_bars("TMF", D(900), D(90), jumps, after=APR_2, through=APR_6) is None
    restated = restate(closes, jumps, [])
    assert restated.closes is closes
    assert restated.unconfirmed == jumps
    assert bad_prints(restated.closes, ["TMF"], 0.5) == [
        "TMF: +900.0% on 2026-04-02 is beyond the 50% bad-print limit (a glitch, or an "
        "unadjusted 1-for-10 reverse split that no position change or recorded split confirms)"
    ]


def test_a_recorded_split_restates_its_jump_on_later_days_once() -> None:
    """A split recorded on 2026-04-02 for the window (04-01, 04-02] explains the ×10 jump on
    04-02 in later bars (2026-04-03 is Good Friday); recorded twice it is still undone once; a
    record with another ratio that also fits (1-for-12: 205 ÷ (20.5 × 12) = 0.83) makes it
    ambiguous: left alone."""
    closes = _frame({"TMF": [20.2, 20.5, 205.0, 207.0]}, date(2026, 3, 31), APR_6)
    jumps = split_shaped_jumps(closes, ["TMF"])
    known = KnownSplit("TMF", ONE_FOR_TEN, APR_1, APR_2)

    twice = restate(closes, jumps, [known, known])
    ambiguous = restate(closes, jumps, [known, replace(known, ratio=SplitRatio(1, 12))])

    assert twice.closes["TMF"].tolist() == [202.0, 205.0, 205.0, 207.0]
    assert ambiguous.closes is closes
    assert ambiguous.unconfirmed == jumps


def test_a_split_reads_back_from_the_tracker(tmp_path: Path) -> None:
    """What the cycle records (SPLIT_DETECTED) is what later days read back to restate bars."""
    split = recognise("TMF", D("899.1"), D("89.91"), 20.0, 206.0, after=APR_1, through=APR_2)
    assert split is not None
    tracker = Tracker(tmp_path / "t.sqlite3")
    try:
        at = datetime(2026, 4, 2, 15, 45, tzinfo=NEW_YORK)
        tracker.record(at, "r", "hfea", EventKind.SPLIT_DETECTED, **split.payload())
        payload = tracker.events(kind=EventKind.SPLIT_DETECTED)[0].payload
    finally:
        tracker.close()

    assert KnownSplit.from_payload(payload) == KnownSplit.of(split)
    assert payload["ratio"] == "1-for-10"


# ------------------------------------------------------------ cycles on the simulated broker

# UPRO $100 and TMF $50 every session; from 2026-04-02 TMF trades at $505 after a 1-for-10
# reverse split (+1% on the day). The 2026-04-01 rebalance from $100,000 buys 549.45 UPRO and
# 899.1 TMF, leaving $100 (tests/test_cycle.py); the split leaves 89.91 TMF.
SESSIONS = xnys_sessions(date(2026, 3, 2), date(2026, 4, 30))
INDEX = pd.DatetimeIndex([pd.Timestamp(d) for d in SESSIONS])
RAW = pd.DataFrame(
    {"UPRO": [100.0] * len(SESSIONS), "TMF": [50.0 if d < APR_2 else 505.0 for d in SESSIONS]},
    index=INDEX,
)
ADJUSTED = RAW.assign(TMF=[500.0 if d < APR_2 else 505.0 for d in SESSIONS])


class SimWorld:
    """One strategy on a simulated broker that fills at the prices as traded (``raw``)."""

    def __init__(self, path: Path, raw: pd.DataFrame, runtime: StrategyRuntime = HFEA) -> None:
        self.runtime = runtime
        self.clock = SimulatedClock(datetime.combine(APR_1, time(9), NEW_YORK))
        self.broker = SimulatedBroker(
            CloseTable(raw, self.clock),
            D(100_000),
            slippage_bps=D(0),
            fees=NO_FEES,
            book_path=path / "book.jsonl",
        )
        self.tracker = Tracker(path / "tracker.sqlite3")
        self.raw = raw
        self.adapters = Adapters(
            self.broker, FrameMarketData(raw), XnysCalendar(), self.tracker, self.clock
        )

    def run(self, day: date, bars: pd.DataFrame | None = None) -> CycleResult:
        """One cycle on ``day`` at 15:45, on these bars (the prices as traded by default)."""
        self.clock.sleep_until(datetime.combine(day, time(15, 45), NEW_YORK))
        market = FrameMarketData(self.raw if bars is None else bars)
        return run_cycle(replace(self.adapters, market=market), self.runtime)

    def kinds(self, result: CycleResult) -> list[str]:
        return [e.kind for e in self.tracker.run_events(result.run_id)]

    def payloads(self, result: CycleResult, kind: EventKind) -> list[dict[str, object]]:
        return [dict(e.payload) for e in self.tracker.run_events(result.run_id) if e.kind == kind]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[SimWorld]:
    """HFEA rebalanced on 2026-04-01 at $100/$50."""
    made = SimWorld(tmp_path, RAW)
    first = made.run(APR_1)
    assert first.outcome == "traded", first.reason
    assert made.broker.account().positions == {"UPRO": D("549.45"), "TMF": D("899.1")}
    yield made
    made.tracker.close()


def test_the_simulated_broker_splits_its_book_and_a_restart_replays_it(
    world: SimWorld, tmp_path: Path
) -> None:
    """1-for-10: 899.1 TMF → 89.91, cash untouched ($100); a broker reopened on the same book
    file holds the same, and still knows the orders."""
    world.broker.split("TMF", 1, 10)
    reopened = SimulatedBroker(
        CloseTable(RAW, world.clock), D(100_000), fees=NO_FEES, book_path=tmp_path / "book.jsonl"
    )

    assert world.broker.account().positions == {"UPRO": D("549.45"), "TMF": D("89.91")}
    assert world.broker.account().cash == D(100)
    assert reopened.account().positions == {"UPRO": D("549.45"), "TMF": D("89.91")}
    assert reopened.account().cash == D(100)
    assert reopened.get_order("hfea-2026Q2-TMF-buy") is not None


@pytest.mark.parametrize("bars", ["adjusted", "unadjusted (#780)"])
def test_a_reverse_split_between_wakes_holds_normally_with_one_split_alert(
    world: SimWorld, bars: str
) -> None:
    """The wake after the split holds (HFEA waits for the quarter): no refused day, no
    outside-change warning, one INFO alert naming the split. The weights did not move:
    89.91 × $505 = $45,404.55 of $54,945 + $45,404.55 + $100 = $100,449.55. Unadjusted bars
    are restated first (the split is then found from them and the position)."""
    world.broker.split("TMF", 1, 10)

    second = world.run(APR_2, ADJUSTED if bars == "adjusted" else RAW)

    assert second.outcome == "held", second.reason
    kinds = world.kinds(second)
    assert EventKind.EXTERNAL_CHANGE.value not in kinds
    assert EventKind.CHECK_FAILED.value not in kinds
    assert kinds.count(EventKind.SPLIT_ADJUSTED.value) == (bars != "adjusted")
    [split] = world.payloads(second, EventKind.SPLIT_DETECTED)
    assert (split["symbol"], split["new"], split["old"]) == ("TMF", 1, 10)
    assert (D(str(split["qty_before"])), D(str(split["qty_after"]))) == (D("899.1"), D("89.91"))
    [drift] = world.payloads(second, EventKind.DRIFT_MEASURED)
    assert drift["current"] == {
        "UPRO": round(54945 / 100449.55, 6),
        "TMF": round(45404.55 / 100449.55, 6),
    }
    alert = external_change_alert(second, world.tracker)
    assert alert is not None
    assert alert.severity is Severity.INFO
    assert alert.key == f"split:hfea:{second.run_id}"
    assert alert.title == "hfea: TMF 1-for-10 reverse split (seen 2026-04-02)"
    assert "TMF 1-for-10 reverse split: 899.1 shares → 89.91" in alert.text


def test_a_forward_split_with_unadjusted_bars_is_restated(tmp_path: Path) -> None:
    """UPRO 2-for-1 from 2026-04-02 at $51 (+2%), bars unadjusted: the −49% jump is inside the
    50% bad-print limit, so the check alone would let the strategy see it; it is restated
    (100 → 50) first. 1098.9 × $51 = $56,043.90 of $56,043.90 + $44,955 + $100 =
    $101,098.90."""
    raw = RAW.assign(UPRO=[100.0 if d < APR_2 else 51.0 for d in SESSIONS], TMF=50.0)
    made = SimWorld(tmp_path, raw)
    assert made.run(APR_1).outcome == "traded"
    made.broker.split("UPRO", 2, 1)

    second = made.run(APR_2)

    assert second.outcome == "held", second.reason
    assert [(p["symbol"], p["ratio"]) for p in made.payloads(second, EventKind.SPLIT_ADJUSTED)] == [
        ("UPRO", "2-for-1")
    ]
    [drift] = made.payloads(second, EventKind.DRIFT_MEASURED)
    assert drift["current"] == {
        "UPRO": round(56043.90 / 101098.90, 6),
        "TMF": round(44955 / 101098.90, 6),
    }
    made.tracker.close()


def test_an_uncorroborated_split_sized_jump_refuses_the_day(world: SimWorld) -> None:
    """The bars jump ×10 (+910%) but the broker booked no split: nothing explains the jump,
    so no order, an error naming the bad print, no split recorded, an ERROR alert."""
    result = world.run(APR_2)

    assert result.outcome == "error"
    assert "TMF: +910.0% on 2026-04-02 is beyond the 50% bad-print limit" in result.reason
    kinds = world.kinds(result)
    assert EventKind.ORDER_SUBMITTING.value not in kinds
    assert EventKind.SPLIT_DETECTED.value not in kinds
    assert external_change_alert(result, world.tracker) is None
    error = cycle_alert(result, world.tracker)
    assert error is not None
    assert error.severity is Severity.ERROR


def test_all_in_trades_the_same_on_adjusted_and_unadjusted_bars_for_days(tmp_path: Path) -> None:
    """All In (3 closes: the split day stays in its window for three wakes) on seeded closes,
    TMF 1-for-10 from 2026-04-02. One account sees Alpaca's adjusted bars, the other the raw
    ones (#780) on every wake: both decide and trade exactly alike each day, neither refuses
    a day, each records the split once and alerts it once; the raw one restates its bars on
    each of the three days the jump is in the window, and not after."""
    symbols = list(ALL_IN.strategy.symbols)
    prices = synthetic_closes(symbols, SESSIONS)
    after = prices.index >= pd.Timestamp(APR_2)
    raw = prices.assign(TMF=prices["TMF"].where(~after, prices["TMF"] * 10))
    adjusted = prices.assign(TMF=prices["TMF"] * 10)
    worlds = {}
    for name in ("adjusted", "raw"):
        (tmp_path / name).mkdir()
        worlds[name] = SimWorld(tmp_path / name, raw, ALL_IN)
        assert worlds[name].run(APR_1).outcome == "traded"
        worlds[name].broker.split("TMF", 1, 10)
    days = [APR_2, APR_6, date(2026, 4, 7), date(2026, 4, 8)]
    outcomes = []

    wa, wr = worlds["adjusted"], worlds["raw"]
    for day in days:
        a, r = wa.run(day, adjusted), wr.run(day, raw)

        assert a.outcome in {"traded", "held"}, a.reason
        outcomes.append(a.outcome)
        assert (r.outcome, r.reason) == (a.outcome, a.reason)
        assert [(o.symbol, o.side, o.filled_qty) for o in r.orders] == [
            (o.symbol, o.side, o.filled_qty) for o in a.orders
        ]
        targets = EventKind.TARGETS_COMPUTED
        assert wr.payloads(r, targets) == wa.payloads(a, targets)
        assert len(wr.payloads(r, EventKind.SPLIT_ADJUSTED)) == (day != days[-1])
        alerts = [external_change_alert(a, wa.tracker), external_change_alert(r, wr.tracker)]
        if day == APR_2:
            assert [x.severity if x else None for x in alerts] == [Severity.INFO] * 2
        else:
            assert alerts == [None, None]
    assert "traded" in outcomes  # the seeded market moves enough for the 1-point corridor
    for world in worlds.values():
        assert len(world.tracker.events(kind=EventKind.SPLIT_DETECTED)) == 1
        assert world.tracker.events(kind=EventKind.CHECK_FAILED) == []
        world.tracker.close()


class RecordingAlerts:
    """The daemon's alert port, recording."""

    def __init__(self) -> None:
        self.sent: list[Alert] = []

    def send(self, alert: Alert) -> None:
        self.sent.append(alert)


def test_the_daemon_sends_one_alert_naming_the_split_and_no_warning(tmp_path: Path) -> None:
    """The daemon over 2026-04-01..04-07 (04-03 is Good Friday), the split booked after the
    first wake and the bars unadjusted throughout: every wake completes (traded, then held),
    and exactly one alert names the split, as INFO; none says "outside the bot", none is an
    ERROR."""
    made = SimWorld(tmp_path, RAW)
    alerts = RecordingAlerts()
    daemon = Daemon([Member(HFEA, made.adapters)], made.tracker, FIFTEEN, alerts=alerts)
    daemon.run_simulated(until=APR_1)
    made.broker.split("TMF", 1, 10)

    daemon.run_simulated(until=date(2026, 4, 7))

    outcomes = [e.payload["outcome"] for e in made.tracker.events(kind=EventKind.CYCLE_FINISHED)]
    assert outcomes == ["traded", "held", "held", "held"]
    naming = [a for a in alerts.sent if "split" in a.title]
    assert [(a.severity, a.title) for a in naming] == [
        (Severity.INFO, "hfea: TMF 1-for-10 reverse split (seen 2026-04-02)")
    ]
    assert not [a for a in alerts.sent if "outside the bot" in a.title]
    assert not [a for a in alerts.sent if a.severity is Severity.ERROR]
    made.tracker.close()


def test_a_split_and_a_hand_trade_together_make_one_warning_naming_both(world: SimWorld) -> None:
    """TMF splits 1-for-10 and someone sells 100 UPRO by hand: one WARNING (the outside change:
    UPRO 549.45 → 449.45) that also names the split; the split is no outside change."""
    world.broker.split("TMF", 1, 10)
    world.broker.submit(OrderRequest("by-hand-1", "UPRO", Side.SELL, D(100), Leg.REDUCE_LONG))

    second = world.run(APR_2, ADJUSTED)

    assert second.outcome == "held", second.reason
    [change] = world.payloads(second, EventKind.EXTERNAL_CHANGE)
    assert list(change["changes"]) == ["UPRO"]
    assert len(world.payloads(second, EventKind.SPLIT_DETECTED)) == 1
    alert = external_change_alert(second, world.tracker)
    assert alert is not None
    assert alert.severity is Severity.WARNING
    assert alert.key == f"external:hfea:{second.run_id}"
    assert "UPRO: was 549.45" in alert.text
    assert "Also recognised as a split, not a trade: TMF 1-for-10 reverse split" in alert.text


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.floats(min_value=0.001, max_value=200, allow_nan=False),
        min_size=1,
        max_size=6,
    ),
    st.sampled_from([PRICE_TOLERANCE, 0.1]),
)
def test_the_quick_no_split_test_agrees_with_trying_every_ratio(
    moves: list[float], tolerance: float
) -> None:
    """The usual day's shortcut (every move between the split shapes nearest 1) answers as
    multiplying each move by every clean ratio does, edges included."""
    array = np.array(moves)
    by_every_ratio = not any(
        abs(m * r.new / r.old - 1) <= tolerance for m in moves for r in CLEAN_RATIOS
    )
    assert _no_split_shape(array, tolerance) == by_every_ratio


@pytest.mark.parametrize("edge", [0.625, 1.5, 0.375, 2.5])
def test_a_move_on_the_edge_of_a_split_shape_is_one(edge: float) -> None:
    """½ × (1 + 25%) and 2 × (1 − 25%) are split-shaped (the tolerance is inclusive)."""
    assert not _no_split_shape(np.array([edge]), PRICE_TOLERANCE)
    assert _no_split_shape(np.array([1.0, 0.7, 1.45]), PRICE_TOLERANCE)
