"""``bot backtest``: the strategy's own cycle over history, with the seeds' statistics table."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from bot.backtest.engine import BacktestCosts, BacktestResult, run_backtest
from bot.backtest.letf_sim import extend_closes
from bot.backtest.progress import progress_bar
from bot.backtest.stats import Conventions, Stats, compute_stats, trailing, yearly_returns
from bot.bootstrap import alpaca_history, build_runtime, fee_schedule
from bot.config import BotConfig, SimulatedBrokerConfig, load_config
from bot.errors import ConfigError, DataError
from bot.logs import configure_logging
from bot.market.csv_source import MarketDataError, load_closes_dir
from bot.settings import Settings

ALPACA_FIRST_DAY = date(2016, 1, 4)  # Alpaca's daily bars begin in 2016


@dataclass(frozen=True, slots=True)
class BadClose:
    """A close at or below zero in the data: no price at all, so it is read as a missing close
    (the cycle then refuses that day, and the report says why) instead of aborting the run."""

    day: date
    symbol: str
    close: float

    def describe(self) -> str:
        return f"{self.symbol} {self.day} ({self.close:g})"


@dataclass(frozen=True, slots=True)
class Report:
    """Everything ``bot backtest`` prints."""

    strategy: str
    result: BacktestResult
    benchmark: pd.Series | None
    benchmark_symbol: str
    conventions: Conventions
    notes: tuple[str, ...] = ()  # e.g. which part of a fund's history is simulated
    bad_closes: tuple[BadClose, ...] = ()  # closes ≤ 0 in the data, read as missing

    def periods(self) -> dict[str, dict[str, Stats]]:
        """Statistics per period ('all', '5y', '3y') for the strategy and the benchmark."""
        out: dict[str, dict[str, Stats]] = {}
        for label, years in (("all", None), ("5y", 5), ("3y", 3)):
            curves = {self.strategy: self.result.equity}
            if self.benchmark is not None:
                curves[self.benchmark_symbol] = self.benchmark
            stats = {}
            for name, curve in curves.items():
                window = curve if years is None else trailing(curve, years)
                if window is not None and len(window) > 2:
                    stats[name] = compute_stats(window, self.conventions)
            if stats:
                out[label] = stats
        return out


def backtest_command(args: argparse.Namespace) -> int:
    """Run a backtest and print (or write) its report."""
    configure_logging(logging.WARNING)  # a backtest's thousands of cycles are not news
    if args.plot:
        from bot.backtest.plot import require_matplotlib  # noqa: PLC0415 - matplotlib on use

        require_matplotlib()  # before the run, not after it
    config = load_config(args.config)
    runtime = build_runtime(config)
    symbols = list(runtime.strategy.symbols)
    inputs = backtest_inputs(args, config, symbols, runtime.strategy.history_closes)
    closes, bad_closes, notes = inputs.closes, inputs.bad_closes, inputs.notes
    start = args.start or first_tradable_day(closes, symbols, runtime.strategy.history_closes)
    end = args.end or closes.index[-1].date()
    check_period(closes, start, end)
    costs = inputs.costs
    from bot.backtest.fast import run_fast_backtest  # noqa: PLC0415 - numba: only when needed

    engine = run_fast_backtest if args.engine == "fast" else run_backtest
    with progress_bar(sys.stderr) as progress:
        result = engine(runtime, closes[symbols], start, end, costs=costs, progress=progress)
    benchmark = _benchmark(closes, args.benchmark, result.equity)
    report = Report(
        config.name,
        result,
        benchmark,
        args.benchmark or "",
        Conventions(),
        tuple(notes),
        tuple(bad_closes),
    )
    if args.equity_csv:
        _write_csv(report, args.equity_csv)
    if args.plot:
        from bot.backtest.plot import plot_curves  # noqa: PLC0415 - matplotlib only when asked

        plot_curves(_curves(report), report.strategy, report.notes, args.plot)
    print(json.dumps(as_json(report), indent=2) if args.json else render(report))
    return 0


@dataclass(frozen=True, slots=True)
class BacktestInputs:
    """What a backtest runs on, apart from the strategy: the closes as the engines read them
    (closes at or below zero made missing, funds extended when asked), and the costs."""

    closes: pd.DataFrame
    costs: BacktestCosts
    notes: tuple[str, ...]  # which part of a fund's history is simulated
    bad_closes: tuple[BadClose, ...]


def backtest_inputs(
    args: argparse.Namespace, config: BotConfig, symbols: list[str], history: int
) -> BacktestInputs:
    """The closes and costs ``bot backtest`` runs on (``args``: its data, simulation and cost
    options; ``symbols``: the strategy's funds). ``bot sweep`` calls it too, so that each of
    its points is the backtest ``bot backtest`` would run."""
    wanted = [*symbols, args.benchmark] if getattr(args, "benchmark", "") else symbols
    closes = _load(args, config, wanted, history)
    closes, bad_closes = non_positive_as_missing(closes)
    closes, notes = _simulated(args, closes)
    return BacktestInputs(closes, _costs(config, args), tuple(notes), tuple(bad_closes))


def check_period(closes: pd.DataFrame, start: date, end: date) -> None:
    """Refuse a period that is empty or holds no close, before any work."""
    if start > end:
        msg = f"the backtest would start on {start}, after its end {end}"
        raise DataError(msg)
    if not ((closes.index >= pd.Timestamp(start)) & (closes.index <= pd.Timestamp(end))).any():
        msg = f"the data has no closes between {start} and {end}"
        raise DataError(msg)


def _load(
    args: argparse.Namespace, config: BotConfig, symbols: list[str], history: int
) -> pd.DataFrame:
    if str(args.data) == "alpaca":
        return _load_alpaca(args, config, symbols, history)
    try:
        return load_closes_dir(args.data, symbols)
    except MarketDataError as exc:
        raise DataError(str(exc)) from exc


def _load_alpaca(
    args: argparse.Namespace, config: BotConfig, symbols: list[str], history: int
) -> pd.DataFrame:
    """Alpaca's adjusted daily bars (keys from the environment; nothing is traded)."""
    market, clock = alpaca_history(config, Settings(), feed=args.feed)
    end = args.end or clock.now().date() - timedelta(days=1)
    first = args.start or ALPACA_FIRST_DAY
    start = first - timedelta(days=int(history * 1.6) + 10)  # the strategy's lookback
    closes = market.daily_closes(symbols, start, end)
    missing = [s for s in symbols if s not in closes.columns]
    if missing:
        msg = f"Alpaca returned no daily bars for {', '.join(missing)} between {start} and {end}"
        raise DataError(msg)
    return closes


def non_positive_as_missing(closes: pd.DataFrame) -> tuple[pd.DataFrame, list[BadClose]]:
    """Closes at or below zero made missing (NaN), and the list of them. A zero or negative
    close is a bad print, like a missing one: both engines refuse the day it stands for and
    the report names it; left in, it would abort the backtest where the broker values a
    position at it."""
    values = closes.to_numpy(dtype=float)
    rows, columns = (values <= 0).nonzero()  # NaN compares False: already missing
    if not len(rows):
        return closes, []
    found = [
        BadClose(closes.index[int(r)].date(), str(closes.columns[int(c)]), float(values[r, c]))
        for r, c in zip(rows, columns, strict=True)
    ]
    found.sort(key=lambda b: (b.day, b.symbol))
    return closes.mask(closes <= 0), found


def _simulated(args: argparse.Namespace, closes: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Extend leveraged funds before inception when asked (and say so in every output)."""
    funds = [s.strip() for s in args.simulate.split(",") if s.strip()]
    if not funds:
        return closes, []
    root = args.index_data or (None if str(args.data) == "alpaca" else args.data.parent)
    if root is None:
        msg = "--simulate with --data alpaca needs --index-data DIR (the index and rate files)"
        raise ConfigError(msg)
    try:
        extended, extensions = extend_closes(closes, root, funds)
    except ValueError as exc:
        raise DataError(str(exc)) from exc
    return extended, [e.note for e in extensions]  # each says "… is SIMULATED …"


def first_tradable_day(closes: pd.DataFrame, symbols: list[str], history: int) -> date:
    """The first day every symbol has ``history`` closes and the previous session's close (the
    cycle checks it), so late listings start the test later."""
    complete = closes[symbols].dropna()
    row = max(history - 1, 1)
    if len(complete) <= row:
        msg = f"too little common history for {', '.join(symbols)}"
        raise DataError(msg)
    first: date = complete.index[row].date()
    return first


def _costs(config: BotConfig, args: argparse.Namespace) -> BacktestCosts:
    try:
        return _costs_or_raise(config, args)
    except (ValueError, ArithmeticError) as exc:
        msg = f"bad trading costs: {exc}"
        raise ConfigError(msg) from exc


def _costs_or_raise(config: BotConfig, args: argparse.Namespace) -> BacktestCosts:
    broker = config.broker if isinstance(config.broker, SimulatedBrokerConfig) else None
    margin = Decimal(repr(broker.margin_multiplier)) if broker else Decimal(2)
    return BacktestCosts(
        initial_cash=Decimal(repr(broker.initial_cash)) if broker else Decimal(100_000),
        slippage_bps=Decimal(repr(args.slippage_bps)),
        fees=fee_schedule(args.fees),
        margin_multiplier=margin,
        borrow_rate=Decimal(repr(args.borrow_rate)) / 100,
        margin_rate=Decimal(repr(args.margin_rate)) / 100,
    )


def _benchmark(closes: pd.DataFrame, symbol: str | None, equity: pd.Series) -> pd.Series | None:
    if not symbol:
        return None
    prices = closes[symbol].reindex(equity.index)
    if prices.isna().any():
        msg = f"benchmark {symbol} has no close on some days of the backtest"
        raise DataError(msg)
    curve: pd.Series = prices / prices.iloc[0] * equity.iloc[0]
    return curve.rename(symbol)


def _write_csv(report: Report, path: Path) -> None:
    frame = pd.DataFrame({report.strategy: report.result.equity})
    if report.benchmark is not None:
        frame[report.benchmark_symbol] = report.benchmark
    frame.index.name = "Date"
    frame.to_csv(path)


def as_json(report: Report) -> dict[str, Any]:
    """The report as data."""
    result = report.result
    return {
        "strategy": report.strategy,
        "conventions": report.conventions.describe(),
        "periods": {
            label: {name: stats.as_dict() for name, stats in by_name.items()}
            for label, by_name in report.periods().items()
        },
        "yearly_returns": {
            name: {str(y): r for y, r in yearly_returns(curve).items()}
            for name, curve in _curves(report).items()
        },
        "trades": result.trades,
        "turnover": turnover(result),
        "fees": str(result.fees.quantize(Decimal("0.01"))),
        "slippage": str(result.slippage.quantize(Decimal("0.01"))),
        "financing": str(result.financing.quantize(Decimal("0.01"))),
        "notes": list(report.notes),
        "bad_closes": [
            {"date": b.day.isoformat(), "symbol": b.symbol, "close": b.close}
            for b in report.bad_closes
        ],
        "outcomes": dict(result.outcomes),
        "rebalances_scaled_to_margin": result.scaled,
        "refused_days": [{"date": d.isoformat(), "reason": r} for d, r in result.errors],
    }


def _curves(report: Report) -> dict[str, pd.Series]:
    curves = {report.strategy: report.result.equity}
    if report.benchmark is not None:
        curves[report.benchmark_symbol] = report.benchmark
    return curves


def turnover(result: BacktestResult) -> float:
    """Traded value per year over the average equity (``bot sweep`` reports it too)."""
    years = max(len(result.equity) / 252, 1 / 252)
    return float(result.traded_notional) / float(result.equity.mean()) / years


ROWS = [
    ("total return", "total_return", "{:+.2%}"),
    ("CAGR", "cagr", "{:+.2%}"),
    ("volatility", "volatility", "{:.2%}"),
    ("downside volatility", "downside_volatility", "{:.2%}"),
    ("Sharpe", "sharpe", "{:.2f}"),
    ("Sortino", "sortino", "{:.2f}"),
    ("Calmar", "calmar", "{:.2f}"),
    ("Ulcer index (%)", "ulcer_index", "{:.2f}"),
    ("max drawdown", "max_drawdown", "{:.2%}"),
    ("max drawdown (days)", "max_drawdown_days", "{:.0f}"),
    ("avg drawdown (days)", "avg_drawdown_days", "{:.0f}"),
]


def render(report: Report) -> str:
    """The text report: a table per period, yearly returns, trading costs."""
    lines = [f"backtest: {report.strategy}", *report.notes]
    if report.bad_closes:
        shown = ", ".join(b.describe() for b in report.bad_closes[:3])
        more = f" and {len(report.bad_closes) - 3} more (--json lists all)"
        lines.append(
            f"closes at or below zero, read as missing (their days are refused): {shown}"
            + (more if len(report.bad_closes) > 3 else "")
        )
    for label, by_name in report.periods().items():
        first = next(iter(by_name.values()))
        lines.append(f"\n{label}: {first.start} → {first.end}")
        names = list(by_name)
        lines.append(f"  {'':22}" + "".join(f"{n:>14}" for n in names))
        for title, attr, fmt in ROWS:
            cells = "".join(f"{fmt.format(getattr(by_name[n], attr)):>14}" for n in names)
            lines.append(f"  {title:22}{cells}")
    lines.append("\nyearly returns")
    curves = _curves(report)
    years = {name: yearly_returns(curve) for name, curve in curves.items()}
    for year in sorted(years[report.strategy]):
        cells = "".join(f"{years[n].get(year, float('nan')):>14.2%}" for n in curves)
        lines.append(f"  {year:<22}{cells}")
    result = report.result
    lines += [
        "",
        f"trades {result.trades}; turnover {turnover(result):.1f}× a year; "
        f"fees ${result.fees:,.2f}; slippage ${result.slippage:,.2f}; "
        f"borrow fees and margin interest ${result.financing:,.2f}",
        f"days refused by the cycle: {len(result.errors)}"
        + (" (the first three; --json lists all)" if len(result.errors) > 3 else "")
        + "".join(f"\n  {d}: {r}" for d, r in result.errors[:3]),
        f"rebalances scaled down to fit the margin: {result.scaled}",
        f"conventions: {report.conventions.describe()}",
    ]
    return "\n".join(lines)
