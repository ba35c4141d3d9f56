"""`bot check` and the account banner, end to end against the fake Alpaca server.

The bot runs on the wall clock here (as `check` always does with an Alpaca account), so the
fake's clock is set to now and its bars end at the session before today, whatever today is. On a
day without a session, `check` still checks account, assets and data and says the market is
closed; nothing in these tests depends on today being a trading day.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from bot.cycle import NEW_YORK
from bot.market.sessions import xnys_sessions
from tests.fake_alpaca import FakeAlpaca

ROOT = Path(__file__).resolve().parent.parent
KEY, SECRET = "test-key", "test-secret"
WRONG_SECRET = "wrong-secret-DO-NOT-LEAK-91c2"
ACCOUNT = "PA3FAKE00001"  # the fake's account number


def _today() -> date:
    return datetime.now(UTC).astimezone(NEW_YORK).date()


def _previous_session() -> date:
    today = _today()
    return max(d for d in xnys_sessions(today - timedelta(days=14), today) if d < today)


@pytest.fixture
def fake() -> Iterator[FakeAlpaca]:
    """A healthy account with UPRO and TMF, bars up to the previous session, prices now."""
    today = _today()
    sessions = [d for d in xnys_sessions(today - timedelta(days=200), today) if d < today]
    with FakeAlpaca(key=KEY, secret=SECRET) as server:
        server.set_clock(datetime.now(UTC))
        for symbol, first, growth in (("UPRO", 80.0, 1.001), ("TMF", 40.0, 0.999)):
            closes = {day: first * growth**i for i, day in enumerate(sessions)}
            server.add_asset(symbol)
            server.set_bars(symbol, closes)
            server.set_price(symbol, Decimal(f"{closes[sessions[-1]] * 1.002:.2f}"))
        yield server
        assert server.errors == []


@pytest.fixture
def env(fake: FakeAlpaca, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keys and the fake's URL in the environment; an empty state directory."""
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's checkout
    for name in ("BOT_ALLOW_LIVE_TRADING", "APCA_API_DATA_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    monkeypatch.setenv("APCA_API_BASE_URL", fake.url)
    monkeypatch.setenv("BOT_STATE_DIR", str(tmp_path / "state"))
    return tmp_path


def alpaca_hfea(tmp_path: Path, weights: str = "{ UPRO = 0.55, TMF = 0.45 }") -> Path:
    """config/hfea.toml with the Alpaca broker (short timeouts) and the given weights."""
    text = (ROOT / "config" / "hfea.toml").read_text()
    text = re.sub(r"\[broker\]\n(?:[^\[\n].*\n)*", "", text)
    text = re.sub(r"^weights = .*$", f"weights = {weights}", text, flags=re.MULTILINE)
    text += '\n[broker]\nkind = "alpaca"\nconnect_timeout_seconds = 1\nread_timeout_seconds = 5\n'
    path = tmp_path / "hfea_alpaca.toml"
    path.write_text(text)
    return path


def check_json(
    config: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, dict[str, Any], str]:
    code = main(["check", "--config", str(config), "--json", *extra])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def test_check_passes_on_a_healthy_account_and_sends_nothing(
    env: Path, fake: FakeAlpaca, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every section is there and clean, ok is true, exit 0, and no order reaches the fake."""
    code, report, err = check_json(alpaca_hfea(env), capsys)

    assert (code, report["ok"], report["problems"]) == (0, True, [])
    assert report["broker"]["banner"] == f"ALPACA PAPER account {ACCOUNT} ({fake.url})"
    assert report["broker"]["banner"] in err  # the banner goes to stderr with --json
    assert report["credentials"]["ok"] is True
    assert (report["account"]["account_number"], report["account"]["status"]) == (
        ACCOUNT,
        "ACTIVE",
    )
    assert report["account"]["equity"] == "100000"
    assert set(report["assets"]["symbols"]) == {"UPRO", "TMF"}
    assert report["assets"]["symbols"]["TMF"]["tradable"] is True
    data = report["data"]
    assert data["today"] == _today().isoformat()
    assert data["previous_session"] == _previous_session().isoformat()
    for symbol in ("UPRO", "TMF"):
        assert data["symbols"][symbol]["last_complete_bar"] == _previous_session().isoformat()
    if data["trading_day"]:  # an initial rebalance is due: the dry run plans both buys
        assert report["would_trade"]["outcome"] == "planned"
        assert {o["symbol"] for o in report["would_trade"]["planned"]} == {"UPRO", "TMF"}
    else:
        assert report["would_trade"]["outcome"] == "closed"
        assert any("closed today" in note for note in report["notes"])
    assert fake.count("POST /v2/orders") == 0


def test_check_text_report_names_each_section(
    env: Path, fake: FakeAlpaca, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --json: the banner first, then the sections, then the verdict."""
    assert main(["check", "--config", str(alpaca_hfea(env))]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"ALPACA PAPER account {ACCOUNT} ({fake.url})"
    for section in ("credentials:", "account:", "assets:", "data:", "would trade:"):
        assert section in lines
    assert lines[-1] == "OK: every check passed"


def test_an_account_that_is_not_active_fails_the_check(
    env: Path, fake: FakeAlpaca, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.account_status = "INACTIVE"

    code, report, _ = check_json(alpaca_hfea(env), capsys)

    assert (code, report["ok"]) == (2, False)
    assert f"account {ACCOUNT} is INACTIVE, not ACTIVE" in report["problems"]
    assert report["would_trade"] == {"skipped": "fix the problems above first"}


def test_an_asset_that_is_not_tradable_fails_the_check(
    env: Path, fake: FakeAlpaca, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.add_asset("TMF", tradable=False)

    code, report, _ = check_json(alpaca_hfea(env), capsys)

    assert (code, report["ok"]) == (2, False)
    assert "TMF: not tradable at the broker" in report["problems"]
    assert report["assets"]["symbols"]["TMF"]["tradable"] is False


def test_an_unknown_symbol_fails_the_check(
    env: Path, fake: FakeAlpaca, capsys: pytest.CaptureFixture[str]
) -> None:
    """A strategy symbol the broker does not know: an asset problem (and no bars for it)."""
    config = alpaca_hfea(env, weights="{ UPRO = 0.55, ZZZQ = 0.45 }")

    code, report, _ = check_json(config, capsys)

    assert (code, report["ok"]) == (2, False)
    assert "ZZZQ: the broker does not know this asset" in report["problems"]
    assert report["assets"]["symbols"]["ZZZQ"] is None
    assert any(p.startswith("ZZZQ:") for p in report["data"]["problems"])  # and no bars


def test_a_wrong_secret_is_a_clear_credentials_problem_and_never_printed(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("APCA_API_SECRET_KEY", WRONG_SECRET)
    config = alpaca_hfea(env)

    code, report, err = check_json(config, capsys)
    text_code = main(["check", "--config", str(config)])
    text = capsys.readouterr()

    assert (code, text_code, report["ok"]) == (2, 2, False)
    [problem] = report["problems"]
    assert problem.startswith("credentials refused:")
    assert "401" in problem
    assert "APCA_API_SECRET_KEY" in problem
    assert "PROBLEM: credentials refused:" in text.out
    assert "Traceback" not in err + text.err
    for output in (json.dumps(report), err, text.out, text.err):
        assert WRONG_SECRET not in output
    tracker = env / "state" / "tracker.sqlite3"
    assert not tracker.exists() or WRONG_SECRET.encode() not in tracker.read_bytes()


def test_missing_credentials_are_a_problem_not_a_traceback(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("APCA_API_KEY_ID")

    code, report, err = check_json(alpaca_hfea(env), capsys)

    assert (code, report["ok"]) == (2, False)
    assert report["problems"] == [
        "credentials: APCA_API_KEY_ID and APCA_API_SECRET_KEY are not set (environment or .env)"
    ]
    assert "Traceback" not in err


def test_an_unreachable_server_is_a_problem_not_a_traceback(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing listens on port 1: the reads are retried, then reported (a few seconds)."""
    monkeypatch.setenv("APCA_API_BASE_URL", "http://127.0.0.1:1")

    code, report, err = check_json(alpaca_hfea(env), capsys)

    assert (code, report["ok"]) == (2, False)
    [problem] = report["problems"]
    assert problem.startswith("account unreadable: read the account: no answer from Alpaca")
    assert "Traceback" not in err


def test_live_without_the_setting_is_one_error_line(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = alpaca_hfea(env)
    for command in ("check", "once"):
        code = main([command, "--config", str(config), "--live"])
        captured = capsys.readouterr()

        assert code == 2
        assert captured.out == ""
        assert captured.err.splitlines() == [
            "error: --live needs BOT_ALLOW_LIVE_TRADING=true as well: refusing to trade real money"
        ]


def test_live_with_both_opt_ins_says_so_loudly(
    env: Path,
    fake: FakeAlpaca,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """BOT_ALLOW_LIVE_TRADING=true and --live (here still the fake, through the URL override)."""
    monkeypatch.setenv("BOT_ALLOW_LIVE_TRADING", "true")

    code, report, _ = check_json(alpaca_hfea(env), capsys, "--live")

    assert code == 0, report["problems"]
    assert report["broker"]["live"] is True
    assert report["broker"]["banner"] == (
        f"*** ALPACA LIVE account {ACCOUNT} ({fake.url}) — REAL MONEY ***"
    )


def test_the_setting_alone_stays_on_paper(
    env: Path,
    fake: FakeAlpaca,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("BOT_ALLOW_LIVE_TRADING", "true")

    code, report, _ = check_json(alpaca_hfea(env), capsys)

    assert code == 0, report["problems"]
    assert report["broker"]["banner"].startswith("ALPACA PAPER account")


def test_once_prints_the_banner_first(
    env: Path, fake: FakeAlpaca, capsys: pytest.CaptureFixture[str]
) -> None:
    """`bot once --dry-run`: the account line, then the result; with --json it goes to stderr."""
    config = alpaca_hfea(env)

    assert main(["once", "--config", str(config), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert main(["once", "--config", str(config), "--dry-run", "--json"]) == 0
    captured = capsys.readouterr()

    banner = f"ALPACA PAPER account {ACCOUNT} ({fake.url})"
    assert lines[0] == banner
    assert captured.err.splitlines()[0] == banner
    assert json.loads(captured.out)["outcome"] in {"planned", "closed"}
    assert fake.count("POST /v2/orders") == 0


def test_check_on_the_simulated_broker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """HFEA on the simulated broker (synthetic market, wall clock) passes."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BOT_STATE_DIR", str(tmp_path / "state"))
    text = re.sub(r"\[broker\]\n(?:[^\[\n].*\n)*", "", (ROOT / "config" / "hfea.toml").read_text())
    config = tmp_path / "hfea_simulated.toml"
    config.write_text(text + '\n[broker]\nkind = "simulated"\n')

    code, report, err = check_json(config, capsys)

    assert code == 0, report["problems"]
    assert report["broker"]["banner"] == (
        "SIMULATED broker — no real account, no real orders; its book and the tracker are in"
        f" {(tmp_path / 'state').resolve()}"
    )
    assert report["broker"]["banner"] in err


def test_a_refused_key_reads_as_one_sentence(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Alpaca's 'unauthorized.' with its full stop dropped, then what to check: no '.;'."""
    monkeypatch.setenv("APCA_API_SECRET_KEY", WRONG_SECRET)

    code, report, _ = check_json(alpaca_hfea(env), capsys)

    [problem] = report["problems"]
    assert code == 2
    assert ".;" not in problem
    assert problem.endswith(
        "Alpaca answered 401: unauthorized — the key was refused: check APCA_API_KEY_ID and"
        " APCA_API_SECRET_KEY (paper and live accounts have different keys)"
    )
