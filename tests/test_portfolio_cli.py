"""The commands on a portfolio file (the four seeds on the simulated broker, CSV closes of a
seeded synthetic market): once, check, status, targets, ledger (and --accept), backtest."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from bot.cli import main
from bot.market.sessions import xnys_sessions
from bot.market.synthetic import synthetic_closes

ROOT = Path(__file__).resolve().parent.parent
FUNDS = ["BITU", "DFEN", "GLD", "RSST", "SPXL", "TECL", "TMF", "UBT", "UGL", "UPRO", "USFR"]
FUNDS += ["UTSL", "VXUS", "VXZ"]
SEEDS = ["hfea", "uisx3", "all_in", "max_yield"]


@pytest.fixture
def portfolio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BOT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "closes"
    data.mkdir()
    frame = synthetic_closes(FUNDS, xnys_sessions(date(2024, 6, 3), date(2025, 3, 31)), seed=5)
    for symbol in FUNDS:
        column = frame[[symbol]].rename(columns={symbol: "Close"}).rename_axis("Date")
        column.to_csv(data / f"{symbol}.csv")
    shares = {"hfea": 0.4, "uisx3": 0.25, "all_in": 0.2, "max_yield": 0.15}
    sleeves = "".join(
        f'[[sleeves]]\nconfig = "{ROOT / "config" / f"{n}.toml"}"\nshare = {s}\n'
        for n, s in shares.items()
    )
    path = tmp_path / "portfolio.toml"
    path.write_text(
        f'name = "seeds"\n{sleeves}'
        '[broker]\nkind = "simulated"\ninitial_cash = 100000\nmargin_multiplier = 2\n'
        f'[market]\nsource = "csv"\ndata_dir = "{data}"\n'
        '[clock]\nkind = "simulated"\nstart = "2025-01-02"\nend = "2025-03-31"\n'
    )
    return path


def test_once_wakes_every_strategy_and_nets_their_orders(
    portfolio: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["once", "--config", str(portfolio)]) == 0
    out = capsys.readouterr().out
    assert "seeds: traded" in out
    for name in SEEDS:
        assert f"  {name}: traded" in out
    assert "seeds-20250102-TMF-buy" in out  # one netted TMF order for three strategies


def test_check_is_a_dry_run_of_the_wake(
    portfolio: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--config", str(portfolio)]) == 0
    out = capsys.readouterr().out
    assert "dry run:" in out
    assert "planned: buy" in out


def test_status_shows_each_strategy_against_its_targets(
    portfolio: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["once", "--config", str(portfolio)]) == 0
    capsys.readouterr()
    assert main(["status", "--config", str(portfolio), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert [s["strategy"] for s in status["strategies"]] == SEEDS
    for sleeve in status["strategies"]:
        assert sleeve["targets"], sleeve["strategy"]
        for symbol, target in sleeve["targets"].items():
            assert sleeve["weights"][symbol] == pytest.approx(target, abs=0.005)
    assert main(["status", "--config", str(portfolio)]) == 0
    assert "hfea (40% at the start)" in capsys.readouterr().out


def test_targets_of_every_strategy(portfolio: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = portfolio.parent / "closes"
    args = ["targets", "--config", str(portfolio), "--data", str(data), "--as-of", "2025-03-03"]
    assert main([*args, "--json"]) == 0
    documents = json.loads(capsys.readouterr().out)
    assert len(documents) == 4
    for document in documents.values():
        assert document["as_of"] == "2025-03-03"
        assert document["weights"]


def test_an_outside_trade_stops_the_wake_until_the_ledger_accepts_it(
    portfolio: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["once", "--config", str(portfolio)]) == 0
    book = portfolio.parent / "state" / "sim_broker_seeds.json"
    last = json.loads(book.read_text().splitlines()[-1])
    positions = dict(last["positions"])
    positions["TMF"] = str(Decimal(positions["TMF"]) - 100)  # sold by hand, outside the bot
    line = {"cash": last["cash"], "positions": positions, "charge": {"amount": "0", "why": "x"}}
    with book.open("a") as handle:
        handle.write(json.dumps(line) + "\n")
    capsys.readouterr()

    assert main(["once", "--config", str(portfolio), "--force"]) == 2
    assert "TMF -100" in capsys.readouterr().err
    assert main(["ledger", "--config", str(portfolio)]) == 0
    assert "refused difference" in capsys.readouterr().out
    assert main(["ledger", "--config", str(portfolio), "--accept"]) == 0
    assert "booked: accepted by hand: TMF -100" in capsys.readouterr().out
    assert main(["once", "--config", str(portfolio)]) == 0


def test_backtest_of_the_portfolio(portfolio: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = portfolio.parent / "closes"
    args = ["backtest", "--config", str(portfolio), "--data", str(data)]
    assert main([*args, "--start", "2025-01-02", "--end", "2025-03-31", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    curves = report["curves"]
    assert list(curves) == ["seeds", *SEEDS]
    total = sum(curves[n]["end"] for n in SEEDS)
    assert total == pytest.approx(curves["seeds"]["end"], rel=1e-9)
    assert float(report["sent_turnover"]) <= float(report["wanted_turnover"])


def test_the_daemon_runs_the_portfolio_as_one_and_prints_every_tracker(
    portfolio: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = portfolio.read_text().replace('end = "2025-03-31"', 'end = "2025-01-31"')
    portfolio.write_text(text)
    assert main(["run", "--config", str(portfolio)]) == 0
    out = capsys.readouterr().out
    assert "portfolio seeds (hfea, uisx3, all_in, max_yield)" in out
    for name in ["seeds", *SEEDS]:
        assert f"account tracker — {name}" in out
    assert main(["tracker", "--json"]) == 0
    lines = json.loads(capsys.readouterr().out)
    assert set(lines) == {"seeds", *SEEDS}
