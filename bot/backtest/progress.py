"""A progress bar for long backtests, drawn only when a person is watching (a terminal)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

Progress = Callable[[int, int], None]
WIDTH = 40


@contextmanager
def progress_bar(stream: TextIO, unit: str = "sessions") -> Iterator[Progress | None]:
    """Yield a ``(done, total)`` callback drawing on ``stream`` if it is a TTY, else None
    (``unit``: what is counted; ``bot sweep`` counts points).

    Redirected output (CI logs, ``--json`` piped to a file) stays free of control characters.
    """
    if not stream.isatty():
        yield None
        return
    drawn = [-1]

    def draw(done: int, total: int) -> None:
        filled = WIDTH * done // max(total, 1)
        if filled == drawn[0] and done < total:
            return
        drawn[0] = filled
        stream.write(f"\r[{'#' * filled}{'.' * (WIDTH - filled)}] {done}/{total} {unit}")
        stream.flush()

    try:
        yield draw
    finally:
        if drawn[0] >= 0:
            stream.write("\r" + " " * (WIDTH + 30) + "\r")
            stream.flush()
