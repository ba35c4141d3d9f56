"""The dashboard's pure pieces (bot/dashboard/model.py, svg.py, pages.py), on numbers worked out
by hand: drawdowns, the benchmark rebased, the corridor, the implementation shortfall and its
parts, the days that differ, the cash share, and the SVG and HTML drawn from them."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest

from bot.dashboard import model, pages, svg
from bot.journal import EquityRow

D1, D2, D3, D4 = date(2026, 1, 2), date(2026, 1, 5), date(2026, 1, 6), date(2026, 1, 7)


def test_daily_equity_keeps_the_last_snapshot_of_a_session() -> None:
    """A day re-run after a restart has two snapshots: the later one is the day's."""
    rows = [
        EquityRow("a", D1, "s", Decimal(100), Decimal(50)),
        EquityRow("b", D2, "s", Decimal(110), Decimal(55)),
        EquityRow("c", D2, "s", Decimal(111), Decimal(56)),
    ]

    assert model.daily_equity(rows, sleeve=False) == [(D1, 100.0), (D2, 111.0)]
    assert model.daily_equity(rows, sleeve=True) == [(D1, 50.0), (D2, 56.0)]


def test_drawdown_against_the_running_peak() -> None:
    """100 → 120 → 90 → 132: 0, 0, 90/120 − 1 = −25%, 0."""
    assert model.drawdown([100, 120, 90, 132]) == [0.0, 0.0, -0.25, 0.0]
    worst, peak, trough = model.max_drawdown([(D1, 100), (D2, 120), (D3, 90), (D4, 132)])
    assert (worst, peak, trough) == (-0.25, D2, D3)


def test_the_benchmark_is_rebased_to_the_first_equity_and_skips_missing_closes() -> None:
    """$1,000 of SPY bought at 400: 410 is $1,025; a day without a close is left out."""
    points = [(D1, 1000.0), (D2, 1010.0), (D3, 990.0)]

    rebased = model.rebased(points, {D1: 400.0, D3: 410.0})

    assert rebased == [(D1, 1000.0), (D3, 1025.0)]
    assert model.rebased(points, {}) == []


def test_the_corridor_around_each_target() -> None:
    """Absolute: 55% ± 1 pp = 54%…56%, 56.5% is outside; relative 10%: 45% ± 4.5 pp."""
    rows = [
        {"symbol": "UPRO", "target": 0.55, "current": 0.565, "drift": 0.015, "qty": "10"},
        {"symbol": "TMF", "target": 0.45, "current": 0.435, "drift": -0.015, "qty": "20"},
    ]

    upro, tmf = model.corridor_rows(rows, 0.01)
    relative = model.corridor_rows(rows, 0.1, relative=True)[1]

    assert (pytest.approx(0.54), pytest.approx(0.56), True) == (
        upro.lower,
        upro.upper,
        upro.outside,
    )
    assert tmf.outside
    assert (pytest.approx(0.405), pytest.approx(0.495), False) == (
        relative.lower,
        relative.upper,
        relative.outside,
    )
    assert model.corridor_rows(rows, None)[0].lower is None


def test_fills_away_from_the_close_count_against_the_account() -> None:
    """Bought 10 at 101 against a close of 100 (−$10 to the account), sold 5 at 49 against 50
    (−$5), sold 2 at 51 against 50 (+$2): a cost of $13; a fill without a close is ignored."""
    fills = [
        model.Fill(D1, "A", "buy", 10, 101.0, 0.0),
        model.Fill(D1, "B", "sell", 5, 49.0, 0.02),
        model.Fill(D2, "B", "sell", 2, 51.0, 0.01),
        model.Fill(D3, "C", "buy", 1, 1.0, 0.0),
    ]
    closes = {(D1, "A"): 100.0, (D1, "B"): 50.0, (D2, "B"): 50.0}

    assert pytest.approx(model.fills_away_from_close(fills, closes)) == 13.0


def test_the_shortfall_parts_add_up_to_the_gap() -> None:
    """Live $99,900 against $100,000: −$100; fills cost the account $30 more than the backtest
    (−$30), fees $5 more (−$5), so −$65 is the rest."""
    live = [(D1, 100_000.0), (D2, 99_900.0)]
    backtest = [(D1, 100_000.0), (D2, 100_000.0), (D3, 100_100.0)]

    gap = model.shortfall(
        live, backtest, live_fill_cost=40, backtest_fill_cost=10, live_fees=6, backtest_fees=1
    )

    assert gap is not None
    assert (gap.day, gap.gap, gap.fills, gap.fees, gap.other) == (D2, -100.0, -30.0, -5.0, -65.0)
    assert gap.as_dict()["gap_pct"] == pytest.approx(-0.001)
    assert model.shortfall(live, [(D4, 1.0)], live_fill_cost=0, backtest_fill_cost=0,
                           live_fees=0, backtest_fees=0) is None  # fmt: skip


def test_days_that_differ_name_skipped_failed_and_late_days() -> None:
    live = {D1: "traded", D2: "error", D4: "traded"}
    backtest = {D1: "traded", D2: "traded", D3: "held", D4: "traded"}

    found = model.day_differences(live, backtest, late=[D4])

    assert [d.describe() for d in found] == [
        "2026-01-05: live error, backtest traded",
        "2026-01-06: live no cycle, backtest held",
        "2026-01-07: live traded (late), backtest traded",
    ]


def test_the_cash_share_is_what_is_not_in_the_funds() -> None:
    """$1,000 with 9 shares at $100: 10% cash; $2,000 with 19 at $100: 5%; average 7.5%."""
    equity = {D1: 1000.0, D2: 2000.0}
    holdings = {D1: {"A": 9.0}, D2: {"A": 19.0}, D3: {"A": 1.0}}
    closes = {(D1, "A"): 100.0, (D2, "A"): 100.0}

    assert model.cash_share(equity, holdings, closes) == pytest.approx(0.075)


def test_the_line_chart_maps_the_extremes_to_the_plot_edges() -> None:
    """The first day is at the left edge, the last at the right, the highest value at the top
    and the lowest at the bottom; the legend names the lines."""
    chart = svg.line_chart(
        [svg.Line("equity", [(D1, 100.0), (D2, 150.0), (D4, 50.0)], "a")], label="equity"
    )

    coords = re.search(r'points="([^"]+)"', chart)
    assert coords is not None
    xs_ys = [tuple(float(v) for v in p.split(",")) for p in coords.group(1).split()]
    right = svg.WIDTH - svg.RIGHT
    bottom = svg.HEIGHT - svg.BOTTOM
    assert [(svg.LEFT, None), (None, svg.TOP), (right, bottom)] == [
        (xs_ys[0][0], None),
        (None, xs_ys[1][1]),
        (xs_ys[2][0], xs_ys[2][1]),
    ]
    assert "equity" in chart
    assert "nothing recorded yet" in svg.line_chart([], label="equity")


def test_pages_escape_what_the_journal_recorded() -> None:
    """A message with markup in it is shown as text, never run."""
    view = {
        "day": "2026-01-02",
        "days": ["2026-01-02"],
        "strategy": None,
        "strategies": ["s"],
        "events": [
            {
                "id": 1, "at": "2026-01-02T20:45:00+00:00", "run_id": "r", "strategy": "s",
                "kind": "error", "summary": "<script>alert(1)</script>", "client_order_id": None,
            }
        ],
        "problems": [],
    }  # fmt: skip

    html = pages.journal_page(view, ["s"])

    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
