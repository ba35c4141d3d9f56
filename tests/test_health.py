"""The heartbeat file, the loopback /healthz server (a real HTTP client against it) and the
Docker healthcheck's exit codes, all at fixed times."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from bot.bootstrap import heartbeat_path
from bot.health import HealthServer, Heartbeat, healthcheck_main
from bot.settings import Settings

T = datetime(2026, 11, 27, 17, 45, tzinfo=UTC)
TEN_MINUTES = timedelta(minutes=10)


class FixedClock:
    """A clock that says ``moment`` until a test moves it."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def now(self) -> datetime:
        """The current fixed time."""
        return self.moment


def test_beat_writes_time_pid_and_info_as_json(tmp_path: Path) -> None:
    """The file holds the clock's time, this process's pid and the caller's fields."""
    path = tmp_path / "run" / "heartbeat.json"

    Heartbeat(path, FixedClock(T)).beat(strategies=["hfea"], state="sleeping")

    assert json.loads(path.read_text()) == {
        "at": "2026-11-27T17:45:00+00:00",
        "pid": os.getpid(),
        "strategies": ["hfea"],
        "state": "sleeping",
    }


def test_beat_replaces_the_file_whole(tmp_path: Path) -> None:
    """A beat renames a new file over the old one (new inode, no temp file left): a reader
    that opened the old beat still reads it complete, never half of the new one."""
    path = tmp_path / "heartbeat.json"
    clock = FixedClock(T)
    heartbeat = Heartbeat(path, clock)
    heartbeat.beat(n=1)
    before = path.stat().st_ino

    with path.open() as reader:
        clock.moment = T + timedelta(minutes=1)
        heartbeat.beat(n=2)
        old = json.loads(reader.read())

    assert old["n"] == 1
    assert json.loads(path.read_text())["n"] == 2
    assert path.stat().st_ino != before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["heartbeat.json"]


def test_a_failed_write_is_logged_not_raised(tmp_path: Path) -> None:
    """A heartbeat that cannot be written (here the path is a directory) must not stop the
    daemon: it logs a warning and the beat is simply missing."""
    path = tmp_path / "heartbeat.json"
    path.mkdir()
    heartbeat = Heartbeat(path, FixedClock(T))

    with capture_logs() as logs:
        heartbeat.beat()

    assert [e["event"] for e in logs] == ["heartbeat_write_failed"]
    assert heartbeat.age(T) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["heartbeat.json"]


@pytest.mark.parametrize(
    ("now", "age", "fresh"),
    [
        (T, timedelta(0), True),
        (T + timedelta(minutes=5), timedelta(minutes=5), True),
        (T + TEN_MINUTES, TEN_MINUTES, True),  # the limit itself is still fresh
        (T + TEN_MINUTES + timedelta(seconds=1), TEN_MINUTES + timedelta(seconds=1), False),
        (T - timedelta(minutes=11), timedelta(minutes=11), False),  # a beat from the future
    ],
)
def test_age_and_freshness_at_fixed_times(
    tmp_path: Path, now: datetime, age: timedelta, fresh: bool
) -> None:
    """Age is now minus the beat; fresh means within ten minutes either way."""
    heartbeat = Heartbeat(tmp_path / "heartbeat.json", FixedClock(T))
    heartbeat.beat()

    assert heartbeat.age(now) == (age if now >= T else -age)
    assert heartbeat.is_fresh(now, TEN_MINUTES) is fresh


@pytest.mark.parametrize("content", [None, "", "{not json", '{"pid": 1}', '{"at": "2026-11-27"}'])
def test_no_beat_or_an_unreadable_one_is_never_fresh(tmp_path: Path, content: str | None) -> None:
    """Missing, empty, corrupt, time-less or naive-time files count as no heartbeat at all."""
    path = tmp_path / "heartbeat.json"
    if content is not None:
        path.write_text(content)
    heartbeat = Heartbeat(path, FixedClock(T))

    assert heartbeat.age(T) is None
    assert heartbeat.is_fresh(T, TEN_MINUTES) is False


def test_without_a_file_the_beat_lives_in_memory() -> None:
    """With no path the in-process /healthz still has something to report."""
    heartbeat = Heartbeat(None, FixedClock(T))
    heartbeat.beat(state="idle")

    assert heartbeat.age(T + timedelta(seconds=30)) == timedelta(seconds=30)
    assert heartbeat.read() == {"at": T.isoformat(), "pid": os.getpid(), "state": "idle"}


# ---- /healthz --------------------------------------------------------------------------------


def get(port: int, path: str) -> tuple[int, dict[str, Any]]:
    """GET a path on loopback with the stdlib client; the status and the JSON body."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


@pytest.fixture
def clock() -> FixedClock:
    """The clock the heartbeat and the server share."""
    return FixedClock(T)


@pytest.fixture
def server(tmp_path: Path, clock: FixedClock) -> Iterator[HealthServer]:
    """A health server on a free loopback port over a heartbeat file."""
    heartbeat = Heartbeat(tmp_path / "heartbeat.json", clock)
    with HealthServer(heartbeat, port=0, max_age=TEN_MINUTES) as health:
        yield health


def test_healthz_is_200_with_the_beat_while_fresh(server: HealthServer, clock: FixedClock) -> None:
    """A beat one minute old: 200, ok, and the beat's own fields."""
    server.heartbeat.beat(strategies=["hfea"])
    clock.moment = T + timedelta(minutes=1)

    code, body = get(server.port, "/healthz")

    assert code == 200
    assert body["ok"] is True
    assert body["at"] == T.isoformat()
    assert body["pid"] == os.getpid()
    assert body["strategies"] == ["hfea"]
    assert body["age_seconds"] == 60


def test_healthz_is_503_when_stale_or_missing(server: HealthServer, clock: FixedClock) -> None:
    """No beat yet: 503. A beat eleven minutes old: 503, with its age."""
    missing = get(server.port, "/healthz")
    server.heartbeat.beat()
    clock.moment = T + timedelta(minutes=11)

    code, body = get(server.port, "/healthz")

    assert missing[0] == 503
    assert missing[1]["ok"] is False
    assert code == 503
    assert body["ok"] is False
    assert body["age_seconds"] == 660


def test_other_paths_are_404_and_a_query_string_is_ignored(
    server: HealthServer, clock: FixedClock
) -> None:
    """Only /healthz answers; ``/healthz?verbose`` is still /healthz."""
    server.heartbeat.beat()

    assert get(server.port, "/")[0] == 404
    assert get(server.port, "/healthz/extra")[0] == 404
    assert get(server.port, "/healthz?verbose=1")[0] == 200


def test_stop_closes_the_port(tmp_path: Path) -> None:
    """After stop nothing listens on the port any more (and stop twice is harmless)."""
    server = HealthServer(Heartbeat(None, FixedClock(T)), port=0)
    server.start()
    port = server.port
    assert port != 0

    server.stop()
    server.stop()

    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5)


# ---- the Docker healthcheck ------------------------------------------------------------------


def test_healthcheck_exits_0_on_a_fresh_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A beat two minutes old, limit ten: healthy."""
    path = tmp_path / "heartbeat.json"
    Heartbeat(path, FixedClock(T)).beat()

    code = healthcheck_main(path, TEN_MINUTES, clock=FixedClock(T + timedelta(minutes=2)))

    assert code == 0
    assert capsys.readouterr().out == "healthy: last heartbeat 120s ago (limit 600s)\n"


def test_healthcheck_exits_1_on_a_stale_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A beat an hour old, limit ten minutes: unhealthy."""
    path = tmp_path / "heartbeat.json"
    Heartbeat(path, FixedClock(T)).beat()

    code = healthcheck_main(path, TEN_MINUTES, clock=FixedClock(T + timedelta(hours=1)))

    assert code == 1
    assert capsys.readouterr().out == "unhealthy: last heartbeat 3600s ago (limit 600s)\n"


def test_healthcheck_exits_1_without_a_heartbeat(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No file yet, or no file configured: unhealthy, saying which."""
    missing = healthcheck_main(tmp_path / "nothing.json", TEN_MINUTES, clock=FixedClock(T))
    unset = healthcheck_main(None, TEN_MINUTES, clock=FixedClock(T))

    out = capsys.readouterr().out.splitlines()
    assert (missing, unset) == (1, 1)
    assert out[0].startswith("unhealthy: no readable heartbeat at ")
    assert out[1] == "unhealthy: no heartbeat file configured (set BOT_HEARTBEAT_FILE)"


def test_the_heartbeat_file_defaults_to_the_state_directory(tmp_path: Path) -> None:
    """Unset, the heartbeat lives in the state directory; BOT_HEARTBEAT_FILE moves it."""
    state = tmp_path / "state"

    default = heartbeat_path(Settings(state_dir=state))
    chosen = heartbeat_path(Settings(state_dir=state, heartbeat_file=tmp_path / "hb.json"))

    assert default == state / "heartbeat.json"
    assert chosen == tmp_path / "hb.json"


def test_the_last_beat_of_a_stopped_daemon_is_unhealthy_however_recent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The daemon wrote its stop beat two minutes ago (limit ten): unhealthy, saying when and
    why it stopped; /healthz's answer is not ok either."""
    path = tmp_path / "heartbeat.json"
    Heartbeat(path, FixedClock(T)).beat(stopped=True, reason="SIGTERM")
    later = FixedClock(T + timedelta(minutes=2))

    code = healthcheck_main(path, TEN_MINUTES, clock=later)

    assert code == 1
    assert capsys.readouterr().out == (
        "unhealthy: the daemon stopped at 2026-11-27 17:45:00 UTC (SIGTERM)\n"
    )
    status = Heartbeat(path, later).status(later.now(), TEN_MINUTES)
    assert status["ok"] is False
    assert status["stopped"] is True
    assert status["age_seconds"] == 120


def test_a_restart_after_a_stop_is_healthy_again(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The next start's beat replaces the stop beat whole."""
    path = tmp_path / "heartbeat.json"
    Heartbeat(path, FixedClock(T)).beat(stopped=True, reason="SIGTERM")
    Heartbeat(path, FixedClock(T + timedelta(minutes=1))).beat(started="now")

    code = healthcheck_main(path, TEN_MINUTES, clock=FixedClock(T + timedelta(minutes=2)))

    assert code == 0
    assert capsys.readouterr().out == "healthy: last heartbeat 60s ago (limit 600s)\n"
