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
    """`bot targets --json`: All In weights sum to 1 with USFR at exactly 0.15."""
    code = main(
        ["targets", "--config", str(ROOT / "config/all_in.toml"), "--as-of", "2026-03-02", "--json"]
    )

    out = json.loads(capsys.readouterr().out)
    assert code == 0
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
    assert "2 orders planned, none sent" in lines[1]
    assert "(0 orders)" not in lines[1]
    orders = sorted(line.split()[2] for line in lines[2:])
    assert orders == ["TMF", "UPRO"]
    assert all(
        re.match(r"  buy  [0-9.]+ \w+ \(~\$[0-9,.]+ at [0-9.]+; leg buy\)$", x) for x in lines[2:]
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
