"""Market-data sources: XNYS sessions, the seeded SYNTHETIC market, and the CSV directory loader."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.adapters.frame_market import FrameMarketData
from bot.market import sessions, synthetic
from bot.market.csv_source import MarketDataError, load_closes_dir
from bot.market.sessions import is_session, previous_sessions, session_close, xnys_sessions
from bot.market.synthetic import (
    ETF_SPECS,
    FACTOR_CORRELATION,
    SYNTHETIC_LABEL,
    EtfSpec,
    factor_returns,
    synthetic_closes,
    synthetic_closes_for_range,
)

REAL_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "etf_adjclose"
KNOWN = tuple(ETF_SPECS)
TRADING_DAYS = 252


# --- sessions ---------------------------------------------------------------------------------


def test_thanksgiving_is_not_a_session() -> None:
    """Thanksgiving 2026 (Nov 26) is an NYSE holiday; the days around it trade."""
    assert not is_session(date(2026, 11, 26))
    days = xnys_sessions(date(2026, 11, 25), date(2026, 11, 27))
    assert days == (date(2026, 11, 25), date(2026, 11, 27))


def test_day_after_thanksgiving_closes_early() -> None:
    """2026-11-27 is a half day: the close is 13:00 New York = 18:00 UTC, as an aware datetime."""
    close = session_close(date(2026, 11, 27))
    assert close == datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
    assert close.utcoffset() is not None
    assert close.utcoffset() == pd.Timedelta(0)


def test_first_session_of_2026() -> None:
    """New Year's Day is a holiday, so 2026 starts trading on Friday 2 January."""
    assert xnys_sessions(date(2026, 1, 1), date(2026, 1, 5))[0] == date(2026, 1, 2)


def test_close_hour_follows_daylight_saving() -> None:
    """US DST starts 2026-03-08: the 16:00 New York close moves from 21:00 to 20:00 UTC."""
    assert session_close(date(2026, 3, 6)) == datetime(2026, 3, 6, 21, 0, tzinfo=UTC)
    assert session_close(date(2026, 3, 9)) == datetime(2026, 3, 9, 20, 0, tzinfo=UTC)


def test_session_close_rejects_non_session() -> None:
    """Asking for the close of a holiday is a caller bug and must fail clearly."""
    with pytest.raises(ValueError, match="not an XNYS session"):
        session_close(date(2026, 11, 26))


def test_previous_sessions_inclusive_of_session_end() -> None:
    """When ``end`` is a session it is the last element of the window."""
    window = previous_sessions(date(2026, 1, 5), 3)
    assert window == (date(2025, 12, 31), date(2026, 1, 2), date(2026, 1, 5))


def test_previous_sessions_from_holiday_ends_before_it() -> None:
    """A holiday ``end`` yields the sessions before it, so lookbacks do not depend on holidays."""
    window = previous_sessions(date(2026, 11, 26), 2)
    assert window == (date(2026, 11, 24), date(2026, 11, 25))


@pytest.mark.parametrize(
    "call",
    [
        lambda: xnys_sessions(date(1900, 1, 1), date(2000, 1, 1)),
        lambda: xnys_sessions(date(2020, 1, 1), date(2099, 1, 1)),
        lambda: session_close(date(2099, 1, 2)),
        lambda: previous_sessions(date(1980, 1, 10), 500),
        lambda: previous_sessions(date(2026, 1, 5), 0),
        lambda: xnys_sessions(date(2026, 2, 1), date(2026, 1, 1)),
    ],
)
def test_out_of_range_requests_raise_value_error(call: object) -> None:
    """Dates outside the calendar, impossible windows and reversed ranges raise ValueError."""
    assert callable(call)
    with pytest.raises(ValueError, match=r"outside|only|count|after"):
        call()


def test_the_session_table_answers_as_exchange_calendars_does() -> None:
    """The table read once from the calendar gives the calendar's own sessions and closes, for
    every session from 1980 to 2035 (early closes and daylight saving included), and every
    range, window and datetime argument the same answer."""
    calendar = sessions._calendar()
    every = xnys_sessions(*sessions.calendar_range())
    assert every == tuple(ts.date() for ts in calendar.sessions)
    closes = [ts.to_pydatetime().astimezone(UTC) for ts in calendar.closes]
    assert [session_close(day) for day in every] == closes
    assert all(session_close(day).tzinfo is UTC for day in every[:10])
    start, end = date(2024, 11, 20), date(2025, 1, 6)
    wanted = calendar.sessions_in_range(pd.Timestamp(start), pd.Timestamp(end))
    assert xnys_sessions(start, end) == tuple(ts.date() for ts in wanted)
    assert xnys_sessions(
        datetime(2024, 11, 20, 23, 0, tzinfo=UTC), datetime(2025, 1, 6, 1, 0, tzinfo=UTC)
    ) == tuple(ts.date() for ts in wanted)
    assert xnys_sessions(date(2024, 12, 25), date(2024, 12, 25)) == ()
    assert [is_session(start + timedelta(days=k)) for k in range(60)] == [
        bool(calendar.is_session(pd.Timestamp(start + timedelta(days=k)))) for k in range(60)
    ]
    assert previous_sessions(date(2024, 12, 28), 4) == (
        date(2024, 12, 23),
        date(2024, 12, 24),
        date(2024, 12, 26),
        date(2024, 12, 27),
    )
    assert previous_sessions(date(1980, 1, 2), 1) == (date(1980, 1, 2),)


# --- synthetic --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def long_sessions() -> tuple[date, ...]:
    """2,000 consecutive XNYS sessions — a sample long enough for vol/correlation checks."""
    return previous_sessions(date(2026, 7, 14), 2000)


@pytest.fixture(scope="module")
def long_closes(long_sessions: tuple[date, ...]) -> pd.DataFrame:
    """All known ETFs plus two unknown names over the long sample."""
    return synthetic_closes((*KNOWN, "ZZZZ", "ACME"), long_sessions)


def _returns(closes: pd.DataFrame) -> pd.DataFrame:
    return closes.pct_change().iloc[1:]


def test_synthetic_is_labelled() -> None:
    """Output of this module must be recognisable as invented wherever it is shown."""
    assert "SYNTHETIC" in SYNTHETIC_LABEL
    assert (synthetic.__doc__ or "").startswith("SYNTHETIC")


def test_factor_correlation_is_positive_definite() -> None:
    """The Cholesky factorisation needs a symmetric positive-definite matrix."""
    assert np.allclose(FACTOR_CORRELATION, FACTOR_CORRELATION.T)
    assert np.linalg.eigvalsh(FACTOR_CORRELATION).min() > 0


def test_synthetic_shape_and_index(long_sessions: tuple[date, ...]) -> None:
    """Index = the sessions (tz-naive, normalized); columns = symbols as given; float closes."""
    closes = synthetic_closes(["TMF", "UPRO", "TMF"], long_sessions[:10], start_price=50.0)
    assert list(closes.columns) == ["TMF", "UPRO"]
    assert isinstance(closes.index, pd.DatetimeIndex)
    assert closes.index.tz is None
    assert (closes.index == closes.index.normalize()).all()
    assert [ts.date() for ts in closes.index] == list(long_sessions[:10])
    assert all(dtype == np.float64 for dtype in closes.dtypes)
    assert (closes.iloc[0] == 50.0).all()


def test_synthetic_is_deterministic_given_seed(long_sessions: tuple[date, ...]) -> None:
    """Same seed → identical frame; another seed → different prices."""
    first = synthetic_closes(["SPY", "TECL"], long_sessions[:300], seed=11)
    again = synthetic_closes(["SPY", "TECL"], long_sessions[:300], seed=11)
    other = synthetic_closes(["SPY", "TECL"], long_sessions[:300], seed=12)
    pd.testing.assert_frame_equal(first, again)
    assert not np.allclose(first.to_numpy(), other.to_numpy())


def test_symbol_series_independent_of_other_symbols(
    long_sessions: tuple[date, ...], long_closes: pd.DataFrame
) -> None:
    """A symbol's series does not depend on which other symbols are requested, or their order."""
    alone = synthetic_closes(["TMF"], long_sessions)
    reordered = synthetic_closes(["ZZZZ", "VXZ", "TMF", "SPY"], long_sessions)
    pd.testing.assert_series_equal(alone["TMF"], long_closes["TMF"])
    pd.testing.assert_series_equal(reordered["TMF"], long_closes["TMF"])
    pd.testing.assert_series_equal(reordered["ZZZZ"], long_closes["ZZZZ"])


def test_overlapping_windows_share_daily_returns(long_sessions: tuple[date, ...]) -> None:
    """A session's random draw depends only on (seed, date), so overlapping requests agree."""
    full = _returns(synthetic_closes(["UPRO"], long_sessions[:400]))
    tail = _returns(synthetic_closes(["UPRO"], long_sessions[100:400]))
    np.testing.assert_allclose(tail["UPRO"], full["UPRO"].loc[tail.index], rtol=0, atol=1e-12)


def test_prices_positive_and_finite(long_closes: pd.DataFrame) -> None:
    """Every synthetic close, including 2×-leveraged bitcoin and VIX futures, is finite and > 0."""
    values = long_closes.to_numpy()
    assert np.isfinite(values).all()
    assert (values > 0).all()


def test_daily_returns_clipped_so_prices_stay_positive(
    monkeypatch: pytest.MonkeyPatch, long_sessions: tuple[date, ...]
) -> None:
    """Even an absurd 100× bitcoin fund never loses more than 95% in a day."""
    specs = {"YOLO": EtfSpec({"bitcoin": 100.0}, 0.0)}
    monkeypatch.setattr(synthetic, "ETF_SPECS", specs)
    closes = synthetic_closes(["YOLO"], long_sessions[:250])["YOLO"]
    returns = closes.pct_change().iloc[1:]
    assert (closes > 0).all()
    assert returns.min() == pytest.approx(-0.95)


def test_upro_is_three_times_spy_minus_expenses(long_closes: pd.DataFrame) -> None:
    """Daily reset: UPRO = 3 × equity − ER/252, and SPY = equity − ER/252 (no clip is hit here)."""
    returns = _returns(long_closes)
    er_spy = ETF_SPECS["SPY"].expense_ratio / TRADING_DAYS
    er_upro = ETF_SPECS["UPRO"].expense_ratio / TRADING_DAYS
    expected = 3.0 * (returns["SPY"] + er_spy) - er_upro
    assert (returns["UPRO"] > -0.95).all()
    np.testing.assert_allclose(returns["UPRO"], expected, rtol=0, atol=1e-12)


def test_tecl_is_three_times_tech_factor(long_sessions: tuple[date, ...]) -> None:
    """TECL's daily return is 3 × the tech factor's return minus its daily expense."""
    sessions = long_sessions[:500]
    tech = factor_returns(sessions)["tech"].iloc[1:]
    tecl = _returns(synthetic_closes(["TECL"], sessions))["TECL"]
    expected = 3.0 * tech - ETF_SPECS["TECL"].expense_ratio / TRADING_DAYS
    np.testing.assert_allclose(tecl, expected, rtol=0, atol=1e-12)


def test_spy_volatility_is_realistic(long_closes: pd.DataFrame) -> None:
    """SPY's realised annualised volatility over 2,000 sessions lies in 14–22% (model: 18%)."""
    vol = _returns(long_closes)["SPY"].std() * math.sqrt(TRADING_DAYS)
    assert 0.14 <= vol <= 0.22


def test_cross_asset_correlations(long_closes: pd.DataFrame) -> None:
    """Treasuries hedge equities mildly; VIX futures move strongly against them."""
    returns = _returns(long_closes)
    assert returns["SPY"].corr(returns["TMF"]) < 0
    assert returns["SPY"].corr(returns["VXZ"]) < -0.5


def test_unknown_symbol_is_generic_equity_like(long_closes: pd.DataFrame) -> None:
    """Unknown names never raise; each gets its own deterministic, equity-correlated series."""
    returns = _returns(long_closes)
    assert returns["ZZZZ"].corr(returns["SPY"]) > 0.7
    assert not np.allclose(returns["ZZZZ"], returns["ACME"])
    sessions = [ts.date() for ts in long_closes.index[:50]]
    again = synthetic_closes(["ACME"], sessions)["ACME"]
    pd.testing.assert_series_equal(again, long_closes["ACME"].iloc[:50])


def test_range_includes_warmup_sessions() -> None:
    """The range variant starts ``warmup_sessions`` XNYS sessions before ``start``."""
    closes = synthetic_closes_for_range(
        ["SPY"], date(2026, 1, 1), date(2026, 1, 31), warmup_sessions=120
    )
    in_range = xnys_sessions(date(2026, 1, 1), date(2026, 1, 31))
    assert len(closes) == 120 + len(in_range)
    assert closes.index[120].date() == date(2026, 1, 2)
    assert closes.index[-1].date() == in_range[-1]
    assert closes.index[0].date() == previous_sessions(date(2025, 12, 31), 120)[0]


# --- csv --------------------------------------------------------------------------------------


def _write(directory: Path, symbol: str, text: str) -> Path:
    path = directory / f"{symbol}.csv"
    path.write_text(text)
    return path


def test_adj_close_preferred_over_close(tmp_path: Path) -> None:
    """With both columns present the total-return ``Adj Close`` is used."""
    _write(
        tmp_path,
        "SPY",
        "Date,Open,Close,Adj Close,Volume\n"
        "2024-01-02,1,470.0,460.5,10\n"
        "2024-01-03,1,471.0,461.5,10\n",
    )
    closes = load_closes_dir(tmp_path, ["SPY"])
    assert closes["SPY"].tolist() == [460.5, 461.5]


def test_close_used_without_adj_close_and_us_dates(tmp_path: Path) -> None:
    """A ``Date,Close`` file works, and M/D/YYYY dates parse like ISO ones."""
    _write(tmp_path, "VIX", "Date,Close\n1/2/2024,13.2\n01/03/2024,14.0\n")
    closes = load_closes_dir(tmp_path, ["VIX"])
    assert [ts.date() for ts in closes.index] == [date(2024, 1, 2), date(2024, 1, 3)]
    assert closes["VIX"].tolist() == [13.2, 14.0]


def test_union_of_dates_keeps_late_listing_nan(tmp_path: Path) -> None:
    """Outer join, ascending; a late-listed symbol is NaN before its first row — never 0 or filled.

    Also: a file written out of order is sorted, an empty cell is NaN, and ``^`` names work.
    """
    _write(tmp_path, "SPY", "Date,Close\n2024-01-04,3\n2024-01-02,1\n2024-01-03,2\n")
    _write(tmp_path, "BITU", "Date,Close\n2024-01-04,30\n")
    _write(tmp_path, "^IRX", "Date,Close\n2024-01-02,5.2\n2024-01-03,\n")
    closes = load_closes_dir(tmp_path, ["BITU", "SPY", "^IRX"])
    assert list(closes.columns) == ["BITU", "SPY", "^IRX"]
    assert [ts.date().day for ts in closes.index] == [2, 3, 4]
    assert isinstance(closes.index, pd.DatetimeIndex)
    assert closes.index.tz is None
    assert closes["SPY"].tolist() == [1.0, 2.0, 3.0]
    assert closes["BITU"].iloc[:2].isna().all()
    assert closes["BITU"].iloc[2] == 30.0
    assert closes["^IRX"].iloc[1:].isna().all()


def test_missing_directory_is_an_error(tmp_path: Path) -> None:
    """A wrong directory fails immediately and names the directory."""
    missing = tmp_path / "nope"
    with pytest.raises(MarketDataError, match="does not exist") as info:
        load_closes_dir(missing, ["SPY"])
    assert str(missing) in str(info.value)


def test_missing_symbol_file_names_symbol_directory_and_layout(tmp_path: Path) -> None:
    """The error names the symbol, the directory, the expected file name and what is present."""
    _write(tmp_path, "SPY", "Date,Close\n2024-01-02,1\n")
    with pytest.raises(MarketDataError) as info:
        load_closes_dir(tmp_path, ["SPY", "TECL"])
    message = str(info.value)
    assert "'TECL'" in message
    assert str(tmp_path) in message
    assert "TECL.csv" in message
    assert "<SYMBOL>.csv" in message
    assert "SPY.csv" in message
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("Date,Open,Volume\n2024-01-02,1,2\n", r"no 'Adj Close' or 'Close' column"),
        ("Day,Close\n2024-01-02,1\n", r"no 'Date' column"),
        ("Date,Close\n2024-01-02,1\n2024-13-45,2\n", r"line 3: unparsable date '2024-13-45'"),
        ("Date,Close\n2024-01-02,1\n,2\n", r"line 3: unparsable date ''"),
        ("Date,Close\n2024-01-02,1\n2024-01-03,null\n", r"line 3 \(2024-01-03\): value 'null'"),
        ("Date,Close\n2024-01-02,.\n", r"line 2 \(2024-01-02\): value '\.'"),
        ("Date,Close\n2024-01-02,1\n2024-01-03,inf\n", r"value 'inf' is not a finite number"),
        ("Date,Close\n2024-01-02,1\n2024-01-02,2\n", r"duplicate dates: 2024-01-02"),
        ("Date,Close\n", r"no data rows"),
        ("", r"cannot read CSV"),
    ],
)
def test_malformed_file_errors_name_file_and_cause(tmp_path: Path, text: str, pattern: str) -> None:
    """Each malformation fails loudly with the file path and the specific cause."""
    path = _write(tmp_path, "BAD", text)
    with pytest.raises(MarketDataError, match=pattern) as info:
        load_closes_dir(tmp_path, ["BAD"])
    assert str(path) in str(info.value)


def test_many_files_outer_join_into_one_frame(tmp_path: Path) -> None:
    """Ten files of 5,000 rows load into one 5,000 × 10 frame (speed lives in benchmarks/)."""
    days = pd.bdate_range("2000-01-03", periods=5000)
    body = "\n".join(f"{d:%Y-%m-%d},{100 + i * 0.01:.4f}" for i, d in enumerate(days))
    symbols = [f"S{i}" for i in range(10)]
    for symbol in symbols:
        _write(tmp_path, symbol, f"Date,Close\n{body}\n")
    closes = load_closes_dir(tmp_path, symbols)
    assert closes.shape == (5000, 10)
    assert closes["S9"].iloc[-1] == pytest.approx(100 + 4999 * 0.01)


def test_real_data_bitu_listing_and_last_date() -> None:
    """Shared real data: BITU (listed 2024-04) is NaN before April 2024; data ends 2026-07-14."""
    if not REAL_DATA.is_dir():
        pytest.skip(f"real market data not available at {REAL_DATA} (optional, not in the repo)")
    closes = load_closes_dir(REAL_DATA, ["TECL", "BITU", "USFR"])
    assert closes["BITU"].loc[:"2024-03-31"].isna().all()
    assert closes["BITU"].loc["2024-04-01":].notna().any()
    assert closes.index[-1] == pd.Timestamp("2026-07-14")
    assert closes.index.is_monotonic_increasing


def test_a_window_changed_by_its_reader_leaves_the_served_closes_as_they_were() -> None:
    """Windows are slices of one block the market data keeps: a strategy that edits its
    window (a restatement, say) must change its own copy only."""
    frame = pd.DataFrame(
        {"A": [1.0, 2.0, 3.0], "B": [4.0, 5.0, 6.0]}, index=pd.date_range("2026-01-05", periods=3)
    )
    market = FrameMarketData(frame)
    window = market.closes(["A", "B"], date(2026, 1, 7), 2)
    window.iloc[0, 0] = 99.0
    window["B"] *= 2
    again = market.closes(["A", "B"], date(2026, 1, 7), 2)
    assert again["A"].tolist() == [2.0, 3.0]
    assert again["B"].tolist() == [5.0, 6.0]
    assert frame["A"].tolist() == [1.0, 2.0, 3.0]
