"""Published against ours: each seed's printed figures beside ``bot backtest`` over the same days.

Run it on the data directory ``bot data fetch`` writes (or any directory laid out as
docs/DATA.md says)::

    python -m bot.backtest.publishers --data DIR [--index-data DIR] [--write docs/publishers.md]

It dates every page's window from the SPY figures the page prints (``publisher_stats``), runs the
strategy's own config through the fast engine over it with the publisher's conventions (no costs
for Logical Invest and the thread; Composer's own 1 bp slippage and fees for All In) and prints
one Markdown table, statistic by statistic; ``--write`` replaces the table in a page between
the ``publishers:begin``/``publishers:end`` markers. tests/test_publishers.py regenerates it from
real closes and holds the page to it.

Everything published is quoted from the seed pages; the figures marked "ours" are computed here.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Literal

import pandas as pd

from bot.backtest.command import non_positive_as_missing
from bot.backtest.engine import BacktestCosts, BacktestResult
from bot.backtest.fast import run_fast_backtest
from bot.backtest.letf_sim import extend_closes, load_thread_returns
from bot.backtest.publisher_stats import (
    DatedWindow,
    TrailingFigures,
    composer_stats,
    date_composer_window,
    date_trailing_window,
    logical_invest_stats,
    trailing_start,
)
from bot.bootstrap import build_runtime, fee_schedule
from bot.config import BotConfig, FixedStrategyConfig, load_config
from bot.market.csv_source import MarketDataError, load_closes_dir

ROOT = Path(__file__).resolve().parents[2]
BEGIN, END = "<!-- publishers:begin -->", "<!-- publishers:end -->"
BENCHMARK = "SPY"
Unit = Literal["pct", "ratio", "days", "usd", "times"]

# ---------------------------------------------------------------------------------------------
# What the seeds print (quoted; the unit says how the figure is written)


@dataclass(frozen=True, slots=True)
class Stat:
    """One statistic as a page prints it."""

    key: str
    label: str
    unit: Unit


LI_STATS = (
    Stat("total_return", "total return", "pct"),
    Stat("cagr", "CAGR", "pct"),
    Stat("volatility", "volatility (log returns)", "pct"),
    Stat("downside", "downside deviation", "pct"),
    Stat("sharpe", "Sharpe (CAGR − 2.5%) / vol", "ratio"),
    Stat("sortino", "Sortino (CAGR − 2.5%) / downside", "ratio"),
    Stat("ulcer", "Ulcer index", "ratio"),
    Stat("max_drawdown", "max drawdown", "pct"),
    Stat("max_dd_days", "max days under water (trading)", "days"),
    Stat("avg_dd_days", "avg days under water (trading)", "days"),
)
COMPOSER_STATS = (
    Stat("cumulative_return", "cumulative return", "pct"),
    Stat("annualized_return", "annualized return", "pct"),
    Stat("sharpe", "Sharpe (rf 0)", "ratio"),
    Stat("max_drawdown", "max drawdown", "pct"),
    Stat("fees_per_10k", "regulatory fees per $10,000", "usd"),
    Stat("slippage_per_10k", "slippage per $10,000", "usd"),
)


@dataclass(frozen=True, slots=True)
class LiWindow:
    """One trailing window of a Logical Invest page: the strategy's and SPY's printed figures."""

    years: int
    strategy: Mapping[str, float]
    spy: Mapping[str, float]


UISX3 = (
    LiWindow(
        5,
        {"total_return": 2.399, "cagr": 0.277, "volatility": 0.231, "downside": 0.257,
         "sharpe": 1.09, "sortino": 0.98, "ulcer": 14, "max_drawdown": -0.383,
         "max_dd_days": 350, "avg_dd_days": 109},
        {"total_return": 0.63, "cagr": 0.103, "volatility": 0.136, "downside": 0.149,
         "sharpe": 0.57, "sortino": 0.52, "ulcer": 4.01, "max_drawdown": -0.193,
         "max_dd_days": 187, "avg_dd_days": 41},
    ),
    LiWindow(
        3,
        {"total_return": 0.90, "cagr": 0.239, "volatility": 0.216, "downside": 0.245,
         "sharpe": 0.99, "sortino": 0.87, "ulcer": 16, "max_drawdown": -0.383,
         "max_dd_days": 350, "avg_dd_days": 105},
        {"total_return": 0.398, "cagr": 0.118, "volatility": 0.127, "downside": 0.144,
         "sharpe": 0.73, "sortino": 0.65, "ulcer": 4.08, "max_drawdown": -0.193,
         "max_dd_days": 139, "avg_dd_days": 36},
    ),
)  # fmt: skip
MAX_YIELD = (
    LiWindow(
        5,
        {"total_return": 0.782, "cagr": 0.123, "volatility": 0.24, "downside": 0.173,
         "sharpe": 0.41, "sortino": 0.56, "ulcer": 11, "max_drawdown": -0.357,
         "max_dd_days": 471, "avg_dd_days": 116},
        {"total_return": 0.819, "cagr": 0.127, "volatility": 0.198, "downside": 0.145,
         "sharpe": 0.52, "sortino": 0.70, "ulcer": 6.08, "max_drawdown": -0.337,
         "max_dd_days": 139, "avg_dd_days": 35},
    ),
    LiWindow(
        3,
        {"total_return": 0.363, "cagr": 0.109, "volatility": 0.277, "downside": 0.199,
         "sharpe": 0.30, "sortino": 0.42, "ulcer": 13, "max_drawdown": -0.357,
         "max_dd_days": 471, "avg_dd_days": 163},
        {"total_return": 0.461, "cagr": 0.135, "volatility": 0.23, "downside": 0.168,
         "sharpe": 0.48, "sortino": 0.65, "ulcer": 6.77, "max_drawdown": -0.337,
         "max_dd_days": 119, "avg_dd_days": 27},
    ),
)  # fmt: skip
ALL_IN = {
    "cumulative_return": 2.2291, "annualized_return": 0.8296, "sharpe": 2.6,
    "max_drawdown": -0.1043, "fees_per_10k": 125.08, "slippage_per_10k": 749.65,
}  # fmt: skip
LI_NOTES = {
    "downside": "fits SPY on the Max Yield page, not on the UISx3 page",
    "avg_dd_days": "LI's definition not found: SPY's is 3-4× ours",
    "volatility": "LI: σ of log returns",
}
ALL_IN_SPY = {"cumulative_return": 0.3356, "annualized_return": 0.1608, "sharpe": 0.98}

# ---------------------------------------------------------------------------------------------
# The table


@dataclass(frozen=True, slots=True)
class Row:
    """One statistic: what the page prints beside what we compute (None: not computable)."""

    strategy: str
    window: str
    statistic: str
    unit: Unit
    published: float
    ours: float | None
    note: str = ""
    spy_published: float | None = None  # the page's SPY figure over the same window, if any
    spy_ours: float | None = None


DATING_TOLERANCE = 0.005
"""A page is dated only if SPY's figures on that day are within 0.5 pp of the printed ones (a
page rounds to 0.1 pp); otherwise the data does not reach back to the page's window."""


@dataclass(frozen=True, slots=True)
class Dating:
    """How one page's window was dated."""

    page: str
    printed: str
    dated: DatedWindow
    window: str

    @property
    def accepted(self) -> bool:
        """Close enough to be the page's day (else no SPY day in the data fits the page)."""
        return self.dated.distance <= DATING_TOLERANCE


@dataclass(frozen=True, slots=True)
class Comparison:
    """Everything the page shows: the datings and the rows."""

    datings: tuple[Dating, ...]
    rows: tuple[Row, ...]
    notes: tuple[str, ...] = field(default=())


def fmt(value: float | None, unit: Unit) -> str:
    """A figure the way the table prints it."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if unit == "pct":
        return f"{value:+.2%}".replace("-", "−")
    if unit == "usd":
        return f"${value:,.2f}"
    if unit == "days":
        return f"{value:.0f}"
    if unit == "times":
        return f"{value:.2f}×"
    return f"{value:.2f}".replace("-", "−")


def difference(row: Row) -> str:
    """Ours minus published, in the statistic's own unit (points for percentages)."""
    if row.ours is None or math.isnan(row.ours):
        return "—"
    gap = row.ours - row.published
    if row.unit == "pct":
        return f"{100 * gap:+.2f} pp".replace("-", "−")
    if row.unit == "usd":
        return f"{gap:+,.2f}".replace("-", "−")
    if row.unit == "days":
        return f"{gap:+.0f}".replace("-", "−")
    return f"{gap:+.2f}".replace("-", "−")


def render_markdown(comparison: Comparison) -> str:
    """The datings, then the rows, as Markdown tables."""
    lines = [
        "| page | SPY figures the page prints | dated last day | window | largest SPY gap |",
        "|---|---|---|---|---:|",
    ]
    for d in comparison.datings:
        day = f"{d.dated.end}" if d.accepted else f"not dated (closest {d.dated.end})"
        lines.append(
            f"| {d.page} | {d.printed} | {day} | {d.window} | {100 * d.dated.distance:.2f} pp |"
        )
    lines += [
        "",
        "| strategy | window | statistic | published | ours | ours − published "
        "| SPY published | SPY ours | note |",
        "|---|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in comparison.rows:
        spy = (
            f"{fmt(r.spy_published, r.unit)} | {fmt(r.spy_ours, r.unit)}"
            if r.spy_published is not None
            else " | "
        )
        lines.append(
            f"| {r.strategy} | {r.window} | {r.statistic} | {fmt(r.published, r.unit)} | "
            f"{fmt(r.ours, r.unit)} | {difference(r)} | {spy} | {r.note} |"
        )
    lines += ["", *comparison.notes]
    return "\n".join(lines).rstrip() + "\n"


# ---------------------------------------------------------------------------------------------
# The runs (the shell: reads files, runs the engine)

NO_COSTS = BacktestCosts(
    slippage_bps=Decimal(0), fees=fee_schedule("none"), margin_multiplier=Decimal(4)
)
COMPOSER_COSTS = BacktestCosts(margin_multiplier=Decimal(1))  # 1 bp, current SEC + TAF fees


@dataclass(frozen=True, slots=True)
class Sources:
    """Where the closes (and, for the simulated rows, the index and rate files) are."""

    data: Path
    index_data: Path | None


def load(sources: Sources, symbols: Sequence[str]) -> pd.DataFrame:
    """Closes for ``symbols`` and SPY, closes ≤ 0 read as missing (as ``bot backtest`` does)."""
    closes = load_closes_dir(sources.data, [*symbols, BENCHMARK])
    cleaned, _ = non_positive_as_missing(closes)
    return cleaned


def first_tradable(closes: pd.DataFrame, symbols: Sequence[str], history: int) -> date:
    """``bot backtest``'s default start: the first day every fund has ``history`` closes."""
    complete = closes[list(symbols)].dropna()
    day: date = complete.index[max(history - 1, 1)].date()
    return day


def backtest(
    config: BotConfig, closes: pd.DataFrame, start: date, end: date, costs: BacktestCosts
) -> BacktestResult:
    """The fast engine (proven equal to the cycle) over ``start`` → ``end``."""
    runtime = build_runtime(config)
    return run_fast_backtest(
        runtime, closes[list(runtime.strategy.symbols)], start, end, costs=costs
    )


def li_rows(
    name: str,
    config: BotConfig,
    printed: Sequence[LiWindow],
    closes: pd.DataFrame,
    end: date,
) -> list[Row]:
    """Run from the first tradable day to the dated end (LI's series is one continuous
    backtest), then compare each trailing window, strategy and SPY, with LI's conventions."""
    runtime = build_runtime(config)
    symbols = list(runtime.strategy.symbols)
    start = first_tradable(closes, symbols, runtime.strategy.history_closes)
    equity = backtest(config, closes, start, end, NO_COSTS).equity
    spy = closes[BENCHMARK].dropna().loc[: pd.Timestamp(end)]
    rows = []
    for window in printed:
        first = trailing_start(pd.DatetimeIndex(spy.index), pd.Timestamp(end), window.years)
        label = f"{window.years}y {first.date()} → {end}"
        covered = equity.index[0] <= first
        ours = logical_invest_stats(equity.loc[first:]) if covered else {}
        note = "" if covered else f"not covered: first tradable day {start}"
        bench = logical_invest_stats(spy.loc[first:])
        for stat in LI_STATS:
            value = ours.get(stat.key) if covered else None
            row = Row(name, label, stat.label, stat.unit, window.strategy[stat.key], value)
            rows.append(
                replace(
                    row,
                    note=note or LI_NOTES.get(stat.key, ""),
                    spy_published=window.spy[stat.key],
                    spy_ours=bench[stat.key],
                )
            )
    return rows


def all_in_rows(
    config: BotConfig, closes: pd.DataFrame, dated: DatedWindow, start: date
) -> list[Row]:
    """All In with Composer's conventions and costs (1 bp slippage, current fees)."""
    result = backtest(config, closes, start, dated.end, COMPOSER_COSTS)
    ours = composer_stats(result.equity)
    scale = 10_000 / float(COMPOSER_COSTS.initial_cash)
    ours["fees_per_10k"] = float(result.fees) * scale
    ours["slippage_per_10k"] = float(result.slippage) * scale
    spy = composer_stats(closes[BENCHMARK].loc[pd.Timestamp(start) : pd.Timestamp(dated.end)])
    label = f"{start} → {dated.end}"
    return [
        Row(
            "All In", label, s.label, s.unit, ALL_IN[s.key], ours[s.key],
            spy_published=ALL_IN_SPY.get(s.key), spy_ours=spy.get(s.key),
        )
        for s in COMPOSER_STATS
    ]  # fmt: skip


def fixed_config(base: BotConfig, weights: Mapping[str, float]) -> BotConfig:
    """HFEA's config with other fixed weights (the thread began at 40/60 UPRO/TMF)."""
    strategy = FixedStrategyConfig(kind="fixed", weights=dict(weights))
    return base.model_copy(update={"strategy": strategy})


TRACKER = (  # the thread's tracker: (line, the day we read it at, printed value)
    ("05/2019: $115k", date(2019, 5, 1), 115_000.0),
    ("08/2019: $133k", date(2019, 8, 1), 133_000.0),
    ("Mid 08/2019: $143k", date(2019, 8, 12), 143_000.0),
)
TRACKER_START = date(2019, 2, 1)


def value_on(equity: pd.Series, day: date) -> float:
    """The curve's value at the close of ``day`` (or the last close before it)."""
    return float(equity.loc[: pd.Timestamp(day)].iloc[-1])


def tracker_rows(hfea: BotConfig, closes: pd.DataFrame) -> list[Row]:
    """40/60 UPRO/TMF bought with $100k on the first trading day of February 2019, quarterly
    (first trading day) rebalancing, no costs; the note gives the range over every February
    start day, since the thread dates its start only by month."""
    config = fixed_config(hfea, {"UPRO": 0.4, "TMF": 0.6})
    last = TRACKER[-1][1]
    both = closes[["UPRO", "TMF"]].dropna()
    if both.empty or both.index[0] > pd.Timestamp(TRACKER_START):
        return [Row("HFEA 40/60 (tracker)", f"{TRACKER_START} → {day}", line, "usd", printed,
                    None, f"not covered: UPRO and TMF from {TRACKER_START} needed")
                for line, day, printed in TRACKER]  # fmt: skip
    starts = [d.date() for d in both.loc["2019-02-01":"2019-02-28"].index]
    curves = {s: backtest(config, closes, s, last, NO_COSTS).equity for s in starts}
    rows = []
    for line, day, printed in TRACKER:
        values = [100_000 * value_on(c, day) / float(c.iloc[0]) for c in curves.values()]
        ours = 100_000 * value_on(curves[TRACKER_START], day) / float(curves[TRACKER_START].iloc[0])
        note = f"read on {day}; any February start: ${min(values):,.0f}–${max(values):,.0f}"
        rows.append(
            Row(
                "HFEA 40/60 (tracker)", f"{TRACKER_START} → {day}", line, "usd", printed, ours, note
            )
        )
    return rows


SIM_START, SIM_END = date(2000, 1, 3), date(2011, 9, 30)
UPRO_INCEPTION = date(2009, 6, 25)  # UPRO's first close


def simulated_rows(hfea: BotConfig, closes: pd.DataFrame, sources: Sources) -> list[Row]:
    """The thread: "Jan 2000 - Sept 2011 … My strategy would have delivered 11% CAGR" (40/60),
    the S&P 500 "0% total return": our ``--simulate`` model, and the thread's own simulated
    series (hfea_sim) through the same engine."""
    config = fixed_config(hfea, {"UPRO": 0.4, "TMF": 0.6})
    label = f"{SIM_START} → {SIM_END}"
    rows = []
    spy = closes[BENCHMARK].dropna().loc[pd.Timestamp(SIM_START) : pd.Timestamp(SIM_END)]
    spy_covered = len(spy) > 1 and spy.index[0] == pd.Timestamp(SIM_START)
    model = thread = None
    root = sources.index_data
    if root is not None:
        try:
            extended, _ = extend_closes(closes[["UPRO", "TMF"]], root, ["UPRO", "TMF"])
            model = _cagr(backtest(config, extended, SIM_START, SIM_END, NO_COSTS).equity)
        except (ValueError, OSError, MarketDataError):
            model = None
        try:
            thread_closes = pd.DataFrame(
                {s: 100 * (1 + load_thread_returns(root, s)).cumprod() for s in ("UPRO", "TMF")}
            )
            thread = _cagr(backtest(config, thread_closes, SIM_START, SIM_END, NO_COSTS).equity)
        except (ValueError, OSError, MarketDataError):
            thread = None
    missing = "" if root is not None else "needs --index-data"
    rows.append(
        Row("HFEA 40/60 SIMULATED", label, "CAGR, our --simulate model", "pct", 0.11, model,
            missing or "UPRO, TMF SIMULATED (index × 3 − ER − 2 × LIBOR)")
    )  # fmt: skip
    rows.append(
        Row("HFEA 40/60 SIMULATED", label, "CAGR, the thread's own series", "pct", 0.11, thread,
            missing or "the thread's UPROSIM/TMFSIM, through our engine")
    )  # fmt: skip
    rows.append(
        Row("S&P 500 (SPY)", label, "total return", "pct", 0.0,
            float(spy.iloc[-1] / spy.iloc[0] - 1) if spy_covered else None,
            "the thread: \"delivered 0% total return\"")
    )  # fmt: skip
    upro = closes["UPRO"].dropna()
    since = f"{UPRO_INCEPTION} → {TRACKER_START}"
    ratio = None
    if len(upro) and upro.index[0] == pd.Timestamp(UPRO_INCEPTION):
        spy_all = closes[BENCHMARK].dropna()
        ratio = (value_on(upro, TRACKER_START) / float(upro.iloc[0]) - 1) / (
            value_on(spy_all, TRACKER_START) / float(spy_all.loc[upro.index[0]]) - 1
        )
    rows.append(
        Row("UPRO", since, "return over SPY's since inception", "times", 5.0, ratio,
            "the thread: UPRO \"has delivered 5x the returns of the index\"")
    )  # fmt: skip
    return rows


def _cagr(equity: pd.Series) -> float:
    return float((equity.iloc[-1] / equity.iloc[0]) ** (252 / (len(equity) - 1)) - 1)


def compare(sources: Sources) -> Comparison:
    """Every page: dated, run, compared."""
    config = {name: load_config(ROOT / "config" / f"{name}.toml") for name in
              ("all_in", "uisx3", "max_yield", "hfea")}  # fmt: skip
    rows: list[Row] = []
    datings: list[Dating] = []

    all_in = config["all_in"]
    runtime = build_runtime(all_in)
    closes = load(sources, runtime.strategy.symbols)
    start = first_tradable(closes, runtime.strategy.symbols, runtime.strategy.history_closes)
    dated = date_composer_window(closes[BENCHMARK], start, 0.3356, 0.1608)
    dating = Dating("Composer, All In", "cumulative 33.56%, annualized 16.08%", dated,
                    f"{start} (first tradable day) → {dated.end}")  # fmt: skip
    datings.append(dating)
    if dating.accepted:
        rows += all_in_rows(all_in, closes, dated, start)
    else:
        rows += [Row("All In", "—", s.label, s.unit, ALL_IN[s.key], None, NOT_DATED)
                 for s in COMPOSER_STATS]  # fmt: skip

    for name, label, printed, page in (
        ("uisx3", "UISx3", UISX3, "Logical Invest, UISx3"),
        ("max_yield", "Max Yield", MAX_YIELD, "Logical Invest, Maximum Yield"),
    ):
        runtime = build_runtime(config[name])
        closes = load(sources, runtime.strategy.symbols)
        figures = [TrailingFigures(w.years, w.spy["total_return"], w.spy["cagr"]) for w in printed]
        dated = date_trailing_window(closes[BENCHMARK], figures)
        text = "; ".join(
            f"{w.years}y {100 * w.spy['total_return']:.1f}%, CAGR {100 * w.spy['cagr']:.1f}%"
            for w in printed
        )
        dating = Dating(page, text, dated, "trailing 5 and 3 calendar years")
        datings.append(dating)
        if dating.accepted:
            rows += li_rows(label, config[name], printed, closes, dated.end)
        else:
            rows += [Row(label, f"{w.years}y", s.label, s.unit, w.strategy[s.key], None, NOT_DATED,
                         w.spy[s.key]) for w in printed for s in LI_STATS]  # fmt: skip

    closes = load(sources, ["UPRO", "TMF"])
    rows += tracker_rows(config["hfea"], closes)
    rows += simulated_rows(config["hfea"], closes, sources)
    return Comparison(tuple(datings), tuple(rows))


NOT_DATED = "not dated: the data's SPY does not reach back to the page's window"


def replace_block(page: str, table: str) -> str:
    """``page`` with the text between the markers replaced by ``table``."""
    head, found, rest = page.partition(BEGIN)
    _, found_end, tail = rest.partition(END)
    if not (found and found_end):
        msg = f"the page has no {BEGIN} … {END} block"
        raise ValueError(msg)
    return f"{head}{BEGIN}\n{table}{END}{tail}"


def block(page: str) -> str:
    """The table between the markers of ``page``."""
    return page.partition(BEGIN)[2].partition(END)[0].removeprefix("\n")


def main(argv: Sequence[str] | None = None, out: Callable[[str], object] = print) -> int:
    """``python -m bot.backtest.publishers --data DIR [--index-data DIR] [--write FILE]``."""
    parser = argparse.ArgumentParser(
        prog="python -m bot.backtest.publishers",
        description="the seeds' published figures against bot backtest on the same windows",
    )
    parser.add_argument("--data", type=Path, required=True, help="directory of <SYMBOL>.csv closes")
    parser.add_argument(
        "--index-data",
        type=Path,
        help="root of the index and rate files for the SIMULATED HFEA rows (docs/DATA.md)",
    )
    parser.add_argument("--write", type=Path, help="replace the table in this Markdown page")
    args = parser.parse_args(argv)
    table = render_markdown(compare(Sources(args.data, args.index_data)))
    if args.write:
        args.write.write_text(
            replace_block(args.write.read_text(encoding="utf-8"), table), encoding="utf-8"
        )
    else:
        out(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
