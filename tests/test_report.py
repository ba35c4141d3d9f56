"""The forum-style account tracker: one line per quarter from equity snapshots."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from bot.report import TrackerLine, quarterly_lines
from bot.tracker import EquityRow


def row(session: date, equity: str) -> EquityRow:
    """An equity snapshot for 'hfea' taken at 15:45 New York time on ``session``."""
    return EquityRow(
        f"{session.isoformat()}T15:45:00-05:00",
        session,
        "hfea",
        Decimal(equity),
        Decimal(equity),
    )


# First NYSE session of each month from February to December 2019 (Jun 1 and Dec 1 are weekends,
# Sep 2 is Labor Day), with the equity the bot recorded that day.
MONTHLY_2019 = [
    row(date(2019, 2, 1), "100000"),
    row(date(2019, 3, 1), "102000"),
    row(date(2019, 4, 1), "99000"),
    row(date(2019, 5, 1), "115210"),
    row(date(2019, 6, 3), "117000"),
    row(date(2019, 7, 1), "118500"),
    row(date(2019, 8, 1), "121000"),
    row(date(2019, 9, 3), "119000"),
    row(date(2019, 10, 1), "125000"),
    row(date(2019, 11, 1), "130000"),
    row(date(2019, 12, 2), "128400"),
]


def test_quarterly_lines_every_three_months_plus_the_latest() -> None:
    """Lines fall on 2019-02/05/08/11 (each month's first snapshot), then a 'latest' line.

    The last snapshot (2019-12-02) is not a quarterly line, so it closes the list, labelled
    with its date and flagged latest.
    """
    lines = quarterly_lines(MONTHLY_2019)

    assert [(line.period, line.session, line.equity, line.latest) for line in lines] == [
        ("2019-02", date(2019, 2, 1), Decimal(100000), False),
        ("2019-05", date(2019, 5, 1), Decimal(115210), False),
        ("2019-08", date(2019, 8, 1), Decimal(121000), False),
        ("2019-11", date(2019, 11, 1), Decimal(130000), False),
        ("2019-12-02", date(2019, 12, 2), Decimal(128400), True),
    ]
    # 100,000/100,000 − 1 = 0; 115,210/100,000 − 1 = 0.1521; 121,000/100,000 − 1 = 0.21;
    # 130,000/100,000 − 1 = 0.30; 128,400/100,000 − 1 = 0.284
    assert [line.return_since_start for line in lines] == pytest.approx(
        [0.0, 0.1521, 0.21, 0.30, 0.284]
    )


def test_rendered_lines_match_the_forum_format() -> None:
    """render() prints '$' with thousands separators, no cents, and a signed one-decimal %."""
    lines = quarterly_lines(MONTHLY_2019)

    assert [line.render() for line in lines] == [
        "2019-02: $100,000  (+0.0% since start)",
        "2019-05: $115,210  (+15.2% since start)",  # 0.1521 → 15.2%
        "2019-08: $121,000  (+21.0% since start)",
        "2019-11: $130,000  (+30.0% since start)",
        "2019-12-02: $128,400  (+28.4% since start)  (latest)",
    ]


def test_a_loss_renders_with_a_minus_sign_and_whole_dollars() -> None:
    """A line below the start shows a negative return; cents are rounded away in the dollars."""
    line = TrackerLine("2019-05", date(2019, 5, 1), Decimal("95500.40"), -0.044996)

    # 95,500.40 → $95,500; −0.044996 → −4.4996% → −4.5%
    assert line.render() == "2019-05: $95,500  (-4.5% since start)"


def test_no_latest_line_when_the_last_snapshot_is_a_quarterly_line() -> None:
    """If the last snapshot is itself a quarterly line, it is not repeated as 'latest'."""
    lines = quarterly_lines(MONTHLY_2019[:10])  # ends on 2019-11-01

    assert [line.period for line in lines] == ["2019-02", "2019-05", "2019-08", "2019-11"]
    assert not any(line.latest for line in lines)


def test_only_the_first_snapshot_of_a_quarter_month_makes_its_line() -> None:
    """With daily snapshots, a quarter's line is the month's first one; later ones are skipped."""
    rows = [
        row(date(2019, 2, 1), "100000"),
        row(date(2019, 2, 4), "101000"),
        row(date(2019, 5, 1), "110000"),
        row(date(2019, 5, 2), "112000"),
    ]

    lines = quarterly_lines(rows)

    # 110,000/100,000 − 1 = 0.10; 112,000/100,000 − 1 = 0.12
    assert [(line.period, line.equity, line.latest) for line in lines] == [
        ("2019-02", Decimal(100000), False),
        ("2019-05", Decimal(110000), False),
        ("2019-05-02", Decimal(112000), True),
    ]
    assert lines[-1].return_since_start == pytest.approx(0.12)


def test_a_quarter_month_with_no_snapshot_has_no_line() -> None:
    """Bot down all of May: no 2019-05 line and no stand-in from June; the next line is 2019-08.

    This is the documented behaviour: a quarter's line is the first snapshot *in* that month, so a
    month without any snapshot is simply missing from the tracker (the schedule stays anchored on
    February, it does not shift to June).
    """
    rows = [r for r in MONTHLY_2019 if r.session.month != 5]

    lines = quarterly_lines(rows)

    assert [line.period for line in lines] == ["2019-02", "2019-08", "2019-11", "2019-12-02"]
    assert lines[1].session == date(2019, 8, 1)


def test_a_single_snapshot_is_one_line() -> None:
    """One snapshot gives its month's line and no separate latest line."""
    lines = quarterly_lines([row(date(2019, 2, 1), "100000")])

    assert [line.render() for line in lines] == ["2019-02: $100,000  (+0.0% since start)"]


def test_a_start_in_mid_month_anchors_the_quarters_on_that_month() -> None:
    """The first snapshot's month starts the quarterly cycle, whatever day it falls on."""
    rows = [
        row(date(2019, 2, 15), "50000"),
        row(date(2019, 3, 1), "51000"),
        row(date(2019, 5, 1), "55000"),
    ]

    lines = quarterly_lines(rows)

    # 55,000/50,000 − 1 = 0.10
    assert [line.render() for line in lines] == [
        "2019-02: $50,000  (+0.0% since start)",
        "2019-05: $55,000  (+10.0% since start)",
    ]


def test_quarters_roll_over_the_year_end() -> None:
    """A November start puts the next lines in February and May of the following year."""
    rows = [
        row(date(2019, 11, 1), "100000"),
        row(date(2019, 12, 2), "101000"),
        row(date(2020, 2, 3), "104000"),
        row(date(2020, 5, 1), "90000"),
    ]

    lines = quarterly_lines(rows)

    # 104,000/100,000 − 1 = +4.0%; 90,000/100,000 − 1 = −10.0%
    assert [line.render() for line in lines] == [
        "2019-11: $100,000  (+0.0% since start)",
        "2020-02: $104,000  (+4.0% since start)",
        "2020-05: $90,000  (-10.0% since start)",
    ]


def test_no_snapshots_no_lines() -> None:
    """An empty history gives an empty tracker."""
    assert quarterly_lines([]) == []
