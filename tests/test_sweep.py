"""`bot sweep` gives the numbers of separate `bot backtest` runs, whichever executor runs it.

The README's UISx3 grid (lookback 50–80 × f ∈ {1.5, 2, 2.5, 3}: 124 points) on seeded synthetic
closes: each point is also run alone through `bot backtest --json` (its Python entry point, a
config file per point), and the sweep's table must hold exactly those figures, run in this
process, on two local worker processes and on a local Dask cluster (which must receive the
closes once per worker, not once per chunk). A variant on the real closes runs when they are
present.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from bot.backtest.publisher_stats import logical_invest_stats
from bot.backtest.stats import Stats, compute_stats
from bot.cli import main
from bot.market.sessions import xnys_sessions
from bot.market.synthetic import synthetic_closes
from bot.sweep.grid import Axis, Grid, Point
from bot.sweep.heatmap import heat_table
from bot.sweep.point import PointResult, times_received
from bot.sweep.table import STAT_FIELDS, Metric

ROOT = Path(__file__).resolve().parent.parent
REAL = ROOT.parent / "shared" / "data" / "etf_adjclose"
UISX3 = ROOT / "config" / "uisx3.toml"
LOOKBACKS = range(50, 81)
FS = (1.5, 2.0, 2.5, 3.0)
GRID = ["--grid", "strategy.lookback_days=50..80", "--grid", "strategy.f=1.5,2,2.5,3"]
COSTS = ["--margin-rate", "6.5", "--borrow-rate", "0.5"]
SYNTHETIC_PERIOD = ["--start", "2019-06-03", "--end", "2021-12-31"]
LI_COLUMNS = {  # the table's column: Logical Invest's figure (publisher_stats)
    "total_return": "total_return", "cagr": "cagr", "volatility": "volatility",
    "downside_volatility": "downside", "sharpe": "sharpe", "sortino": "sortino",
    "ulcer_index": "ulcer", "max_drawdown": "max_drawdown", "max_drawdown_days": "max_dd_days",
    "avg_drawdown_days": "avg_dd_days",
}  # fmt: skip
REAL_PERIOD = ["--start", "2010-01-04", "--end", "2026-07-14"]


def run(argv: list[str]) -> tuple[int, str]:
    """``bot`` in this process: its exit status and what it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(argv)
    return code, out.getvalue()


def write_csvs(frame: pd.DataFrame, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for symbol in frame.columns:
        column = frame[[symbol]].rename(columns={symbol: "Close"}).rename_axis("Date")
        column.to_csv(directory / f"{symbol}.csv")
    return directory


def config_file(directory: Path, lookback: int, f: float) -> Path:
    """config/uisx3.toml with its lookback and f changed, as a user would edit it."""
    text = UISX3.read_text()
    text, n_lookback = re.subn(r"(?m)^lookback_days = 72$", f"lookback_days = {lookback}", text)
    text, n_f = re.subn(r"(?m)^f = 2\.5$", f"f = {f}", text)
    assert (n_lookback, n_f) == (1, 1)
    path = directory / f"uisx3-{lookback}-{f}.toml"
    path.write_text(text)
    return path


def separate_backtests(data: Path, directory: Path, options: list[str]) -> dict[Any, Any]:
    """Each point's `bot backtest --json` report, by (lookback, f)."""
    reports = {}
    for lookback in LOOKBACKS:
        for f in FS:
            config = config_file(directory, lookback, f)
            argv = ["backtest", "--config", str(config), "--data", str(data), "--json"]
            code, text = run([*argv, "--benchmark", "", *options])
            assert code == 0
            reports[lookback, f] = json.loads(text)
    return reports


def sweep(data: Path, out: Path, *options: str) -> list[dict[str, Any]]:
    """The table `bot sweep` writes (its JSON rows)."""
    argv = ["sweep", "--config", str(UISX3), "--data", str(data), *GRID, "--out", str(out)]
    code, printed = run([*argv, *options])
    assert code == 0
    assert "best 5 by all.sharpe" in printed
    rows: list[dict[str, Any]] = json.loads(out.with_suffix(".json").read_text())["rows"]
    return rows


def assert_same_numbers(rows: list[dict[str, Any]], reports: dict[Any, Any]) -> None:
    """Every statistic and total of every row equals its separate backtest's, exactly."""
    assert len(rows) == len(reports) == 124
    assert [r["point"] for r in rows] == list(range(124))
    for row in rows:
        report = reports[row["strategy.lookback_days"], row["strategy.f"]]
        expected = report["periods"]["all"]["uisx3"]
        assert {k: row[f"all.{k}"] for k in STAT_FIELDS} == expected
        assert row["trades"] == report["trades"]
        assert row["turnover"] == report["turnover"]
        assert row["refused_days"] == len(report["refused_days"])
        assert row["scaled"] == report["rebalances_scaled_to_margin"]
        for money in ("fees", "slippage", "financing"):
            assert row[money] == float(report[money])


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    closes = synthetic_closes(
        ["SPXL", "TMF", "GLD"], xnys_sessions(date(2019, 1, 2), date(2021, 12, 31)), seed=11
    )
    return write_csvs(closes, tmp_path_factory.mktemp("closes"))


@pytest.fixture(scope="module")
def reports(synthetic: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[Any, Any]:
    directory = tmp_path_factory.mktemp("configs")
    return separate_backtests(synthetic, directory, [*SYNTHETIC_PERIOD, *COSTS])


@pytest.fixture(scope="module")
def one_worker(synthetic: Path, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    out = tmp_path_factory.mktemp("one") / "sweep"
    return sweep(synthetic, out, *SYNTHETIC_PERIOD, *COSTS, "--workers", "1")


def test_a_sweep_gives_the_numbers_of_124_separate_backtests(
    one_worker: list[dict[str, Any]], reports: dict[Any, Any]
) -> None:
    """The grid has 124 points, the first key varying slowest, each the backtest alone."""
    assert [(r["strategy.lookback_days"], r["strategy.f"]) for r in one_worker] == [
        (lookback, f) for lookback in LOOKBACKS for f in FS
    ]
    assert len({r["all.sharpe"] for r in one_worker}) > 100  # the settings do change the runs
    assert_same_numbers(one_worker, reports)


def test_two_local_workers_give_the_same_table(
    synthetic: Path, tmp_path: Path, one_worker: list[dict[str, Any]], reports: dict[Any, Any]
) -> None:
    rows = sweep(synthetic, tmp_path / "two", *SYNTHETIC_PERIOD, *COSTS, "--workers", "2")

    assert rows == one_worker
    assert_same_numbers(rows, reports)


@pytest.fixture(scope="module")
def dask_cluster() -> Iterator[Any]:
    import distributed  # noqa: PLC0415 - the sweep extra, in dev: CI must run this, not skip it
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        worker_dashboard_address=None,
    ) as cluster:
        yield cluster


def test_a_dask_cluster_gives_the_same_table_and_gets_the_closes_once_per_worker(
    synthetic: Path,
    tmp_path: Path,
    one_worker: list[dict[str, Any]],
    reports: dict[Any, Any],
    dask_cluster: Any,
) -> None:
    import distributed  # noqa: PLC0415 - the sweep extra

    address = dask_cluster.scheduler_address
    assert address.startswith("tcp://127.0.0.1:")

    rows = sweep(synthetic, tmp_path / "dask", *SYNTHETIC_PERIOD, *COSTS, "--scheduler", address)

    assert rows == one_worker
    assert_same_numbers(rows, reports)
    with distributed.Client(address, set_as_default=False) as client:
        received = client.run(times_received)
    assert len(received) == 2
    assert set(received.values()) == {1}  # 124 points in 32 chunks, the closes sent twice


def test_windows_are_the_curve_cut_to_them(synthetic: Path, tmp_path: Path) -> None:
    """A dated window's statistics are those of `bot backtest --equity-csv`'s curve cut to it
    (computed here from the file), and the trailing 2 years start two years before the end."""
    config = config_file(tmp_path, 60, 2.0)
    curve_file = tmp_path / "equity.csv"
    base = ["--data", str(synthetic), *SYNTHETIC_PERIOD, *COSTS]
    alone = ["--benchmark", ""]
    code, _ = run(
        ["backtest", "--config", str(config), *base, *alone, "--equity-csv", str(curve_file)]
    )
    assert code == 0
    equity = pd.read_csv(curve_file, index_col="Date", parse_dates=True)["uisx3"]
    out = tmp_path / "sweep"
    argv = ["sweep", "--config", str(UISX3), *base, "--out", str(out), "--workers", "1"]
    grid = ["--grid", "strategy.lookback_days=60", "--grid", "strategy.f=2"]
    windows = ["--window", "covid=2020-02-01:2020-12-31", "--window", "2y"]
    windows += ["--window", "2021-12-30:"]

    code, _ = run([*argv, *grid, *windows])

    assert code == 0
    (row,) = json.loads(out.with_suffix(".json").read_text())["rows"]
    covid = compute_stats(equity.loc["2020-02-01":"2020-12-31"]).as_dict()
    assert {k: row[f"covid.{k}"] for k in STAT_FIELDS} == covid
    assert row["2y.start"] == "2019-12-31"  # the first close on or after 2019-12-31
    assert row["2y.end"] == "2021-12-31"
    assert row["2021-12-30:.sharpe"] is None  # two closes: too few for statistics
    with out.with_suffix(".csv").open() as file:
        (record,) = csv.DictReader(file)
    assert float(record["covid.cagr"]) == covid["cagr"]
    assert record["2021-12-30:.cagr"] == ""


def test_logical_invest_conventions_are_publisher_stats_of_the_curve_cut_to_the_window(
    synthetic: Path, tmp_path: Path
) -> None:
    """`--conventions logical_invest`: a dated window's every statistic is Logical Invest's
    (publisher_stats, applied here to `bot backtest --equity-csv`'s curve cut to the window),
    under the table's column names; Calmar is its CAGR over its drawdown."""
    config = config_file(tmp_path, 60, 2.0)
    curve_file = tmp_path / "equity.csv"
    base = ["--data", str(synthetic), *SYNTHETIC_PERIOD, *COSTS]
    code, _ = run(
        ["backtest", "--config", str(config), *base, "--benchmark", "", "--equity-csv",
         str(curve_file)]
    )  # fmt: skip
    assert code == 0
    equity = pd.read_csv(curve_file, index_col="Date", parse_dates=True)["uisx3"]
    out = tmp_path / "sweep"
    argv = ["sweep", "--config", str(UISX3), *base, "--out", str(out), "--workers", "1"]
    grid = ["--grid", "strategy.lookback_days=60", "--grid", "strategy.f=2"]
    options = ["--window", "A=2020-02-03:2021-06-30", "--conventions", "logical_invest"]

    code, printed = run([*argv, *grid, *options])

    assert code == 0
    assert "logical_invest statistics" in printed
    document = json.loads(out.with_suffix(".json").read_text())
    assert document["conventions"] == "logical_invest"
    (row,) = document["rows"]
    li = logical_invest_stats(equity.loc["2020-02-03":"2021-06-30"])
    assert {k: row[f"A.{k}"] for k in LI_COLUMNS} == {k: li[v] for k, v in LI_COLUMNS.items()}
    assert row["A.calmar"] == li["cagr"] / abs(li["max_drawdown"])
    assert row["A.start"] == "2020-02-03"
    assert row["A.volatility"] != compute_stats(equity.loc["2020-02-03":"2021-06-30"]).volatility


def test_own_start_starts_each_point_on_its_own_first_tradable_day(
    synthetic: Path, tmp_path: Path
) -> None:
    """`--own-start`: the 50-day lookback starts on its 51st close, the 80-day one on its 81st
    (each as `bot backtest` would run it alone); `none` is a value of an optional setting."""
    out = tmp_path / "sweep"
    argv = ["sweep", "--config", str(UISX3), "--data", str(synthetic), "--out", str(out)]
    grid = ["--grid", "strategy.lookback_days=50,80", "--grid", "strategy.max_held_legs=none,2"]

    code, printed = run([*argv, *grid, "--own-start", "--workers", "1"])

    assert code == 0
    assert "from each point's first tradable day" in printed
    sessions = xnys_sessions(date(2019, 1, 2), date(2021, 12, 31))
    rows = json.loads(out.with_suffix(".json").read_text())["rows"]
    starts = {
        (r["strategy.lookback_days"], r["strategy.max_held_legs"]): r["all.start"] for r in rows
    }
    assert starts == {
        (50, None): sessions[50].isoformat(),
        (50, 2): sessions[50].isoformat(),
        (80, None): sessions[80].isoformat(),
        (80, 2): sessions[80].isoformat(),
    }


def test_without_start_every_point_starts_when_the_longest_lookback_can(
    synthetic: Path, tmp_path: Path
) -> None:
    """The default period is one for all points: the day the 80-day lookback has its 81
    closes (a 50-day lookback alone could start 30 sessions earlier)."""
    out = tmp_path / "sweep"
    argv = ["sweep", "--config", str(UISX3), "--data", str(synthetic), "--out", str(out)]

    code, printed = run([*argv, "--grid", "strategy.lookback_days=50,80", "--workers", "1"])

    assert code == 0
    sessions = xnys_sessions(date(2019, 1, 2), date(2021, 12, 31))
    first = sessions[80]  # row 80: the 81st close
    assert f"{first} → 2021-12-31" in printed
    rows = json.loads(out.with_suffix(".json").read_text())["rows"]
    assert {r["all.start"] for r in rows} == {first.isoformat()}


@pytest.mark.skipif(not REAL.is_dir(), reason=f"real closes not present at {REAL}")
def test_on_the_real_closes_the_readme_grid_gives_the_numbers_of_separate_backtests(
    tmp_path: Path,
) -> None:
    reports = separate_backtests(REAL, tmp_path, [*REAL_PERIOD, *COSTS])

    rows = sweep(REAL, tmp_path / "real", *REAL_PERIOD, *COSTS, "--workers", "2")

    assert_same_numbers(rows, reports)


@pytest.mark.parametrize(
    ("options", "cause"),
    [
        ([], "error: the grid is empty: give at least one --grid KEY=VALUES"),
        (
            ["--grid", "strategy.lookback=50..80"],
            "error: --grid key 'strategy.lookback' is not a numeric or choice setting of this "
            "config's [strategy] (modified_sharpe); those are: strategy.step, "
            "strategy.lookback_days, strategy.f, strategy.returns_kind, strategy.std_ddof, "
            "strategy.negative_mean_policy",
        ),
        (
            ["--grid", "strategy.lookback_days=2..6"],
            "error: grid point strategy.lookback_days=2: the config schema refuses it: "
            "strategy.modified_sharpe.lookback_days: Input should be greater than or equal to 5",
        ),
        (["--grid", "strategy.legs=1,2"], "error: --grid key 'strategy.legs' is not a numeric"),
        (["--grid", "broker.margin_multiplier=1,2"], "expected SECTION.SETTING with SECTION"),
        (["--grid", "strategy.lookback_days=60.5"], "is not a whole number"),
        (["--grid", "strategy.lookback_days=80..50"], "is an empty range"),
        (["--grid", "strategy.f=2,2.0"], "error: --grid strategy.f: a value is listed twice"),
        (["--grid", "strategy.returns_kind=simple,cubic"], "'cubic' is not one of simple, log"),
        (["--grid", "strategy.f=2", "--window", "2020-13-01:"], "is not a date (YYYY-MM-DD)"),
        (["--grid", "strategy.f=2", "--rank-by", "5y.cagr"], "no window '5y' (windows: all)"),
        (["--grid", "strategy.f=2", "--rank-by", "beauty"], "the statistic must be one of"),
        (["--grid", "strategy.f=2,3", "--heatmap", "strategy.f,strategy.step"], "--heatmap"),
        (["--grid", "strategy.f=2", "--workers", "0"], "error: --workers: '0' is not a whole"),
        (["--grid", "strategy.f=2", "--conventions", "morningstar"], "--conventions: invalid"),
        (
            ["--grid", "strategy.f=2", "--own-start", "--start", "2019-06-03"],
            "error: --own-start and --start exclude each other",
        ),
        (["--grid", "strategy.f=none"], "'none' is not a finite number"),
    ],
)
def test_bad_input_is_one_line_naming_the_cause_before_any_work(
    options: list[str],
    cause: str,
    synthetic: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "sweep"
    argv = ["sweep", "--config", str(UISX3), "--data", str(synthetic), "--out", str(out)]

    exits = "--workers" in options or "--conventions" in options  # argparse's own refusals
    with pytest.raises(SystemExit) if exits else contextlib.nullcontext():
        code = main([*argv, *options])
        assert code == 2
    printed = capsys.readouterr()

    assert printed.out == ""  # not even the header: nothing ran
    lines = printed.err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert cause in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_a_combination_the_schema_refuses_is_refused_before_the_first_backtest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each value alone is fine, but All In's basket and fixed weights must sum to 1: the
    second point is refused, and the first never runs (no data is even needed)."""
    argv = ["sweep", "--config", str(ROOT / "config" / "all_in.toml"), "--data", str(tmp_path)]

    code = main([*argv, "--grid", "strategy.lookback_days=2,3", "--grid", "trigger.width=0.01"])
    assert code == 2
    assert "no data file for symbol" in capsys.readouterr().err  # values fine: data is next

    code = main([*argv, "--grid", "strategy.basket_weight=0.85,0.9"])

    assert code == 2
    assert capsys.readouterr().err == (
        "error: grid point strategy.basket_weight=0.9: the config schema refuses it: "
        "strategy.inverse_volatility: strategy.basket_weight plus strategy.fixed sum to 1.05, "
        "not 1\n"
    )


def test_the_command_loads_neither_dask_nor_numba_nor_matplotlib_until_asked() -> None:
    """Local sweeps need no extra: Dask is imported for --scheduler, numba for --compiled,
    matplotlib for the heatmap, each only then."""
    heavy = ("distributed", "dask", "numba", "matplotlib")
    code = (
        "import sys, bot.sweep.command, bot.sweep.plan, bot.sweep.executors\n"
        f"print(sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.strip() == "[]"


def test_the_heatmap_cells_are_the_rows_values_and_the_best_over_other_keys() -> None:
    """Two keys: each cell is its point's value. Three: the best over the third key (the
    lowest, for a statistic where lower is better)."""
    grid = Grid((Axis("strategy.f", (1.0, 2.0)), Axis("strategy.lookback_days", (5, 6, 7))))
    points = grid.points()
    results = [fake_result(p, sharpe=p.index / 10, volatility=1 + p.index) for p in points]

    table = heat_table(
        results, grid, "strategy.f", "strategy.lookback_days", Metric("all", "sharpe")
    )

    assert table.shape == (3, 2)  # y: lookback, x: f
    assert table[1, 0] == 0.1  # f=1.0, lookback 6: point 1
    assert table[2, 1] == 0.5  # f=2.0, lookback 7: point 5
    best_sharpe = heat_table(
        results, grid, "strategy.lookback_days", "strategy.f", Metric("all", "sharpe")
    )
    assert best_sharpe.tolist() == [[0.0, 0.1, 0.2], [0.3, 0.4, 0.5]]
    only_f = Grid((grid.axes[0], grid.axes[1], Axis("sizing.cash_buffer", (0.0, 0.01))))
    many = [fake_result(p, sharpe=p.index, volatility=100 - p.index) for p in only_f.points()]
    lowest_vol = heat_table(
        many, only_f, "strategy.lookback_days", "strategy.f", Metric("all", "volatility")
    )
    highest = heat_table(
        many, only_f, "strategy.lookback_days", "strategy.f", Metric("all", "sharpe")
    )
    assert lowest_vol[0, 0] == 100 - 1  # points 0 and 1 share f=1, lookback 5
    assert highest[0, 0] == 1


def fake_result(point: Point, *, sharpe: float, volatility: float) -> PointResult:
    stats = Stats(date(2020, 1, 2), date(2020, 12, 31), 0.1, 0.1, volatility, 0.1, sharpe,
                  1.0, 1.0, 1.0, -0.1, 10, 5.0)  # fmt: skip
    return PointResult(point.index, point.settings, (("all", stats),), 0, 0.0, 0.0, 0.0, 0.0, 0, 0)
