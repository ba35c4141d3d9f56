"""`bot backtest` end to end: both engines print the same report, Alpaca's bars give the same
backtest as the same closes in CSV files (through the real alpaca-py and the fake server),
leveraged funds extended before inception are labelled, and the progress bar stays off pipes."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from bot.backtest.progress import progress_bar
from bot.cli import main
from bot.market.sessions import xnys_sessions
from bot.market.synthetic import synthetic_closes
from tests.fake_alpaca import FakeAlpaca

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
needs_real_data = pytest.mark.skipif(
    not (SHARED / "ohlcv").is_dir(), reason=f"real data not present at {SHARED}"
)
KEY, SECRET = "PKTESTBACKTEST", "backtest-secret-never-printed"
SYMBOLS = ["UPRO", "TMF", "SPY"]


@pytest.fixture
def closes() -> pd.DataFrame:
    return synthetic_closes(SYMBOLS, xnys_sessions(date(2023, 1, 3), date(2024, 12, 31)), seed=17)


def write_csvs(frame: pd.DataFrame, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for symbol in frame.columns:
        column = frame[[symbol]].rename(columns={symbol: "Close"}).rename_axis("Date")
        column.to_csv(directory / f"{symbol}.csv")
    return directory


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    code = main(["backtest", "--config", str(ROOT / "config" / "hfea.toml"), "--json", *args])
    assert code == 0
    report: dict[str, object] = json.loads(capsys.readouterr().out)
    return report


def test_the_fast_and_the_cycle_engine_print_the_same_report(
    closes: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(write_csvs(closes, tmp_path / "data"))
    common = ["--data", data, "--start", "2023-06-01", "--margin-rate", "6", "--borrow-rate", "1"]

    fast = run_json(capsys, *common, "--equity-csv", str(tmp_path / "fast.csv"))
    cycle = run_json(capsys, *common, "--engine", "cycle", "--equity-csv", str(tmp_path / "c.csv"))

    assert fast["trades"] == cycle["trades"]
    assert fast["outcomes"] == cycle["outcomes"]
    assert fast["fees"] == cycle["fees"]
    a = pd.read_csv(tmp_path / "fast.csv", index_col="Date")
    b = pd.read_csv(tmp_path / "c.csv", index_col="Date")
    assert ((a["hfea"] / b["hfea"] - 1).abs() < 1e-9).all()


@pytest.fixture
def alpaca(
    closes: pd.DataFrame, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[FakeAlpaca]:
    """The fake Alpaca server with the same closes as daily bars; keys in the environment."""
    with FakeAlpaca(key=KEY, secret=SECRET) as server:
        for symbol in SYMBOLS:
            server.add_asset(symbol)
            server.set_bars(symbol, {ts.date(): float(v) for ts, v in closes[symbol].items()})
        monkeypatch.chdir(tmp_path)
        monkeypatch.delenv("APCA_API_DATA_URL", raising=False)
        monkeypatch.setenv("APCA_API_KEY_ID", KEY)
        monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
        monkeypatch.setenv("APCA_API_BASE_URL", server.url)
        yield server
        assert server.errors == []


def test_alpaca_daily_bars_give_the_same_backtest_as_the_same_closes_in_files(
    alpaca: FakeAlpaca,
    closes: pd.DataFrame,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    span = ["--start", "2023-06-01", "--end", "2024-12-31"]
    from_files = run_json(capsys, "--data", str(write_csvs(closes, tmp_path / "csv")), *span)
    from_alpaca = run_json(capsys, "--data", "alpaca", *span)

    assert from_alpaca["periods"] == from_files["periods"]
    assert from_alpaca["trades"] == from_files["trades"]
    assert SECRET not in json.dumps(from_alpaca)
    bars = [r for r in alpaca.requests if r.path == "/v2/stocks/bars"]
    assert bars
    assert {r.query.get("feed") for r in bars} == {"sip"}  # history from the consolidated tape
    assert {r.query.get("adjustment") for r in bars} == {"all"}


def test_alpaca_without_keys_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    code = main(["backtest", "--config", str(ROOT / "config/hfea.toml"), "--data", "alpaca"])
    assert code != 0
    assert "APCA_API_KEY_ID" in capsys.readouterr().err


@needs_real_data
def test_hfea_from_1986_is_labelled_simulated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The thread's long view: UPRO and TMF extended back by simulation, said in the output."""
    report = run_json(
        capsys,
        "--data",
        str(SHARED / "etf_adjclose"),
        "--simulate",
        "UPRO,TMF",
        "--benchmark",
        "",
        "--end",
        "2019-02-21",
        "--equity-csv",
        str(tmp_path / "curve.csv"),
    )
    notes = report["notes"]
    assert isinstance(notes, list)
    assert len(notes) == 2
    assert all(" is SIMULATED " in n for n in notes)
    assert any("UPRO before 2009-06-25" in n for n in notes)
    curve = pd.read_csv(tmp_path / "curve.csv", index_col="Date", parse_dates=True)
    assert curve.index[0].year == 1986


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_draws_on_a_terminal_and_not_on_a_pipe() -> None:
    terminal, pipe = Terminal(), io.StringIO()
    with progress_bar(terminal) as draw:
        assert draw is not None
        for done in range(0, 101, 10):
            draw(done, 100)
    with progress_bar(pipe) as nothing:
        assert nothing is None
    assert "100/100 sessions" in terminal.getvalue()
    assert "[" + "#" * 40 + "]" in terminal.getvalue()
    assert pipe.getvalue() == ""


def test_margin_interest_is_charged_only_when_asked_and_matches_its_definition(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """UISx3 holds 3× gold, so in gold-heavy months its gross exposure exceeds equity. At 6%
    a year the interest is within the bounds the exposure allows, and zero at 0%."""
    symbols = ["SPXL", "TMF", "GLD", "SPY"]
    frame = synthetic_closes(symbols, xnys_sessions(date(2022, 1, 3), date(2024, 12, 31)), seed=3)
    data = str(write_csvs(frame, tmp_path / "data"))
    config = str(ROOT / "config" / "uisx3.toml")
    args = ["backtest", "--config", config, "--data", data, "--json", "--start", "2022-06-01"]

    assert main([*args, "--equity-csv", str(tmp_path / "free.csv")]) == 0
    free = json.loads(capsys.readouterr().out)
    assert main([*args, "--margin-rate", "6"]) == 0
    charged = json.loads(capsys.readouterr().out)

    assert Decimal(free["financing"]) == 0
    interest = Decimal(charged["financing"])
    # Bound: exposure above equity is at most (margin 2 − 1) × equity, charged 6%/360 a night.
    curve = pd.read_csv(tmp_path / "free.csv", index_col="Date", parse_dates=True)["uisx3"]
    nights = (curve.index[-1] - curve.index[0]).days
    assert 0 < interest < Decimal(repr(float(curve.max()) * 0.06 * nights / 360 * 1.2))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--start", "2030-01-02"], "after its end"),
        (["--start", "2024-06-03", "--end", "2024-01-02"], "after its end"),
        (["--slippage-bps", "nan"], "bad trading costs"),
        (["--margin-rate", "-1"], "bad trading costs"),
        (["--simulate", "FOO"], "not a known leveraged fund"),
    ],
)
def test_bad_arguments_are_one_clear_line_and_exit_2(
    closes: pd.DataFrame,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    data = str(write_csvs(closes, tmp_path / "data"))
    code = main(["backtest", "--config", str(ROOT / "config/hfea.toml"), "--data", data, *extra])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_plot_without_matplotlib_is_refused_before_the_backtest_runs(
    closes: pd.DataFrame,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The basic install has no matplotlib: --plot says which extra to install, at once (no
    report printed, no PNG), in one line, exit 2."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now fails
    data = str(write_csvs(closes, tmp_path / "data"))
    png = tmp_path / "curve.png"

    code = main(
        ["backtest", "--config", str(ROOT / "config/hfea.toml"), "--data", data, "--plot", str(png)]
    )

    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert err == (
        "error: --plot needs matplotlib, which the basic install leaves out: pip install "
        "'letf-rebalancer[plot]' (in a checkout: pip install -e '.[plot]')\n"
    )
    assert not png.exists()


def test_a_close_at_or_below_zero_is_a_refused_day_not_an_aborted_backtest(
    closes: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """TMF closes at 0 on 2024-03-05 and at -3.5 on 2024-03-07: both engines run to the end,
    refuse those days (and the next, whose previous close is missing) as for a missing close,
    name the two closes, and give exactly the backtest of the same files with those cells
    empty."""
    bad = closes.copy()
    bad.loc[pd.Timestamp("2024-03-05"), "TMF"] = 0.0
    bad.loc[pd.Timestamp("2024-03-07"), "TMF"] = -3.5
    blank = closes.copy()
    blank.loc[[pd.Timestamp("2024-03-05"), pd.Timestamp("2024-03-07")], "TMF"] = float("nan")
    with_bad = str(write_csvs(bad, tmp_path / "bad"))
    with_blank = str(write_csvs(blank, tmp_path / "blank"))

    fast = run_json(capsys, "--data", with_bad)
    cycle = run_json(capsys, "--data", with_bad, "--engine", "cycle")
    missing = run_json(capsys, "--data", with_blank)
    code = main(["backtest", "--config", str(ROOT / "config/hfea.toml"), "--data", with_bad])
    text = capsys.readouterr().out.splitlines()

    assert fast["bad_closes"] == [
        {"date": "2024-03-05", "symbol": "TMF", "close": 0.0},
        {"date": "2024-03-07", "symbol": "TMF", "close": -3.5},
    ]
    refused = {d["date"]: d["reason"] for d in fast["refused_days"]}
    assert refused["2024-03-05"] == "no usable price today (2024-03-05) for TMF"
    assert refused["2024-03-07"] == "no usable price today (2024-03-07) for TMF"
    assert fast["refused_days"] == cycle["refused_days"] == missing["refused_days"]
    assert fast["periods"] == missing["periods"]
    assert fast["trades"] == cycle["trades"] == missing["trades"]
    assert missing["bad_closes"] == []
    assert code == 0
    assert text[1] == (
        "closes at or below zero, read as missing (their days are refused): "
        "TMF 2024-03-05 (0), TMF 2024-03-07 (-3.5)"
    )
