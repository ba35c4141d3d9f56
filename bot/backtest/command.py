"""``bot backtest``: the strategy's own cycle over history, with the seeds' statistics table."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from bot.adapters.sim_broker import FEE_SCHEDULES
from bot.backtest.engine import BacktestCosts, BacktestResult, run_backtest
from bot.backtest.stats import Conventions, Stats, compute_stats, trailing, yearly_returns
from bot.bootstrap import build_runtime
from bot.config import BotConfig, SimulatedBrokerConfig, load_config
from bot.errors import ConfigError, DataError
from bot.market.csv_source import MarketDataError, load_closes_dir


@dataclass(frozen=True, slots=True)
class Report:
    """Everything ``bot backtest`` prints."""

    strategy: str
    result: BacktestResult
    benchmark: pd.Series | None
    benchmark_symbol: str
    conventions: Conventions

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


def add_backtest_parser(commands: Any) -> None:
    """The ``bot backtest`` arguments (``commands`` is argparse's sub-parser action)."""
    parser = commands.add_parser("backtest", help="the strategy's own cycle over history")
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--data", type=Path, help="directory of per-symbol CSV closes")
    parser.add_argument("--start", type=date.fromisoformat)
    parser.add_argument("--end", type=date.fromisoformat)
    parser.add_argument("--benchmark", default="SPY", help="buy-and-hold symbol ('' for none)")
    parser.add_argument("--slippage-bps", type=float, default=1.0)
    parser.add_argument("--fees", choices=["current", "legacy", "none"], default="current")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--plot", type=Path, help="write a PNG (needs matplotlib)")
    parser.add_argument("--equity-csv", type=Path, help="write the daily equity curves")
    parser.set_defaults(handler=backtest_command)


def backtest_command(args: argparse.Namespace) -> int:
    """Run a backtest and print (or write) its report."""
    config = load_config(args.config)
    runtime = build_runtime(config)
    symbols = list(runtime.strategy.symbols)
    closes = _load(args.data, [*symbols, args.benchmark] if args.benchmark else symbols)
    start = args.start or _first_tradable_day(closes, symbols, runtime.strategy.history_closes)
    end = args.end or closes.index[-1].date()
    result = run_backtest(runtime, closes[symbols], start, end, costs=_costs(config, args))
    benchmark = _benchmark(closes, args.benchmark, result.equity)
    report = Report(config.name, result, benchmark, args.benchmark or "", Conventions())
    if args.equity_csv:
        _write_csv(report, args.equity_csv)
    if args.plot:
        from bot.backtest.plot import plot_report  # noqa: PLC0415 - matplotlib only when asked

        plot_report(report, args.plot)
    print(json.dumps(as_json(report), indent=2) if args.json else render(report))
    return 0


def _load(data: Path | None, symbols: list[str]) -> pd.DataFrame:
    if data is None or str(data) == "alpaca":
        msg = "--data DIR (per-symbol CSV closes) is required; Alpaca history is not wired yet"
        raise ConfigError(msg)
    try:
        return load_closes_dir(data, symbols)
    except MarketDataError as exc:
        raise DataError(str(exc)) from exc


def _first_tradable_day(closes: pd.DataFrame, symbols: list[str], history: int) -> date:
    """The first day every symbol has ``history`` closes (late listings start the test later)."""
    complete = closes[symbols].dropna()
    if len(complete) <= history:
        msg = f"too little common history for {', '.join(symbols)}"
        raise DataError(msg)
    first: date = complete.index[history].date()
    return first


def _costs(config: BotConfig, args: argparse.Namespace) -> BacktestCosts:
    broker = config.broker if isinstance(config.broker, SimulatedBrokerConfig) else None
    margin = Decimal(repr(broker.margin_multiplier)) if broker else Decimal(2)
    return BacktestCosts(
        initial_cash=Decimal(repr(broker.initial_cash)) if broker else Decimal(100_000),
        slippage_bps=Decimal(repr(args.slippage_bps)),
        fees=FEE_SCHEDULES[args.fees],
        margin_multiplier=margin,
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
        "turnover": _turnover(result),
        "fees": str(result.fees.quantize(Decimal("0.01"))),
        "slippage": str(result.slippage.quantize(Decimal("0.01"))),
        "outcomes": dict(result.outcomes),
        "refused_days": [{"date": d.isoformat(), "reason": r} for d, r in result.errors],
    }


def _curves(report: Report) -> dict[str, pd.Series]:
    curves = {report.strategy: report.result.equity}
    if report.benchmark is not None:
        curves[report.benchmark_symbol] = report.benchmark
    return curves


def _turnover(result: BacktestResult) -> float:
    """Traded value per year over the average equity."""
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
    lines = [f"backtest: {report.strategy}"]
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
        f"trades {result.trades}; turnover {_turnover(result):.1f}× a year; "
        f"fees ${result.fees:,.2f}; slippage ${result.slippage:,.2f}",
        f"days refused by the cycle: {len(result.errors)} "
        + "; ".join(f"{d}: {r}" for d, r in result.errors[:3]),
        f"conventions: {report.conventions.describe()}",
    ]
    return "\n".join(lines)
