"""Daily closes from a directory of per-symbol CSV files (Yahoo-style exports).

Layout: one ``<SYMBOL>.csv`` per symbol, named exactly as the symbol is given (so index series keep
their caret, e.g. ``^IRX.csv``). Each file has a ``Date`` column and an ``Adj Close`` or ``Close``
column; ``Adj Close`` wins when both exist because the strategies need total-return prices. Dates
are ISO ``YYYY-MM-DD`` or US ``M/D/YYYY`` (decided per file from its first row).

The loader is strict on purpose: a bad price file silently read as zeros or stale values would make
the bot trade on it. Empty cells become NaN; any other cell that is not a finite number (``null``,
``.``, ``NaN``, ``inf``…) is an error naming the file and line. Missing dates are never filled:
a symbol that listed late is NaN before its first row, and the strategies detect that.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

DATE_COLUMN = "Date"
PRICE_COLUMNS = ("Adj Close", "Close")  # in order of preference
ISO_FORMAT = "%Y-%m-%d"
US_FORMAT = "%m/%d/%Y"
_LISTED_FILES_MAX = 20


class MarketDataError(ValueError):
    """Market data is missing or malformed; the message names the file and the cause."""


def _line(row: int) -> int:
    """1-based file line of data row ``row`` (line 1 is the header)."""
    return row + 2


def _expected_files_hint(directory: Path) -> str:
    """Show what *is* there, so a typo or a wrong directory is obvious from the error alone."""
    names = sorted(p.name for p in directory.glob("*.csv"))
    shown = ", ".join(names[:_LISTED_FILES_MAX]) or "none"
    more = f" (+{len(names) - _LISTED_FILES_MAX} more)" if len(names) > _LISTED_FILES_MAX else ""
    return f"expected one '<SYMBOL>.csv' per symbol; CSV files present: {shown}{more}"


def _symbol_path(directory: Path, symbol: str) -> Path:
    path = directory / f"{symbol}.csv"
    if not path.is_file():
        msg = (
            f"no data file for symbol {symbol!r} in directory {directory}: "
            f"missing {path.name}; {_expected_files_hint(directory)}"
        )
        raise MarketDataError(msg)
    return path


def _read_raw(path: Path) -> pd.DataFrame:
    """All cells as stripped strings; empty cells stay "" so the parser decides what they mean."""
    try:
        frame = pd.read_csv(
            path, dtype=str, keep_default_na=False, encoding="utf-8-sig", skipinitialspace=True
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        msg = f"{path}: cannot read CSV: {exc}"
        raise MarketDataError(msg) from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        msg = f"{path}: no data rows"
        raise MarketDataError(msg)
    return frame


def _price_column(frame: pd.DataFrame, path: Path) -> str:
    if DATE_COLUMN not in frame.columns:
        msg = f"{path}: no {DATE_COLUMN!r} column (columns: {list(frame.columns)})"
        raise MarketDataError(msg)
    for column in PRICE_COLUMNS:
        if column in frame.columns:
            return column
    msg = f"{path}: no 'Adj Close' or 'Close' column (columns: {list(frame.columns)})"
    raise MarketDataError(msg)


def _parse_dates(raw: pd.Series[str], path: Path) -> pd.DatetimeIndex:
    text = raw.str.strip()
    fmt = US_FORMAT if "/" in text.iloc[0] else ISO_FORMAT
    parsed = pd.to_datetime(text, format=fmt, errors="coerce")
    bad = np.flatnonzero(parsed.isna().to_numpy())
    if len(bad):
        row = int(bad[0])
        msg = (
            f"{path}: line {_line(row)}: unparsable date {text.iloc[row]!r} "
            f"(expected {fmt.replace('%', '')}; {len(bad)} bad date(s) in file)"
        )
        raise MarketDataError(msg)
    return pd.DatetimeIndex(parsed, name="date").as_unit("ns")


def _parse_values(raw: pd.Series[str], dates: pd.DatetimeIndex, path: Path) -> pd.Series[float]:
    text = raw.str.strip()
    values = pd.to_numeric(text, errors="coerce").astype(np.float64)
    bad = np.flatnonzero(((values.isna() & (text != "")) | np.isinf(values)).to_numpy())
    if len(bad):
        row = int(bad[0])
        msg = (
            f"{path}: line {_line(row)} ({dates[row].date().isoformat()}): "
            f"value {text.iloc[row]!r} is not a finite number ({len(bad)} bad value(s) in file)"
        )
        raise MarketDataError(msg)
    return pd.Series(values.to_numpy(), index=dates)


def _check_unique(dates: pd.DatetimeIndex, path: Path) -> None:
    duplicated = dates[dates.duplicated()]
    if len(duplicated):
        shown = ", ".join(sorted({d.date().isoformat() for d in duplicated})[:5])
        msg = f"{path}: duplicate dates: {shown}"
        raise MarketDataError(msg)


def load_close_file(path: Path) -> pd.Series[float]:
    """One file's closes (Adj Close preferred), indexed by date, ascending."""
    frame = _read_raw(path)
    column = _price_column(frame, path)
    dates = _parse_dates(frame[DATE_COLUMN], path)
    _check_unique(dates, path)
    return _parse_values(frame[column], dates, path).sort_index()


def load_closes_dir(directory: Path, symbols: Iterable[str]) -> pd.DataFrame:
    """Closes for ``symbols`` (columns, as given) on the union of their dates; NaN where absent."""
    directory = Path(directory)
    if not directory.is_dir():
        msg = f"market data directory does not exist: {directory}"
        raise MarketDataError(msg)
    wanted = list(dict.fromkeys(symbols))
    if not wanted:
        msg = "no symbols requested"
        raise MarketDataError(msg)
    series = {symbol: load_close_file(_symbol_path(directory, symbol)) for symbol in wanted}
    frame = pd.concat(series, axis=1, join="outer", sort=True)
    frame.index.name = "date"
    return frame.astype(np.float64)
