"""Command handlers by name, imported when their command runs (``bot --help`` stays quick)."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from typing import Any


def lazy(target: str) -> Callable[[argparse.Namespace], int]:
    """A handler named ``module:function``, imported only when its command runs: ``bot
    --help`` and argument errors never pay for pandas, alpaca-py or the cycle."""

    def handler(args: argparse.Namespace) -> int:
        module, name = target.split(":")
        function: Callable[[argparse.Namespace], Any] = getattr(
            importlib.import_module(module), name
        )
        return int(function(args))

    return handler


def by_config(single: str, portfolio: str) -> Callable[[argparse.Namespace], int]:
    """A handler that runs ``portfolio`` when ``--config`` names a portfolio file (one with
    ``[[sleeves]]``), else ``single``: both imported only then, by name."""

    def handler(args: argparse.Namespace) -> int:
        from bot.portfolio.config import is_portfolio_file  # noqa: PLC0415 - on use only

        chosen = portfolio if is_portfolio_file(args.config) else single
        return lazy(chosen)(args)

    return handler
