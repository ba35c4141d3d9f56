"""Behaviour of the calendar and drift triggers, on real NYSE sessions.

Session lists come from ``xnys_sessions`` (exchange_calendars), an independent source of truth
for weekends and holidays; each date the tests rely on is also checked against the weekday
arithmetic of ``datetime.date`` so a calendar surprise fails loudly instead of silently.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.market.sessions import xnys_sessions
from bot.triggers import (
    CalendarRule,
    Schedule,
    calendar_decision,
    current_weights,
    drift_decision,
    max_drift,
    scheduled_rebalances,
)

D = Decimal
# Whole months, Oct 2025 .. Jan 2027: extends past every "today" used below (all in 2026).
SESSIONS = xnys_sessions(date(2025, 10, 1), date(2027, 1, 31))
MONTHS = 16  # Oct, Nov, Dec 2025 + 12 months of 2026 + Jan 2027
QUARTER = CalendarRule(Schedule.QUARTER_START)
QUARTER_PREV = CalendarRule(Schedule.QUARTER_START, quarter_anchor="last_trading_day_prev_quarter")
MONTH_END = CalendarRule(Schedule.MONTH_END)
TWICE = CalendarRule(Schedule.TWICE_MONTHLY)
TWICE_AFTER = CalendarRule(Schedule.TWICE_MONTHLY, mid_month_rule="on_or_after")
SAT, SUN = 5, 6


def sessions_of(year: int, month: int) -> list[date]:
    """The NYSE sessions of one month, from the independent calendar list."""
    return [d for d in SESSIONS if (d.year, d.month) == (year, month)]


def all_days(start: date, end: date) -> list[date]:
    """Every calendar day from start to end inclusive (sessions or not)."""
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


# --------------------------------------------------------------------------- quarter start


def test_calendar_facts_the_quarter_tests_rely_on() -> None:
    """Jan 1 2026 (Thu) and Good Friday Apr 3 2026 are holidays; Jan 2 and Apr 1 are sessions."""
    assert date(2026, 1, 1).weekday() == 3  # Thursday, but New Year's Day
    assert date(2026, 1, 1) not in SESSIONS
    assert date(2026, 1, 2) in SESSIONS  # Friday
    assert date(2026, 4, 1) in SESSIONS  # Wednesday
    assert date(2026, 4, 3).weekday() == 4  # Friday: Good Friday 2026 (Easter is Apr 5)
    assert date(2026, 4, 3) not in SESSIONS


def test_quarter_start_schedule_is_first_session_of_each_quarter() -> None:
    """Quarter starts: 2025-10-01, 2026-01-02, 04-01, 07-01, 10-01, then 2027-01-04."""
    assert date(2027, 1, 1).weekday() == 4  # Friday, New Year's Day; the 2nd-3rd are a weekend
    assert scheduled_rebalances(SESSIONS, QUARTER) == [
        (date(2025, 10, 1), "2025Q4"),
        (date(2026, 1, 2), "2026Q1"),
        (date(2026, 4, 1), "2026Q2"),
        (date(2026, 7, 1), "2026Q3"),
        (date(2026, 10, 1), "2026Q4"),
        (date(2027, 1, 4), "2027Q1"),
    ]


def test_quarter_start_2026_q1_is_jan_2_after_the_new_year_holiday() -> None:
    """On 2026-01-02 (first session of 2026) the Q1 rebalance is due and on time."""
    decision = calendar_decision(SESSIONS, date(2026, 1, 2), QUARTER, "2025Q4")
    assert decision.trade
    assert decision.rebalance_key == "2026Q1"
    assert not decision.late


def test_quarter_start_not_due_on_the_new_year_holiday() -> None:
    """On Jan 1 (a holiday) Q1 is not yet due; the latest due is 2025Q4, already done."""
    decision = calendar_decision(SESSIONS, date(2026, 1, 1), QUARTER, "2025Q4")
    assert not decision.trade
    assert decision.rebalance_key == "2025Q4"


def test_quarter_start_2026_q2_is_april_1() -> None:
    """On 2026-04-01 the Q2 rebalance is due on time, key "2026Q2"."""
    decision = calendar_decision(SESSIONS, date(2026, 4, 1), QUARTER, "2026Q1")
    assert decision.trade
    assert decision.rebalance_key == "2026Q2"
    assert not decision.late


def test_quarter_start_already_done_the_next_day_is_no_trade() -> None:
    """On 2026-04-02 with 2026Q2 recorded as done, nothing is traded."""
    decision = calendar_decision(SESSIONS, date(2026, 4, 2), QUARTER, "2026Q2")
    assert not decision.trade
    assert decision.rebalance_key == "2026Q2"
    assert "already done" in decision.reason


def test_quarter_start_missed_is_caught_up_late() -> None:
    """Down from Apr 1 to Apr 6 (Good Friday between): Q2 is traded on the 6th, flagged late."""
    decision = calendar_decision(SESSIONS, date(2026, 4, 6), QUARTER, "2026Q1")
    assert decision.trade
    assert decision.late
    assert decision.rebalance_key == "2026Q2"
    assert "missed" in decision.reason
    assert "catching up" in decision.reason


def test_quarter_start_first_run_mid_quarter_is_an_initial_rebalance() -> None:
    """With nothing recorded, a mid-quarter first run trades the latest due key as "initial"."""
    decision = calendar_decision(SESSIONS, date(2026, 5, 12), QUARTER, None)
    assert decision.trade
    assert decision.rebalance_key == "2026Q2"
    assert "initial" in decision.reason


def test_quarter_start_every_day_of_2026_against_independent_first_sessions() -> None:
    """For every calendar day of 2026, with the previous quarter done, trade iff on/after its start.

    The quarter start is computed here as min(session in the quarter's first month).
    """
    for day in all_days(date(2026, 1, 1), date(2026, 12, 31)):
        quarter = (day.month - 1) // 3 + 1
        start = min(sessions_of(day.year, 3 * quarter - 2))
        previous = f"{day.year}Q{quarter - 1}" if quarter > 1 else f"{day.year - 1}Q4"
        decision = calendar_decision(SESSIONS, day, QUARTER, previous)
        assert decision.trade == (day >= start), day
        assert decision.late == (day > start), day
        if day >= start:
            assert decision.rebalance_key == f"{day.year}Q{quarter}"


def test_last_trading_day_prev_quarter_anchor() -> None:
    """With that anchor, 2026-03-31 carries key "2026Q2", and 2025-12-31 rolls over to "2026Q1"."""
    assert date(2026, 3, 31) in SESSIONS  # Tuesday
    schedule = scheduled_rebalances(SESSIONS, QUARTER_PREV)
    assert (date(2026, 3, 31), "2026Q2") in schedule
    assert (date(2025, 12, 31), "2026Q1") in schedule
    assert schedule == [
        (date(2025, 12, 31), "2026Q1"),
        (date(2026, 3, 31), "2026Q2"),
        (date(2026, 6, 30), "2026Q3"),
        (date(2026, 9, 30), "2026Q4"),
        (date(2026, 12, 31), "2027Q1"),
    ]
    decision = calendar_decision(SESSIONS, date(2026, 3, 31), QUARTER_PREV, "2026Q1")
    assert decision.trade
    assert decision.rebalance_key == "2026Q2"


# --------------------------------------------------------------------------- month end


@pytest.mark.parametrize(
    ("year", "month", "last_session"),
    [
        (2026, 1, date(2026, 1, 30)),  # Jan 31 is a Saturday
        (2026, 2, date(2026, 2, 27)),  # Feb 28 is a Saturday
        (2026, 5, date(2026, 5, 29)),  # May 30-31 is a weekend
        (2026, 10, date(2026, 10, 30)),  # Oct 31 is a Saturday
    ],
)
def test_month_end_when_the_last_calendar_day_is_a_weekend(
    year: int, month: int, last_session: date
) -> None:
    """Month end on a weekend: the Friday before is the rebalance, the session before it is not."""
    last_calendar = date(year, month + 1, 1) - timedelta(days=1)
    assert last_calendar.weekday() in (SAT, SUN)  # independent weekday check
    assert last_session.weekday() == 4  # the Friday before
    assert max(sessions_of(year, month)) == last_session  # independent calendar check
    key = f"{year}-{month:02d}"
    previous_key = f"{year}-{month - 1:02d}" if month > 1 else f"{year - 1}-12"
    assert (last_session, key) in scheduled_rebalances(SESSIONS, MONTH_END)

    on_day = calendar_decision(SESSIONS, last_session, MONTH_END, previous_key)
    assert on_day.trade
    assert on_day.rebalance_key == key
    assert not on_day.late

    prior_session = max(d for d in SESSIONS if d < last_session)
    prior = calendar_decision(SESSIONS, prior_session, MONTH_END, previous_key)
    assert not prior.trade
    assert prior.rebalance_key == previous_key

    weekend = calendar_decision(SESSIONS, last_calendar, MONTH_END, previous_key)
    assert weekend.trade  # the bot was down on the Friday: catch up, late
    assert weekend.late
    assert weekend.rebalance_key == key


def test_month_end_every_day_of_2026_against_independent_last_sessions() -> None:
    """For every day of 2026, with last month done: trade iff on/after the month's last session."""
    for day in all_days(date(2026, 1, 1), date(2026, 12, 31)):
        last = max(sessions_of(day.year, day.month))
        previous = f"{day.year}-{day.month - 1:02d}" if day.month > 1 else f"{day.year - 1}-12"
        decision = calendar_decision(SESSIONS, day, MONTH_END, previous)
        assert decision.trade == (day >= last), day
        assert decision.late == (day > last), day


def test_month_end_schedule_is_the_last_session_of_every_month() -> None:
    """MONTH_END lists exactly one date per month: its last session, keyed YYYY-MM."""
    months = sorted({(d.year, d.month) for d in SESSIONS})
    expected = [(max(sessions_of(y, m)), f"{y}-{m:02d}") for y, m in months]
    assert scheduled_rebalances(SESSIONS, MONTH_END) == expected
    assert len(expected) == MONTHS


# --------------------------------------------------------------------------- twice monthly


def test_calendar_facts_for_february_2026() -> None:
    """Feb 15 2026 is a Sunday and Feb 16 is Presidents Day: no sessions on the 14th-16th."""
    assert date(2026, 2, 15).weekday() == SUN
    assert date(2026, 2, 16).weekday() == 0  # third Monday of February
    for day in (date(2026, 2, 14), date(2026, 2, 15), date(2026, 2, 16)):
        assert day not in SESSIONS
    assert date(2026, 2, 13) in SESSIONS
    assert date(2026, 2, 17) in SESSIONS


def test_twice_monthly_mid_month_on_a_weekend_is_the_friday_before() -> None:
    """Feb 2026 mid-month (15th, Sunday) is Fri Feb 13 on_or_before; month end is Fri Feb 27."""
    feb = [r for r in scheduled_rebalances(SESSIONS, TWICE) if r[0].month == 2]
    assert feb == [(date(2026, 2, 13), "2026-02M"), (date(2026, 2, 27), "2026-02E")]


def test_twice_monthly_on_or_after_picks_the_next_session() -> None:
    """on_or_after skips the Sunday and the Presidents Day holiday: Tue Feb 17."""
    feb = [r for r in scheduled_rebalances(SESSIONS, TWICE_AFTER) if r[0].month == 2]
    assert feb == [(date(2026, 2, 17), "2026-02M"), (date(2026, 2, 27), "2026-02E")]


def test_twice_monthly_march_2026_sunday_fifteenth() -> None:
    """Mar 15 2026 is a Sunday: mid-month is Fri Mar 13 (before) or Mon Mar 16 (after)."""
    assert date(2026, 3, 15).weekday() == SUN
    before = [r for r in scheduled_rebalances(SESSIONS, TWICE) if r[0].month == 3]
    after = [r for r in scheduled_rebalances(SESSIONS, TWICE_AFTER) if r[0].month == 3]
    assert before[0] == (date(2026, 3, 13), "2026-03M")
    assert after[0] == (date(2026, 3, 16), "2026-03M")


def test_twice_monthly_keys_end_in_m_and_e_alternating() -> None:
    """Twice-monthly lists two rebalances a month, mid ("M") then end ("E"), in date order."""
    schedule = scheduled_rebalances(SESSIONS, TWICE)
    assert len(schedule) == 2 * MONTHS
    assert [k[-1] for _, k in schedule] == ["M", "E"] * MONTHS
    assert [d for d, _ in schedule] == sorted(d for d, _ in schedule)
    for day, key in schedule:
        assert key[:-1] == f"{day:%Y-%m}"
        if key.endswith("M"):  # on_or_before 15: the last session on or before the 15th
            assert day == max(d for d in sessions_of(day.year, day.month) if d.day <= 15)


def test_twice_monthly_decisions_around_the_holiday() -> None:
    """Feb 13 trades 2026-02M; on the holiday Feb 16 with that done, nothing is traded."""
    on_day = calendar_decision(SESSIONS, date(2026, 2, 13), TWICE, "2026-01E")
    assert on_day.trade
    assert on_day.rebalance_key == "2026-02M"
    assert not on_day.late
    holiday = calendar_decision(SESSIONS, date(2026, 2, 16), TWICE, "2026-02M")
    assert not holiday.trade
    assert holiday.rebalance_key == "2026-02M"


# --------------------------------------------------------------------------- calendar guard


@pytest.mark.parametrize(
    "today", [date(2026, 6, 30), date(2026, 7, 1)], ids=["today-is-last", "today-after-last"]
)
def test_calendar_decision_requires_sessions_past_today(today: date) -> None:
    """Without a session after today the month end is unknowable: ValueError, not a guess."""
    sessions = xnys_sessions(date(2026, 1, 1), date(2026, 6, 30))
    with pytest.raises(ValueError, match="must extend past"):
        calendar_decision(sessions, today, MONTH_END, "2026-05")


def test_calendar_decision_rejects_empty_sessions() -> None:
    """An empty calendar is refused too."""
    with pytest.raises(ValueError, match="must extend past"):
        calendar_decision([], date(2026, 6, 1), MONTH_END, None)


# --------------------------------------------------------------------------- drift


def test_drift_of_exactly_the_width_is_not_a_trade() -> None:
    """0.56 vs 0.55 is a drift of exactly 1 pp: inside a strict 1 pp corridor, no trade."""
    symbol, drift = max_drift(
        {"UPRO": D("0.56"), "TMF": D("0.44")}, {"UPRO": D("0.55"), "TMF": D("0.45")}
    )
    assert drift == D("0.01")  # |0.56-0.55| = |0.44-0.45| = 0.01 (tie: larger symbol, UPRO)
    assert symbol == "UPRO"
    decision = drift_decision(symbol, drift, D("0.01"), date(2026, 5, 12))
    assert not decision.trade
    assert decision.rebalance_key == "20260512"


def test_drift_just_beyond_the_width_is_a_trade() -> None:
    """0.5600001 vs 0.55 drifts 1.00001 pp > 1 pp: trade."""
    symbol, drift = max_drift({"UPRO": D("0.5600001")}, {"UPRO": D("0.55")})
    assert (symbol, drift) == ("UPRO", D("0.0100001"))
    decision = drift_decision(symbol, drift, D("0.01"), date(2026, 5, 12))
    assert decision.trade
    assert "UPRO" in decision.reason


def test_drift_inclusive_trades_at_exactly_the_width() -> None:
    """With inclusive=True a drift of exactly 1 pp is a trade."""
    decision = drift_decision("UPRO", D("0.01"), D("0.01"), date(2026, 5, 12), inclusive=True)
    assert decision.trade


def test_drift_exactly_at_width_via_current_weights_is_not_a_trade() -> None:
    """From holdings: 56 x $100 in a $10,000 sleeve is 0.56 exactly; vs 0.55 it is no trade."""
    weights = current_weights(
        {"UPRO": D(56), "TMF": D(44)}, {"UPRO": D(100), "TMF": D(100)}, D(10_000)
    )
    assert weights == {"UPRO": D("0.56"), "TMF": D("0.44")}
    symbol, drift = max_drift(weights, {"UPRO": D("0.55"), "TMF": D("0.45")})
    assert drift == D("0.01")
    assert not drift_decision(symbol, drift, D("0.01"), date(2026, 5, 12)).trade


def test_unheld_target_symbol_counts_as_zero_weight() -> None:
    """A target symbol with no position (absent or zero) drifts by its full target weight."""
    # UPRO 55 x $100 / $10,000 = 0.55 (on target); TMF not held -> 0 vs 0.45 -> drift 0.45.
    for positions in ({"UPRO": D(55)}, {"UPRO": D(55), "TMF": D(0)}):
        weights = current_weights(positions, {"UPRO": D(100), "TMF": D(35)}, D(10_000))
        assert "TMF" not in weights
        assert max_drift(weights, {"UPRO": D("0.55"), "TMF": D("0.45")}) == ("TMF", D("0.45"))


def test_current_weights_with_decimal_inputs() -> None:
    """Weights are signed Decimal value/equity: 12.5·$80/$5000 = 0.2, −40·$25/$5000 = −0.2."""
    weights = current_weights(
        {"UPRO": D("12.5"), "SQQQ": D(-40), "TMF": D(0)},
        {"UPRO": D("80.00"), "SQQQ": D("25.00"), "TMF": D("35.00")},
        D(5000),
    )
    assert weights == {"UPRO": D("0.2"), "SQQQ": D("-0.2")}
    assert all(isinstance(w, Decimal) for w in weights.values())


def test_max_drift_picks_largest_absolute_drift_including_shorts() -> None:
    """A short 15 pp deeper than its target beats a long 5 pp under: (SQQQ, 0.15)."""
    # SQQQ: |-0.35 - (-0.20)| = 0.15; UPRO: |0.50 - 0.55| = 0.05.
    current = {"SQQQ": D("-0.35"), "UPRO": D("0.50")}
    target = {"SQQQ": D("-0.20"), "UPRO": D("0.55")}
    assert max_drift(current, target) == ("SQQQ", D("0.15"))
    # A short 15 pp shallower than target drifts as much: |-0.05 - (-0.20)| = 0.15.
    assert max_drift({"SQQQ": D("-0.05")}, {"SQQQ": D("-0.20")}) == ("SQQQ", D("0.15"))
    # A short held but no longer targeted drifts by its whole weight: |-0.30 - 0| = 0.30.
    assert max_drift({"SQQQ": D("-0.30"), "UPRO": D("0.6")}, {"UPRO": D("0.55")}) == (
        "SQQQ",
        D("0.30"),
    )


def test_max_drift_of_nothing_is_zero() -> None:
    """No current and no target weights: no symbol, zero drift."""
    assert max_drift({}, {}) == ("", D(0))


WEIGHT = st.integers(-20_000, 20_000).map(lambda n: D(n) / 10_000)


@settings(max_examples=200, deadline=None)
@given(
    current=st.dictionaries(st.sampled_from("ABCDE"), WEIGHT, max_size=5),
    target=st.dictionaries(st.sampled_from("ABCDE"), WEIGHT, max_size=5),
)
def test_property_max_drift_matches_exact_brute_force(
    current: dict[str, Decimal], target: dict[str, Decimal]
) -> None:
    """max_drift equals the exact maximum of |current − target| over both key sets (0 if absent)."""
    symbols = set(current) | set(target)
    exact = {
        s: abs(Fraction(current.get(s, D(0))) - Fraction(target.get(s, D(0)))) for s in symbols
    }
    symbol, drift = max_drift(current, target)
    if not symbols:
        assert (symbol, drift) == ("", D(0))
        return
    best = max(exact.values())
    assert Fraction(drift) == best  # weights have 4 decimals, so 1e-9 rounding is exact
    assert exact[symbol] == best


_ALL_SESSIONS = xnys_sessions(date(2019, 11, 1), date(2021, 3, 31))


@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=150, max_value=len(_ALL_SESSIONS) - 40),
    st.integers(min_value=0, max_value=140),
    st.sampled_from(list(Schedule)),
    st.sampled_from(["first_trading_day", "last_trading_day_prev_quarter"]),
    st.sampled_from(["on_or_before", "on_or_after"]),
)
def test_the_decision_from_recent_months_is_the_decision_from_every_session(
    today_at: int, back: int, schedule: Schedule, anchor: str, mid_rule: str
) -> None:
    """The decision looks at the last four months first; it must decide as the schedule of the
    whole session list does (the brute force: every scheduled date, the latest on or before
    today), whatever the list's start, even when it starts mid-month."""
    rule = CalendarRule(schedule, quarter_anchor=anchor, mid_month_rule=mid_rule)
    today = _ALL_SESSIONS[today_at]
    sessions = _ALL_SESSIONS[today_at - back : today_at + 30]
    due = [(d, k) for d, k in scheduled_rebalances(sessions, rule) if d <= today]
    for last_done in [None, due[-1][1] if due else "none", "2019-01"]:
        decided = calendar_decision(sessions, today, rule, last_done)
        if not due:
            assert not decided.trade
            assert decided.reason == "no scheduled rebalance yet"
        else:
            assert decided.rebalance_key == due[-1][1]
            assert decided.trade == (due[-1][1] != last_done)
