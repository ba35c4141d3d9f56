"""The command line, end to end: the demo, once, targets, tracker, and one-line errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from bot.cli import main
from bot.market.sessions import xnys_sessions
from bot.tracker import EventKind, Tracker

ROOT = Path(__file__).resolve().parent.parent
REAL_DATA = ROOT.parent / "shared" / "data" / "etf_adjclose"


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty state directory for the CLI, through BOT_STATE_DIR."""
    state = tmp_path / "state"
    monkeypatch.setenv("BOT_STATE_DIR", str(state))
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's checkout
    return state


def simulated(config: str, tmp_path: Path, start: str, end: str) -> Path:
    """A copy of a shipped config on the simulated broker, with a simulated clock."""
    text = re.sub(r"\[broker\]\n(?:[^\[\n].*\n)*", "", (ROOT / "config" / config).read_text())
    text += '\n[broker]\nkind = "simulated"\n'

    path = tmp_path / config
    path.write_text(text + f'\n[clock]\nkind = "simulated"\nstart = "{start}"\nend = "{end}"\n')
    return path


def test_demo_runs_two_quarters_and_trades_exactly_when_drift_exceeds_one_point(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`bot run --config config/demo.toml`: one cycle per market day of 2026 H1, a trade exactly
    on the days whose drift was above 1 pp, and a tracker with quarterly lines."""
    code = main(["run", "--config", str(ROOT / "config" / "demo.toml")])

    out = capsys.readouterr().out
    assert code == 0
    assert "SYNTHETIC" in out
    assert "2026-01: $" in out
    assert "2026-04: $" in out
    tracker = Tracker(state_dir / "tracker.sqlite3")
    sessions = xnys_sessions(date(2026, 1, 2), date(2026, 6, 30))
    decisions = tracker.events(kind=EventKind.DECISION)
    drifts = tracker.events(kind=EventKind.DRIFT_MEASURED)
    assert [e.at[:10] for e in decisions] == [d.isoformat() for d in sessions]
    assert [e.payload["trade"] for e in decisions] == [
        Decimal(e.payload["max_drift"]) > Decimal("0.01") for e in drifts
    ]
    assert "2026-11-26" not in {e.at[:10] for e in decisions}  # sanity: only H1 sessions
    assert tracker.events(kind=EventKind.ERROR) == []
    # the summary ends with the period's deepest drawdown and the holdings, computed here again
    history = [float(row.equity) for row in tracker.equity_history("demo")]
    peaks = [max(history[: i + 1]) for i in range(len(history))]
    worst = min(v / p - 1 for v, p in zip(history, peaks, strict=True))
    assert f"max drawdown {worst:.1%}" in out
    assert "holdings after the last rebalance" in out
    assert "USFR 15.0%" in out  # All In's fixed sleeve


def test_demo_rerun_resumes_and_has_nothing_left(
    state_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Running a finished simulated period again does nothing and says how to replay it."""
    config = simulated("hfea.toml", tmp_path, "2026-03-30", "2026-04-02")
    assert main(["run", "--config", str(config)]) == 0
    capsys.readouterr()

    assert main(["run", "--config", str(config)]) == 0

    assert "already complete" in capsys.readouterr().out
    cycles = Tracker(state_dir / "tracker.sqlite3").events(kind=EventKind.CYCLE_FINISHED)
    assert len(cycles) == 4  # 03-30, 03-31, 04-01, 04-02: each exactly once


def test_hfea_config_trades_only_on_quarter_starts(
    state_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same daemon loop with HFEA's config trades on 2026-01-02, 04-01 and 07-01 only."""
    config = simulated("hfea.toml", tmp_path, "2026-01-02", "2026-07-10")

    assert main(["run", "--config", str(config)]) == 0

    finished = Tracker(state_dir / "tracker.sqlite3").events(kind=EventKind.CYCLE_FINISHED)
    traded = [e.at[:10] for e in finished if e.payload["outcome"] == "traded"]
    assert traded == ["2026-01-02", "2026-04-01", "2026-07-01"]
    assert len(finished) == len(xnys_sessions(date(2026, 1, 2), date(2026, 7, 10)))


def test_once_json_runs_the_next_simulated_day(
    state_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`bot once --json` on a simulated clock runs the next market day and prints JSON."""
    config = simulated("hfea.toml", tmp_path, "2026-04-01", "2026-04-30")

    assert main(["once", "--config", str(config), "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(["once", "--config", str(config), "--json"]) == 0
    second = json.loads(capsys.readouterr().out)

    assert (first["session"], first["outcome"]) == ("2026-04-01", "traded")
    assert {o["symbol"] for o in first["orders"]} == {"UPRO", "TMF"}
    assert (second["session"], second["outcome"]) == ("2026-04-02", "held")


def test_once_dry_run_sends_nothing(
    state_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--dry-run --force plans the orders and records them, and the broker sees none."""
    config = simulated("hfea.toml", tmp_path, "2026-04-02", "2026-04-30")

    assert main(["once", "--config", str(config), "--force", "--dry-run", "--json"]) == 0

    result = json.loads(capsys.readouterr().out)
    assert result["outcome"] == "planned"
    assert result["orders"] == []
    assert {(o["symbol"], o["leg"]) for o in result["planned"]} == {("UPRO", "buy"), ("TMF", "buy")}
    tracker = Tracker(state_dir / "tracker.sqlite3")
    assert len(tracker.events(kind=EventKind.ORDERS_PLANNED)) == 1
    assert tracker.events(kind=EventKind.ORDER_SUBMITTING) == []
    # A dry run does not use up the simulated day: the real run trades that same session.
    assert main(["once", "--config", str(config), "--force", "--json"]) == 0
    real = json.loads(capsys.readouterr().out)
    assert (real["session"], real["outcome"]) == (result["session"], "traded")


def test_targets_json_on_the_synthetic_market(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`bot targets --synthetic --json`: All In weights sum to 1 with USFR at exactly 0.15,
    and the made-up prices are named on stderr (stdout stays one JSON document)."""
    config = str(ROOT / "config/all_in.toml")
    code = main(["targets", "--config", config, "--as-of", "2026-03-02", "--synthetic", "--json"])

    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert code == 0
    assert captured.err.startswith("market: SYNTHETIC DATA")
    assert out["data"] == "synthetic"
    assert out["as_of"] == "2026-03-02"
    assert out["weights"]["USFR"] == 0.15
    assert sum(out["weights"].values()) == pytest.approx(1.0, abs=1e-12)
    assert len(out["weights"]) == 9


@pytest.mark.skipif(not REAL_DATA.is_dir(), reason=f"real data not present at {REAL_DATA}")
def test_targets_on_real_data_sum_to_one_with_usfr_at_15_percent(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """All In on the real closes of 2025-06-02: weights sum to 1, USFR 0.15, all eight funds."""
    code = main(
        [
            "targets",
            "--config",
            str(ROOT / "config/all_in.toml"),
            "--data",
            str(REAL_DATA),
            "--as-of",
            "2025-06-02",
            "--json",
        ]
    )

    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["prices_as_of"] == "2025-06-02"
    assert out["weights"]["USFR"] == 0.15
    assert sum(out["weights"].values()) == pytest.approx(1.0, abs=1e-12)
    assert all(out["weights"][s] > 0 for s in ("TECL", "BITU", "RSST", "DFEN"))


def test_a_malformed_config_prints_one_line_and_exits_non_zero(
    state_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A typo in a config is one 'error:' line on stderr, exit status 2, no traceback."""
    path = tmp_path / "bad.toml"
    path.write_text((ROOT / "config/hfea.toml").read_text().replace("cash_buffer", "cash_bufer"))

    code = main(["once", "--config", str(path)])

    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: config file")
    assert "sizing.cash_bufer: unknown key" in err
    assert "Traceback" not in err
    assert not (state_dir / "tracker.sqlite3").exists()


def test_tracker_without_state_explains_itself(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`bot tracker` before any run says where it looked and exits 2."""
    assert main(["tracker"]) == 2
    assert "no tracker at" in capsys.readouterr().err


def test_tracker_events_json_lists_every_event(
    state_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`bot tracker --events --json` returns the journal, each event with run id and strategy."""
    config = simulated("hfea.toml", tmp_path, "2026-04-01", "2026-04-01")
    main(["run", "--config", str(config)])
    capsys.readouterr()

    assert main(["tracker", "--events", "--json"]) == 0

    events = json.loads(capsys.readouterr().out)
    cycle = [e for e in events if e["strategy"] == "hfea"]
    assert events[0]["kind"] == "daemon_started"
    assert cycle[0]["kind"] == "cycle_started"
    assert cycle[-1]["kind"] == "cycle_finished"
    assert all(e["run_id"].startswith("20260401-") for e in cycle)
    assert main(["tracker", "--json"]) == 0
    lines = json.loads(capsys.readouterr().out)["hfea"]
    assert lines[0]["period"] == "2026-04"


def test_python_dash_m_bot_is_the_same_cli() -> None:
    """`python -m bot --help` lists the commands."""
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--help"], capture_output=True, text=True, check=True
    )
    for command in ("run", "once", "targets", "tracker"):
        assert command in done.stdout


def test_the_env_example_with_only_the_keys_filled_in_is_accepted_by_every_command(
    state_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`cp deploy/bot.env.example .env` and fill in the keys: the empty SLACK_WEBHOOK_URL,
    SMTP_* and ALERT_EMAIL_* lines mean "not set" for `run` as for `once` and `status`."""
    example = (ROOT / "deploy" / "bot.env.example").read_text()
    filled = example.replace("APCA_API_KEY_ID=\n", "APCA_API_KEY_ID=PKTEST\n")
    filled = filled.replace("APCA_API_SECRET_KEY=\n", "APCA_API_SECRET_KEY=s3cret\n")
    assert filled.count("s3cret") == 1
    (tmp_path / ".env").write_text(filled + "BOT_LOCK_WAIT_SECONDS=\nBOT_HEALTH_PORT=\n")
    config = simulated("hfea.toml", tmp_path, "2026-04-01", "2026-04-02")

    assert main(["once", "--config", str(config), "--dry-run"]) == 0
    assert main(["run", "--config", str(config)]) == 0
    assert main(["status", "--config", str(config)]) == 0

    captured = capsys.readouterr()
    assert "error" not in captured.err
    assert "2 cycles" in captured.out


def test_an_empty_or_blank_setting_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """Empty means "not set" for every variable: the default holds (None, or starttls)."""
    from bot.settings import Settings  # noqa: PLC0415 - the module under test

    for name in ("SLACK_WEBHOOK_URL", "SMTP_PORT", "SMTP_SECURITY", "BOT_HEALTH_PORT"):
        monkeypatch.setenv(name, "")
    monkeypatch.setenv("SMTP_USER", "  ")

    settings = Settings(_env_file=None, APCA_API_SECRET_KEY="")

    assert settings.slack_webhook_url is None
    assert settings.smtp_port is None
    assert settings.smtp_security == "starttls"
    assert settings.smtp_user is None
    assert settings.health_port is None
    assert settings.api_secret_key is None


def test_once_dry_run_prints_each_planned_order(
    state_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --json, a dry run lists what it would send: one line per planned order."""
    config = simulated("hfea.toml", tmp_path, "2026-04-02", "2026-04-30")

    assert main(["once", "--config", str(config), "--force", "--dry-run"]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("market: SYNTHETIC")
    assert "2 orders planned, none sent" in lines[2]
    assert "(0 orders)" not in lines[2]
    orders = sorted(line.split()[2] for line in lines[3:])
    assert orders == ["TMF", "UPRO"]
    assert all(
        re.match(r"  buy  [0-9.]+ \w+ \(~\$[0-9,.]+ at [0-9.]+; leg buy\)$", x) for x in lines[3:]
    )


def test_a_planned_order_line_names_side_amount_symbol_and_leg() -> None:
    """By quantity: 2.5 sh at $40 is ~$100.00; by notional: 3 sh at $33.333 is $99.99 sent
    (rounded down to the cent) and the quantity is only an estimate."""
    from bot.commands import planned_line  # noqa: PLC0415 - loads the cycle
    from bot.domain import Leg, PlannedOrder  # noqa: PLC0415

    by_qty = PlannedOrder("TMF", Leg.REDUCE_LONG, Decimal("2.5"), Decimal(40))
    by_value = PlannedOrder("UPRO", Leg.ADD_LONG, Decimal(3), Decimal("33.333"), by_notional=True)
    short = PlannedOrder("VXZ", Leg.ADD_SHORT, Decimal(4), Decimal("12.5"))

    assert planned_line(by_qty) == "sell 2.5 TMF (~$100.00 at 40.0000; leg reduce)"
    assert planned_line(by_value) == "buy  $99.99 of UPRO (by notional, ~3 sh at 33.3330; leg buy)"
    assert planned_line(short) == "sell 4 VXZ (~$50.00 at 12.5000; leg short)"


def test_tracker_lists_strategies_only_not_the_daemons_own_events(
    state_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The daemon's start/stop events carry no strategy: they are no empty first block."""
    config = simulated("hfea.toml", tmp_path, "2026-04-01", "2026-04-01")
    main(["run", "--config", str(config)])
    capsys.readouterr()

    assert main(["tracker"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("account tracker — hfea\n")
    assert out.count("account tracker") == 1
    assert main(["tracker", "--json"]) == 0
    assert list(json.loads(capsys.readouterr().out)) == ["hfea"]


def test_tracker_of_an_unknown_strategy_is_an_error_naming_the_known_ones(
    state_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`bot tracker --strategy nope`: one error line listing what the tracker holds, exit 2."""
    config = simulated("hfea.toml", tmp_path, "2026-04-01", "2026-04-01")
    main(["run", "--config", str(config)])
    capsys.readouterr()

    for extra in ([], ["--events"], ["--json"]):
        assert main(["tracker", "--strategy", "nope", *extra]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: --strategy 'nope': no such strategy in ")
        assert err.endswith("(recorded: hfea)\n")
        assert err.count("\n") == 1
    assert main(["tracker", "--strategy", "hfea"]) == 0


def test_after_the_daemon_ends_status_and_health_say_it_stopped(
    state_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A simulated `bot run` ends with its period: it records the stop, `bot health` fails
    saying why, and `bot status` shows the weights its rebalance left (not those before it)."""
    config = simulated("hfea.toml", tmp_path, "2026-04-01", "2026-04-01")
    assert main(["run", "--config", str(config)]) == 0
    capsys.readouterr()

    assert main(["health"]) == 1
    health = capsys.readouterr().out
    assert main(["status", "--config", str(config), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)

    assert health.startswith("unhealthy: the daemon stopped at ")
    assert health.endswith(" UTC (the simulated period ended on 2026-04-01)\n")
    assert status["daemon"]["state"] == "stopped"
    assert status["daemon"]["reason"] == "the simulated period ended on 2026-04-01"
    assert status["heartbeat"]["ok"] is False
    positions = status["positions"]
    assert positions["after_orders"] is True  # from cash to 55/45 that day
    current = {row["symbol"]: row["current"] for row in positions["symbols"]}
    assert current == pytest.approx({"UPRO": 0.55, "TMF": 0.45}, abs=0.002)


# ---- bot targets: where the prices come from, which dates, which weights ---------------------

MARCH_2026 = ["2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05", "2026-03-06"]  # Mon-Fri


def closes_dir(tmp_path: Path, symbols: dict[str, float]) -> Path:
    """One CSV per symbol with a close on each day of MARCH_2026, rising by 1 a day."""
    directory = tmp_path / "closes"
    directory.mkdir()
    for symbol, first in symbols.items():
        rows = [f"{day},{first + i}" for i, day in enumerate(MARCH_2026)]
        (directory / f"{symbol}.csv").write_text("Date,Close\n" + "\n".join(rows) + "\n")
    return directory


def targets_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run `bot targets ...`, expect exit 2 and one 'error:' line; return that line."""
    try:
        code = main(["targets", *argv])
    except SystemExit as exc:  # argparse's own refusals
        code = int(str(exc.code))
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1, err
    assert err.startswith("error: ")
    assert "Traceback" not in err
    return err.strip()


def test_targets_of_an_alpaca_config_need_real_closes_or_an_explicit_synthetic(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No silent made-up prices for a config that trades a real account."""
    err = targets_error(capsys, "--config", str(ROOT / "config/hfea.toml"))

    assert err == (
        "error: hfea trades an Alpaca account: its targets need real closes. Give --data DIR"
        " (per-symbol CSV closes), --data alpaca (Alpaca's daily bars, keys set) or --synthetic"
        " (made-up prices, to try the command)"
    )
    err = targets_error(capsys, "--config", str(ROOT / "config/hfea.toml"), "--synthetic",
                        "--data", "x")  # fmt: skip
    assert err == "error: --data: not allowed with argument --synthetic"


def test_targets_of_a_simulated_config_say_loudly_that_its_market_is_synthetic(
    state_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The demo trades its synthetic market: targets use it, and the first line says so."""
    assert main(["targets", "--config", str(ROOT / "config/demo.toml")]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "market: SYNTHETIC DATA — seeded random prices, not real market data"
    # the default date is the data's last close; the demo's synthetic market ends with its period
    assert lines[1] == "demo targets as of 2026-06-30 (prices of 2026-06-30, synthetic):"


def test_targets_on_csv_closes_default_to_the_last_close_and_refuse_dates_past_it(
    state_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Closes Mon 2 - Fri 6 March 2026: the default is the 6th; Sunday the 8th is answered with
    Friday's prices; Wednesday the 11th lacks three sessions (9, 10, 11)."""
    data = str(closes_dir(tmp_path, {"UPRO": 100.0, "TMF": 50.0}))
    config = str(ROOT / "config/hfea.toml")

    assert main(["targets", "--config", config, "--data", data, "--json"]) == 0
    default = json.loads(capsys.readouterr().out)
    assert main(["targets", "--config", config, "--data", data, "--as-of", "2026-03-08"]) == 0
    sunday = capsys.readouterr().out.splitlines()
    err = targets_error(capsys, "--config", config, "--data", data, "--as-of", "2026-03-11")

    assert (default["as_of"], default["prices_as_of"]) == ("2026-03-06", "2026-03-06")
    assert default["weights"] == {"UPRO": 0.55, "TMF": 0.45}
    assert sunday[0] == f"hfea targets as of 2026-03-08 (prices of 2026-03-06, {data}):"
    assert err == (
        f"error: --as-of 2026-03-11 is past the data ({data}): its last close of every symbol"
        " is on 2026-03-06, and 3 session(s) after it lack one"
    )


def test_targets_refuse_a_future_date_and_a_date_that_is_not_one(
    state_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Today is 2026-03-06 (frozen, New York): the 9th is the future; 'yesterday' no date."""
    from freezegun import freeze_time  # noqa: PLC0415 - only this test needs it

    data = str(closes_dir(tmp_path, {"UPRO": 100.0, "TMF": 50.0}))
    config = str(ROOT / "config/hfea.toml")

    with freeze_time("2026-03-06 20:00:00+00:00"):  # 15:00 New York
        future = targets_error(capsys, "--config", config, "--data", data, "--as-of", "2026-03-09")
    bad = targets_error(capsys, "--config", config, "--data", data, "--as-of", "yesterday")

    assert future == "error: --as-of 2026-03-09 is in the future (today is 2026-03-06 in New York)"
    assert bad == "error: --as-of: 'yesterday' is not a date (YYYY-MM-DD)"


def test_targets_that_short_without_allow_shorts_are_an_error(
    state_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """120% UPRO and -20% TMF sum to 1 but short TMF, which the sizing does not allow: the
    config is refused as it loads (a short fixed weight needs the same permission as a short
    leg), before any price is read."""
    data = str(closes_dir(tmp_path, {"UPRO": 100.0, "TMF": 50.0}))
    config = tmp_path / "levered.toml"
    config.write_text(
        'name = "levered"\n[strategy]\nkind = "fixed"\nweights = { UPRO = 1.2, TMF = -0.2 }\n'
        '[trigger]\nkind = "calendar"\nschedule = "quarter_start"\n'
    )

    err = targets_error(capsys, "--config", str(config), "--data", data)

    assert err == (
        f"error: config file {config} is invalid: negative weights short TMF: set "
        "sizing.allow_shorts = true"
    )


def test_targets_from_alpacas_daily_bars(
    state_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """`--data alpaca`: the same closes served as daily bars by the fake Alpaca server give
    the same answer as the CSV files."""
    from tests.fake_alpaca import FakeAlpaca  # noqa: PLC0415 - a server only here

    key, secret = "PKTARGETS", "targets-secret-never-printed"
    config = str(ROOT / "config/hfea.toml")
    with FakeAlpaca(key=key, secret=secret) as server:
        for symbol, first in (("UPRO", 100.0), ("TMF", 50.0)):
            server.add_asset(symbol)
            server.set_bars(
                symbol, {date.fromisoformat(d): first + i for i, d in enumerate(MARCH_2026)}
            )
        monkeypatch.delenv("APCA_API_DATA_URL", raising=False)
        monkeypatch.setenv("APCA_API_KEY_ID", key)
        monkeypatch.setenv("APCA_API_SECRET_KEY", secret)
        monkeypatch.setenv("APCA_API_BASE_URL", server.url)
        code = main(["targets", "--config", config, "--data", "alpaca", "--as-of", "2026-03-06",
                     "--json"])  # fmt: skip
        assert server.errors == []

    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert code == 0
    assert (out["prices_as_of"], out["data"]) == ("2026-03-06", "alpaca")
    assert out["weights"] == {"UPRO": 0.55, "TMF": 0.45}
    assert secret not in captured.out + captured.err


def test_a_simulated_broker_without_a_clock_says_which_clock_to_add_on_a_closed_day(
    state_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """HFEA switched to the simulated broker as the README says, run on Sunday 2026-12-06:
    closed, and the note gives the [clock] to add: the last session before today is Friday
    12-04; 91 days before it is Friday 09-04, a session. With that section added, `once` runs
    the first of those days."""
    from freezegun import freeze_time  # noqa: PLC0415 - only this test needs it

    text = re.sub(r"\[broker\]\n(?:[^\[\n].*\n)*", "", (ROOT / "config/hfea.toml").read_text())
    config = tmp_path / "hfea_offline.toml"
    config.write_text(text + '\n[broker]\nkind = "simulated"\n')

    with freeze_time("2026-12-06 15:00:00+00:00"):
        assert main(["once", "--config", str(config)]) == 0
    lines = capsys.readouterr().out.splitlines()
    section = lines[lines.index("  [clock]") :]
    config.write_text(config.read_text() + "\n".join(line.strip() for line in section) + "\n")
    monkeypatch.setenv("BOT_STATE_DIR", str(tmp_path / "state-replay"))
    assert main(["once", "--config", str(config)]) == 0
    replay = capsys.readouterr().out.splitlines()

    assert lines[1] == "market: SYNTHETIC DATA — seeded random prices, not real market data"
    assert lines[2] == "2026-12-06 hfea: closed — 2026-12-06 is not a trading day (0 orders)"
    assert lines[3].startswith("note: this config's simulated broker runs on the wall clock")
    assert section == ["  [clock]", '  kind = "simulated"', '  start = "2026-09-04"',
                       '  end = "2026-12-04"']  # fmt: skip
    assert replay[2].startswith("2026-09-04 hfea: traded — initial rebalance")


@pytest.mark.parametrize("name", ["hfea", "all_in", "uisx3", "max_yield"])
def test_the_readmes_offline_sections_turn_each_strategy_config_into_a_replay(
    state_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    """The README's [broker]/[clock] block, put in place of a shipped config's [broker]: `bot
    once` runs the first session of its period, 2026-01-02, on the synthetic market."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"To try one offline.*?```toml\n(.*?)```", readme, re.DOTALL)
    assert block is not None
    text = re.sub(r"\[broker\]\n(?:[^\[\n].*\n)*", "", (ROOT / f"config/{name}.toml").read_text())
    config = tmp_path / f"{name}.toml"
    config.write_text(text + "\n" + block.group(1))

    assert main(["once", "--config", str(config), "--json"]) == 0

    result = json.loads(capsys.readouterr().out)
    assert result["session"] == "2026-01-02"
    assert result["outcome"] in ("traded", "held")


# ---- the parser: --version, help texts, argument errors ---------------------------------------


def run_parser(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """`bot ARGV` for what ends in argparse (help, version, a refused argument)."""
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    out, err = capsys.readouterr()
    return int(str(exited.value.code)), out, err


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    """`bot --version`: the version pyproject.toml declares (the package is installed)."""
    import tomllib  # noqa: PLC0415 - only here

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]

    assert run_parser(capsys, "--version") == (0, f"bot (letf-rebalancer) {declared}\n", "")


def test_every_flag_of_every_command_has_help_text() -> None:
    """No bare `--flag FLAG` in any `bot COMMAND --help`."""
    import argparse  # noqa: PLC0415 - only here

    from bot.cli import _parser  # noqa: PLC0415 - the parser itself

    parser = _parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    nested = [  # bot data fetch
        (f"{name} {inner}", inner_parser)
        for name, sub in commands.choices.items()
        for action in sub._actions
        if isinstance(action, argparse._SubParsersAction)
        for inner, inner_parser in action.choices.items()
    ]
    bare = [
        f"{name} {'/'.join(action.option_strings) or action.dest}"
        for name, sub in [("bot", parser), *commands.choices.items(), *nested]
        for action in sub._actions
        if not action.help and not isinstance(action, argparse._SubParsersAction)
    ]

    assert {  # the eight, ledger, data and dashboard (other commands may follow)
        "run", "once", "check", "targets", "backtest", "status", "health", "tracker", "ledger",
        "data", "dashboard",
    } <= set(commands.choices)  # fmt: skip
    assert [name for name, _ in nested] == ["data fetch"]
    assert bare == []


def test_the_top_level_help_names_every_command_without_markup(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Plain text (no reStructuredText double backticks), every command listed and described."""
    code, out, _ = run_parser(capsys, "--help")

    assert code == 0
    assert "``" not in out
    for command in ("run", "once", "check", "targets", "backtest", "status", "health", "tracker"):
        assert re.search(rf"^    {command} +\S", out, re.MULTILINE), command
    assert "bot run --config config/demo.toml" in out


@pytest.mark.parametrize("value", ["-5", "0", "nan", "soon"])
def test_health_refuses_an_age_that_is_not_above_zero(
    capsys: pytest.CaptureFixture[str], value: str
) -> None:
    """`bot health --max-age-minutes -5` would call every heartbeat stale: refused, one line."""
    code, out, err = run_parser(capsys, "health", "--max-age-minutes", value)

    assert (code, out) == (2, "")
    assert err == f"error: --max-age-minutes: '{value}' is not a number above 0\n"


def test_a_missing_argument_is_one_error_line(capsys: pytest.CaptureFixture[str]) -> None:
    """argparse's own refusals follow the bot's rule too: one line, exit 2, no usage block."""
    assert run_parser(capsys, "once") == (
        2, "", "error: the following arguments are required: --config\n"
    )  # fmt: skip
