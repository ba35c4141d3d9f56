"""`bot data fetch` against the fake Alpaca server, through the real alpaca-py client: the exact
prices served land in files the backtester reads; later runs fetch only the new days (counted at
the server); a restated overlap is refetched whole; gaps and bad prints are reported, repaired
when a refetch can, never papered over; bad input is one line and exit 2; and `bot backtest`
then runs on the files with no server at all. Every date is explicit or on an injected clock.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Iterator
from datetime import date, datetime, time
from fractions import Fraction
from pathlib import Path

import pandas as pd
import pytest

from bot.cli import _parser, main
from bot.clock import SimulatedClock
from bot.data_fetch import config_symbols, run_fetch
from bot.errors import ConfigError
from bot.market.close_checks import problems
from bot.market.csv_source import load_closes_dir
from bot.market.csv_write import write_closes
from bot.market.sessions import xnys_sessions
from bot.market.synthetic import synthetic_closes
from tests.fake_alpaca import FakeAlpaca, RecordedRequest
from tests.fake_alpaca.wire import NEW_YORK

ROOT = Path(__file__).resolve().parent.parent
HFEA = str(ROOT / "config" / "hfea.toml")
KEY, SECRET = "PKTESTDATAFETCH", "data-fetch-secret-never-printed"
SYMBOLS = ("UPRO", "TMF", "SPY")
FIRST, LAST = date(2026, 1, 2), date(2026, 9, 18)  # the bars served; 2026-09-21 is the fake's day
SPAN = ("--start", "2026-01-01", "--end", "2026-09-18")
BARS = "/v2/stocks/bars"

Served = dict[str, dict[date, float]]


def served_closes() -> Served:
    frame = synthetic_closes(list(SYMBOLS), xnys_sessions(FIRST, LAST), seed=23)
    return {s: by_day(frame[s]) for s in SYMBOLS}


def by_day(column: pd.Series[float]) -> dict[date, float]:
    days = pd.DatetimeIndex(column.index).date
    return {day: float(v) for day, v in zip(days, column.to_numpy(), strict=True)}


@pytest.fixture
def served() -> Served:
    return served_closes()


@pytest.fixture
def fake(served: Served, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeAlpaca]:
    """The fake server with the closes as daily bars; the keys and its URL in the environment."""
    with FakeAlpaca(key=KEY, secret=SECRET) as server:
        for symbol, closes in served.items():
            server.add_asset(symbol)
            server.set_bars(symbol, closes)
        monkeypatch.chdir(tmp_path)  # no .env of the working tree
        monkeypatch.delenv("APCA_API_DATA_URL", raising=False)
        monkeypatch.setenv("APCA_API_KEY_ID", KEY)
        monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
        monkeypatch.setenv("APCA_API_BASE_URL", server.url)
        yield server
        assert server.errors == []


def fetch(capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    """`bot data fetch ARGV` (exit 0): its lines."""
    code = main(["data", "fetch", *argv])
    out, err = capsys.readouterr()
    assert (code, err) == (0, "")
    assert SECRET not in out
    return out.splitlines()


def bar_requests(fake: FakeAlpaca, since: int = 0) -> list[RecordedRequest]:
    return [r for r in fake.requests[since:] if r.path == BARS]


def file_closes(directory: Path, symbol: str) -> dict[date, float]:
    return by_day(load_closes_dir(directory, [symbol])[symbol])


def test_a_fresh_fetch_writes_the_exact_prices_served(
    fake: FakeAlpaca, served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One request for the three symbols (adjusted, SIP); each file reads back through the
    backtester's loader with the very floats served, and no temporary file is left."""
    data = tmp_path / "data"

    lines = fetch(capsys, "--symbols", *SYMBOLS, "--to", str(data), *SPAN)

    rows = len(served["UPRO"])
    assert lines == [f"{s}: wrote {rows} rows {FIRST}..{LAST} (fetched whole); ok" for s in SYMBOLS]
    for symbol in SYMBOLS:
        assert file_closes(data, symbol) == served[symbol]
    assert sorted(p.name for p in data.iterdir()) == ["SPY.csv", "TMF.csv", "UPRO.csv"]
    assert (data / "UPRO.csv").read_text().startswith("Date,Adj Close\n2026-01-02,")
    (request,) = bar_requests(fake)
    assert request.query["symbols"] == "UPRO,TMF,SPY"
    assert request.query["start"].startswith("2026-01-01")
    assert (request.query["adjustment"], request.query["feed"]) == ("all", "sip")


def test_a_second_run_fetches_only_the_new_days(
    fake: FakeAlpaca, served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """After a fetch up to 2026-09-11, the next one asks for the last five rows (the overlap,
    from 2026-09-04) onwards, in one request for every symbol, and adds the five new days; a
    run with nothing new to fetch asks nothing and rewrites nothing."""
    data = tmp_path / "data"
    fetch(capsys, "--symbols", *SYMBOLS, "--to", str(data), "--start", "2026-01-01",
          "--end", "2026-09-11")  # fmt: skip
    before = len(fake.requests)

    lines = fetch(capsys, "--symbols", *SYMBOLS, "--to", str(data), *SPAN)

    (request,) = bar_requests(fake, before)
    assert request.query["start"].startswith("2026-09-04")
    assert request.query["symbols"] == "UPRO,TMF,SPY"
    rows = len(served["UPRO"])
    assert lines == [
        f"{s}: wrote {rows} rows {FIRST}..{LAST} (+5 new rows; the 5-row overlap agrees); ok"
        for s in SYMBOLS
    ]
    for symbol in SYMBOLS:
        assert file_closes(data, symbol) == served[symbol]

    stamps = {p.name: p.stat().st_mtime_ns for p in data.iterdir()}
    before = len(fake.requests)
    again = fetch(capsys, "--symbols", *SYMBOLS, "--to", str(data), *SPAN)

    assert bar_requests(fake, before) == []
    assert again[0] == f"UPRO: kept {rows} rows {FIRST}..{LAST} (no new session to fetch); ok"
    assert {p.name: p.stat().st_mtime_ns for p in data.iterdir()} == stamps


def test_a_restated_overlap_refetches_the_symbol_whole(
    fake: FakeAlpaca, served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """TMF reverse-splits 1-for-10 after the first fetch: Alpaca's adjusted history is now ten
    times the file's, the overlap says so, TMF alone is refetched whole (a second request), and
    the file holds the restated history, without a jump at the split."""
    data = tmp_path / "data"
    fetch(capsys, "--symbols", *SYMBOLS, "--to", str(data), "--start", "2026-01-01",
          "--end", "2026-09-11")  # fmt: skip
    split_day = date(2026, 9, 14)
    traded = {d: c * 10 if d >= split_day else c for d, c in served["TMF"].items()}
    fake.set_bars("TMF", traded)
    fake.split("TMF", Fraction(1, 10), split_day)
    before = len(fake.requests)

    lines = fetch(capsys, "--symbols", *SYMBOLS, "--to", str(data), *SPAN)

    first, whole = bar_requests(fake, before)
    assert first.query["start"].startswith("2026-09-04")
    assert (whole.query["symbols"], whole.query["start"][:10]) == ("TMF", "2026-01-01")
    old, new = served["TMF"][date(2026, 9, 4)], fake.bars_of("TMF", "all")[date(2026, 9, 4)]
    assert lines[1] == (
        f"TMF: wrote {len(served['TMF'])} rows {FIRST}..{LAST} (refetched whole: the overlap "
        f"disagrees on 2026-09-04: the file has {old}, Alpaca now {new} (history restated: a "
        "split or a dividend?)); ok"
    )
    assert file_closes(data, "TMF") == fake.bars_of("TMF", "all")
    assert lines[0].endswith("(+5 new rows; the 5-row overlap agrees); ok")


def test_a_gap_and_a_bad_print_are_reported_and_never_filled(
    fake: FakeAlpaca, served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """TMF has no bar on 2026-06-10 and a zero close on 2026-06-12; UPRO triples for one day.
    Each problem is named; a whole refetch (one more request) gives the same, so they stay: the
    gap stays a gap, the zero is an empty cell (a missing close), the spike is as served."""
    data = tmp_path / "data"
    tmf = {d: c for d, c in served["TMF"].items() if d != date(2026, 6, 10)}
    tmf[date(2026, 6, 12)] = 0.0
    upro = dict(served["UPRO"])
    upro[date(2026, 5, 5)] *= 3
    fake.set_bars("TMF", tmf)
    fake.set_bars("UPRO", upro)

    upro_line, tmf_line, spy_line = fetch(capsys, "--symbols", *SYMBOLS, "--to", str(data), *SPAN)

    assert len(bar_requests(fake)) == 2
    assert tmf_line.startswith(f"TMF: wrote {len(tmf)} rows {FIRST}..{LAST} (fetched whole); ")
    assert tmf_line.endswith(
        "2 problems (still there after a whole refetch): no bar for the session 2026-06-10; "
        "close 0.0 on 2026-06-12 is not a positive price (written as a missing close)"
    )
    before, spike, after = (upro[date(2026, 5, d)] for d in (4, 5, 6))
    assert upro_line.endswith(
        f"2 problems (still there after a whole refetch): {spike / before - 1:+.1%} on "
        f"2026-05-05 (from {before} to {spike}) is beyond the 50% limit: a bad print, or an "
        f"unadjusted 1-for-3 reverse split?; {after / spike - 1:+.1%} on 2026-05-06 (from "
        f"{spike} to {after}) is beyond the 50% limit: a bad print, or an unadjusted 3-for-1 "
        "split?"
    )
    assert spy_line.endswith("(fetched whole); ok")
    closes = load_closes_dir(data, ["TMF", "UPRO"])
    assert date(2026, 6, 10) not in {ts.date() for ts in closes["TMF"].dropna().index}
    assert "2026-06-10" not in (data / "TMF.csv").read_text()
    assert "\n2026-06-12,\n" in (data / "TMF.csv").read_text()
    assert math.isnan(closes["TMF"].loc["2026-06-12"])
    assert closes["UPRO"].loc["2026-05-05"] == upro[date(2026, 5, 5)]


def test_an_earlier_start_than_the_file_refetches_it_whole(
    fake: FakeAlpaca, served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file only grows forward, unless --start asks for days before its first row: then it
    is refetched whole, once; after that (or with the default start) nothing is fetched."""
    data = tmp_path / "data"
    fetch(capsys, "--symbols", "UPRO", "--to", str(data), "--start", "2026-06-01",
          "--end", "2026-09-18")  # fmt: skip

    (line,) = fetch(capsys, "--symbols", "UPRO", "--to", str(data), *SPAN)

    assert line == (
        f"UPRO: wrote {len(served['UPRO'])} rows {FIRST}..{LAST} (refetched whole: --start "
        "2026-01-01 is before the file's first row); ok"
    )
    assert file_closes(data, "UPRO") == served["UPRO"]
    before = len(fake.requests)
    assert fetch(capsys, "--symbols", "UPRO", "--to", str(data), *SPAN)[0].endswith(
        "(no new session to fetch); ok"
    )
    assert fetch(capsys, "--symbols", "UPRO", "--to", str(data), "--end", "2026-09-18")[0].endswith(
        "(no new session to fetch); ok"
    )
    assert bar_requests(fake, before) == []


def test_a_damaged_file_is_repaired_by_a_whole_refetch(
    fake: FakeAlpaca, served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A row deleted from an up-to-date file (before the overlap) is a gap; the whole refetch
    fills it with Alpaca's own close and the line says exactly that. A file that does not read
    at all is fetched whole, saying why."""
    data = tmp_path / "data"
    fetch(capsys, "--symbols", *SYMBOLS, "--to", str(data), *SPAN)
    path = data / "UPRO.csv"
    rows = path.read_text().splitlines(keepends=True)
    path.write_text("".join(row for row in rows if not row.startswith("2026-03-10")))
    (data / "TMF.csv").write_text("not,a\nprice file\n")
    before = len(fake.requests)

    upro, tmf, spy = fetch(capsys, "--symbols", *SYMBOLS, "--to", str(data), *SPAN)

    assert upro == (
        f"UPRO: wrote {len(served['UPRO'])} rows {FIRST}..{LAST} (no new session to fetch); "
        "repaired by a whole refetch: no bar for the session 2026-03-10; ok"
    )
    assert tmf.startswith("TMF: wrote ")
    assert "(fetched whole: the file did not read (" in tmf
    assert tmf.endswith("TMF.csv: no 'Date' column (columns: ['not', 'a']))); ok")
    assert spy.endswith("(no new session to fetch); ok")
    assert file_closes(data, "UPRO") == served["UPRO"]
    assert file_closes(data, "TMF") == served["TMF"]
    assert len(bar_requests(fake, before)) == 2  # TMF whole, then UPRO's repair


def test_a_backtest_runs_offline_on_the_fetched_files(
    fake: FakeAlpaca, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """`--config config/hfea.toml` fetches UPRO, TMF and the benchmark SPY; with the server
    stopped and no keys, `bot backtest --config config/hfea.toml --data DIR` runs on them."""
    data = tmp_path / "data"
    lines = fetch(capsys, "--config", HFEA, "--to", str(data), *SPAN)
    assert [line.split(":")[0] for line in lines] == ["UPRO", "TMF", "SPY"]
    fake.stop()
    for name in ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY", "APCA_API_BASE_URL"):
        monkeypatch.delenv(name)

    code = main(["backtest", "--config", HFEA, "--data", str(data), "--json"])

    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads(out)
    assert report["strategy"] == "hfea"
    assert set(report["periods"]["all"]) == {"hfea", "SPY"}
    assert report["trades"] > 0
    assert (report["bad_closes"], report["refused_days"]) == ([], [])


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["--symbols", "UPRO", "NOPE"], "error: Alpaca has no daily bars for NOPE from 2026-01-01 "
         "to 2026-09-18: not a symbol it knows, or not traded then (nothing was written)"),
        (["--symbols", "upro"], "error: --symbols: 'upro' is not an Alpaca stock symbol (capital "
         "letters, digits, '.' or '-', e.g. SPY or BRK.B)"),
        (["--symbols", "../x"], "error: --symbols: '../x' is not an Alpaca stock symbol (capital "
         "letters, digits, '.' or '-', e.g. SPY or BRK.B)"),
        (["--symbols", "UPRO", "--benchmark", "SPY"],
         "error: --benchmark goes with --config; with --symbols, list the symbol itself"),
        (["--symbols", "UPRO", "--start", "2026-09-19", "--end", "2026-09-20"],
         "error: no NYSE session from 2026-09-19 to 2026-09-20: nothing to fetch"),
        (["--symbols", "UPRO", "--start", "2026-09-18", "--end", "2026-09-01"],
         "error: --start 2026-09-18 is after the end 2026-09-01"),
        (["--symbols", "UPRO", "--end", "2015-06-30"],
         "error: --start 2016-01-01 (the default: Alpaca's bars begin in 2016) is after the end "
         "2015-06-30"),
        (["--symbols", "UPRO", "--end", "2026-02-30"],
         "error: --end: '2026-02-30' is not a date (YYYY-MM-DD)"),
        (["--to", "DIR"], "error: one of the arguments --config --symbols is required"),
        (["--config", "missing.toml"], "error: config file missing.toml not found"),
    ],
)  # fmt: skip
def test_bad_input_is_one_error_line(
    fake: FakeAlpaca,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    error: str,
) -> None:
    """Exit 2, one line on stderr, nothing on stdout, no file written."""
    data = tmp_path / "data"
    dated = argv if "--end" in argv or "--symbols" not in argv else [*argv, *SPAN]
    full = [*dated, "--to", str(data)] if "--to" not in argv else dated

    try:
        code = main(["data", "fetch", *full])
    except SystemExit as exited:  # argparse's own refusals end there (one line, exit 2)
        code = int(str(exited.code))
    out, err = capsys.readouterr()
    assert (code, out, err) == (2, "", error + "\n")
    assert not data.exists()


def test_no_keys_and_a_to_that_is_a_file_are_one_error_line(
    fake: FakeAlpaca,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a_file = tmp_path / "closes.csv"
    a_file.write_text("Date,Close\n")
    assert main(["data", "fetch", "--symbols", "UPRO", "--to", str(a_file), *SPAN]) == 2
    assert capsys.readouterr() == (
        "",
        f"error: --to {a_file} is a file: give a directory (it is created when missing)\n",
    )
    monkeypatch.delenv("APCA_API_SECRET_KEY")
    assert main(["data", "fetch", "--symbols", "UPRO", "--to", str(tmp_path / "d"), *SPAN]) == 2
    out, err = capsys.readouterr()
    assert (out, err.count("\n")) == ("", 1)
    assert err.startswith("error: Alpaca credentials missing: set APCA_API_KEY_ID and ")
    assert fake.requests == []


def asked_end(request: RecordedRequest) -> datetime:
    return datetime.fromisoformat(request.query["end"]).astimezone(NEW_YORK)


def parsed(*argv: str) -> argparse.Namespace:
    return _parser().parse_args(["data", "fetch", *argv])


def test_the_end_is_the_last_finished_day_on_the_clock(
    fake: FakeAlpaca, served: Served, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """At 10:00 New York on Monday 2026-09-21 the default end is Sunday, so the files end on
    Friday's session; --end 2026-09-21 (today, not over) is refused. Just after midnight the
    free plan's 15-minute SIP delay still covers yesterday, so the end is the day before."""
    clock = SimulatedClock(datetime.combine(date(2026, 9, 21), time(10), NEW_YORK))
    data = tmp_path / "data"
    code = run_fetch(parsed("--symbols", "SPY", "--to", str(data), "--start", "2026-09-01"), clock)

    assert code == 0

    assert capsys.readouterr().out.startswith(f"SPY: wrote 13 rows 2026-09-01..{LAST} ")
    (request,) = bar_requests(fake)
    assert asked_end(request) == datetime(2026, 9, 20, 23, 59, tzinfo=NEW_YORK)
    with pytest.raises(ConfigError, match=r"--end 2026-09-21 is not a finished day \(today is"):
        run_fetch(parsed("--symbols", "SPY", "--to", str(data), "--end", "2026-09-21"), clock)
    just_after_midnight = SimulatedClock(datetime.combine(date(2026, 9, 22), time(0, 10), NEW_YORK))
    before = len(fake.requests)
    run_fetch(parsed("--symbols", "TMF", "--to", str(data), "--start", "2026-09-01"),
              just_after_midnight)  # fmt: skip
    (request,) = bar_requests(fake, before)
    assert asked_end(request) == datetime(2026, 9, 20, 23, 59, tzinfo=NEW_YORK)


def test_a_portfolio_file_means_every_strategy_s_funds() -> None:
    """config/portfolio.toml: the four seeds' funds, each once; hfea.toml: UPRO and TMF."""
    names, _ = config_symbols(ROOT / "config" / "portfolio.toml")
    assert sorted(set(names)) == sorted(
        {"UPRO", "TMF", "SPXL", "GLD", "TECL", "BITU", "RSST", "DFEN", "UTSL", "VXUS", "UGL",
         "USFR", "VXZ", "UBT"}
    )  # fmt: skip
    assert config_symbols(ROOT / "config" / "hfea.toml")[0] == ["UPRO", "TMF"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path: Path) -> None:
    """The text is built and written to a temporary file before the rename: a failure on the
    way (here a close that is not a number) leaves the previous file exactly as it was."""
    path = tmp_path / "UPRO.csv"
    write_closes(path, {date(2026, 9, 17): 61.42, date(2026, 9, 18): 62.0})
    before = path.read_text()

    with pytest.raises(TypeError):
        write_closes(path, {date(2026, 9, 18): "sixty"})  # type: ignore[dict-item]

    assert path.read_text() == before == "Date,Adj Close\n2026-09-17,61.42\n2026-09-18,62.0\n"
    assert [p.name for p in tmp_path.iterdir()] == ["UPRO.csv"]


def test_the_checks_name_a_stale_end_a_day_off_the_calendar_and_a_split_shaped_jump() -> None:
    closes = {
        date(2026, 9, 8): 10.0,
        date(2026, 9, 9): 100.0,  # ×10: a 1-for-10 reverse split left unadjusted?
        date(2026, 9, 12): 100.0,  # a Saturday
        date(2026, 9, 14): 100.0,
    }

    found = [str(p) for p in problems(closes, date(2026, 9, 18))]

    assert found == [
        "+900.0% on 2026-09-09 (from 10.0 to 100.0) is beyond the 50% limit: a bad print, or "
        "an unadjusted 1-for-10 reverse split?",
        "no bars for the 2 sessions 2026-09-10..2026-09-11",
        "a bar on 2026-09-12, which is not an XNYS session",
        "no bar after 2026-09-14: the 4 sessions up to 2026-09-18 are missing (stale, or no "
        "longer traded?)",
    ]
