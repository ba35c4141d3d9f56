"""The periods a sweep reports besides the whole run: ``--window [NAME=]START:END`` or ``Ny``.

A window's statistics are those of the equity curve cut to it, measured from its first day in
the window, as ``bot backtest`` measures its trailing 5 and 3 years (``stats.trailing``); a
trailing ``5y`` window is exactly that table's ``5y``. Pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import pandas as pd

from bot.backtest.stats import trailing
from bot.errors import ConfigError

MIN_POINTS = 3  # bot backtest reports a period only with more than two closes


@dataclass(frozen=True, slots=True)
class Window:
    """A period to report: fixed dates (either end open), or the trailing ``years``."""

    label: str
    start: date | None = None
    end: date | None = None
    years: int | None = None

    def cut(self, equity: pd.Series) -> pd.Series | None:
        """The part of ``equity`` in the window, or None when it holds too few closes for
        statistics (fewer than three, or a trailing window longer than the run)."""
        if self.years is not None:
            part = trailing(equity, self.years)
        elif self.start is None and self.end is None:
            part = equity
        else:
            index = equity.index
            keep = pd.Series(True, index=index)
            if self.start is not None:
                keep &= index >= pd.Timestamp(self.start)
            if self.end is not None:
                keep &= index <= pd.Timestamp(self.end)
            part = equity.loc[keep.to_numpy()]
        return part if part is not None and len(part) >= MIN_POINTS else None


WHOLE = Window("all")  # the whole run, always reported first


def parse_window(spec: str) -> Window:
    """``5y`` (the trailing five years), ``2015-01-01:2019-12-31``, ``:2019-12-31`` or
    ``2020-01-01:`` (an open end), optionally named: ``covid=2020-02-01:2020-12-31``. The name
    (default: the spec itself) prefixes the window's columns in the table."""
    name, sep, body = spec.rpartition("=")
    body = body.strip()
    label = name.strip() if sep else body
    if not label or not re.fullmatch(r"[\w:.\-]+", label) or label == WHOLE.label:
        msg = f"--window {spec!r}: a name is letters, digits, '_', '-', ':' or '.', not 'all'"
        raise ConfigError(msg)
    years = re.fullmatch(r"([1-9][0-9]?)y", body)
    if years:
        return Window(label, years=int(years.group(1)))
    first, colon, last = body.partition(":")
    if not colon:
        msg = f"--window {spec!r}: expected START:END (YYYY-MM-DD, either may be empty) or Ny"
        raise ConfigError(msg)
    start, end = _day(spec, first), _day(spec, last)
    if start is not None and end is not None and start > end:
        msg = f"--window {spec!r}: starts after it ends"
        raise ConfigError(msg)
    return Window(label, start, end)


def parse_windows(specs: list[str] | tuple[str, ...]) -> tuple[Window, ...]:
    """The whole run, then each ``--window`` in the order given (names must differ)."""
    windows = (WHOLE, *(parse_window(s) for s in specs))
    labels = [w.label for w in windows]
    if len(set(labels)) != len(labels):
        msg = "two --window options have the same name: name them (NAME=START:END)"
        raise ConfigError(msg)
    return windows


def _day(spec: str, text: str) -> date | None:
    if not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        msg = f"--window {spec!r}: {text.strip()!r} is not a date (YYYY-MM-DD)"
        raise ConfigError(msg) from exc
