"""Simulated leveraged-ETF history before a fund's inception (docs/DATA.md lists its inputs).

HFEA's thread backtests 55/45 UPRO/TMF from 1986, but UPRO and TMF only trade from 2009. The thread
(EfficientInvestor's spreadsheet) extends them backwards from their index with a daily model::

    r_LETF,t = X·r_index,t − ER/er_divisor − (X − 1)·(rate_{t−1} + swap_spread)·days_t/360

where ``days_t`` is the number of *calendar* days since the previous close (3 over a weekend: the
fund pays interest on its borrowed (X − 1) every night, traded or not) and ``rate_{t−1}`` is the
annual borrowing rate known at the previous close (1-month LIBOR until it ends in 2021, then the
13-week T-bill yield ^IRX as a substitute). Returns compound daily.

The result is a model, not history: every caller must say so. That is why :func:`extend_closes`
returns one :class:`Extension` per fund, with the join date and a ready-to-print note, for the CLI
to show next to any figure computed from the extended series.

Data comes from a data directory (``data_dir``: the directory that holds ``etf_adjclose/``,
``ohlcv/``, ``rates/`` and ``hfea_sim/``, laid out as docs/DATA.md describes); it is read in
place, never copied into the project.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bot.market.csv_source import MarketDataError, load_close_file

# Files under data_dir (relative paths, see docs/DATA.md).
LIBOR_FILE = Path("rates") / "USD1MTD156N.csv"  # FRED 1-month USD LIBOR, percent, '.' = no fixing
IRX_FILE = Path("etf_adjclose") / "^IRX.csv"  # 13-week T-bill yield, percent
SP500TR_FILE = Path("ohlcv") / "^SP500TR.csv"  # S&P 500 total return index, 1988-01-04 →
VFINX_FILE = (
    Path("ohlcv") / "VFINX.csv"
)  # Vanguard 500 Index fund, Adj Close = total return, 1980 →
VUSTX_FILE = Path("ohlcv") / "VUSTX.csv"  # Vanguard Long-Term Treasury fund, Adj Close, 1986-05 →
GLD_FILE = Path("etf_adjclose") / "GLD.csv"  # SPDR Gold Shares, 2004-11 →
THREAD_FILES = {"UPRO": Path("hfea_sim") / "UPROSIM.csv", "TMF": Path("hfea_sim") / "TMFSIM.csv"}

DEFAULT_ER_DIVISOR = 250.0  # the seed spreadsheet divides the annual ER by 250 (252 is also common)
FINANCING_DAY_COUNT = 360.0  # money-market convention of LIBOR (ACT/360)
# A rate older than this at the previous close is treated as unknown (NaN return), so a rate series
# that ends early is never silently carried forward for years. LIBOR's longest gap is 5 days.
MAX_RATE_AGE = pd.Timedelta(days=14)


@dataclass(frozen=True, slots=True)
class LeveragedFund:
    """How to simulate one leveraged fund from its index; the inputs of the §5 formula."""

    symbol: str  # the fund's ticker, e.g. "UPRO"
    index: str  # the total-return series it multiplies, a name :func:`load_index` knows
    leverage: float  # X: the daily multiple; X − 1 of the fund's assets are borrowed
    expense_ratio: float  # annual, decimal (0.0091 = 0.91%)


# Expense ratios: the project's agreed figures (task brief), consistent with the issuers' pages as
# captured in 2022–2025: UPRO 0.91% (proshares.com/our-etfs/leveraged-and-inverse/upro, 2022:
# "Expense Ratio 0.91%"), SPXL 0.91%, UBT 0.95%, UGL 0.95% (ProShares), TMF 1.06% (Direxion's gross
# ratio of the 2010s; the thread used 1.09%, recent listings show 0.91–0.92%). They are today's
# (or recent) fees applied to the whole simulated past; the small differences matter little next
# to the financing term.
KNOWN_FUNDS: dict[str, LeveragedFund] = {
    fund.symbol: fund
    for fund in (
        LeveragedFund("UPRO", "^SP500TR", 3.0, 0.0091),
        LeveragedFund("SPXL", "^SP500TR", 3.0, 0.0091),
        LeveragedFund("TMF", "VUSTX", 3.0, 0.0106),
        LeveragedFund("UBT", "VUSTX", 2.0, 0.0095),
        LeveragedFund("UGL", "GLD", 2.0, 0.0095),
    )
}


@dataclass(frozen=True, slots=True)
class Extension:
    """One fund whose history was extended by simulation: what to tell the user, and where."""

    symbol: str
    first_real_date: pd.Timestamp  # the fund's first real close; real data from here on
    first_simulated_date: pd.Timestamp  # the earliest simulated close
    note: str  # e.g. "UPRO before 2009-06-25 is SIMULATED (from 1986-01-02): 3× ^SP500TR ..."


# ---------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------


def _check_dates(series: pd.Series[float], what: str) -> None:
    if not isinstance(series.index, pd.DatetimeIndex):
        msg = (
            f"{what} must be indexed by dates (a DatetimeIndex), got {type(series.index).__name__}"
        )
        raise TypeError(msg)
    if series.index.has_duplicates:
        duplicated = series.index[series.index.duplicated()]
        msg = f"{what} has duplicate dates: {', '.join(str(d.date()) for d in duplicated[:5])}"
        raise ValueError(msg)


def _rate_known_at(rate: pd.Series[float], dates: pd.DatetimeIndex) -> np.ndarray:
    """The last rate observed on or before each date (NaN when none within MAX_RATE_AGE)."""
    known = rate.dropna().sort_index()
    out = np.full(len(dates), np.nan)
    if known.empty or len(dates) == 0:
        return out
    positions = known.index.searchsorted(dates, side="right") - 1
    found = positions >= 0
    safe = np.where(found, positions, 0)
    known_dates = pd.DatetimeIndex(known.index)
    age = pd.TimedeltaIndex(dates - known_dates[safe])
    fresh = found & np.asarray(age <= MAX_RATE_AGE)
    out[fresh] = known.to_numpy(dtype=np.float64)[safe[fresh]]
    return out


def simulate_returns(
    index_closes: pd.Series[float],
    rate: pd.Series[float],
    fund: LeveragedFund,
    *,
    er_divisor: float = DEFAULT_ER_DIVISOR,
    swap_spread: float = 0.0,
) -> pd.Series[float]:
    """Daily simulated returns of ``fund`` on the dates of ``index_closes`` (§5 formula).

    ``index_closes``: the index's total-return closes (NaN rows are ignored). ``rate``: the annual
    borrowing rate as a decimal (0.05 = 5%), on any dates; the rate used for day t is the last one
    known at the previous close (at most ``MAX_RATE_AGE`` old). ``swap_spread`` (decimal) is added
    to it. The result has the same dates as the (non-NaN) index closes, like ``pct_change``: the
    first date has no return (NaN), and so has any day whose previous-close rate is unknown.
    """
    _check_dates(index_closes, "index_closes")
    _check_dates(rate, "rate")
    if not (math.isfinite(er_divisor) and er_divisor > 0):
        msg = f"er_divisor must be a positive number, got {er_divisor!r}"
        raise ValueError(msg)
    if not math.isfinite(swap_spread):
        msg = f"swap_spread must be a finite number, got {swap_spread!r}"
        raise ValueError(msg)
    closes = index_closes.dropna().astype(np.float64).sort_index()
    values = closes.to_numpy()
    if not np.all(np.isfinite(values) & (values > 0)):
        bad = closes.index[~(np.isfinite(values) & (values > 0))][0]
        msg = f"index_closes must be positive and finite; {bad.date()} holds {closes[bad]!r}"
        raise ValueError(msg)

    dates = pd.DatetimeIndex(closes.index)
    out = np.full(len(values), np.nan)
    if len(values) >= 2:
        index_return = values[1:] / values[:-1] - 1.0
        previous_rate = _rate_known_at(rate, dates[:-1])
        calendar_days = np.asarray((dates[1:] - dates[:-1]).days, dtype=np.float64)
        financing = (
            (fund.leverage - 1.0)
            * (previous_rate + swap_spread)
            * calendar_days
            / FINANCING_DAY_COUNT
        )
        out[1:] = fund.leverage * index_return - fund.expense_ratio / er_divisor - financing
    return pd.Series(out, index=dates, name=fund.symbol, dtype=np.float64)


def splice(
    real: pd.Series[float], simulated_returns: pd.Series[float]
) -> tuple[pd.Series[float], pd.Timestamp]:
    """Real closes from the fund's first real close on, simulated closes before it.

    The simulated closes are computed backwards from the first real close, which stays unchanged:
    ``close[t−1] = close[t] / (1 + r[t])``. So the series is continuous at the join and its daily
    returns before the join are exactly ``simulated_returns``. Each return is read as "previous
    date → this date" on ``simulated_returns``' own dates, so it must hold the first real date.
    Leading NaN returns are where the simulation cannot start (the first date, an unknown rate):
    the simulated history begins at the last of them. A NaN return after a valid one is a gap in
    the chain and an error, not a silent truncation.

    Returns ``(series, first_real_date)``; ``real`` NaNs after the first real close are kept.
    """
    _check_dates(real, "real closes")
    _check_dates(simulated_returns, "simulated returns")
    valid_real = real.dropna()
    if valid_real.empty:
        msg = f"no real closes for {real.name!r}: nothing to splice the simulation onto"
        raise ValueError(msg)
    real = real.sort_index()
    first_real = pd.Timestamp(valid_real.index.min())
    if not np.isfinite(valid_real[first_real]) or valid_real[first_real] <= 0:
        msg = f"first real close of {real.name!r} on {first_real.date()} is not a positive price"
        raise ValueError(msg)
    returns = simulated_returns.sort_index()
    if first_real not in returns.index:
        span = (
            f"{returns.index[0].date()} → {returns.index[-1].date()}" if len(returns) else "empty"
        )
        msg = (
            f"cannot join {real.name!r}: its first real close {first_real.date()} is not a date of "
            f"the simulated returns ({span})"
        )
        raise ValueError(msg)
    chain = returns.loc[:first_real].to_numpy(dtype=np.float64)
    dates = returns.loc[:first_real].index
    missing = np.flatnonzero(np.isnan(chain))
    start = 0
    if len(missing):
        leading = int(np.argmax(~np.isnan(chain))) if np.any(~np.isnan(chain)) else len(chain)
        # leading NaNs: positions 0..leading-1; the history starts at the last of them
        start = max(leading - 1, 0)
        gaps = missing[missing >= leading]
        if len(gaps):
            msg = (
                f"simulated returns for {real.name!r} have a gap on {dates[gaps[0]].date()} "
                "(NaN between valid returns, e.g. an unknown financing rate): cannot chain closes "
                "across it"
            )
            raise ValueError(msg)
    growth = 1.0 + chain[start + 1 :]  # growth into dates[start+1 .. join]
    if np.any(growth <= 0):
        bad = dates[start + 1 + int(np.flatnonzero(growth <= 0)[0])]
        msg = f"simulated {real.name!r} loses 100% or more on {bad.date()}: cannot back-compute"
        raise ValueError(msg)
    # close[k] = close[join] / prod(growth[k+1 .. join]) for k = start .. join−1
    to_join = np.cumprod(growth[::-1])[::-1]
    simulated = pd.Series(
        float(valid_real[first_real]) / to_join, index=dates[start:-1], dtype=np.float64
    )
    spliced = pd.concat([simulated, real.loc[first_real:].astype(np.float64)])
    spliced.name = real.name
    return spliced, first_real


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


def _require(data_dir: Path, relative: Path, purpose: str) -> Path:
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        msg = f"data directory does not exist: {data_dir} (needed for {purpose}; see docs/DATA.md)"
        raise MarketDataError(msg)
    path = data_dir / relative
    if not path.is_file():
        msg = f"missing data file {path} (needed for {purpose})"
        raise MarketDataError(msg)
    return path


def _load_libor(path: Path) -> pd.Series[float]:
    """FRED's daily 1-month LIBOR as a decimal; '.' (no fixing that day) forward-filled."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        msg = f"{path}: cannot read CSV: {exc}"
        raise MarketDataError(msg) from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    if len(frame.columns) < 2 or frame.empty:
        msg = f"{path}: expected columns DATE,<series> with data rows, got {list(frame.columns)}"
        raise MarketDataError(msg)
    dates = pd.to_datetime(frame.iloc[:, 0].str.strip(), format="%Y-%m-%d", errors="coerce")
    text = frame.iloc[:, 1].str.strip()
    values = pd.to_numeric(text, errors="coerce")
    bad = np.flatnonzero(dates.isna().to_numpy() | (values.isna() & ~text.isin([".", ""])))
    if len(bad):
        row = int(bad[0])
        msg = f"{path}: line {row + 2}: cannot read {frame.iloc[row, 0]!r},{text.iloc[row]!r}"
        raise MarketDataError(msg)
    series = pd.Series(values.to_numpy(dtype=np.float64) / 100.0, index=pd.DatetimeIndex(dates))
    series = series.sort_index()
    last = series.last_valid_index()
    if last is None:
        msg = f"{path}: no rate values"
        raise MarketDataError(msg)
    return series.loc[:last].ffill()


def _financing_rate(data_dir: Path) -> tuple[pd.Series[float], pd.Timestamp]:
    """(rate, last LIBOR date): the rate series and where LIBOR hands over to ^IRX."""
    libor = _load_libor(_require(data_dir, LIBOR_FILE, "the 1-month LIBOR financing rate"))
    irx = load_close_file(_require(data_dir, IRX_FILE, "the financing rate after LIBOR ends"))
    libor_end = pd.Timestamp(libor.index[-1])
    after = irx.loc[irx.index > libor_end] / 100.0
    rate = pd.concat([libor, after]).astype(np.float64)
    rate.index = pd.DatetimeIndex(rate.index).normalize().as_unit("ns")
    rate.index.name = "date"
    rate.name = "rate"
    return rate, libor_end


def load_financing_rate(data_dir: Path) -> pd.Series[float]:
    """The annual borrowing rate (decimal), daily: 1-month LIBOR until it ends, then ^IRX/100.

    LIBOR (FRED USD1MTD156N) is what the thread used; it stops in 2021-09, and the 13-week T-bill
    yield (^IRX, quoted in percent) carries on after it. Raises ``ValueError`` naming a missing
    file.
    """
    return _financing_rate(data_dir)[0]


def _chain_link(
    main: pd.Series[float], earlier: pd.Series[float], main_path: Path, earlier_path: Path
) -> pd.Series[float]:
    """``main``, preceded by ``earlier``'s returns scaled to meet ``main`` at its first date."""
    first = main.index[0]
    if first not in earlier.index:
        msg = f"{earlier_path} has no close on {first.date()}, the first date of {main_path}"
        raise MarketDataError(msg)
    before = earlier.loc[:first] * (main[first] / earlier[first])
    linked: pd.Series[float] = pd.concat([before.iloc[:-1], main])
    return linked


def _load_index_described(data_dir: Path, name: str) -> tuple[pd.Series[float], str]:
    """The index closes and how they were made (for the user-facing note)."""
    if name == "^SP500TR":
        sp_path = _require(data_dir, SP500TR_FILE, "the S&P 500 total return index")
        vf_path = _require(data_dir, VFINX_FILE, "the S&P 500 total return before 1988")
        sp500tr, vfinx = load_close_file(sp_path), load_close_file(vf_path)
        series = _chain_link(sp500tr, vfinx, sp_path, vf_path)
        described = f"^SP500TR (VFINX Adj Close returns before {sp500tr.index[0].date()})"
    elif name == "VUSTX":
        series = load_close_file(_require(data_dir, VUSTX_FILE, "the long-Treasury proxy"))
        described = "VUSTX (Vanguard long-term Treasury fund, Adj Close)"
    elif name == "GLD":
        series = load_close_file(_require(data_dir, GLD_FILE, "the gold proxy"))
        described = "GLD"
    else:
        msg = f"unknown index {name!r}: known indexes are ^SP500TR, VUSTX, GLD"
        raise ValueError(msg)
    series = series.astype(np.float64)
    series.index = pd.DatetimeIndex(series.index).normalize().as_unit("ns")
    series.index.name = "date"
    series.name = name
    return series, described


def load_index(data_dir: Path, name: str) -> pd.Series[float]:
    """Total-return closes of the index a fund multiplies, as long as the data directory allows.

    ``^SP500TR`` starts in 1988, so it is chain-linked to the returns of VFINX (an S&P 500 index
    fund; its Adj Close is a total return net of its ~0.2% fee) before that, to reach the thread's
    1986 start. ``VUSTX`` stands in for the ICE 20+ Year Treasury index TMF and UBT track (it has
    no pre-2009 daily series here). ``GLD`` is read from ``etf_adjclose``.
    """
    return _load_index_described(data_dir, name)[0]


def load_thread_returns(data_dir: Path, symbol: str) -> pd.Series[float]:
    """The HFEA thread's own simulated daily returns (decimal) for ``"UPRO"`` or ``"TMF"``.

    For comparison only. The files (hfea_sim/UPROSIM.csv, TMFSIM.csv) have ``M/D/YY`` dates, percent
    strings rounded to 0.1% (``3.7%``), a BOM, CRLF line ends and a trailing empty column.
    """
    if symbol not in THREAD_FILES:
        msg = f"no thread simulation for {symbol!r}: available for {', '.join(THREAD_FILES)}"
        raise ValueError(msg)
    path = _require(data_dir, THREAD_FILES[symbol], f"the thread's simulated {symbol}")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    frame.columns = [str(c).strip() for c in frame.columns]
    if "Date" not in frame.columns or symbol not in frame.columns:
        msg = f"{path}: expected columns Date,{symbol}, got {list(frame.columns)}"
        raise MarketDataError(msg)
    dates = pd.to_datetime(frame["Date"].str.strip(), format="%m/%d/%y", errors="coerce")
    text = frame[symbol].str.strip().str.rstrip("%")
    values = pd.to_numeric(text, errors="coerce") / 100.0
    bad = np.flatnonzero(dates.isna().to_numpy() | values.isna().to_numpy())
    if len(bad):
        row = int(bad[0])
        msg = f"{path}: line {row + 2}: cannot read {frame['Date'].iloc[row]!r},{text.iloc[row]!r}"
        raise MarketDataError(msg)
    return pd.Series(
        values.to_numpy(dtype=np.float64), index=pd.DatetimeIndex(dates, name="date"), name=symbol
    ).sort_index()


# ---------------------------------------------------------------------------------------------
# Extending a closes table
# ---------------------------------------------------------------------------------------------


def _percent(value: float) -> str:
    return f"{value * 100:.2f}".rstrip("0").rstrip(".") + "%"


def _note(
    fund: LeveragedFund,
    *,
    index_described: str,
    simulated: pd.DatetimeIndex,
    first_real: pd.Timestamp,
    libor_end: pd.Timestamp,
    er_divisor: float,
    swap_spread: float,
) -> str:
    """The user-facing label; the rates used are those known at the simulated closes."""
    first_simulated, last_simulated = simulated[0], simulated[-1]
    rate = (
        "1M LIBOR"
        if last_simulated <= libor_end
        else f"(1M LIBOR to {libor_end.date()}, then ^IRX)"
    )
    if swap_spread:
        rate = f"({rate} + {_percent(swap_spread)})"
    return (
        f"{fund.symbol} before {first_real.date()} is SIMULATED (from {first_simulated.date()}): "
        f"{fund.leverage:g}× {index_described} − {_percent(fund.expense_ratio)}/{er_divisor:g}"
        f" − {fund.leverage - 1:g}×{rate}·d/360"
    )


def extend_closes(
    closes: pd.DataFrame,
    data_dir: Path,
    symbols: Iterable[str],
    *,
    er_divisor: float = DEFAULT_ER_DIVISOR,
    swap_spread: float = 0.0,
) -> tuple[pd.DataFrame, list[Extension]]:
    """``closes`` with each listed fund's history extended back by simulation, and what was done.

    For each symbol (it must be in ``KNOWN_FUNDS`` and have real closes in ``closes``), its column
    becomes :func:`splice` of its real closes and :func:`simulate_returns` from its index and the
    financing rate. The result's dates are the union of ``closes``' dates and the simulated dates;
    other columns stay NaN where they had no data (never zero-filled, so a strategy still sees that
    a fund did not exist). The returned :class:`Extension` notes must be shown wherever the result
    is used: the early part is a model, not market history.
    """
    wanted = list(dict.fromkeys(symbols))
    unknown = [s for s in wanted if s not in KNOWN_FUNDS]
    if unknown:
        msg = (
            f"cannot simulate {', '.join(repr(s) for s in unknown)}: not a known leveraged fund "
            f"(known: {', '.join(sorted(KNOWN_FUNDS))})"
        )
        raise ValueError(msg)
    absent = [s for s in wanted if s not in closes.columns or closes[s].notna().sum() == 0]
    if absent:
        msg = (
            f"no real closes for {', '.join(repr(s) for s in absent)} in the closes table: the "
            "simulation is joined onto the fund's first real close"
        )
        raise ValueError(msg)
    if not wanted:
        return closes.copy(), []

    rate, libor_end = _financing_rate(data_dir)
    indexes: dict[str, tuple[pd.Series[float], str]] = {}
    spliced: dict[str, pd.Series[float]] = {}
    extensions: list[Extension] = []
    for symbol in wanted:
        fund = KNOWN_FUNDS[symbol]
        if fund.index not in indexes:
            indexes[fund.index] = _load_index_described(data_dir, fund.index)
        index_closes, described = indexes[fund.index]
        returns = simulate_returns(
            index_closes, rate, fund, er_divisor=er_divisor, swap_spread=swap_spread
        )
        real = closes[symbol].astype(np.float64).rename(symbol)
        real.index = pd.DatetimeIndex(real.index)
        series, first_real = splice(real, returns)
        spliced[symbol] = series
        simulated_dates = pd.DatetimeIndex(series.index[series.index < first_real])
        if simulated_dates.empty:
            continue  # nothing before the first real close: no extension to report
        extensions.append(
            Extension(
                symbol=symbol,
                first_real_date=first_real,
                first_simulated_date=pd.Timestamp(simulated_dates[0]),
                note=_note(
                    fund,
                    index_described=described,
                    simulated=simulated_dates,
                    first_real=first_real,
                    libor_end=libor_end,
                    er_divisor=er_divisor,
                    swap_spread=swap_spread,
                ),
            )
        )

    union = pd.DatetimeIndex(closes.index)
    for series in spliced.values():
        union = union.union(pd.DatetimeIndex(series.index))
    union = union.sort_values()
    union.name = closes.index.name
    result = closes.reindex(union)
    for symbol, series in spliced.items():
        result[symbol] = series.reindex(union).to_numpy(dtype=np.float64)
    return result, extensions
