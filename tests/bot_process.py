"""The ``bot`` command line in separate processes, on a wall clock shifted to a chosen moment.

The fake Alpaca server's clock is set to a fixed moment (a Monday session at 15:45 New York);
a bot process must agree with it whatever the real date is. Here its ``WallClock`` reads
``AT + (time elapsed since the process started)``: real time flows, sleeps really wait (and a
stop token really wakes them), only the date is chosen. Nothing else is touched: the real
``bot.cli.main``, settings from the environment, the real alpaca-py clients over 127.0.0.1.

Two ways to start one:

* :func:`spawn`: ``python -m tests.bot_process AT ARGS…`` — a fresh interpreter, exactly like
  the ``bot`` console script (about 1.3 s of imports on this machine before it does anything).
* :class:`Zygote`: a long-lived process that imported the bot once and forks one child per
  command. Each child is a separate process (its own pid, file descriptors, locks, signal
  handlers, tracker connection) running the same ``main``, ready in milliseconds; tests that
  need a hundred processes use it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
SCRUBBED = ("APCA_", "BOT_", "SLACK_", "SMTP_", "ALERT_")


def base_env() -> dict[str, str]:
    """The environment without any bot setting a developer may have exported."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED)}
    env["PYTHONPATH"] = str(ROOT)
    return env


def bot_env(fake_url: str, state_dir: Path, **extra: str) -> dict[str, str]:
    """Keys and URL of the fake (tests/alpaca_world.py's), the state directory, and ``extra``."""
    from tests.alpaca_world import KEY, SECRET  # noqa: PLC0415 - keeps the zygote's import lean

    return {
        **base_env(),
        "APCA_API_KEY_ID": KEY,
        "APCA_API_SECRET_KEY": SECRET,
        "APCA_API_BASE_URL": fake_url,
        "BOT_STATE_DIR": str(state_dir),
        **extra,
    }


def hfea_config(path: Path, execution: str = "poll_interval_seconds = 0\nmax_polls = 5\n") -> Path:
    """config/hfea.toml on the Alpaca broker (short timeouts), with ``execution`` settings."""
    text = re.sub(r"\[broker\]\n(?:[^\[\n].*\n)*", "", (ROOT / "config" / "hfea.toml").read_text())
    text += (
        '\n[broker]\nkind = "alpaca"\nconnect_timeout_seconds = 1\nread_timeout_seconds = 5\n'
        f"\n[execution]\n{execution}"
    )
    path.write_text(text)
    return path


def _shift_wall_clock(at: datetime) -> None:
    """From now on, WallClock reads ``at`` plus the real time elapsed since this call."""
    from bot.clock import WallClock  # noqa: PLC0415 - imported late in a fresh child

    shift = at - datetime.now(UTC)

    def now(_self: WallClock) -> datetime:
        return datetime.now(UTC) + shift

    WallClock.now = now  # type: ignore[method-assign]


def _run_cli(at: str, argv: list[str]) -> int:
    from bot.cli import main  # noqa: PLC0415

    _shift_wall_clock(datetime.fromisoformat(at))
    return main(argv)


# --- a fresh process --------------------------------------------------------------------------


def spawn(
    at: datetime, argv: list[str], *, env: dict[str, str], cwd: Path, log: Path
) -> subprocess.Popen[bytes]:
    """``bot ARGV`` in a fresh interpreter; stdout and stderr go to ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.bot_process", at.isoformat(), *argv],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


# --- a forking zygote -------------------------------------------------------------------------


@dataclass
class Zygote:
    """One long-lived process that forks a ``bot`` child per request, one child at a time."""

    env: dict[str, str]
    cwd: Path
    process: subprocess.Popen[bytes] = field(init=False)
    _buffer: bytes = b""

    def __post_init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.bot_process", "--zygote"],
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self._read(timeout=60.0) == {"ready": True}

    def start(
        self,
        at: datetime,
        argv: list[str],
        *,
        env: dict[str, str],
        cwd: Path,
        log: Path,
        not_before: float = 0.0,
    ) -> None:
        """Ask for ``bot ARGV``, forked once ``time.monotonic() >= not_before``; :meth:`pid`
        then says which process it is and :meth:`wait` how it ended."""
        request = {
            "at": at.isoformat(),
            "argv": argv,
            "env": env,
            "cwd": str(cwd),
            "log": str(log),
            "not_before": not_before,
        }
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request).encode() + b"\n")
        self.process.stdin.flush()

    def pid(self, timeout: float = 30.0) -> int:
        """The pid of the child just started (read once per :meth:`start`)."""
        return int(self._read(timeout)["pid"])

    def wait(self, timeout: float) -> int:
        """The exit status of the last child started (negative: killed by that signal)."""
        return int(self._read(timeout)["exit"])

    def close(self) -> None:
        """Let the zygote exit (its stdin closes); kill it if it does not."""
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def _read(self, timeout: float) -> dict[str, Any]:
        assert self.process.stdout is not None
        fd = self.process.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(left, 0.0))
            if not ready:
                msg = f"the zygote did not answer within {timeout} s"
                raise TimeoutError(msg)
            chunk = os.read(fd, 65536)
            if not chunk:
                msg = f"the zygote exited ({self.process.poll()})"
                raise RuntimeError(msg)
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        answer: dict[str, Any] = json.loads(line)
        return answer


def _serve(stdin: IO[bytes], stdout: IO[bytes]) -> None:
    """The zygote: import once, then fork a child per request line until stdin closes."""
    import bot.cli  # noqa: PLC0415 - the expensive imports, done once
    import bot.commands  # noqa: PLC0415
    import bot.run_command  # noqa: F401, PLC0415

    def say(answer: dict[str, Any]) -> None:
        stdout.write(json.dumps(answer).encode() + b"\n")
        stdout.flush()

    say({"ready": True})
    for line in stdin:
        request = json.loads(line)
        while (left := request["not_before"] - time.monotonic()) > 0:
            time.sleep(left)  # the experiment's start offset, not a wait for some state
        pid = os.fork()
        if pid == 0:
            _child(request)  # never returns
        say({"pid": pid})
        _, status = os.waitpid(pid, 0)
        say({"exit": os.waitstatus_to_exitcode(status)})


def _child(request: dict[str, Any]) -> None:
    code = 70  # EX_SOFTWARE, if main itself blew up
    try:
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        code = _run_cli(request["at"], request["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback  # noqa: PLC0415

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


if __name__ == "__main__":
    if sys.argv[1:] == ["--zygote"]:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the test run's Ctrl-C is for pytest
        _serve(sys.stdin.buffer, sys.stdout.buffer)
    else:
        sys.exit(_run_cli(sys.argv[1], sys.argv[2:]))
