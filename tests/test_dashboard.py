"""``bot dashboard`` over HTTP (uvicorn on 127.0.0.1, the real app), on state directories the bot
made itself: the demo's, and a month of All In wakes on the fake Alpaca.

The numbers are checked against the tracker read independently (``bot tracker``'s lines, the
equity rows) and against ``bot backtest`` run as a user runs it (``--equity-csv``); the token and
the secrets against the raw answers.
"""

from __future__ import annotations

import csv
import html
import json
import secrets
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from bot.cli import main
from bot.errors import ConfigError
from bot.report import quarterly_lines
from bot.settings import Settings
from bot.tracker import EventKind, Tracker
from tests.alpaca_world import ROOT
from tests.dashboard_world import (
    ALL_IN_CONFIG,
    DEMO_CONFIG,
    AlpacaMonth,
    add_failed_wake,
    get,
    run_demo,
    serve,
)

PAGES = ["/", "/strategy/demo", "/strategy/demo/backtest", "/journal", "/health", "/api"]
API = [
    "/api/overview",
    "/api/account",
    "/api/health",
    "/api/journal",
    "/api/journal?day=2026-06-30&strategy=demo",
    "/api/strategies/demo",
    "/api/strategies/demo/backtest",
    "/healthz",
]


@pytest.fixture
def demo(dashboard_demo: Path) -> Path:
    return dashboard_demo


@pytest.fixture
def month(dashboard_month: AlpacaMonth) -> AlpacaMonth:
    return dashboard_month


def api(url: str) -> dict[str, object]:
    status, body, _ = get(url)
    assert status == 200, body
    result: dict[str, object] = json.loads(body)
    return result


def test_the_demo_equity_and_tracker_lines_are_the_trackers(demo: Path) -> None:
    """The strategy's series is the tracker's equity, and its quarterly lines are the ones
    `bot tracker` prints: $107,628 at 2026-06-30."""
    tracker = Tracker(demo / "tracker.sqlite3")
    rows = tracker.equity_history("demo")
    expected = [line.render() for line in quarterly_lines(rows)]
    tracker.close()

    with serve(demo, config=DEMO_CONFIG) as served:
        view = api(served.url + "/api/strategies/demo")
        _, html, _ = get(served.url + "/strategy/demo")

    assert expected == [line["text"] for line in view["tracker_lines"]]  # type: ignore[index,union-attr]
    assert expected[-1] == "2026-06-30: $107,628  (+7.6% since start)  (latest)"
    assert [[r.session.isoformat(), float(r.equity)] for r in rows] == view["equity"]
    assert "$107,628" in html
    assert "$105,534" in html


def test_the_drawdown_is_the_running_peaks(demo: Path) -> None:
    """The deepest drawdown matches one computed here from the equity rows: −13.6% from
    2026-01-20 to 2026-02-03, as the demo's summary prints."""
    tracker = Tracker(demo / "tracker.sqlite3")
    values = [(r.session, float(r.equity)) for r in tracker.equity_history("demo")]
    tracker.close()
    peak, worst = values[0][1], 0.0
    for _, value in values:
        peak = max(peak, value)
        worst = min(worst, value / peak - 1)

    with serve(demo, config=DEMO_CONFIG) as served:
        view = api(served.url + "/api/strategies/demo")

    deepest = view["max_drawdown"]
    assert isinstance(deepest, dict)
    assert worst == pytest.approx(deepest["depth"], abs=1e-12)
    assert (deepest["peak"], deepest["trough"]) == ("2026-01-20", "2026-02-03")
    assert f"{worst:.1%}" == "-13.6%"


def test_positions_against_targets_and_the_next_wake(demo: Path) -> None:
    """Nine funds, each with its target ± 1 pp; the journal's last order ids are listed."""
    with serve(demo, config=DEMO_CONFIG) as served:
        view = api(served.url + "/api/strategies/demo")
        journal = api(served.url + "/api/journal?day=2026-06-30")

    positions = view["positions"]
    assert isinstance(positions, dict)
    rows = {r["symbol"]: r for r in positions["symbols"]}
    assert len(rows) == 9
    assert rows["USFR"]["target"] == pytest.approx(0.15)
    for row in rows.values():
        assert row["upper"] - row["target"] == pytest.approx(0.01)
    assert "corridor" in view["next_wake"]["plan"]  # type: ignore[index]
    ids = [e["client_order_id"] for e in journal["events"] if e["client_order_id"]]  # type: ignore[union-attr]
    assert ids
    assert all(i.startswith("demo-20260630-") for i in ids)


def test_a_stale_heartbeat_and_an_error_are_shown(demo: Path, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    for name in ("tracker.sqlite3",):
        (state / name).write_bytes((demo / name).read_bytes())
    add_failed_wake(state, stale_beat_at=datetime(2026, 7, 1, 17, 0, tzinfo=UTC))

    with serve(state, config=DEMO_CONFIG, now=datetime(2026, 7, 1, 20, 0, tzinfo=UTC)) as served:
        health = api(served.url + "/api/health")
        status, page, _ = get(served.url + "/")
        healthz, _, _ = get(served.url + "/healthz")

    beat = health["heartbeat"]
    assert isinstance(beat, dict)
    assert (beat["ok"], beat["age_seconds"]) == (False, 3 * 3600.0)
    flags = health["data_flags"]
    assert isinstance(flags, list)
    assert "DataError: TMF: today's price 1.53" in flags[0]["summary"]
    assert "Heartbeat STALE" in page
    assert "ERROR DataError" in page
    assert "bad print" in page
    assert healthz == 503
    assert status == 200


def test_live_against_backtest_equals_bot_backtest_over_the_same_days(
    month: AlpacaMonth, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A month of wakes on the fake Alpaca: the dashboard's backtest line is `bot backtest`'s
    equity over the same days to 1e-9, and the gap it shows is live − backtest, its parts
    adding up to it."""
    first, last = month.sessions[0], month.sessions[-1]
    csv_path = tmp_path / "equity.csv"
    code = main(
        ["backtest", "--config", str(ALL_IN_CONFIG), "--data", str(month.data_dir),
         "--start", str(first), "--end", str(last), "--equity-csv", str(csv_path)]
    )  # fmt: skip
    capsys.readouterr()
    assert code == 0
    with csv_path.open() as file:
        expected = {row["Date"]: float(row["all_in"]) for row in csv.DictReader(file)}

    with serve(month.state_dir, config=ALL_IN_CONFIG, data_dir=month.data_dir) as served:
        view = api(served.url + "/api/strategies/all_in/backtest")
        _, html, _ = get(served.url + "/strategy/all_in/backtest")

    backtest = dict(view["backtest"])  # type: ignore[union-attr]
    assert len(month.sessions) == len(backtest) == len(expected) >= 20
    for day, value in expected.items():
        assert backtest[day] == pytest.approx(value, rel=1e-9, abs=0), day
    live = dict(view["live"])  # type: ignore[union-attr]
    gap = view["shortfall"]
    assert isinstance(gap, dict)
    assert gap["day"] == last.isoformat()
    assert gap["gap"] == pytest.approx(live[str(last)] - expected[str(last)], abs=1e-6)
    assert sum(gap["causes"].values()) == pytest.approx(gap["gap"], abs=1e-6)
    assert view["fills"] > 0
    assert "The gap and its causes" in html
    assert str(month.data_dir) in str(view["command"])


def test_the_token_is_required_for_every_request_when_set(demo: Path) -> None:
    token = secrets.token_urlsafe(24)
    with serve(demo, config=DEMO_CONFIG, token=token) as served:
        refused = [get(served.url + path)[0] for path in [*PAGES, *API]]
        wrong = get(served.url + "/", {"Authorization": "Bearer nope"})[0]
        bearer = get(served.url + "/api/overview", {"Authorization": f"Bearer {token}"})[0]
        status, _, headers = get(served.url + f"/journal?day=2026-06-30&token={token}")
        cookie = headers["set-cookie"].split(";")[0]
        with_cookie = get(served.url + "/journal?day=2026-06-30", {"Cookie": cookie})[0]

    assert {401} == set(refused)
    assert (wrong, bearer) == (401, 200)
    assert (status, headers["location"]) == (303, "/journal?day=2026-06-30")
    assert "httponly" in headers["set-cookie"].lower()
    assert with_cookie == 200


def test_a_bind_beyond_loopback_without_a_token_is_refused(
    demo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`bot dashboard --host 0.0.0.0` stops before binding anything; bot run's dashboard too."""
    monkeypatch.setenv("BOT_STATE_DIR", str(demo))
    monkeypatch.delenv("BOT_DASHBOARD_TOKEN", raising=False)

    code = main(["dashboard", "--host", "0.0.0.0", "--port", "1"])

    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --host 0.0.0.0 is reachable from other machines")
    from bot.dashboard.command import start_beside_daemon  # noqa: PLC0415

    with pytest.raises(ConfigError, match="BOT_DASHBOARD_TOKEN"):
        start_beside_daemon(
            Settings(BOT_STATE_DIR=demo, BOT_DASHBOARD_PORT=0, BOT_DASHBOARD_HOST="0.0.0.0"), []
        )


def test_no_secret_reaches_any_page_or_json(demo: Path, tmp_path: Path) -> None:
    """Random keys, webhook URL, SMTP password and token in the environment; the webhook URL
    even recorded in the journal (an alert channel's error message): no answer contains any."""
    webhook = f"https://hooks.example.invalid/services/{secrets.token_hex(16)}"
    planted = {
        "APCA_API_KEY_ID": "PK" + secrets.token_hex(8).upper(),
        "APCA_API_SECRET_KEY": secrets.token_urlsafe(30),
        "SLACK_WEBHOOK_URL": webhook,
        "SMTP_PASSWORD": secrets.token_urlsafe(18),
    }
    token = secrets.token_urlsafe(24)
    state = tmp_path / "state"
    state.mkdir()
    (state / "tracker.sqlite3").write_bytes((demo / "tracker.sqlite3").read_bytes())
    tracker = Tracker(state / "tracker.sqlite3")
    at = datetime(2026, 6, 30, 20, 0, tzinfo=UTC)
    tracker.record(
        at, "20260630-alert", "", EventKind.ALERT_FAILED, channel="slack",
        error=f"HTTPError: 500 from {webhook}", title="bot error",
    )  # fmt: skip
    tracker.close()

    with serve(state, config=DEMO_CONFIG, token=token, secrets=planted) as served:
        auth = {"Authorization": f"Bearer {token}"}
        answers = [get(served.url + path, auth) for path in [*PAGES, *API]]

    assert {200, 503} >= {status for status, _, _ in answers}
    everything = "\n".join(body + json.dumps(headers) for _, body, headers in answers)
    for value in [*planted.values(), token]:
        assert value not in everything
    assert "[redacted]" in everything  # the recorded webhook URL was scrubbed, not dropped


def test_a_secret_with_html_or_json_characters_is_scrubbed_in_every_spelling(
    demo: Path, tmp_path: Path
) -> None:
    """A password with & < > " ' recorded in an error: the page HTML-escapes it and the JSON
    escapes it, and neither spelling (nor the plain one) may reach any answer."""
    password = secrets.token_urlsafe(8) + "&<b>\"'" + secrets.token_urlsafe(8)
    webhook = f"https://hooks.example.invalid/x?key={secrets.token_hex(8)}&sig={secrets.token_hex(8)}"
    planted = {"SMTP_PASSWORD": password, "SLACK_WEBHOOK_URL": webhook}
    state = tmp_path / "state"
    state.mkdir()
    (state / "tracker.sqlite3").write_bytes((demo / "tracker.sqlite3").read_bytes())
    tracker = Tracker(state / "tracker.sqlite3")
    at = datetime(2026, 6, 30, 20, 0, tzinfo=UTC)
    tracker.record(
        at, "20260630-alert", "", EventKind.ALERT_FAILED, channel="email",
        error=f"login refused for {password} (webhook {webhook})", title="bot error",
    )  # fmt: skip
    tracker.close()

    with serve(state, config=DEMO_CONFIG, secrets=planted) as served:
        answers = [get(served.url + path) for path in [*PAGES, *API]]

    everything = "\n".join(body for _, body, _ in answers)
    for value in planted.values():
        for spelling in {value, html.escape(value), json.dumps(value)[1:-1]}:
            assert spelling not in everything
    assert "[redacted]" in everything


def test_a_first_snapshot_of_no_equity_gives_a_page_not_an_error(tmp_path: Path) -> None:
    """A wake on an unfunded account snapshots $0 (the cycle fails, the snapshot stays): the
    front page and its JSON still answer, with no return since a start of nothing."""
    state = tmp_path / "state"
    state.mkdir()
    tracker = Tracker(state / "tracker.sqlite3")
    for day, equity in [(date(2026, 6, 29), Decimal(0)), (date(2026, 6, 30), Decimal(1000))]:
        at = datetime.combine(day, datetime.min.time(), UTC).replace(hour=20)
        tracker.record(at, f"{day:%Y%m%d}-x", "demo", EventKind.CYCLE_STARTED, session=day)
        tracker.snapshot_equity(
            at=at, session=day, run_id=f"{day:%Y%m%d}-x", strategy="demo",
            equity=equity, sleeve_equity=equity,
        )  # fmt: skip
    tracker.close()

    with serve(state, config=DEMO_CONFIG) as served:
        page, overview = get(served.url + "/"), get(served.url + "/api/overview")

    assert page[0] == 200
    assert overview[0] == 200
    card = json.loads(overview[1])["strategies"][0]
    assert card["equity"] == 1000
    assert card["return_since_start"] is None


def test_tracker_lines_are_bot_trackers_when_a_session_has_two_snapshots(
    tmp_path: Path,
) -> None:
    """A re-run of a day snapshots twice; `bot tracker` reads each session's first row, and so
    must the strategy page (by hand: $100,000 then $120,000, +20%, and the latest $126,000)."""
    state = tmp_path / "state"
    state.mkdir()
    tracker = Tracker(state / "tracker.sqlite3")
    rows = [
        (date(2026, 1, 2), 100_000), (date(2026, 1, 2), 90_000),
        (date(2026, 4, 1), 120_000), (date(2026, 4, 1), 125_000), (date(2026, 4, 2), 126_000),
    ]  # fmt: skip
    for number, (day, equity) in enumerate(rows):
        at = datetime.combine(day, datetime.min.time(), UTC).replace(hour=19, minute=number)
        run = f"{day:%Y%m%d}-r{number}"
        tracker.record(at, run, "s", EventKind.CYCLE_STARTED, session=day)
        tracker.snapshot_equity(
            at=at, session=day, run_id=run, strategy="s",
            equity=Decimal(equity), sleeve_equity=Decimal(equity),
        )  # fmt: skip
    tracker.close()

    with serve(state) as served:
        status, body, _ = get(served.url + "/api/strategies/s")

    assert status == 200
    lines = [(x["period"], x["equity"]) for x in json.loads(body)["tracker_lines"]]
    assert lines == [("2026-01", 100_000), ("2026-04", 120_000), ("2026-04-02", 126_000)]


def test_the_api_link_opens_the_page_that_lists_the_json(demo: Path) -> None:
    """Every page's header links /api: a page for a person, the JSON under /api/…."""
    with serve(demo, config=DEMO_CONFIG) as served:
        page = get(served.url + "/api")
        data = get(served.url + "/api/overview")

    assert page[0] == 200
    assert page[2]["content-type"].startswith("text/html")
    assert "/api/overview" in page[1]
    assert data[2]["content-type"].startswith("application/json")


def test_bot_run_serves_the_dashboard_beside_the_daemon(demo: Path) -> None:
    """BOT_DASHBOARD_PORT starts the same app (here on a free port), read-only: a POST is
    refused."""
    from bot.dashboard.command import start_beside_daemon  # noqa: PLC0415
    from bot.dashboard.server import DashboardServer  # noqa: PLC0415

    settings = Settings(BOT_STATE_DIR=demo, BOT_DASHBOARD_PORT=0)
    server = start_beside_daemon(settings, [])
    assert isinstance(server, DashboardServer)
    try:
        status, body, _ = get(server.url + "api/overview")
        import urllib.request  # noqa: PLC0415

        post = urllib.request.Request(server.url + "api/overview", data=b"{}", method="POST")
        try:
            urllib.request.urlopen(post, timeout=30)
            post_status = 200
        except urllib.error.HTTPError as exc:
            post_status = exc.code
    finally:
        server.stop()

    assert status == 200
    assert "demo" in json.loads(body)["strategies"][0]["strategy"]
    assert post_status == 405
    assert date(2026, 6, 30).isoformat() in body


def test_a_replay_ends_by_printing_the_dashboard_command(tmp_path: Path) -> None:
    """The demo's last line names `bot dashboard` on its own state directory; the command line
    accepts it as printed."""
    from bot.cli import _parser  # noqa: PLC0415
    from bot.run_command import dashboard_hint  # noqa: PLC0415

    hint = dashboard_hint(Settings(BOT_STATE_DIR=tmp_path), [Path("config/demo.toml")])

    assert hint == (
        f"see it in the browser: BOT_STATE_DIR={tmp_path} bot dashboard --config "
        "config/demo.toml  (then open http://127.0.0.1:8787/)"
    )
    command = hint.split(f"BOT_STATE_DIR={tmp_path} ")[1].split("  (")[0]
    args = _parser().parse_args(command.split()[1:])
    assert (Path("config/demo.toml"), 8787, None) == (args.config, args.port, args.host)


def test_a_loopback_dashboard_answers_only_loopback_host_names(demo: Path) -> None:
    """A page elsewhere whose host name resolves to 127.0.0.1 (DNS rebinding) is refused: the
    request names its own host, not a loopback one."""
    with serve(demo) as served:
        local = get(served.url + "/api/overview", {"Host": "localhost:8787"})[0]
        rebound = get(served.url + "/api/overview", {"Host": "attacker.example:8787"})[0]

    assert (local, rebound) == (200, 400)


def test_the_backtest_is_scaled_to_the_accounts_starting_equity(tmp_path: Path) -> None:
    """An account that started with $50,000 is compared with $50,000 of the strategy: the
    backtest ($100,000 in the dashboard's config) is scaled by one half, and the two lines end
    within 0.1% of each other (unscaled they would be twice apart)."""
    text = DEMO_CONFIG.read_text()
    small = tmp_path / "demo50k.toml"
    small.write_text(
        text.replace("initial_cash = 100000", "initial_cash = 50000").replace(
            'end = "2026-06-30"', 'end = "2026-02-27"'
        )
    )
    state = tmp_path / "state"
    run_demo(state, small)

    with serve(state, config=DEMO_CONFIG) as served:
        view = api(served.url + "/api/strategies/demo/backtest")

    gap = view["shortfall"]
    assert isinstance(gap, dict)
    assert "scaled ×0.5 to the account's starting $50,000.00" in str(view["costs"])
    assert gap["live"] == pytest.approx(gap["backtest"], rel=1e-3)
    assert 40_000 < gap["live"] < 60_000


def test_a_calendar_strategys_next_wake_names_its_next_rebalance(tmp_path: Path) -> None:
    """HFEA (quarter starts) after its July rebalance, on Monday 2026-09-21 at 16:00 New York:
    the next wake is Tuesday's, 15:45, and the next rebalance Thursday 2026-10-01, the first
    session of the fourth quarter."""
    from bot.config import load_config  # noqa: PLC0415
    from bot.dashboard import state  # noqa: PLC0415
    from bot.triggers import CalendarRule, Schedule  # noqa: PLC0415

    july = dict(CalendarRule(Schedule.QUARTER_START).rebalance_dates([date(2026, 7, 1)]))
    tracker = Tracker(tmp_path / "tracker.sqlite3")
    at = datetime(2026, 7, 1, 19, 45, tzinfo=UTC)
    key = july[date(2026, 7, 1)]
    tracker.record(at, "20260701-x", "hfea", EventKind.REBALANCE_DONE, rebalance_key=key)
    now = datetime(2026, 9, 21, 20, 0, tzinfo=UTC)
    config = load_config(ROOT / "config" / "hfea.toml")

    action = state.next_action(tracker, "hfea", config, now, None)
    tracker.close()

    assert action is not None
    assert action["wake"]["new_york"] == "2026-09-22 15:45 EDT"
    assert action["next_rebalance"] == "2026-10-01"
    assert "calendar: next rebalance on 2026-10-01" in action["plan"]
