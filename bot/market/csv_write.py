"""Write one symbol's closes as the CSV file :mod:`bot.market.csv_source` reads, atomically.

The file is ``Date,Adj Close`` with ISO dates, ascending, one row a day. A close is written with
Python's shortest round-trip form (``repr``), so reading it back gives the very same float; a
close that is not a positive finite number is written as an empty cell, which the loader reads
as a missing close (never as a price).

The text goes to a temporary file in the same directory (its name starts with a dot and ends in
``.tmp``, so the loader's ``*.csv`` never sees it), is flushed to disk, and then renamed over
the target: a crash at any point leaves either the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections.abc import Mapping
from datetime import date
from pathlib import Path

HEADER = "Date,Adj Close"
FILE_MODE = 0o644  # mkstemp's 0600 would hide the data from other users of the machine


def close_cell(value: float) -> str:
    """A close as its CSV cell: the exact float, or empty when it is no price."""
    return repr(float(value)) if math.isfinite(value) and value > 0 else ""


def closes_text(closes: Mapping[date, float]) -> str:
    """The file's whole text."""
    rows = (f"{day.isoformat()},{close_cell(closes[day])}" for day in sorted(closes))
    return "\n".join([HEADER, *rows]) + "\n"


def write_closes(path: Path, closes: Mapping[date, float]) -> None:
    """Replace ``path`` with ``closes`` in one rename (temporary file, fsync, rename)."""
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    temporary = Path(name)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            handle.write(closes_text(closes))
            handle.flush()
            os.fsync(handle.fileno())
        temporary.chmod(FILE_MODE)
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _sync_directory(path.parent)


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX); a platform that cannot open a directory skips."""
    with contextlib.suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
