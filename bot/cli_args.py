"""Argument types and the parser class of the ``bot`` command line: argparse and the standard
library only, so that building the parser (``bot --help``) stays quick.

A bad argument is one ``error: ...`` line on stderr and exit status 2, like every other user
error of the bot (argparse's own form, the usage block and then ``bot once: error: argument
--as-of: invalid fromisoformat value``, is three lines that bury the point).
"""

from __future__ import annotations

import argparse
import math
from datetime import date
from typing import NoReturn

EXIT_ERROR = 2


class BotArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line: ``error: --as-of: 'x' is not a date``."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f"error: {message.removeprefix('argument ')}\n")


def iso_date(text: str) -> date:
    """A ``YYYY-MM-DD`` date."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        msg = f"{text!r} is not a date (YYYY-MM-DD)"
        raise argparse.ArgumentTypeError(msg) from None


def positive_number(text: str) -> float:
    """A finite number above zero (a duration, an age)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        msg = f"{text!r} is not a number above 0"
        raise argparse.ArgumentTypeError(msg)
    return value
