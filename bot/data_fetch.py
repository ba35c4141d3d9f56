"""``bot data fetch``: Alpaca's adjusted daily bars, saved as the CSV files backtests read.

One ``<SYMBOL>.csv`` per symbol in ``--to`` (``Date,Adj Close``, :mod:`bot.market.csv_write`),
so that ``bot backtest --data DIR`` then runs offline. For each symbol, in this order:

1. **Plan.** No file (or one that does not read): fetch the whole range, ``--start`` (default
   2016-01-01: Alpaca's bars begin in 2016) to ``--end`` (default: the last finished day). A
   file: fetch from its last ``OVERLAP_ROWS`` rows on (the overlap), or nothing when its last
   row is already the last session up to ``--end``. An explicit ``--start`` before the file's
   first row refetches it whole (the file only ever grows forward otherwise).
2. **Download**: one request per distinct first day, every symbol of it together (alpaca-py
   follows the pages), so the run the day after the last one is a single request.
3. **Overlap.** The file's last rows and Alpaca's bars for those days must agree to rounding.
   When they do not, Alpaca has restated the history (a split, a dividend: the bars are
   adjusted for both) and the symbol is refetched whole; the line says why.
4. **Check** (:mod:`bot.market.close_checks`): gaps against the XNYS calendar, rows off it,
   closes that are no price, moves beyond 50%. A symbol with a problem is refetched whole once;
   the refetch is kept unless it has more problems, and the line names each problem it repaired
   and each one that remains. No price is ever invented: a close that is no price is written as
   an empty cell (a missing close, which backtests refuse to trade on), a gap stays a gap.
5. **Write** each changed file atomically, and print one line per symbol.

Bad input (a symbol Alpaca has no bars for, no keys, bad dates, a ``--to`` that is a file) is
one ``error:`` line and exit 2, before any file is written.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Protocol
from zoneinfo import ZoneInfo

import pandas as pd

from bot.bootstrap import alpaca_daily_bars, build_strategy, wall_clock
from bot.config import AlpacaBrokerConfig, load_config
from bot.errors import ConfigError, DataError
from bot.market.close_checks import Problem, problems
from bot.market.csv_source import MarketDataError, load_close_file
from bot.market.csv_write import write_closes
from bot.market.sessions import calendar_range, xnys_sessions
from bot.portfolio.config import is_portfolio_file, load_portfolio
from bot.ports import Clock
from bot.settings import Settings

NEW_YORK = ZoneInfo("America/New_York")
ALPACA_FIRST_DAY = date(2016, 1, 1)
OVERLAP_ROWS = 5
SIP_DELAY = timedelta(minutes=16)  # the free plan refuses SIP bars of the last 15 minutes
SYMBOL = re.compile(r"[A-Z0-9][A-Z0-9.\-]{0,19}")
DEFAULT_BENCHMARK = "SPY"  # bot backtest's default --benchmark
SHOWN = 5  # problems listed on a symbol's line; the rest are counted
REL_TOLERANCE, ABS_TOLERANCE = 1e-6, 1e-4  # "the same close, to rounding"

Closes = dict[date, float]


class DailyBars(Protocol):
    """Adjusted daily closes (the Alpaca market-data adapter's ``daily_closes``)."""

    def daily_closes(
        self, symbols: list[str], start: date, end: date, *, checked: bool = True
    ) -> pd.DataFrame:
        """One column per symbol that has bars from ``start`` to ``end``, by day."""
        ...


@dataclass(frozen=True, slots=True)
class Window:
    """The days to fetch, and the first and last XNYS sessions among them."""

    start: date
    end: date
    first_session: date
    last_session: date
    explicit_start: bool = False


@dataclass(slots=True)
class SymbolFetch:
    """One symbol through the run: its file as it was, the closes to write, what was done."""

    symbol: str
    old: Closes | None  # None: no file, or one that does not read
    closes: Closes = field(default_factory=dict)
    action: str = ""
    since: date | None = None  # the first day to download; None: nothing to download
    whole: bool = True
    repaired: tuple[Problem, ...] = ()
    problems: tuple[Problem, ...] = ()
    refetched_for_problems: bool = False

    @property
    def changed(self) -> bool:
        """Whether the file must be (re)written."""
        return self.old is None or not _identical(self.old, self.closes)


# --- the command -------------------------------------------------------------------------------


def data_fetch_command(args: argparse.Namespace) -> int:
    """``bot data fetch`` on the wall clock."""
    return run_fetch(args, wall_clock())


def run_fetch(args: argparse.Namespace, clock: Clock) -> int:
    """Check the arguments, fetch, write, and print one line per symbol."""
    directory = _directory(args.to)
    symbols, broker = wanted_symbols(args)
    window = fetch_window(args.start, args.end, clock.now())
    source = alpaca_daily_bars(Settings(), feed=args.feed, broker=broker)
    for line in fetch_into(directory, symbols, window, source):
        print(line, flush=True)
    return 0


def _directory(path: Path) -> Path:
    if path.exists() and not path.is_dir():
        msg = f"--to {path} is a file: give a directory (it is created when missing)"
        raise ConfigError(msg)
    return path


def wanted_symbols(args: argparse.Namespace) -> tuple[tuple[str, ...], AlpacaBrokerConfig | None]:
    """``--symbols`` as given, or the config's funds (every strategy's, for a portfolio file)
    and the benchmark; with the config's Alpaca section, if it has one (its timeouts)."""
    if args.symbols:
        if args.benchmark is not None:
            msg = "--benchmark goes with --config; with --symbols, list the symbol itself"
            raise ConfigError(msg)
        return _valid(args.symbols, "--symbols"), None
    names, broker = config_symbols(args.config)
    benchmark = DEFAULT_BENCHMARK if args.benchmark is None else args.benchmark
    return _valid([*names, *([benchmark] if benchmark else [])], str(args.config)), broker


def config_symbols(path: Path) -> tuple[list[str], AlpacaBrokerConfig | None]:
    """The funds a strategy file trades, or every strategy's of a portfolio file."""
    if is_portfolio_file(path):
        loaded = load_portfolio(path)
        names = [s for c in loaded.strategies for s in build_strategy(c.strategy).symbols]
        broker: object = loaded.config.broker
    else:
        config = load_config(path)
        names, broker = list(build_strategy(config.strategy).symbols), config.broker
    return names, broker if isinstance(broker, AlpacaBrokerConfig) else None


def _valid(symbols: Sequence[str], where: str) -> tuple[str, ...]:
    for symbol in symbols:
        if not SYMBOL.fullmatch(symbol):
            msg = (
                f"{where}: {symbol!r} is not an Alpaca stock symbol (capital letters, digits, "
                "'.' or '-', e.g. SPY or BRK.B)"
            )
            raise ConfigError(msg)
    return tuple(dict.fromkeys(symbols))


def fetch_window(start: date | None, end: date | None, now: datetime) -> Window:
    """The days to fetch: ``--start`` (default 2016-01-01) to ``--end`` (default: the last day
    whose bars are final, yesterday in New York); a day not yet over is refused."""
    local = now.astimezone(NEW_YORK)
    today = local.date()
    if end is not None and end >= today:
        msg = (
            f"--end {end} is not a finished day (today is {today} in New York): "
            "the last daily bar there is to fetch is yesterday's"
        )
        raise ConfigError(msg)
    last = end or (local - SIP_DELAY).date() - timedelta(days=1)
    first = start or ALPACA_FIRST_DAY
    if first > last:
        default = "" if start else " (the default: Alpaca's bars begin in 2016)"
        msg = f"--start {first}{default} is after the end {last}"
        raise ConfigError(msg)
    low, high = calendar_range()
    lower, upper = max(first, low), min(last, high)
    sessions = xnys_sessions(lower, upper) if lower <= upper else ()
    if not sessions:
        msg = f"no NYSE session from {first} to {last}: nothing to fetch"
        raise ConfigError(msg)
    return Window(first, last, sessions[0], sessions[-1], explicit_start=start is not None)


def fetch_into(
    directory: Path, symbols: Sequence[str], window: Window, source: DailyBars
) -> Iterator[str]:
    """Fetch and check every symbol, then write each changed file and give its line."""
    fetches = fetch(directory, symbols, window, source)
    directory.mkdir(parents=True, exist_ok=True)
    for item in fetches:
        if item.changed:
            write_closes(directory / f"{item.symbol}.csv", item.closes)
        yield describe(item)


# --- fetching ----------------------------------------------------------------------------------


def fetch(
    directory: Path, symbols: Sequence[str], window: Window, source: DailyBars
) -> list[SymbolFetch]:
    """Every symbol planned, downloaded, matched to its file, checked and repaired (nothing
    written yet)."""
    fetches = [_existing(directory, symbol) for symbol in symbols]
    for item in fetches:
        _plan(item, window)
    wanted = {i.symbol: i.since for i in fetches if i.since is not None}
    downloaded = _download(source, wanted, window.end)
    _refuse_unknown(fetches, downloaded, window)
    again = [i for i in fetches if not _apply(i, downloaded.get(i.symbol, {}), window)]
    _refetch_whole(source, again, window)
    _check_and_repair(source, fetches, window)
    return fetches


def _existing(directory: Path, symbol: str) -> SymbolFetch:
    path = directory / f"{symbol}.csv"
    if not path.exists():
        return SymbolFetch(symbol, None, action="fetched whole")
    if not path.is_file():
        msg = f"{path} is in the way: it is not a file"
        raise DataError(msg)
    try:
        series = load_close_file(path)
    except MarketDataError as exc:
        return SymbolFetch(symbol, None, action=f"fetched whole: the file did not read ({exc})")
    return SymbolFetch(symbol, _as_closes(series))


def _plan(item: SymbolFetch, window: Window) -> None:
    """Which days to download: all, the overlap and what follows it, or none."""
    if item.old is None:
        item.since = window.start
        return
    days = sorted(item.old)
    if window.explicit_start and days[0] > window.first_session:
        item.action = f"refetched whole: --start {window.start} is before the file's first row"
        item.since = window.start
    elif days[-1] >= window.last_session:
        item.action = "no new session to fetch"
        item.closes = dict(item.old)
    else:
        item.since, item.whole = days[-min(OVERLAP_ROWS, len(days))], False


def _download(source: DailyBars, starts: Mapping[str, date], end: date) -> dict[str, Closes]:
    """Each symbol's closes from its first day to ``end``: one request per distinct first day
    (absent: Alpaca served no bar for that symbol)."""
    groups: dict[date, list[str]] = {}
    for symbol, start in starts.items():
        groups.setdefault(start, []).append(symbol)
    found: dict[str, Closes] = {}
    for start, symbols in sorted(groups.items()):
        frame = source.daily_closes(symbols, start, end, checked=False)
        for symbol in symbols:
            if symbol in frame.columns:  # a symbol's NaNs are the other symbols' days
                found[symbol] = _as_closes(frame[symbol].dropna())
    return {s: closes for s, closes in found.items() if closes}


def _as_closes(series: pd.Series[float]) -> Closes:
    days = pd.DatetimeIndex(series.index)
    return {ts.date(): float(c) for ts, c in zip(days, series.to_numpy(), strict=True)}


def _refuse_unknown(
    fetches: Sequence[SymbolFetch], downloaded: Mapping[str, Closes], window: Window
) -> None:
    unknown = [i.symbol for i in fetches if i.old is None and i.symbol not in downloaded]
    if unknown:
        msg = (
            f"Alpaca has no daily bars for {', '.join(unknown)} from {window.start} to "
            f"{window.end}: not a symbol it knows, or not traded then (nothing was written)"
        )
        raise DataError(msg)


def _apply(item: SymbolFetch, fetched: Closes, window: Window) -> bool:
    """Take the downloaded bars; False when the overlap disagrees (refetch it whole)."""
    if item.since is None:
        return True
    if item.whole:
        item.closes = fetched or dict(item.old or {})
        if not fetched:
            item.action = _kept(window)
        return True
    assert item.old is not None  # an incremental plan has a file
    disagreement = _overlap_disagreement(item.old, fetched, item.since)
    if disagreement is not None:
        item.action = f"refetched whole: {disagreement}"
        return False
    last = max(item.old)
    item.closes = {d: c for d, c in item.old.items() if d < item.since} | fetched
    new = sum(1 for day in fetched if day > last)
    overlap = sum(1 for day in item.old if day >= item.since)
    item.action = f"+{_count(new, 'new row')}; the {overlap}-row overlap agrees"
    return True


def _kept(window: Window) -> str:
    return f"file kept as it was: Alpaca served no bars from {window.start} to {window.end}"


def _overlap_disagreement(old: Closes, fetched: Closes, since: date) -> str | None:
    """How the file's last rows and Alpaca's bars of those days differ, or None."""
    last = max(old)
    mine = {d: c for d, c in old.items() if d >= since}
    theirs = {d: c for d, c in fetched.items() if d <= last}
    for day in sorted(mine.keys() | theirs.keys()):
        if day not in theirs:
            return f"Alpaca no longer has the file's bar of {day}"
        if day not in mine:
            return f"Alpaca now has a bar on {day}, which the file lacks"
        if not _agrees(mine[day], theirs[day]):
            return (
                f"the overlap disagrees on {day}: the file has {mine[day]}, Alpaca now "
                f"{theirs[day]} (history restated: a split or a dividend?)"
            )
    return None


def _agrees(ours: float, theirs: float) -> bool:
    if math.isnan(ours) or math.isnan(theirs):
        return math.isnan(ours) and math.isnan(theirs)
    return math.isclose(ours, theirs, rel_tol=REL_TOLERANCE, abs_tol=ABS_TOLERANCE)


def _identical(a: Closes, b: Closes) -> bool:
    return a.keys() == b.keys() and all(
        a[d] == b[d] or (math.isnan(a[d]) and math.isnan(b[d])) for d in a
    )


def _refetch_whole(source: DailyBars, items: Sequence[SymbolFetch], window: Window) -> None:
    if not items:
        return
    whole = dict.fromkeys((i.symbol for i in items), window.start)
    downloaded = _download(source, whole, window.end)
    for item in items:
        fetched = downloaded.get(item.symbol)
        if fetched:
            item.closes = fetched
        else:
            item.closes = dict(item.old or {})
            item.action += f"; {_kept(window)}"


def _check_and_repair(source: DailyBars, fetches: Sequence[SymbolFetch], window: Window) -> None:
    """Check every symbol; refetch those with a problem whole, once, and keep the refetch
    unless it has more problems."""
    for item in fetches:
        item.problems = problems(item.closes, window.end)
    troubled = [i for i in fetches if i.problems]
    if not troubled:
        return
    symbols = (i.symbol for i in troubled)
    downloaded = _download(source, dict.fromkeys(symbols, window.start), window.end)
    for item in troubled:
        item.refetched_for_problems = True
        fetched = downloaded.get(item.symbol, {})
        after = problems(fetched, window.end)
        if not fetched or len(after) > len(item.problems):
            continue
        remaining = {p.key for p in after}
        item.repaired = tuple(p for p in item.problems if p.key not in remaining)
        item.closes, item.problems = fetched, after


# --- the line ----------------------------------------------------------------------------------


def describe(item: SymbolFetch) -> str:
    """``UPRO: wrote 2,690 rows 2016-01-04..2026-09-18 (fetched whole); ok``, with what was
    repaired and what remains wrong."""
    days = sorted(item.closes)
    verb = "wrote" if item.changed else "kept"
    parts = [f"{item.symbol}: {verb} {_count(len(days), 'row')} {days[0]}..{days[-1]}"]
    parts[0] += f" ({item.action})"
    if item.repaired:
        parts.append(f"repaired by a whole refetch: {_listing(item.repaired)}")
    if item.problems:
        still = " (still there after a whole refetch)" if item.refetched_for_problems else ""
        parts.append(f"{_count(len(item.problems), 'problem')}{still}: {_listing(item.problems)}")
    else:
        parts.append("ok")
    return "; ".join(parts)


def _listing(found: Sequence[Problem]) -> str:
    shown = [str(p) for p in found[:SHOWN]]
    if len(found) > SHOWN:
        shown.append(f"+{len(found) - SHOWN} more")
    return "; ".join(shown)


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}" if number == 1 else f"{number:,} {noun}s"
