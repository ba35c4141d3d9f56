"""The state directory's lock: one bot process (run, once or check) per state directory.

The holder in these tests is a separate Python process (flock locks belong to open files, and
the real contenders are processes), told over a pipe when to let go, so nothing here waits on a
timer except the refusal tests, whose wait is the point.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.errors import ConfigError, StateError
from bot.state_lock import LOCK_FILE, lock_wait_seconds, state_lock
from bot.stopping import StopToken

ROOT = Path(__file__).resolve().parent.parent

HOLDER = """
import sys
from pathlib import Path
from bot.state_lock import state_lock
with state_lock(Path(sys.argv[1]), sys.argv[2]):
    print("held", flush=True)
    sys.stdin.readline()
"""


class Holder:
    """Another process holding the lock until :meth:`release`."""

    def __init__(self, state_dir: Path, command: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(state_dir), command],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline() == "held\n"  # blocks until it holds the lock

    @property
    def pid(self) -> int:
        return self.process.pid

    def release(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write("go\n")
        self.process.stdin.flush()
        assert self.process.wait(timeout=30) == 0


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[Holder]:
    """`bot run` (as far as the lock file says) holding ``tmp_path / "state"``."""
    held = Holder(tmp_path / "state", "bot run")
    yield held
    if held.process.poll() is None:
        held.process.kill()
        held.process.wait()


def test_a_second_holder_is_refused_at_once_with_the_holders_pid_and_command(
    tmp_path: Path, holder: Holder
) -> None:
    """Without a wait, refusal is immediate and names the holder, its command and the path."""
    state = tmp_path / "state"
    with pytest.raises(StateError) as refused, state_lock(state, "bot run"):
        pass  # pragma: no cover - never reached

    message = str(refused.value)
    assert message.startswith(f"another bot process (pid {holder.pid}, `bot run`) holds state-dir")
    assert str(state) in message
    assert "\n" not in message


def test_the_lock_is_released_when_the_block_ends_and_says_who_holds_it(tmp_path: Path) -> None:
    """The holder writes its pid and command; after the block the next process gets it."""
    state = tmp_path / "state"
    with state_lock(state, "bot once"):
        assert (state / LOCK_FILE).read_text() == f"{os.getpid()} bot once\n"
    with state_lock(state, "bot check"):
        assert (state / LOCK_FILE).read_text() == f"{os.getpid()} bot check\n"


def test_one_process_cannot_take_it_twice(tmp_path: Path) -> None:
    """A second open of the lock file, even in the same process, is a second contender."""
    with state_lock(tmp_path, "bot run"), pytest.raises(StateError, match="another bot process"):  # noqa: SIM117
        with state_lock(tmp_path, "bot once"):
            pass  # pragma: no cover - never reached


def test_a_waiting_process_gets_the_lock_as_soon_as_the_holder_lets_go(
    tmp_path: Path, holder: Holder
) -> None:
    """`once` and `check` wait: the moment the holder ends, the waiter proceeds."""
    state = tmp_path / "state"
    got: list[float] = []

    def wait_for_it() -> None:
        with state_lock(state, "bot once", wait_seconds=30):
            got.append(time.monotonic())

    waiter = threading.Thread(target=wait_for_it)
    waiter.start()
    assert not got  # still held
    released = time.monotonic()
    holder.release()
    waiter.join(timeout=30)

    assert len(got) == 1
    assert got[0] - released < 5  # it polls every 50 ms; far below the 30 s allowed


def test_a_wait_that_runs_out_is_refused_naming_the_setting(tmp_path: Path, holder: Holder) -> None:
    """After BOT_LOCK_WAIT_SECONDS, one line: who holds it, how long it waited, what to do."""
    start = time.monotonic()
    with (
        pytest.raises(StateError) as refused,
        state_lock(tmp_path / "state", "bot once", wait_seconds=0.3),
    ):
        pass  # pragma: no cover - never reached

    assert time.monotonic() - start >= 0.3
    assert f"(pid {holder.pid}, `bot run`)" in str(refused.value)
    assert "waited 0.3 s (BOT_LOCK_WAIT_SECONDS)" in str(refused.value)


def test_a_stop_request_ends_the_wait(tmp_path: Path, holder: Holder) -> None:
    """SIGTERM while waiting for the lock: give up at once, nothing was done."""
    stop = StopToken()
    stop.request("SIGTERM")
    start = time.monotonic()
    with (
        pytest.raises(StateError, match=r"stopped \(SIGTERM\) while waiting"),
        state_lock(tmp_path / "state", "bot once", wait_seconds=30, stop=stop),
    ):
        pass  # pragma: no cover - never reached
    assert time.monotonic() - start < 5


def test_the_wait_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """BOT_LOCK_WAIT_SECONDS: 10 by default, any number ≥ 0; anything else is a config error."""
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.delenv("BOT_LOCK_WAIT_SECONDS", raising=False)
    assert lock_wait_seconds() == 10.0
    monkeypatch.setenv("BOT_LOCK_WAIT_SECONDS", "2.5")
    assert lock_wait_seconds() == 2.5
    for bad in ("-1", "soon", "nan", "inf"):
        monkeypatch.setenv("BOT_LOCK_WAIT_SECONDS", bad)
        with pytest.raises(ConfigError, match="BOT_LOCK_WAIT_SECONDS"):
            lock_wait_seconds()


# --- the commands ------------------------------------------------------------------------------


def simulated_hfea(tmp_path: Path) -> Path:
    """config/hfea.toml on the simulated broker and a simulated clock (no network)."""
    text = re.sub(r"\[broker\]\n(?:[^\[\n].*\n)*", "", (ROOT / "config" / "hfea.toml").read_text())
    text += '\n[broker]\nkind = "simulated"\n'
    text += '\n[clock]\nkind = "simulated"\nstart = "2026-04-01"\nend = "2026-04-30"\n'
    path = tmp_path / "hfea.toml"
    path.write_text(text)
    return path


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BOT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("BOT_LOCK_WAIT_SECONDS", "0.2")
    return tmp_path


@pytest.mark.parametrize(
    "argv",
    [
        ["once"],
        ["once", "--dry-run"],
        ["once", "--force", "--json"],
        ["check"],
        ["check", "--json"],
        ["run"],
    ],
    ids=" ".join,
)
def test_every_command_that_runs_a_cycle_refuses_a_held_state_directory(
    cli_env: Path, holder: Holder, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    """Exit 2 and one error line on stderr (after the log line saying it waits); nothing
    written to the tracker."""
    config = simulated_hfea(cli_env)
    command, *flags = argv

    code = main([command, "--config", str(config), *flags])

    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    (line,) = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert line.startswith(f"error: another bot process (pid {holder.pid}, `bot run`) holds")
    assert not (cli_env / "state" / "tracker.sqlite3").exists()


def test_run_refuses_at_once_whatever_the_wait_setting(
    cli_env: Path, holder: Holder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second daemon is a mistake, not a queue: it does not wait."""
    monkeypatch.setenv("BOT_LOCK_WAIT_SECONDS", "30")
    start = time.monotonic()
    assert main(["run", "--config", str(simulated_hfea(cli_env))]) == 2
    assert time.monotonic() - start < 10


def test_once_proceeds_when_the_holder_finishes_within_the_wait(
    cli_env: Path,
    holder: Holder,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A `once` that arrives while another one-shot works waits for it, then runs."""
    monkeypatch.setenv("BOT_LOCK_WAIT_SECONDS", "30")
    config = simulated_hfea(cli_env)
    codes: list[int] = []
    # main() installs signal handlers only on the main thread; from this one it does not.
    waiter = threading.Thread(target=lambda: codes.append(main(["once", "--config", str(config)])))
    waiter.start()
    holder.release()
    waiter.join(timeout=60)

    assert codes == [0]
    assert "2026-04-01 hfea: traded" in capsys.readouterr().out
