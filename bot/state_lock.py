"""One bot process per state directory: ``run``, ``once`` and ``check`` all take this lock.

Two processes on one state directory read the same journal and the same account before either
has traded, and both send the rebalance: the book doubles. So every command that runs a cycle
(``check`` runs a dry one, and writes the tracker) holds an exclusive ``flock`` on
``STATE_DIR/daemon.lock`` for as long as it works on that directory. The kernel drops the lock
when the process ends, however it ends (kill -9 included), so a crash never leaves it stale.

``once`` and ``check`` wait a little (``BOT_LOCK_WAIT_SECONDS``, default 10) for another one-shot
to finish; ``run`` refuses at once. A refusal is one line naming the holder (its pid and command,
which it writes into the lock file) and the directory; the command exits with status 2.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import structlog
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError, StateError
from bot.stopping import StopToken

LOCK_FILE = "daemon.lock"  # the name `bot run` always used: an older daemon still excludes us
DEFAULT_WAIT_SECONDS = 10.0
POLL_SECONDS = 0.05
log = structlog.get_logger()


class _LockSettings(BaseSettings):
    """``BOT_LOCK_WAIT_SECONDS`` (environment or ``.env``, like every other setting; empty is
    unset)."""

    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", populate_by_name=True, env_ignore_empty=True
    )

    wait_seconds: float = Field(
        default=DEFAULT_WAIT_SECONDS,
        ge=0,
        allow_inf_nan=False,
        validation_alias="BOT_LOCK_WAIT_SECONDS",
    )


def lock_wait_seconds() -> float:
    """How long ``once`` and ``check`` wait for another process to release the state directory."""
    try:
        return _LockSettings().wait_seconds
    except ValidationError as exc:
        msg = "BOT_LOCK_WAIT_SECONDS must be a number of seconds, 0 or more"
        raise ConfigError(msg) from exc


@contextmanager
def state_lock(
    state_dir: Path,
    command: str,
    *,
    wait_seconds: float = 0.0,
    stop: StopToken | None = None,
) -> Iterator[None]:
    """Hold the state directory's lock for the block, or raise StateError naming its holder.

    ``command`` (``"bot once"``) is written into the lock file for the refusal messages of
    others. A stop requested while waiting ends the wait with a StateError too.
    """
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        handle: IO[str] = (state_dir / LOCK_FILE).open("a+")
    except OSError as exc:
        msg = f"cannot create the lock file in {state_dir}: {exc}; check BOT_STATE_DIR is writable"
        raise StateError(msg) from exc
    try:
        _acquire(handle, state_dir, wait_seconds, stop)
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()} {command}\n")
        handle.flush()
    except BaseException:
        handle.close()
        raise
    try:
        yield
    finally:
        # Closing the last descriptor releases the flock; the file stays (its content is stale
        # until the next holder rewrites it, and only read while someone holds the lock).
        handle.close()


def _acquire(handle: IO[str], state_dir: Path, wait_seconds: float, stop: StopToken | None) -> None:
    deadline = time.monotonic() + wait_seconds
    waiting = False
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pass
        else:
            if waiting:
                log.info("state_lock.acquired_after_wait", state_dir=str(state_dir))
            return
        if not waiting and wait_seconds > 0:
            waiting = True
            log.info(
                "state_lock.waiting",
                state_dir=str(state_dir),
                holder=_holder(handle),
                wait_seconds=wait_seconds,
            )
        if stop is not None and stop.requested:
            msg = f"stopped ({stop.reason}) while waiting for the lock on state-dir {state_dir}"
            raise StateError(msg)
        left = deadline - time.monotonic()
        if left <= 0:
            raise StateError(_refusal(handle, state_dir, wait_seconds))
        if stop is not None:
            stop.wait(min(POLL_SECONDS, left))
        else:
            time.sleep(min(POLL_SECONDS, left))


def _holder(handle: IO[str]) -> str:
    """``pid N, `bot run``` from the lock file (as its holder wrote it)."""
    handle.seek(0)
    pid, _, command = handle.read().strip().partition(" ")
    return f"pid {pid or 'unknown'}" + (f", `{command}`" if command else "")


def _refusal(handle: IO[str], state_dir: Path, wait_seconds: float) -> str:
    holder = _holder(handle)
    if wait_seconds > 0:
        after = (
            f"waited {wait_seconds:g} s (BOT_LOCK_WAIT_SECONDS); run it again when that process "
            "has finished (`bot run` holds it until stopped)"
        )
    else:
        after = "one bot process per state directory: stop that one first"
    return f"another bot process ({holder}) holds state-dir {state_dir}; {after}"
